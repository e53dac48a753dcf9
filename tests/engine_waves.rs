//! A wave runs once per definition, and a definite refusal is an outcome: a failed wave is not
//! started again on its own, a refused test account is not cloned again, a `plan
//! --detailed-exitcode` / `apply` loop ends, the gate reads a failed job as the worst case,
//! and the report accounts for every account the waves selected.

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::{stderr, stdout};
use nylas_migrate::api::Operation;
use nylas_migrate::simulator::{AccountProvider, FailingJob};
use serde_json::{Value, json};

const APP: &str = "0f0f0f0f-0000-4000-8000-0000000000f1";

/// Three test accounts, three waves behind a 5% gate, and no placeholder grants at all.
const REFUSED: &str = r#"version: 1
name: refused
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2 } }
    v3: { app_id: 0f0f0f0f-0000-4000-8000-0000000000f1, api_key: { env: SOLO_V3 } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET }, tenant: common }
    clone:
      single: [solo00account000000000001, solo00account000000000002, solo00account000000000003]
      placeholders: { allow_invalid_grant_creation: false }
      batches:
        - { name: first, mode: only_new, limit: 40 }
        - { name: second, mode: only_failed }
        - { name: third, mode: only_new }
      gate: { max_failed_ratio: 0.05 }
"#;

const SINGLES: [&str; 3] = [
    "solo00account000000000001",
    "solo00account000000000002",
    "solo00account000000000003",
];

/// Every test account cannot be migrated (so Nylas refuses it, placeholders being
/// disallowed), and the application's first batch clone fails entirely.
async fn refused_world() -> Rehearsal {
    rehearsal::start(REFUSED, 90, |world, config| {
        let v2 = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "solo02v2app00000000000001")
            .unwrap();
        for account in v2.accounts.iter_mut().take(SINGLES.len()) {
            account.provider = AccountProvider::Microsoft;
            account.migratable = false;
        }
        config.failing_jobs = vec![FailingJob {
            application_id: APP.into(),
            nth: 1,
        }];
    })
    .await
}

/// Runs `plan --detailed-exitcode`, and `apply` while it answers 2, at most `rounds` times.
/// Returns the exit codes in order (`plan`, `apply`, `plan`, …) and the last outputs.
async fn plan_apply_loop(r: &Rehearsal, rounds: usize) -> (Vec<Option<i32>>, String) {
    let plan = r.plan_arg();
    let mut codes = Vec::new();
    let mut log = String::new();
    for _ in 0..rounds {
        let preview = r.run(&["plan", &plan, "--detailed-exitcode"]).await;
        codes.push(preview.status.code());
        log.push_str(&format!(
            "--- plan\n{}{}",
            stdout(&preview),
            stderr(&preview)
        ));
        if preview.status.code() != Some(2) {
            break;
        }
        let applied = r.apply().await;
        codes.push(applied.status.code());
        log.push_str(&format!(
            "--- apply\n{}{}",
            stdout(&applied),
            stderr(&applied)
        ));
    }
    (codes, log)
}

fn report_json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_accounts_and_a_failed_wave_end_the_loop_after_one_apply() {
    let r = refused_world().await;
    let (codes, log) = plan_apply_loop(&r, 5).await;
    assert_eq!(
        codes,
        [Some(2), Some(1), Some(0)],
        "plan, apply (incomplete), plan (nothing to do):\n{log}"
    );
    let stats = r.sim.stats();
    assert_eq!(
        stats.op_total(Operation::SnapshotBatchClone),
        1,
        "one job, for the first wave only: the gate holds the others\n{log}"
    );
    assert_eq!(stats.op_total(Operation::CloneSingleAccount), 3, "{log}");

    // The preview says what stands: refused accounts and the failed wave as failed, the later
    // waves held by the gate.
    let plan = r.plan_arg();
    let preview = r.run(&["plan", &plan]).await;
    let text = stdout(&preview);
    assert_eq!(preview.status.code(), Some(0), "{text}");
    for account in SINGLES {
        assert!(
            text.contains(&format!("x failed    clone/{account}")),
            "{text}"
        );
    }
    assert!(
        text.contains("Nylas refused this account in run 1: HTTP 400"),
        "{text}"
    );
    assert!(text.contains("x failed    batch/first"), "{text}");
    assert!(text.contains("wave failed in run 1 (failed)"), "{text}");
    assert!(text.contains("apply --rerun-wave solo/first"), "{text}");
    assert!(text.contains("- held      batch/second"), "{text}");
    assert!(text.contains("a failed job is the worst case"), "{text}");
    assert!(text.contains("- held      batch/third"), "{text}");

    // Apply again: still incomplete (exit 1), and it sends nothing.
    let writes = r.sim.stats().writes();
    let again = r.apply().await;
    assert_eq!(again.status.code(), Some(1), "{}", stdout(&again));
    assert_eq!(r.sim.stats().writes(), writes, "{}", stdout(&again));
    assert!(
        stdout(&again).contains("ended in a failure that is recorded and not repeated"),
        "{}",
        stdout(&again)
    );
    // Status exits 1 too, with the reasons.
    let status = r.run(&["status", &plan]).await;
    assert_eq!(status.status.code(), Some(1), "{}", stdout(&status));
    let status_text = stdout(&status);
    assert!(
        status_text.contains("refused by Nylas: HTTP 400"),
        "{status_text}"
    );
    assert!(
        status_text.contains("job") && status_text.contains("failed"),
        "{status_text}"
    );

    // The report: the refused test accounts are rows with their reason, the failed job's
    // accounts are counted, and rows of accounts the waves cloned plus counted failures are
    // the accounts the waves selected.
    let report = report_json(&r.run(&["report", &plan, "--format", "json"]).await);
    let rows = report["accounts"].as_array().unwrap();
    let failed_rows: Vec<&Value> = rows.iter().filter(|a| a["outcome"] == "failed").collect();
    assert_eq!(failed_rows.len(), 3, "{report:#}");
    for row in &failed_rows {
        assert!(row["error"].as_str().unwrap().contains("HTTP 400"), "{row}");
    }
    let waves = report["waves"].as_array().unwrap();
    assert_eq!(waves.len(), 1, "{report:#}");
    assert_eq!(waves[0]["status"], "failed");
    let selected = waves[0]["count_all"].as_u64().unwrap();
    assert_eq!(selected, 40, "{report:#}");
    assert_eq!(waves[0]["count_failed"].as_u64().unwrap(), selected);
    let wave_rows = rows.len() as u64 - SINGLES.len() as u64;
    assert_eq!(
        wave_rows + waves[0]["count_failed"].as_u64().unwrap(),
        selected
    );
    assert_eq!(report["totals"]["selected_by_jobs"], selected);
    assert_eq!(report["totals"]["failed_in_jobs"], selected);
    assert_eq!(report["totals"]["test_account_rows"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_retried_when_the_plan_changes_or_on_request() {
    let r = refused_world().await;
    let plan = r.plan_arg();
    assert_eq!(r.apply().await.status.code(), Some(1));
    assert_eq!(r.sim.stats().op_total(Operation::CloneSingleAccount), 3);

    // Asked explicitly for one account: the preview says so, apply sends that one only.
    let preview = r
        .run(&[
            "plan",
            &plan,
            "--rerun-clone",
            "solo/solo00account000000000002",
        ])
        .await;
    let text = stdout(&preview);
    assert!(
        text.contains("+ create    clone/solo00account000000000002"),
        "{text}"
    );
    assert!(
        text.contains("x failed    clone/solo00account000000000001"),
        "{text}"
    );
    let out = r
        .run(&[
            "apply",
            &plan,
            "--yes",
            "--rerun-clone",
            "solo/solo00account000000000002",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(r.sim.stats().op_total(Operation::CloneSingleAccount), 4);

    // A name the plan does not have is refused before anything runs.
    let typo = r
        .run(&["apply", &plan, "--yes", "--rerun-clone", "solo/nobody"])
        .await;
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        stderr(&typo).contains("--rerun-clone solo/nobody: the plan has no such test account"),
        "{}",
        stderr(&typo)
    );

    // The plan now allows placeholder grants: what was refused is asked again, and the
    // accounts get placeholders.
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    std::fs::write(
        &r.plan_path,
        text.replace(
            "placeholders: { allow_invalid_grant_creation: false }",
            "placeholders: { allow_invalid_grant_creation: true }",
        ),
    )
    .unwrap();
    let preview = r.run(&["plan", &plan]).await;
    let text = stdout(&preview);
    for account in SINGLES {
        assert!(
            text.contains(&format!("+ create    clone/{account}")),
            "{text}"
        );
    }
    r.apply().await;
    assert_eq!(r.sim.stats().op_total(Operation::CloneSingleAccount), 7);
    let world = r.sim.world();
    for account in SINGLES {
        assert!(world.grant_for(account).is_some(), "{account} has no grant");
    }

    // Placeholders are as far as the plan goes: `plan` asks nothing more of these accounts,
    // and `verify` agrees, listing each as a step for a person (its user signs in again)
    // rather than as a failure that no apply could mend.
    let preview = stdout(&r.run(&["--output", "json", "plan", &plan]).await);
    for account in SINGLES {
        let step = format!("solo/clone/{account}");
        let line = preview
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["step"] == step.as_str())
            .unwrap_or_else(|| panic!("no {step} in {preview}"));
        assert_eq!(line["action"], "unchanged", "{line}");
    }
    let verify = r.run(&["--output", "json", "verify", &plan]).await;
    let verify: Value = serde_json::from_str(stdout(&verify).trim()).unwrap();
    let items: Vec<&Value> = verify["verify"]["pairs"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["check"] == "test-account")
        .collect();
    assert_eq!(items.len(), SINGLES.len(), "{verify:#}");
    for item in items {
        assert_eq!(
            (&item["passed"], &item["manual"]),
            (&json!(false), &json!(true)),
            "{item}"
        );
        let evidence = item["evidence"].as_str().unwrap();
        assert!(
            evidence.contains("placeholder grant") && evidence.contains("sign in again"),
            "{item}"
        );
    }
}

/// One wave over everyone, whose job fails.
const ONE_FAILING_WAVE: &str = r#"version: 1
name: failing
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2 } }
    v3: { app_id: 0f0f0f0f-0000-4000-8000-0000000000f1, api_key: { env: SOLO_V3 } }
    clone:
      batches:
        - { name: everyone, mode: all }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_wave_runs_once_and_again_only_on_request() {
    let r = rehearsal::start(ONE_FAILING_WAVE, 30, |_, config| {
        config.failing_jobs = vec![FailingJob {
            application_id: APP.into(),
            nth: 1,
        }];
    })
    .await;
    let (codes, log) = plan_apply_loop(&r, 5).await;
    assert_eq!(codes, [Some(2), Some(1), Some(0)], "{log}");
    assert_eq!(
        r.sim.stats().op_total(Operation::SnapshotBatchClone),
        1,
        "{log}"
    );

    // The rerun, previewed, then applied: one more job; the wave is then done.
    let plan = r.plan_arg();
    let preview = r
        .run(&[
            "plan",
            &plan,
            "--detailed-exitcode",
            "--rerun-wave",
            "solo/everyone",
        ])
        .await;
    assert_eq!(preview.status.code(), Some(2));
    assert!(
        stdout(&preview).contains("--rerun-wave: the wave finished in run 1 (failed)"),
        "{}",
        stdout(&preview)
    );
    let out = r
        .run(&["apply", &plan, "--yes", "--rerun-wave", "solo/everyone"])
        .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(r.sim.stats().op_total(Operation::SnapshotBatchClone), 2);
    assert_eq!(r.plan_exit().await, Some(0));
    assert_eq!(r.run(&["status", &plan]).await.status.code(), Some(0));

    // Both jobs count in the report: the first one's 20 accounts failed, the second one
    // migrated or made placeholders of them.
    let report = report_json(&r.run(&["report", &plan, "--format", "json"]).await);
    let wave = &report["waves"][0];
    let jobs = wave["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{report:#}");
    assert_eq!(jobs[0]["status"], "failed");
    assert_eq!(jobs[0]["count_failed"], 20, "{report:#}");
    assert_eq!(wave["count_all"], 40, "{report:#}");
    assert_eq!(
        wave["count_failed"].as_u64().unwrap(),
        20 + jobs[1]["count_failed"].as_u64().unwrap(),
        "{report:#}"
    );
}

/// Two limited waves of new accounts: applied again from a lost state folder, they would
/// migrate accounts the plan never asked for.
const LIMITED: &str = r#"version: 1
name: limited
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2 } }
    v3: { app_id: 0f0f0f0f-0000-4000-8000-0000000000f1, api_key: { env: SOLO_V3 } }
    webhooks:
      - url: https://hooks.example.com/solo
        triggers: [grant.created]
    clone:
      single: [solo00account000000000001]
      batches:
        - { name: first, mode: only_new, limit: 20 }
        - { name: second, mode: only_new, limit: 20 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_folder_starts_no_wave_and_names_the_live_jobs() {
    let r = rehearsal::start(LIMITED, 90, |world, _| {
        for account in world.v2_apps.iter_mut().flat_map(|a| &mut a.accounts) {
            account.provider = AccountProvider::Google;
            account.migratable = true;
        }
    })
    .await;
    let first = r.apply().await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let grants = r.sim.world().app(APP).unwrap().grants.len();
    assert_eq!(grants, 41, "the test account and two waves of 20");
    let jobs: Vec<String> = r
        .sim
        .world()
        .app(APP)
        .unwrap()
        .jobs
        .iter()
        .filter(|j| j.job_type == nylas_migrate::api::JobType::Migration)
        .map(|j| j.job_id.clone())
        .collect();
    assert_eq!(jobs.len(), 2);
    // The world lists them newest first: `jobs[0]` is the first wave's, `jobs[1]` the second's.
    let jobs: Vec<String> = jobs.into_iter().rev().collect();

    // The CI cache was evicted.
    std::fs::remove_dir_all(r.dir.path().join(".nylas-migrate")).unwrap();
    let plan = r.plan_arg();
    let preview = r.run(&["plan", &plan, "--detailed-exitcode"]).await;
    let text = stdout(&preview);
    assert_eq!(preview.status.code(), Some(1), "a conflict: {text}");
    assert!(
        text.contains("! note: the state folder")
            && text.contains("has no record of pair `solo`, but its v3 application")
            && text.contains("is already linked to v2 app solo02v2app00000000000001 and has 2 batch clones (4 jobs)"),
        "{text}"
    );
    assert!(text.contains("! conflict  batch/first"), "{text}");
    // The note says the same way on: the exact command, and what it records.
    assert!(
        text.contains(&format!(
            "to move on, run `nylas-migrate apply {plan} --adopt-existing-jobs`: it records batch clone job {} ",
            jobs[0]
        )),
        "{text}"
    );

    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(printed.contains("note: the state folder"), "{printed}");
    assert!(
        printed.contains(
            "failed solo/batch/first: conflict: this state folder does not know the application's 2 batch clones (4 jobs)"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("this state folder does not know"),
        "{printed}"
    );
    // The conflict ends with the exact command that moves on, and what it does: the two batch
    // clones, in creation order, are the two waves' (each within its wave's limit of 20).
    let conflict = printed
        .lines()
        .find(|l| l.contains("failed solo/batch/first: conflict:"))
        .unwrap_or_else(|| panic!("{printed}"));
    let command = format!(
        "run `nylas-migrate apply {plan} --adopt-existing-jobs`: it records batch clone job {} ",
        jobs[0]
    );
    assert!(conflict.contains(&command), "{conflict}");
    assert!(
        conflict.contains("as wave `first`'s (the wave is done, nothing started; it starts again only with `--rerun-wave solo/first`)"),
        "{conflict}"
    );
    assert!(
        conflict.contains(&format!("batch clone job {} ", jobs[1]))
            && conflict.contains("as wave `second`'s"),
        "{conflict}"
    );
    assert!(
        conflict.ends_with("then applies the rest of the plan"),
        "{conflict}"
    );
    for job in &jobs {
        assert!(
            printed.contains(job.as_str()),
            "job {job} not named: {printed}"
        );
    }
    let stats = r.sim.stats();
    assert_eq!(
        stats.op_total(Operation::SnapshotBatchClone),
        2,
        "no wave started"
    );
    assert_eq!(r.sim.world().app(APP).unwrap().grants.len(), grants);
    assert_eq!(
        r.sim.world().app(APP).unwrap().webhooks.len(),
        1,
        "the destination was found, not made again"
    );

    // plan --adopt-existing-jobs shows the mapping it would record: nothing starts.
    let preview = r
        .run(&[
            "plan",
            &plan,
            "--adopt-existing-jobs",
            "--detailed-exitcode",
        ])
        .await;
    let text = stdout(&preview);
    assert_eq!(preview.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "--adopt-existing-jobs: records batch clone job {} completed",
            jobs[0]
        )) && text.contains("as this wave's: the wave is done, nothing starts"),
        "{text}"
    );
    assert!(!text.contains("+ create    batch/"), "{text}");

    // Adopting records the two batch clones as the two waves' jobs: no wave starts again.
    let out = r
        .run(&["apply", &plan, "--yes", "--adopt-existing-jobs"])
        .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(&format!(
            "solo: adopted (--adopt-existing-jobs) batch clone job {} ",
            jobs[0]
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        r.sim.stats().op_total(Operation::SnapshotBatchClone),
        2,
        "no wave started again"
    );
    assert_eq!(r.sim.world().app(APP).unwrap().grants.len(), grants);
    assert_eq!(r.plan_exit().await, Some(0));
    let report = report_json(&r.run(&["report", &plan, "--format", "json"]).await);
    let waves: Vec<(&str, u64)> = report["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["wave"].as_str().unwrap(),
                w["count_all"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(waves, [("first", 20), ("second", 20)], "{report:#}");
    // The 41 accounts: the test account and 20 + 20, all before the state was lost.
    let totals = &report["totals"];
    assert_eq!(totals["selected_by_jobs"], 40, "{report:#}");
    assert_eq!(
        totals["rows"].as_u64().unwrap() - totals["test_account_rows"].as_u64().unwrap()
            + totals["failed_in_jobs"].as_u64().unwrap(),
        totals["selected_by_jobs"].as_u64().unwrap(),
        "{report:#}"
    );

    // A wave starts again only when named: the remaining accounts.
    let again = r
        .run(&["apply", &plan, "--yes", "--rerun-wave", "solo/second"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert_eq!(r.sim.stats().op_total(Operation::SnapshotBatchClone), 3);
    assert_eq!(r.sim.world().app(APP).unwrap().grants.len(), grants + 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_nylas_refuses_is_a_conflict_with_help_and_not_resent() {
    // The v2 application is already linked to another v3 application: Nylas answers 400.
    let r = rehearsal::start(LIMITED, 30, |world, _| {
        world.v3_apps.push(nylas_migrate::simulator::V3App {
            id: "0e0e0e0e-0000-4000-8000-0000000000e1".into(),
            api_key: "other-v3-api-key".into(),
            region: nylas_migrate::api::Region::Us,
            organization_id: None,
            linked_v2_app: Some("solo02v2app00000000000001".into()),
            pubsub_channels: Vec::new(),
            sns_channels: Vec::new(),
            redirect_uris: Vec::new(),
        });
    })
    .await;
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("failed solo/link: conflict: Nylas refused to link v2 app solo02v2app00000000000001 to v3 app 0f0f0f0f-0000-4000-8000-0000000000f1: HTTP 400"),
        "{text}"
    );
    assert!(text.contains("already linked to v3 application"), "{text}");
    assert!(
        text.contains("help: a v2 application links only to a v3 application in its own region"),
        "{text}"
    );
    assert!(text.contains("`apply --rerun-link solo`"), "{text}");
    assert_eq!(
        r.sim.stats().op_total(Operation::LinkV2V3Apps),
        1,
        "sent once"
    );

    // The preview knows it: a conflict (exit 1), and the next apply sends nothing.
    let plan = r.plan_arg();
    let preview = r.run(&["plan", &plan, "--detailed-exitcode"]).await;
    assert_eq!(preview.status.code(), Some(1), "{}", stdout(&preview));
    assert!(
        stdout(&preview).contains("! conflict  link")
            && stdout(&preview).contains("Nylas refused in run 1 to link"),
        "{}",
        stdout(&preview)
    );
    assert_eq!(r.apply().await.status.code(), Some(1));
    assert_eq!(r.sim.stats().writes(), 1, "nothing else was written");
    let rerun = r
        .run(&["apply", &plan, "--yes", "--rerun-link", "solo"])
        .await;
    assert_eq!(rerun.status.code(), Some(1));
    assert_eq!(
        r.sim.stats().op_total(Operation::LinkV2V3Apps),
        2,
        "sent again on request"
    );
}
