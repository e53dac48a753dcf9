//! Many pairs in one run, each application at its own limit: a generated world of N pairs
//! (even pairs in the U.S., odd ones in the E.U.), each a v2 app of Google accounts and an
//! empty v3 app, the simulator at Nylas's limit (20 requests per second per application) with
//! 30 ms of latency on every answer, run as a separate process (`nylas-migrate simulate
//! --world`) so that the apply's CPU time is its own.
//!
//! Run: `cargo bench --bench many_pairs` (about four minutes). Options after `--`:
//! `--pairs 50,100` (the sizes), `--accounts 200` (single clones per pair), `--state
//! sqlite|postgres|both` (the state backend; PostgreSQL is a throwaway server on 127.0.0.1, as
//! the tests start it), `--rtt-ms 0,2,10` (PostgreSQL only: the round trip to the database,
//! made by a delaying TCP proxy on 127.0.0.1 that holds every chunk rtt/2 in each direction, a
//! database in another zone or region; 0 connects directly; default 0), `--variant
//! single|waves|both`. The figure: `cargo bench --bench many_pairs -- --pairs 50
//! --state postgres --rtt-ms 0,2,10 --variant single`.
//!
//! What it prints, per size, backend and variant:
//! - the timed `apply` from a new state (as the command runs it: the history check of every
//!   pair, then link, import, the channel, the clones, the waves): elapsed; per application
//!   the ratio of its requests in that apply at its limit (requests ÷ limit) to the elapsed
//!   time, minimum and median (target ≥ 0.95; the limiter spaces requests 2% wider than
//!   1/limit, so 0.98 is the ceiling); the 429s (target 0); the apply's CPU time (this
//!   process's user + system time, the simulator and PostgreSQL being other processes).
//!   `single`: the pair's single clones. `waves`: the single clones, then two waves (batch
//!   clones of the pair's other accounts) after a Pub/Sub channel; its ideal counts the
//!   requests alone, so the waves' jobs (simulated at 1,000× speed) and their polls make it a
//!   little lower by construction. Below it, where each application's time went beyond its
//!   requests' spacing (median over the applications, in ms): before its first request, among
//!   its first eight requests (the history check, link, import, the grants' listing: one after
//!   the other; each one's share too), after them, after its last request; and, at a round
//!   trip, the messages the apply sent to the database through the proxy.
//! - then, for the observing commands (the real binary, as a user runs it): `plan`, `status`
//!   and `verify` over the N pairs against the same command with `--pair` naming one pair, as
//!   a ratio (target ≤ 2).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nylas_migrate::api::Region;
use nylas_migrate::engine::{ApplyOptions, QuietReporter, apply, unrecorded_history};
use nylas_migrate::graph::StepGraph;
use nylas_migrate::plan;
use nylas_migrate::run::{Opening, Run};
use nylas_migrate::secrets::SecretSource;
use nylas_migrate::simulator::{AccountProvider, Stats, V2Account, V2App, V3App, World};
use nylas_migrate::state::StateLocation;

#[allow(dead_code)]
#[path = "../tests/support/postgres.rs"]
mod pg;

/// The simulator's default, Nylas's documented limit.
const LIMIT: u32 = 20;
const LATENCY_MS: u64 = 30;
/// Accounts per pair left to the waves (variant `waves`).
const WAVE_ACCOUNTS: usize = 100;

fn v2_id(p: usize) -> String {
    format!("many{p:04}v2app{:012}", p)
}

fn v3_id(p: usize) -> String {
    format!("{p:08x}-0000-4000-8000-0000000ba5e5")
}

fn account_id(p: usize, n: usize) -> String {
    format!("p{p:04}acct{n:016}")
}

fn region(p: usize) -> Region {
    if p.is_multiple_of(2) {
        Region::Us
    } else {
        Region::Eu
    }
}

/// N pairs, alternately in each region: `accounts` + [`WAVE_ACCOUNTS`] Google accounts each.
fn world(pairs: usize, accounts: usize) -> (World, HashMap<String, String>) {
    let mut world = World::default();
    let mut secrets = HashMap::new();
    for p in 0..pairs {
        world.v2_apps.push(V2App {
            id: v2_id(p),
            secret: format!("many-v2-secret-{p}"),
            region: region(p),
            name: None,
            website_url: None,
            icon_url: None,
            integrations: vec![AccountProvider::Google],
            accounts: (0..accounts + WAVE_ACCOUNTS)
                .map(|n| V2Account {
                    id: account_id(p, n),
                    provider: AccountProvider::Google,
                    email: format!("user{n}@pair{p}.example.com"),
                    migratable: true,
                })
                .collect(),
            redirect_uris: Vec::new(),
        });
        world.v3_apps.push(V3App {
            id: v3_id(p),
            api_key: format!("many-v3-key-{p}"),
            region: region(p),
            organization_id: None,
            linked_v2_app: None,
            pubsub_channels: Vec::new(),
            sns_channels: Vec::new(),
            redirect_uris: Vec::new(),
        });
        secrets.insert(format!("V2_{p}"), format!("many-v2-secret-{p}"));
        secrets.insert(format!("V3_{p}"), format!("many-v3-key-{p}"));
    }
    (world, secrets)
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Single,
    Waves,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Single => "single clones",
            Variant::Waves => "single clones, Pub/Sub channel, two waves",
        }
    }
}

/// The plan: link, import, the channel (`waves`), the clones.
fn plan_text(sim: &Simulator, pairs: usize, accounts: usize, variant: Variant) -> String {
    let mut out = String::from("version: 1\nname: many-pairs\npairs:\n");
    for p in 0..pairs {
        let _ = write!(
            out,
            "  - name: pair-{p}\n    region: {}\n    v2: {{ app_id: {}, client_secret: {{ env: V2_{p} }} }}\n    v3: {{ app_id: {}, api_key: {{ env: V3_{p} }} }}\n",
            region(p),
            v2_id(p),
            v3_id(p)
        );
        if variant == Variant::Waves {
            let _ = writeln!(
                out,
                "    pubsub:\n      - {{ topic: projects/many/topics/pair-{p}, triggers: [grant.created] }}"
            );
        }
        out.push_str("    clone:\n      single:\n");
        for n in 0..accounts {
            let _ = writeln!(out, "        - {}", account_id(p, n));
        }
        if variant == Variant::Waves {
            let _ = writeln!(
                out,
                "      batches:\n        - {{ name: first, mode: only_new, limit: {} }}\n        - {{ name: rest, mode: only_new }}",
                WAVE_ACCOUNTS / 2
            );
        }
    }
    let _ = write!(
        out,
        "regions:\n  us: {{ api_url: \"{}\" }}\n  eu: {{ api_url: \"{}\" }}\n",
        sim.us, sim.eu
    );
    out
}

/// `nylas-migrate simulate --world FILE` in a process of its own.
struct Simulator {
    child: Child,
    us: String,
    eu: String,
    stats: String,
    _dir: tempfile::TempDir,
}

impl Simulator {
    fn start(world: &World) -> Simulator {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("world.yaml");
        std::fs::write(&file, world.to_yaml()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_nylas-migrate"))
            .args(["simulate", "--listen", "127.0.0.1:0", "--world"])
            .arg(&file)
            .args(["--rate-limit", &LIMIT.to_string()])
            .args(["--latency-ms", &LATENCY_MS.to_string()])
            .args(["--speed", "1000"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let urls: HashMap<String, String> =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("simulator said {line:?}: {e}"));
        Simulator {
            child,
            us: urls["us"].clone(),
            eu: urls["eu"].clone(),
            stats: urls["stats"].clone(),
            _dir: dir,
        }
    }

    async fn stats(&self) -> Stats {
        reqwest::get(&self.stats)
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process's user + system CPU time.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Where the state lives: a folder, or PostgreSQL at a round trip of so many milliseconds.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres(&'static pg::Server, u64),
}

impl Backend {
    fn name(self) -> String {
        match self {
            Backend::Sqlite => "SQLite state folder".into(),
            Backend::Postgres(_, rtt) => format!("PostgreSQL state at {rtt} ms round trip"),
        }
    }

    /// The state, and the proxy that delays its connections (kept for as long as the state is
    /// used).
    fn location(self, folder: &Path) -> (StateLocation, Option<DelayProxy>) {
        match self {
            Backend::Sqlite => (StateLocation::Folder(folder.to_path_buf()), None),
            Backend::Postgres(server, rtt) => {
                let mut db = server.database();
                let proxy = (rtt > 0).then(|| {
                    DelayProxy::start(server.port(), Duration::from_micros(rtt * 1000 / 2))
                });
                if let Some(proxy) = &proxy {
                    db = db.via_port(proxy.port);
                }
                let state = StateLocation::Postgres(Box::new(
                    nylas_migrate::state::journal::PostgresTarget::from_secret(
                        &nylas_migrate::client::Secret::new(db.url_with_password()),
                        &nylas_migrate::plan::Trust::default(),
                    )
                    .unwrap(),
                ));
                (state, proxy)
            }
        }
    }
}

/// A TCP proxy on 127.0.0.1 that delays every chunk by `delay` in each direction, keeping
/// their order and never waiting for one chunk before reading the next (latency, not a
/// bandwidth limit), on a runtime of its own so that the apply's tasks do not slow it.
struct DelayProxy {
    port: u16,
    /// Chunks forwarded to the database (about one per query or batch the apply sends).
    sent: Arc<std::sync::atomic::AtomicU64>,
    /// Shut down in the background when dropped (it is dropped inside the bench's runtime).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl DelayProxy {
    fn start(upstream: u16, delay: Duration) -> DelayProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(delayed(client_read, server_write, delay, Some(counter)));
                    tokio::spawn(delayed(server_read, client_write, delay, None));
                });
            }
        });
        DelayProxy {
            port,
            sent,
            runtime: Some(runtime),
        }
    }
}

/// Forwards what `from` reads to `to`, each chunk `delay` after it was read, counting the
/// chunks in `count`.
async fn delayed(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    count: Option<Arc<std::sync::atomic::AtomicU64>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (chunks, mut queued) =
        tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = queued.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if let Some(count) = count.as_ref().filter(|_| n > 0) {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if n == 0
            || chunks
                .send((tokio::time::Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
        {
            break;
        }
    }
    drop(chunks);
    let _ = writer.await;
}

struct Timed {
    elapsed: Duration,
    cpu: Duration,
    /// Per application: requests its limiter let go during the timed apply.
    requests: Vec<usize>,
    /// Per application: where its limiter was idle ([`Idle`]).
    idle: Vec<Idle>,
}

/// Where one application's time went besides its requests at the limit (milliseconds): before
/// its first request; among its first [`STARTUP_REQUESTS`] requests (the history check, link,
/// import, the grants' listing: one after the other) and after them (the clones, several at
/// once), the time beyond the limiter's spacing (net: a request the runtime woke late shortens
/// the next gap, so a gap can be negative); after its last request until the apply returned.
/// The four add up to the elapsed time less the spacing of the requests.
#[derive(Clone, Copy, Default)]
struct Idle {
    lead: f64,
    startup: f64,
    steady: f64,
    tail: f64,
    /// The time beyond the spacing before each of the first requests (the first one's is
    /// `lead`).
    gaps: [f64; STARTUP_REQUESTS],
}

/// The requests an application makes one after the other before its clones run side by side.
const STARTUP_REQUESTS: usize = 8;

impl Idle {
    fn of(sent: &[Instant], started: Instant, elapsed: Duration, interval: Duration) -> Idle {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (Some(first), Some(last)) = (sent.first(), sent.last()) else {
            return Idle {
                tail: ms(elapsed),
                ..Idle::default()
            };
        };
        let mut idle = Idle {
            lead: ms(*first - started),
            tail: ms(elapsed.saturating_sub(*last - started)),
            ..Idle::default()
        };
        idle.gaps[0] = idle.lead;
        for (i, pair) in sent.windows(2).enumerate() {
            let gap = ms(pair[1] - pair[0]) - ms(interval);
            if i + 1 < STARTUP_REQUESTS {
                idle.gaps[i + 1] = gap;
                idle.startup += gap;
            } else {
                idle.steady += gap;
            }
        }
        idle
    }
}

async fn apply_plan(text: &str, secrets: &HashMap<String, String>, state: &StateLocation) -> Timed {
    let plan = plan::load_str(Path::new("bench.yaml"), "bench.yaml", text)
        .unwrap_or_else(|e| panic!("bench plan is invalid: {:?}", e.diagnostics))
        .plan;
    let graph = StepGraph::build(&plan).unwrap();
    let apps: Vec<String> = graph.pairs().iter().map(|p| p.v3_app_id.clone()).collect();
    let source = SecretSource::new(std::env::temp_dir()).with_overlay(secrets.clone());
    let opening = Opening::with_client(&plan, graph, source, state.clone(), |builder| {
        builder.record_send_instants(true)
    })
    .unwrap();
    let client = opening.client().clone();
    // As `apply` runs under the CLI: the state's lock held, every journal write fenced by it.
    let Run {
        context,
        lock: _lock,
    } = opening.lock_and_write().unwrap();
    let ctx = Arc::new(context);
    let (cpu, started) = (cpu_time(), Instant::now());
    // As `apply` runs: the history check of the pairs the state does not know, then the walk.
    unrecorded_history(&ctx).await.unwrap();
    let summary = apply(ctx, &ApplyOptions::default(), Arc::new(QuietReporter))
        .await
        .unwrap();
    let (elapsed, cpu) = (started.elapsed(), cpu_time() - cpu);
    assert!(summary.all_done(), "the benchmark's apply failed");
    let sent: Vec<(Vec<Instant>, Duration)> = apps
        .iter()
        .map(|app| {
            client
                .limiters()
                .get(app)
                .map_or((Vec::new(), Duration::ZERO), |l| {
                    let mut sent: Vec<Instant> = l
                        .send_instants()
                        .iter()
                        .map(|t| t.into_std())
                        .filter(|t| *t >= started)
                        .collect();
                    sent.sort();
                    (sent, l.interval())
                })
        })
        .collect();
    Timed {
        elapsed,
        cpu,
        requests: sent.iter().map(|(s, _)| s.len()).collect(),
        idle: sent
            .iter()
            .map(|(s, interval)| Idle::of(s, started, elapsed, *interval))
            .collect(),
    }
}

fn write_plan(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("plan.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// One run of the real binary (`plan`, `status`, `verify`), timed; its exit status is not
/// the point (verify fails while waves are incomplete, plan may have changes).
fn time_command(
    args: &[&str],
    plan: &Path,
    state: &Path,
    secrets: &HashMap<String, String>,
) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_nylas-migrate"))
        .args(args)
        .arg(plan)
        .arg("--state")
        .arg(state)
        .envs(secrets)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.code().is_some_and(|c| c < 64),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

async fn measure(pairs: usize, accounts: usize, variant: Variant, backend: Backend, observe: bool) {
    let (world, secrets) = world(pairs, accounts);
    let sim = Simulator::start(&world);
    drop(world);
    let folder = tempfile::tempdir().unwrap();
    let (state, _proxy) = backend.location(folder.path());
    let before = sim.stats().await;
    let messages_before = _proxy
        .as_ref()
        .map_or(0, |p| p.sent.load(std::sync::atomic::Ordering::Relaxed));
    let text = plan_text(&sim, pairs, accounts, variant);
    let timed = apply_plan(&text, &secrets, &state).await;
    let after = sim.stats().await;
    let too_many = after.status_total(429) - before.status_total(429);
    let mut ratios: Vec<f64> = timed
        .requests
        .iter()
        .map(|&n| n as f64 / f64::from(LIMIT) / timed.elapsed.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let (min, median) = (ratios[0], ratios[ratios.len() / 2]);
    let ideal = timed.requests.iter().max().copied().unwrap_or(0) as f64 / f64::from(LIMIT);
    println!(
        "  {pairs} pairs × {accounts} accounts, {}, {}: elapsed {:.2} s (ideal {:.2} s); per application: min {:.3}, median {:.3} (target ≥ 0.95: {}); 429s {} (target 0: {}); apply CPU {:.2} s ({:.0}% of one core)",
        variant.name(),
        backend.name(),
        timed.elapsed.as_secs_f64(),
        ideal,
        min,
        median,
        if min >= 0.95 { "met" } else { "MISSED" },
        too_many,
        if too_many == 0 { "met" } else { "MISSED" },
        timed.cpu.as_secs_f64(),
        100.0 * timed.cpu.as_secs_f64() / timed.elapsed.as_secs_f64(),
    );
    let median_of = |f: &dyn Fn(&Idle) -> f64| -> f64 {
        let mut all: Vec<f64> = timed.idle.iter().map(f).collect();
        all.sort_by(f64::total_cmp);
        all.get(all.len() / 2).copied().unwrap_or(0.0)
    };
    let median = |f: fn(&Idle) -> f64| median_of(&f);
    let gaps: Vec<String> = (0..STARTUP_REQUESTS)
        .map(|i| format!("{:.0}", median_of(&|idle: &Idle| idle.gaps[i])))
        .collect();
    println!(
        "    time beyond the requests' spacing (per application, median, ms): before its first request {:.0}, among its first {STARTUP_REQUESTS} requests {:.0} (before each: {}), after them {:.0}, after its last request {:.0}{}",
        median(|i| i.lead),
        median(|i| i.startup),
        gaps.join(", "),
        median(|i| i.steady),
        median(|i| i.tail),
        match &_proxy {
            Some(proxy) => format!(
                "; messages to the database {}",
                proxy.sent.load(std::sync::atomic::Ordering::Relaxed) - messages_before
            ),
            None => String::new(),
        }
    );
    if observe && let Backend::Sqlite = backend {
        let plan = write_plan(folder.path(), &text);
        for command in ["plan", "status", "verify"] {
            let all = time_command(&[command], &plan, folder.path(), &secrets);
            let one = time_command(
                &[command, "--pair", "pair-0"],
                &plan,
                folder.path(),
                &secrets,
            );
            let ratio = all.as_secs_f64() / one.as_secs_f64();
            println!(
                "    `{command}` over {pairs} pairs {:.2} s, over one pair {:.2} s: ×{ratio:.2} (target ≤ 2: {})",
                all.as_secs_f64(),
                one.as_secs_f64(),
                if ratio <= 2.0 { "met" } else { "MISSED" }
            );
        }
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// `--state sqlite|postgres|both`, PostgreSQL at each `--rtt-ms`.
fn backends() -> Vec<Backend> {
    let rtts: Vec<u64> = arg("--rtt-ms")
        .unwrap_or_else(|| "0".into())
        .split(',')
        .map(|n| n.trim().parse().expect("--rtt-ms N,M (milliseconds)"))
        .collect();
    let at = |server: &'static pg::Server| -> Vec<Backend> {
        rtts.iter()
            .map(|&rtt| Backend::Postgres(server, rtt))
            .collect()
    };
    let postgres = || -> Result<&'static pg::Server, String> {
        static SERVER: std::sync::OnceLock<Result<pg::Server, String>> = std::sync::OnceLock::new();
        SERVER
            .get_or_init(|| pg::start(false))
            .as_ref()
            .map_err(Clone::clone)
    };
    match arg("--state").as_deref().unwrap_or("both") {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => at(postgres().unwrap_or_else(|e| panic!("--state postgres: {e}"))),
        "both" => match postgres() {
            Ok(server) => [vec![Backend::Sqlite], at(server)].concat(),
            Err(e) => {
                println!("  (PostgreSQL state not measured: {e})");
                vec![Backend::Sqlite]
            }
        },
        other => panic!("--state {other}: expected sqlite, postgres or both"),
    }
}

fn main() {
    let sizes: Vec<usize> = arg("--pairs")
        .unwrap_or_else(|| "50,100".into())
        .split(',')
        .map(|n| n.trim().parse().expect("--pairs N,M"))
        .collect();
    let accounts: usize = arg("--accounts").map_or(200, |n| n.parse().expect("--accounts N"));
    let variants = match arg("--variant").as_deref().unwrap_or("both") {
        "single" => vec![Variant::Single],
        "waves" => vec![Variant::Waves],
        "both" => vec![Variant::Single, Variant::Waves],
        other => panic!("--variant {other}: expected single, waves or both"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "many pairs: limit {LIMIT}/s per application, latency {LATENCY_MS} ms, default --concurrency {}",
        ApplyOptions::default().concurrency
    );
    let backends = backends();
    runtime.block_on(async {
        for &pairs in &sizes {
            for &backend in &backends {
                for &variant in &variants {
                    // The observing commands once per size, after the waves (a status that
                    // reads jobs) or the single clones when there are no waves.
                    let observe = variant == *variants.last().unwrap();
                    measure(pairs, accounts, variant, backend, observe).await;
                }
            }
        }
    });
}
