//! Secrets never show: every operation (failing ones included) runs with real secret values
//! while logs are captured at TRACE; then the logs, every error (Display, Debug, miette's
//! report) and the Debug output of every client type are searched for each secret.

use std::time::Duration;

use base64::Engine;
use nylas_migrate::api::{
    BatchCloneRequest, ConnectorProvider, CreateConnector, CreateWebhook, PlaceholderQuery, Region,
    TranslateRequest, TriggerType, UpdateConnector, UpdateWebhook,
};
use nylas_migrate::client::{AppConfig, ClientError, GrantFilter, JobFilter, RetryPolicy, Secret};
use serde_json::json;

use crate::support::client::{config, fast_retries, recorder, start};

fn report(error: &ClientError) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new()
        .render_report(&mut out, error)
        .unwrap();
    format!("{error}\n{error:?}\n{error:#?}\n{out}")
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_logs_errors_or_debug_output() {
    let (logs, _guard) = crate::support::logs::capture(tracing::Level::TRACE);

    let h = start(config(40)).await;
    let (observer, _records) = recorder();
    let client = h
        .builder()
        .observer(observer)
        .record_send_instants(true)
        .build()
        .unwrap();
    let app = h.app(&client, Region::Us);
    let v2 = h.v2(Region::Us).clone();
    let v3_key = h.v3(Region::Us).api_key.clone();
    let basic_v2 =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", v2.id, v2.secret));
    let wrong_key = "sk-wrong-5f1c2e9a7b3d4c6e8f0a1b2c3d4e5f6a".to_string();
    let connector_secret = "azure-client-secret-9d8c7b6a5f4e3d2c1b0a".to_string();

    let mut shown: Vec<String> = Vec::new();
    let mut errors: Vec<ClientError> = Vec::new();

    // Every operation, succeeding.
    shown.push(format!("{:?}", app.get_application().await.unwrap()));
    shown.push(format!(
        "{:?}",
        app.link_v2_app(&v2.id, &h.v2_secret(Region::Us))
            .await
            .unwrap()
    ));
    shown.push(format!("{:?}", app.import_v2_app().await.unwrap()));
    shown.push(format!("{:?}", app.list_connectors().await.unwrap()));
    shown.push(format!(
        "{:?}",
        app.get_connector(ConnectorProvider::Google).await.unwrap()
    ));
    shown.push(format!(
        "{:?}",
        app.get_connector(ConnectorProvider::Zoom).await.unwrap()
    ));
    let azure =
        json!({"client_id": "azure-id", "client_secret": connector_secret, "tenant": "common"});
    shown.push(format!(
        "{:?}",
        app.update_connector(
            ConnectorProvider::Microsoft,
            &UpdateConnector {
                settings: azure.as_object().cloned(),
                scope: Some(vec!["Mail.Read".into()]),
                active_credential_id: None
            },
        )
        .await
        .unwrap()
    ));
    shown.push(format!(
        "{:?}",
        app.create_connector(&CreateConnector {
            provider: ConnectorProvider::Yahoo,
            settings: json!({"client_id": "y", "client_secret": connector_secret})
                .as_object()
                .cloned(),
            scope: None,
        })
        .await
        .unwrap()
    ));
    let created = app
        .create_webhook(&CreateWebhook {
            trigger_types: vec![TriggerType::GrantCreated],
            webhook_url: "https://hooks.example/nylas".into(),
            description: None,
            notification_email_addresses: None,
            compressed_delivery: None,
        })
        .await
        .unwrap();
    let webhook_secret = created
        .data
        .webhook_secret
        .as_ref()
        .unwrap()
        .expose()
        .to_owned();
    shown.push(format!("{created:?} {:#?}", created.data));
    shown.push(format!("{:?}", app.list_webhooks().await.unwrap()));
    shown.push(format!(
        "{:?}",
        app.get_webhook(&created.data.webhook.id).await.unwrap()
    ));
    shown.push(format!(
        "{:?}",
        app.update_webhook(
            &created.data.webhook.id,
            &UpdateWebhook {
                description: Some("d".into()),
                ..UpdateWebhook::default()
            }
        )
        .await
        .unwrap()
    ));
    let account = v2.accounts[0].id.clone();
    let grant = app
        .clone_account(&account, PlaceholderQuery::default())
        .await
        .unwrap();
    shown.push(format!("{grant:?}"));
    shown.push(format!(
        "{:?}",
        app.get_grant(&grant.data.id).await.unwrap()
    ));
    shown.push(format!(
        "{:?}",
        app.list_grants(&GrantFilter::default()).await.unwrap()
    ));
    shown.push(format!(
        "{:?}",
        app.grants_for_accounts(&[account.as_str()]).await.unwrap()
    ));
    shown.push(format!(
        "{:?}",
        app.batch_clone(&BatchCloneRequest::default(), PlaceholderQuery::default())
            .await
            .unwrap()
    ));
    shown.push(format!(
        "{:?}",
        app.list_jobs(&JobFilter::default()).await.unwrap()
    ));
    let translate = app.translate_pages(TranslateRequest {
        resource_type: "messages".into(),
        v2_account_id: account.clone(),
        nylas_ids: None,
        start_from_timestamp: None,
        next_page_number: None,
    });
    shown.push(format!("{translate:?}"));
    shown.push(format!("{:?}", translate.collect_all().await.unwrap()));

    // Failing: 401 (wrong key, and wrong v2 secret on link), 404.
    let wrong = client.app(AppConfig {
        region: Region::Us,
        app_id: h.v3(Region::Us).id.clone(),
        api_key: Secret::new(wrong_key.clone()).with_origin("environment variable WRONG"),
        rate_limit: None,
        key_source: "environment variable WRONG (pair p)".into(),
    });
    errors.push(wrong.get_application().await.unwrap_err());
    errors.push(
        wrong
            .link_v2_app(&v2.id, &h.v2_secret(Region::Us))
            .await
            .unwrap_err(),
    );
    errors.push(
        app.link_v2_app(&v2.id, &Secret::new(wrong_key.clone()))
            .await
            .unwrap_err(),
    );
    errors.push(app.get_grant("missing").await.unwrap_err());
    errors.push(app.get_webhook("missing").await.unwrap_err());

    // Failing: 429 past the budget, and dropped connections (ambiguous and exhausted).
    let limited = start(nylas_migrate::simulator::SimulatorConfig {
        rate_limit: 1,
        ..config(3)
    })
    .await;
    let limited_client = limited
        .builder()
        .default_rate_limit(1000)
        .retry_policy(RetryPolicy {
            max_elapsed: Duration::from_millis(100),
            ..fast_retries()
        })
        .build()
        .unwrap();
    let limited_app = limited.app(&limited_client, Region::Us);
    let limited_key = limited.v3(Region::Us).api_key.clone();
    let (a, b) = tokio::join!(limited_app.get_application(), limited_app.get_application());
    errors.push(a.and(b).unwrap_err());
    let dropping = start(nylas_migrate::simulator::SimulatorConfig {
        drop_rate: 1.0,
        rate_limit: 0,
        ..config(3)
    })
    .await;
    let dropping_client = dropping
        .builder()
        .retry_policy(RetryPolicy {
            max_attempts: 2,
            ..fast_retries()
        })
        .build()
        .unwrap();
    let dropping_app = dropping.app(&dropping_client, Region::Us);
    let dropping_key = dropping.v3(Region::Us).api_key.clone();
    errors.push(dropping_app.get_application().await.unwrap_err());
    errors.push(
        dropping_app
            .batch_clone(&BatchCloneRequest::default(), PlaceholderQuery::default())
            .await
            .unwrap_err(),
    );
    errors.push(
        dropping_app
            .link_v2_app(&dropping.v2(Region::Us).id, &dropping.v2_secret(Region::Us))
            .await
            .unwrap_err(),
    );

    let statuses: Vec<Option<u16>> = errors.iter().map(ClientError::status).collect();
    assert!(
        statuses.contains(&Some(401))
            && statuses.contains(&Some(404))
            && statuses.contains(&Some(429)),
        "{statuses:?}"
    );
    assert!(errors.iter().any(ClientError::is_ambiguous));
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, ClientError::Transport { .. }))
    );
    shown.extend(errors.iter().map(report));

    // Every client type's Debug.
    let secret = Secret::new(v3_key.clone()).with_origin("environment variable ACME");
    shown.push(format!("{secret:?} {secret} {secret:#?}"));
    shown.push(format!("{client:?} {client:#?}"));
    shown.push(format!(
        "{app:?} {app:#?} {wrong:?} {limited_app:?} {dropping_app:?}"
    ));
    shown.push(format!("{:?}", h.builder()));
    shown.push(format!(
        "{:?}",
        AppConfig {
            region: Region::Us,
            app_id: "a".into(),
            api_key: Secret::new(v3_key.clone()),
            rate_limit: None,
            key_source: "k".into()
        }
    ));
    shown.push(format!("{:?}", client.limiters()));
    shown.push(format!(
        "{:?} {:?}",
        client.endpoints(),
        client.retry_policy()
    ));
    shown.push(format!("{:?}", _records.lock().unwrap()));
    drop(_guard);
    let log_text = logs.text();
    // The logs saw the calls, the 429 and the ambiguous batch clone.
    for expected in [
        "operation=get_application",
        "status=429",
        "ambiguous outcome",
        "migration_link_v2v3_apps",
    ] {
        assert!(
            log_text.contains(expected),
            "no {expected:?} in the logs:\n{log_text}"
        );
    }
    shown.push(log_text);
    let everything = shown.join("\n");

    for (name, value) in [
        ("v3 API key", &v3_key),
        ("v2 secret", &v2.secret),
        ("BasicV2 value", &basic_v2),
        ("wrong API key", &wrong_key),
        ("connector client secret", &connector_secret),
        ("webhook secret", &webhook_secret),
        ("second simulator's API key", &limited_key),
        ("third simulator's API key", &dropping_key),
    ] {
        assert!(value.len() >= 8, "{name} is a real secret");
        assert!(!everything.contains(value.as_str()), "the {name} leaked");
    }
}
