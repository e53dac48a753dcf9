//! One log line per request, and no secret in logs, stats or errors.

use crate::support::sim::*;
use nylas_migrate::api::Region;
use reqwest::Method;
use serde_json::json;

// A current-thread runtime: the server's tasks run on this thread, under this subscriber.
#[tokio::test]
async fn each_request_is_logged_once_without_secrets() {
    let (captured, _guard) = crate::support::logs::capture(tracing::Level::INFO);

    let t = TestSim::fixture().await;
    t.link_and_import_us().await;
    t.fix_microsoft().await;
    let bad_link = t.link(Region::Us, US_V3_KEY, US_V2, "guessed-secret").await;
    let hook = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(json!({"webhook_url": "https://h.example", "trigger_types": ["grant.created"]})),
        )
        .await;
    let webhook_secret = hook.data()["webhook_secret"].as_str().unwrap().to_string();
    t.get(
        "nyk_v0_a_wrong_key_that_must_not_be_logged",
        "/v3/grants?limit=5",
    )
    .await;
    t.send(
        Region::Eu,
        Method::GET,
        "/v3/applications",
        Some(EU_V3_KEY),
        None,
        &[],
    )
    .await;
    let stats = serde_json::to_string(&t.sim.stats()).unwrap();
    let requests = t.sim.stats().total;
    t.finish().await;

    let log = captured.text();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(" request ")).collect();
    assert_eq!(lines.len() as u64, requests, "{log}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("operation=") && l.contains("status="))
    );
    assert!(log.contains("operation=\"migration_link_v2v3_apps\" status=401"));
    for secret in [
        US_V3_KEY,
        EU_V3_KEY,
        US_V2_SECRET,
        &basic_v2(US_V2, US_V2_SECRET),
        "guessed-secret",
        "nyk_v0_a_wrong_key_that_must_not_be_logged",
        &webhook_secret,
        "azure-secret",
    ] {
        assert!(!log.contains(secret), "a secret is in the log");
        assert!(!stats.contains(secret), "a secret is in the stats");
        assert!(!bad_link.body.to_string().contains(secret));
    }
    // Queries are not logged.
    assert!(!log.contains("limit=5"));
}
