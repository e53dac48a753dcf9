//! The simulator over real HTTP: auth, link, import, single clone, grants, the things a
//! migration depends on.

use crate::support::sim::*;
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::simulator::MigrationStatus;
use reqwest::Method;
use serde_json::json;

fn clone_path(account: &str) -> String {
    format!("/v3/migration-tools/grants/{account}/clone")
}

#[tokio::test]
async fn requests_without_a_valid_api_key_get_the_contracts_401() {
    let t = TestSim::fixture().await;
    let none = t
        .send(Region::Us, Method::GET, "/v3/applications", None, None, &[])
        .await;
    assert_eq!(none.status, 401);
    assert!(
        none.body["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
    assert_eq!(none.body["error"]["type"], "unauthorized");
    let wrong = t.get("nyk_v0_not_a_key", "/v3/grants").await;
    assert_eq!(wrong.status, 401);
    // API keys are regional: the E.U. key is unknown to the U.S. base URL.
    let other_region = t.get(EU_V3_KEY, "/v3/applications").await;
    assert_eq!(other_region.status, 401);
    assert!(!other_region.body.to_string().contains(EU_V3_KEY));
    let eu = t
        .send(
            Region::Eu,
            Method::GET,
            "/v3/applications",
            Some(EU_V3_KEY),
            None,
            &[],
        )
        .await;
    assert_eq!(eu.status, 200);
    assert_eq!(eu.data()["application_id"], EU_V3);
    assert_eq!(eu.data()["region"], "eu");
    t.finish().await;
}

#[tokio::test]
async fn link_checks_basic_v2_region_and_refuses_a_second_link() {
    let t = TestSim::fixture().await;
    let before = t.get(US_V3_KEY, "/v3/applications").await;
    assert_eq!(before.status, 200);
    // Every field is sent; before a link the linked id is empty.
    assert_eq!(before.data()["v2_application_id"], "");

    let missing = t
        .post(US_V3_KEY, "/v3/migration-tools/link-v2v3-apps", None)
        .await;
    assert_eq!(missing.status, 400);
    assert!(missing.error_message().contains("BasicV2"));
    let bad_secret = t.link(Region::Us, US_V3_KEY, US_V2, "wrong").await;
    assert_eq!(bad_secret.status, 401);
    let cross_region = t.link(Region::Us, US_V3_KEY, EU_V2, EU_V2_SECRET).await;
    assert_eq!(cross_region.status, 400);
    assert!(cross_region.error_message().contains("region"));
    assert!(!cross_region.body.to_string().contains(EU_V2_SECRET));

    let linked = t.link(Region::Us, US_V3_KEY, US_V2, US_V2_SECRET).await;
    assert_eq!(linked.status, 200);
    assert_eq!(linked.data()["v2_application_id"], US_V2);
    // Linking the same pair again is harmless.
    let again = t.link(Region::Us, US_V3_KEY, US_V2, US_V2_SECRET).await;
    assert_eq!(again.status, 200);
    // The v2 app cannot be linked to a second v3 app.
    let second = t
        .link(Region::Us, US_V3_OTHER_KEY, US_V2, US_V2_SECRET)
        .await;
    assert_eq!(second.status, 400);
    assert!(
        second.error_message().contains(US_V3),
        "{}",
        second.error_message()
    );
    let observed = t.get(US_V3_KEY, "/v3/applications").await;
    assert_eq!(observed.data()["v2_application_id"], US_V2);

    // A v3 app linked to one v2 app refuses another of its region: a world where the primary
    // U.S. app starts linked, and a second U.S. v2 app.
    let mut config = fixture_config();
    config.world.v3_apps[0].linked_v2_app = Some(US_V2.into());
    let mut second = config.world.v2_apps[1].clone();
    second.id = "8abcdefghijklmnopqrstuvwx".into();
    second.region = Region::Us;
    second.accounts.clear();
    config.world.v2_apps.push(second.clone());
    let t2 = TestSim::start(config).await;
    let refused = t2
        .link(Region::Us, US_V3_KEY, &second.id, &second.secret)
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.error_message().contains(US_V2),
        "{}",
        refused.error_message()
    );
    let still = t2.get(US_V3_KEY, "/v3/applications").await;
    assert_eq!(still.data()["v2_application_id"], US_V2);
    // The second v2 app can still be linked to a free v3 app of its region.
    let other = t2
        .link(Region::Us, US_V3_OTHER_KEY, &second.id, &second.secret)
        .await;
    assert_eq!(other.status, 200);
    t.finish().await;
    t2.finish().await;
}

#[tokio::test]
async fn import_requires_a_link_and_creates_connectors_from_integrations() {
    let t = TestSim::fixture().await;
    let unlinked = t
        .post(US_V3_KEY, "/v3/migration-tools/import-v2-app", None)
        .await;
    assert_eq!(unlinked.status, 400);
    assert!(unlinked.error_message().contains("link"));
    t.link_and_import_us().await;

    let list = t.get(US_V3_KEY, "/v3/connectors").await;
    assert_eq!(list.status, 200);
    let providers: Vec<&str> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["google", "microsoft", "imap", "icloud", "ews"]);

    let google = t.get(US_V3_KEY, "/v3/connectors/google").await;
    assert_eq!(google.status, 200);
    assert!(google.data()["settings"]["client_id"].is_string());
    // Secrets are never read back.
    assert!(google.data()["settings"].get("client_secret").is_none());
    let microsoft = t.get(US_V3_KEY, "/v3/connectors/microsoft").await;
    assert!(microsoft.data()["settings"].get("client_id").is_none());
    let app = t.get(US_V3_KEY, "/v3/applications").await;
    assert_eq!(
        app.data()["branding"]["website_url"],
        "https://acme.example"
    );

    let view = t.sim.world();
    assert!(view.app(US_V3).unwrap().imported);
    t.finish().await;
}

#[tokio::test]
async fn clone_requires_a_link_and_a_working_connector() {
    let t = TestSim::fixture().await;
    let google = US_ACCOUNTS[0].0;
    let microsoft = US_ACCOUNTS[2].0;
    let unlinked = t.post(US_V3_KEY, &clone_path(google), None).await;
    assert_eq!(unlinked.status, 400);

    let link = t.link(Region::Us, US_V3_KEY, US_V2, US_V2_SECRET).await;
    assert_eq!(link.status, 200);
    // Linked but not imported: no connector yet.
    let no_connector = t.post(US_V3_KEY, &clone_path(google), None).await;
    assert_eq!(no_connector.status, 400);
    assert!(no_connector.error_message().contains("connector"));
    let import = t
        .post(US_V3_KEY, "/v3/migration-tools/import-v2-app", None)
        .await;
    assert_eq!(import.status, 200);

    let cloned = t.post(US_V3_KEY, &clone_path(google), None).await;
    assert_eq!(cloned.status, 200, "{:?}", cloned.body);
    assert_eq!(cloned.data()["account_id"], google);
    assert_eq!(cloned.data()["grant_status"], "valid");
    assert_eq!(cloned.data()["provider"], "google");
    let grant_id = cloned.data()["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&grant_id).is_ok());

    // Microsoft fails until its connector has credentials.
    let broken = t.post(US_V3_KEY, &clone_path(microsoft), None).await;
    assert_eq!(broken.status, 400);
    assert!(broken.error_message().contains("client_id"));
    assert_eq!(
        t.sim.world().status_of(microsoft),
        Some(MigrationStatus::Failed)
    );
    t.fix_microsoft().await;
    let fixed = t.post(US_V3_KEY, &clone_path(microsoft), None).await;
    assert_eq!(fixed.status, 200);
    assert_eq!(fixed.data()["grant_status"], "valid");

    // Cloning again returns the same grant.
    let again = t.post(US_V3_KEY, &clone_path(google), None).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.data()["id"], grant_id.as_str());
    assert_eq!(t.sim.world().app(US_V3).unwrap().grants.len(), 2);
    // Attempts are counted whatever their outcome: the one refused for want of a connector,
    // the clone, and the repeat.
    assert_eq!(t.sim.stats().clones_of(google), 3);

    // Accounts of another app, or unknown, are refused.
    let foreign = t.post(US_V3_KEY, &clone_path(EU_ACCOUNTS[0]), None).await;
    assert_eq!(foreign.status, 400);
    t.finish().await;
}

#[tokio::test]
async fn accounts_that_cannot_migrate_follow_the_placeholder_flags() {
    let t = TestSim::fixture().await;
    t.link_and_import_us().await;
    t.fix_microsoft().await;
    let google_stuck = US_ACCOUNTS[3].0;
    let microsoft_stuck = US_ACCOUNTS[4].0;

    // clone_exchange=false refuses Microsoft placeholders only.
    let refused = t
        .post(
            US_V3_KEY,
            &format!("{}?clone_exchange=false", clone_path(microsoft_stuck)),
            None,
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        t.sim.world().status_of(microsoft_stuck),
        Some(MigrationStatus::Failed)
    );
    // allow_invalid_grant_creation=false refuses every provider.
    let refused = t
        .post(
            US_V3_KEY,
            &format!(
                "{}?allow_invalid_grant_creation=false",
                clone_path(google_stuck)
            ),
            None,
        )
        .await;
    assert_eq!(refused.status, 400);
    let placeholder = t
        .post(
            US_V3_KEY,
            &format!("{}?clone_exchange=false", clone_path(google_stuck)),
            None,
        )
        .await;
    assert_eq!(placeholder.status, 200);
    assert_eq!(placeholder.data()["grant_status"], "invalid");
    // Defaults: placeholders allowed.
    let placeholder = t.post(US_V3_KEY, &clone_path(microsoft_stuck), None).await;
    assert_eq!(placeholder.status, 200);
    assert_eq!(placeholder.data()["grant_status"], "invalid");
    assert_eq!(
        t.sim.world().status_of(microsoft_stuck),
        Some(MigrationStatus::Placeholder)
    );

    let bad_flag = t
        .post(
            US_V3_KEY,
            &format!("{}?clone_exchange=maybe", clone_path(google_stuck)),
            None,
        )
        .await;
    assert_eq!(bad_flag.status, 400);
    t.finish().await;
}

#[tokio::test]
async fn grants_filter_and_page_by_account_provider_and_status() {
    let t = TestSim::fixture().await;
    t.link_and_import_us().await;
    t.fix_microsoft().await;
    for (id, _, _) in US_ACCOUNTS {
        let r = t.post(US_V3_KEY, &clone_path(id), None).await;
        assert_eq!(r.status, 200, "{id}: {:?}", r.body);
    }
    let all = t.get(US_V3_KEY, "/v3/grants?limit=50").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.data().as_array().unwrap().len(), 9);
    assert_eq!(all.body["limit"], 50);
    // Newest first by default.
    assert_eq!(all.data()[0]["account_id"], US_ACCOUNTS[8].0);
    let default_page = t.get(US_V3_KEY, "/v3/grants").await;
    assert_eq!(default_page.data().as_array().unwrap().len(), 9);
    assert_eq!(default_page.body["limit"], 10);

    let ids = format!(
        "{},{},unknownaccount0000000000",
        US_ACCOUNTS[0].0, US_ACCOUNTS[5].0
    );
    let some = t
        .get(
            US_V3_KEY,
            &format!("/v3/grants?account_ids={ids}&order_by=asc"),
        )
        .await;
    let got: Vec<&str> = some
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [US_ACCOUNTS[0].0, US_ACCOUNTS[5].0]);
    let one = t
        .get(
            US_V3_KEY,
            &format!("/v3/grants?account_id={}", US_ACCOUNTS[2].0),
        )
        .await;
    assert_eq!(one.data().as_array().unwrap().len(), 1);
    let google = t
        .get(US_V3_KEY, "/v3/grants?provider=google&limit=50")
        .await;
    assert_eq!(google.data().as_array().unwrap().len(), 3);
    let invalid = t.get(US_V3_KEY, "/v3/grants?grant_status=invalid").await;
    assert_eq!(invalid.data().as_array().unwrap().len(), 2);
    let page = t.get(US_V3_KEY, "/v3/grants?limit=4&offset=8").await;
    assert_eq!(page.data().as_array().unwrap().len(), 1);
    assert_eq!(page.body["offset"], 8);
    let bad = t.get(US_V3_KEY, "/v3/grants?limit=lots").await;
    assert_eq!(bad.status, 400);

    let grant_id = one.data()[0]["id"].as_str().unwrap();
    let got = t.get(US_V3_KEY, &format!("/v3/grants/{grant_id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.data()["account_id"], US_ACCOUNTS[2].0);
    let missing = t
        .get(US_V3_KEY, "/v3/grants/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(missing.status, 404);
    // Another app sees none of these grants.
    let other = t.get(US_V3_OTHER_KEY, "/v3/grants").await;
    assert_eq!(other.data().as_array().unwrap().len(), 0);
    t.finish().await;
}

#[tokio::test]
async fn stats_count_requests_by_operation_and_status() {
    let t = TestSim::fixture().await;
    t.get(US_V3_KEY, "/v3/applications").await;
    t.get("nope", "/v3/applications").await;
    t.get(US_V3_KEY, "/v3/no-such-thing").await;
    let stats = t.sim.stats();
    assert_eq!(stats.count(Operation::GetApplication, 200), 1);
    assert_eq!(stats.count(Operation::GetApplication, 401), 1);
    assert_eq!(stats.requests["unknown"][&404], 1);
    assert_eq!(stats.writes(), 0);
    assert_eq!(stats.total, 3);
    let over_http: nylas_migrate::simulator::Stats = t
        .http
        .get(t.sim.stats_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, stats);
    t.post(
        US_V3_KEY,
        "/v3/migration-tools/import-v2-app",
        Some(json!({})),
    )
    .await;
    assert_eq!(t.sim.stats().writes(), 1);
    t.finish().await;
}
