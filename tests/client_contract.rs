//! Every request the client sends validates against the contract: method and path, path
//! parameters, query parameters (each declared, each of its declared type) and JSON body (present
//! exactly when the contract has one, and valid against it). The client runs every operation
//! against the simulator with every optional field and filter it can send, and a request
//! observer records what went out.

use std::time::Duration;

use nylas_migrate::api::{
    AddRedirectUri, AndroidSettings, BatchCloneRequest, BatchProvider, CloneMode,
    ConnectorProvider, CreateConnector, CreatePubsubChannel, CreateSnsChannel, CreateWebhook,
    GrantStatus, IosSettings, JobStatus, JobType, JsSettings, Operation, PlaceholderQuery,
    PlatformSettings, Region, RequestedStatus, SendTestEvent, TestTriggerType, TranslateRequest,
    TriggerType, UpdateConnector, UpdatePubsubChannel, UpdateRedirectUri, UpdateSnsChannel,
    UpdateWebhook,
};
use nylas_migrate::client::{GrantFilter, JobFilter, RequestRecord};
use serde_json::{Value, json};

use crate::support::client::{config, recorder, start};
use crate::support::contract::{Contract, SentRequest};

/// Runs every operation, with every optional field and filter the client can send.
async fn record_every_request() -> Vec<RequestRecord> {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        rate_limit: 0,
        ..config(40)
    })
    .await;
    let (observer, records) = recorder();
    let client = h
        .builder()
        .observer(observer)
        .default_rate_limit(1000)
        .build()
        .unwrap();
    let app = h.app(&client, Region::Us);
    let v2 = h.v2(Region::Us).clone();
    let account = v2.accounts[0].id.clone();

    app.get_application().await.unwrap();
    app.link_v2_app(&v2.id, &h.v2_secret(Region::Us))
        .await
        .unwrap();
    app.import_v2_app().await.unwrap();
    app.list_connectors().await.unwrap();
    app.get_connector(ConnectorProvider::Google).await.unwrap();
    app.get_connector(ConnectorProvider::VirtualCalendar)
        .await
        .unwrap();
    let credentials = |extra: Value| {
        let mut settings = json!({"client_id": "id", "client_secret": "secret"});
        settings
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        settings.as_object().cloned()
    };
    app.create_connector(&CreateConnector {
        provider: ConnectorProvider::Yahoo,
        settings: credentials(json!({})),
        scope: Some(vec!["email".into(), "profile".into()]),
    })
    .await
    .unwrap();
    app.create_connector(&CreateConnector {
        provider: ConnectorProvider::VirtualCalendar,
        settings: None,
        scope: None,
    })
    .await
    .unwrap();
    app.update_connector(
        ConnectorProvider::Microsoft,
        &UpdateConnector {
            settings: credentials(json!({"tenant": "common"})),
            scope: Some(vec!["Mail.Read".into(), "offline_access".into()]),
            active_credential_id: None,
        },
    )
    .await
    .unwrap();
    let hook = app
        .create_webhook(&CreateWebhook {
            trigger_types: vec![TriggerType::GrantCreated, TriggerType::MessageCreated],
            webhook_url: "https://hooks.example/nylas".into(),
            description: Some("migration".into()),
            notification_email_addresses: Some(vec!["ops@example.com".into()]),
            compressed_delivery: Some(true),
        })
        .await
        .unwrap();
    let hook_id = hook.data.webhook.id.clone();
    app.list_webhooks().await.unwrap();
    app.get_webhook(&hook_id).await.unwrap();
    app.update_webhook(
        &hook_id,
        &UpdateWebhook {
            trigger_types: Some(vec![TriggerType::GrantExpired]),
            webhook_url: Some("https://hooks.example/v2".into()),
            description: Some("changed".into()),
            notification_email_addresses: Some(vec!["ops@example.com".into()]),
            status: Some(RequestedStatus::Pause),
            compressed_delivery: Some(false),
        },
    )
    .await
    .unwrap();
    app.send_test_event(&SendTestEvent {
        trigger_type: TestTriggerType::GrantExpired,
        webhook_url: "https://hooks.example/nylas".into(),
    })
    .await
    .unwrap();
    // What a person does in the dashboard, over HTTP (the runner never deletes).
    app.delete_webhook(&hook_id).await.unwrap();

    // Channels, every field of each body.
    let emails = Some(vec!["ops@example.com".to_string()]);
    let pubsub = app
        .create_pubsub_channel(&CreatePubsubChannel {
            trigger_types: vec![TriggerType::MessageCreated],
            topic: "projects/acme-prod/topics/nylas-events".into(),
            description: Some("migration".into()),
            notification_email_addresses: emails.clone(),
            compressed_delivery: Some(true),
        })
        .await
        .unwrap();
    let pubsub_id = pubsub.data.id.clone();
    app.list_pubsub_channels().await.unwrap();
    app.get_pubsub_channel(&pubsub_id).await.unwrap();
    app.update_pubsub_channel(
        &pubsub_id,
        &UpdatePubsubChannel {
            description: Some("changed".into()),
            trigger_types: Some(vec![TriggerType::GrantExpired]),
            topic: Some("projects/acme-prod/topics/other".into()),
            status: Some(RequestedStatus::Pause),
            notification_email_addresses: emails.clone(),
            compressed_delivery: Some(false),
        },
    )
    .await
    .unwrap();
    app.delete_pubsub_channel(&pubsub_id).await.unwrap();
    let sns = app
        .create_sns_channel(&CreateSnsChannel {
            trigger_types: vec![TriggerType::GrantExpired],
            topic: "arn:aws:sns:us-east-1:123456789012:nylas-events".into(),
            role_arn: "arn:aws:iam::123456789012:role/nylas-publisher".into(),
            description: Some("migration".into()),
            notification_email_addresses: emails.clone(),
            compressed_delivery: Some(true),
        })
        .await
        .unwrap();
    let sns_id = sns.data.id.clone();
    app.list_sns_channels().await.unwrap();
    app.get_sns_channel(&sns_id).await.unwrap();
    app.update_sns_channel(
        &sns_id,
        &UpdateSnsChannel {
            description: Some("changed".into()),
            trigger_types: Some(vec![TriggerType::GrantCreated]),
            topic: Some("arn:aws:sns:us-east-1:123456789012:other".into()),
            role_arn: Some("arn:aws:iam::123456789012:role/other".into()),
            status: Some(RequestedStatus::Active),
            notification_email_addresses: emails,
            compressed_delivery: Some(false),
        },
    )
    .await
    .unwrap();
    app.delete_sns_channel(&sns_id).await.unwrap();

    // Redirect URIs on every platform, with every setting.
    let web = app
        .add_redirect_uri(&AddRedirectUri {
            id: Some("0556d035-6cb6-4262-a035-6b77e11cf8fc".into()),
            url: "https://app.example/callback".into(),
            platform: PlatformSettings::Web,
        })
        .await
        .unwrap();
    for platform in [
        PlatformSettings::Desktop,
        PlatformSettings::Js {
            settings: Some(JsSettings {
                origin: "https://app.example".into(),
            }),
        },
        PlatformSettings::Android {
            settings: Some(AndroidSettings {
                package_name: "com.example.app".into(),
                sha1_certificate_fingerprint:
                    "AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90:AB:CD:EF:12".into(),
            }),
        },
    ] {
        let url = format!("https://app.example/{}", platform.platform());
        app.add_redirect_uri(&AddRedirectUri {
            id: None,
            url,
            platform,
        })
        .await
        .unwrap();
    }
    app.list_redirect_uris().await.unwrap();
    app.get_redirect_uri(&web.data.id).await.unwrap();
    app.get_redirect_uri("5967ca40-a2d8-4ee0-a0e0-6f18ace39a90")
        .await
        .unwrap();
    app.update_redirect_uri(
        &web.data.id,
        &UpdateRedirectUri {
            url: "com.example.app://callback".into(),
            platform: PlatformSettings::Ios {
                settings: Some(IosSettings {
                    bundle_id: "com.example.app".into(),
                    app_store_id: Some("1234567890".into()),
                    team_id: Some("ABCDE12345".into()),
                }),
            },
        },
    )
    .await
    .unwrap();
    app.delete_redirect_uri(&web.data.id).await.unwrap();

    let grant = app
        .clone_account(
            &account,
            PlaceholderQuery {
                allow_invalid_grant_creation: Some(true),
                clone_exchange: Some(false),
            },
        )
        .await
        .unwrap();
    app.clone_account(&v2.accounts[1].id, PlaceholderQuery::default())
        .await
        .unwrap();
    app.get_grant(&grant.data.id).await.unwrap();
    app.list_grants(&GrantFilter {
        account_id: Some(account.clone()),
        account_ids: vec![account.clone(), v2.accounts[1].id.clone()],
        provider: Some("google".into()),
        grant_status: Some(GrantStatus::Valid),
        email: Some("someone@example.com".into()),
        limit: Some(5),
        offset: Some(0),
    })
    .await
    .unwrap();
    let ids: Vec<&str> = v2.accounts.iter().map(|a| a.id.as_str()).collect();
    app.grants_for_accounts(&ids).await.unwrap();
    app.batch_clone(
        &BatchCloneRequest {
            limit: Some(10),
            offset: Some(2),
            providers: Some(vec![BatchProvider::Google, BatchProvider::Graph]),
            mode: Some(CloneMode::OnlyNew),
        },
        PlaceholderQuery {
            allow_invalid_grant_creation: Some(false),
            clone_exchange: Some(true),
        },
    )
    .await
    .unwrap();
    app.batch_clone(&BatchCloneRequest::default(), PlaceholderQuery::default())
        .await
        .unwrap();
    h.sim.advance(Duration::from_secs(60));
    app.list_jobs(&JobFilter::default()).await.unwrap();
    app.list_jobs(&JobFilter {
        status: vec![JobStatus::Running, JobStatus::Completed],
        job_type: vec![JobType::Migration, JobType::Snapshot],
        sort_by_completion: Some(true),
    })
    .await
    .unwrap();
    app.translate_pages(TranslateRequest {
        resource_type: "messages".into(),
        v2_account_id: account.clone(),
        nylas_ids: None,
        start_from_timestamp: Some(1_727_172_308),
        next_page_number: None,
    })
    .collect_all()
    .await
    .unwrap();
    app.translate(&TranslateRequest {
        resource_type: "events".into(),
        v2_account_id: account,
        nylas_ids: Some(vec!["4ro91k0t3ofvzs3b3lij6iqa2".into()]),
        start_from_timestamp: None,
        next_page_number: Some(2),
    })
    .await
    .unwrap();

    records.lock().unwrap().clone()
}

#[tokio::test]
async fn every_request_the_client_sends_follows_the_contract() {
    let records = record_every_request().await;
    for op in Operation::ALL {
        assert!(
            records.iter().any(|r| r.operation == op),
            "{op} was not exercised"
        );
    }
    let Some(contract) = Contract::load() else {
        return;
    };
    let failures: Vec<String> = records
        .iter()
        .filter_map(|r| check(&contract, r).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} requests break the contract:\n{}",
        failures.len(),
        records.len(),
        failures.join("\n")
    );
}

fn check(contract: &Contract, record: &RequestRecord) -> Result<(), String> {
    contract.check_request(&SentRequest {
        operation_id: record.operation.operation_id(),
        method: record.method,
        path: &record.path,
        path_params: &record.path_params,
        query: &record.query,
        body: record.body.as_ref(),
    })
}

/// Why create_connector's body is checked against one branch: the whole `oneOf` refuses even a
/// body that fits its provider's branch exactly.
#[test]
fn create_connector_one_of_matches_several_branches() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let body = json!({"provider": "yahoo", "settings": {"client_id": "i", "client_secret": "s"}});
    let validator = contract
        .request_body_validator("create_connector")
        .unwrap()
        .unwrap();
    assert!(!validator.is_valid(&body));
}

/// The checker itself: it refuses what the contract refuses.
#[test]
fn the_check_catches_requests_that_break_the_contract() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let good = RequestRecord {
        operation: Operation::ListGrants,
        app_id: "app".into(),
        method: "GET",
        path: "/v3/grants".into(),
        path_params: vec![],
        query: vec![
            ("limit".into(), "200".into()),
            ("account_ids".into(), "a,b".into()),
        ],
        body: None,
        attempt: 1,
    };
    check(&contract, &good).unwrap();
    let bad = |change: &dyn Fn(&mut RequestRecord)| {
        let mut record = good.clone();
        change(&mut record);
        check(&contract, &record).expect_err("should break the contract");
    };
    bad(&|r| r.query.push(("page_token".into(), "x".into())));
    bad(&|r| r.query[0].1 = "many".into());
    bad(&|r| r.query.push(("grant_status".into(), "expired".into())));
    bad(&|r| r.body = Some(json!({})));
    bad(&|r| r.method = "POST");
    bad(&|r| {
        r.operation = Operation::GetConnector;
        r.path = "/v3/connectors/outlook".into();
        r.path_params = vec!["outlook".into()];
        r.query.clear();
    });
    bad(&|r| {
        r.operation = Operation::SnapshotBatchClone;
        r.method = "POST";
        r.path = "/v3/migration-tools/snapshot-batch-clone".into();
        r.query.clear();
        r.body = Some(json!({"mode": "everything"}));
    });
    bad(&|r| {
        r.operation = Operation::CreateWebhook;
        r.method = "POST";
        r.path = "/v3/webhooks".into();
        r.query.clear();
        r.body = Some(json!({"webhook_url": "https://x"}));
    });
    // A Pub/Sub channel without its topic (required once the contract's defect is relaxed).
    bad(&|r| {
        r.operation = Operation::CreatePubsubChannel;
        r.method = "POST";
        r.path = "/v3/channels/pubsub".into();
        r.query.clear();
        r.body = Some(json!({"trigger_types": ["grant.created"]}));
    });
    // A redirect URI without its platform matches every branch of the `oneOf`: the client
    // always names the platform.
    bad(&|r| {
        r.operation = Operation::AddRedirectUri;
        r.method = "POST";
        r.path = "/v3/applications/redirect-uris".into();
        r.query.clear();
        r.body = Some(json!({"url": "https://app.example/cb"}));
    });
    bad(&|r| {
        r.operation = Operation::UpdateSnsChannel;
        r.method = "PUT";
        r.path = "/v3/channels/sns/c1".into();
        r.path_params = vec!["c1".into()];
        r.query.clear();
        r.body = Some(json!({"status": "paused"}));
    });
}

/// A pair with every notification key, every optional setting and every redirect URI platform.
const NOTIFICATIONS: &str = r#"version: 1
name: bodies
pairs:
  - name: p
    region: us
    v2: { app_id: pv2app, client_secret: { env: P_V2 } }
    v3: { app_id: 0a0a0a0a-0000-4000-8000-000000000001, api_key: { env: P_V3 } }
    redirect_uris:
      - { url: https://app.acme.example/callback, platform: web }
      - { url: http://localhost:3000/callback, platform: desktop }
      - { url: https://app.acme.example/js, platform: js, settings: { origin: https://app.acme.example } }
      - url: com.acme.app://callback
        platform: ios
        settings: { bundle_id: com.acme.app, app_store_id: "1234567890", team_id: ABCDE12345 }
      - url: com.acme.app://android
        platform: android
        settings:
          package_name: com.acme.app
          sha1_certificate_fingerprint: "AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90:AB:CD:EF:12"
    webhooks:
      - url: https://hooks.acme.example/nylas
        triggers: [grant.created, message.created]
        test: grant.created
    pubsub:
      - topic: projects/acme-prod/topics/nylas-events
        triggers: [message.created]
        description: migration
        notification_emails: [ops@acme.example]
        compressed_delivery: true
      - { topic: projects/acme-prod/topics/bare, triggers: [grant.expired] }
    sns:
      - topic: arn:aws:sns:us-east-1:123456789012:nylas-events
        role_arn: arn:aws:iam::123456789012:role/nylas-publisher
        triggers: [grant.expired]
        description: migration
        notification_emails: [ops@acme.example]
        compressed_delivery: false
      - topic: arn:aws:sns:us-east-1:123456789012:bare
        role_arn: arn:aws:iam::123456789012:role/nylas-publisher
        triggers: [grant.created]
"#;

/// What the notification steps send, built from a plan the way the steps build it (the plan
/// entries' `create_request`, `update_request`, `add_request` and `test_request`): each
/// channel's create and its PUT, each redirect URI's add and its PATCH, the webhook's test.
#[tokio::test]
async fn the_bodies_the_notification_steps_send_follow_the_contract() {
    let plan = crate::support::rehearsal::parse(NOTIFICATIONS);
    let pair = &plan.pairs[0];
    let h = start(config(10)).await;
    let (observer, records) = recorder();
    let client = h.builder().observer(observer).build().unwrap();
    let app = h.app(&client, Region::Us);
    for p in &pair.pubsub {
        let made = app
            .create_pubsub_channel(&p.create_request())
            .await
            .unwrap();
        app.update_pubsub_channel(&made.data.id, &p.update_request())
            .await
            .unwrap();
    }
    for s in &pair.sns {
        let made = app.create_sns_channel(&s.create_request()).await.unwrap();
        app.update_sns_channel(&made.data.id, &s.update_request())
            .await
            .unwrap();
    }
    for r in &pair.redirect_uris {
        let added = app.add_redirect_uri(&r.add_request()).await.unwrap();
        app.update_redirect_uri(&added.data.id, &r.update_request())
            .await
            .unwrap();
    }
    for w in &pair.webhooks {
        app.send_test_event(&w.test_request().unwrap())
            .await
            .unwrap();
    }
    let records = records.lock().unwrap().clone();
    assert_eq!(records.len(), 2 * 2 + 2 * 2 + 2 * 5 + 1);
    let Some(contract) = Contract::load() else {
        return;
    };
    let failures: Vec<String> = records
        .iter()
        .filter_map(|r| check(&contract, r).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
