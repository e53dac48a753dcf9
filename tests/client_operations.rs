//! Every contract operation through the client, against the simulator.

use crate::support;

use std::time::Duration;

use nylas_migrate::api::{
    AddRedirectUri, BatchCloneRequest, ChannelStatus, CloneMode, ConnectorProvider,
    CreateConnector, CreatePubsubChannel, CreateSnsChannel, CreateWebhook, JobType, JsSettings,
    Operation, PlaceholderQuery, PlatformSettings, Region, RequestedStatus, SendTestEvent,
    TestTriggerType, TranslateRequest, TriggerType, UpdateConnector, UpdatePubsubChannel,
    UpdateRedirectUri, UpdateSnsChannel, UpdateWebhook,
};
use nylas_migrate::client::{
    AppConfig, ClientError, GrantFilter, JobFilter, Secret, TestEventDelivery,
};
use serde_json::json;

use crate::support::client::{config, start};

fn settings(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn a_migration_through_every_operation() {
    let h = start(config(40)).await;
    let client = h.client();
    let app = h.app(&client, Region::Us);
    let v2 = h.v2(Region::Us).clone();

    // Application: not linked yet, in the region the client was told.
    let application = app.get_application().await.unwrap();
    assert!(application.request_id.is_some());
    assert_eq!(
        application.data.application_id.as_deref(),
        Some(app.app_id())
    );
    assert_eq!(application.data.v2_application_id, None);
    app.verify_region(&application.data).unwrap();

    // Link, twice: the same pair again is the same link.
    let linked = app
        .link_v2_app(&v2.id, &h.v2_secret(Region::Us))
        .await
        .unwrap();
    assert_eq!(
        linked.data.v2_application_id.as_deref(),
        Some(v2.id.as_str())
    );
    let again = app
        .link_v2_app(&v2.id, &h.v2_secret(Region::Us))
        .await
        .unwrap();
    assert_eq!(again.data.v2_application_id, linked.data.v2_application_id);

    // Import creates a connector per v2 integration.
    let imported = app.import_v2_app().await.unwrap();
    assert!(!imported.data.is_empty());
    let connectors = app.list_connectors().await.unwrap();
    assert_eq!(connectors.request_ids.len(), 1, "one page");
    assert!(
        connectors
            .data
            .iter()
            .any(|c| c.provider == ConnectorProvider::Google)
    );

    // Connectors: get (present and absent), create, update.
    let google = app.get_connector(ConnectorProvider::Google).await.unwrap();
    assert_eq!(google.data.unwrap().provider, ConnectorProvider::Google);
    let absent = app.get_connector(ConnectorProvider::Yahoo).await.unwrap();
    assert!(absent.data.is_none());
    assert!(absent.request_id.is_some(), "a 404 still has a request id");
    let created = app
        .create_connector(&CreateConnector {
            provider: ConnectorProvider::Yahoo,
            settings: Some(settings(
                json!({"client_id": "yahoo-id", "client_secret": "yahoo-secret"}),
            )),
            scope: Some(vec!["email".into(), "mail-r".into()]),
        })
        .await
        .unwrap();
    assert_eq!(created.data.provider, ConnectorProvider::Yahoo);
    let scope = vec![
        "Mail.Read".to_string(),
        "User.Read".into(),
        "offline_access".into(),
    ];
    let updated = app
        .update_connector(
            ConnectorProvider::Microsoft,
            &UpdateConnector {
                settings: Some(settings(json!({"client_id": "azure-id", "client_secret": "azure-secret", "tenant": "common"}))),
                scope: Some(scope.clone()),
                active_credential_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.data.scope.as_ref(), Some(&scope));

    // Webhooks: create (with its secret), list, get, update.
    let hook = app
        .create_webhook(&CreateWebhook {
            trigger_types: vec![TriggerType::GrantCreated, TriggerType::GrantExpired],
            webhook_url: "https://hooks.acme.example/nylas".into(),
            description: Some("migration".into()),
            notification_email_addresses: None,
            compressed_delivery: None,
        })
        .await
        .unwrap();
    let hook_id = hook.data.webhook.id.clone();
    assert!(
        hook.data
            .webhook_secret
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(
        hook.data.webhook.webhook_secret.is_none(),
        "only kept as a Secret"
    );
    let hooks = app.list_webhooks().await.unwrap();
    assert!(hooks.data.iter().any(|w| w.id == hook_id));
    let got = app.get_webhook(&hook_id).await.unwrap();
    assert_eq!(got.data.webhook_url, "https://hooks.acme.example/nylas");
    let changed = app
        .update_webhook(
            &hook_id,
            &UpdateWebhook {
                trigger_types: Some(vec![TriggerType::GrantCreated, TriggerType::MessageCreated]),
                ..UpdateWebhook::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        changed.data.trigger_types,
        [TriggerType::GrantCreated, TriggerType::MessageCreated]
    );

    // Single clone, twice: the second returns the same grant.
    let account = &v2.accounts.iter().find(|a| a.migratable).unwrap().id;
    let grant = app
        .clone_account(account, PlaceholderQuery::default())
        .await
        .unwrap();
    assert_eq!(grant.data.account_id.as_deref(), Some(account.as_str()));
    let same = app
        .clone_account(
            account,
            PlaceholderQuery {
                allow_invalid_grant_creation: Some(true),
                clone_exchange: Some(false),
            },
        )
        .await
        .unwrap();
    assert_eq!(same.data.id, grant.data.id);

    // Grants: by id, by account, by many accounts in pages of 200 ids.
    let by_id = app.get_grant(&grant.data.id).await.unwrap();
    assert_eq!(by_id.data.id, grant.data.id);
    let by_account = app
        .list_grants(&GrantFilter {
            account_id: Some(account.clone()),
            ..GrantFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_account.data.len(), 1);
    let ids: Vec<&str> = v2.accounts.iter().map(|a| a.id.as_str()).collect();
    let observed = app.grants_for_accounts(&ids).await.unwrap();
    assert_eq!(observed.data.len(), 1);
    assert_eq!(observed.request_ids.len(), 1);
    let missing = app.get_grant("no-such-grant").await.unwrap_err();
    assert!(missing.is_not_found(), "{missing:?}");

    // Batch clone and its jobs.
    let jobs = app
        .batch_clone(
            &BatchCloneRequest {
                limit: Some(10),
                offset: Some(0),
                providers: None,
                mode: Some(CloneMode::OnlyNew),
            },
            PlaceholderQuery::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        jobs.data.clone_job.linked_job_id.as_deref(),
        Some(jobs.data.snapshot_job.job_id.as_str())
    );
    h.sim.advance(Duration::from_secs(3600));
    let listed = app
        .list_jobs(&JobFilter {
            job_type: vec![JobType::Migration],
            sort_by_completion: Some(true),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let job = listed
        .data
        .iter()
        .find(|j| j.job_id == jobs.data.clone_job.job_id)
        .unwrap();
    assert!(job.status.is_finished(), "{job:?}");
    assert_eq!(job.count_all, 10);
    let all_grants = app.list_all_grants(&GrantFilter::default()).await.unwrap();
    assert!(all_grants.data.len() >= 10);
    let in_threes = app
        .list_all_grants(&GrantFilter {
            limit: Some(3),
            ..GrantFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(in_threes.data.len(), all_grants.data.len());
    assert_eq!(in_threes.request_ids.len(), all_grants.data.len() / 3 + 1);

    // Translate: every page.
    let pages = app
        .translate_pages(TranslateRequest {
            resource_type: "messages".into(),
            v2_account_id: account.clone(),
            nylas_ids: None,
            start_from_timestamp: None,
            next_page_number: None,
        })
        .collect_all()
        .await
        .unwrap();
    assert!(!pages.data.is_empty());
    assert!(pages.data.iter().all(|p| p.v2_account_id == *account));
}

#[tokio::test]
async fn a_wrong_key_says_which_variable_to_check() {
    let h = start(config(3)).await;
    let client = h.client();
    let app = client.app(AppConfig {
        region: Region::Us,
        app_id: h.v3(Region::Us).id.clone(),
        api_key: Secret::new("not-the-key".into()),
        rate_limit: None,
        key_source: "environment variable ACME_V3_API_KEY (pair acme-prod)".into(),
    });
    let error = app.get_application().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(error.request_id().is_some());
    let ClientError::Api { help, attempts, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*attempts, 1, "a 401 is not retried");
    assert!(help.contains("ACME_V3_API_KEY"), "{help}");
    assert_eq!(
        miette::Diagnostic::code(&error)
            .map(|c| c.to_string())
            .as_deref(),
        Some(nylas_migrate::code::Code::ApiStatus.as_str())
    );
    assert!(help.contains("region us"), "{help}");
}

#[tokio::test]
async fn an_application_in_another_region_is_a_region_mismatch() {
    let h = start(config(3)).await;
    // The plan says E.U., but the E.U. endpoint is (mistakenly) the U.S. data centre, where the
    // key belongs to a U.S. application.
    let client = nylas_migrate::client::NylasClient::builder()
        .region_url(Region::Eu, &h.sim.base_url(Region::Us))
        .unwrap()
        .build()
        .unwrap();
    let app = client.app(AppConfig {
        region: Region::Eu,
        app_id: h.v3(Region::Us).id.clone(),
        api_key: Secret::new(h.v3(Region::Us).api_key.clone()),
        rate_limit: None,
        key_source: "environment variable K".into(),
    });
    let application = app.get_application().await.unwrap();
    let error = app.verify_region(&application.data).unwrap_err();
    assert!(
        matches!(&error, ClientError::RegionMismatch { actual, .. } if actual == "us"),
        "{error:?}"
    );
    assert_eq!(
        miette::Diagnostic::code(&error)
            .map(|c| c.to_string())
            .as_deref(),
        Some(nylas_migrate::code::Code::ApiRegionMismatch.as_str())
    );

    // And the E.U. key at the U.S. data centre is unknown there: a 401 whose help names the region.
    let client = h.client();
    let wrong_region = client.app(AppConfig {
        region: Region::Us,
        app_id: h.v3(Region::Eu).id.clone(),
        api_key: Secret::new(h.v3(Region::Eu).api_key.clone()),
        rate_limit: None,
        key_source: "environment variable EU_KEY".into(),
    });
    let error = wrong_region.get_application().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(error.to_string().contains("get_application"));
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let refused = nylas_migrate::client::NylasClient::builder()
        .region_url(Region::Us, "http://api.us.nylas.com");
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_key_with_a_newline_is_refused_before_sending() {
    let h = start(config(3)).await;
    let client = h.client();
    let app = client.app(AppConfig {
        region: Region::Us,
        app_id: h.v3(Region::Us).id.clone(),
        api_key: Secret::new(format!("{}\n", h.v3(Region::Us).api_key)),
        rate_limit: None,
        key_source: "file /run/secrets/acme (pair acme-prod)".into(),
    });
    let error = app.get_application().await.unwrap_err();
    let ClientError::InvalidCredential { help, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(help.contains("/run/secrets/acme"), "{help}");
    assert_eq!(h.sim.stats().total, 0, "nothing was sent");
    assert_eq!(
        miette::Diagnostic::code(&error)
            .map(|c| c.to_string())
            .as_deref(),
        Some(nylas_migrate::code::Code::ApiInvalidCredential.as_str())
    );
}

#[tokio::test]
async fn observing_many_accounts_costs_one_call_per_200() {
    let h = start(config(450)).await;
    let client = h.client();
    let app = h.app(&client, Region::Us);
    let ids: Vec<&str> = h
        .v2(Region::Us)
        .accounts
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids.len(), 300);
    let observed = app.grants_for_accounts(&ids).await.unwrap();
    assert!(observed.data.is_empty(), "nothing cloned yet");
    assert_eq!(observed.request_ids.len(), 2);
    assert_eq!(h.answered(nylas_migrate::api::Operation::ListGrants), 2);
}

#[tokio::test]
async fn notification_channels_redirect_uris_and_test_events() {
    let h = start(config(6)).await;
    let client = h.client();
    let app = h.app(&client, Region::Us);

    // Pub/Sub: create, read back, pause (read in both spellings), delete.
    let topic = "projects/acme-prod/topics/nylas-events";
    let created = app
        .create_pubsub_channel(&CreatePubsubChannel {
            trigger_types: vec![TriggerType::MessageCreated, TriggerType::GrantExpired],
            topic: topic.into(),
            description: None,
            notification_email_addresses: None,
            compressed_delivery: Some(true),
        })
        .await
        .unwrap();
    assert_eq!(created.data.topic, topic);
    assert_eq!(created.data.status, Some(ChannelStatus::Active));
    assert_eq!(created.data.compressed_delivery, Some(true));
    let id = created.data.id.clone();
    let paused = app
        .update_pubsub_channel(
            &id,
            &UpdatePubsubChannel {
                status: Some(RequestedStatus::Pause),
                trigger_types: Some(vec![TriggerType::GrantExpired]),
                ..UpdatePubsubChannel::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paused.data.status, Some(ChannelStatus::Paused));
    assert_eq!(paused.data.trigger_types, [TriggerType::GrantExpired]);
    let listed = app.list_pubsub_channels().await.unwrap();
    assert_eq!(listed.data.len(), 1);
    assert_eq!(
        listed.data[0].status,
        Some(ChannelStatus::Paused),
        "the list's `paused`"
    );
    let got = app.get_pubsub_channel(&id).await.unwrap();
    assert_eq!(
        got.data.status,
        Some(ChannelStatus::Paused),
        "the get's `pause`"
    );
    assert!(
        app.delete_pubsub_channel(&id)
            .await
            .unwrap()
            .request_id
            .is_some()
    );
    let gone = app.get_pubsub_channel(&id).await.unwrap_err();
    assert_eq!(gone.status(), Some(400));
    // A malformed topic is Nylas's 400, with its words.
    let refused = app
        .create_pubsub_channel(&CreatePubsubChannel {
            trigger_types: vec![TriggerType::GrantExpired],
            topic: "nylas-events".into(),
            description: None,
            notification_email_addresses: None,
            compressed_delivery: None,
        })
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("projects/<project>/topics/<topic>"),
        "{refused}"
    );

    // SNS: the role is kept and can change.
    let sns = app
        .create_sns_channel(&CreateSnsChannel {
            trigger_types: vec![TriggerType::GrantExpired],
            topic: "arn:aws:sns:us-east-1:123456789012:nylas-events".into(),
            role_arn: "arn:aws:iam::123456789012:role/nylas-publisher".into(),
            description: Some("ops".into()),
            notification_email_addresses: Some(vec!["ops@acme.example".into()]),
            compressed_delivery: None,
        })
        .await
        .unwrap();
    let moved = app
        .update_sns_channel(
            &sns.data.id,
            &UpdateSnsChannel {
                role_arn: Some("arn:aws:iam::123456789012:role/other".into()),
                ..UpdateSnsChannel::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.data.role_arn, "arn:aws:iam::123456789012:role/other");
    assert_eq!(moved.data.description.as_deref(), Some("ops"));
    assert_eq!(app.list_sns_channels().await.unwrap().data.len(), 1);
    app.get_sns_channel(&sns.data.id).await.unwrap();
    app.delete_sns_channel(&sns.data.id).await.unwrap();

    // Redirect URIs: add, read (and a missing one is None), change platform, delete.
    let added = app
        .add_redirect_uri(&AddRedirectUri {
            id: None,
            url: "https://app.acme.example/oauth/callback".into(),
            platform: PlatformSettings::Web,
        })
        .await
        .unwrap();
    let uri_id = added.data.id.clone();
    assert!(uuid::Uuid::parse_str(&uri_id).is_ok());
    let listed = app.list_redirect_uris().await.unwrap();
    assert_eq!(listed.data, std::slice::from_ref(&added.data));
    let found = app.get_redirect_uri(&uri_id).await.unwrap();
    assert_eq!(found.data.as_ref(), Some(&added.data));
    let missing = app
        .get_redirect_uri("5967ca40-a2d8-4ee0-a0e0-6f18ace39a90")
        .await
        .unwrap();
    assert!(missing.data.is_none() && missing.request_id.is_some());
    let js = PlatformSettings::Js {
        settings: Some(JsSettings {
            origin: "https://app.acme.example".into(),
        }),
    };
    let changed = app
        .update_redirect_uri(
            &uri_id,
            &UpdateRedirectUri {
                url: "https://app.acme.example/js".into(),
                platform: js.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.data.platform, js);
    app.delete_redirect_uri(&uri_id).await.unwrap();
    let again = app.delete_redirect_uri(&uri_id).await.unwrap_err();
    assert_eq!(again.status(), Some(404));
    assert!(app.list_redirect_uris().await.unwrap().data.is_empty());

    // Test events: acknowledged or not, by a receiver on 127.0.0.1.
    let receiver = support::receiver::Receiver::start().await;
    let test = |path: &str| SendTestEvent {
        trigger_type: TestTriggerType::GrantExpired,
        webhook_url: receiver.url(path),
    };
    let acked = app.send_test_event(&test("/echo")).await.unwrap();
    assert_eq!(acked.data, TestEventDelivery::Acknowledged);
    let nacked = app.send_test_event(&test("/nack")).await.unwrap();
    let TestEventDelivery::NotAcknowledged { detail } = &nacked.data else {
        panic!("{nacked:?}")
    };
    assert!(detail.contains("500"), "{detail}");
    assert_eq!(receiver.seen().len(), 2);
    // A webhook whose endpoint does not echo the challenge is refused, with Nylas's words.
    let refused = app
        .create_webhook(&CreateWebhook {
            trigger_types: vec![TriggerType::GrantCreated],
            webhook_url: receiver.url("/missing"),
            description: None,
            notification_email_addresses: None,
            compressed_delivery: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400));
    assert!(
        refused.to_string().contains("unable.verify.webhook_url"),
        "{refused}"
    );
    // A destination deleted as a person deletes one (the runner never does): gone from the
    // list; a second delete is Nylas's 400 (`destination.id.not.found`).
    let made = app
        .create_webhook(&CreateWebhook {
            trigger_types: vec![TriggerType::GrantCreated],
            webhook_url: receiver.url("/echo"),
            description: None,
            notification_email_addresses: None,
            compressed_delivery: None,
        })
        .await
        .unwrap();
    let id = made.data.webhook.id;
    assert!(app.delete_webhook(&id).await.unwrap().request_id.is_some());
    let listed = app.list_webhooks().await.unwrap();
    assert!(listed.data.iter().all(|w| w.id != id), "{listed:?}");
    let again = app.delete_webhook(&id).await.unwrap_err();
    assert_eq!(again.status(), Some(400));
    assert!(
        again.to_string().contains("destination.id.not.found"),
        "{again}"
    );
}

#[tokio::test]
async fn a_channel_create_is_not_resent_after_a_gateway_error() {
    let h = start(config(3)).await;
    let client = h.client();
    let app = h.app(&client, Region::Us);
    h.sim.set_faults(1.0, 0.0);
    let error = app
        .create_pubsub_channel(&CreatePubsubChannel {
            trigger_types: vec![TriggerType::GrantExpired],
            topic: "projects/acme-prod/topics/nylas-events".into(),
            description: None,
            notification_email_addresses: None,
            compressed_delivery: None,
        })
        .await
        .unwrap_err();
    let ClientError::Ambiguous { help, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(help.contains("GET /v3/channels/pubsub"), "{help}");
    assert_eq!(h.answered(Operation::CreatePubsubChannel), 1, "sent once");
    // A read is retried through the same faults until its budget ends.
    let read = app.list_pubsub_channels().await.unwrap_err();
    assert!(h.answered(Operation::ListPubsubChannels) > 1, "{read}");
}
