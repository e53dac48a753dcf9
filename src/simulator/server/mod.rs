//! The HTTP side: one listener per region, every request through one pipeline (operation, auth,
//! rate limit, faults, handler, stats, log), and the in-process handle tests use.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::header::{ALLOW, AUTHORIZATION, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::clock::Clock;
use super::config::{ReadTimeouts, SimulatorConfig};
use super::connection::{ConnHandle, SimListener};
use super::error::ApiError;
use super::faults::{Fault, Faults};
use super::outbound::Outbound;
use super::rate_limit::{RateLimiter, retry_after_secs};
use super::record::RecordedResponse;
use super::routes::{self, Ctx, Reply, Unrouted};
use super::state::State;
use super::stats::{Stats, StatsCollector};
use super::view::WorldView;
use super::world::WorldError;
use crate::api::{Operation, Region};

mod by_hand;

/// Request bodies larger than this are refused with 400.
const MAX_BODY: usize = 1 << 20;

/// The path of the stats endpoint, on both listeners.
pub const STATS_PATH: &str = "/_sim/stats";

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error(transparent)]
    World(#[from] WorldError),
    #[error("cannot set up the simulator's HTTP client for webhook deliveries: {0}")]
    Outbound(String),
    #[error("cannot listen on {addr} for the {region} region: {source}")]
    Bind {
        region: Region,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What every request of both regions shares.
struct Shared {
    state: Mutex<State>,
    clock: Clock,
    stats: StatsCollector,
    limiter: RateLimiter,
    faults: Faults,
    latency: Duration,
    timeouts: ReadTimeouts,
    recorded: Option<Mutex<Vec<RecordedResponse>>>,
    outbound: Outbound,
    /// Batch clones still to answer before the clock holds by itself (0: never).
    hold_after_batch_clones: std::sync::atomic::AtomicU32,
}

impl Shared {
    /// Counts down to the batch clone after which the clock holds (see
    /// [`RunningSimulator::hold_clock_after_batch_clones`]).
    fn batch_clone_answered(&self) {
        use std::sync::atomic::Ordering;
        let left =
            self.hold_after_batch_clones
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if left == Ok(1) {
            self.clock.hold();
        }
    }

    /// The state, caught up with the clock.
    fn state(&self) -> MutexGuard<'_, State> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.tick(self.clock.now_ms());
        state
    }

    fn stats(&self) -> Stats {
        let clones: BTreeMap<String, u64> = {
            let state = self.state();
            state
                .clone_counts()
                .map(|(r, n)| (state.account(r).id.clone(), u64::from(n)))
                .collect()
        };
        self.stats.snapshot(clones)
    }

    fn record(&self, op: Option<Operation>, status: StatusCode, body: &[u8]) {
        if let Some(recorded) = &self.recorded {
            let body = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
            if let Ok(mut recorded) = recorded.lock() {
                recorded.push(RecordedResponse {
                    operation: op,
                    status: status.as_u16(),
                    body,
                });
            }
        }
    }
}

#[derive(Clone)]
struct RegionService {
    shared: Arc<Shared>,
    region: Region,
}

/// A running simulator: both regions listening until `shutdown`.
pub struct RunningSimulator {
    shared: Arc<Shared>,
    us: SocketAddr,
    eu: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the simulator on `listen` (use 127.0.0.1), each region on its own ephemeral port.
pub async fn start(
    config: SimulatorConfig,
    listen: IpAddr,
) -> Result<RunningSimulator, SimulatorError> {
    start_on(
        config,
        SocketAddr::new(listen, 0),
        SocketAddr::new(listen, 0),
    )
    .await
}

/// Starts the simulator with the U.S. region on `us` and the E.U. region on `eu`.
pub async fn start_on(
    config: SimulatorConfig,
    us: SocketAddr,
    eu: SocketAddr,
) -> Result<RunningSimulator, SimulatorError> {
    config.world.check()?;
    let outbound =
        Outbound::new(super::outbound::DELIVERY_TIMEOUT).map_err(SimulatorError::Outbound)?;
    let apps = config.world.v3_apps.len();
    let clock = Clock::new(config.job_speed);
    let start_ms = clock.now_ms();
    let mut state = State::new(
        config.world,
        config.seed,
        config.job_timing,
        config.failing_jobs,
        start_ms,
    );
    state.empty_fields = config.empty_fields;
    let shared = Arc::new(Shared {
        clock,
        stats: StatsCollector::default(),
        limiter: RateLimiter::new(config.rate_limit, apps),
        faults: Faults::new(config.fault_rate, config.drop_rate, config.seed),
        latency: config.latency,
        timeouts: config.read_timeouts,
        recorded: config.record_responses.then(|| Mutex::new(Vec::new())),
        outbound,
        hold_after_batch_clones: std::sync::atomic::AtomicU32::new(0),
        state: Mutex::new(state),
    });
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut addrs = Vec::new();
    for (region, addr) in [(Region::Us, us), (Region::Eu, eu)] {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimulatorError::Bind {
                region,
                addr,
                source,
            })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind {
                region,
                addr,
                source,
            })?;
        addrs.push(local);
        let router = Router::new()
            .route(STATS_PATH, get(stats_endpoint))
            .fallback(handle)
            .with_state(RegionService {
                shared: shared.clone(),
                region,
            })
            .layer(middleware::from_fn(mark_busy));
        let mut stopped = stopped.clone();
        let config_timeouts = shared.timeouts;
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(
                SimListener {
                    inner: listener,
                    timeouts: config_timeouts,
                },
                router.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await;
            if let Err(err) = served {
                tracing::error!(%region, error = %err, "simulator listener failed");
            }
        }));
    }
    Ok(RunningSimulator {
        shared,
        us: addrs[0],
        eu: addrs[1],
        stop,
        tasks,
    })
}

impl RunningSimulator {
    /// The region's base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self, region: Region) -> String {
        format!("http://{}", self.addr(region))
    }

    pub fn addr(&self, region: Region) -> SocketAddr {
        match region {
            Region::Us => self.us,
            Region::Eu => self.eu,
        }
    }

    /// `GET` this for the stats as JSON (served by both regions' listeners).
    pub fn stats_url(&self) -> String {
        format!("{}{STATS_PATH}", self.base_url(Region::Us))
    }

    /// The same data as `GET /_sim/stats`.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Starts [`Stats::peak_in_flight`] again, from the requests being answered now.
    pub fn reset_peaks(&self) {
        self.shared.stats.reset_peaks();
    }

    /// A copy of the current state, caught up with the clock.
    pub fn world(&self) -> WorldView {
        let now = self.shared.clock.now_ms();
        self.shared.state().view(now)
    }

    /// Moves simulated time forward (jobs advance accordingly).
    pub fn advance(&self, d: Duration) {
        self.shared.clock.advance(d);
        drop(self.shared.state());
    }

    /// Stops simulated time (running jobs stop advancing) right after the `n`-th batch clone
    /// from now is answered: its jobs then stay pending until [`Self::release_clock`], so a test
    /// can stop a run "while that wave runs" deterministically, after the earlier waves finished.
    pub fn hold_clock_after_batch_clones(&self, n: u32) {
        self.shared
            .hold_after_batch_clones
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lets simulated time move again from where it was held.
    pub fn release_clock(&self) {
        self.shared.clock.release();
    }

    /// Changes the share of 5xx answers and of dropped connections from now on (a test can set
    /// up a world cleanly, then turn faults on).
    pub fn set_faults(&self, fault_rate: f64, drop_rate: f64) {
        self.shared.faults.set_rates(fault_rate, drop_rate);
    }

    /// Simulated Unix time, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.shared.clock.now_ms()
    }

    /// Every response answered so far (empty unless `record_responses`).
    pub fn recorded_responses(&self) -> Vec<RecordedResponse> {
        self.shared
            .recorded
            .as_ref()
            .and_then(|r| r.lock().ok().map(|r| r.clone()))
            .unwrap_or_default()
    }

    /// Stops both listeners and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Marks the connection busy while a request is handled (every route, fallback and axum's own
/// answers alike), so that its stream applies the idle timeout only between requests.
async fn mark_busy(
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
    next: Next,
) -> Response {
    let _busy = conn.busy();
    next.run(req).await
}

async fn stats_endpoint(AxumState(svc): AxumState<RegionService>) -> Response {
    let stats = svc.shared.stats();
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        serde_json::to_vec(&stats).unwrap_or_default(),
    )
        .into_response()
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error_reply(err: &ApiError, request_id: &str) -> Reply {
    Reply::json(err.status, &err.body(request_id))
}

/// The v3 application a `Bearer` API key names, if it belongs to this region.
fn authenticate(shared: &Shared, region: Region, req: &Request) -> Result<usize, ApiError> {
    let missing = || ApiError::unauthorized("missing or invalid API key");
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(missing)?;
    let (scheme, key) = header.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    let state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    let app = state.app_for_key(key.trim()).ok_or_else(missing)?;
    if state.v3(app).region != region {
        // API keys are regional: a key of the other region is unknown here.
        return Err(missing());
    }
    Ok(app)
}

/// What the pipeline decided for one request.
struct Outcome {
    /// `None` when the connection is dropped before the handler ran.
    reply: Option<Reply>,
    /// Headers beside `Content-Type` (`Retry-After`, `Allow`).
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Close the connection after answering (an unread or stalled body).
    close: bool,
    /// Drop the connection instead of answering (fault injection).
    dropped: bool,
    /// The request body was read to its end.
    body_read: bool,
}

impl Outcome {
    fn reply(reply: Reply) -> Outcome {
        Outcome {
            reply: Some(reply),
            headers: Vec::new(),
            close: false,
            dropped: false,
            body_read: false,
        }
    }

    fn error(err: &ApiError, request_id: &str) -> Outcome {
        Outcome::reply(error_reply(err, request_id))
    }
}

/// Every request of both regions, except the stats endpoint.
async fn handle(
    AxumState(svc): AxumState<RegionService>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let shared = &svc.shared;
    shared.stats.received();
    let request_id = super::ids::request_id();
    let method = req.method().clone();
    // Only the path is logged: queries are the caller's business.
    let path = req.uri().path().to_string();
    let matched = routes::match_operation(&method, &path);
    let op = matched.as_ref().ok().map(|(op, _)| *op);
    let _in_flight = shared.stats.in_flight(op);
    // A body the pipeline does not read to its end (an early error) is not drained: the
    // connection is closed after the answer instead.
    let has_body = req.body().size_hint().exact() != Some(0);

    let mut outcome = answer(shared, svc.region, matched, &request_id, req).await;

    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let op_name = op.map_or(super::stats::UNKNOWN_OPERATION, Operation::operation_id);
    if let Some(reply) = &outcome.reply {
        shared.stats.answered(op, reply.status.as_u16());
    }
    if outcome.dropped {
        shared.stats.dropped(op);
        tracing::info!(
            region = %svc.region, %method, %path, operation = op_name, status = "dropped",
            latency_ms, request_id, "request"
        );
        conn.drop_connection();
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let Some(reply) = outcome.reply.take() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    tracing::info!(
        region = %svc.region, %method, %path, operation = op_name, status = reply.status.as_u16(),
        latency_ms, request_id, "request"
    );
    shared.record(op, reply.status, &reply.body);
    let mut response = json_response(reply.status, reply.body);
    let headers = response.headers_mut();
    for (name, value) in outcome.headers {
        headers.insert(name, value);
    }
    if outcome.close || (has_body && !outcome.body_read) {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Why a request body could not be read.
enum BodyError {
    TooLarge,
    Stalled,
    Broken,
}

/// Reads a request body of at most `MAX_BODY` bytes, giving up when the client pauses longer
/// than `pause` between two pieces of it.
async fn read_body(body: Body, pause: Duration) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(pause, stream.next()).await {
            Err(_) => return Err(BodyError::Stalled),
            Ok(None) => return Ok(Bytes::from(out)),
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(chunk))) => {
                if out.len() + chunk.len() > MAX_BODY {
                    return Err(BodyError::TooLarge);
                }
                out.extend_from_slice(&chunk);
            }
        }
    }
}

/// The pipeline: routing, latency, auth, rate limit, body, faults, handler.
async fn answer(
    shared: &Shared,
    region: Region,
    matched: Result<(Operation, Option<String>), Unrouted>,
    request_id: &str,
    req: Request,
) -> Outcome {
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let (op, param) = match matched {
        Ok(found) => found,
        Err(Unrouted::MethodNotAllowed(allowed)) => {
            let err = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                format!(
                    "method not allowed on this path; allowed: {}",
                    allowed.join(", ")
                ),
            );
            let mut outcome = Outcome::error(&err, request_id);
            if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
                outcome.headers.push((ALLOW, allow));
            }
            return outcome;
        }
        Err(Unrouted::NotFound) => {
            return Outcome::error(&ApiError::not_found("no such endpoint"), request_id);
        }
    };
    let app = match authenticate(shared, region, &req) {
        Ok(app) => app,
        Err(err) => return Outcome::error(&err, request_id),
    };
    if let Err(wait) = shared.limiter.check(app) {
        let err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "too many requests for this application: at most the rate limit per second",
        );
        let mut outcome = Outcome::error(&err, request_id);
        outcome
            .headers
            .push((RETRY_AFTER, HeaderValue::from(retry_after_secs(wait))));
        return outcome;
    }
    let (headers, query) = {
        let headers = req.headers().clone();
        let query = req.uri().query().unwrap_or("").to_string();
        (headers, query)
    };
    let body = match read_body(req.into_body(), shared.timeouts.body).await {
        Ok(body) => body,
        Err(why) => {
            let err = match why {
                BodyError::TooLarge => ApiError::bad_request("request body larger than 1 MiB"),
                BodyError::Broken => ApiError::bad_request("request body unreadable"),
                BodyError::Stalled => ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body stalled for more than {} ms; send it without pauses",
                        shared.timeouts.body.as_millis()
                    ),
                ),
            };
            let mut outcome = Outcome::error(&err, request_id);
            outcome.close = true;
            return outcome;
        }
    };
    Outcome {
        body_read: true,
        ..pipeline_after_body(shared, op, param, app, request_id, &headers, &query, &body).await
    }
}

/// Faults, any delivery the request needs (made without the state's lock), and the handler,
/// once the body is read.
#[allow(clippy::too_many_arguments)]
async fn pipeline_after_body(
    shared: &Shared,
    op: Operation,
    param: Option<String>,
    app: usize,
    request_id: &str,
    headers: &axum::http::HeaderMap,
    query: &str,
    body: &[u8],
) -> Outcome {
    let after_apply = match shared.faults.draw(op.is_write()) {
        Fault::None => false,
        Fault::ServerError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let err = ApiError::new(status, "server_error", "injected server error; retry later");
            return Outcome::error(&err, request_id);
        }
        Fault::Drop { after_apply: false } => {
            return Outcome {
                reply: None,
                headers: Vec::new(),
                close: false,
                dropped: true,
                body_read: true,
            };
        }
        Fault::Drop { after_apply: true } => true,
    };
    let outcome = |reply: Reply| Outcome {
        dropped: after_apply,
        ..Outcome::reply(reply)
    };
    let query = match routes::parse_query(query) {
        Ok(query) => query,
        Err(err) => return outcome(error_reply(&err, request_id)),
    };
    let now_ms = shared.clock.now_ms();
    let mut ctx = Ctx {
        request_id,
        app,
        now_ms,
        query: &query,
        body,
        headers,
        param: param.as_deref(),
        delivery: None,
    };
    let planned = if routes::needs_delivery(op) {
        let mut state = shared.state();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            routes::plan_delivery(op, &mut state, &ctx)
        }))
        .unwrap_or(None)
    } else {
        None
    };
    let delivery = match planned {
        Some(planned) => Some(shared.outbound.run(planned).await),
        None => None,
    };
    ctx.delivery = delivery.as_ref();
    let result = {
        let mut state = shared.state();
        // A bug must not take the connection down with it: answer 500 and keep serving.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            routes::dispatch(op, &mut state, &ctx)
        }))
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the simulator failed on this request",
            ))
        })
    };
    if op == Operation::SnapshotBatchClone && result.is_ok() {
        shared.batch_clone_answered();
    }
    outcome(result.unwrap_or_else(|err| error_reply(&err, request_id)))
}
