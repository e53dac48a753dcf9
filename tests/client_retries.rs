//! Retries against the simulator's rate limit and injected faults: what is resent, what is not,
//! and that every call ends within its bounds.

use std::time::Duration;

use futures::future::join_all;
use nylas_migrate::api::{
    BatchCloneRequest, ConnectorProvider, CreateWebhook, Operation, PlaceholderQuery, Region,
    TriggerType, UpdateConnector,
};
use nylas_migrate::client::{ClientError, RetryPolicy};

use crate::support::client::{config, fast_retries, start};

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    // The simulator allows 4 requests a second; the client, told nothing, would send 1000.
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        rate_limit: 4,
        ..config(3)
    })
    .await;
    let client = h.builder().default_rate_limit(1000).build().unwrap();
    let app = h.app(&client, Region::Us);
    let started = std::time::Instant::now();
    let calls = (0..8).map(|_| app.get_application());
    for result in join_all(calls).await {
        result.unwrap();
    }
    // The simulator's bucket holds 4; the other 4 were told "Retry-After: 1" and waited.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(
        h.count(Operation::GetApplication, 429) > 0,
        "the limit was hit"
    );
    assert_eq!(h.count(Operation::GetApplication, 200), 8);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_ends_the_call() {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        rate_limit: 1,
        ..config(3)
    })
    .await;
    let client = h
        .builder()
        .default_rate_limit(1000)
        .retry_policy(RetryPolicy {
            max_elapsed: Duration::from_millis(200),
            ..fast_retries()
        })
        .build()
        .unwrap();
    let app = h.app(&client, Region::Us);
    let (first, second) = tokio::join!(app.get_application(), app.get_application());
    let error = first.and(second).unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert!(error.request_id().is_some());
}

#[tokio::test]
async fn reads_and_idempotent_writes_survive_5xx_and_dropped_connections() {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        fault_rate: 0.15,
        drop_rate: 0.15,
        rate_limit: 0,
        ..config(30)
    })
    .await;
    let client = h.builder().default_rate_limit(1000).build().unwrap();
    let app = h.app(&client, Region::Us);
    for _ in 0..20 {
        app.get_application().await.unwrap();
    }
    app.link_v2_app(&h.v2(Region::Us).id, &h.v2_secret(Region::Us))
        .await
        .unwrap();
    app.import_v2_app().await.unwrap();
    let azure = serde_json::json!({"client_id": "azure-id", "client_secret": "azure-secret", "tenant": "common"});
    let fix = UpdateConnector {
        settings: azure.as_object().cloned(),
        ..UpdateConnector::default()
    };
    app.update_connector(ConnectorProvider::Microsoft, &fix)
        .await
        .unwrap();
    let accounts: Vec<String> = h
        .v2(Region::Us)
        .accounts
        .iter()
        .map(|a| a.id.clone())
        .collect();
    for account in &accounts {
        app.clone_account(account, PlaceholderQuery::default())
            .await
            .unwrap();
    }
    // Resent clones made no second grant.
    let grants = app.grants_for_accounts(&accounts).await.unwrap();
    assert_eq!(grants.data.len(), accounts.len());
    let faults: u64 = [502, 503, 504]
        .iter()
        .map(|s| h.count(Operation::GetApplication, *s))
        .sum();
    assert!(faults > 0, "faults were injected");
    assert!(h.dropped() > 0, "connections were dropped");
}

#[tokio::test]
async fn a_batch_clone_is_never_resent_after_an_ambiguous_failure() {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        drop_rate: 1.0,
        rate_limit: 0,
        ..config(10)
    })
    .await;
    let client = h.client();
    let app = h.app(&client, Region::Us);
    let error = app
        .batch_clone(&BatchCloneRequest::default(), PlaceholderQuery::default())
        .await
        .unwrap_err();
    assert!(error.is_ambiguous(), "{error:?}");
    let ClientError::Ambiguous { help, .. } = &error else {
        unreachable!()
    };
    assert!(help.contains("/v3/migration-tools/jobs"), "{help}");
    assert_eq!(
        miette::Diagnostic::code(&error)
            .map(|c| c.to_string())
            .as_deref(),
        Some(nylas_migrate::code::Code::ApiAmbiguous.as_str())
    );
    assert_eq!(
        h.dropped_of(Operation::SnapshotBatchClone),
        1,
        "sent once, not resent"
    );
    assert!(h.answered(Operation::SnapshotBatchClone) <= 1);

    let error = app
        .create_webhook(&CreateWebhook {
            trigger_types: vec![TriggerType::GrantCreated],
            webhook_url: "https://hooks.example/x".into(),
            description: None,
            notification_email_addresses: None,
            compressed_delivery: None,
        })
        .await
        .unwrap_err();
    assert!(error.is_ambiguous(), "{error:?}");
    assert_eq!(h.dropped_of(Operation::CreateWebhook), 1);
}

#[tokio::test]
async fn a_batch_clone_is_not_resent_after_a_gateway_error() {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        fault_rate: 1.0,
        rate_limit: 0,
        ..config(10)
    })
    .await;
    let client = h.client();
    let app = h.app(&client, Region::Us);
    let error = app
        .batch_clone(&BatchCloneRequest::default(), PlaceholderQuery::default())
        .await
        .unwrap_err();
    assert!(error.is_ambiguous(), "{error:?}");
    assert_eq!(h.answered(Operation::SnapshotBatchClone), 1);
}

#[tokio::test]
async fn attempts_are_bounded() {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        fault_rate: 1.0,
        rate_limit: 0,
        ..config(3)
    })
    .await;
    let client = h
        .builder()
        .retry_policy(RetryPolicy {
            max_attempts: 4,
            ..fast_retries()
        })
        .build()
        .unwrap();
    let app = h.app(&client, Region::Us);
    let error = app.get_application().await.unwrap_err();
    assert!(
        matches!(error, ClientError::Api { attempts: 4, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("after 4 attempts"), "{error}");
    assert_eq!(h.answered(Operation::GetApplication), 4);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // Nothing listens on a port just released.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = nylas_migrate::client::NylasClient::builder()
        .region_url(Region::Us, &format!("http://127.0.0.1:{port}"))
        .unwrap()
        .retry_policy(RetryPolicy {
            max_attempts: 3,
            ..fast_retries()
        })
        .build()
        .unwrap();
    let app = client.app(nylas_migrate::client::AppConfig {
        region: Region::Us,
        app_id: "app".into(),
        api_key: nylas_migrate::client::Secret::new("key".into()),
        rate_limit: None,
        key_source: "environment variable K".into(),
    });
    let error = app
        .batch_clone(&BatchCloneRequest::default(), PlaceholderQuery::default())
        .await
        .unwrap_err();
    // Never sent, so even a batch clone may be (and was) retried; then a transport error.
    assert!(
        matches!(error, ClientError::Transport { attempts: 3, .. }),
        "{error:?}"
    );
    assert_eq!(
        miette::Diagnostic::code(&error)
            .map(|c| c.to_string())
            .as_deref(),
        Some(nylas_migrate::code::Code::ApiTransport.as_str())
    );
}

#[tokio::test]
async fn a_single_clone_whose_answer_is_lost_is_looked_up_not_resent() {
    // Every third connection dropped (for writes, half of them after the clone was made) and
    // some gateway errors: each account is still cloned once, its grant found by looking.
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        fault_rate: 0.1,
        drop_rate: 0.3,
        rate_limit: 0,
        ..config(60)
    })
    .await;
    let setup = h.builder().build().unwrap();
    let app = h.app(&setup, Region::Us);
    app.link_v2_app(&h.v2(Region::Us).id, &h.v2_secret(Region::Us))
        .await
        .unwrap();
    app.import_v2_app().await.unwrap();
    let azure = serde_json::json!({"client_id": "azure-id", "client_secret": "azure-secret", "tenant": "common"});
    app.update_connector(
        ConnectorProvider::Microsoft,
        &UpdateConnector {
            settings: azure.as_object().cloned(),
            ..UpdateConnector::default()
        },
    )
    .await
    .unwrap();
    let accounts: Vec<String> = h
        .v2(Region::Us)
        .accounts
        .iter()
        .map(|a| a.id.clone())
        .collect();
    let dropped_before = h.dropped_of(Operation::CloneSingleAccount);
    for account in &accounts {
        let grant = app
            .clone_account(account, PlaceholderQuery::default())
            .await
            .unwrap();
        assert_eq!(grant.data.account_id.as_deref(), Some(account.as_str()));
    }
    let dropped = h.dropped_of(Operation::CloneSingleAccount) - dropped_before;
    assert!(dropped >= 3, "only {dropped} clone answers were lost");
    let stats = h.sim.stats();
    for account in &accounts {
        assert_eq!(
            stats.clones_of(account),
            1,
            "account {account} was cloned more than once"
        );
    }
}
