//! Connectors, webhooks and translate over real HTTP.

use crate::support::sim::*;
use nylas_migrate::api::Region;
use nylas_migrate::simulator::AccountProvider;
use reqwest::Method;
use serde_json::json;

async fn patch(t: &TestSim, path: &str, body: serde_json::Value) -> Answer {
    t.send(
        Region::Us,
        Method::PATCH,
        path,
        Some(US_V3_KEY),
        Some(body),
        &[],
    )
    .await
}

#[tokio::test]
async fn connectors_are_created_read_and_replaced_by_provider() {
    let t = TestSim::fixture().await;
    let missing = t.get(US_V3_KEY, "/v3/connectors/microsoft").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["type"], "not_found_error");
    let unknown = t.get(US_V3_KEY, "/v3/connectors/aol").await;
    assert_eq!(unknown.status, 404);

    let incomplete = t
        .post(
            US_V3_KEY,
            "/v3/connectors",
            Some(json!({"provider": "microsoft", "settings": {"client_id": "x"}})),
        )
        .await;
    assert_eq!(incomplete.status, 400);
    assert!(incomplete.error_message().contains("client_secret"));
    let ews_without_settings = t
        .post(
            US_V3_KEY,
            "/v3/connectors",
            Some(json!({"provider": "ews"})),
        )
        .await;
    assert_eq!(ews_without_settings.status, 400);
    let bad_provider = t
        .post(
            US_V3_KEY,
            "/v3/connectors",
            Some(json!({"provider": "aol"})),
        )
        .await;
    assert_eq!(bad_provider.status, 400);

    let created = t
        .post(
            US_V3_KEY,
            "/v3/connectors",
            Some(json!({
                "provider": "microsoft",
                "settings": {"client_id": "azure-id", "client_secret": "azure-secret-value", "tenant": "common"},
                "scope": ["Mail.Read", "User.Read", "offline_access"]
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.data()["provider"], "microsoft");
    assert_eq!(created.data()["settings"]["client_id"], "azure-id");
    assert!(!created.body.to_string().contains("azure-secret-value"));
    let duplicate = t
        .post(US_V3_KEY, "/v3/connectors", Some(json!({"provider": "microsoft", "settings": {"client_id": "a", "client_secret": "b"}})))
        .await;
    assert_eq!(duplicate.status, 400);

    // PATCH replaces the nested objects it is given.
    let updated = patch(
        &t,
        "/v3/connectors/microsoft",
        json!({"scope": ["Mail.Read"]}),
    )
    .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.data()["scope"], json!(["Mail.Read"]));
    assert_eq!(updated.data()["settings"]["tenant"], "common");
    let updated = patch(
        &t,
        "/v3/connectors/microsoft",
        json!({"settings": {"tenant": "organizations"}}),
    )
    .await;
    assert_eq!(
        updated.data()["settings"],
        json!({"tenant": "organizations"})
    );
    let absent = patch(&t, "/v3/connectors/google", json!({"scope": []})).await;
    assert_eq!(absent.status, 404);
    let bad = patch(
        &t,
        "/v3/connectors/microsoft",
        json!({"scope": "Mail.Read"}),
    )
    .await;
    assert_eq!(bad.status, 400);

    let listed = t.get(US_V3_KEY, "/v3/connectors?limit=5&offset=0").await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    assert_eq!(listed.body["limit"], 5);
    t.finish().await;
}

#[tokio::test]
async fn webhooks_are_created_once_with_a_secret_then_listed_and_updated() {
    let t = TestSim::fixture().await;
    let created = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(json!({
                "webhook_url": "https://hooks.acme.example/nylas",
                "trigger_types": ["grant.created", "grant.expired", "message.created"],
                "description": "prod",
                "notification_email_addresses": ["ops@acme.example"]
            })),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let secret = created.data()["webhook_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!secret.is_empty());
    assert_eq!(created.data()["status"], "active");
    let id = created.data()["id"].as_str().unwrap().to_string();

    let listed = t.get(US_V3_KEY, "/v3/webhooks").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    assert_eq!(
        listed.data()[0]["webhook_url"],
        "https://hooks.acme.example/nylas"
    );
    assert!(!listed.body.to_string().contains(&secret));
    let got = t.get(US_V3_KEY, &format!("/v3/webhooks/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.data()["trigger_types"],
        json!(["grant.created", "grant.expired", "message.created"])
    );
    assert!(got.data().get("webhook_secret").is_none());

    // Fields left out are kept; status can pause it.
    let updated = t
        .put(
            US_V3_KEY,
            &format!("/v3/webhooks/{id}"),
            json!({"trigger_types": ["grant.created"], "status": "pause"}),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.data()["trigger_types"], json!(["grant.created"]));
    assert_eq!(updated.data()["status"], "pause");
    assert_eq!(updated.data()["description"], "prod");
    assert_eq!(
        updated.data()["webhook_url"],
        "https://hooks.acme.example/nylas"
    );

    let unknown = t
        .put(US_V3_KEY, "/v3/webhooks/nope", json!({"description": "x"}))
        .await;
    assert_eq!(unknown.status, 400);
    let unknown = t.get(US_V3_KEY, "/v3/webhooks/nope").await;
    assert_eq!(unknown.status, 400);
    for body in [
        json!({"webhook_url": "ftp://x", "trigger_types": ["grant.created"]}),
        json!({"webhook_url": "https://x.example", "trigger_types": ["grant.exploded"]}),
        json!({"webhook_url": "https://x.example", "trigger_types": []}),
        json!({"trigger_types": ["grant.created"]}),
    ] {
        let r = t.post(US_V3_KEY, "/v3/webhooks", Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}");
    }
    let bad_status = t
        .put(
            US_V3_KEY,
            &format!("/v3/webhooks/{id}"),
            json!({"status": "failing"}),
        )
        .await;
    assert_eq!(bad_status.status, 400);
    // Webhooks belong to their application.
    let other = t.get(US_V3_OTHER_KEY, "/v3/webhooks").await;
    assert_eq!(other.data().as_array().unwrap().len(), 0);
    t.finish().await;
}

#[tokio::test]
async fn translate_pages_by_next_page_number() {
    let t = TestSim::fixture().await;
    let body = |account: &str, page: Option<u64>| {
        let mut b = json!({"resource_type": "messages", "v2_account_id": account});
        if let Some(page) = page {
            b["next_page_number"] = json!(page);
        }
        b
    };
    let unlinked = t
        .post(
            US_V3_KEY,
            "/v3/migration-tools/translate",
            Some(body(US_ACCOUNTS[0].0, None)),
        )
        .await;
    assert_eq!(unlinked.status, 400);
    t.link_and_import_us().await;

    // Walk every account's messages; at least one needs a second page.
    let mut paged = false;
    for (account, provider, migratable) in US_ACCOUNTS {
        if provider == AccountProvider::Microsoft && !migratable {
            // The fixture's Microsoft consumer account (outlook.com): v2's provider `Outlook`,
            // which translate does not serve.
            let r = t
                .post(
                    US_V3_KEY,
                    "/v3/migration-tools/translate",
                    Some(body(account, None)),
                )
                .await;
            assert_eq!(r.status, 400, "{:?}", r.body);
            assert!(r.body.to_string().contains("Outlook"), "{:?}", r.body);
            continue;
        }
        let mut page = None;
        let mut seen = 0;
        loop {
            let r = t
                .post(
                    US_V3_KEY,
                    "/v3/migration-tools/translate",
                    Some(body(account, page)),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            let translations = r.data()["translations"].as_array().unwrap();
            assert!(translations.len() <= 3000);
            assert_eq!(r.data()["v2_account_id"], account);
            assert_eq!(r.data()["v2_application_id"], US_V2);
            seen += translations.len();
            match r.data()["next_page_number"].as_u64() {
                Some(next) => {
                    assert_eq!(translations.len(), 3000);
                    paged = true;
                    page = Some(next);
                }
                None => break,
            }
        }
        assert!(seen < 7000);
    }
    assert!(paged, "no account needed a second page");

    // With `nylas_ids`, only those the account has are translated.
    let events = t
        .post(
            US_V3_KEY,
            "/v3/migration-tools/translate",
            Some(json!({"resource_type": "events", "v2_account_id": US_ACCOUNTS[0].0})),
        )
        .await;
    let known = events.data()["translations"][1].clone();
    let ids = t
        .post(
            US_V3_KEY,
            "/v3/migration-tools/translate",
            Some(json!({"resource_type": "events", "v2_account_id": US_ACCOUNTS[0].0, "nylas_ids": ["4ro91k0t3ofvzs3b3lij6iqa2", known["v2_resource_id"]]})),
        )
        .await;
    assert_eq!(ids.data()["translations"], json!([known]));
    let bad_type = t
        .post(
            US_V3_KEY,
            "/v3/migration-tools/translate",
            Some(json!({"resource_type": "emails", "v2_account_id": US_ACCOUNTS[0].0})),
        )
        .await;
    assert_eq!(bad_type.status, 400);
    let foreign = t
        .post(
            US_V3_KEY,
            "/v3/migration-tools/translate",
            Some(body(EU_ACCOUNTS[0], None)),
        )
        .await;
    assert_eq!(foreign.status, 400);
    // Translate is not a write.
    assert_eq!(t.sim.stats().writes(), 2);
    t.finish().await;
}

#[tokio::test]
async fn translate_from_a_timestamp_and_imap_folders_by_name() {
    use nylas_migrate::simulator::AccountObjects;
    let t = TestSim::fixture().await;
    t.link_and_import_us().await;
    let fixture = fixture_world();
    let account = |id: &str| {
        fixture.v2_apps[0]
            .accounts
            .iter()
            .find(|a| a.id == id)
            .unwrap()
            .clone()
    };
    // `start_from_timestamp`: only objects created strictly after it, oldest first.
    let google = account(US_ACCOUNTS[0].0);
    let objects = AccountObjects::new(&google, "contacts").unwrap();
    assert!(objects.count() > 3, "the fixture account has few contacts");
    let since = AccountObjects::created_at(2);
    let r = t
        .post(
            US_V3_KEY,
            "/v3/migration-tools/translate",
            Some(json!({"resource_type": "contacts", "v2_account_id": google.id, "start_from_timestamp": since})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let translations = r.data()["translations"].as_array().unwrap().clone();
    assert_eq!(translations.len(), objects.count() - 3);
    assert_eq!(translations[0]["v2_resource_id"], objects.v2_id(3));
    // IMAP folders come back by name (their v3 ID is base64 of `v0:<grant>:<name>`).
    let imap = account("i00000000000000000000000a");
    let r = t
        .post(
            US_V3_KEY,
            "/v3/migration-tools/translate",
            Some(json!({"resource_type": "folders", "v2_account_id": imap.id})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["translations"][0]["v3_resource_id"], "INBOX");
    t.finish().await;
}
