//! `plan` ends with the steps only people can do, with the exact values per pair and region,
//! in human output and as `manual_step` JSON events.

use crate::support::cli::Test;

use crate::support::events::checked_events;
use crate::support::stdout;

#[test]
fn offline_plan_lists_the_manual_steps_per_pair_and_region() {
    let out = Test::new()
        .args(["plan", "examples/us-and-eu.yaml", "--offline"])
        .status(0)
        .run();
    let text = stdout(&out);
    let tail = text
        .split("Steps only people can do (outside the Nylas API):")
        .nth(1)
        .unwrap_or_else(|| panic!("no manual steps: {text}"));
    assert!(
        tail.contains("https://api.us.nylas.com/v3/connect/callback"),
        "{tail}"
    );
    assert!(
        tail.contains("https://api.eu.nylas.com/v3/connect/callback"),
        "{tail}"
    );
    assert!(tail.contains("Azure portal: "), "{tail}");
    assert!(
        tail.contains("move the login page to v3 hosted authentication"),
        "{tail}"
    );

    let json = Test::new()
        .args([
            "--output",
            "json",
            "plan",
            "examples/us-and-eu.yaml",
            "--offline",
        ])
        .run();
    let events = checked_events(&stdout(&json));
    let manual: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "manual_step")
        .collect();
    let pairs: std::collections::BTreeSet<&str> =
        manual.iter().map(|e| e["pair"].as_str().unwrap()).collect();
    assert_eq!(pairs.len(), 2, "{manual:?}");
    for e in &manual {
        if e["step"] == "google_callback" || e["step"] == "azure_app" {
            let region = e["region"].as_str().unwrap();
            assert_eq!(
                e["value"],
                format!("https://api.{region}.nylas.com/v3/connect/callback")
            );
        }
    }
}

#[test]
fn a_google_topic_name_adds_the_gmail_pubsub_step() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        r#"version: 1
name: gmail
pairs:
  - name: mail
    region: eu
    v2: { app_id: mail02v2app00000000000001, client_secret: { env: M_V2 } }
    v3: { app_id: 0d0d0d0d-0000-4000-8000-000000000004, api_key: { env: M_V3 } }
    connectors:
      - provider: google
        settings: { client_id: { env: GCP_ID }, client_secret: { env: GCP_SECRET }, topic_name: projects/acme/topics/gmail }
"#,
    )
    .unwrap();
    let out = Test::new()
        .args([
            "--output",
            "json",
            "plan",
            plan.to_str().unwrap(),
            "--offline",
        ])
        .run();
    let events = checked_events(&stdout(&out));
    let topic = events
        .iter()
        .find(|e| e["step"] == "gmail_topic")
        .expect("a gmail_topic step");
    assert_eq!(topic["value"], "projects/acme/topics/gmail");
    assert_eq!(topic["pair"], "mail");
    let google = events
        .iter()
        .find(|e| e["step"] == "google_callback")
        .unwrap();
    assert!(
        google["text"]
            .as_str()
            .unwrap()
            .contains("environment variable GCP_ID")
    );
}
