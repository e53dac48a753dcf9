//! `translate` at scale against the simulator: 200 accounts over 4 pairs (two per region), all
//! eight resource types (about 8,000 objects and 10 pages per account), the simulator at its
//! default limit of 20 requests per second per application. Runs the real binary (as a child
//! process; the simulator is in this one) and reports:
//!
//! 1. an uninterrupted run: rows against the simulator's objects, duplicates, 429s, and each
//!    application's requests per second as a share of its limit (target ≥ 0.95, no 429);
//! 2. the same translation SIGKILLed twice and resumed: the same rows, none twice, and no page
//!    recorded by a killed run asked again;
//! 3. peak RSS of the translate process for about 140,000 and for 1,000,000 rows (memory flat
//!    in the number of rows: rows stream to the file).
//!
//! Run: `cargo bench --bench translate_throughput` (about two minutes on 2 cores). It talks only
//! to an in-process simulator on 127.0.0.1.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nylas_migrate::api::{Operation, Region};
use nylas_migrate::engine::{ApplyOptions, QuietReporter, apply};
use nylas_migrate::plan;
use nylas_migrate::run::Opening;
use nylas_migrate::secrets::SecretSource;
use nylas_migrate::simulator::{
    self, AccountObjects, AccountProvider, JobSpeed, RESOURCE_TYPES, RunningSimulator,
    SimulatorConfig, V2Account, V2App, V3App, World, is_outlook,
};

const PAIRS: usize = 4;
const ACCOUNTS_PER_PAIR: usize = 50;
const LIMIT: u32 = 20;

fn region(p: usize) -> Region {
    if p.is_multiple_of(2) {
        Region::Us
    } else {
        Region::Eu
    }
}

fn v2_id(p: usize) -> String {
    format!("tbench{p}v2app{:013}", p)
}

fn v3_id(p: usize) -> String {
    format!("{p:08x}-0000-4000-8000-0000000a11ed")
}

/// Four pairs of 50 accounts over every provider; two accounts per pair are Outlook consumer
/// accounts, which translate refuses.
fn world() -> (World, HashMap<String, String>) {
    let providers = [
        AccountProvider::Google,
        AccountProvider::Microsoft,
        AccountProvider::Imap,
        AccountProvider::Icloud,
        AccountProvider::Ews,
    ];
    let mut world = World::default();
    let mut secrets = HashMap::new();
    for p in 0..PAIRS {
        world.v2_apps.push(V2App {
            id: v2_id(p),
            secret: format!("tbench-v2-secret-{p}"),
            region: region(p),
            name: None,
            website_url: None,
            icon_url: None,
            integrations: providers.to_vec(),
            accounts: (0..ACCOUNTS_PER_PAIR)
                .map(|n| {
                    let provider = providers[n % providers.len()];
                    let outlook = n == 1 || n == 6;
                    V2Account {
                        id: format!("p{p}tacct{n:018}"),
                        provider,
                        email: if outlook {
                            format!("user{n}@outlook.com")
                        } else {
                            format!("user{n}@pair{p}.example.com")
                        },
                        migratable: !outlook,
                    }
                })
                .collect(),
            redirect_uris: Vec::new(),
        });
        world.v3_apps.push(V3App {
            id: v3_id(p),
            api_key: format!("tbench-v3-key-{p}"),
            region: region(p),
            organization_id: None,
            linked_v2_app: None,
            pubsub_channels: Vec::new(),
            sns_channels: Vec::new(),
            redirect_uris: Vec::new(),
        });
        secrets.insert(format!("V2_{p}"), format!("tbench-v2-secret-{p}"));
        secrets.insert(format!("V3_{p}"), format!("tbench-v3-key-{p}"));
    }
    secrets.insert("AZ_ID".into(), "bench-azure-id".into());
    secrets.insert("AZ_SECRET".into(), "bench-azure-secret".into());
    (world, secrets)
}

fn plan_text(sim: &RunningSimulator) -> String {
    let mut out = String::from("version: 1\nname: translate-bench\npairs:\n");
    for p in 0..PAIRS {
        let _ = write!(
            out,
            "  - name: pair-{p}\n    region: {}\n    v2: {{ app_id: {}, client_secret: {{ env: V2_{p} }} }}\n    v3: {{ app_id: {}, api_key: {{ env: V3_{p} }} }}\n    connectors:\n      - provider: microsoft\n        settings: {{ client_id: {{ env: AZ_ID }}, client_secret: {{ env: AZ_SECRET }}, tenant: common }}\n    clone:\n      batches:\n        - {{ name: everyone, mode: all }}\n",
            region(p),
            v2_id(p),
            v3_id(p)
        );
    }
    let _ = write!(
        out,
        "regions:\n  us: {{ api_url: \"{}\" }}\n  eu: {{ api_url: \"{}\" }}\n",
        sim.base_url(Region::Us),
        sim.base_url(Region::Eu)
    );
    out
}

async fn migrate(text: &str, secrets: &HashMap<String, String>, state: &Path) {
    let plan = plan::load_str(Path::new("bench.yaml"), "bench.yaml", text)
        .unwrap_or_else(|e| panic!("bench plan is invalid: {:?}", e.diagnostics))
        .plan;
    let source = SecretSource::new(std::env::temp_dir()).with_overlay(secrets.clone());
    let state = nylas_migrate::state::StateLocation::Folder(state.to_path_buf());
    let opening = Opening::of_plan(&plan, source, state).unwrap();
    let ctx = Arc::new(opening.write_unlocked().unwrap());
    let summary = apply(ctx, &ApplyOptions::default(), Arc::new(QuietReporter))
        .await
        .unwrap();
    assert!(summary.all_done(), "the benchmark's apply failed");
}

/// Rows and pages the simulator holds for `types` of every translatable account.
fn expected(world: &World, types: &[&str]) -> (u64, u64) {
    let mut rows = 0;
    let mut pages = 0;
    for account in world.v2_apps.iter().flat_map(|a| &a.accounts) {
        if is_outlook(account) {
            continue;
        }
        for t in types {
            let count = AccountObjects::new(account, t).unwrap().count() as u64;
            rows += count;
            pages += count.max(1).div_ceil(3000);
        }
    }
    (rows, pages)
}

struct Run {
    status: Option<i32>,
    elapsed: Duration,
    /// Peak resident set of the translate process, in KiB.
    max_rss_kib: i64,
    summary: Option<serde_json::Value>,
}

fn command(plan: &Path, secrets: &HashMap<String, String>, types: &str, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nylas-migrate"));
    cmd.args(["--output", "json", "translate"])
        .arg(plan)
        .args(["--resource-types", types, "--out"])
        .arg(out)
        .envs(secrets)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .stdout(Stdio::piped());
    cmd
}

/// Runs the child to its end, or SIGKILLs it once `out` is longer than `kill_at` bytes.
// The child is waited for with `wait4` (for its peak RSS), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run(mut cmd: Command, out: &Path, kill_at: Option<u64>) -> Run {
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .find(|e| e["event"] == "translate_summary")
    });
    if let Some(limit) = kill_at {
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::fs::metadata(out).map_or(0, |m| m.len()) <= limit {
            assert!(Instant::now() < deadline, "the output did not grow");
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; both pointers are valid for the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    let summary = reader.join().unwrap();
    Run {
        status: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        elapsed: started.elapsed(),
        max_rss_kib: usage.ru_maxrss,
        summary,
    }
}

/// Sorted hashes of the file's data lines; the number of distinct lines.
fn line_hashes(path: &Path) -> (Vec<u64>, usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut hashes: Vec<u64> = BufReader::new(file)
        .lines()
        .skip(1)
        .map(|l| {
            let mut h = DefaultHasher::new();
            l.unwrap().hash(&mut h);
            h.finish()
        })
        .collect();
    hashes.sort_unstable();
    let mut distinct = hashes.clone();
    distinct.dedup();
    (hashes, distinct.len())
}

fn ratios(summary: &serde_json::Value) -> Vec<f64> {
    summary["throughput"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ratio"].as_f64().unwrap_or(0.0))
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (world, secrets) = world();
    let sim = simulator::start(
        SimulatorConfig {
            world: world.clone(),
            rate_limit: LIMIT,
            job_speed: JobSpeed::RealTime { factor: 200.0 },
            ..SimulatorConfig::default()
        },
        "127.0.0.1".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.yaml");
    let text = plan_text(&sim);
    std::fs::write(&plan_path, &text).unwrap();
    migrate(&text, &secrets, &dir.path().join(".nylas-migrate")).await;

    let all = RESOURCE_TYPES.join(",");
    let (want_rows, want_pages) = expected(&world, &RESOURCE_TYPES);
    println!(
        "world: {PAIRS} pairs x {ACCOUNTS_PER_PAIR} accounts ({} Outlook, refused), 8 types: {want_rows} objects in {want_pages} pages; limit {LIMIT}/s per application",
        PAIRS * 2
    );

    // 1. Uninterrupted.
    let plan_path2 = plan_path.clone();
    let secrets2 = secrets.clone();
    let out1: PathBuf = dir.path().join("full.csv");
    let before = sim.stats();
    let o = out1.clone();
    let full = tokio::task::spawn_blocking(move || {
        run(command(&plan_path2, &secrets2, &all, &o), &o, None)
    })
    .await
    .unwrap();
    let after = sim.stats();
    let s = full.summary.clone().expect("a summary");
    let (hashes1, distinct1) = line_hashes(&out1);
    let too_many = after.count(Operation::Translate, 429) - before.count(Operation::Translate, 429);
    let r = ratios(&s);
    let ideal = want_pages as f64 / (PAIRS as f64 * f64::from(LIMIT));
    println!(
        "1. uninterrupted: exit {:?}, {} rows ({} distinct; simulator {want_rows}), {} pages in {:.1}s (ideal {ideal:.1}s at the limit), 429s {too_many}",
        full.status,
        hashes1.len(),
        distinct1,
        s["pages_this_run"],
        full.elapsed.as_secs_f64()
    );
    println!(
        "   requests per second / limit, per application: {}  (min {:.3})",
        r.iter()
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join(" "),
        r.iter().copied().fold(f64::INFINITY, f64::min)
    );
    println!("   peak RSS {} MiB", full.max_rss_kib / 1024);
    assert_eq!(hashes1.len() as u64, want_rows);
    assert_eq!(distinct1, hashes1.len());
    assert_eq!(too_many, 0);

    // 2. Killed twice, resumed.
    let out2 = dir.path().join("killed.csv");
    let all = RESOURCE_TYPES.join(",");
    let mut kills = Vec::new();
    for fraction in [0.3, 0.7] {
        let size = std::fs::metadata(&out1).unwrap().len();
        let (p, sec, o, t) = (
            plan_path.clone(),
            secrets.clone(),
            out2.clone(),
            all.clone(),
        );
        let killed = tokio::task::spawn_blocking(move || {
            run(
                command(&p, &sec, &t, &o),
                &o,
                Some((size as f64 * fraction) as u64),
            )
        })
        .await
        .unwrap();
        kills.push(killed.status);
    }
    let settle = sim.stats().count(Operation::Translate, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = sim.stats().count(Operation::Translate, 200);
    assert_eq!(
        settle, before,
        "the killed run's requests are still being answered"
    );
    let (p, sec, o, t) = (
        plan_path.clone(),
        secrets.clone(),
        out2.clone(),
        all.clone(),
    );
    let resumed = tokio::task::spawn_blocking(move || run(command(&p, &sec, &t, &o), &o, None))
        .await
        .unwrap();
    let s2 = resumed.summary.clone().expect("a summary");
    let asked = sim.stats().count(Operation::Translate, 200) - before;
    let (hashes2, distinct2) = line_hashes(&out2);
    println!(
        "2. SIGKILLed at 30% and 70% of the output (exit {:?}), resumed: {} rows ({} distinct), same rows as run 1: {}; resumed run asked {asked} pages = {} new + {} recorded earlier = {want_pages}",
        kills,
        hashes2.len(),
        distinct2,
        hashes2 == hashes1,
        s2["pages_this_run"],
        s2["pages_resumed"]
    );
    assert_eq!(hashes2, hashes1);
    assert_eq!(asked, s2["pages_this_run"].as_u64().unwrap());
    assert_eq!(
        s2["pages_this_run"].as_u64().unwrap() + s2["pages_resumed"].as_u64().unwrap(),
        want_pages
    );

    // 3. Memory against rows: one type of a few accounts, then messages and threads of all.
    let small = dir.path().join("small.csv");
    let accounts = dir.path().join("accounts.txt");
    let few: Vec<String> = world
        .v2_apps
        .iter()
        .flat_map(|a| a.accounts.iter().take(12))
        .filter(|a| !is_outlook(a))
        .map(|a| a.id.clone())
        .collect();
    std::fs::write(&accounts, few.join("\n")).unwrap();
    let (p, sec, o, a) = (
        plan_path.clone(),
        secrets.clone(),
        small.clone(),
        accounts.clone(),
    );
    let small_run = tokio::task::spawn_blocking(move || {
        let mut cmd = command(&p, &sec, "messages,threads", &o);
        cmd.arg("--accounts").arg(&a);
        run(cmd, &o, None)
    })
    .await
    .unwrap();
    let big = dir.path().join("big.csv");
    let (p, sec, o) = (plan_path.clone(), secrets.clone(), big.clone());
    let big_run = tokio::task::spawn_blocking(move || {
        run(
            command(&p, &sec, "messages,threads,contacts,events", &o),
            &o,
            None,
        )
    })
    .await
    .unwrap();
    let rows = |r: &Run| {
        r.summary
            .as_ref()
            .map_or(0, |s| s["rows"].as_u64().unwrap_or(0))
    };
    println!(
        "3. peak RSS: {} rows -> {} MiB; {} rows -> {} MiB",
        rows(&small_run),
        small_run.max_rss_kib / 1024,
        rows(&big_run),
        big_run.max_rss_kib / 1024
    );
    assert!(rows(&big_run) >= 1_000_000, "fewer than a million rows");
    sim.shutdown().await;
}
