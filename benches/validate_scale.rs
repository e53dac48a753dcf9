//! Validation and graph building at scale: a plan with 500 pairs and 20,000 single-clone
//! accounts, then the same shape at ×2 and ×4, to show time grows linearly with size.
//!
//! Run: `cargo bench --bench validate_scale`. Prints the best of several runs per size and the
//! ratio of each size's time to the base size's, on the clock and in the thread's processor
//! time (steadier on a machine other work shares: it does not count the time others run). The
//! runs of the three sizes take turns (×1, ×2, ×4, ×1, …), so that a busy spell of the machine
//! falls on every size alike, and the best of each is kept: other work only ever adds time.
//! `-- --scale N` runs the ×N size alone and `-- --runs N` sets the runs (to compare sizes under
//! a profiler: `valgrind --tool=callgrind` counts the instructions, which noise does not move).

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use nylas_migrate::graph::StepGraph;
use nylas_migrate::plan;

/// A plan of `pairs` pairs with `accounts_per_pair` single-clone accounts each, shaped like a
/// production plan (connectors, webhooks, waves, `after` chains).
fn generate(pairs: usize, accounts_per_pair: usize) -> String {
    let mut out = String::from("version: 1\nname: scale\npairs:\n");
    for p in 0..pairs {
        let _ = write!(
            out,
            "  - name: pair-{p}\n    region: {}\n    v2: {{ app_id: v2app{p:020}, client_secret: {{ env: V2_SECRET_{p} }} }}\n    v3: {{ app_id: {:08x}-0000-4000-8000-{:012x}, api_key: {{ env: V3_KEY_{p} }} }}\n",
            if p % 2 == 0 { "us" } else { "eu" },
            p,
            p
        );
        if p > 0 && p % 10 != 0 {
            let _ = writeln!(out, "    after: [pair-{}]", p - 1);
        }
        out.push_str("    connectors:\n      - provider: microsoft\n        settings: { client_id: { env: AZ_ID }, client_secret: { env: AZ_SECRET }, tenant: common }\n        scope: [Mail.Read, User.Read, offline_access]\n");
        out.push_str("    webhooks:\n      - url: https://hooks.example.com/nylas\n        triggers: [grant.created, grant.expired, message.created]\n");
        out.push_str("    clone:\n      single:\n");
        for a in 0..accounts_per_pair {
            let _ = writeln!(out, "        - acct{p:06}x{a:015}");
        }
        out.push_str("      batches:\n        - { name: google, providers: [google], mode: only_new }\n        - { name: rest, mode: only_new, limit: 5000 }\n      gate: { max_failed_ratio: 0.05 }\n");
    }
    out
}

/// This thread's processor time so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a plain out-parameter; the clock ID is a constant the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// One run: wall-clock time, processor time and the step count.
fn measure(text: &str) -> (Duration, Duration, usize) {
    let cpu = thread_cpu();
    let start = Instant::now();
    let loaded =
        plan::load_str(Path::new("scale.yaml"), "scale.yaml", text).unwrap_or_else(|invalid| {
            panic!(
                "generated plan is invalid: {:?}",
                invalid.diagnostics.first()
            )
        });
    let graph = StepGraph::build(&loaded.plan).expect("graph builds");
    let steps = graph.len();
    let times = (start.elapsed(), thread_cpu().saturating_sub(cpu));
    drop(graph);
    drop(loaded);
    (times.0, times.1, steps)
}

/// Runs per size (`-- --runs N` for another number).
const RUNS: usize = 15;

fn main() {
    // Warm up allocators and the schema compilation (done once per process).
    let _ = measure(&generate(10, 10));
    let base_pairs = 500;
    let per_pair = 40; // 500 × 40 = 20,000 accounts
    let args: Vec<String> = std::env::args().collect();
    let scales: Vec<usize> = args
        .iter()
        .position(|a| a == "--scale")
        .and_then(|i| args.get(i + 1))
        .map_or(vec![1, 2, 4], |n| vec![n.parse().expect("--scale N")]);
    let texts: Vec<String> = scales
        .iter()
        .map(|s| generate(base_pairs * s, per_pair))
        .collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map_or(RUNS, |n| n.parse().expect("--runs N"));
    let mut best = vec![(Duration::MAX, Duration::MAX, 0usize); scales.len()];
    for _ in 0..runs {
        for (text, best) in texts.iter().zip(&mut best) {
            let (time, cpu, steps) = measure(text);
            *best = (best.0.min(time), best.1.min(cpu), steps);
        }
    }
    println!("validate + graph build (best of {runs} runs per size, sizes in turn, release build)");
    println!(
        "{:>6} {:>9} {:>8} {:>9} {:>10} {:>7} {:>10} {:>7}",
        "pairs", "accounts", "MiB", "steps", "time", "ratio", "cpu", "ratio"
    );
    let (base_time, base_cpu, _) = best[0];
    for ((scale, text), (time, cpu, steps)) in scales.iter().zip(&texts).zip(best) {
        println!(
            "{:>6} {:>9} {:>8.1} {:>9} {:>8.0}ms {:>6.2}x {:>8.0}ms {:>6.2}x",
            base_pairs * scale,
            base_pairs * scale * per_pair,
            text.len() as f64 / (1024.0 * 1024.0),
            steps,
            time.as_secs_f64() * 1000.0,
            time.as_secs_f64() / base_time.as_secs_f64(),
            cpu.as_secs_f64() * 1000.0,
            cpu.as_secs_f64() / base_cpu.as_secs_f64(),
        );
    }
}
