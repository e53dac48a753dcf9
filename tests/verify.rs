//! `verify` against the simulator, driving the binary: exit 0 after the demo's apply, and 1
//! with the failed item named after a webhook is deleted by hand, after a wave fails more than
//! its gate, and when a test account has no grant.

use crate::support;

use crate::support::rehearsal::{self, GATED};
use crate::support::{root, stdout};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    let events = support::events::checked_events(&stdout(out));
    assert_eq!(events.len(), 1);
    let event = events[0].clone();
    assert_eq!(event["v"], 1);
    assert_eq!(event["event"], "verify");
    assert_eq!(event["verify"]["v"], 1);
    event["verify"].clone()
}

/// The failed items as `pair check subject`.
fn failed(v: &Value) -> Vec<String> {
    v["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["passed"] == false && i["manual"] == false)
                .map(move |i| {
                    format!(
                        "{} {} {}",
                        p["pair"].as_str().unwrap(),
                        i["check"].as_str().unwrap(),
                        i["subject"].as_str().unwrap()
                    )
                })
        })
        .collect()
}

/// The first item of the first pair with this check.
fn item(v: &Value, check: &str) -> Value {
    v["pairs"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check"] == check)
        .unwrap_or_else(|| panic!("no {check} item: {v}"))
        .clone()
}

/// `examples/us-single-pair.yaml` has no Microsoft connector fix, and the application has
/// Microsoft accounts: import leaves its Microsoft connector without credentials, which no
/// apply of this plan can give it (they come from a new Azure app a person registers). So
/// `plan`, `apply` and `verify` agree: nothing to change, and verify lists the Azure app as a
/// step for a person (`todo`, `manual`) without failing. The demo, whose plan fixes the
/// connector, shows the item passing once apply wrote the client ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_credentials_the_plan_cannot_give_are_a_step_for_a_person_not_a_failure() {
    let plan = std::fs::read_to_string(root().join("examples/us-single-pair.yaml")).unwrap();
    let r = rehearsal::start(&plan, 20, |world, _| {
        let app = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "9nsr7pjw1e1g6hgy9l1znjql7")
            .unwrap();
        app.accounts[0].provider = nylas_migrate::simulator::AccountProvider::Microsoft;
    })
    .await;
    let path = r.plan_arg();
    let applied = r.apply().await;
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}",
        support::stderr(&applied)
    );
    assert!(
        stdout(&applied).contains("Done: the live state matches the plan."),
        "{}",
        stdout(&applied)
    );
    assert_eq!(r.plan_exit().await, Some(0), "plan: nothing to change");

    let out = r.run(&["--output", "json", "verify", &path]).await;
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["passed"], true);
    assert!(failed(&v).is_empty(), "{:?}", failed(&v));
    let microsoft = item(&v, "microsoft-credentials");
    assert_eq!(
        (microsoft["passed"].as_bool(), microsoft["manual"].as_bool()),
        (Some(false), Some(true)),
        "{microsoft}"
    );
    let evidence = microsoft["evidence"].as_str().unwrap();
    for what in [
        "register a new Azure app",
        "https://api.us.nylas.com/v3/connect/callback",
        "Microsoft connector fix",
    ] {
        assert!(evidence.contains(what), "{evidence}");
    }
    assert_eq!(item(&v, "connector")["manual"], false);

    let human = r.run(&["verify", &path]).await;
    assert_eq!(human.status.code(), Some(0));
    let text = stdout(&human);
    assert!(
        text.contains(
            "  todo microsoft-credentials microsoft: the Microsoft connector has no client_id"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 of ") && text.contains("steps for a person (todo)"),
        "{text}"
    );
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_verifies_until_a_webhook_is_deleted_by_hand() {
    let plan = std::fs::read_to_string(root().join("examples/demo.yaml")).unwrap();
    let r = rehearsal::start(&plan, 60, |_, _| {}).await;
    let path = r.plan_arg();
    let applied = r.apply().await;
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}",
        support::stderr(&applied)
    );

    let human = r.run(&["verify", &path]).await;
    assert_eq!(
        human.status.code(),
        Some(0),
        "{}{}",
        stdout(&human),
        support::stderr(&human)
    );
    let text = stdout(&human);
    assert!(
        text.contains("demo-us (us): PASS") && text.contains("Verified: all"),
        "{text}"
    );
    let out = r.run(&["--output", "json", "verify", &path]).await;
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["passed"], true);
    for (name, value) in &r.secrets {
        for text in [stdout(&out), support::stderr(&out), stdout(&human)] {
            assert!(
                !text.contains(value.as_str()),
                "secret {name} appears in verify's output"
            );
        }
    }
    let checks: Vec<&str> = v["pairs"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["check"].as_str().unwrap())
        .collect();
    for check in [
        "link",
        "region",
        "connector",
        "microsoft-credentials",
        "webhook",
        "test-account",
        "wave",
        "grants",
    ] {
        assert!(checks.contains(&check), "no {check} item: {checks:?}");
    }

    // Someone deletes the U.S. destination in the dashboard.
    let us = &r.plan.pairs[0];
    assert_eq!(
        r.sim
            .delete_webhook_by_hand(&us.v3.app_id, &us.webhooks[0].url),
        1
    );
    let out = r.run(&["--output", "json", "verify", &path]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        failed(&json(&out)),
        [format!("demo-us webhook {}", us.webhooks[0].url)]
    );
    let human = r.run(&["verify", &path, "--pair", "demo-us"]).await;
    assert_eq!(human.status.code(), Some(1));
    let text = stdout(&human);
    assert!(
        text.contains("FAIL webhook https://hooks.demo.example/nylas/us: absent"),
        "{text}"
    );
    assert!(
        !text.contains("demo-eu"),
        "--pair demo-us shows only that pair: {text}"
    );
    // The other pair still verifies on its own.
    let eu = r.run(&["verify", &path, "--pair", "demo-eu"]).await;
    assert_eq!(eu.status.code(), Some(0), "{}", stdout(&eu));
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_above_its_gate_fails_verify() {
    let r = rehearsal::start(GATED, 60, |_, _| {}).await;
    let applied = r.apply().await;
    assert_eq!(
        applied.status.code(),
        Some(1),
        "the gate holds the later waves"
    );
    let out = r.run(&["--output", "json", "verify", &r.plan_arg()]).await;
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let failures = failed(&v);
    assert!(
        failures.contains(&"gated wave first".to_owned()),
        "{failures:?}"
    );
    let first = v["pairs"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check"] == "wave" && i["subject"] == "first")
        .unwrap();
    assert!(
        first["evidence"]
            .as_str()
            .unwrap()
            .contains("above the gate's 5.0%"),
        "{first}"
    );
    // The waves the gate held never ran.
    assert!(
        failures.contains(&"gated wave second".to_owned()),
        "{failures:?}"
    );
    // Import left Microsoft without credentials and the plan has no fix for it: a step for a
    // person, listed, not passed, and not a failure (see the test below).
    let microsoft = item(&v, "microsoft-credentials");
    assert_eq!(
        (microsoft["passed"].as_bool(), microsoft["manual"].as_bool()),
        (Some(false), Some(true)),
        "{microsoft}"
    );
    assert!(
        !failures.contains(&"gated microsoft-credentials microsoft".to_owned()),
        "{failures:?}"
    );
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_account_without_a_grant_fails_verify() {
    let plan = r#"version: 1
name: no-grant
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: S_V2 } }
    v3: { app_id: 0c0c0c0c-0000-4000-8000-000000000003, api_key: { env: S_V3 } }
    clone:
      single: [solo00account000000000001, solo00account000000000002]
      placeholders: { allow_invalid_grant_creation: false }
"#;
    let r = rehearsal::start(plan, 20, |world, _| {
        // The first test account cannot be migrated, and placeholders are not allowed.
        let us = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "solo02v2app00000000000001")
            .unwrap();
        us.accounts[0].migratable = false;
        us.accounts[1].migratable = true;
        us.accounts[1].provider = nylas_migrate::simulator::AccountProvider::Google;
    })
    .await;
    let applied = r.apply().await;
    assert_eq!(applied.status.code(), Some(1));
    let out = r.run(&["verify", &r.plan_arg()]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("FAIL test-account solo00account000000000001: no grant"),
        "{text}"
    );
    assert!(
        text.contains("ok   test-account solo00account000000000002"),
        "{text}"
    );
    assert!(
        text.contains("Not verified: ")
            && text.contains("  solo test-account solo00account000000000001\n"),
        "{text}"
    );
    r.sim.shutdown().await;
}
