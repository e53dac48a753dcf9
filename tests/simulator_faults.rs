//! The rate limit and fault injection over real HTTP.

use std::time::{Duration, Instant};

use crate::support::sim::*;
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::simulator::SimulatorConfig;
use reqwest::Method;

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_per_application() {
    let t = TestSim::start(SimulatorConfig {
        rate_limit: 5,
        ..fixture_config()
    })
    .await;
    let requests = (0..30).map(|_| t.get(US_V3_KEY, "/v3/applications"));
    let answers = futures::future::join_all(requests).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    // A bucket of 5 and a refill of 5 per second: 30 requests in a burst cannot all pass.
    assert!((5..=8).contains(&ok), "{ok} passed");
    assert_eq!(ok + limited.len(), 30);
    let first = limited[0];
    assert_eq!(first.body["error"]["type"], "rate_limit_error");
    assert!(first.body["request_id"].is_string());
    let retry_after: u64 = first.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    // The limit is per application: another one is not affected.
    let other = t.get(US_V3_OTHER_KEY, "/v3/applications").await;
    assert_eq!(other.status, 200);
    let stats = t.sim.stats();
    assert_eq!(
        stats.count(Operation::GetApplication, 429),
        limited.len() as u64
    );
    assert_eq!(stats.count(Operation::GetApplication, 200), ok as u64 + 1);
    t.finish().await;
}

#[tokio::test]
async fn injected_server_errors_are_seeded_and_change_nothing() {
    let statuses = |seed| async move {
        let t = TestSim::start(SimulatorConfig {
            fault_rate: 0.5,
            seed,
            ..fixture_config()
        })
        .await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(t.get(US_V3_KEY, "/v3/applications").await.status);
        }
        t.finish().await;
        statuses
    };
    let a = statuses(7).await;
    assert_eq!(a, statuses(7).await, "same seed, same faults");
    assert!(a.contains(&200));
    assert!(a.iter().any(|s| [502, 503, 504].contains(s)));
    assert!(a.iter().all(|s| [200, 502, 503, 504].contains(s)));

    let t = TestSim::fixture().await;
    t.sim.set_faults(1.0, 0.0);
    let link = t.link(Region::Us, US_V3_KEY, US_V2, US_V2_SECRET).await;
    assert!([502, 503, 504].contains(&link.status));
    assert_eq!(link.body["error"]["type"], "server_error");
    assert!(
        t.sim
            .world()
            .app(US_V3)
            .unwrap()
            .application
            .v2_application_id
            .is_none()
    );
    t.finish().await;
}

#[tokio::test]
async fn dropped_connections_get_no_answer_and_some_writes_still_land() {
    let t = TestSim::fixture().await;
    t.link_and_import_us().await;
    t.fix_microsoft().await;
    t.sim.set_faults(0.0, 1.0);
    let read = t
        .http
        .get(t.url(Region::Us, "/v3/grants"))
        .bearer_auth(US_V3_KEY)
        .send()
        .await;
    assert!(
        read.is_err(),
        "a dropped connection must not answer: {read:?}"
    );
    for (id, _, _) in US_ACCOUNTS {
        let sent = t
            .http
            .post(t.url(
                Region::Us,
                &format!("/v3/migration-tools/grants/{id}/clone"),
            ))
            .bearer_auth(US_V3_KEY)
            .send()
            .await;
        assert!(sent.is_err());
    }
    let stats = t.sim.stats();
    assert_eq!(stats.dropped["migration_clone_single_account"], 9);
    assert_eq!(stats.dropped["get-all-grants"], 1);
    // Some clones were applied before the drop (ambiguous failures), some were not.
    let landed = t.sim.world().app(US_V3).unwrap().grants.len();
    assert!(landed > 0 && landed < 9, "{landed} of 9 landed");
    assert_eq!(stats.op_total(Operation::CloneSingleAccount), landed as u64);
    t.sim.set_faults(0.0, 0.0);
    assert_eq!(t.get(US_V3_KEY, "/v3/grants").await.status, 200);
    t.finish().await;
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let t = TestSim::start(SimulatorConfig {
        latency: Duration::from_millis(150),
        ..fixture_config()
    })
    .await;
    let started = Instant::now();
    let r = t
        .send(
            Region::Eu,
            Method::GET,
            "/v3/applications",
            Some(EU_V3_KEY),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    t.finish().await;
}
