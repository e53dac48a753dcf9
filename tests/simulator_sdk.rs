//! The simulator driven as a client nobody here wrote drives Nylas: every operation it serves,
//! with the requests an official Nylas SDK sends (the contract's field names, every optional
//! query parameter and body field, limit/offset and `next_page_number` paging), checking that
//! every answer carries every property its contract schema lists, not only the required ones,
//! recursively.
//!
//! There is no internet here, so the SDKs' sources could not be read: the requests are derived
//! from the contract's parameters and request schemas instead. Each request is checked against
//! the contract before it is sent (`Contract::check_request`), and at the end the test checks
//! that it used every query parameter and every request-body field (nested ones too) the
//! contract declares for the operations the simulator serves.
//!
//! Only two properties may be absent, where the contract itself says so
//! (`contract::CONDITIONAL_FIELDS`): `email_aliases` without `expose_aliases=true` (and for a
//! consumer Microsoft account), and `next_page_number` on the last page. The requests that make
//! them present check them strictly.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::contract::{CONDITIONAL_FIELDS, Contract, SentRequest};
use crate::support::sim::*;
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::simulator::SimulatorConfig;
use reqwest::Method;
use serde_json::{Value, json};

/// Sends requests as an SDK would and checks each request and answer against the contract.
struct Sdk<'a> {
    t: &'a TestSim,
    contract: &'a Contract,
    /// Query parameters and body field paths used, by operationId.
    used: BTreeMap<&'static str, BTreeSet<String>>,
    succeeded: BTreeSet<Operation>,
    answers: usize,
}

/// Body field paths of a JSON value: `settings`, `settings.client_id`, ... (array items are
/// values, not fields).
fn field_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(object) = value.as_object() {
        for (name, sub) in object {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            field_paths(sub, &path, out);
            out.insert(path);
        }
    }
}

/// Body field paths a request schema declares, through `$ref`s and every `oneOf` branch.
fn declared_paths(contract: &Contract, schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = contract
            .spec()
            .pointer(reference.trim_start_matches('#'))
            .unwrap();
        return declared_paths(contract, target, prefix, out);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for branch in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            declared_paths(contract, branch, prefix, out);
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            declared_paths(contract, sub, &path, out);
            out.insert(path);
        }
    }
}

impl<'a> Sdk<'a> {
    /// Sends `op` with its path parameters, query and body, as `key`; checks the request
    /// against the contract, then the answer (valid and complete, but for the properties in
    /// `may_be_absent`). Returns the answer.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &mut self,
        key: &str,
        op: Operation,
        params: &[&str],
        query: &[(&str, &str)],
        body: Option<Value>,
        headers: &[(&str, String)],
        may_be_absent: &[(&str, &str)],
    ) -> Answer {
        let mut path = op.path_template().to_string();
        for param in params {
            let start = path.find('{').unwrap();
            let end = path.find('}').unwrap();
            path.replace_range(start..=end, param);
        }
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path_params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        self.contract
            .check_request(&SentRequest {
                operation_id: op.operation_id(),
                method: op.method(),
                path: &path,
                path_params: &path_params,
                query: &query,
                body: body.as_ref(),
            })
            .unwrap_or_else(|e| panic!("the test's own request breaks the contract: {e}"));
        let used = self.used.entry(op.operation_id()).or_default();
        used.extend(query.iter().map(|(k, _)| k.clone()));
        if let Some(body) = &body {
            field_paths(body, "", used);
        }

        let url = reqwest::Url::parse_with_params(&self.t.url(Region::Us, &path), &query).unwrap();
        let mut request = self
            .t
            .http
            .request(Method::from_bytes(op.method().as_bytes()).unwrap(), url)
            .bearer_auth(key)
            .header("User-Agent", "Nylas Python SDK 6.18 - simulator test");
        if let Some(body) = &body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap();
        let what = format!("{} {path}?{query:?}", op.method());
        self.contract
            .validate_response(Some(op.operation_id()), status, &body)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let missing = self
            .contract
            .missing_fields(Some(op.operation_id()), status, &body, may_be_absent)
            .unwrap();
        assert!(
            missing.is_empty(),
            "{what} answered {status} without {missing:?}: {body}"
        );
        if (200..300).contains(&status) {
            self.succeeded.insert(op);
        }
        self.answers += 1;
        Answer {
            status,
            body,
            headers,
        }
    }

    async fn get(&mut self, op: Operation, params: &[&str], query: &[(&str, &str)]) -> Answer {
        self.call(US_V3_KEY, op, params, query, None, &[], &[])
            .await
    }

    async fn send(&mut self, op: Operation, params: &[&str], body: Value) -> Answer {
        self.call(US_V3_KEY, op, params, &[], Some(body), &[], &[])
            .await
    }
}

#[tokio::test]
async fn every_operation_as_an_sdk_calls_it_answers_every_field() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let t = TestSim::start(SimulatorConfig {
        rate_limit: 0,
        ..fixture_config()
    })
    .await;
    let mut sdk = Sdk {
        t: &t,
        contract: &contract,
        used: BTreeMap::new(),
        succeeded: BTreeSet::new(),
        answers: 0,
    };
    let ok = |a: &Answer| assert!((200..300).contains(&a.status), "{:?}", a.body);

    // applications.info() before anything is linked or imported: every field, empty values.
    let app = sdk.get(Operation::GetApplication, &[], &[]).await;
    ok(&app);
    assert_eq!(app.data()["v2_application_id"], "");
    assert_eq!(
        app.data()["branding"],
        json!({"name": "", "icon_url": "", "website_url": "", "description": ""})
    );

    // The migration tools.
    let link = sdk
        .call(
            US_V3_KEY,
            Operation::LinkV2V3Apps,
            &[],
            &[],
            None,
            &[("BasicV2", basic_v2(US_V2, US_V2_SECRET))],
            &[],
        )
        .await;
    ok(&link);
    assert_eq!(link.data()["v2_application_id"], US_V2);
    let import = sdk
        .call(US_V3_KEY, Operation::ImportV2App, &[], &[], None, &[], &[])
        .await;
    ok(&import);
    let app = sdk.get(Operation::GetApplication, &[], &[]).await;
    assert_eq!(
        app.data()["branding"]["website_url"],
        "https://acme.example"
    );
    assert_eq!(app.data()["branding"]["description"], "");

    // connectors.list(), paged by limit and offset as an SDK's iterator pages.
    let mut connectors = Vec::new();
    let mut offset = 0;
    loop {
        let page = sdk
            .get(
                Operation::ListConnectors,
                &[],
                &[("limit", "2"), ("offset", &offset.to_string())],
            )
            .await;
        ok(&page);
        let data = page.data().as_array().unwrap().clone();
        offset += data.len();
        connectors.extend(data.clone());
        if data.len() < 2 {
            break;
        }
    }
    assert_eq!(connectors.len(), 5, "{connectors:?}");
    sdk.get(Operation::ListConnectors, &[], &[]).await;
    for provider in ["google", "microsoft", "imap", "icloud", "ews"] {
        ok(&sdk.get(Operation::GetConnector, &[provider], &[]).await);
    }
    // connectors.create() with each provider's fields, on the other (empty) application.
    for body in [
        json!({"provider": "google", "settings": {"client_id": "gcp-id", "client_secret": "gcp-secret", "topic_name": "projects/acme/topics/nylas"}, "scope": ["https://www.googleapis.com/auth/gmail.readonly"]}),
        json!({"provider": "microsoft", "settings": {"client_id": "azure-id", "client_secret": "azure-secret", "tenant": "common"}, "scope": ["Mail.Read", "User.Read"]}),
        json!({"provider": "ews", "settings": {}, "scopes": "ews.calendar"}),
        json!({"provider": "zoom", "settings": {"client_id": "zoom-id", "client_secret": "zoom-secret"}}),
        json!({"provider": "yahoo", "settings": {"client_id": "y-id", "client_secret": "y-secret"}, "scope": ["email", "mail-w"]}),
        json!({"provider": "icloud"}),
        json!({"provider": "imap"}),
        json!({"provider": "virtual-calendar"}),
        json!({"provider": "nylas"}),
    ] {
        let created = sdk
            .call(
                US_V3_OTHER_KEY,
                Operation::CreateConnector,
                &[],
                &[],
                Some(body.clone()),
                &[],
                &[],
            )
            .await;
        assert_eq!(created.status, 201, "{body}: {:?}", created.body);
        assert!(
            !created.body.to_string().contains("client_secret"),
            "{:?}",
            created.body
        );
    }
    let ews = sdk
        .call(
            US_V3_OTHER_KEY,
            Operation::GetConnector,
            &["ews"],
            &[],
            None,
            &[],
            &[],
        )
        .await;
    assert_eq!(ews.data()["scope"], json!(["ews.calendar"]));
    // connectors.update(): the new Azure app's credentials for the imported Microsoft one.
    let fixed = sdk
        .send(
            Operation::UpdateConnector,
            &["microsoft"],
            json!({
                "settings": {"client_id": "azure-app", "client_secret": "azure-secret", "tenant": "common"},
                "scope": ["Mail.Read", "User.Read", "offline_access"],
                "active_credential_id": "c123f8e1a-eb1c-41c0-b6a6-d2e59daf7f47"
            }),
        )
        .await;
    ok(&fixed);
    assert_eq!(
        fixed.data()["active_credential_id"],
        "c123f8e1a-eb1c-41c0-b6a6-d2e59daf7f47"
    );

    // Single clones with both placeholder flags.
    let mut grants = BTreeMap::new();
    for (index, allow, exchange) in [
        (0, "true", "true"),
        (2, "true", "false"),
        (4, "true", "true"),
        (5, "false", "true"),
    ] {
        let account = US_ACCOUNTS[index].0;
        let grant = sdk
            .call(
                US_V3_KEY,
                Operation::CloneSingleAccount,
                &[account],
                &[
                    ("allow_invalid_grant_creation", allow),
                    ("clone_exchange", exchange),
                ],
                None,
                &[],
                &CONDITIONAL_FIELDS,
            )
            .await;
        ok(&grant);
        grants.insert(index, grant.data()["id"].as_str().unwrap().to_string());
    }
    // grants.find(): aliases only when asked, and then strictly present (but for a consumer
    // Microsoft account, which the contract says has none to expose).
    let google = grants[&0].clone();
    let found = sdk
        .call(
            US_V3_KEY,
            Operation::GetGrant,
            &[&google],
            &[("expose_aliases", "true")],
            None,
            &[],
            &[],
        )
        .await;
    assert_eq!(found.data()["email_aliases"], json!([]));
    let consumer = grants[&4].clone();
    let found = sdk
        .call(
            US_V3_KEY,
            Operation::GetGrant,
            &[&consumer],
            &[("expose_aliases", "true")],
            None,
            &[],
            &[("GrantObject", "email_aliases")],
        )
        .await;
    assert!(found.data().get("email_aliases").is_none());
    let plain = sdk
        .call(
            US_V3_KEY,
            Operation::GetGrant,
            &[&google],
            &[("expose_aliases", "false")],
            None,
            &[],
            &CONDITIONAL_FIELDS,
        )
        .await;
    assert!(plain.data().get("email_aliases").is_none());

    // grants.list() with every filter, then paged by limit and offset.
    let workspace = app.data()["default_workspace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let account_ids = format!("{},{}", US_ACCOUNTS[0].0, US_ACCOUNTS[2].0);
    let filtered = sdk
        .call(
            US_V3_KEY,
            Operation::ListGrants,
            &[],
            &[
                ("account_id", US_ACCOUNTS[0].0),
                ("account_ids", &account_ids),
                ("before", "4102444800"),
                ("since", "0"),
                ("email", "user0@acme.com"),
                ("grant_status", "valid"),
                ("provider", "google"),
                ("workspace_id", &workspace),
                ("limit", "5"),
                ("offset", "0"),
                ("order_by", "asc"),
                ("sort_by", "updated_at"),
            ],
            None,
            &[],
            &CONDITIONAL_FIELDS,
        )
        .await;
    assert_eq!(filtered.data().as_array().unwrap().len(), 1);
    let by_ip = sdk
        .call(
            US_V3_KEY,
            Operation::ListGrants,
            &[],
            &[("ip", "1.1.1.1")],
            None,
            &[],
            &CONDITIONAL_FIELDS,
        )
        .await;
    assert!(by_ip.data().as_array().unwrap().is_empty());
    let mut listed = BTreeSet::new();
    let mut offset = 0;
    loop {
        let page = sdk
            .call(
                US_V3_KEY,
                Operation::ListGrants,
                &[],
                &[("limit", "1"), ("offset", &offset.to_string())],
                None,
                &[],
                &CONDITIONAL_FIELDS,
            )
            .await;
        let data = page.data().as_array().unwrap().clone();
        for grant in &data {
            assert!(listed.insert(grant["id"].as_str().unwrap().to_string()));
        }
        offset += data.len();
        if data.is_empty() {
            break;
        }
    }
    assert_eq!(listed.len(), grants.len(), "each grant on exactly one page");

    // A batch clone with every field, then its jobs as they run.
    let batch = sdk
        .call(
            US_V3_KEY,
            Operation::SnapshotBatchClone,
            &[],
            &[
                ("allow_invalid_grant_creation", "true"),
                ("clone_exchange", "false"),
            ],
            Some(json!({"limit": 5, "offset": 1, "providers": ["google", "graph", "imap"], "mode": "only_new"})),
            &[],
            &[],
        )
        .await;
    ok(&batch);
    for step in 0..3 {
        ok(&sdk
            .get(
                Operation::GetJobs,
                &[],
                &[
                    ("status", "pending"),
                    ("status", "running"),
                    ("status", "completed"),
                    ("status", "partial"),
                    ("status", "failed"),
                    ("type", "migration"),
                    ("type", "snapshot"),
                    ("sort_by_completion", "true"),
                ],
            )
            .await);
        t.sim.advance(Duration::from_secs(2 + step));
    }
    let jobs = sdk
        .get(
            Operation::GetJobs,
            &[],
            &[
                ("status", "completed"),
                ("status", "partial"),
                ("type", "migration"),
            ],
        )
        .await;
    assert_eq!(jobs.data().as_array().unwrap().len(), 1, "{:?}", jobs.body);

    // Translate: every field, then every page by next_page_number (strict while more follow).
    // `nylas_ids` names two events the account has (the simulator translates only those).
    let fixture = fixture_world();
    let first = fixture.v2_apps[0]
        .accounts
        .iter()
        .find(|a| a.id == US_ACCOUNTS[0].0)
        .expect("the fixture's first account");
    let events = nylas_migrate::simulator::AccountObjects::new(first, "events")
        .expect("events are a resource type");
    assert!(events.count() >= 2, "the fixture account has events");
    let since = nylas_migrate::simulator::AccountObjects::created_at(0) - 1;
    let one_page = sdk
        .call(
            US_V3_KEY,
            Operation::Translate,
            &[],
            &[],
            Some(json!({
                "resource_type": "events",
                "v2_account_id": US_ACCOUNTS[0].0,
                "nylas_ids": [events.v2_id(0), events.v2_id(1)],
                "start_from_timestamp": since,
                "next_page_number": 1
            })),
            &[],
            &CONDITIONAL_FIELDS,
        )
        .await;
    ok(&one_page);
    assert_eq!(one_page.data()["translations"].as_array().unwrap().len(), 2);
    let mut paged = false;
    // Outlook accounts (Microsoft consumer domains) are refused by translate, as the contract's
    // README says; every other account pages.
    let translatable = fixture.v2_apps[0]
        .accounts
        .iter()
        .filter(|a| !nylas_migrate::simulator::is_outlook(a));
    for account in translatable.map(|a| a.id.as_str()) {
        let mut page: Option<u64> = None;
        loop {
            let mut body = json!({"resource_type": "messages", "v2_account_id": account});
            if let Some(page) = page {
                body["next_page_number"] = json!(page);
            }
            let r = sdk
                .call(
                    US_V3_KEY,
                    Operation::Translate,
                    &[],
                    &[],
                    Some(body),
                    &[],
                    &CONDITIONAL_FIELDS,
                )
                .await;
            ok(&r);
            let full = r.data()["translations"].as_array().unwrap().len() == 3000;
            // The one conditional field, checked strictly: present exactly while more follow.
            match r.data().get("next_page_number").and_then(Value::as_u64) {
                Some(next) => {
                    assert!(full, "a next page after a short one");
                    paged = true;
                    page = Some(next);
                }
                None => break,
            }
        }
    }
    assert!(paged, "no account had a second page of messages");

    // Webhooks: create with every field, and without the optional ones.
    let full = sdk
        .send(
            Operation::CreateWebhook,
            &[],
            json!({
                "description": "Production webhook destination",
                "trigger_types": ["grant.created", "grant.expired", "grant.deleted"],
                "webhook_url": "https://hooks.acme.example/nylas",
                "notification_email_addresses": ["ops@acme.example"],
                "compressed_delivery": true
            }),
        )
        .await;
    ok(&full);
    assert_eq!(full.data()["compressed_delivery"], true);
    let bare = sdk
        .send(
            Operation::CreateWebhook,
            &[],
            json!({"trigger_types": ["grant.created"], "webhook_url": "https://hooks.acme.example/bare"}),
        )
        .await;
    ok(&bare);
    assert_eq!(bare.data()["notification_email_addresses"], json!([]));
    assert_eq!(bare.data()["description"], "");
    let id = bare.data()["id"].as_str().unwrap().to_string();
    ok(&sdk.get(Operation::ListWebhooks, &[], &[]).await);
    let found = sdk.get(Operation::GetWebhook, &[&id], &[]).await;
    assert_eq!(found.data()["notification_email_addresses"], json!([]));
    let updated = sdk
        .send(
            Operation::UpdateWebhook,
            &[&id],
            json!({
                "description": "paused for the migration",
                "trigger_types": ["grant.created", "grant.updated"],
                "webhook_url": "https://hooks.acme.example/v3",
                "status": "pause",
                "notification_email_addresses": ["ops@acme.example"],
                "compressed_delivery": false
            }),
        )
        .await;
    assert_eq!(updated.data()["status"], "pause");

    // Test events: every field (a reachable host off this machine: answered from the world).
    let tested = sdk
        .send(
            Operation::SendTestEvent,
            &[],
            json!({"trigger_type": "message.created.truncated", "webhook_url": "https://hooks.acme.example/v3"}),
        )
        .await;
    assert_eq!(tested.data(), "success");
    // Deleted as a person deletes one in the dashboard.
    let deleted = sdk
        .call(
            US_V3_KEY,
            Operation::DeleteWebhook,
            &[&id],
            &[],
            None,
            &[],
            &[],
        )
        .await;
    assert_eq!(deleted.data()["status"], "success");
    assert_eq!(
        sdk.get(Operation::GetWebhook, &[&id], &[]).await.status,
        400
    );

    // Pub/Sub and SNS channels: create with every field, list, get, update every field,
    // delete.
    let role = "arn:aws:iam::123456789012:role/nylas-sns-role";
    for (op_create, op_list, op_get, op_update, op_delete, create, update) in [
        (
            Operation::CreatePubsubChannel,
            Operation::ListPubsubChannels,
            Operation::GetPubsubChannel,
            Operation::UpdatePubsubChannel,
            Operation::DeletePubsubChannel,
            json!({
                "description": "Production Pub/Sub for Events notifications",
                "trigger_types": ["event.created", "event.updated"],
                "topic": "projects/your-project-id/topics/your-topic-id",
                "notification_email_addresses": ["jane@example.com"],
                "compressed_delivery": true
            }),
            json!({
                "description": "Prod account status notifications PubSub",
                "trigger_types": ["grant.expired"],
                "topic": "projects/your-project-id/topics/other-topic",
                "status": "pause",
                "notification_email_addresses": ["sysadmin@example.com", "sre_pager@example.com"],
                "compressed_delivery": false
            }),
        ),
        (
            Operation::CreateSnsChannel,
            Operation::ListSnsChannels,
            Operation::GetSnsChannel,
            Operation::UpdateSnsChannel,
            Operation::DeleteSnsChannel,
            json!({
                "description": "Production SNS channel for Events notifications",
                "trigger_types": ["event.created"],
                "topic": "arn:aws:sns:us-east-1:123456789012:my-topic",
                "role_arn": role,
                "notification_email_addresses": ["jane@example.com"],
                "compressed_delivery": true
            }),
            json!({
                "description": "Prod account status notifications SNS",
                "trigger_types": ["grant.expired"],
                "topic": "arn:aws:sns:us-east-1:123456789012:other-topic",
                "role_arn": "arn:aws:iam::123456789012:role/other",
                "status": "pause",
                "notification_email_addresses": ["sysadmin@example.com"],
                "compressed_delivery": false
            }),
        ),
    ] {
        let created = sdk.send(op_create, &[], create).await;
        ok(&created);
        assert_eq!(created.data()["status"], "active");
        let id = created.data()["id"].as_str().unwrap().to_string();
        ok(&sdk.get(op_list, &[], &[]).await);
        ok(&sdk.get(op_get, &[&id], &[]).await);
        let updated = sdk.send(op_update, &[&id], update).await;
        assert_eq!(updated.data()["status"], "pause");
        // The list spells a paused channel `paused` (its schema), the get `pause` (its own).
        assert_eq!(
            sdk.get(op_list, &[], &[]).await.data()[0]["status"],
            "paused"
        );
        assert_eq!(sdk.get(op_get, &[&id], &[]).await.data()["status"], "pause");
        let deleted = sdk
            .call(US_V3_KEY, op_delete, &[&id], &[], None, &[], &[])
            .await;
        assert_eq!(deleted.data()["status"], "success");
        assert_eq!(sdk.get(op_get, &[&id], &[]).await.status, 400);
    }

    // Redirect URIs: import copied the v2 app's; add one per platform with every setting, then
    // move one through every platform with PATCH.
    let imported = sdk.get(Operation::ListRedirectUris, &[], &[]).await;
    assert_eq!(
        imported.data().as_array().unwrap().len(),
        2,
        "{:?}",
        imported.body
    );
    let fingerprint = "AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90:AB:CD:EF:12";
    let uri_id = "0556d035-6cb6-4262-a035-6b77e11cf8fc";
    for body in [
        json!({"id": uri_id, "url": "https://yourapp.com/callback", "platform": "web"}),
        json!({"url": "https://yourapp.com/desktop", "platform": "desktop"}),
        json!({"url": "https://yourapp.com/js", "platform": "js", "settings": {"origin": "yourapp.com"}}),
        json!({"url": "com.example.myapp://callback", "platform": "ios", "settings": {"bundle_id": "com.example.myapp", "app_store_id": "1234567890", "team_id": "ABCDE12345"}}),
        json!({"url": "https://yourapp.com/android", "platform": "android", "settings": {"package_name": "com.example.myapp", "sha1_certificate_fingerprint": fingerprint}}),
    ] {
        let added = sdk.send(Operation::AddRedirectUri, &[], body.clone()).await;
        assert_eq!(added.status, 200, "{body}: {:?}", added.body);
    }
    for body in [
        json!({"url": "https://yourapp.com/js2", "platform": "js", "settings": {"origin": "yourapp.com"}}),
        json!({"url": "com.example.myapp://cb", "platform": "ios", "settings": {"bundle_id": "com.example.myapp", "app_store_id": "1", "team_id": "T"}}),
        json!({"url": "https://yourapp.com/a2", "platform": "android", "settings": {"package_name": "com.example.myapp", "sha1_certificate_fingerprint": fingerprint}}),
        json!({"id": uri_id, "url": "https://yourapp.com/callback2", "platform": "web"}),
    ] {
        let changed = sdk
            .send(Operation::UpdateRedirectUri, &[uri_id], body.clone())
            .await;
        assert_eq!(changed.status, 200, "{body}: {:?}", changed.body);
        assert_eq!(changed.data()["platform"], body["platform"]);
    }
    ok(&sdk.get(Operation::GetRedirectUri, &[uri_id], &[]).await);
    ok(&sdk.get(Operation::ListRedirectUris, &[], &[]).await);
    let app = sdk.get(Operation::GetApplication, &[], &[]).await;
    assert_eq!(app.data()["callback_uris"].as_array().unwrap().len(), 7);
    ok(&sdk
        .call(
            US_V3_KEY,
            Operation::DeleteRedirectUri,
            &[uri_id],
            &[],
            None,
            &[],
            &[],
        )
        .await);
    assert_eq!(
        sdk.get(Operation::GetRedirectUri, &[uri_id], &[])
            .await
            .status,
        404
    );

    // Errors carry every field of their schema too.
    assert_eq!(
        sdk.get(
            Operation::GetGrant,
            &["5967ca40-a2d8-4ee0-a0e0-6f18ace39a90"],
            &[]
        )
        .await
        .status,
        404
    );
    assert_eq!(
        sdk.get(Operation::GetWebhook, &["nope"], &[]).await.status,
        400
    );
    assert_eq!(
        sdk.send(Operation::UpdateConnector, &["yahoo"], json!({"scope": []}))
            .await
            .status,
        404
    );

    for op in Operation::ALL {
        assert!(sdk.succeeded.contains(&op), "{op} never answered 2xx");
    }
    // Every query parameter and body field the contract declares for these operations was
    // sent at least once.
    let mut unused = Vec::new();
    for op in Operation::ALL {
        let mut declared = BTreeSet::new();
        if let Some(schema) = contract.query_schema(op.operation_id()) {
            declared.extend(schema["properties"].as_object().unwrap().keys().cloned());
        }
        if let Some((path, method)) = contract.find_operation(op.operation_id()) {
            let pointer = format!(
                "/paths/{}/{method}/requestBody/content/application~1json/schema",
                path.replace('~', "~0").replace('/', "~1")
            );
            if let Some(schema) = contract.spec().pointer(&pointer) {
                declared_paths(&contract, schema, "", &mut declared);
            }
        }
        let used = sdk.used.get(op.operation_id()).cloned().unwrap_or_default();
        unused.extend(
            declared
                .difference(&used)
                .map(|field| format!("{}: {field}", op.operation_id())),
        );
    }
    assert!(unused.is_empty(), "never sent: {unused:?}");
    assert!(sdk.answers > 50);
    t.finish().await;
}

/// What the official Python SDK read and missed (`KeyError`): `branding` before an import, and
/// `notification_email_addresses` of a webhook created without emails, in create, find and
/// update.
#[tokio::test]
async fn fields_an_sdk_reads_are_there_before_anything_sets_them() {
    let t = TestSim::fixture().await;
    let app = t.get(US_V3_KEY, "/v3/applications").await;
    for field in ["name", "icon_url", "website_url", "description"] {
        assert_eq!(app.data()["branding"][field], "", "branding.{field}");
    }
    let created = t
        .post(
            US_V3_KEY,
            "/v3/webhooks",
            Some(json!({"trigger_types": ["grant.created"], "webhook_url": "https://hooks.example/h"})),
        )
        .await;
    assert_eq!(created.data()["notification_email_addresses"], json!([]));
    let id = created.data()["id"].as_str().unwrap();
    let found = t.get(US_V3_KEY, &format!("/v3/webhooks/{id}")).await;
    assert_eq!(found.data()["notification_email_addresses"], json!([]));
    let listed = t.get(US_V3_KEY, "/v3/webhooks").await;
    assert_eq!(listed.data()[0]["notification_email_addresses"], json!([]));
    let updated = t
        .put(
            US_V3_KEY,
            &format!("/v3/webhooks/{id}"),
            json!({"description": "d"}),
        )
        .await;
    assert_eq!(updated.data()["notification_email_addresses"], json!([]));
    // finish() checks every other answer for every listed field.
    t.finish().await;
}
