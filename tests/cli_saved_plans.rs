//! Saved plans (`plan --out FILE`, `apply FILE`) and targeted runs (`--pair`) against the
//! simulator: what a saved plan holds, that it applies exactly what it listed or refuses before
//! any write, and that `--pair` runs only its pairs and never an `after` pair out of order.

use crate::support::cli::Test;
use crate::support::events::{checked_with, events_schema};
use crate::support::rehearsal::{self, Rehearsal};
use crate::support::{root, stderr, stdout};
use nylas_migrate::api::Region;
use serde_json::{Value, json};

const TWO_PAIRS: &str = r#"version: 1
name: saved-two-pairs
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
      single: [alpha0account000000000001, alpha0account000000000002]
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
"#;

const WEBHOOK: &str = "alpha/webhook/https://hooks.example.com/alpha";

async fn two_pairs() -> Rehearsal {
    rehearsal::start(TWO_PAIRS, 30, |_, _| {}).await
}

fn saved_path(r: &Rehearsal) -> String {
    r.dir.path().join("saved.json").display().to_string()
}

/// `plan --out`: exit 0 (no `--detailed-exitcode`), the saved plan parsed.
async fn plan_out(r: &Rehearsal, extra: &[&str]) -> Value {
    let (plan, out) = (r.plan_arg(), saved_path(r));
    let mut args = vec!["plan", plan.as_str(), "--out", out.as_str()];
    args.extend(extra);
    let run = r.run(&args).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stdout(&run).contains("Saved plan written to"),
        "{}",
        stdout(&run)
    );
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn actions(saved: &Value) -> Vec<(String, String)> {
    saved["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Sets the triggers of alpha's webhook by hand, as someone in the dashboard would.
async fn edit_webhook_by_hand(r: &Rehearsal, triggers: &[&str]) {
    let key = &r.secrets["ALPHA_V3_KEY"];
    let http = reqwest::Client::new();
    let base = r.sim.base_url(Region::Us);
    let list: Value = http
        .get(format!("{base}/v3/webhooks"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["data"][0]["id"]
        .as_str()
        .expect("alpha has its webhook");
    let answer = http
        .put(format!("{base}/v3/webhooks/{id}"))
        .bearer_auth(key)
        .json(&json!({ "trigger_types": triggers }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{:?}", answer.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applied_unchanged_makes_exactly_the_writes_it_listed() {
    let r = two_pairs().await;
    let saved = plan_out(&r, &[]).await;
    assert_eq!(saved["format"], "nylas-migrate/saved-plan");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["plan"]["name"], "saved-two-pairs");
    let bytes = std::fs::read(&r.plan_path).unwrap();
    assert_eq!(
        saved["plan"]["sha256"],
        nylas_migrate::saved::digest(&bytes).as_str()
    );
    assert!(saved["observed_at"].as_str().unwrap().ends_with('Z'));
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/saved-plan.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&saved)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(saved["targets"], json!([]));
    // No secret: every value the plan's references resolve to is a canary.
    let text = std::fs::read_to_string(saved_path(&r)).unwrap();
    for (name, value) in &r.secrets {
        assert!(
            !text.contains(value.as_str()),
            "{name}'s value is in the saved plan"
        );
    }
    let listed: Vec<String> = actions(&saved)
        .into_iter()
        .filter(|(_, a)| matches!(a.as_str(), "create" | "update" | "after"))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(listed.len() as u64, saved["changes"].as_u64().unwrap());
    assert_eq!(r.sim.stats().writes(), 0, "plan --out writes nothing");

    // No --yes and no terminal: a saved plan is not asked about.
    let out = saved_path(&r);
    let applied = r.run(&["--output", "json", "apply", &out]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let changed: Vec<String> = stdout(&applied)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "step_finished" && e["outcome"] == "changed")
        .map(|e| e["step"].as_str().unwrap().to_owned())
        .collect();
    let (mut changed_sorted, mut listed_sorted) = (changed.clone(), listed.clone());
    changed_sorted.sort();
    listed_sorted.sort();
    assert_eq!(changed_sorted, listed_sorted, "{}", stdout(&applied));
    // One write per listed step, none besides.
    assert_eq!(r.sim.stats().writes(), listed.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applied_after_the_live_state_changed_writes_nothing() {
    let r = two_pairs().await;
    assert_eq!(r.apply().await.status.code(), Some(0));
    edit_webhook_by_hand(&r, &["grant.created"]).await;
    let saved = plan_out(&r, &[]).await;
    assert!(
        actions(&saved).contains(&(WEBHOOK.to_owned(), "update".to_owned())),
        "{saved}"
    );
    assert_eq!(saved["changes"], 1);

    // Someone puts the webhook back by hand after the review: the saved update is now
    // nothing to do, so the saved plan no longer says what apply would do.
    edit_webhook_by_hand(&r, &["grant.created", "grant.expired"]).await;
    let writes = r.sim.stats().writes();
    let out = saved_path(&r);
    let refused = r.run(&["apply", &out]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(err.contains("saved-plan::stale"), "{err}");
    assert!(
        err.contains(&format!("{WEBHOOK}: update → unchanged")),
        "{err}"
    );
    assert!(err.contains("1 step changed"), "{err}");
    assert_eq!(
        r.sim.stats().writes(),
        writes,
        "a refused saved plan writes nothing"
    );

    // Edited again, and a new saved plan: applied, it makes its one write.
    edit_webhook_by_hand(&r, &["grant.expired"]).await;
    plan_out(&r, &[]).await;
    let writes = r.sim.stats().writes();
    let applied = r.run(&["apply", &out]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert_eq!(r.sim.stats().writes(), writes + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_file_edited_after_plan_out_is_refused() {
    let r = two_pairs().await;
    plan_out(&r, &[]).await;
    let mut text = std::fs::read_to_string(&r.plan_path).unwrap();
    text.push_str("# edited after the review\n");
    std::fs::write(&r.plan_path, text).unwrap();
    let out = saved_path(&r);
    let refused = r.run(&["apply", &out]).await;
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(err.contains("saved-plan::plan-changed"), "{err}");
    assert!(
        err.contains("changed since the saved plan was made"),
        "{err}"
    );
    assert_eq!(r.sim.stats().writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_of_another_format_version_is_refused() {
    let r = two_pairs().await;
    let mut saved = plan_out(&r, &[]).await;
    saved["version"] = json!(99);
    std::fs::write(saved_path(&r), saved.to_string()).unwrap();
    let out = saved_path(&r);
    let refused = r.run(&["apply", &out]).await;
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(err.contains("saved-plan::invalid"), "{err}");
    assert!(err.contains("is 99"), "{err}");
    assert_eq!(r.sim.stats().writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_runs_only_that_pair_and_blocks_one_whose_after_pair_is_not_done() {
    let r = two_pairs().await;
    let plan = r.plan_arg();

    // beta waits for alpha, which is not done: blocked with the reason, nothing written.
    let preview = r.run(&["plan", &plan, "--pair", "beta"]).await;
    let text = stdout(&preview);
    assert!(
        text.contains("! note: partial run (--pair): only beta; not read or written: alpha"),
        "{text}"
    );
    assert!(
        text.contains("waits for pair alpha, which this run does not target"),
        "{text}"
    );
    assert!(
        !text.contains("\nalpha\n"),
        "alpha's steps are not listed: {text}"
    );
    let blocked = r.run(&["apply", &plan, "--yes", "--pair", "beta"]).await;
    assert_eq!(blocked.status.code(), Some(1), "{}", stderr(&blocked));
    assert!(stderr(&blocked).contains("note: partial run (--pair): only beta"));
    assert!(
        stdout(&blocked).contains("beta/link: waits for pair alpha, which this run does not target (--pair) and which is not done"),
        "{}",
        stdout(&blocked)
    );
    assert_eq!(r.sim.stats().writes(), 0, "a blocked pair writes nothing");

    // alpha alone: only alpha's steps run.
    let alpha = r
        .run(&[
            "--output", "json", "apply", &plan, "--yes", "--pair", "alpha",
        ])
        .await;
    assert_eq!(alpha.status.code(), Some(0), "{}", stderr(&alpha));
    // Every line, the `partial` event included, fits the published events schema.
    let events: Vec<Value> = checked_with(&events_schema(), &stdout(&alpha));
    assert_eq!(events[0]["event"], "partial", "{events:?}");
    assert_eq!(events[0]["pairs"], json!(["alpha"]));
    let finished: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert!(!finished.is_empty());
    assert!(
        finished.iter().all(|s| s.starts_with("alpha/")),
        "{finished:?}"
    );

    // status and report with --pair show only that pair.
    let status = r
        .run(&["--output", "json", "status", &plan, "--pair", "alpha"])
        .await;
    let status: Vec<Value> = stdout(&status)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(status[0]["event"], "partial");
    let pairs: Vec<&str> = status[1]["status"]["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pair"].as_str().unwrap())
        .collect();
    assert_eq!(pairs, ["alpha"]);
    let report = r.run(&["report", &plan, "--pair", "alpha"]).await;
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let csv = stdout(&report);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|row| row.starts_with("alpha,")), "{rows:?}");

    // With alpha done, beta runs.
    let beta = r.run(&["apply", &plan, "--yes", "--pair", "beta"]).await;
    assert_eq!(beta.status.code(), Some(0), "{}", stderr(&beta));
    assert_eq!(r.plan_exit().await, Some(0), "every pair is done");

    // An unknown pair names the plan's pairs.
    let unknown = r.run(&["plan", &plan, "--pair", "gamma"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("the plan's pairs: alpha, beta"),
        "{}",
        stderr(&unknown)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_keeps_its_targets() {
    let r = two_pairs().await;
    let saved = plan_out(&r, &["--pair", "alpha"]).await;
    assert_eq!(saved["targets"], json!(["alpha"]));
    assert!(
        actions(&saved)
            .iter()
            .all(|(id, _)| id.starts_with("alpha/"))
    );
    let out = saved_path(&r);
    let plan = r.plan_arg();
    let own = r.run(&["apply", &out, "--pair", "beta"]).await;
    assert_eq!(own.status.code(), Some(1));
    assert!(
        stderr(&own).contains("saved-plan::invalid"),
        "{}",
        stderr(&own)
    );
    let applied = r.run(&["apply", &out]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert!(stderr(&applied).contains("partial run (--pair): only alpha"));
    // beta was not touched: it still has everything to do.
    let preview = stdout(&r.run(&["plan", &plan]).await);
    assert!(preview.contains("+ create    link"), "{preview}");
}

#[test]
fn committed_saved_plan_schema_is_what_the_binary_prints() {
    let out = Test::new()
        .args(["schema", "--saved-plan"])
        .status(0)
        .stderr("")
        .run();
    let committed = std::fs::read_to_string(root().join("docs/saved-plan.schema.json")).unwrap();
    assert!(
        stdout(&out) == committed,
        "docs/saved-plan.schema.json is out of date: run `cargo run -- schema --saved-plan > docs/saved-plan.schema.json`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_out_never_replaces_the_plan_file() {
    let r = two_pairs().await;
    let plan = r.plan_arg();
    let before = std::fs::read(&plan).unwrap();
    let out = r
        .test()
        .args(["plan", plan.as_str(), "--out", plan.as_str()])
        .status(64)
        .run_async()
        .await;
    assert!(
        stderr(&out).contains("cli::out-is-plan"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&plan).unwrap(),
        before,
        "the plan is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_whose_steps_repeat_or_whose_counts_disagree_is_refused_before_any_write() {
    let r = two_pairs().await;
    let saved = plan_out(&r, &[]).await;
    let out = saved_path(&r);
    let write = |edited: Value| std::fs::write(&out, edited.to_string()).unwrap();

    // The webhook listed twice: first as unchanged, then as the real create.
    let mut twice = saved.clone();
    let steps = twice["steps"].as_array_mut().unwrap();
    let at = steps.iter().position(|s| s["id"] == WEBHOOK).unwrap();
    let mut unchanged = steps[at].clone();
    unchanged["action"] = json!("unchanged");
    steps.insert(at, unchanged);
    write(twice);
    let run = r.run(&["apply", &out]).await;
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("saved-plan::invalid"), "{err}");
    // miette wraps the message: the step's ID, then what is wrong with it.
    assert!(err.contains("step alpha/webhook/"), "{err}");
    assert!(err.contains("is listed 2 times"), "{err}");

    // A count that disagrees with the steps.
    let mut counted = saved.clone();
    counted["changes"] = json!(saved["changes"].as_u64().unwrap() + 1);
    write(counted);
    let run = r.run(&["apply", &out]).await;
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("saved-plan::invalid"), "{err}");
    assert!(err.contains("its `changes` is"), "{err}");

    assert_eq!(
        r.sim.stats().writes(),
        0,
        "a refused saved plan writes nothing"
    );
}
