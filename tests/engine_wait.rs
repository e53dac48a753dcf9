//! The bound on following a wave (issue 22, item 8): `apply --wait DURATION` follows a wave's
//! jobs that long; past it the jobs keep running at Nylas, the run says so and exits 3, and the
//! next apply follows them without starting a second batch clone. Jobs here never move until
//! the test moves the simulator's clock, so nothing depends on timing.

use std::time::Duration;

use nylas_migrate::api::Operation;
use nylas_migrate::simulator::JobSpeed;

use crate::support::events::checked_events;
use crate::support::rehearsal;
use crate::support::{stderr, stdout};

const PLAN: &str = r#"version: 1
name: wait
pairs:
  - name: solo
    region: us
    v2: { app_id: wait02v2app00000000000001, client_secret: { env: W_V2 } }
    v3: { app_id: 6f6f6f6f-0000-4000-8000-000000000006, api_key: { env: W_V3 } }
    clone:
      batches:
        - { name: everyone, mode: all }
        - { name: later, mode: only_new }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_past_the_wait_keeps_running_exits_3_and_the_next_apply_follows_it() {
    let r = rehearsal::start(PLAN, 12, |_, config| config.job_speed = JobSpeed::Manual).await;
    let plan = r.plan_arg();

    // Not a duration: a usage error, before anything is read.
    let out = r.run(&["apply", &plan, "--yes", "--wait", "soon"]).await;
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("like 90s, 30m, 2h"),
        "{}",
        stderr(&out)
    );

    // Look once: the wave's jobs are pending, so the run leaves them running.
    let out = r.run(&["apply", &plan, "--yes", "--wait", "0s"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("running solo/batch/everyone: still running at Nylas after following it for 0 s (--wait)"),
        "{text}"
    );
    assert!(text.contains("1 wave is still running at Nylas"), "{text}");
    assert!(text.contains("Run apply again to follow it"), "{text}");
    assert!(!text.contains("the live state matches the plan"), "{text}");
    // The next wave waits for this one: it is skipped, not started beside it.
    assert!(!text.contains("changed   solo/batch/later"), "{text}");

    // The same in JSON: every event fits the schema, the summary counts the running wave.
    let out = r
        .run(&["--output", "json", "apply", &plan, "--yes", "--wait", "0s"])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let events = checked_events(&stdout(&out));
    let finished = events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "solo/batch/everyone")
        .expect("the wave's event");
    assert_eq!(finished["outcome"], "running");
    let summary = events
        .iter()
        .find(|e| e["event"] == "summary")
        .expect("summary");
    assert_eq!(summary["running"], 1);
    assert_eq!(summary["done"], false);
    assert_eq!(r.sim.stats().op_total(Operation::SnapshotBatchClone), 1);

    // The jobs finish at Nylas; the next apply follows them and starts the next wave only.
    r.sim.advance(Duration::from_secs(7 * 86_400));
    let out = r.run(&["apply", &plan, "--yes", "--wait", "0s"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", stderr(&out));
    let progress = format!("{}{text}", stderr(&out));
    assert!(
        progress.contains("solo/batch/everyone: wave `everyone` finished"),
        "{progress}"
    );
    assert!(
        text.contains("running solo/batch/later: still running"),
        "{text}"
    );
    assert_eq!(
        r.sim.stats().op_total(Operation::SnapshotBatchClone),
        2,
        "the first wave followed, not started again; the second started"
    );
}
