//! Two runners on the same applications, each with its own state folder (two CI jobs, two
//! caches): no wave gets a second job, and no webhook a second destination, without one of the
//! runs exiting 1 and saying so.

use crate::support;

use std::time::Duration;

use crate::support::rehearsal::{self, Rehearsal};
use nylas_migrate::api::Operation;
use nylas_migrate::simulator::AccountProvider;

const APP: &str = "0f0f0f0f-0000-4000-8000-0000000000f1";

const ONE_WAVE: &str = r#"version: 1
name: runners
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2 } }
    v3: { app_id: 0f0f0f0f-0000-4000-8000-0000000000f1, api_key: { env: SOLO_V3 } }
    clone:
      batches:
        - { name: everyone, mode: only_new, limit: 20 }
"#;

const ONE_WEBHOOK: &str = r#"version: 1
name: runners
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2 } }
    v3: { app_id: 0f0f0f0f-0000-4000-8000-0000000000f1, api_key: { env: SOLO_V3 } }
    webhooks:
      - url: https://hooks.example.com/solo
        triggers: [grant.created]
"#;

async fn start(plan: &str) -> Rehearsal {
    rehearsal::start(plan, 60, |world, _| {
        for account in world.v2_apps.iter_mut().flat_map(|a| &mut a.accounts) {
            account.provider = AccountProvider::Google;
            account.migratable = true;
        }
    })
    .await
}

/// Runs two applies on two state folders, both held at `failpoint` and released together;
/// returns each one's exit code and output.
async fn race(r: &Rehearsal, failpoint: &str) -> Vec<(Option<i32>, String)> {
    let plan = r.plan_arg();
    let go = r.dir.path().join("go");
    let mut runs = Vec::new();
    for state in ["runner-a", "runner-b"] {
        let state = r.dir.path().join(state).display().to_string();
        runs.push(r.spawn_held(
            &["apply", &plan, "--yes", "--state", &state],
            failpoint,
            &go,
        ));
    }
    tokio::task::spawn_blocking(move || {
        for run in &mut runs {
            run.wait_reached(Duration::from_secs(60)).unwrap();
        }
        std::fs::write(&go, b"").unwrap();
        runs.into_iter()
            .map(|run| {
                let (code, out, err) = run.finish();
                (code, format!("{out}\n{err}"))
            })
            .collect()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_starting_one_wave_at_once_both_say_so() {
    let r = start(ONE_WAVE).await;
    // Both have listed the jobs and journaled their intent: both send the batch clone.
    let results = race(&r, "batch@after-intent").await;
    assert_eq!(
        r.sim.stats().count(Operation::SnapshotBatchClone, 200),
        2,
        "the race happened: two jobs for one wave"
    );
    for (code, output) in &results {
        assert_eq!(*code, Some(1), "{output}");
        assert!(
            output.contains(
                "failed solo/batch/everyone: conflict: another run started 1 batch clone (2 jobs)"
            ),
            "{output}"
        );
        assert!(
            output.contains("at the same time as this wave's"),
            "{output}"
        );
    }
    // Each state follows its own job afterwards; the other's stays unknown to it, so it starts
    // nothing more and still says so.
    let plan = r.plan_arg();
    let state = r.dir.path().join("runner-a").display().to_string();
    let out = r.run(&["apply", &plan, "--yes", "--state", &state]).await;
    assert_eq!(out.status.code(), Some(0), "{}", support::stdout(&out));
    assert!(
        support::stderr(&out).contains("wave `everyone` finished"),
        "{}",
        support::stderr(&out)
    );
    assert_eq!(r.sim.stats().op_total(Operation::SnapshotBatchClone), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_creating_one_webhook_at_once_both_say_so() {
    let r = start(ONE_WEBHOOK).await;
    let results = race(&r, "webhook@after-intent").await;
    let hooks = r.sim.world().app(APP).unwrap().webhooks.len();
    assert_eq!(hooks, 2, "the race happened: two destinations for one URL");
    for (code, output) in &results {
        assert_eq!(*code, Some(1), "{output}");
        assert!(
            output.contains(
                "conflict: 2 webhook destinations have the URL https://hooks.example.com/solo"
            ),
            "{output}"
        );
        assert!(output.contains("(made by this run)"), "{output}");
    }
    // Until one is deleted by hand, every run says so and writes nothing.
    let writes = r.sim.stats().writes();
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stdout(&out).contains(
            "failed solo/webhook/https://hooks.example.com/solo: conflict: 2 webhook destinations"
        ),
        "{}",
        support::stdout(&out)
    );
    assert_eq!(
        r.sim.stats().writes(),
        writes + 1,
        "only the import, run again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_unsynchronised_never_make_a_silent_second_job() {
    // No failpoint: whichever way the two runs interleave, a second job for the wave is never
    // left unsaid.
    for trial in 0..3 {
        let r = rehearsal::start(ONE_WAVE, 60, |world, config| {
            for account in world.v2_apps.iter_mut().flat_map(|a| &mut a.accounts) {
                account.provider = AccountProvider::Google;
                account.migratable = true;
            }
            config.latency = Duration::from_millis(20);
        })
        .await;
        let plan = r.plan_arg();
        let a = r.dir.path().join("a").display().to_string();
        let b = r.dir.path().join("b").display().to_string();
        let args_a = ["apply", &plan, "--yes", "--state", &a];
        let args_b = ["apply", &plan, "--yes", "--state", &b];
        let (first, second) = tokio::join!(r.run(&args_a), r.run(&args_b));
        let jobs = r.sim.stats().count(Operation::SnapshotBatchClone, 200);
        let said = [&first, &second].iter().any(|out| {
            out.status.code() == Some(1)
                && (support::stdout(out).contains("another run started")
                    || support::stdout(out).contains("was not started from this state folder"))
        });
        eprintln!(
            "trial {trial}: {jobs} job(s), exits {:?} {:?}",
            first.status.code(),
            second.status.code()
        );
        assert!(
            jobs == 1 || said,
            "trial {trial}: {jobs} jobs for one wave and no run said so:\n{}\n{}",
            support::stdout(&first),
            support::stdout(&second)
        );
        assert!(
            [&first, &second].iter().any(|o| o.status.code() == Some(1)),
            "trial {trial}: the second runner must not succeed silently"
        );
        r.sim.shutdown().await;
    }
}
