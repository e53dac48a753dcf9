//! The contract test: the simulator answers every operation, successes and errors, with bodies
//! that validate against ../shared/nylas-openapi/nylas-v3-migration.openapi.yaml (or
//! $NYLAS_OPENAPI). Every other simulator test checks its own responses the same way in
//! `TestSim::finish`; this one makes sure each operation and each error status is covered, and
//! that the validator can fail.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::contract::{CONDITIONAL_FIELDS, Contract};
use crate::support::receiver::Receiver;
use crate::support::sim::*;
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::simulator::SimulatorConfig;
use reqwest::Method;
use serde_json::json;

#[test]
fn the_validator_rejects_bodies_that_break_the_contract() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let job = json!({
        "job_id": "j", "type": "migration", "public_application_id": "a", "status": "running",
        "count_all": 1, "count_success": 0, "count_failed": 0, "count_warning": 0,
        "created_at": 1, "updated_at": 1
    });
    let ok = json!({"request_id": "r", "data": [job.clone()]});
    contract
        .validate_response(Some("migration_get_jobs"), 200, &ok)
        .unwrap();
    let mut extra = job.clone();
    extra["surprise"] = json!(true);
    let bad = json!({"request_id": "r", "data": [extra]});
    assert!(
        contract
            .validate_response(Some("migration_get_jobs"), 200, &bad)
            .is_err()
    );
    let mut wrong_status = job;
    wrong_status["status"] = json!("done");
    let bad = json!({"request_id": "r", "data": [wrong_status]});
    assert!(
        contract
            .validate_response(Some("migration_get_jobs"), 200, &bad)
            .is_err()
    );
    // Refs into components are resolved: a grant without its required `scope`.
    let grant =
        json!({"request_id": "r", "data": {"id": "g", "provider": "google", "created_at": 1}});
    assert!(
        contract
            .validate_response(Some("get_grant_by_id"), 200, &grant)
            .is_err()
    );
    let error = json!({"request_id": "r", "error": {"type": "x", "message": "y"}, "extra": 1});
    assert!(
        contract
            .validate_response(Some("get_grant_by_id"), 404, &error)
            .is_err()
    );

    // Completeness: every listed property, not only the required ones, recursively.
    let app = json!({"request_id": "r", "data": {"application_id": "a", "region": "us"}});
    let missing = contract
        .missing_fields(Some("get_application"), 200, &app, &[])
        .unwrap();
    for field in [
        "data.branding",
        "data.v2_application_id",
        "data.callback_uris",
    ] {
        assert!(missing.contains(&field.to_string()), "{missing:?}");
    }
    let app = json!({"request_id": "r", "data": {"branding": {"name": "n"}}});
    let missing = contract
        .missing_fields(Some("get_application"), 200, &app, &[])
        .unwrap();
    assert!(
        missing.contains(&"data.branding.icon_url".to_string()),
        "{missing:?}"
    );
    let grants = json!({"request_id": "r", "limit": 1, "offset": 0, "data": [{"id": "g"}]});
    let missing = contract
        .missing_fields(Some("get-all-grants"), 200, &grants, &[])
        .unwrap();
    assert!(missing.contains(&"data[].scope".to_string()), "{missing:?}");
    assert!(
        missing.contains(&"data[].email_aliases".to_string()),
        "{missing:?}"
    );
    let excused = contract
        .missing_fields(Some("get-all-grants"), 200, &grants, &CONDITIONAL_FIELDS)
        .unwrap();
    assert!(
        !excused.contains(&"data[].email_aliases".to_string()),
        "{excused:?}"
    );
    let error = json!({"request_id": "r", "error": {"type": "x", "message": "y"}});
    let missing = contract
        .missing_fields(Some("get_grant_by_id"), 404, &error, &[])
        .unwrap();
    assert_eq!(missing, ["error.provider_error"]);

    // Request bodies and query parameters, for the client's tests.
    let batch = contract
        .request_body_validator("migration_snapshot_batch_clone")
        .unwrap()
        .unwrap();
    assert!(batch.is_valid(&json!({"limit": 10, "providers": ["google"], "mode": "only_new"})));
    assert!(!batch.is_valid(&json!({"mode": "sometimes"})));
    let query = contract.query_validator("get-all-grants").unwrap().unwrap();
    assert!(query.is_valid(&json!({"limit": 50, "account_ids": "a,b"})));
    assert!(!query.is_valid(&json!({"limit": "fifty"})));
}

/// The contract's known defects around channels (its README): relaxed in memory exactly where a
/// real request or answer could not validate, and nowhere else.
#[test]
fn the_channel_defects_are_relaxed_exactly() {
    let Some(contract) = Contract::load() else {
        return;
    };
    // `pubsub_input_payload` requires `webhook_url` (not one of its properties) and not
    // `topic`: relaxed to require `trigger_types` and `topic`.
    let create = contract
        .request_body_validator("create-pubsub-channel")
        .unwrap()
        .unwrap();
    assert!(
        create
            .is_valid(&json!({"trigger_types": ["grant.created"], "topic": "projects/p/topics/t"}))
    );
    assert!(!create.is_valid(&json!({"trigger_types": ["grant.created"]})));
    assert!(!create.is_valid(&json!({"topic": "projects/p/topics/t"})));
    assert!(!create.is_valid(
        &json!({"trigger_types": ["grant.created"], "webhook_url": "https://h.example"})
    ));
    let raw: serde_json::Value = nylas_migrate::yaml::from_str(
        &std::fs::read_to_string(support::contract::contract_path().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        raw.pointer("/components/schemas/pubsub_input_payload/required"),
        Some(&json!(["trigger_types", "webhook_url"])),
        "the file is unchanged: the defect is only relaxed in memory"
    );
    // The paused status: `paused` in the lists, `pause` in get, update and requests. Not
    // relaxed: each answer follows its own schema, so each spelling is refused where the other
    // belongs.
    let channel = |status: &str| json!({"id": "c", "topic": "projects/p/topics/t", "trigger_types": ["grant.created"], "status": status});
    for (op, status, listed) in [
        ("get-pubsub-channels", "paused", true),
        ("get-sns-channels", "paused", true),
        ("get-pubsub-by-id", "pause", false),
        ("put-sns-by-id", "pause", false),
    ] {
        let wrap = |s: &str| {
            if listed {
                json!({"request_id": "r", "data": [channel(s)]})
            } else {
                json!({"request_id": "r", "data": channel(s)})
            }
        };
        let other = if status == "paused" {
            "pause"
        } else {
            "paused"
        };
        contract
            .validate_response(Some(op), 200, &wrap(status))
            .unwrap();
        assert!(
            contract
                .validate_response(Some(op), 200, &wrap(other))
                .is_err(),
            "{op} {other}"
        );
    }
}

#[tokio::test]
async fn every_operation_and_error_status_answers_within_the_contract() {
    let t = TestSim::start(SimulatorConfig {
        rate_limit: 1000,
        ..fixture_config()
    })
    .await;
    let account = US_ACCOUNTS[0].0;
    // Before a link: 400s of the migration tools.
    t.post(US_V3_KEY, "/v3/migration-tools/import-v2-app", None)
        .await;
    t.post(
        US_V3_KEY,
        &format!("/v3/migration-tools/grants/{account}/clone"),
        None,
    )
    .await;
    t.post(US_V3_KEY, "/v3/migration-tools/snapshot-batch-clone", None)
        .await;
    t.post(
        US_V3_KEY,
        "/v3/migration-tools/translate",
        Some(json!({"resource_type": "messages", "v2_account_id": account})),
    )
    .await;
    // 401 on every operation.
    for op in Operation::ALL {
        let path = op
            .path_template()
            .replace("{account_id}", account)
            .replace("{provider}", "google")
            .replace("{grantId}", "g")
            .replace("{id}", "w");
        let method = Method::from_bytes(op.method().as_bytes()).unwrap();
        let r = t
            .send(Region::Us, method, &path, Some("wrong-key"), None, &[])
            .await;
        assert_eq!(r.status, 401, "{op}");
    }
    t.link_and_import_us().await;
    t.fix_microsoft().await;
    t.post(
        US_V3_KEY,
        "/v3/connectors",
        Some(json!({"provider": "zoom", "settings": {"client_id": "z", "client_secret": "s"}})),
    )
    .await;
    t.get(US_V3_KEY, "/v3/connectors").await;
    t.get(US_V3_KEY, "/v3/connectors/google").await;
    t.get(US_V3_KEY, "/v3/connectors/yahoo").await;
    t.send(
        Region::Us,
        Method::PATCH,
        "/v3/connectors/yahoo",
        Some(US_V3_KEY),
        Some(json!({})),
        &[],
    )
    .await;
    t.get(US_V3_KEY, "/v3/applications").await;
    let grant = t
        .post(
            US_V3_KEY,
            &format!("/v3/migration-tools/grants/{account}/clone"),
            None,
        )
        .await;
    t.post(
        US_V3_KEY,
        &format!("/v3/migration-tools/grants/{}/clone", US_ACCOUNTS[4].0),
        None,
    )
    .await;
    t.get(
        US_V3_KEY,
        &format!("/v3/grants/{}", grant.data()["id"].as_str().unwrap()),
    )
    .await;
    t.get(US_V3_KEY, "/v3/grants/missing").await;
    t.get(US_V3_KEY, &format!("/v3/grants?account_ids={account}"))
        .await;
    t.post(
        US_V3_KEY,
        "/v3/migration-tools/snapshot-batch-clone",
        Some(json!({"mode": "only_new"})),
    )
    .await;
    for step in 0..4 {
        t.get(
            US_V3_KEY,
            "/v3/migration-tools/jobs?sort_by_completion=true",
        )
        .await;
        t.sim.advance(Duration::from_secs(2 + step));
    }
    t.post(
        US_V3_KEY,
        "/v3/migration-tools/translate",
        Some(json!({"resource_type": "folders", "v2_account_id": account})),
    )
    .await;
    // A webhook with trigger types beyond the list get-webhook-by-id declares.
    let hook = t
        .post(US_V3_KEY, "/v3/webhooks", Some(json!({"webhook_url": "https://h.example", "trigger_types": ["grant.created", "notetaker.media"]})))
        .await;
    let id = hook.data()["id"].as_str().unwrap();
    t.get(US_V3_KEY, "/v3/webhooks").await;
    t.get(US_V3_KEY, &format!("/v3/webhooks/{id}")).await;
    t.put(
        US_V3_KEY,
        &format!("/v3/webhooks/{id}"),
        json!({"description": "d"}),
    )
    .await;
    // Deleted as a person would (the runner never deletes): gone, and a second delete is the
    // contract's delete_400.
    let deleted = t
        .send(
            Region::Us,
            Method::DELETE,
            &format!("/v3/webhooks/{id}"),
            Some(US_V3_KEY),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(deleted.data()["status"], "success");
    assert_eq!(
        t.get(US_V3_KEY, &format!("/v3/webhooks/{id}")).await.status,
        400
    );
    let again = t
        .send(
            Region::Us,
            Method::DELETE,
            &format!("/v3/webhooks/{id}"),
            Some(US_V3_KEY),
            None,
            &[],
        )
        .await;
    assert_eq!(again.status, 400, "{:?}", again.body);
    t.post(
        US_V3_KEY,
        "/v3/webhooks",
        Some(json!({"webhook_url": "nope"})),
    )
    .await;
    // Verification refused by a loopback endpoint (the contract's create_400), test events
    // acknowledged, not acknowledged, and refused.
    let receiver = Receiver::start().await;
    let refused = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(json!({"webhook_url": receiver.url("/missing"), "trigger_types": ["grant.created"]})),
        )
        .await;
    assert_eq!(refused.status, 400);
    for url in [receiver.url("/echo"), receiver.url("/nack")] {
        let r = t
            .post(
                US_V3_KEY,
                "/v3/webhooks/send-test-event",
                Some(json!({"trigger_type": "grant.expired", "webhook_url": url})),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    t.post(
        US_V3_KEY,
        "/v3/webhooks/send-test-event",
        Some(json!({"trigger_type": "grant.expired"})),
    )
    .await;
    // Both channel families: every operation, and each one's 400.
    let role = "arn:aws:iam::123456789012:role/nylas-publisher";
    for (kind, body) in [
        (
            "pubsub",
            json!({"trigger_types": ["grant.created"], "topic": "projects/acme/topics/events"}),
        ),
        (
            "sns",
            json!({"trigger_types": ["grant.created"], "topic": "arn:aws:sns:us-east-1:123456789012:events", "role_arn": role}),
        ),
    ] {
        let base = format!("/v3/channels/{kind}");
        let created = t.post(US_V3_KEY, &base, Some(body)).await;
        assert_eq!(created.status, 200, "{:?}", created.body);
        let id = created.data()["id"].as_str().unwrap().to_string();
        let path = format!("{base}/{id}");
        t.get(US_V3_KEY, &base).await;
        t.get(US_V3_KEY, &path).await;
        let paused = json!({"status": "pause"});
        t.put(US_V3_KEY, &path, paused.clone()).await;
        t.get(US_V3_KEY, &base).await;
        t.get(US_V3_KEY, &format!("{base}/nope")).await;
        t.put(US_V3_KEY, &format!("{base}/nope"), paused).await;
        t.post(
            US_V3_KEY,
            &base,
            Some(json!({"trigger_types": ["grant.created"]})),
        )
        .await;
        for _ in 0..2 {
            t.send(
                Region::Us,
                Method::DELETE,
                &path,
                Some(US_V3_KEY),
                None,
                &[],
            )
            .await;
        }
    }
    // Redirect URIs: every operation, 400s and 404s.
    let uris = "/v3/applications/redirect-uris";
    let added = t
        .post(
            US_V3_KEY,
            uris,
            Some(json!({"url": "com.acme.app://oauth", "platform": "ios", "settings": {"bundle_id": "com.acme.app"}})),
        )
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    let uri = format!("{uris}/{}", added.data()["id"].as_str().unwrap());
    t.get(US_V3_KEY, uris).await;
    t.get(US_V3_KEY, &uri).await;
    t.get(US_V3_KEY, "/v3/applications").await;
    t.send(
        Region::Us,
        Method::PATCH,
        &uri,
        Some(US_V3_KEY),
        Some(json!({"url": "https://app.acme.example/cb", "platform": "android", "settings": {"package_name": "com.acme", "sha1_certificate_fingerprint": "AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90:AB:CD:EF:12"}})),
        &[],
    )
    .await;
    t.send(
        Region::Us,
        Method::PATCH,
        &uri,
        Some(US_V3_KEY),
        Some(json!({"url": "https://x.example"})),
        &[],
    )
    .await;
    t.post(
        US_V3_KEY,
        uris,
        Some(json!({"url": "http://app.acme.example/cb"})),
    )
    .await;
    for _ in 0..2 {
        t.send(Region::Us, Method::DELETE, &uri, Some(US_V3_KEY), None, &[])
            .await;
    }
    t.get(US_V3_KEY, &uri).await;
    t.send(
        Region::Us,
        Method::PATCH,
        &uri,
        Some(US_V3_KEY),
        Some(json!({"url": "https://x.example", "platform": "web"})),
        &[],
    )
    .await;
    // Off-contract answers: unknown path, wrong method, 429, 5xx.
    t.get(US_V3_KEY, "/v3/nothing").await;
    t.send(
        Region::Us,
        Method::DELETE,
        "/v3/grants",
        Some(US_V3_KEY),
        None,
        &[],
    )
    .await;
    t.sim.set_faults(1.0, 0.0);
    t.get(US_V3_KEY, "/v3/applications").await;
    t.sim.set_faults(0.0, 0.0);

    let covered: BTreeSet<(Option<Operation>, u16)> = t
        .sim
        .recorded_responses()
        .iter()
        .map(|r| (r.operation, r.status))
        .collect();
    for op in Operation::ALL {
        assert!(
            covered
                .iter()
                .any(|(o, s)| *o == Some(op) && (200..300).contains(s)),
            "{op} never succeeded"
        );
    }
    for (op, status) in [
        (Operation::ImportV2App, 400),
        (Operation::CloneSingleAccount, 400),
        (Operation::SnapshotBatchClone, 400),
        (Operation::Translate, 400),
        (Operation::GetConnector, 404),
        (Operation::UpdateConnector, 404),
        (Operation::GetGrant, 404),
        (Operation::CreateWebhook, 400),
        (Operation::SendTestEvent, 400),
        (Operation::CreatePubsubChannel, 400),
        (Operation::GetPubsubChannel, 400),
        (Operation::DeleteWebhook, 400),
        (Operation::UpdatePubsubChannel, 400),
        (Operation::DeletePubsubChannel, 400),
        (Operation::CreateSnsChannel, 400),
        (Operation::GetSnsChannel, 400),
        (Operation::UpdateSnsChannel, 400),
        (Operation::DeleteSnsChannel, 400),
        (Operation::AddRedirectUri, 400),
        (Operation::GetRedirectUri, 404),
        (Operation::UpdateRedirectUri, 400),
        (Operation::UpdateRedirectUri, 404),
        (Operation::DeleteRedirectUri, 404),
    ] {
        assert!(
            covered.contains(&(Some(op), status)),
            "{op} {status} not covered"
        );
    }
    t.finish().await;
}

#[tokio::test]
async fn rate_limited_answers_keep_the_error_shape() {
    let t = TestSim::start(SimulatorConfig {
        rate_limit: 1,
        ..fixture_config()
    })
    .await;
    t.get(US_V3_KEY, "/v3/grants").await;
    let limited = t.get(US_V3_KEY, "/v3/grants").await;
    assert_eq!(limited.status, 429);
    t.finish().await;
}

#[tokio::test]
async fn hostile_input_gets_a_4xx_never_a_crash() {
    let t = TestSim::start(SimulatorConfig {
        rate_limit: 0,
        ..fixture_config()
    })
    .await;
    t.link_and_import_us().await;
    let bodies: [&[u8]; 7] = [
        b"",
        b"{",
        b"null",
        b"[]",
        b"\xff\xfe",
        b"{\"limit\": 1e309, \"offset\": 18446744073709551616}",
        b"{\"resource_type\": \"messages\", \"v2_account_id\": \"g00000000000000000000000a\", \"start_from_timestamp\": -9223372036854775808, \"next_page_number\": 18446744073709551615}",
    ];
    let paths = [
        (Method::POST, "/v3/migration-tools/link-v2v3-apps"),
        (
            Method::POST,
            "/v3/migration-tools/snapshot-batch-clone?limit=%zz",
        ),
        (Method::POST, "/v3/migration-tools/translate"),
        (Method::POST, "/v3/migration-tools/grants/%ff%fe/clone"),
        (Method::POST, "/v3/connectors"),
        (Method::PATCH, "/v3/connectors/microsoft"),
        (Method::POST, "/v3/webhooks"),
        (Method::PUT, "/v3/webhooks/x"),
        (Method::POST, "/v3/webhooks/send-test-event"),
        (Method::POST, "/v3/channels/pubsub"),
        (Method::PUT, "/v3/channels/sns/x"),
        (Method::POST, "/v3/applications/redirect-uris"),
        (Method::PATCH, "/v3/applications/redirect-uris/x"),
        (
            Method::GET,
            "/v3/grants?limit=-1&offset=99999999999999999999999",
        ),
        (
            Method::GET,
            "/v3/migration-tools/jobs?status=&type=,,&sort_by_completion=yes",
        ),
    ];
    for (method, path) in paths {
        for body in bodies {
            let r = t
                .http
                .request(method.clone(), t.url(Region::Us, path))
                .bearer_auth(US_V3_KEY)
                .header("BasicV2", "%%%not base64")
                .body(body.to_vec())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!(
                (400..500).contains(&status) || status == 200,
                "{method} {path}: {status}"
            );
        }
    }
    // The server is still up and consistent.
    assert_eq!(t.get(US_V3_KEY, "/v3/applications").await.status, 200);
    let oversized = t
        .http
        .post(t.url(Region::Us, "/v3/webhooks"))
        .bearer_auth(US_V3_KEY)
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 400);
    t.finish().await;
}
