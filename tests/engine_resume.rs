//! What the engine does when a wave's jobs are already under way: a failed poll keeps the
//! wave's job IDs so the next run follows the same job; a job started elsewhere (another
//! machine, a lost state folder) stops the wave instead of starting a second one; a gate's hold
//! shows in `plan` and is not a pending change.

use std::time::Duration;

use crate::support::rehearsal;
use crate::support::{stderr, stdout};
use nylas_migrate::api::Operation;
use nylas_migrate::simulator::{JobSpeed, JobTiming};

const ONE_WAVE: &str = r#"version: 1
name: resume
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2 } }
    v3: { app_id: 0a0a0a0a-0000-4000-8000-0000000000aa, api_key: { env: SOLO_V3 } }
    clone:
      batches:
        - { name: everyone, mode: all }
"#;

/// Waits (bounded) until the simulator has answered a batch clone.
async fn wave_started(r: &rehearsal::Rehearsal) {
    for _ in 0..400 {
        if r.sim.stats().count(Operation::SnapshotBatchClone, 200) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the wave never started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_whose_polling_fails_is_followed_again_not_restarted() {
    // Slow jobs (60 accounts at 5 a simulated second): the wave is still running when the API
    // starts failing.
    let r = rehearsal::start(ONE_WAVE, 60, |_, config| {
        config.job_speed = JobSpeed::RealTime { factor: 1.0 };
        config.job_timing = JobTiming {
            snapshot_pending: Duration::from_millis(200),
            snapshot_running: Duration::from_millis(200),
            accounts_per_second: 5,
        };
    })
    .await;
    let plan = r.plan_arg();
    let first = r
        .test()
        .args(["apply", &plan, "--yes"])
        .status(1)
        .run_async();
    wave_started(&r).await;
    // Every request fails from now on: the poll gives up after its retries.
    r.sim.set_faults(1.0, 0.0);
    let first = first.await;
    assert!(
        stdout(&first).contains("failed solo/batch/everyone"),
        "{}",
        stdout(&first)
    );

    r.sim.set_faults(0.0, 0.0);
    let second = r.apply().await;
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}{}",
        stdout(&second),
        stderr(&second)
    );
    assert!(
        stderr(&second).contains("wave `everyone` finished"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        r.sim.stats().count(Operation::SnapshotBatchClone, 200),
        1,
        "the second run followed the first run's job instead of starting another"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_started_from_another_state_folder_is_a_conflict() {
    // Jobs never move (manual clock): the first run's wave stays pending.
    let r = rehearsal::start(ONE_WAVE, 20, |_, config| {
        config.job_speed = JobSpeed::Manual
    })
    .await;
    let plan = r.plan_arg();
    let first_state = r.dir.path().join("machine-a");
    let mut cmd = r.command(&[
        "apply",
        &plan,
        "--yes",
        "--state",
        first_state.to_str().unwrap(),
    ]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wave_started(&r).await;
    child.kill().unwrap();
    let _ = child.wait();

    // Another machine, with its own (empty) state folder, applies the same plan.
    let other = r.dir.path().join("machine-b");
    let out = r
        .run(&["apply", &plan, "--yes", "--state", other.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("failed solo/batch/everyone: conflict:"),
        "{text}"
    );
    assert!(
        text.contains("was not started from this state folder"),
        "{text}"
    );
    assert_eq!(
        r.sim.stats().op_total(Operation::SnapshotBatchClone),
        1,
        "no second wave"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_hold_shows_in_plan_and_is_not_a_pending_change() {
    let r = rehearsal::start(rehearsal::GATED, 120, |_, _| {}).await;
    assert_eq!(
        r.apply().await.status.code(),
        Some(1),
        "the gate stops the run"
    );
    let path = r.plan_arg();
    let preview = r.run(&["plan", &path, "--detailed-exitcode"]).await;
    let text = stdout(&preview);
    assert!(text.contains("- held      batch/second"), "{text}");
    assert!(text.contains("- held      batch/third"), "{text}");
    assert!(text.contains("2 held by a gate"), "{text}");
    assert_eq!(
        preview.status.code(),
        Some(0),
        "nothing apply would do: {text}"
    );
}
