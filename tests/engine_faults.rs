//! `apply` under injected 5xx, dropped connections and latency converges on the same end state
//! as a fault-free run: nothing lost, nothing duplicated, no wave started twice.

use std::time::Duration;

use crate::support::rehearsal::{self, EVERY_STEP_KIND, Rehearsal, WAVES, end_state};
use crate::support::{stderr, stdout};
use nylas_migrate::api::Operation;

/// Runs the client's retries cannot hide (an ambiguous write, a step that ran out of retries)
/// fail a step; the next run observes and converges. More runs than this means it does not.
const MAX_RUNS: usize = 5;

/// Single clones per pair: enough requests that 5% and 2% of them are several faults.
const SINGLES: usize = 40;

/// The every-step-kind plan with `SINGLES` test accounts per pair.
fn plan() -> String {
    let singles = |prefix: &str| {
        let ids: Vec<String> = (1..=SINGLES).map(|n| format!("{prefix}{n:012}")).collect();
        format!("single: [{}]", ids.join(", "))
    };
    let plan = EVERY_STEP_KIND
        .replace(
            "single: [alpha0account000000000001, alpha0account000000000002, alpha0account000000000003]",
            &singles("alpha0account"),
        )
        .replace(
            "single: [beta00account000000000001, beta00account000000000002]",
            &singles("beta00account"),
        );
    assert_ne!(
        plan, EVERY_STEP_KIND,
        "the plan's single clones were not replaced"
    );
    plan
}

async fn start(seed: u64, faults: bool) -> Rehearsal {
    rehearsal::start(&plan(), 200, |_, config| {
        // Seeds the faults and the simulator's IDs only: the world is the same for every seed.
        config.seed = seed;
        if faults {
            config.fault_rate = 0.05;
            config.drop_rate = 0.02;
            config.latency = Duration::from_millis(30);
        }
    })
    .await
}

/// Applies until a run exits 0; returns how many runs it took.
async fn apply_until_done(r: &Rehearsal) -> usize {
    let mut log = String::new();
    for run in 1..=MAX_RUNS {
        let out = r.apply().await;
        if out.status.code() == Some(0) {
            return run;
        }
        log.push_str(&format!(
            "--- run {run} exited {:?}\n{}{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        ));
    }
    panic!("apply did not converge in {MAX_RUNS} runs:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_under_faults_converges_on_the_fault_free_end_state() {
    let reference = start(11, false).await;
    assert_eq!(apply_until_done(&reference).await, 1);
    let want = end_state(&reference.sim.world());
    reference.sim.shutdown().await;

    // Three fault sequences, one after the other (each is mostly waiting on latency).
    let (mut total_injected, mut total_dropped) = (0, 0);
    for seed in [1, 2, 3] {
        let r = start(seed, true).await;
        let runs = apply_until_done(&r).await;
        let stats = r.sim.stats();
        let injected = stats.status_total(502) + stats.status_total(503) + stats.status_total(504);
        let dropped: u64 = stats.dropped.values().sum();
        total_injected += injected;
        total_dropped += dropped;
        assert_eq!(
            end_state(&r.sim.world()),
            want,
            "seed {seed}: the end state differs from a fault-free run's ({runs} runs)"
        );
        // A batch clone answered 200 started a wave; one dropped after it was applied is
        // counted here too, so this is every wave started.
        assert_eq!(
            stats.count(Operation::SnapshotBatchClone, 200),
            WAVES,
            "seed {seed}: a wave was started twice"
        );

        r.sim.set_faults(0.0, 0.0);
        let writes = r.sim.stats().writes();
        let out = r.apply().await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            r.sim.stats().writes(),
            writes,
            "seed {seed}: an apply after convergence wrote"
        );
        eprintln!("seed {seed}: converged in {runs} run(s), {injected} 5xx, {dropped} drops");
        r.sim.shutdown().await;
    }
    // The faults must really have happened, or this test shows nothing.
    assert!(
        total_injected >= 5 && total_dropped >= 2,
        "only {total_injected} 5xx and {total_dropped} drops were injected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_under_dropped_connections_clones_each_account_at_most_once() {
    // Connections dropped (half of the dropped writes after they were applied: a clone made
    // whose answer is lost), and the run killed in the middle of the single clones.
    let r = rehearsal::start(&plan(), 200, |_, config| {
        config.seed = 5;
        config.drop_rate = 0.08;
    })
    .await;
    let mut log = String::new();
    // The kill may come before the failpoint if a dropped answer failed a step first: that
    // run then simply ends, and the next ones resume.
    if let Err(e) = r
        .apply_until_failpoint("clone@after-write#20", Duration::from_secs(60))
        .await
    {
        log.push_str(&e);
    }
    let mut done = false;
    for run in 1..=MAX_RUNS {
        let out = r.apply().await;
        if out.status.code() == Some(0) {
            done = true;
            break;
        }
        log.push_str(&format!(
            "--- run {run} exited {:?}\n{}{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        ));
    }
    assert!(done, "apply did not converge in {MAX_RUNS} runs:\n{log}");
    let stats = r.sim.stats();
    let lost = stats
        .dropped
        .get(Operation::CloneSingleAccount.operation_id())
        .copied()
        .unwrap_or(0);
    assert!(lost >= 2, "only {lost} clone requests were dropped");
    for (account, &n) in &stats.clones {
        assert!(n <= 1, "account {account} cloned {n} times\n{log}");
    }
    assert_eq!(stats.count(Operation::SnapshotBatchClone, 200), WAVES);
    r.sim.shutdown().await;
}
