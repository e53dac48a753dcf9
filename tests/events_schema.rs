//! Every JSON line the commands print with `--output json` validates against the published,
//! versioned schema `docs/events.schema.json`.

use crate::support;
use crate::support::cli::Test;

use crate::support::events::{checked_with, events_schema as validator};
use crate::support::rehearsal;
use crate::support::{root, stdout};
use serde_json::Value;

/// Validates each line; returns the events' names.
fn check(validator: &jsonschema::Validator, output: &str) -> Vec<String> {
    checked_with(validator, output)
        .iter()
        .map(|event| event["event"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn validate_events_fit_the_schema() {
    let v = validator();
    let out = Test::new()
        .args([
            "--output",
            "json",
            "validate",
            "examples/production.yaml",
            "examples/invalid/after-cycle.yaml",
        ])
        .run();
    assert_eq!(check(&v, &stdout(&out)), ["validation", "validation"]);
}

#[test]
fn demo_apply_events_fit_the_schema() {
    let v = validator();
    let out = Test::new()
        .args(["--output", "json", "demo", "--accounts", "40"])
        .status(0)
        .run();
    let events = check(&v, &stdout(&out));
    for expected in ["step_started", "step_finished", "job_progress", "summary"] {
        assert!(
            events.iter().any(|e| e == expected),
            "no {expected} event in {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_status_events_fit_the_schema() {
    let plan = std::fs::read_to_string(root().join("examples/us-single-pair.yaml")).unwrap();
    let r = rehearsal::start(&plan, 30, |_, _| {}).await;
    let v = validator();
    let path = r.plan_arg();
    let events = check(
        &v,
        &stdout(&r.run(&["--output", "json", "plan", &path]).await),
    );
    assert_eq!(events.last().map(String::as_str), Some("plan_summary"));
    check(
        &v,
        &stdout(
            &r.run(&["--output", "json", "plan", &path, "--offline"])
                .await,
        ),
    );
    check(
        &v,
        &stdout(&r.run(&["--output", "json", "apply", &path, "--yes"]).await),
    );
    let events = check(
        &v,
        &stdout(&r.run(&["--output", "json", "status", &path]).await),
    );
    assert_eq!(events, ["status"]);
}

#[test]
fn graph_and_schema_honour_output_json() {
    let v = validator();
    let out = Test::new()
        .args(["--output", "json", "graph", "examples/production.yaml"])
        .status(0)
        .run();
    assert_eq!(check(&v, &stdout(&out)), ["graph"]);
    let graph: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(graph["steps"].as_array().unwrap().len() > 5);
    assert!(!graph["edges"].as_array().unwrap().is_empty());

    let out = Test::new()
        .args(["--output", "json", "schema"])
        .status(0)
        .run();
    assert_eq!(check(&v, &stdout(&out)), ["schema"]);
    let event: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/plan.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(event["schema"], committed);
}

#[test]
fn commands_without_events_refuse_output_json() {
    for args in [
        &["--output", "json", "report", "examples/production.yaml"][..],
        &["--output", "json", "completions", "bash"],
        &["--output", "json", "man"],
    ] {
        let out = Test::new().args(args).status(64).stdout("").run();
        assert!(
            support::stderr(&out).contains("`--output json` has no meaning"),
            "{args:?}: {}",
            support::stderr(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_and_recorded_failures_fit_the_schema() {
    let plan = std::fs::read_to_string(root().join("examples/us-single-pair.yaml")).unwrap();
    // The second batch clone fails: the wave, adopted and then started again by name, is a
    // recorded failure.
    let r = rehearsal::start(&plan, 30, |_, config| {
        config.failing_jobs = vec![nylas_migrate::simulator::FailingJob {
            application_id: "ad410018-d306-43f9-8361-fa5d7b2172e0".into(),
            nth: 2,
        }];
    })
    .await;
    let v = validator();
    let path = r.plan_arg();
    assert_eq!(r.apply().await.status.code(), Some(0));
    // A lost state folder: notices before the steps, a conflict, and adopted jobs.
    std::fs::remove_dir_all(r.dir.path().join(".nylas-migrate")).unwrap();
    let events = check(
        &v,
        &stdout(&r.run(&["--output", "json", "plan", &path]).await),
    );
    assert_eq!(events.first().map(String::as_str), Some("notice"));
    let events = check(
        &v,
        &stdout(
            &r.run(&[
                "--output",
                "json",
                "apply",
                &path,
                "--yes",
                "--adopt-existing-jobs",
            ])
            .await,
        ),
    );
    assert!(
        events.iter().filter(|e| *e == "notice").count() >= 2,
        "{events:?}"
    );
    // Adopted, the wave is done: it starts again only when named.
    let rerun = r
        .run(&[
            "--output",
            "json",
            "apply",
            &path,
            "--yes",
            "--rerun-wave",
            "acme-prod/everyone",
        ])
        .await;
    check(&v, &stdout(&rerun));
    let out = stdout(&r.run(&["--output", "json", "plan", &path]).await);
    check(&v, &out);
    assert!(out.contains(r#""action":"failed""#), "{out}");
    assert!(out.contains(r#""failed":1"#), "{out}");
}

#[test]
fn committed_events_schema_is_what_the_binary_prints() {
    let out = Test::new()
        .args(["schema", "--events"])
        .status(0)
        .stderr("")
        .run();
    let committed = std::fs::read_to_string(root().join("docs/events.schema.json")).unwrap();
    assert!(
        stdout(&out) == committed,
        "docs/events.schema.json is out of date: run `cargo run -- schema --events > docs/events.schema.json`"
    );
    // With --output json, the same schema as one `schema` event.
    let v = validator();
    let out = Test::new()
        .args(["--output", "json", "schema", "--events"])
        .status(0)
        .run();
    assert_eq!(check(&v, &stdout(&out)), ["schema"]);
    let event: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let committed: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(event["schema"], committed);
}

/// Every event of version 1 stays in the schema: a kind removed or renamed is a new `v`.
#[test]
fn the_schema_names_every_event_of_version_1() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/events.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schema["properties"]["v"]["const"], 1);
    assert_eq!(schema["required"], serde_json::json!(["v"]));
    let mut names: Vec<&str> = schema["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| variant["properties"]["event"]["const"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let mut expected = [
        "validation",
        "notice",
        "partial",
        "plan_step",
        "unmanaged",
        "plan_summary",
        "step_started",
        "step_finished",
        "step_skipped",
        "job_progress",
        "summary",
        "status",
        "manual_step",
        "translate_started",
        "translate_progress",
        "translate_account_failed",
        "translate_summary",
        "verify",
        "graph",
        "schema",
        "interrupted",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);
    // An event without its required fields, or with a value outside its enum, is refused.
    let v = validator();
    for (line, valid) in [
        (
            r#"{"v":1,"event":"step_finished","step":"a/link","kind":"link","outcome":"changed","message":"linked"}"#,
            true,
        ),
        (
            r#"{"v":1,"event":"step_finished","step":"a/link","kind":"link","outcome":"done","message":"linked"}"#,
            false,
        ),
        (
            r#"{"v":1,"event":"step_finished","step":"a/link","kind":"link"}"#,
            false,
        ),
        (r#"{"v":2,"event":"notice","message":"m"}"#, false),
        (r#"{"v":1,"event":"notice","message":"m"}"#, true),
        (r#"{"v":1,"event":"no_such_event"}"#, false),
        (
            r#"{"v":1,"event":"plan_step","step":"a/link","kind":"link","journal":"done"}"#,
            true,
        ),
        (
            r#"{"v":1,"event":"plan_step","step":"a/link","kind":"link"}"#,
            false,
        ),
    ] {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v.is_valid(&value), valid, "{line}");
    }
}
