//! Crash safety: the binary is SIGKILLed at many points spread over every step kind and started
//! again; each time the end state must equal an uninterrupted run's, no wave may be started
//! twice, no account cloned more often than in the uninterrupted run, and a third run must write
//! nothing. A few runs are killed twice (the resuming run killed too) before they finish.
//! The same on both state backends: a state folder, and PostgreSQL (a fresh database per run).

use std::sync::Arc;
use std::time::Duration;

use crate::support::postgres as pg;
use crate::support::rehearsal::{
    self, EVERY_STEP_KIND as PLAN, EndState, Rehearsal, WAVES, end_state,
};
use crate::support::{stderr, stdout};
use nylas_migrate::api::Operation;
use nylas_migrate::simulator::{JobSpeed, Stats};

/// Where the runs keep their state.
#[derive(Clone, Copy)]
enum Backend {
    Folder,
    Postgres(&'static pg::Server),
}

/// Where to crash: `<step kind or step ID>@<phase>[#n]`. Every kind, every phase it has; for
/// batches, the request about to be sent (`after-intent`), answered but not journaled
/// (`after-write`), jobs running (`polling`) and the outcome journaled (`after-outcome`).
const CRASH_POINTS: &[&str] = &[
    "link@before-intent",
    "link@after-intent",
    "link@after-write",
    "link@after-outcome",
    "beta/link@after-write",
    "import@after-intent",
    "import@after-write",
    "import@after-outcome",
    "connector@after-intent",
    "connector@after-write",
    "connector@after-outcome",
    "beta/connector/microsoft@after-write",
    "webhook@after-intent",
    "webhook@after-write",
    "webhook@after-outcome",
    "beta/webhook/https://hooks.example.com/beta@after-write",
    "webhook-test@after-intent",
    "webhook-test@after-write",
    "webhook-test@after-outcome",
    "redirect-uri@after-intent",
    "redirect-uri@after-write",
    "pubsub@after-intent",
    "pubsub@after-write",
    "pubsub@after-outcome",
    "beta/pubsub/projects/crash-test/topics/beta-events@after-write",
    "sns@after-write",
    "clone@after-intent",
    "clone@after-write",
    "clone@after-outcome",
    "clone@after-write#3",
    "beta/clone/beta00account000000000002@after-write",
    "batch@before-intent",
    "batch@after-intent",
    "batch@after-write",
    "batch@polling",
    "batch@after-outcome",
    "alpha/batch/rest@after-intent",
    "alpha/batch/rest@after-write",
    "alpha/batch/rest@polling#2",
    "beta/batch/everyone@after-write",
    "beta/batch/everyone@polling",
    "beta/batch/everyone@after-outcome",
];

/// Runs killed twice: the first crash point, then another in the run that resumes (a crash while
/// attaching to a wave's jobs, or while finishing what the first run left).
const DOUBLE_CRASHES: &[[&str; 2]] = &[
    ["batch@after-write", "batch@after-write"],
    [
        "beta/batch/everyone@after-intent",
        "beta/batch/everyone@after-write",
    ],
    ["link@after-write", "connector@after-write"],
    ["clone@after-write", "alpha/batch/rest@after-write"],
];

/// Crash points run at once (each with its own simulator and state).
const PARALLEL: usize = 4;

async fn start(backend: Backend) -> Rehearsal {
    let mut r = rehearsal::start(PLAN, 60, |_, config| {
        // Waves take a fraction of a second; crashes "while polling" hold the simulated clock
        // (see `crash_and_resume`), so they do not depend on this speed.
        config.job_speed = JobSpeed::RealTime { factor: 20.0 };
    })
    .await;
    if let Backend::Postgres(server) = backend {
        let db = tokio::task::spawn_blocking(move || server.database())
            .await
            .unwrap();
        r.state_in_postgres(&db.url(), db.env());
    }
    r
}

/// For a crash point while a wave's job runs: which batch clone of the plan starts that wave.
fn wave_number(point: &str) -> Option<u32> {
    let (step, phase) = point.split_once('@')?;
    if !phase.starts_with("polling") {
        return None;
    }
    match step {
        "batch" | "alpha/batch/google" => Some(1),
        "alpha/batch/rest" => Some(2),
        "beta/batch/everyone" => Some(3),
        other => panic!("no wave order known for crash point {other}"),
    }
}

struct Reference {
    end: EndState,
    stats: Stats,
}

async fn apply_ok(r: &Rehearsal, what: &str) -> Result<(), String> {
    let out = r.apply().await;
    if out.status.code() == Some(0) {
        Ok(())
    } else {
        Err(format!(
            "{what} exited {:?}:\n{}{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        ))
    }
}

/// Crash at each of `points` in turn (each in a new run), run again to completion, compare, run
/// once more.
async fn crash_and_resume(
    points: &[&str],
    reference: &Reference,
    backend: Backend,
) -> Result<(), String> {
    let point = points.join(" then ");
    let r = start(backend).await;
    for p in points {
        // A crash "while the wave's job runs" must find the job running at that poll, however
        // slow the machine: simulated time stands still from the wave's request until the run
        // is killed. Waves are requested in a fixed order (alpha's two, then beta's).
        if let Some(n) = wave_number(p) {
            r.sim.hold_clock_after_batch_clones(n);
        }
        let reached = r.apply_until_failpoint(p, Duration::from_secs(30)).await;
        r.sim.release_clock();
        reached?;
    }
    apply_ok(&r, &format!("{point}: the run after the crash")).await?;

    let stats = r.sim.stats();
    let end = end_state(&r.sim.world());
    let mut problems = Vec::new();
    if end != reference.end {
        problems.push(format!(
            "end state differs from an uninterrupted run's:\n  got  {end:?}\n  want {:?}",
            reference.end
        ));
    }
    let waves = stats.op_total(Operation::SnapshotBatchClone);
    if waves != WAVES {
        problems.push(format!(
            "{waves} batch clone requests for {WAVES} waves (a wave started twice?)"
        ));
    }
    // `clones_of` counts every clone attempt of an account: single clones (also one answered
    // with an existing grant) and batch jobs processing it. The uninterrupted run clones each
    // account at most once; a resumed run may not do more.
    for (account, &n) in &stats.clones {
        let want = reference.stats.clones_of(account);
        if n > want {
            problems.push(format!(
                "account {account} cloned {n} times, {want} in an uninterrupted run"
            ));
        }
    }
    let writes = stats.writes();
    apply_ok(&r, &format!("{point}: the third run")).await?;
    let again = r.sim.stats().writes() - writes;
    if again != 0 {
        problems.push(format!("the third run made {again} writes"));
    }
    r.sim.shutdown().await;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{point}:\n  {}", problems.join("\n  ")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_any_point_resumes_to_the_same_end_state() {
    kill_and_resume_everywhere(Backend::Folder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_any_point_resumes_to_the_same_end_state_on_postgres() {
    let Some(server) = tokio::task::spawn_blocking(pg::server).await.unwrap() else {
        return;
    };
    kill_and_resume_everywhere(Backend::Postgres(server)).await;
}

async fn kill_and_resume_everywhere(backend: Backend) {
    let distinct: std::collections::BTreeSet<_> = CRASH_POINTS.iter().collect();
    assert_eq!(distinct.len(), CRASH_POINTS.len(), "crash points repeat");
    assert!(CRASH_POINTS.len() >= 20);

    let r = start(backend).await;
    apply_ok(&r, "the uninterrupted run").await.unwrap();
    let reference = Arc::new(Reference {
        end: end_state(&r.sim.world()),
        stats: r.sim.stats(),
    });
    r.sim.shutdown().await;
    // The reference itself is what the requirement means: one job per wave, every account
    // cloned at most once, every v2 account with a grant or a recorded failure.
    assert_eq!(
        reference.stats.count(Operation::SnapshotBatchClone, 200),
        WAVES
    );
    assert_eq!(reference.stats.max_clones(), 1);
    let grants: usize = reference.end.apps.values().map(|a| a.grants.len()).sum();
    assert!(grants > 40, "the reference migrated {grants} accounts");
    // And one of each notification destination and redirect URI of the plan: a duplicate
    // after a crash shows as a second entry.
    let alpha = &reference.end.apps["0a0a0a0a-0000-4000-8000-000000000001"];
    let beta = &reference.end.apps["0b0b0b0b-0000-4000-8000-000000000002"];
    assert_eq!((alpha.webhooks.len(), beta.webhooks.len()), (1, 1));
    assert_eq!((alpha.pubsub.len(), beta.pubsub.len()), (1, 1));
    assert_eq!((alpha.sns.len(), beta.sns.len()), (1, 0));
    for uri in [
        "https://app.example.com/alpha/callback",
        "com.example.alpha://callback",
    ] {
        assert_eq!(
            alpha.redirect_uris.iter().filter(|(u, _)| u == uri).count(),
            1,
            "{uri} in {:?}",
            alpha.redirect_uris
        );
    }

    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    let runs: Vec<&[&str]> = CRASH_POINTS
        .iter()
        .map(std::slice::from_ref)
        .chain(DOUBLE_CRASHES.iter().map(|d| d.as_slice()))
        .collect();
    let count = runs.len();
    for points in runs {
        let gate = gate.clone();
        let reference = reference.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            crash_and_resume(points, &reference, backend).await
        });
    }
    let mut failures = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Err(problem) = result.unwrap() {
            failures.push(problem);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} crash scenarios failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
