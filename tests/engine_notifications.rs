//! Notifications and sign-in against the simulator, driven by the real binary: webhooks with a
//! test event (on a loopback receiver), Pub/Sub and SNS channels, and redirect URIs converge,
//! are observed first (a channel made by hand is adopted), update with one request, show what
//! the plan does not manage, and fail their pair alone, with what to do, when an endpoint does
//! not answer Nylas's challenge or test event. No secret is printed or stored.

use std::process::Output;

use serde_json::Value;

use crate::support::events::checked_events;
use crate::support::receiver::Receiver;
use crate::support::rehearsal::{self, Rehearsal};
use crate::support::sim::check_responses;
use crate::support::{stderr, stdout};
use nylas_migrate::api::{ChannelStatus, Operation, PlatformSettings, Region, TriggerType};
use nylas_migrate::simulator::{EmptyFields, RecordedResponse, SeededChannel};

const ALPHA_V3: &str = "0a0a0a0a-0000-4000-8000-000000000001";
const BETA_V3: &str = "0b0b0b0b-0000-4000-8000-000000000002";
const PUBSUB_TOPIC: &str = "projects/acme-prod/topics/nylas-events";
const SNS_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:nylas-events";

/// One pair with every notification key; `webhook` is the webhook's URL.
fn one_pair(webhook: &str) -> String {
    format!(
        r#"version: 1
name: notify
pairs:
  - name: alpha
    region: us
    v2: {{ app_id: alpha2v2app00000000000001, client_secret: {{ env: ALPHA_V2_SECRET }} }}
    v3: {{ app_id: {ALPHA_V3}, api_key: {{ env: ALPHA_V3_KEY }} }}
    connectors:
      - provider: microsoft
        settings: {{ client_id: {{ env: AZURE_ID }}, client_secret: {{ env: AZURE_SECRET }}, tenant: common }}
    redirect_uris:
      - {{ url: https://app.acme.example/oauth/callback, platform: web }}
      - {{ url: https://app.acme.example/js/callback, platform: js, settings: {{ origin: https://app.acme.example }} }}
    webhooks:
      - url: {webhook}
        triggers: [grant.created, grant.expired]
        test: grant.expired
    pubsub:
      - topic: {PUBSUB_TOPIC}
        triggers: [message.created, grant.expired]
    sns:
      - topic: {SNS_TOPIC}
        role_arn: arn:aws:iam::123456789012:role/nylas-publisher
        triggers: [grant.expired]
    clone:
      single: [alpha0account000000000001]
      batches:
        - {{ name: everyone, mode: only_new }}
"#
    )
}

/// Two pairs: alpha's webhook at `alpha_hook` (with a test event), beta's at the echoing
/// endpoint `beta_hook` (with a test event too), each with test accounts and a wave.
fn two_pairs(alpha_hook: &str, beta_hook: &str) -> String {
    format!(
        r#"version: 1
name: notify-two
pairs:
  - name: alpha
    region: us
    v2: {{ app_id: alpha2v2app00000000000001, client_secret: {{ env: ALPHA_V2_SECRET }} }}
    v3: {{ app_id: {ALPHA_V3}, api_key: {{ env: ALPHA_V3_KEY }} }}
    webhooks:
      - url: {alpha_hook}
        triggers: [grant.created]
        test: grant.created
    pubsub:
      - {{ topic: {PUBSUB_TOPIC}, triggers: [grant.created] }}
    clone:
      single: [alpha0account000000000001]
      batches:
        - {{ name: everyone, mode: only_new }}
  - name: beta
    region: eu
    v2: {{ app_id: beta02v2app00000000000001, client_secret: {{ env: BETA_V2_SECRET }} }}
    v3: {{ app_id: {BETA_V3}, api_key: {{ env: BETA_V3_KEY }} }}
    webhooks:
      - url: {beta_hook}
        triggers: [grant.created]
        test: grant.created
    clone:
      single: [beta00account000000000001]
      batches:
        - {{ name: everyone, mode: only_new }}
"#
    )
}

/// A simulator shaped for `plan`, recording its answers for the contract check.
async fn start(plan: &str) -> Rehearsal {
    rehearsal::start(plan, 30, |_, config| config.record_responses = true).await
}

/// Runs the binary and says how it went when it exits otherwise than `code`.
async fn run(r: &Rehearsal, args: &[&str], code: i32) -> Output {
    let out = r.run(args).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\n--- stdout\n{}--- stderr\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `POST path` to the U.S. v3 application, as a person would with its API key.
async fn post_by_hand(r: &Rehearsal, path: &str, body: Value) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", r.sim.base_url(Region::Us)))
        .bearer_auth(&r.secrets["ALPHA_V3_KEY"])
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap()
}

/// The signing secrets of the webhook destinations the simulator created (only its create
/// answers carry them).
fn webhook_secrets(recorded: &[RecordedResponse]) -> Vec<String> {
    recorded
        .iter()
        .filter(|r| r.operation == Some(Operation::CreateWebhook) && r.status == 200)
        .filter_map(|r| r.body["data"]["webhook_secret"].as_str().map(str::to_owned))
        .collect()
}

/// Every byte of the state folder.
fn state_bytes(r: &Rehearsal) -> Vec<u8> {
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(r.dir.path().join(".nylas-migrate")).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    stored
}

/// No secret of the plan, no webhook signing secret, and not even the word `webhook_secret`
/// in anything printed or in the state folder.
fn assert_no_secret(r: &Rehearsal, printed: &str) {
    let stored = state_bytes(r);
    assert!(stored.len() > 4096, "the journal was written");
    let hook_secrets = webhook_secrets(&r.sim.recorded_responses());
    assert!(!hook_secrets.is_empty(), "the simulator made a destination");
    let canaries = r
        .secrets
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .chain(
            hook_secrets
                .into_iter()
                .map(|s| ("a webhook_secret".to_owned(), s)),
        )
        .chain([("the word".to_owned(), "webhook_secret".to_owned())]);
    for (name, value) in canaries {
        assert!(!printed.contains(&value), "{name} ({value}) was printed");
        let needle = value.as_bytes();
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle),
            "{name} ({value}) is stored in the state folder"
        );
    }
}

fn all_output(outs: &[&Output]) -> String {
    outs.iter()
        .map(|o| format!("{}{}", stdout(o), stderr(o)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_and_redirect_uris_converge_observe_first_and_update_once() {
    let receiver = Receiver::start().await;
    let r = start(&one_pair(&receiver.url("/echo"))).await;
    let plan = r.plan_arg();

    // By hand, before anything runs: a Pub/Sub channel with the plan's topic (fewer triggers),
    // and a destination the plan does not list.
    post_by_hand(
        &r,
        "/v3/channels/pubsub",
        serde_json::json!({"trigger_types": ["message.created"], "topic": PUBSUB_TOPIC}),
    )
    .await;
    post_by_hand(
        &r,
        "/v3/webhooks",
        serde_json::json!({"trigger_types": ["grant.deleted"], "webhook_url": "https://old.acme.example/hook"}),
    )
    .await;

    let preview = run(&r, &["plan", &plan, "--detailed-exitcode"], 2).await;
    let text = stdout(&preview);
    for line in [
        "pubsub/projects/acme-prod/topics/nylas-events",
        "differs in triggers",
        "webhook-test/http://127.0.0.1:",
        "redirect-uri/https://app.acme.example/js/callback",
        "sns/arn:aws:sns:us-east-1:123456789012:nylas-events",
        "? unmanaged webhook/https://old.acme.example/hook",
        "not managed by this plan",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
    let json = run(&r, &["--output", "json", "plan", &plan], 0).await;
    let events = checked_events(&stdout(&json));
    let unmanaged: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "unmanaged")
        .collect();
    assert_eq!(unmanaged.len(), 1, "{events:?}");
    assert_eq!(unmanaged[0]["kind"], "webhook");
    assert_eq!(unmanaged[0]["subject"], "https://old.acme.example/hook");
    assert_eq!(r.sim.stats().writes(), 2, "plan wrote nothing");

    let first = run(&r, &["apply", &plan, "--yes"], 0).await;
    let stats = r.sim.stats();
    // The channel made by hand is adopted: updated with one PUT, never created again.
    assert_eq!(stats.op_total(Operation::CreatePubsubChannel), 1, "by hand");
    assert_eq!(stats.op_total(Operation::UpdatePubsubChannel), 1);
    assert_eq!(stats.op_total(Operation::CreateSnsChannel), 1);
    assert_eq!(stats.op_total(Operation::AddRedirectUri), 2);
    assert_eq!(stats.op_total(Operation::SendTestEvent), 1);
    // The receiver answered Nylas's challenge, then acknowledged the signed test event.
    let seen = receiver.seen_at("/echo");
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.challenge.is_some()))
            .collect::<Vec<_>>(),
        [("GET", true), ("POST", false)]
    );
    assert!(seen[1].signature.is_some());
    let notification: Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(notification["type"], "grant.expired");

    let world = r.sim.world();
    let app = world.app(ALPHA_V3).unwrap();
    assert_eq!(app.webhooks.len(), 2, "the plan's and the one by hand");
    assert_eq!(app.pubsub_channels.len(), 1, "adopted, not duplicated");
    let mut triggers: Vec<String> = app.pubsub_channels[0]
        .trigger_types
        .iter()
        .map(|t| t.to_string())
        .collect();
    triggers.sort();
    assert_eq!(triggers, ["grant.expired", "message.created"]);
    assert_eq!(app.sns_channels.len(), 1);
    let js = app
        .redirect_uris
        .iter()
        .find(|u| u.url == "https://app.acme.example/js/callback")
        .unwrap();
    assert!(
        matches!(js.platform, PlatformSettings::Js { settings: Some(ref s) } if s.origin == "https://app.acme.example")
    );
    assert!(
        app.redirect_uris
            .iter()
            .any(|u| u.url == "https://app.acme.example/oauth/callback"
                && u.platform == PlatformSettings::Web)
    );
    assert!(!app.grants.is_empty(), "the pair's clones ran");

    // A second apply writes nothing and sends no second test event.
    let writes = r.sim.stats().writes();
    let second = run(&r, &["apply", &plan, "--yes"], 0).await;
    assert_eq!(r.sim.stats().writes(), writes, "the second apply wrote");
    assert_eq!(r.sim.stats().op_total(Operation::SendTestEvent), 1);
    assert!(
        stdout(&second).contains("changed          0"),
        "{}",
        stdout(&second)
    );
    run(&r, &["plan", &plan, "--detailed-exitcode"], 0).await;

    // One trigger more for the SNS channel: exactly one write, its PUT.
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    let changed = text.replacen(
        "triggers: [grant.expired]\n    clone:",
        "triggers: [grant.expired, grant.deleted]\n    clone:",
        1,
    );
    assert_ne!(changed, text);
    std::fs::write(&r.plan_path, changed).unwrap();
    let preview = run(&r, &["plan", &plan], 0).await;
    assert!(
        stdout(&preview)
            .contains("~ update    sns/arn:aws:sns:us-east-1:123456789012:nylas-events"),
        "{}",
        stdout(&preview)
    );
    let before = r.sim.stats();
    let third = run(&r, &["apply", &plan, "--yes"], 0).await;
    let after = r.sim.stats();
    assert_eq!(after.writes() - before.writes(), 1, "{after:?}");
    assert_eq!(
        after.op_total(Operation::UpdateSnsChannel) - before.op_total(Operation::UpdateSnsChannel),
        1
    );

    // status, verify and the JSON events show the new steps.
    let status = run(&r, &["status", &plan], 0).await;
    for id in [
        "webhook-test/http://127.0.0.1:",
        "pubsub/projects/acme-prod/topics/nylas-events",
        "sns/arn:aws:sns:",
        "redirect-uri/https://app.acme.example/oauth/callback",
    ] {
        assert!(stdout(&status).contains(id), "{}", stdout(&status));
    }
    let verify = run(&r, &["--output", "json", "verify", &plan], 0).await;
    let verify: Value = serde_json::from_str(stdout(&verify).trim()).unwrap();
    let checks: Vec<&str> = verify["verify"]["pairs"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["passed"] == true)
        .map(|i| i["check"].as_str().unwrap())
        .collect();
    for check in ["redirect-uri", "webhook", "webhook-test", "pubsub", "sns"] {
        assert!(checks.contains(&check), "{check} in {checks:?}");
    }
    let apply_json = run(&r, &["--output", "json", "apply", &plan, "--yes"], 0).await;
    let kinds: Vec<String> = checked_events(&stdout(&apply_json))
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    for kind in ["redirect-uri", "webhook-test", "pubsub", "sns"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }

    assert_no_secret(
        &r,
        &all_output(&[
            &preview,
            &json,
            &first,
            &second,
            &third,
            &status,
            &apply_json,
        ]),
    );
    check_responses(&r.sim.recorded_responses());
    r.sim.shutdown().await;
}

/// Runs `apply` on a two-pair plan whose alpha webhook fails (`alpha_path` on the receiver),
/// and checks that alpha's step fails with `words`, alpha clones nothing, and beta completes.
async fn alpha_fails_beta_completes(alpha_path: &str, failed_step: &str, words: &[&str]) {
    let receiver = Receiver::start().await;
    let r = start(&two_pairs(
        &receiver.url(alpha_path),
        &receiver.url("/echo"),
    ))
    .await;
    let plan = r.plan_arg();
    let out = run(&r, &["apply", &plan, "--yes"], 1).await;
    // Each step's line on stderr, the summary on stdout.
    let text = all_output(&[&out]);
    let failed = format!("failed    alpha/{failed_step}/{}", receiver.url(alpha_path));
    let line = text
        .lines()
        .find(|l| l.starts_with(&failed))
        .unwrap_or_else(|| panic!("no `{failed}` line in:\n{text}"));
    for word in words {
        assert!(line.contains(word), "no `{word}` in: {line}");
    }
    assert!(
        text.contains("skipped   alpha/clone/alpha0account000000000001"),
        "{text}"
    );
    assert!(text.contains("skipped   alpha/batch/everyone"), "{text}");

    let world = r.sim.world();
    let alpha = world.app(ALPHA_V3).unwrap();
    assert!(alpha.grants.is_empty(), "alpha cloned: {:?}", alpha.grants);
    assert!(alpha.jobs.is_empty(), "alpha started a wave");
    assert_eq!(alpha.pubsub_channels.len(), 1, "alpha's other steps ran");
    let beta = world.app(BETA_V3).unwrap();
    assert!(!beta.grants.is_empty(), "beta cloned");
    assert!(
        text.contains("changed   beta/batch/everyone"),
        "beta completed: {text}"
    );

    // The journal and the reports say so; the test account's row says what holds it up.
    let status = run(&r, &["status", &plan], 1).await;
    assert!(
        stdout(&status).contains(&format!("failed      {failed_step}/")),
        "{}",
        stdout(&status)
    );
    let report = run(&r, &["report", &plan, "--outcome", "pending"], 0).await;
    assert!(
        stdout(&report).contains(&format!("it waits for {failed_step}/")),
        "{}",
        stdout(&report)
    );
    // What failed is tried again by the next apply; nothing else is written.
    let preview = run(&r, &["plan", &plan], 0).await;
    assert!(
        stdout(&preview).contains(&format!("+ create    {failed_step}/")),
        "{}",
        stdout(&preview)
    );
    assert_no_secret(&r, &all_output(&[&out, &status, &report, &preview]));
    check_responses(&r.sim.recorded_responses());
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_does_not_echo_the_challenge_fails_its_pair_alone() {
    alpha_fails_beta_completes(
        "/missing",
        "webhook",
        &[
            "Nylas could not verify the URL",
            "unable.verify.webhook_url : status is not ok, got 404",
            "challenge",
            "status 200 and the challenge's value as the body",
            "run apply again",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_does_not_acknowledge_the_test_event_fails_its_pair_alone() {
    alpha_fails_beta_completes(
        "/nack",
        "webhook-test",
        &[
            "did not acknowledge the grant.created test event",
            "status is not ok, got 500",
            "success status (200)",
            "run apply again",
        ],
    )
    .await;
}

/// One pair with a webhook, a Pub/Sub and an SNS channel, and nothing to clone; `extra` is
/// added under each of the three entries (indented eight spaces).
fn destinations_only(extra: &str) -> String {
    format!(
        r#"version: 1
name: converge
pairs:
  - name: alpha
    region: us
    v2: {{ app_id: alpha2v2app00000000000001, client_secret: {{ env: ALPHA_V2_SECRET }} }}
    v3: {{ app_id: {ALPHA_V3}, api_key: {{ env: ALPHA_V3_KEY }} }}
    webhooks:
      - url: https://hooks.acme.example/nylas
        triggers: [grant.created, grant.expired]
{extra}    pubsub:
      - topic: {PUBSUB_TOPIC}
        triggers: [grant.created, grant.expired]
{extra}    sns:
      - topic: {SNS_TOPIC}
        role_arn: arn:aws:iam::123456789012:role/nylas-publisher
        triggers: [grant.created, grant.expired]
{extra}"#
    )
}

/// The three destinations of [`destinations_only`], made by hand with one trigger, a
/// description and notification emails.
async fn destinations_by_hand(r: &Rehearsal) {
    let hand = |more: Value| {
        let mut body = serde_json::json!({
            "trigger_types": ["grant.created"],
            "description": "made by hand",
            "notification_email_addresses": ["ops@acme.example"],
        });
        body.as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        body
    };
    post_by_hand(
        r,
        "/v3/webhooks",
        hand(serde_json::json!({"webhook_url": "https://hooks.acme.example/nylas"})),
    )
    .await;
    post_by_hand(
        r,
        "/v3/channels/pubsub",
        hand(serde_json::json!({"topic": PUBSUB_TOPIC})),
    )
    .await;
    post_by_hand(
        r,
        "/v3/channels/sns",
        hand(serde_json::json!({"topic": SNS_TOPIC, "role_arn": "arn:aws:iam::123456789012:role/nylas-publisher"})),
    )
    .await;
}

/// Whichever way Nylas treats a field an update sends empty (keeps it, as the contract says of
/// webhooks, or clears it), an empty `description` or `notification_emails` is refused before
/// any request, with what to do; left out, the hand-made values stay, and after one apply the
/// second writes nothing while `plan`, `apply` and `verify` agree.
#[tokio::test]
async fn empty_values_are_refused_and_left_out_converge_whatever_nylas_does_with_empties() {
    for empty_fields in [EmptyFields::Keep, EmptyFields::Clear] {
        let r = rehearsal::start(&destinations_only(""), 0, |_, config| {
            config.record_responses = true;
            config.empty_fields = empty_fields;
        })
        .await;
        let plan = r.plan_arg();
        destinations_by_hand(&r).await;

        // Empty values: refused by `validate` and `plan`, before any request.
        let empty = r.dir.path().join("empty.yaml");
        let text = std::fs::read_to_string(&r.plan_path).unwrap().replace(
            "triggers: [grant.created, grant.expired]\n",
            "triggers: [grant.created, grant.expired]\n        description: \"\"\n        notification_emails: []\n",
        );
        std::fs::write(&empty, text).unwrap();
        let requests = r.sim.stats().total;
        for command in ["validate", "plan"] {
            let out = run(&r, &[command, empty.to_str().unwrap()], 1).await;
            let err = stderr(&out);
            assert_eq!(err.matches("plan::empty-value").count(), 6, "{err}");
            assert!(
                err.contains("remove `description` to leave the live one"),
                "{err}"
            );
        }
        assert_eq!(r.sim.stats().total, requests, "{empty_fields:?}");

        // Left out: one update each, then nothing.
        run(&r, &["plan", &plan, "--detailed-exitcode"], 2).await;
        let first = run(&r, &["apply", &plan, "--yes"], 0).await;
        assert!(stdout(&first).contains("the live state matches the plan"));
        let stats = r.sim.stats();
        for op in [
            Operation::UpdateWebhook,
            Operation::UpdatePubsubChannel,
            Operation::UpdateSnsChannel,
        ] {
            assert_eq!(stats.op_total(op), 1, "{op} {empty_fields:?}");
        }
        let writes = stats.writes();
        let second = run(&r, &["apply", &plan, "--yes"], 0).await;
        assert_eq!(
            r.sim.stats().writes(),
            writes,
            "{empty_fields:?}: the second apply wrote"
        );
        assert!(
            stdout(&second).contains("the live state matches the plan"),
            "{}",
            stdout(&second)
        );
        run(&r, &["plan", &plan, "--detailed-exitcode"], 0).await;
        run(&r, &["verify", &plan], 0).await;
        // What was made by hand and not named by the plan is still there.
        let world = r.sim.world();
        let app = world.app(ALPHA_V3).unwrap();
        assert_eq!(app.webhooks[0].description.as_deref(), Some("made by hand"));
        assert_eq!(
            app.pubsub_channels[0]
                .notification_email_addresses
                .as_deref(),
            Some(&["ops@acme.example".to_owned()][..])
        );
        check_responses(&r.sim.recorded_responses());
    }
}

/// `put_by_hand` for the webhook destination with `url`: pauses it, as a person would.
async fn pause_webhook_by_hand(r: &Rehearsal, url: &str) {
    let app = r.sim.world();
    let hook = app
        .app(ALPHA_V3)
        .unwrap()
        .webhooks
        .iter()
        .find(|h| h.webhook_url == url)
        .unwrap()
        .id
        .clone();
    let answer = reqwest::Client::new()
        .put(format!("{}/v3/webhooks/{hook}", r.sim.base_url(Region::Us)))
        .bearer_auth(&r.secrets["ALPHA_V3_KEY"])
        .json(&serde_json::json!({"status": "pause"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

/// The statuses of the webhook, Pub/Sub and SNS destinations of ALPHA, as listed.
fn statuses(r: &Rehearsal) -> Vec<String> {
    let world = r.sim.world();
    let app = world.app(ALPHA_V3).unwrap();
    let mut out: Vec<String> = app
        .webhooks
        .iter()
        .filter_map(|h| h.status.clone())
        .collect();
    out.extend(
        app.pubsub_channels
            .iter()
            .filter_map(|c| c.status.map(|s| s.as_str().to_owned())),
    );
    out.extend(
        app.sns_channels
            .iter()
            .filter_map(|c| c.status.map(|s| s.as_str().to_owned())),
    );
    out
}

/// After one apply, a second writes nothing, `plan --detailed-exitcode` exits 0, `apply` says
/// the live state matches and `verify` passes.
async fn converged(r: &Rehearsal, case: &str) {
    let plan = r.plan_arg();
    let writes = r.sim.stats().writes();
    let again = run(r, &["apply", &plan, "--yes"], 0).await;
    assert_eq!(
        r.sim.stats().writes(),
        writes,
        "{case}: the second apply wrote"
    );
    assert!(
        stdout(&again).contains("the live state matches the plan"),
        "{case}"
    );
    run(r, &["plan", &plan, "--detailed-exitcode"], 0).await;
    run(r, &["verify", &plan], 0).await;
}

/// A declared destination is active unless the plan says `status: pause`: one paused by hand,
/// failing or failed is an update in `plan`, made active by `apply` (an update with `status:
/// active`) and a failure of `verify` until then; `pause` pauses it (a new one right after its
/// create). Each time, the second apply writes nothing and the three commands agree.
#[tokio::test]
async fn paused_failing_and_failed_destinations_are_made_active_unless_the_plan_says_pause() {
    let seeded = |topic: &str, role: Option<&str>, status| SeededChannel {
        id: None,
        topic: topic.into(),
        role_arn: role.map(str::to_owned),
        trigger_types: vec![TriggerType::GrantCreated, TriggerType::GrantExpired],
        status,
        description: None,
        notification_email_addresses: Vec::new(),
        compressed_delivery: false,
    };
    let r = rehearsal::start(&destinations_only(""), 0, |world, config| {
        config.record_responses = true;
        let app = world.v3_apps.iter_mut().find(|a| a.id == ALPHA_V3).unwrap();
        app.pubsub_channels
            .push(seeded(PUBSUB_TOPIC, None, ChannelStatus::Failing));
        app.sns_channels.push(seeded(
            SNS_TOPIC,
            Some("arn:aws:iam::123456789012:role/nylas-publisher"),
            ChannelStatus::Failed,
        ));
    })
    .await;
    let plan = r.plan_arg();
    post_by_hand(
        &r,
        "/v3/webhooks",
        serde_json::json!({"trigger_types": ["grant.created", "grant.expired"], "webhook_url": "https://hooks.acme.example/nylas"}),
    )
    .await;
    pause_webhook_by_hand(&r, "https://hooks.acme.example/nylas").await;
    assert_eq!(statuses(&r), ["pause", "failing", "failed"]);

    let preview = run(&r, &["plan", &plan, "--detailed-exitcode"], 2).await;
    assert_eq!(
        stdout(&preview).matches("differs in status").count(),
        3,
        "{}",
        stdout(&preview)
    );
    let verify = run(&r, &["verify", &plan], 1).await;
    let text = stdout(&verify);
    for line in [
        "is pause, not active as the plan says",
        "is failing, not active",
        "is failed, not active",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
    run(&r, &["apply", &plan, "--yes"], 0).await;
    assert_eq!(statuses(&r), ["active", "active", "active"]);
    converged(&r, "made active").await;

    // `status: pause` pauses them, and keeps them paused.
    let paused = std::fs::read_to_string(&r.plan_path).unwrap().replace(
        "triggers: [grant.created, grant.expired]\n",
        "triggers: [grant.created, grant.expired]\n        status: pause\n",
    );
    std::fs::write(&r.plan_path, paused).unwrap();
    run(&r, &["plan", &plan, "--detailed-exitcode"], 2).await;
    run(&r, &["apply", &plan, "--yes"], 0).await;
    assert_eq!(statuses(&r), ["pause", "pause", "pause"]);
    converged(&r, "paused").await;

    // Deleted in the dashboard (over HTTP, as the simulator now serves it): a create again.
    let world = r.sim.world();
    let hook = world.app(ALPHA_V3).unwrap().webhooks[0].id.clone();
    let deleted = reqwest::Client::new()
        .delete(format!("{}/v3/webhooks/{hook}", r.sim.base_url(Region::Us)))
        .bearer_auth(&r.secrets["ALPHA_V3_KEY"])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let preview = run(&r, &["plan", &plan, "--detailed-exitcode"], 2).await;
    assert!(
        stdout(&preview).contains("no destination with this URL yet"),
        "{}",
        stdout(&preview)
    );
    run(&r, &["verify", &plan], 1).await;
    run(&r, &["apply", &plan, "--yes"], 0).await;
    assert_eq!(statuses(&r), ["pause", "pause", "pause"]);
    converged(&r, "deleted by hand, made again").await;
    check_responses(&r.sim.recorded_responses());

    // New destinations the plan wants paused: created, then paused in the same apply.
    let r = rehearsal::start(
        &destinations_only("        status: pause\n"),
        0,
        |_, config| {
            config.record_responses = true;
        },
    )
    .await;
    run(&r, &["apply", &r.plan_arg(), "--yes"], 0).await;
    assert_eq!(statuses(&r), ["pause", "pause", "pause"]);
    converged(&r, "created paused").await;
    check_responses(&r.sim.recorded_responses());
}
