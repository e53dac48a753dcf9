//! The plan's notification destinations and redirect URIs: `webhooks[].test`, `pubsub`, `sns`
//! and `redirect_uris` load as the `api` types, the requests they make validate against the
//! contract, and each rule reports its problem (one invalid example per rule is checked by
//! `cli_validate`; these cover what the examples cannot: URL normalisation, agreement with the
//! simulator's URL rule, v2 triggers in every position, everything at once).

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::contract::Contract;
use nylas_migrate::api::{
    IosSettings, JsSettings, PlatformSettings, RedirectPlatform, TestTriggerType, TriggerType,
    forms,
};
use nylas_migrate::plan::{LoadedPlan, PlanDiagnostic, load_file, load_str};
use serde_json::Value;

const HEAD: &str = "version: 1
name: notifications
pairs:
  - name: acme-prod
    region: us
    v2: { app_id: 9nsr7pjw1e1g6hgy9l1znjql7, client_secret: { env: V2_SECRET } }
    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: V3_KEY } }
";

/// A one-pair plan with `body` (indented under the pair) after the pair's required keys.
fn plan(body: &str) -> String {
    format!("{HEAD}{body}")
}

fn load(text: &str) -> Result<LoadedPlan, Vec<PlanDiagnostic>> {
    load_str(Path::new("plan.yaml"), "plan.yaml", text).map_err(|invalid| invalid.diagnostics)
}

fn codes(text: &str) -> Vec<&'static str> {
    match load(text) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(|d| d.code.as_str()).collect(),
    }
}

#[test]
fn the_new_keys_load_as_the_api_types() {
    let loaded = load(&plan(
        "    webhooks:
      - url: https://hooks.acme.example/nylas
        triggers: [grant.created, message.created]
        test: message.created.truncated
    pubsub:
      - topic: projects/acme-prod/topics/nylas-events
        triggers: [message.created, grant.expired]
        description: Message changes
        notification_emails: [ops@acme.example]
        compressed_delivery: true
    sns:
      - topic: arn:aws:sns:us-east-1:123456789012:nylas-events
        role_arn: arn:aws:iam::123456789012:role/nylas-publisher
        triggers: [grant.expired]
    redirect_uris:
      - { url: https://app.acme.example/oauth/callback, platform: web }
      - { url: https://app.acme.example/js, platform: js, settings: { origin: app.acme.example } }
      - url: com.acme.app://oauth/callback
        platform: ios
        settings: { bundle_id: com.acme.app, team_id: ABCDE12345 }
",
    ))
    .unwrap_or_else(|d| panic!("{d:#?}"));
    let pair = &loaded.plan.pairs[0];
    assert_eq!(
        pair.webhooks[0].test,
        Some(TestTriggerType::MessageCreatedTruncated)
    );
    let channel = &pair.pubsub[0];
    assert_eq!(
        channel.triggers,
        [TriggerType::MessageCreated, TriggerType::GrantExpired]
    );
    assert_eq!(channel.compressed_delivery, Some(true));
    assert_eq!(pair.sns[0].triggers, [TriggerType::GrantExpired]);
    let platforms: Vec<PlatformSettings> = pair
        .redirect_uris
        .iter()
        .map(|r| r.platform_settings())
        .collect();
    assert_eq!(
        platforms,
        [
            PlatformSettings::Web,
            PlatformSettings::Js {
                settings: Some(JsSettings {
                    origin: "app.acme.example".into()
                })
            },
            PlatformSettings::Ios {
                settings: Some(IosSettings {
                    bundle_id: "com.acme.app".into(),
                    app_store_id: None,
                    team_id: Some("ABCDE12345".into()),
                })
            },
        ]
    );
    assert_eq!(pair.redirect_uris[2].platform, RedirectPlatform::Ios);
}

/// What the engine will send for production.yaml's destinations and redirect URIs is what the
/// contract accepts (with the contract's known `pubsub_input_payload` defect relaxed by
/// `Contract::load`, as it says).
#[test]
fn the_examples_requests_validate_against_the_contract() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let loaded = load_file(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/production.yaml"
    )))
    .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    let pair = &loaded.plan.pairs[0];
    assert!(!pair.pubsub.is_empty() && !pair.redirect_uris.is_empty());
    let mut bodies: Vec<(&str, Value)> = Vec::new();
    for webhook in &pair.webhooks {
        if let Some(test) = webhook.test_request() {
            bodies.push(("send_test_event", serde_json::to_value(test).unwrap()));
        }
    }
    assert_eq!(bodies.len(), 1, "production.yaml tests its webhook");
    for channel in &pair.pubsub {
        bodies.push((
            "create-pubsub-channel",
            serde_json::to_value(channel.create_request()).unwrap(),
        ));
    }
    let sns = load(&plan(
        "    sns:
      - topic: arn:aws:sns:us-east-1:123456789012:nylas-events
        role_arn: arn:aws:iam::123456789012:role/nylas-publisher
        triggers: [grant.expired, message.created]
        description: Grants and messages
        notification_emails: [ops@acme.example]
        compressed_delivery: false
",
    ))
    .unwrap_or_else(|d| panic!("{d:#?}"));
    bodies.push((
        "create-sns-channel",
        serde_json::to_value(sns.plan.pairs[0].sns[0].create_request()).unwrap(),
    ));
    for uri in &pair.redirect_uris {
        bodies.push((
            "add_callback_uri",
            serde_json::to_value(uri.add_request()).unwrap(),
        ));
    }
    for (operation, body) in bodies {
        let validator = contract
            .request_body_validator(operation)
            .unwrap_or_else(|| panic!("{operation} has a body"))
            .unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{operation} {body}: {errors:?}");
    }
}

#[test]
fn urls_are_compared_as_nylas_stores_them() {
    let found = load(&plan(
        "    webhooks:
      - { url: https://hooks.acme.example/, triggers: [grant.created] }
      - { url: HTTPS://Hooks.Acme.Example, triggers: [message.created] }
    redirect_uris:
      - { url: https://app.acme.example, platform: web }
      - { url: https://APP.acme.example/, platform: web }
",
    ))
    .expect_err("two pairs of duplicates");
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|d| (d.code.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "plan::duplicate-webhook",
                "duplicate webhook URL `HTTPS://Hooks.Acme.Example`"
            ),
            (
                "plan::duplicate-redirect-uri",
                "duplicate redirect URI `https://APP.acme.example/`"
            ),
        ]
    );
    assert!(
        found[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("one URL as Nylas stores it")),
        "{:?}",
        found[0].help
    );
    // Paths are compared as written: two paths are two destinations.
    assert_eq!(
        codes(&plan(
            "    webhooks:
      - { url: https://hooks.acme.example/a, triggers: [grant.created] }
      - { url: https://hooks.acme.example/A, triggers: [grant.created] }
"
        )),
        Vec::<&str>::new()
    );
}

/// The plan refuses exactly the redirect URIs the simulator (Nylas's rule in `api::forms`)
/// refuses, so `validate` catches before any request what `apply` would fail on.
#[test]
fn redirect_uri_urls_follow_the_simulators_rule() {
    let urls = [
        "https://app.acme.example/cb",
        "http://localhost:3000/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
        "http://app.acme.example/cb",
        "ftp://app.acme.example/cb",
        "com.acme.app://oauth/callback",
        "acmeapp://callback",
        "acmeapp:",
        "mailto:ops@acme.example",
        "not a url",
        "/relative/cb",
    ];
    for url in urls {
        for platform in RedirectPlatform::ALL {
            let text = plan(&format!(
                "    redirect_uris:\n      - {{ url: {}, platform: {platform} }}\n",
                serde_json::to_string(url).unwrap()
            ));
            let refused = codes(&text).contains(&"plan::bad-url");
            let nylas_refuses = forms::check_redirect_uri(url, *platform).is_err();
            assert_eq!(refused, nylas_refuses, "{url} as {platform}");
        }
    }
}

#[test]
fn loopback_http_is_allowed_where_nylas_allows_it() {
    assert_eq!(
        codes(&plan(
            "    webhooks:
      - { url: http://127.0.0.1:8080/hook, triggers: [grant.created], test: grant.created }
    redirect_uris:
      - { url: http://localhost:3000/callback, platform: desktop }
"
        )),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&plan(
            "    webhooks:
      - { url: http://hooks.acme.example/nylas, triggers: [grant.created] }
"
        )),
        ["plan::bad-url"]
    );
}

/// A v2 trigger is named as such (with its replacement) wherever a trigger goes: a webhook's,
/// a Pub/Sub channel's or an SNS channel's triggers, and a webhook's `test`.
#[test]
fn v2_triggers_are_reported_wherever_a_trigger_is_expected() {
    let positions = [
        "    webhooks:\n      - { url: https://hooks.acme.example/n, triggers: [T] }\n",
        "    webhooks:\n      - { url: https://hooks.acme.example/n, triggers: [grant.created], test: T }\n",
        "    pubsub:\n      - { topic: projects/acme/topics/events, triggers: [T] }\n",
        "    sns:\n      - { topic: \"arn:aws:sns:us-east-1:123456789012:t\", role_arn: \"arn:aws:iam::123456789012:role/r\", triggers: [T] }\n",
    ];
    let cases = [
        ("account.created", Some("`grant.created`")),
        ("account.invalid", Some("`grant.expired`")),
        ("account.sync_error", None),
        ("job.failed", None),
    ];
    for position in positions {
        for (v2, replacement) in cases {
            let found = load(&plan(&position.replace('T', v2))).expect_err(v2);
            assert_eq!(found.len(), 1, "{v2} in {position}: {found:#?}");
            let d = &found[0];
            assert_eq!(d.code.as_str(), "plan::v2-trigger", "{v2} in {position}");
            match replacement {
                Some(name) => assert!(
                    d.message.ends_with(&format!("in v3 it is {name}")),
                    "{}",
                    d.message
                ),
                None => assert!(d.message.ends_with("no v3 equivalent"), "{}", d.message),
            }
            assert!(d.line > 0 && d.column > 0);
            assert!(d.help.is_some());
        }
    }
    // A name both versions have is a v3 trigger.
    assert_eq!(
        codes(&plan(
            "    webhooks:\n      - { url: https://hooks.acme.example/n, triggers: [message.opened, thread.replied] }\n"
        )),
        Vec::<&str>::new()
    );
}

#[test]
fn a_test_event_is_one_of_the_webhooks_own_triggers() {
    let webhook = |triggers: &str, test: &str| {
        plan(&format!(
            "    webhooks:\n      - {{ url: https://hooks.acme.example/n, triggers: [{triggers}], test: {test} }}\n"
        ))
    };
    assert_eq!(
        codes(&webhook("grant.created, grant.expired", "grant.expired")),
        Vec::<&str>::new()
    );
    // Nylas sends truncated events to `message.created` and `message.updated` subscribers.
    assert_eq!(
        codes(&webhook("message.created", "message.created.truncated")),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&webhook("message.updated", "message.created.truncated")),
        ["plan::test-trigger-not-subscribed"]
    );
    let found = load(&webhook(
        "grant.created, booking.created",
        "booking.created",
    ))
    .unwrap_err();
    assert_eq!(found[0].code.as_str(), "plan::untestable-trigger");
    assert_eq!(
        found[0].help.as_deref(),
        Some(
            "test one of this webhook's triggers that Nylas can send as a test event: `grant.created`"
        )
    );
    assert_eq!(
        codes(&webhook("grant.created", "grant.expird")),
        ["plan::unknown-value"]
    );
}

#[test]
fn every_problem_is_reported_at_once_with_what_to_do() {
    let text = plan(
        "    webhooks:
      - url: https://hooks.acme.example/nylas
        triggers: [grant.created]
        test: grant.expired
    pubsub:
      - { topic: nylas-events, triggers: [grant.created, grant.created] }
      - { topic: projects/acme/topics/one, triggers: [grant.created] }
      - { topic: projects/acme/topics/one, triggers: [grant.created] }
      - { topic: projects/acme/topics/three, triggers: [grant.created] }
      - { topic: projects/acme/topics/four, triggers: [grant.created] }
      - { topic: projects/acme/topics/five, triggers: [grant.created] }
    sns:
      - { topic: \"arn:aws:sns:us-east-1:42:t\", role_arn: \"arn:aws:iam::123456789012:user/u\", triggers: [grant.expired] }
      - { topic: \"arn:aws:sns:us-east-1:42:t\", role_arn: \"arn:aws:iam::123456789012:role/r\", triggers: [grant.expired] }
    redirect_uris:
      - { url: http://app.acme.example/cb, platform: web, settings: { origin: app.acme.example } }
      - { url: http://app.acme.example/cb, platform: android, settings: { package_name: com.acme } }
  - name: acme-eu
    region: eu
    v2: { app_id: 4bq0x9e2kd1rzl8w7vnm3c5ht, client_secret: { env: EU_V2_SECRET } }
    v3: { app_id: e19f8e1a-eb1c-41c0-b6a6-d2e59daf7f47, api_key: { env: EU_V3_KEY } }
    webhooks:
      - { url: https://hooks.acme.example/eu, triggers: [account.running], test: grant.imap_sync_completed }
    redirect_uris:
      - { url: https://app.acme.example/eu, platform: mac }
",
    );
    let found = load(&text).expect_err("invalid");
    let got: BTreeSet<&str> = found.iter().map(|d| d.code.as_str()).collect();
    let want: BTreeSet<&str> = [
        "plan::test-trigger-not-subscribed",
        "plan::bad-pubsub-topic",
        "plan::duplicate-trigger",
        "plan::duplicate-pubsub-topic",
        "plan::too-many-pubsub-channels",
        "plan::bad-sns-topic",
        "plan::bad-role-arn",
        "plan::duplicate-sns-topic",
        "plan::bad-url",
        "plan::setting-not-for-platform",
        "plan::missing-key",
        "plan::duplicate-redirect-uri",
        "plan::v2-trigger",
        "plan::untestable-trigger",
        "plan::unknown-value",
    ]
    .into();
    assert_eq!(got, want);
    for d in &found {
        assert!(d.line > 0 && d.column > 0, "{d:?}");
        assert!(
            d.help.as_deref().is_some_and(|h| !h.is_empty()),
            "{} has no help: {}",
            d.code,
            d.message
        );
        // Each points into the notification or redirect-URI keys it is about.
        let line = text.lines().nth(d.line - 1).unwrap_or_default();
        assert!(
            [
                "url:",
                "test:",
                "topic:",
                "triggers:",
                "role_arn",
                "platform",
                "settings",
                "- {"
            ]
            .iter()
            .any(|k| line.contains(k)),
            "{}: line {} is `{line}`",
            d.code,
            d.line
        );
    }
}

/// The README's plan, which shows every new key, is valid.
#[test]
fn the_readmes_plan_is_valid() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + readme[start..].find("```").expect("its end");
    let text = &readme[start..end];
    for key in ["test:", "pubsub:", "sns:", "redirect_uris:"] {
        assert!(text.contains(key), "the README's plan shows `{key}`");
    }
    if let Err(d) = load(text) {
        panic!("{d:#?}");
    }
}

/// Each platform's settings are exactly the contract's (`RedirectURIObject`, by platform): a key
/// of the platform's settings is accepted, a key of another platform's is refused, and leaving
/// out a key the contract requires is reported.
#[test]
fn redirect_uri_settings_are_the_contracts_per_platform() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let schemas = &contract.spec()["components"]["schemas"];
    let mapping = schemas["RedirectURIObject"]["discriminator"]["mapping"]
        .as_object()
        .unwrap();
    // Per platform: its settings' keys and the required ones.
    let mut contract_settings: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for (platform, reference) in mapping {
        let name = reference.as_str().unwrap().rsplit('/').next().unwrap();
        let settings = &schemas[name]["properties"]["settings"];
        let keys = settings["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let required = settings["required"]
            .as_array()
            .map(|r| r.iter().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        contract_settings.push((platform.clone(), keys, required));
    }
    let all_keys: BTreeSet<&String> = contract_settings
        .iter()
        .flat_map(|(_, keys, _)| keys)
        .collect();
    let schema = nylas_migrate::plan::plan_schema();
    let ours: BTreeSet<&String> = schema["definitions"]["RedirectUriSettings"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        ours, all_keys,
        "the plan's settings keys are the contract's"
    );

    let with_settings = |platform: &str, settings: &[&String]| {
        let body: Vec<String> = settings.iter().map(|k| format!("{k}: x")).collect();
        plan(&format!(
            "    redirect_uris:\n      - {{ url: \"https://app.acme.example/cb\", platform: {platform}, settings: {{ {} }} }}\n",
            body.join(", ")
        ))
    };
    for (platform, keys, required) in &contract_settings {
        for key in &all_keys {
            // The key with the platform's required ones, so only `key` can be refused.
            let mut given: Vec<&String> = required.iter().collect();
            if !given.contains(key) {
                given.push(key);
            }
            let found = codes(&with_settings(platform, &given));
            let refused = found.contains(&"plan::setting-not-for-platform");
            assert_eq!(
                refused,
                !keys.contains(key),
                "{key} for {platform}: {found:?}"
            );
        }
        for key in required {
            let given: Vec<&String> = required.iter().filter(|k| *k != key).collect();
            let found = codes(&with_settings(platform, &given));
            assert_eq!(found, ["plan::missing-key"], "{platform} without {key}");
        }
    }
}
