//! `plan` and `apply` against the simulator: convergence, idempotency, conflicts and gates,
//! measured with the simulator's request counters.

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::{stderr, stdout};
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::simulator::{AccountProvider, V2Account, V2App, V3App, World};
use nylas_migrate::state::journal::Phase;

const TWO_PAIRS: &str = r#"version: 1
name: two-pairs
pairs:
  - name: alpha
    region: us
    v2: { app_id: alpha2v2app00000000000001, client_secret: { env: ALPHA_V2_SECRET } }
    v3: { app_id: 0a0a0a0a-0000-4000-8000-000000000001, api_key: { env: ALPHA_V3_KEY } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET }, tenant: common }
        scope: [Mail.Read, User.Read, offline_access]
    webhooks:
      - url: https://hooks.example.com/alpha
        triggers: [grant.created, grant.expired]
    clone:
      single: [alpha0account000000000001, alpha0account000000000002, alpha0account000000000003]
      batches:
        - { name: google, providers: [google], mode: only_new }
        - { name: rest, mode: only_new }
  - name: beta
    region: eu
    after: [alpha]
    v2: { app_id: beta02v2app00000000000001, client_secret: { env: BETA_V2_SECRET } }
    v3: { app_id: 0b0b0b0b-0000-4000-8000-000000000002, api_key: { env: BETA_V3_KEY } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET }, tenant: common }
    clone:
      single: [beta00account000000000001]
      batches:
        - { name: everyone, mode: only_new }
"#;

async fn two_pairs() -> Rehearsal {
    rehearsal::start(TWO_PAIRS, 90, |_, _| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_makes_no_write_and_plan_agrees() {
    let r = two_pairs().await;
    assert_eq!(
        r.plan_exit().await,
        Some(2),
        "changes pending before the first apply"
    );
    let before = r.sim.stats().writes();
    assert_eq!(before, 0, "plan never writes");

    let first = r.apply().await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );
    assert!(stdout(&first).contains("Done: the live state matches the plan."));
    let after_first = r.sim.stats();
    assert!(after_first.writes() > 0);
    assert_eq!(
        after_first.count(Operation::SnapshotBatchClone, 200),
        3,
        "one job per wave"
    );

    let second = r.apply().await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let after_second = r.sim.stats();
    assert_eq!(
        after_second.writes(),
        after_first.writes(),
        "the second apply wrote: {after_second:?}"
    );
    let out = stdout(&second);
    assert!(out.contains("changed          0"), "{out}");
    assert!(out.contains("unchanged       14"), "{out}");
    assert_eq!(r.plan_exit().await, Some(0), "nothing to do after apply");

    // No secret in what was printed, nor anywhere in the state folder (journal, WAL, lock).
    let printed = format!(
        "{}{}{}{}",
        stdout(&first),
        stderr(&first),
        stdout(&second),
        stderr(&second)
    );
    let state = r.dir.path().join(".nylas-migrate");
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&state).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(stored.len() > 4096, "the journal was written");
    for (name, value) in &r.secrets {
        assert!(!printed.contains(value.as_str()), "{name} was printed");
        let needle = value.as_bytes();
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle),
            "{name} is stored in the state folder"
        );
    }

    // The audit trail: every write's intent was journaled before its outcome, in the same run,
    // and the second run wrote no intent at all.
    let journal = nylas_migrate::state::Journal::open(&state).unwrap();
    let events = journal.events().unwrap();
    let outcomes: Vec<_> = events
        .iter()
        .filter(|e| e.phase == Phase::Outcome)
        .collect();
    assert_eq!(outcomes.len(), 14, "one outcome per step of the first run");
    for outcome in outcomes {
        let position = events
            .iter()
            .position(|e| std::ptr::eq(e, outcome))
            .unwrap();
        assert!(
            events[..position].iter().any(|e| e.phase == Phase::Intent
                && e.step_id == outcome.step_id
                && e.run_id == outcome.run_id),
            "no intent before the outcome of {}",
            outcome.step_id
        );
    }
    assert!(
        events
            .iter()
            .all(|e| e.run_id == 1 || e.phase != Phase::Intent),
        "the second run wrote nothing"
    );

    // Every v2 account of both applications now has a grant.
    let world = r.sim.world();
    let grants: usize = world.apps.values().map(|a| a.grants.len()).sum();
    assert_eq!(grants, 90);
    assert_eq!(r.sim.stats().max_clones(), 1, "no account was cloned twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_previews_without_writing_and_in_json() {
    let r = two_pairs().await;
    let plan = r.plan_arg();
    let out = r.run(&["plan", &plan]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("+ create    link"), "{text}");
    assert!(text.contains(". after     import"), "{text}");
    assert!(
        text.contains("Plan: 14 changes (1 to create, 0 to update, 0 running to follow, 13 after those); 0 unchanged, 0 conflicts"),
        "{text}"
    );
    assert!(text.contains("after link: import v2 settings"), "{text}");

    let json = r.run(&["--output", "json", "plan", &plan]).await;
    let lines: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        // The steps only people can do come first, as their own events.
        .filter(|v| v["event"] != "manual_step")
        .collect();
    assert_eq!(lines.len(), 15, "14 steps and a summary");
    assert_eq!(lines[0]["action"], "create");
    assert_eq!(lines[14]["event"], "plan_summary");
    assert_eq!(lines[14]["changes_pending"], true);
    assert_eq!(r.sim.stats().writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_pairs_write_nothing_and_the_others_complete() {
    let plan = r#"version: 1
name: conflicts
pairs:
  - name: good
    region: us
    v2: { app_id: good02v2app00000000000001, client_secret: { env: GOOD_V2 } }
    v3: { app_id: 0c0c0c0c-0000-4000-8000-000000000001, api_key: { env: GOOD_V3 } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET } }
    clone:
      single: [good00account000000000001]
      batches:
        - { name: everyone, mode: only_new }
  - name: linked-elsewhere
    region: us
    v2: { app_id: other2v2app00000000000001, client_secret: { env: OTHER_V2 } }
    v3: { app_id: 0d0d0d0d-0000-4000-8000-000000000002, api_key: { env: OTHER_V3 } }
    clone:
      single: [other0account000000000001]
  - name: wrong-region
    region: eu
    v2: { app_id: wrong2v2app00000000000001, client_secret: { env: WRONG_V2 } }
    v3: { app_id: 0e0e0e0e-0000-4000-8000-000000000003, api_key: { env: WRONG_V3 } }
"#;
    // Every application is in the U.S.: `linked-elsewhere`'s v3 app is already linked to a
    // v2 app the plan does not name, and `wrong-region` says E.U.
    let mut world = World::default();
    let mut secrets = std::collections::HashMap::new();
    for (v2_id, v3_id, prefix, linked) in [
        (
            "good02v2app00000000000001",
            "0c0c0c0c-0000-4000-8000-000000000001",
            "GOOD",
            None,
        ),
        (
            "other2v2app00000000000001",
            "0d0d0d0d-0000-4000-8000-000000000002",
            "OTHER",
            Some("elsewhere0v2app0000000001"),
        ),
        (
            "wrong2v2app00000000000001",
            "0e0e0e0e-0000-4000-8000-000000000003",
            "WRONG",
            None,
        ),
    ] {
        let tag = prefix.to_lowercase();
        world
            .v2_apps
            .push(v2_app(v2_id, &format!("{tag}-v2-secret"), 8, &tag));
        world.v3_apps.push(V3App {
            id: v3_id.into(),
            api_key: format!("{tag}-v3-api-key"),
            region: Region::Us,
            organization_id: None,
            linked_v2_app: linked.map(str::to_owned),
            pubsub_channels: Vec::new(),
            sns_channels: Vec::new(),
            redirect_uris: Vec::new(),
        });
        secrets.insert(format!("{prefix}_V2"), format!("{tag}-v2-secret"));
        secrets.insert(format!("{prefix}_V3"), format!("{tag}-v3-api-key"));
    }
    world.v2_apps[0].accounts[0].id = "good00account000000000001".into();
    world.v2_apps[1].accounts[0].id = "other0account000000000001".into();
    world.v2_apps.push(v2_app(
        "elsewhere0v2app0000000001",
        "elsewhere-secret",
        2,
        "else",
    ));
    secrets.insert("AZURE_ID".into(), "azure-id".into());
    secrets.insert("AZURE_SECRET".into(), "azure-secret".into());
    let r = rehearsal::start_with_world(plan, world, secrets, |_, _| {}).await;

    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(1), "conflicts fail the run");
    let text = stdout(&out);
    assert!(
        text.contains("failed linked-elsewhere/link: conflict: v3 application 0d0d0d0d-0000-4000-8000-000000000002 is already linked to another v2 app, elsewhere0v2app0000000001"),
        "{text}"
    );
    assert!(
        text.contains("failed wrong-region/link: conflict: v3 application 0e0e0e0e-0000-4000-8000-000000000003 is in region `us` but the plan says `eu`"),
        "{text}"
    );
    assert!(
        text.contains("skipped 2 steps (linked-elsewhere/import …): linked-elsewhere/link failed"),
        "{text}"
    );

    let stats = r.sim.stats();
    assert_eq!(
        stats.count(Operation::LinkV2V3Apps, 200),
        1,
        "only the good pair links"
    );
    assert_eq!(stats.op_total(Operation::ImportV2App), 1);
    assert_eq!(stats.op_total(Operation::CloneSingleAccount), 1);
    let world = r.sim.world();
    let other = world.app("0d0d0d0d-0000-4000-8000-000000000002").unwrap();
    assert_eq!(
        other.application.v2_application_id.as_deref(),
        Some("elsewhere0v2app0000000001")
    );
    assert!(!other.imported && other.grants.is_empty() && other.connectors.is_empty());
    let wrong = world.app("0e0e0e0e-0000-4000-8000-000000000003").unwrap();
    assert!(wrong.application.v2_application_id.is_none() && wrong.grants.is_empty());
    let good = world.app("0c0c0c0c-0000-4000-8000-000000000001").unwrap();
    assert_eq!(good.grants.len(), 8, "the good pair completed");
}

fn v2_app(id: &str, secret: &str, accounts: usize, tag: &str) -> V2App {
    V2App {
        id: id.into(),
        secret: secret.into(),
        region: Region::Us,
        name: None,
        website_url: None,
        icon_url: None,
        integrations: vec![AccountProvider::Google],
        accounts: (0..accounts)
            .map(|n| V2Account {
                id: format!("{tag:0<5}acct{n:016}"),
                provider: AccountProvider::Google,
                email: format!("user{n}@{tag}.example"),
                migratable: true,
            })
            .collect(),
        redirect_uris: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_over_its_gate_stops_the_next_waves() {
    let r = rehearsal::start(rehearsal::GATED, 120, |_, _| {}).await;
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("skipped gated/batch/second: gate: wave `first` failed for"),
        "{text}"
    );
    assert!(text.contains("above the gate's 5.0%"), "{text}");
    assert!(
        text.contains("skipped gated/batch/third: gated/batch/second was skipped"),
        "{text}"
    );
    assert_eq!(
        r.sim.stats().op_total(Operation::SnapshotBatchClone),
        1,
        "only the first wave ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_on_the_same_state_is_refused() {
    let r = two_pairs().await;
    let state = r.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let held = nylas_migrate::state::StateLock::acquire(&state).unwrap();
    let plan = r.plan_arg();
    let out = r
        .run(&["apply", &plan, "--yes", "--state", state.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("another `nylas-migrate apply` is running on state folder"),
        "{err}"
    );
    assert!(
        err.contains(&format!("(process {}", std::process::id())) && err.contains("since "),
        "names the holder: {err}"
    );
    assert_eq!(r.sim.stats().writes(), 0, "nothing was written");
    drop(held);
    let out = r
        .run(&["apply", &plan, "--yes", "--state", state.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_terminal_needs_yes_and_missing_secrets_are_named() {
    let r = two_pairs().await;
    let plan = r.plan_arg();
    // A usage error (--yes is missing), even with an answer on stdin: it is not a terminal,
    // so nobody saw the preview.
    let out = r
        .test()
        .args(["apply", &plan])
        .stdin("yes\n")
        .status(64)
        .run_async()
        .await;
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert_eq!(r.sim.stats().writes(), 0);

    let out = r
        .test()
        .args(["plan", &plan])
        .env_remove("BETA_V3_KEY")
        .status(1)
        .run_async()
        .await;
    let err = stderr(&out);
    assert!(
        err.contains("environment variable BETA_V3_KEY is not set (v3 API key of pair `beta`)"),
        "{err}"
    );
    assert_eq!(r.sim.stats().writes(), 0);
}
