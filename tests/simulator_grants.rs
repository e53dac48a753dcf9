//! `GET /v3/grants` honours every filter and ordering the contract declares for it, and refuses
//! what it cannot honour; a grant keeps the scope it was granted.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::contract::Contract;
use crate::support::sim::*;
use nylas_migrate::api::Region;
use reqwest::Method;
use serde_json::{Value, json};

/// A grant as the tests follow it.
#[derive(Debug, Clone)]
struct Made {
    id: String,
    email: String,
    created_at: i64,
}

/// Links and imports the U.S. app, fixes Microsoft, then clones these accounts ten simulated
/// seconds apart: two Google, a Microsoft, a Google placeholder and an IMAP account.
async fn world_with_grants(t: &TestSim) -> Vec<Made> {
    t.link_and_import_us().await;
    t.fix_microsoft().await;
    let mut made = Vec::new();
    for index in [0, 1, 2, 3, 5] {
        let account = US_ACCOUNTS[index].0;
        let r = t
            .post(
                US_V3_KEY,
                &format!("/v3/migration-tools/grants/{account}/clone"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        made.push(Made {
            id: r.data()["id"].as_str().unwrap().to_string(),
            email: r.data()["email"].as_str().unwrap().to_string(),
            created_at: r.data()["created_at"].as_i64().unwrap(),
        });
        t.sim.advance(Duration::from_secs(10));
    }
    made
}

async fn ids(t: &TestSim, query: &str) -> Vec<String> {
    let r = t.get(US_V3_KEY, &format!("/v3/grants?{query}")).await;
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    r.data()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect()
}

fn pick(made: &[Made], order: &[usize]) -> Vec<String> {
    order.iter().map(|&i| made[i].id.clone()).collect()
}

#[tokio::test]
async fn every_filter_narrows_the_list() {
    let t = TestSim::fixture().await;
    let made = world_with_grants(&t).await;
    assert_eq!(ids(&t, "").await, pick(&made, &[4, 3, 2, 1, 0]));

    // email, whatever its case; one that has no grant matches nothing.
    assert_eq!(
        ids(&t, &format!("email={}", made[1].email)).await,
        pick(&made, &[1])
    );
    assert_eq!(
        ids(&t, &format!("email={}", made[1].email.to_uppercase())).await,
        pick(&made, &[1])
    );
    assert!(ids(&t, "email=nobody%40acme.com").await.is_empty());

    // since and before are inclusive bounds on created_at.
    let since = made[2].created_at;
    let before = made[1].created_at;
    assert_eq!(
        ids(&t, &format!("since={since}")).await,
        pick(&made, &[4, 3, 2])
    );
    assert_eq!(
        ids(&t, &format!("before={before}")).await,
        pick(&made, &[1, 0])
    );
    assert_eq!(
        ids(&t, &format!("since={before}&before={since}")).await,
        pick(&made, &[2, 1])
    );
    assert!(
        ids(&t, &format!("since={since}&before={before}"))
            .await
            .is_empty()
    );
    // With the account index too.
    let all: Vec<&str> = US_ACCOUNTS.iter().map(|a| a.0).collect();
    assert_eq!(
        ids(&t, &format!("account_ids={}&since={since}", all.join(","))).await,
        pick(&made, &[4, 3, 2])
    );

    // workspace_id: every grant is in the application's default workspace.
    let app = t.get(US_V3_KEY, "/v3/applications").await;
    let workspace = app.data()["default_workspace_id"].as_str().unwrap();
    assert!(!workspace.is_empty());
    assert_eq!(
        ids(&t, &format!("workspace_id={workspace}")).await,
        pick(&made, &[4, 3, 2, 1, 0])
    );
    assert!(
        ids(&t, "workspace_id=abf6ff99-05ad-4c0a-aaf8-400aacf2470a")
            .await
            .is_empty()
    );
    let grant = t
        .get(US_V3_KEY, &format!("/v3/grants/{}", made[0].id))
        .await;
    assert_eq!(grant.data()["workspace_id"], workspace);

    // ip: a migrated grant has no client IP (its ip is empty), so no IP matches one.
    assert_eq!(grant.data()["ip"], "");
    assert!(ids(&t, "ip=1.1.1.1").await.is_empty());

    // provider and grant_status, as before, and combined with the rest.
    assert_eq!(
        ids(&t, "provider=google&grant_status=valid").await,
        pick(&made, &[1, 0])
    );
    assert_eq!(
        ids(&t, &format!("provider=google&since={since}")).await,
        pick(&made, &[3])
    );
    t.finish().await;
}

#[tokio::test]
async fn sort_and_order_and_pages() {
    let t = TestSim::fixture().await;
    let made = world_with_grants(&t).await;
    let newest_first = pick(&made, &[4, 3, 2, 1, 0]);
    let oldest_first = pick(&made, &[0, 1, 2, 3, 4]);
    for sort in ["", "sort_by=created_at&", "sort_by=updated_at&"] {
        assert_eq!(ids(&t, &format!("{sort}order_by=desc")).await, newest_first);
        assert_eq!(ids(&t, &format!("{sort}order_by=asc")).await, oldest_first);
    }
    // updated_at is what it sorts by: equal to created_at for a grant never re-authenticated.
    let listed = t
        .get(US_V3_KEY, "/v3/grants?sort_by=updated_at&order_by=asc")
        .await;
    let updated: Vec<i64> = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["updated_at"].as_i64().unwrap())
        .collect();
    assert!(updated.windows(2).all(|w| w[0] <= w[1]), "{updated:?}");

    // limit and offset page through, each grant once.
    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let r = t
            .get(
                US_V3_KEY,
                &format!("/v3/grants?limit=2&offset={offset}&order_by=asc"),
            )
            .await;
        assert_eq!(r.body["limit"], 2);
        assert_eq!(r.body["offset"], offset);
        let page = r.data().as_array().unwrap().clone();
        paged.extend(page.iter().map(|g| g["id"].as_str().unwrap().to_string()));
        if page.len() < 2 {
            break;
        }
        offset += 2;
    }
    assert_eq!(paged, oldest_first);
    // The contract's default page is 10.
    assert_eq!(t.get(US_V3_KEY, "/v3/grants").await.body["limit"], 10);
    t.finish().await;
}

#[tokio::test]
async fn what_cannot_be_honoured_is_refused_not_ignored() {
    let t = TestSim::fixture().await;
    world_with_grants(&t).await;
    for query in [
        "sort_by=name",
        "order_by=up",
        "since=yesterday",
        "before=1.5",
        "grant_status=expired",
        "limit=-1",
        "email=",
        "ip=",
        "workspace_id=",
        // Not in the contract: an SDK's cursor, a misspelt filter.
        "page_token=abc",
        "emails=a%40b.c",
        // A single-valued filter given twice.
        "email=a%40b.c&email=d%40e.f",
    ] {
        let r = t.get(US_V3_KEY, &format!("/v3/grants?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {:?}", r.body);
        assert!(!r.error_message().is_empty());
    }
    let unknown = t.get(US_V3_KEY, "/v3/grants?page_token=abc").await;
    assert!(
        unknown.error_message().contains("page_token")
            && unknown.error_message().contains("account_ids"),
        "{:?}",
        unknown.body
    );
    t.finish().await;
}

/// A valid value for each query parameter of `get-all-grants`, for the test below.
fn sample(name: &str, workspace: &str) -> Option<String> {
    Some(match name {
        "account_id" => US_ACCOUNTS[0].0.to_string(),
        "account_ids" => format!("{},{}", US_ACCOUNTS[0].0, US_ACCOUNTS[1].0),
        "before" => "4102444800".into(),
        "since" => "0".into(),
        "email" => "user0@acme.com".into(),
        "grant_status" => "valid".into(),
        "ip" => "1.1.1.1".into(),
        "limit" => "5".into(),
        "offset" => "0".into(),
        "order_by" => "asc".into(),
        "provider" => "google".into(),
        "sort_by" => "updated_at".into(),
        "workspace_id" => workspace.into(),
        _ => return None,
    })
}

#[tokio::test]
async fn every_query_parameter_the_contract_declares_is_accepted() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let t = TestSim::fixture().await;
    world_with_grants(&t).await;
    let workspace = t.get(US_V3_KEY, "/v3/applications").await.data()["default_workspace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let schema = contract.query_schema("get-all-grants").unwrap();
    let declared: BTreeSet<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(declared.len() >= 13, "{declared:?}");
    let validator = contract.query_validator("get-all-grants").unwrap().unwrap();
    let mut all = serde_json::Map::new();
    for name in &declared {
        let value = sample(name, &workspace).unwrap_or_else(|| {
            panic!("the contract declares {name} for get-all-grants: implement it or refuse it, and add it here")
        });
        let typed: Value = value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(value.clone()));
        assert!(
            validator.is_valid(&json!({ name.as_str(): typed })),
            "{name}={value}"
        );
        all.insert(name.clone(), typed);
        let r = t
            .get(US_V3_KEY, &format!("/v3/grants?{name}={value}"))
            .await;
        assert_eq!(r.status, 200, "{name}={value}: {:?}", r.body);
    }
    // All at once: only the one valid Google grant of user0 passes every filter but ip.
    assert!(validator.is_valid(&Value::Object(all)));
    let query: Vec<String> = declared
        .iter()
        .filter(|n| *n != "ip")
        .map(|n| format!("{n}={}", sample(n, &workspace).unwrap()))
        .collect();
    let r = t
        .get(US_V3_KEY, &format!("/v3/grants?{}", query.join("&")))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data().as_array().unwrap().len(), 1, "{:?}", r.body);
    assert_eq!(r.data()[0]["account_id"], US_ACCOUNTS[0].0);
    t.finish().await;
}

#[tokio::test]
async fn a_grant_keeps_the_scope_it_was_granted() {
    let t = TestSim::fixture().await;
    t.link_and_import_us().await;
    let first = t
        .post(
            US_V3_KEY,
            &format!("/v3/migration-tools/grants/{}/clone", US_ACCOUNTS[0].0),
            None,
        )
        .await;
    let granted = first.data()["scope"].clone();
    assert!(!granted.as_array().unwrap().is_empty());
    let narrowed = json!(["https://www.googleapis.com/auth/gmail.readonly"]);
    let patched = t
        .send(
            Region::Us,
            Method::PATCH,
            "/v3/connectors/google",
            Some(US_V3_KEY),
            Some(json!({"scope": narrowed})),
            &[],
        )
        .await;
    assert_eq!(patched.status, 200);

    let id = first.data()["id"].as_str().unwrap();
    let again = t.get(US_V3_KEY, &format!("/v3/grants/{id}")).await;
    assert_eq!(again.data()["scope"], granted);
    let listed = t
        .get(
            US_V3_KEY,
            &format!("/v3/grants?account_id={}", US_ACCOUNTS[0].0),
        )
        .await;
    assert_eq!(listed.data()[0]["scope"], granted);
    // Cloning the same account again returns its grant, scope and all.
    let repeated = t
        .post(
            US_V3_KEY,
            &format!("/v3/migration-tools/grants/{}/clone", US_ACCOUNTS[0].0),
            None,
        )
        .await;
    assert_eq!(repeated.data()["scope"], granted);
    // A grant made after the change gets the new scope.
    let second = t
        .post(
            US_V3_KEY,
            &format!("/v3/migration-tools/grants/{}/clone", US_ACCOUNTS[1].0),
            None,
        )
        .await;
    assert_eq!(second.data()["scope"], narrowed);
    let view = t.sim.world();
    let kept = view.grant_for(US_ACCOUNTS[0].0).unwrap();
    assert_eq!(json!(kept.scope), granted);
    t.finish().await;
}
