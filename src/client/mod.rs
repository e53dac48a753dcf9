//! The Nylas v3 API client: one typed method per contract operation, per-region endpoints,
//! Bearer and BasicV2 auth, a rate limiter per v3 application, retries where they are safe, and
//! errors that say what to do.
//!
//! ```no_run
//! # async fn demo() -> Result<(), nylas_migrate::client::ClientError> {
//! use nylas_migrate::api::Region;
//! use nylas_migrate::client::{AppConfig, NylasClient, Secret};
//!
//! let client = NylasClient::builder().build()?;
//! let app = client.app(AppConfig {
//!     region: Region::Us,
//!     app_id: "ad410018-d306-43f9-8361-fa5d7b2172e0".into(),
//!     api_key: Secret::new(std::env::var("ACME_V3_API_KEY").unwrap_or_default()),
//!     rate_limit: None,
//!     key_source: "environment variable ACME_V3_API_KEY (pair acme-prod)".into(),
//! });
//! let application = app.get_application().await?;
//! app.verify_region(&application.data)?;
//! # Ok(()) }
//! ```
//!
//! Each module holds one concept: [`secret`], [`endpoint`], [`rate_limit`], [`retry`], [`error`];
//! `transport` sends one call through limiter and retries; `operations` and `paging` are the
//! contract's operations.

pub mod bounds;
pub mod endpoint;
pub mod error;
mod exchange;
mod operations;
mod paging;
pub mod rate_limit;
pub mod retry;
pub mod secret;
mod transport;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use reqwest::Url;

use crate::api::{Operation, Region};

pub use endpoint::{EndpointError, Endpoints};
pub use error::ClientError;
pub use operations::{CreatedWebhook, GrantFilter, JobFilter, TestEventDelivery};
pub use paging::{GRANT_PAGE_SIZE, GrantPager, TranslatePager};
pub use rate_limit::{RateLimiter, RateLimiters};
pub use retry::{RepeatRule, RetryPolicy, repeat_rule};
pub use secret::Secret;

/// What one call returned: the typed `data` and Nylas's `request_id` (the journal records it).
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    pub data: T,
    pub request_id: Option<String>,
}

/// What a helper that makes several calls (paging) returned: every item, and the request ID of
/// every call, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Pages<T> {
    pub data: Vec<T>,
    pub request_ids: Vec<String>,
}

/// One request as the client sent it, for tests that check requests against the contract.
/// Headers are never included. The body may hold secrets (a connector's client secret): an
/// observer must not log it.
#[derive(Clone, PartialEq)]
pub struct RequestRecord {
    pub operation: Operation,
    pub app_id: String,
    pub method: &'static str,
    /// The URL path as sent (percent-encoded), including any base-URL prefix.
    pub path: String,
    /// Path parameters in the order the contract's path template names them.
    pub path_params: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

impl fmt::Debug for RequestRecord {
    // The body is left out: it may carry a connector's client secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestRecord")
            .field("operation", &self.operation)
            .field("app_id", &self.app_id)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("has_body", &self.body.is_some())
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// A hook that sees every request the client sends.
pub type RequestObserver = Arc<dyn Fn(&RequestRecord) + Send + Sync>;

/// The shared client: one connection pool, the endpoint table, the limiter registry and the
/// retry policy. Cheap to clone; every [`AppClient`] made from it shares all of these.
#[derive(Clone)]
pub struct NylasClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// For every host but loopback: honours `HTTPS_PROXY` and the like.
    http: reqwest::Client,
    /// For loopback hosts: never through a proxy, which would carry the Bearer key off the
    /// machine (in clear, for plain http to a local simulator).
    direct: reqwest::Client,
    endpoints: Endpoints,
    limiters: RateLimiters,
    retry: RetryPolicy,
    jitter: Mutex<SmallRng>,
    observer: Option<RequestObserver>,
    /// Every application's rate, whatever the plan asks: see [`LOOPBACK_RATE_VAR`].
    loopback_rate: Option<u32>,
}

impl fmt::Debug for NylasClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NylasClient")
            .field("endpoints", &self.inner.endpoints)
            .field("limiters", &self.inner.limiters)
            .field("retry", &self.inner.retry)
            .field("observer", &self.inner.observer.is_some())
            .finish()
    }
}

/// Builds a [`NylasClient`].
pub struct NylasClientBuilder {
    endpoints: Endpoints,
    retry: RetryPolicy,
    default_rate: u32,
    spacing_margin: f64,
    record_sends: bool,
    jitter_seed: Option<u64>,
    observer: Option<RequestObserver>,
    connect_timeout: Duration,
    ca_file: Option<std::path::PathBuf>,
    /// [`LOOPBACK_RATE_VAR`]'s value, checked; applied by `build` only if every region the
    /// client is built with is at a loopback host.
    loopback_setting: Option<String>,
}

/// The environment variable raising every application's requests per second above Nylas's 20
/// when every region points at a loopback host (the local simulator, started with a matching
/// `--rate-limit`): for rehearsals and benchmarks of a large world. Ignored otherwise.
pub const LOOPBACK_RATE_VAR: &str = "NYLAS_MIGRATE_LOOPBACK_RATE_LIMIT";

/// The highest rate [`LOOPBACK_RATE_VAR`] takes.
const MAX_LOOPBACK_RATE: u32 = 100_000;

/// The rate [`LOOPBACK_RATE_VAR`]'s value `text` asks for, if every region of `endpoints` is
/// at a loopback host.
fn loopback_rate(text: &str, endpoints: &Endpoints) -> Result<Option<u32>, ClientError> {
    let rate = text
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|r| (1..=MAX_LOOPBACK_RATE).contains(r))
        .ok_or_else(|| ClientError::Setting {
            name: LOOPBACK_RATE_VAR,
            value: crate::untrusted::escaped(text).into_owned(),
            detail: format!("not a whole number from 1 to {MAX_LOOPBACK_RATE}"),
            help: "give the requests per second of each application of the local simulator (its --rate-limit), or unset it".to_owned(),
        })?;
    let loopback = Region::ALL.into_iter().all(|region| {
        endpoints.base_url(region).host_str().is_some_and(|host| {
            endpoint::is_loopback(host.trim_start_matches('[').trim_end_matches(']'))
        })
    });
    Ok(loopback.then_some(rate))
}

/// The environment variable naming a PEM file of extra CA certificates to trust.
pub const CA_FILE_VAR: &str = "NYLAS_MIGRATE_CA_FILE";

/// The largest CA file read (a bundle of a few hundred certificates is well under it).
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

impl fmt::Debug for NylasClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NylasClientBuilder")
            .field("endpoints", &self.endpoints)
            .field("retry", &self.retry)
            .field("default_rate", &self.default_rate)
            .field("spacing_margin", &self.spacing_margin)
            .field("record_sends", &self.record_sends)
            .field("jitter_seed", &self.jitter_seed)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Default for NylasClientBuilder {
    fn default() -> Self {
        NylasClientBuilder {
            endpoints: Endpoints::default(),
            retry: RetryPolicy::default(),
            default_rate: rate_limit::DEFAULT_REQUESTS_PER_SECOND,
            spacing_margin: rate_limit::DEFAULT_SPACING_MARGIN,
            record_sends: false,
            jitter_seed: None,
            observer: None,
            connect_timeout: Duration::from_secs(10),
            ca_file: None,
            loopback_setting: None,
        }
    }
}

impl NylasClientBuilder {
    /// Every application at [`LOOPBACK_RATE_VAR`]'s rate, if it is set and every region the
    /// client is built with is at a loopback host (decided by [`build`](Self::build), so a
    /// region set afterwards counts too); a value that is not a whole number from 1 to 100,000
    /// is an error.
    pub fn loopback_rate_from_env(mut self) -> Result<Self, ClientError> {
        let Some(value) = std::env::var_os(LOOPBACK_RATE_VAR) else {
            return Ok(self);
        };
        let value = value.to_string_lossy().into_owned();
        loopback_rate(&value, &self.endpoints)?;
        self.loopback_setting = Some(value);
        Ok(self)
    }

    /// Points a region at another base URL (the plan's `regions.<r>.api_url`, or the
    /// simulator). Plain http is refused unless the host is a loopback address.
    pub fn region_url(mut self, region: Region, url: &str) -> Result<Self, EndpointError> {
        self.endpoints.set(region, url)?;
        Ok(self)
    }

    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The rate of an application whose plan entry names none, and the ceiling of any that does.
    /// Nylas's limit (20/s) unless a test talks to a simulator configured otherwise.
    pub fn default_rate_limit(mut self, per_second: u32) -> Self {
        self.default_rate = per_second.max(1);
        self
    }

    /// The limiter's margin on the emission interval (0.02 = requests spaced 2% wider than
    /// `1 s / rate`).
    pub fn spacing_margin(mut self, margin: f64) -> Self {
        self.spacing_margin = margin;
        self
    }

    /// Makes every limiter keep the instants it let requests go (for tests and benchmarks).
    pub fn record_send_instants(mut self, record: bool) -> Self {
        self.record_sends = record;
        self
    }

    /// Seeds the backoff jitter, for reproducible runs.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    pub fn observer(mut self, observer: RequestObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts the CA certificates of a PEM file as well as the operating system's store and the
    /// bundled roots (a corporate CA that inspects TLS, a staging endpoint's own CA).
    pub fn ca_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.ca_file = path;
        self
    }

    /// The CA file named by [`CA_FILE_VAR`], if it is set and not empty.
    pub fn ca_file_from_env(self) -> Self {
        self.ca_file(ca_file_from_env())
    }

    fn extra_roots(&self) -> Result<Vec<reqwest::Certificate>, ClientError> {
        let Some(path) = &self.ca_file else {
            return Ok(Vec::new());
        };
        let pem = read_ca_file(path)?;
        let shown = crate::untrusted::escaped(&path.display().to_string()).into_owned();
        let fail = |detail: String| ClientError::CaFile {
            path: shown.clone(),
            detail,
        };
        let certificates =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(e.to_string()))?;
        if certificates.is_empty() {
            return Err(fail("it holds no PEM certificate".into()));
        }
        Ok(certificates)
    }

    fn http_client(
        &self,
        roots: &[reqwest::Certificate],
        proxies: bool,
    ) -> Result<reqwest::Client, ClientError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(false)
            .connect_timeout(self.connect_timeout)
            // A redirect would carry the request (and the decision to resend it) somewhere the
            // endpoint table did not name; Nylas's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nylas-migrate/", env!("CARGO_PKG_VERSION")));
        for root in roots {
            builder = builder.add_root_certificate(root.clone());
        }
        if !proxies {
            builder = builder.no_proxy();
        }
        builder.build().map_err(|e| ClientError::Setup {
            detail: e.to_string(),
        })
    }

    pub fn build(self) -> Result<NylasClient, ClientError> {
        let roots = self.extra_roots()?;
        let http = self.http_client(&roots, true)?;
        let direct = self.http_client(&roots, false)?;
        let seed = self.jitter_seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        let loopback_rate = match &self.loopback_setting {
            Some(value) => loopback_rate(value, &self.endpoints)?,
            None => None,
        };
        Ok(NylasClient {
            inner: Arc::new(Inner {
                http,
                direct,
                endpoints: self.endpoints,
                limiters: RateLimiters::new(
                    loopback_rate.unwrap_or(self.default_rate),
                    self.spacing_margin,
                    self.record_sends,
                ),
                retry: self.retry,
                jitter: Mutex::new(SmallRng::seed_from_u64(seed)),
                observer: self.observer,
                loopback_rate,
            }),
        })
    }
}

/// The PEM text of a CA file (see [`CA_FILE_VAR`]), read with a bound on its size. The API
/// client and the PostgreSQL state connection trust the same roots.
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    let shown = crate::untrusted::escaped(&path.display().to_string()).into_owned();
    let fail = |detail: String| ClientError::CaFile {
        path: shown.clone(),
        detail,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut pem = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_CA_FILE_BYTES + 1),
        &mut pem,
    )
    .map_err(|e| fail(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(fail(format!(
            "it is larger than {} MiB",
            MAX_CA_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(pem)
}

/// The CA file [`CA_FILE_VAR`] names, if it is set and not empty.
pub fn ca_file_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os(CA_FILE_VAR)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// What identifies one v3 application to the client.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub region: Region,
    /// The v3 application ID; the rate limiter is keyed by it.
    pub app_id: String,
    pub api_key: Secret,
    /// Requests per second for this application (the plan's), at most the client's default.
    pub rate_limit: Option<u32>,
    /// Where the API key came from, for the help of a 401, e.g.
    /// `environment variable ACME_V3_API_KEY (pair acme-prod)`.
    pub key_source: String,
}

impl NylasClient {
    pub fn builder() -> NylasClientBuilder {
        NylasClientBuilder::default()
    }

    /// A handle for one v3 application. Every handle for the same application ID shares one
    /// rate limiter.
    pub fn app(&self, config: AppConfig) -> AppClient {
        let limiter = self.inner.limiters.for_app(
            &config.app_id,
            self.inner.loopback_rate.or(config.rate_limit),
        );
        AppClient {
            client: self.clone(),
            base_url: self.inner.endpoints.base_url(config.region).clone(),
            region: config.region,
            app_id: config.app_id.into(),
            api_key: Arc::new(config.api_key),
            key_source: config.key_source.into(),
            limiter,
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    pub fn limiters(&self) -> &RateLimiters {
        &self.inner.limiters
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }
}

/// The client of one v3 application: one async method per contract operation.
#[derive(Clone)]
pub struct AppClient {
    client: NylasClient,
    region: Region,
    base_url: Url,
    app_id: Arc<str>,
    api_key: Arc<Secret>,
    key_source: Arc<str>,
    limiter: Arc<RateLimiter>,
}

impl fmt::Debug for AppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppClient")
            .field("region", &self.region)
            .field("base_url", &self.base_url.as_str())
            .field("app_id", &self.app_id)
            .field("api_key", &self.api_key)
            .field("key_source", &self.key_source)
            .field("rate_limit", &self.limiter.per_second())
            .finish()
    }
}

impl AppClient {
    pub fn region(&self) -> Region {
        self.region
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub fn key_source(&self) -> &str {
        &self.key_source
    }

    /// The limiter this application's calls go through (shared with every other handle for
    /// the same application ID).
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }
}

#[cfg(test)]
mod loopback_tests {
    use super::*;

    #[test]
    fn a_raised_rate_only_for_a_world_on_loopback() {
        let nylas = Endpoints::default();
        let mut local = Endpoints::default();
        for region in Region::ALL {
            local.set(region, "http://127.0.0.1:9").unwrap();
        }
        assert_eq!(loopback_rate("500", &local).unwrap(), Some(500));
        assert_eq!(loopback_rate(" 20\n", &local).unwrap(), Some(20));
        assert_eq!(loopback_rate("500", &nylas).unwrap(), None);
        let mut half = Endpoints::default();
        half.set(Region::Us, "http://localhost:9").unwrap();
        assert_eq!(loopback_rate("500", &half).unwrap(), None);
        for bad in ["0", "-1", "fast", "100001", ""] {
            assert!(loopback_rate(bad, &local).is_err(), "{bad}");
        }
    }
}
