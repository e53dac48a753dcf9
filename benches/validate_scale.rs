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

/// One run's times (the best of several, once folded with [`Times::best`]).
#[derive(Clone, Copy)]
struct Times {
    /// Validation and graph building, on the clock.
    total: Duration,
    /// The same in this thread's processor time.
    cpu: Duration,
    /// Validation alone (reading the plan, every check, the typed plan).
    validate: Duration,
    /// Building the step graph from the typed plan.
    graph: Duration,
    steps: usize,
}

impl Times {
    const NONE: Times = Times {
        total: Duration::MAX,
        cpu: Duration::MAX,
        validate: Duration::MAX,
        graph: Duration::MAX,
        steps: 0,
    };

    fn best(self, other: Times) -> Times {
        Times {
            total: self.total.min(other.total),
            cpu: self.cpu.min(other.cpu),
            validate: self.validate.min(other.validate),
            graph: self.graph.min(other.graph),
            steps: other.steps,
        }
    }
}

/// One run: validate the plan, then build its graph.
fn measure(text: &str) -> Times {
    let cpu = thread_cpu();
    let start = Instant::now();
    let loaded =
        plan::load_str(Path::new("scale.yaml"), "scale.yaml", text).unwrap_or_else(|invalid| {
            panic!(
                "generated plan is invalid: {:?}",
                invalid.diagnostics.first()
            )
        });
    let validated = start.elapsed();
    let graph = StepGraph::build(&loaded.plan).expect("graph builds");
    let times = Times {
        total: start.elapsed(),
        cpu: thread_cpu().saturating_sub(cpu),
        validate: validated,
        graph: start.elapsed() - validated,
        steps: graph.len(),
    };
    drop(graph);
    drop(loaded);
    times
}

/// Runs per size (`-- --runs N` for another number).
const RUNS: usize = 15;

/// Keeps the memory a run frees for the next run, instead of glibc giving it back to the kernel
/// (above 128 KiB at the top of the heap, and every large block, which it maps on its own).
/// Otherwise a run that needs more memory than the one before it pays the kernel to zero fresh
/// pages while a smaller one reuses pages already there: the ×1 run, which follows a ×4 run,
/// never paid, and the ×4 run did, which counted the kernel's page zeroing (linear in the memory
/// used, as in any fresh process) as validation's growth. With this and a first run of the
/// largest size, every size runs on memory already mapped.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's thresholds; called before any other thread.
    unsafe {
        // 32 MiB is the largest threshold glibc takes; no block here is that large.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

fn main() {
    keep_freed_memory();
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
    // Warm up: the schema's compilation (once per process), and the heap grown to the largest
    // size's (see keep_freed_memory).
    if let Some(largest) = texts.last() {
        let _ = measure(largest);
    }
    let mut best = vec![Times::NONE; scales.len()];
    for _ in 0..runs {
        for (text, best) in texts.iter().zip(&mut best) {
            *best = best.best(measure(text));
        }
    }
    println!("validate + graph build (best of {runs} runs per size, sizes in turn, release build)");
    println!(
        "{:>6} {:>9} {:>6} {:>7} {:>8} {:>6} {:>8} {:>6} {:>9} {:>6} {:>8} {:>6}",
        "pairs",
        "accounts",
        "MiB",
        "steps",
        "time",
        "ratio",
        "cpu",
        "ratio",
        "validate",
        "ratio",
        "graph",
        "ratio"
    );
    let base = best[0];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let ratio = |d: Duration, base: Duration| d.as_secs_f64() / base.as_secs_f64();
    for ((scale, text), t) in scales.iter().zip(&texts).zip(best) {
        println!(
            "{:>6} {:>9} {:>6.1} {:>7} {:>6.0}ms {:>5.2}x {:>6.0}ms {:>5.2}x {:>7.0}ms {:>5.2}x {:>6.0}ms {:>5.2}x",
            base_pairs * scale,
            base_pairs * scale * per_pair,
            text.len() as f64 / (1024.0 * 1024.0),
            t.steps,
            ms(t.total),
            ratio(t.total, base.total),
            ms(t.cpu),
            ratio(t.cpu, base.cpu),
            ms(t.validate),
            ratio(t.validate, base.validate),
            ms(t.graph),
            ratio(t.graph, base.graph),
        );
    }
}
