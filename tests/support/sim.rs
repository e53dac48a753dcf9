//! The simulator tests' harness: a fixture world with ids of Nylas's shapes, and a simulator
//! started for one test, driven over HTTP, whose every answer is checked against the contract
//! when the test finishes.

use base64::Engine;
use nylas_migrate::api::Region;
use nylas_migrate::simulator::{
    self, AccountProvider, JobSpeed, RunningSimulator, SimulatorConfig, V2Account, V2App, V3App,
    World,
};
use serde_json::Value;

use super::{LOCALHOST, contract};

// The fixture world: a U.S. v2 app with every kind of account, an E.U. v2 app, two U.S. v3 apps
// and one E.U. v3 app. Ids have Nylas's shapes.
pub const US_V2: &str = "9nsr7pjw1e1g6hgy9l1znjql7";
pub const US_V2_SECRET: &str = "us-v2-client-secret-000001";
pub const EU_V2: &str = "4bq0x9e2kd1rzl8w7vnm3c5ht";
pub const EU_V2_SECRET: &str = "eu-v2-client-secret-000002";
pub const US_V3: &str = "ad410018-d306-43f9-8361-fa5d7b2172e0";
pub const US_V3_KEY: &str = "nyk_v0_us_primary_key_for_tests_only_000000000000";
pub const US_V3_OTHER: &str = "5d1c7a56-2f0e-4b8e-9a3c-1e2f3a4b5c6d";
pub const US_V3_OTHER_KEY: &str = "nyk_v0_us_other_key_for_tests_only_00000000000000";
pub const EU_V3: &str = "e19f8e1a-eb1c-41c0-b6a6-d2e59daf7f47";
pub const EU_V3_KEY: &str = "nyk_v0_eu_key_for_tests_only_00000000000000000000";

/// The U.S. accounts, in import order: (id, provider, migratable).
pub const US_ACCOUNTS: [(&str, AccountProvider, bool); 9] = [
    ("g00000000000000000000000a", AccountProvider::Google, true),
    ("g00000000000000000000000b", AccountProvider::Google, true),
    (
        "m00000000000000000000000a",
        AccountProvider::Microsoft,
        true,
    ),
    ("g00000000000000000000000c", AccountProvider::Google, false),
    (
        "m00000000000000000000000b",
        AccountProvider::Microsoft,
        false,
    ),
    ("i00000000000000000000000a", AccountProvider::Imap, true),
    ("c00000000000000000000000a", AccountProvider::Icloud, true),
    ("e00000000000000000000000a", AccountProvider::Ews, true),
    (
        "m00000000000000000000000c",
        AccountProvider::Microsoft,
        true,
    ),
];
/// The U.S. v2 app's OAuth redirect URIs: import copies them as `web` redirect URIs.
pub const US_V2_REDIRECT_URIS: [&str; 2] = [
    "https://acme.example/oauth/callback",
    "http://localhost:3000/callback",
];
/// A webhook host the world says cannot be reached.
pub const UNREACHABLE_HOST: &str = "hooks.unreachable.example";
pub const EU_ACCOUNTS: [&str; 2] = ["g0000000000000000000eu00a", "g0000000000000000000eu00b"];

pub fn fixture_world() -> World {
    let us_accounts = US_ACCOUNTS
        .iter()
        .enumerate()
        .map(|(i, (id, provider, migratable))| V2Account {
            id: id.to_string(),
            provider: *provider,
            email: format!(
                "user{i}@{}",
                if *migratable {
                    "acme.com"
                } else {
                    "outlook.com"
                }
            ),
            migratable: *migratable,
        })
        .collect();
    let eu_accounts = EU_ACCOUNTS
        .iter()
        .map(|id| V2Account {
            id: id.to_string(),
            provider: AccountProvider::Google,
            email: format!("{id}@acme.eu"),
            migratable: true,
        })
        .collect();
    World {
        v2_apps: vec![
            V2App {
                id: US_V2.into(),
                secret: US_V2_SECRET.into(),
                region: Region::Us,
                name: Some("Acme".into()),
                website_url: Some("https://acme.example".into()),
                icon_url: Some("https://acme.example/icon.png".into()),
                integrations: AccountProvider::ALL.to_vec(),
                accounts: us_accounts,
                redirect_uris: US_V2_REDIRECT_URIS.iter().map(|u| u.to_string()).collect(),
            },
            V2App {
                id: EU_V2.into(),
                secret: EU_V2_SECRET.into(),
                region: Region::Eu,
                name: None,
                website_url: None,
                icon_url: None,
                integrations: vec![AccountProvider::Google],
                accounts: eu_accounts,
                redirect_uris: Vec::new(),
            },
        ],
        v3_apps: vec![
            V3App {
                id: US_V3.into(),
                api_key: US_V3_KEY.into(),
                region: Region::Us,
                organization_id: Some("f5db4482-dbbe-4b32-b347-61c260d803ce".into()),
                linked_v2_app: None,
                pubsub_channels: Vec::new(),
                sns_channels: Vec::new(),
                redirect_uris: Vec::new(),
            },
            V3App {
                id: US_V3_OTHER.into(),
                api_key: US_V3_OTHER_KEY.into(),
                region: Region::Us,
                organization_id: None,
                linked_v2_app: None,
                pubsub_channels: Vec::new(),
                sns_channels: Vec::new(),
                redirect_uris: Vec::new(),
            },
            V3App {
                id: EU_V3.into(),
                api_key: EU_V3_KEY.into(),
                region: Region::Eu,
                organization_id: None,
                linked_v2_app: None,
                pubsub_channels: Vec::new(),
                sns_channels: Vec::new(),
                redirect_uris: Vec::new(),
            },
        ],
        unreachable_hosts: vec![UNREACHABLE_HOST.into()],
    }
}

/// The fixture world, manual clock, no rate limit: deterministic.
pub fn fixture_config() -> SimulatorConfig {
    SimulatorConfig {
        world: fixture_world(),
        rate_limit: 0,
        job_speed: JobSpeed::Manual,
        ..SimulatorConfig::default()
    }
}

pub fn basic_v2(id: &str, secret: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

/// An answer: status, JSON body (Null if none), headers.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

/// A simulator started for one test, recording every response so that `finish` can check them
/// all against the contract.
pub struct TestSim {
    pub sim: RunningSimulator,
    pub http: reqwest::Client,
}

impl TestSim {
    pub async fn start(mut config: SimulatorConfig) -> TestSim {
        config.record_responses = true;
        let sim = simulator::start(config, LOCALHOST).await.unwrap();
        TestSim {
            sim,
            http: reqwest::Client::new(),
        }
    }

    pub async fn fixture() -> TestSim {
        TestSim::start(fixture_config()).await
    }

    pub fn url(&self, region: Region, path: &str) -> String {
        format!("{}{path}", self.sim.base_url(region))
    }

    /// Sends a request; `key` goes in `Authorization: Bearer`.
    pub async fn send(
        &self,
        region: Region,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> Answer {
        let mut req = self.http.request(method, self.url(region, path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, key: &str, path: &str) -> Answer {
        self.send(Region::Us, reqwest::Method::GET, path, Some(key), None, &[])
            .await
    }

    pub async fn post(&self, key: &str, path: &str, body: Option<Value>) -> Answer {
        self.send(
            Region::Us,
            reqwest::Method::POST,
            path,
            Some(key),
            body,
            &[],
        )
        .await
    }

    /// A `PUT` to the U.S. region.
    pub async fn put(&self, key: &str, path: &str, body: Value) -> Answer {
        self.send(
            Region::Us,
            reqwest::Method::PUT,
            path,
            Some(key),
            Some(body),
            &[],
        )
        .await
    }

    /// Links the U.S. v2 app to the primary U.S. v3 app and imports it.
    pub async fn link_and_import_us(&self) {
        let link = self.link(Region::Us, US_V3_KEY, US_V2, US_V2_SECRET).await;
        assert_eq!(link.status, 200, "{:?}", link.body);
        let import = self
            .post(US_V3_KEY, "/v3/migration-tools/import-v2-app", None)
            .await;
        assert_eq!(import.status, 200, "{:?}", import.body);
    }

    pub async fn link(&self, region: Region, key: &str, v2: &str, secret: &str) -> Answer {
        self.send(
            region,
            reqwest::Method::POST,
            "/v3/migration-tools/link-v2v3-apps",
            Some(key),
            None,
            &[("BasicV2", basic_v2(v2, secret))],
        )
        .await
    }

    /// Gives the U.S. app's Microsoft connector working credentials.
    pub async fn fix_microsoft(&self) {
        let fixed = self
            .send(
                Region::Us,
                reqwest::Method::PATCH,
                "/v3/connectors/microsoft",
                Some(US_V3_KEY),
                Some(serde_json::json!({
                    "settings": {"client_id": "azure-app", "client_secret": "azure-secret", "tenant": "common"}
                })),
                &[],
            )
            .await;
        assert_eq!(fixed.status, 200, "{:?}", fixed.body);
    }

    /// Checks every response this simulator gave against the contract (see
    /// [`check_responses`]), then stops it.
    pub async fn finish(self) {
        let recorded = self.sim.recorded_responses();
        assert!(!recorded.is_empty(), "the test made no request");
        check_responses(&recorded);
        self.sim.shutdown().await;
    }
}

/// Checks responses a simulator gave (with `record_responses`) against the contract: each
/// valid, and carrying every property its schema lists but for `contract::CONDITIONAL_FIELDS`.
pub fn check_responses(recorded: &[nylas_migrate::simulator::RecordedResponse]) {
    let Some(contract) = contract::Contract::load() else {
        return;
    };
    let failures: Vec<String> = recorded
        .iter()
        .filter_map(|r| {
            let op = r.operation.map(|op| op.operation_id());
            if let Err(invalid) = contract.validate_response(op, r.status, &r.body) {
                return Some(invalid);
            }
            match contract.missing_fields(op, r.status, &r.body, &contract::CONDITIONAL_FIELDS) {
                Ok(missing) if missing.is_empty() => None,
                Ok(missing) => Some(format!(
                    "{} {} lacks {}: {}",
                    op.unwrap_or("(no operation)"),
                    r.status,
                    missing.join(", "),
                    r.body
                )),
                Err(err) => Some(err),
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} responses break the contract:\n{}",
        failures.len(),
        recorded.len(),
        failures.join("\n")
    );
}
