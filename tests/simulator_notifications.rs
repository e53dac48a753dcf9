//! Notifications and sign-in in the simulator: webhook verification and test events delivered
//! for real to a receiver on 127.0.0.1, Pub/Sub and SNS channels with their statuses and limits,
//! redirect URIs per platform, import's copy of the v2 app's redirect URIs, and what a world file
//! seeds. Every answer is checked against the contract by `TestSim::finish`.

use crate::support::receiver::Receiver;
use crate::support::sim::*;
use hmac::{Hmac, Mac};
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::simulator::{EmptyFields, SeededChannel, SeededRedirectUri, SimulatorConfig};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

async fn patch(t: &TestSim, path: &str, body: Value) -> Answer {
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

async fn delete(t: &TestSim, path: &str) -> Answer {
    t.send(Region::Us, Method::DELETE, path, Some(US_V3_KEY), None, &[])
        .await
}

fn hook(url: &str) -> Value {
    json!({"trigger_types": ["grant.created", "grant.expired"], "webhook_url": url})
}

#[tokio::test]
async fn a_webhook_is_created_only_when_its_endpoint_echoes_the_challenge() {
    let t = TestSim::fixture().await;
    let receiver = Receiver::start().await;

    let created = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(hook(&receiver.url("/echo"))),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let challenges = receiver.seen_at("/echo");
    assert_eq!(challenges.len(), 1, "one verification request");
    assert_eq!(challenges[0].method, "GET");
    assert!(
        challenges[0]
            .challenge
            .as_ref()
            .is_some_and(|c| c.len() >= 16),
        "{challenges:?}"
    );

    // An endpoint that answers 404: the contract's create_400, and nothing stored.
    let refused = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(hook(&receiver.url("/missing"))),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["type"], "70005");
    assert_eq!(
        refused.error_message(),
        "unable.verify.webhook_url : status is not ok, got 404"
    );
    assert_eq!(receiver.seen_at("/missing").len(), 1);
    // An endpoint that answers 200 with another body is refused too.
    let wrong = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(hook(&receiver.url("/wrong"))),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.error_message().contains("not the challenge"),
        "{:?}",
        wrong.body
    );
    let listed = t.get(US_V3_KEY, "/v3/webhooks").await;
    assert_eq!(
        listed.data().as_array().unwrap().len(),
        1,
        "{:?}",
        listed.body
    );
    assert_eq!(t.sim.world().app(US_V3).unwrap().webhooks.len(), 1);

    // Moving the destination verifies the new URL; an update that keeps it does not.
    let id = created.data()["id"].as_str().unwrap().to_string();
    let moved = t
        .put(
            US_V3_KEY,
            &format!("/v3/webhooks/{id}"),
            json!({"webhook_url": receiver.url("/missing")}),
        )
        .await;
    assert_eq!(moved.status, 400);
    assert!(
        moved
            .error_message()
            .starts_with("unable.verify.webhook_url")
    );
    let kept = t.get(US_V3_KEY, &format!("/v3/webhooks/{id}")).await;
    assert_eq!(kept.data()["webhook_url"], receiver.url("/echo").as_str());
    let before = receiver.seen().len();
    let same = t
        .put(
            US_V3_KEY,
            &format!("/v3/webhooks/{id}"),
            json!({"webhook_url": receiver.url("/echo"), "description": "same URL"}),
        )
        .await;
    assert_eq!(same.status, 200);
    assert_eq!(
        receiver.seen().len(),
        before,
        "no challenge for an unchanged URL"
    );
    let moved = t
        .put(
            US_V3_KEY,
            &format!("/v3/webhooks/{id}"),
            json!({"webhook_url": receiver.url("/nack")}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(receiver.seen_at("/nack").len(), 1);

    // Other hosts are never contacted: reachable unless the world lists them unreachable.
    let before = receiver.seen().len();
    let remote = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(hook("https://hooks.acme.example/nylas")),
        )
        .await;
    assert_eq!(remote.status, 200);
    let down = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(hook(&format!("https://{UNREACHABLE_HOST}/nylas"))),
        )
        .await;
    assert_eq!(down.status, 400);
    assert!(
        down.error_message().contains("cannot connect"),
        "{:?}",
        down.body
    );
    assert_eq!(receiver.seen().len(), before);
    // Plain http is only for this machine.
    let insecure = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(hook("http://hooks.acme.example/nylas")),
        )
        .await;
    assert_eq!(insecure.status, 400);
    assert!(insecure.error_message().contains("https"));
    t.finish().await;
}

#[tokio::test]
async fn a_test_event_is_delivered_signed_and_reports_the_acknowledgement() {
    let t = TestSim::fixture().await;
    let receiver = Receiver::start().await;
    let test = |url: String| json!({"trigger_type": "grant.expired", "webhook_url": url});

    let acked = t
        .post(
            US_V3_KEY,
            "/v3/webhooks/send-test-event",
            Some(test(receiver.url("/echo"))),
        )
        .await;
    assert_eq!(acked.status, 200, "{:?}", acked.body);
    assert_eq!(acked.data(), "success");
    let events = receiver.seen_at("/echo");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].method, "POST");
    let event: Value = serde_json::from_slice(&events[0].body).unwrap();
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "grant.expired");
    assert_eq!(event["source"], "/nylas/system");
    assert_eq!(event["data"]["application_id"], US_V3);
    assert!(event["data"]["object"]["grant_id"].is_string(), "{event}");
    assert!(event["time"].is_i64() && event["id"].is_string(), "{event}");
    // Signed as the contract says: with `mock-webhook-secret`.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"mock-webhook-secret").unwrap();
    mac.update(&events[0].body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(events[0].signature.as_deref(), Some(expected.as_str()));

    // Not acknowledged: still a 200, with `data` saying why.
    let nacked = t
        .post(
            US_V3_KEY,
            "/v3/webhooks/send-test-event",
            Some(test(receiver.url("/nack"))),
        )
        .await;
    assert_eq!(nacked.status, 200);
    let data = nacked.data().as_str().unwrap();
    assert!(data.starts_with("failed") && data.contains("500"), "{data}");
    let down = t
        .post(
            US_V3_KEY,
            "/v3/webhooks/send-test-event",
            Some(test(format!("https://{UNREACHABLE_HOST}/h"))),
        )
        .await;
    assert!(down.data().as_str().unwrap().contains("cannot connect"));
    let up = t
        .post(
            US_V3_KEY,
            "/v3/webhooks/send-test-event",
            Some(test("https://hooks.acme.example/h".into())),
        )
        .await;
    assert_eq!(up.data(), "success");
    // The contract's own trigger list for tests: the truncated variants are testable, newer
    // triggers are not.
    let truncated = t
        .post(
            US_V3_KEY,
            "/v3/webhooks/send-test-event",
            Some(json!({"trigger_type": "message.created.truncated", "webhook_url": receiver.url("/echo")})),
        )
        .await;
    assert_eq!(truncated.data(), "success");
    let newer = t
        .post(
            US_V3_KEY,
            "/v3/webhooks/send-test-event",
            Some(json!({"trigger_type": "notetaker.media", "webhook_url": receiver.url("/echo")})),
        )
        .await;
    assert_eq!(newer.status, 400);
    assert_eq!(
        receiver.seen_at("/echo").len(),
        2,
        "nothing sent for a refused request"
    );
    // A test event changes nothing at Nylas: it is not a write.
    let stats = t.sim.stats();
    assert_eq!(stats.op_total(Operation::SendTestEvent), 6);
    assert_eq!(stats.writes(), 0);
    t.finish().await;
}

#[tokio::test]
async fn pubsub_channels_have_forms_statuses_and_a_limit_of_five() {
    let t = TestSim::fixture().await;
    let channel = |n: usize| {
        json!({
            "trigger_types": ["message.created", "grant.expired"],
            "topic": format!("projects/acme-prod/topics/nylas-events-{n}"),
        })
    };
    let first = t
        .post(
            US_V3_KEY,
            "/v3/channels/pubsub",
            Some(json!({
                "description": "Production Pub/Sub",
                "trigger_types": ["message.created"],
                "topic": "projects/acme-prod/topics/nylas-events-0",
                "notification_email_addresses": ["ops@acme.example"],
                "compressed_delivery": true
            })),
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.data()["status"], "active");
    assert_eq!(first.data()["compressed_delivery"], true);
    for n in 1..5 {
        let created = t
            .post(US_V3_KEY, "/v3/channels/pubsub", Some(channel(n)))
            .await;
        assert_eq!(created.status, 200, "{n}: {:?}", created.body);
    }
    let sixth = t
        .post(US_V3_KEY, "/v3/channels/pubsub", Some(channel(5)))
        .await;
    assert_eq!(sixth.status, 400, "{:?}", sixth.body);
    assert_eq!(sixth.body["error"]["type"], "70005");
    assert!(
        sixth.error_message().contains("at most 5 Pub/Sub channels"),
        "{:?}",
        sixth.body
    );
    assert_eq!(t.sim.world().app(US_V3).unwrap().pubsub_channels.len(), 5);
    // The limit is per application.
    let other = t
        .post(US_V3_OTHER_KEY, "/v3/channels/pubsub", Some(channel(5)))
        .await;
    assert_eq!(other.status, 200);

    // Forms and required fields, in the contract's words.
    for (body, expected) in [
        (
            json!({"trigger_types": ["grant.created"]}),
            "invalid.input.format : topic is required",
        ),
        (
            json!({"trigger_types": ["grant.created"], "topic": "nylas-events"}),
            "projects/<project>/topics/<topic>",
        ),
        (
            json!({"trigger_types": [], "topic": "projects/a-b/topics/events"}),
            "trigger_types must not be empty",
        ),
        (
            json!({"trigger_types": ["grant.created"], "topic": "projects/a-b/topics/events", "webhook_url": "https://x.example"}),
            "unknown field \"webhook_url\"",
        ),
    ] {
        let r = t
            .post(US_V3_OTHER_KEY, "/v3/channels/pubsub", Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.error_message().contains(expected), "{body}: {:?}", r.body);
    }

    // Statuses: pause, as the update and get schemas spell it; `paused` in the list's.
    let id = first.data()["id"].as_str().unwrap().to_string();
    let paused = t.put(US_V3_KEY, &format!("/v3/channels/pubsub/{id}"),
        json!({"status": "pause", "trigger_types": ["grant.expired"], "notification_email_addresses": []}),
    )
    .await;
    assert_eq!(paused.status, 200, "{:?}", paused.body);
    assert_eq!(paused.data()["status"], "pause");
    assert_eq!(paused.data()["trigger_types"], json!(["grant.expired"]));
    assert_eq!(paused.data()["notification_email_addresses"], json!([]));
    assert_eq!(paused.data()["description"], "Production Pub/Sub", "kept");
    assert!(paused.data()["status_updated_at"].is_i64());
    let got = t.get(US_V3_KEY, &format!("/v3/channels/pubsub/{id}")).await;
    assert_eq!(got.data()["status"], "pause");
    let listed = t.get(US_V3_KEY, "/v3/channels/pubsub").await;
    let statuses: Vec<&str> = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["paused", "active", "active", "active", "active"]);
    let restarted = t
        .put(
            US_V3_KEY,
            &format!("/v3/channels/pubsub/{id}"),
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(restarted.data()["status"], "active");
    let bad_status = t
        .put(
            US_V3_KEY,
            &format!("/v3/channels/pubsub/{id}"),
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(bad_status.status, 400, "requests spell it pause");
    let bad_topic = t
        .put(
            US_V3_KEY,
            &format!("/v3/channels/pubsub/{id}"),
            json!({"topic": "arn:aws:sns:us-east-1:123456789012:t"}),
        )
        .await;
    assert_eq!(bad_topic.status, 400);

    // Unknown ids, delete, and room for a new one.
    assert_eq!(
        t.get(US_V3_KEY, "/v3/channels/pubsub/nope").await.status,
        400
    );
    assert_eq!(
        t.put(
            US_V3_KEY,
            "/v3/channels/pubsub/nope",
            json!({"status": "active"})
        )
        .await
        .status,
        400
    );
    let deleted = delete(&t, &format!("/v3/channels/pubsub/{id}")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.data()["status"], "success");
    let again = delete(&t, &format!("/v3/channels/pubsub/{id}")).await;
    assert_eq!(again.status, 400);
    assert!(again.error_message().contains("destination.id.not.found"));
    let replaced = t
        .post(US_V3_KEY, "/v3/channels/pubsub", Some(channel(5)))
        .await;
    assert_eq!(replaced.status, 200, "a fifth again after a delete");
    t.finish().await;
}

#[tokio::test]
async fn sns_channels_need_a_topic_arn_and_a_role() {
    let t = TestSim::fixture().await;
    let topic = "arn:aws:sns:us-east-1:123456789012:nylas-events";
    let role = "arn:aws:iam::123456789012:role/nylas-publisher";
    let created = t
        .post(
            US_V3_KEY,
            "/v3/channels/sns",
            Some(json!({"trigger_types": ["grant.expired"], "topic": topic, "role_arn": role})),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.data()["role_arn"], role);
    assert_eq!(created.data()["description"], "");
    assert_eq!(created.data()["compressed_delivery"], false);
    for (body, expected) in [
        (
            json!({"trigger_types": ["grant.expired"], "topic": topic}),
            "role_arn is required",
        ),
        (
            json!({"trigger_types": ["grant.expired"], "topic": "projects/a-b/topics/events", "role_arn": role}),
            "arn:aws:sns:",
        ),
        (
            json!({"trigger_types": ["grant.expired"], "topic": topic, "role_arn": "arn:aws:iam::123456789012:user/bob"}),
            "role/<role-name>",
        ),
    ] {
        let r = t
            .post(US_V3_KEY, "/v3/channels/sns", Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.error_message().contains(expected), "{body}: {:?}", r.body);
    }
    // More than five SNS channels are fine: the limit is Pub/Sub's.
    for n in 0..5 {
        let r = t
            .post(
                US_V3_KEY,
                "/v3/channels/sns",
                Some(json!({"trigger_types": ["grant.created"], "topic": format!("{topic}-{n}"), "role_arn": role})),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let id = created.data()["id"].as_str().unwrap().to_string();
    let other_role = "arn:aws:iam::123456789012:role/other";
    let updated = t
        .put(
            US_V3_KEY,
            &format!("/v3/channels/sns/{id}"),
            json!({"role_arn": other_role, "status": "pause", "compressed_delivery": true}),
        )
        .await;
    assert_eq!(updated.data()["role_arn"], other_role);
    assert_eq!(updated.data()["status"], "pause");
    let listed = t.get(US_V3_KEY, "/v3/channels/sns").await;
    assert_eq!(listed.data()[0]["status"], "paused");
    assert_eq!(listed.data().as_array().unwrap().len(), 6);
    assert_eq!(
        t.get(US_V3_KEY, &format!("/v3/channels/sns/{id}"))
            .await
            .data()["compressed_delivery"],
        true
    );
    assert_eq!(
        delete(&t, &format!("/v3/channels/sns/{id}")).await.status,
        200
    );
    assert_eq!(
        t.get(US_V3_KEY, &format!("/v3/channels/sns/{id}"))
            .await
            .status,
        400
    );
    // Reads are reads, and every create, update and delete a write.
    let stats = t.sim.stats();
    assert_eq!(stats.writes(), 1 + 3 + 5 + 1 + 1);
    t.finish().await;
}

#[tokio::test]
async fn redirect_uris_per_platform_and_import_copies_the_v2_apps() {
    let t = TestSim::fixture().await;
    assert!(
        t.get(US_V3_KEY, "/v3/applications/redirect-uris")
            .await
            .data()
            .as_array()
            .unwrap()
            .is_empty()
    );
    t.link_and_import_us().await;
    let listed = t.get(US_V3_KEY, "/v3/applications/redirect-uris").await;
    assert_eq!(listed.body["success"], true);
    let urls: Vec<(&str, &str)> = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["url"].as_str().unwrap(), u["platform"].as_str().unwrap()))
        .collect();
    assert_eq!(
        urls,
        US_V2_REDIRECT_URIS
            .iter()
            .map(|u| (*u, "web"))
            .collect::<Vec<_>>()
    );
    let app = t.get(US_V3_KEY, "/v3/applications").await;
    assert_eq!(app.data()["callback_uris"], *listed.data());
    // A second import copies nothing twice.
    t.post(US_V3_KEY, "/v3/migration-tools/import-v2-app", None)
        .await;
    assert_eq!(
        t.get(US_V3_KEY, "/v3/applications/redirect-uris")
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Each platform with its settings.
    let id = "0556d035-6cb6-4262-a035-6b77e11cf8fc";
    for (body, settings) in [
        (
            json!({"url": "https://app.acme.example/desktop", "platform": "desktop"}),
            None,
        ),
        (
            json!({"url": "https://app.acme.example/js", "platform": "js", "settings": {"origin": "https://app.acme.example"}}),
            Some(json!({"origin": "https://app.acme.example"})),
        ),
        (
            json!({"id": id, "url": "com.acme.app://oauth", "platform": "ios", "settings": {"bundle_id": "com.acme.app"}}),
            Some(json!({"bundle_id": "com.acme.app", "app_store_id": "", "team_id": ""})),
        ),
        (
            json!({"url": "https://app.acme.example/android", "platform": "android", "settings": {"package_name": "com.acme.app", "sha1_certificate_fingerprint": "AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90:AB:CD:EF:12"}}),
            Some(
                json!({"package_name": "com.acme.app", "sha1_certificate_fingerprint": "AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90:AB:CD:EF:12"}),
            ),
        ),
        // No platform: Nylas defaults to web.
        (json!({"url": "https://app.acme.example/web"}), None),
    ] {
        let added = t
            .post(
                US_V3_KEY,
                "/v3/applications/redirect-uris",
                Some(body.clone()),
            )
            .await;
        assert_eq!(added.status, 200, "{body}: {:?}", added.body);
        assert_eq!(added.data()["url"], body["url"]);
        assert_eq!(
            added.data()["platform"],
            body.get("platform").cloned().unwrap_or(json!("web"))
        );
        assert_eq!(added.data().get("settings").cloned(), settings, "{body}");
    }
    assert_eq!(
        t.get(US_V3_KEY, &format!("/v3/applications/redirect-uris/{id}"))
            .await
            .data()["platform"],
        "ios",
        "the caller's id is kept"
    );
    for (body, expected) in [
        (
            json!({"url": "https://x.example/js", "platform": "js"}),
            "settings.origin",
        ),
        (
            json!({"url": "https://x.example/w", "platform": "web", "settings": {"origin": "x"}}),
            "take no settings",
        ),
        (
            json!({"url": "http://app.acme.example/cb", "platform": "web"}),
            "https",
        ),
        (json!({"url": "acme://cb", "platform": "web"}), "https"),
        (
            json!({"url": "https://app.acme.example/web", "platform": "web"}),
            "already exists",
        ),
        (
            json!({"url": "https://x.example/a", "platform": "android", "settings": {"package_name": "p", "sha1_certificate_fingerprint": "nope"}}),
            "SHA-1",
        ),
        (
            json!({"url": "https://x.example/i", "platform": "ios", "settings": {"bundle_id": "b", "colour": "red"}}),
            "unknown setting",
        ),
        (
            json!({"id": "not-a-uuid", "url": "https://x.example/u"}),
            "UUID",
        ),
        (
            json!({"id": id, "url": "https://x.example/u"}),
            "already exists",
        ),
        (json!({"platform": "web"}), "url is required"),
        (
            json!({"url": "https://x.example/u", "platform": "watch"}),
            "`watch`",
        ),
    ] {
        let r = t
            .post(
                US_V3_KEY,
                "/v3/applications/redirect-uris",
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert!(r.error_message().contains(expected), "{body}: {:?}", r.body);
    }

    // PATCH replaces URL, platform and settings; both url and platform are required.
    let path = format!("/v3/applications/redirect-uris/{id}");
    let changed = patch(
        &t,
        &path,
        json!({"url": "https://app.acme.example/js2", "platform": "js", "settings": {"origin": "https://app.acme.example"}}),
    )
    .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.data()["platform"], "js");
    assert_eq!(
        changed.data()["settings"],
        json!({"origin": "https://app.acme.example"})
    );
    let partial = patch(&t, &path, json!({"url": "https://app.acme.example/js3"})).await;
    assert_eq!(partial.status, 400);
    let missing = patch(
        &t,
        "/v3/applications/redirect-uris/5967ca40-a2d8-4ee0-a0e0-6f18ace39a90",
        json!({"url": "https://x.example", "platform": "web"}),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        t.get(
            US_V3_KEY,
            "/v3/applications/redirect-uris/5967ca40-a2d8-4ee0-a0e0-6f18ace39a90"
        )
        .await
        .status,
        404
    );
    let deleted = delete(&t, &path).await;
    assert_eq!(deleted.status, 200);
    assert!(deleted.body["request_id"].is_string());
    assert_eq!(delete(&t, &path).await.status, 404);
    assert_eq!(
        t.get(US_V3_KEY, "/v3/applications/redirect-uris")
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        2 + 5 - 1
    );
    t.finish().await;
}

#[tokio::test]
async fn a_world_file_seeds_channels_and_redirect_uris() {
    let mut world = fixture_world();
    let seeded = &mut world.v3_apps[0];
    seeded.pubsub_channels = vec![
        SeededChannel {
            id: Some("SeededPubsubChannel0000001".into()),
            topic: "projects/acme-prod/topics/nylas-events".into(),
            role_arn: None,
            trigger_types: vec![nylas_migrate::api::TriggerType::MessageCreated],
            status: nylas_migrate::api::ChannelStatus::Paused,
            description: Some("made by hand".into()),
            notification_email_addresses: vec!["ops@acme.example".into()],
            compressed_delivery: true,
        },
        SeededChannel {
            id: None,
            topic: "projects/acme-prod/topics/other".into(),
            role_arn: None,
            trigger_types: vec![nylas_migrate::api::TriggerType::GrantExpired],
            status: nylas_migrate::api::ChannelStatus::Failing,
            description: None,
            notification_email_addresses: Vec::new(),
            compressed_delivery: false,
        },
    ];
    seeded.sns_channels = vec![SeededChannel {
        id: None,
        topic: "arn:aws:sns:us-east-1:123456789012:nylas-events".into(),
        role_arn: Some("arn:aws:iam::123456789012:role/nylas-publisher".into()),
        trigger_types: vec![nylas_migrate::api::TriggerType::GrantExpired],
        status: nylas_migrate::api::ChannelStatus::Active,
        description: None,
        notification_email_addresses: Vec::new(),
        compressed_delivery: false,
    }];
    seeded.redirect_uris = vec![SeededRedirectUri {
        id: None,
        url: "https://app.acme.example/oauth/callback".into(),
        platform: nylas_migrate::api::RedirectPlatform::Js,
        settings: Some(
            json!({"origin": "https://app.acme.example"})
                .as_object()
                .unwrap()
                .clone(),
        ),
    }];
    let t = TestSim::start(SimulatorConfig {
        world,
        ..fixture_config()
    })
    .await;
    let pubsub = t.get(US_V3_KEY, "/v3/channels/pubsub").await;
    let channels = pubsub.data().as_array().unwrap();
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[0]["id"], "SeededPubsubChannel0000001");
    assert_eq!(channels[0]["status"], "paused");
    assert_eq!(channels[0]["description"], "made by hand");
    assert_eq!(channels[1]["status"], "failing");
    assert_eq!(channels[1]["id"].as_str().unwrap().len(), 26);
    let got = t
        .get(US_V3_KEY, "/v3/channels/pubsub/SeededPubsubChannel0000001")
        .await;
    assert_eq!(got.data()["status"], "pause");
    assert!(got.data()["created_at"].as_i64().unwrap() > 1_700_000_000);
    let sns = t.get(US_V3_KEY, "/v3/channels/sns").await;
    assert_eq!(
        sns.data()[0]["role_arn"],
        "arn:aws:iam::123456789012:role/nylas-publisher"
    );
    let uris = t.get(US_V3_KEY, "/v3/applications/redirect-uris").await;
    assert_eq!(uris.data()[0]["platform"], "js");
    assert!(uuid::Uuid::parse_str(uris.data()[0]["id"].as_str().unwrap()).is_ok());
    // Seeded channels count against the limit of five.
    for n in 0..3 {
        let r = t
            .post(
                US_V3_KEY,
                "/v3/channels/pubsub",
                Some(json!({"trigger_types": ["grant.created"], "topic": format!("projects/acme-prod/topics/t{n}x")})),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let sixth = t
        .post(
            US_V3_KEY,
            "/v3/channels/pubsub",
            Some(json!({"trigger_types": ["grant.created"], "topic": "projects/acme-prod/topics/sixth"})),
        )
        .await;
    assert_eq!(sixth.status, 400);
    // The other apps start empty.
    assert!(
        t.get(US_V3_OTHER_KEY, "/v3/channels/pubsub")
            .await
            .data()
            .as_array()
            .unwrap()
            .is_empty()
    );
    t.finish().await;
}

/// What an update does with a field sent empty is the simulator's option (Nylas documents it
/// for webhooks only): as documented, a webhook keeps it and a channel clears it; `Keep` and
/// `Clear` make every destination do one thing. A field left out is kept under every option.
#[tokio::test]
async fn an_update_keeps_or_clears_a_field_sent_empty_as_the_simulator_is_told() {
    for (empty_fields, webhook_cleared, channel_cleared) in [
        (EmptyFields::AsDocumented, false, true),
        (EmptyFields::Keep, false, false),
        (EmptyFields::Clear, true, true),
    ] {
        let t = TestSim::start(SimulatorConfig {
            empty_fields,
            ..fixture_config()
        })
        .await;
        let full = json!({
            "trigger_types": ["grant.created"],
            "description": "by hand",
            "notification_email_addresses": ["ops@acme.example"],
        });
        let mut webhook = full.clone();
        webhook["webhook_url"] = json!("https://hooks.acme.example/nylas");
        let mut pubsub = full;
        pubsub["topic"] = json!("projects/acme-prod/topics/nylas-events");
        for (path, body, cleared) in [
            ("/v3/webhooks", webhook, webhook_cleared),
            ("/v3/channels/pubsub", pubsub, channel_cleared),
        ] {
            let made = t.post(US_V3_KEY, path, Some(body)).await;
            assert_eq!(made.status, 200, "{:?}", made.body);
            let id = made.data()["id"].as_str().unwrap().to_owned();
            let left_out = t
                .put(
                    US_V3_KEY,
                    &format!("{path}/{id}"),
                    json!({"trigger_types": ["grant.expired"]}),
                )
                .await;
            assert_eq!(
                left_out.data()["description"],
                "by hand",
                "{path} {empty_fields:?}"
            );
            let emptied = t
                .put(
                    US_V3_KEY,
                    &format!("{path}/{id}"),
                    json!({"description": "", "notification_email_addresses": []}),
                )
                .await;
            let (description, emails) = if cleared {
                (json!(""), json!([]))
            } else {
                (json!("by hand"), json!(["ops@acme.example"]))
            };
            let got = t.get(US_V3_KEY, &format!("{path}/{id}")).await;
            for answer in [&emptied, &got] {
                assert_eq!(
                    answer.data()["description"],
                    description,
                    "{path} {empty_fields:?}"
                );
                assert_eq!(
                    answer.data()["notification_email_addresses"],
                    emails,
                    "{path} {empty_fields:?}"
                );
            }
        }
        t.finish().await;
    }
}
