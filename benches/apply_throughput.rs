//! Clone throughput against the rate limit: 2,000 single-clone accounts over 4 pairs, the
//! simulator at its default limit (20 requests per second per application) with 30 ms of
//! latency on every request. The ideal is every application at its limit at once:
//! accounts ÷ (pairs × limit). Reports the achieved fraction of it and the 429s (targets: ≥ 0.95
//! and none), then the same clones done one request at a time, as a ratio.
//!
//! Run: `cargo bench --bench apply_throughput` (about three minutes, mostly the one-at-a-time
//! run). It talks only to an in-process simulator on 127.0.0.1, and to a throwaway PostgreSQL
//! (the system's, as the tests start it, with durable commits; or the server
//! `NYLAS_MIGRATE_TEST_DATABASE_URL` names).
//!
//! The state backend: `-- --state sqlite`, `-- --state postgres`, or `-- --state both` (the
//! default: the concurrent run on each, then the one-at-a-time run on SQLite). Without a
//! PostgreSQL here, `both` says so and measures SQLite alone.
//!
//! What is timed: an `apply` of the plan whose only pending work is the 2,000 clones (link and
//! import were applied first, by a plan without test accounts, on the same state). The
//! timed run includes its own observation calls (one application read and ceil(500 / 200)
//! grant pages per pair), so the ratio slightly understates the clone rate itself.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nylas_migrate::api::{Operation, Region};
use nylas_migrate::engine::{ApplyOptions, QuietReporter, apply};
use nylas_migrate::plan;
use nylas_migrate::run::{Opening, Run};
use nylas_migrate::secrets::SecretSource;
use nylas_migrate::simulator::{
    self, AccountProvider, JobSpeed, RunningSimulator, SimulatorConfig, V2Account, V2App, V3App,
    World,
};
use nylas_migrate::state::StateLocation;

#[allow(dead_code)]
#[path = "../tests/support/postgres.rs"]
mod pg;

const PAIRS: usize = 4;
const ACCOUNTS_PER_PAIR: usize = 500;
/// The simulator's default, Nylas's documented limit.
const LIMIT: u32 = 20;
const LATENCY: Duration = Duration::from_millis(30);

fn v2_id(p: usize) -> String {
    format!("bench{p}v2app{:014}", p)
}

fn v3_id(p: usize) -> String {
    format!("{p:08x}-0000-4000-8000-00000000beef")
}

fn account_id(p: usize, n: usize) -> String {
    format!("p{p}acct{n:019}")
}

/// Four U.S. pairs, each a v2 app of 500 migratable Google accounts and an empty v3 app.
fn world() -> (World, HashMap<String, String>) {
    let mut world = World::default();
    let mut secrets = HashMap::new();
    for p in 0..PAIRS {
        world.v2_apps.push(V2App {
            id: v2_id(p),
            secret: format!("bench-v2-secret-{p}"),
            region: Region::Us,
            name: None,
            website_url: None,
            icon_url: None,
            integrations: vec![AccountProvider::Google],
            accounts: (0..ACCOUNTS_PER_PAIR)
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
            api_key: format!("bench-v3-key-{p}"),
            region: Region::Us,
            organization_id: None,
            linked_v2_app: None,
            pubsub_channels: Vec::new(),
            sns_channels: Vec::new(),
            redirect_uris: Vec::new(),
        });
        secrets.insert(format!("V2_{p}"), format!("bench-v2-secret-{p}"));
        secrets.insert(format!("V3_{p}"), format!("bench-v3-key-{p}"));
    }
    (world, secrets)
}

/// The plan: four pairs, with their test accounts or without; `chained` runs the pairs one
/// after another (`after`).
fn plan_text(sim: &RunningSimulator, with_accounts: bool, chained: bool) -> String {
    let mut out = String::from("version: 1\nname: throughput\npairs:\n");
    for p in 0..PAIRS {
        let _ = write!(
            out,
            "  - name: pair-{p}\n    region: us\n    v2: {{ app_id: {}, client_secret: {{ env: V2_{p} }} }}\n    v3: {{ app_id: {}, api_key: {{ env: V3_{p} }} }}\n",
            v2_id(p),
            v3_id(p)
        );
        if chained && p > 0 {
            let _ = writeln!(out, "    after: [pair-{}]", p - 1);
        }
        if with_accounts {
            out.push_str("    clone:\n      single:\n");
            for n in 0..ACCOUNTS_PER_PAIR {
                let _ = writeln!(out, "        - {}", account_id(p, n));
            }
        }
    }
    let _ = write!(
        out,
        "regions:\n  us: {{ api_url: \"{}\" }}\n  eu: {{ api_url: \"{}\" }}\n",
        sim.base_url(Region::Us),
        sim.base_url(Region::Eu)
    );
    out
}

async fn apply_plan(
    text: &str,
    secrets: &HashMap<String, String>,
    state: &StateLocation,
    concurrency: usize,
) -> Duration {
    let plan = plan::load_str(Path::new("bench.yaml"), "bench.yaml", text)
        .unwrap_or_else(|e| panic!("bench plan is invalid: {:?}", e.diagnostics))
        .plan;
    let source = SecretSource::new(std::env::temp_dir()).with_overlay(secrets.clone());
    // As `apply` runs it: under the state's lock, every journal write fenced by it.
    let Run {
        context,
        lock: _lock,
    } = Opening::of_plan(&plan, source, state.clone())
        .unwrap()
        .lock_and_write()
        .unwrap();
    let ctx = Arc::new(context);
    let options = ApplyOptions {
        concurrency,
        ..ApplyOptions::default()
    };
    let started = Instant::now();
    let summary = apply(ctx, &options, Arc::new(QuietReporter)).await.unwrap();
    let elapsed = started.elapsed();
    assert!(summary.all_done(), "the benchmark's apply failed");
    elapsed
}

struct Measured {
    elapsed: Duration,
    clones: u64,
    too_many: u64,
}

/// Where the state lives.
enum Backend {
    Sqlite,
    Postgres(&'static pg::Server),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite state folder",
            Backend::Postgres(_) => "PostgreSQL state",
        }
    }
}

/// A fresh simulator and state (folder or database); link and import applied first, then the
/// clones timed.
async fn measure(concurrency: usize, chained: bool, backend: &Backend) -> Measured {
    let (world, secrets) = world();
    let sim = simulator::start(
        SimulatorConfig {
            world,
            rate_limit: LIMIT,
            latency: LATENCY,
            job_speed: JobSpeed::RealTime { factor: 200.0 },
            ..SimulatorConfig::default()
        },
        "127.0.0.1".parse().unwrap(),
    )
    .await
    .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let state = match backend {
        Backend::Sqlite => StateLocation::Folder(folder.path().to_path_buf()),
        Backend::Postgres(server) => {
            let db = server.database();
            StateLocation::Postgres(Box::new(
                nylas_migrate::state::journal::PostgresTarget::from_secret(
                    &nylas_migrate::client::Secret::new(db.url_with_password()),
                    &nylas_migrate::plan::Trust::default(),
                )
                .unwrap(),
            ))
        }
    };
    apply_plan(
        &plan_text(&sim, false, chained),
        &secrets,
        &state,
        concurrency,
    )
    .await;
    let before = sim.stats();
    let elapsed = apply_plan(
        &plan_text(&sim, true, chained),
        &secrets,
        &state,
        concurrency,
    )
    .await;
    let after = sim.stats();
    let measured = Measured {
        elapsed,
        clones: after.count(Operation::CloneSingleAccount, 200)
            - before.count(Operation::CloneSingleAccount, 200),
        too_many: after.status_total(429) - before.status_total(429),
    };
    sim.shutdown().await;
    assert_eq!(
        measured.clones,
        (PAIRS * ACCOUNTS_PER_PAIR) as u64,
        "every account cloned once"
    );
    measured
}

/// `--state sqlite|postgres|both` from the bench's arguments (cargo adds `--bench`).
fn backends() -> Vec<Backend> {
    let args: Vec<String> = std::env::args().collect();
    let wanted = args
        .iter()
        .position(|a| a == "--state")
        .and_then(|i| args.get(i + 1))
        .map_or("both", String::as_str);
    let postgres = || -> Result<&'static pg::Server, String> {
        static SERVER: std::sync::OnceLock<Result<pg::Server, String>> = std::sync::OnceLock::new();
        SERVER
            .get_or_init(|| pg::start(false))
            .as_ref()
            .map_err(Clone::clone)
    };
    match wanted {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres(
            postgres().unwrap_or_else(|e| panic!("--state postgres: {e}")),
        )],
        "both" => match postgres() {
            Ok(server) => vec![Backend::Sqlite, Backend::Postgres(server)],
            Err(e) => {
                println!("  (PostgreSQL state not measured: {e})");
                vec![Backend::Sqlite]
            }
        },
        other => panic!("--state {other}: expected sqlite, postgres or both"),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let accounts = PAIRS * ACCOUNTS_PER_PAIR;
        let ideal = Duration::from_secs_f64(accounts as f64 / (PAIRS as f64 * f64::from(LIMIT)));
        println!(
            "apply throughput: {accounts} single-clone accounts, {PAIRS} pairs, limit {LIMIT}/s per application, latency {} ms",
            LATENCY.as_millis()
        );
        let backends = backends();
        let mut first = None;
        for backend in &backends {
            let concurrent = measure(ApplyOptions::default().concurrency, false, backend).await;
            let ratio = ideal.as_secs_f64() / concurrent.elapsed.as_secs_f64();
            println!(
                "  concurrent, {} (default --concurrency {}, pairs in parallel): elapsed {:.2} s, ideal {:.2} s, throughput ÷ ideal {:.3} (target ≥ 0.97: {}), 429s {} (target 0: {})",
                backend.name(),
                ApplyOptions::default().concurrency,
                concurrent.elapsed.as_secs_f64(),
                ideal.as_secs_f64(),
                ratio,
                if ratio >= 0.97 { "met" } else { "MISSED" },
                concurrent.too_many,
                if concurrent.too_many == 0 {
                    "met"
                } else {
                    "MISSED"
                },
            );
            first.get_or_insert(concurrent.elapsed);
        }
        let (Some(backend), Some(concurrent)) = (backends.first(), first) else {
            return;
        };
        // One request at a time: --concurrency 1 and each pair after the previous one, so that
        // at most one request is in flight in the whole run.
        let sequential = measure(1, true, backend).await;
        println!(
            "  one request at a time, {} (--concurrency 1, pairs chained by `after`): elapsed {:.2} s, 429s {}; sequential ÷ concurrent time {:.2}",
            backend.name(),
            sequential.elapsed.as_secs_f64(),
            sequential.too_many,
            sequential.elapsed.as_secs_f64() / concurrent.as_secs_f64()
        );
    });
}
