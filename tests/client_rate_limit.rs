//! The limiter against a simulator enforcing the same limit: many tasks through one
//! application's limiter never draw a 429 and never exceed the rate in any 1-second window; two
//! applications each get their own rate.

use std::time::Duration;

use futures::future::join_all;
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::client::rate_limit::max_in_any_window;

use crate::support::client::{config, start};

const RATE: u32 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_on_one_application_stay_under_its_rate() {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        rate_limit: RATE,
        ..config(3)
    })
    .await;
    let client = h
        .builder()
        .default_rate_limit(RATE)
        .record_send_instants(true)
        .build()
        .unwrap();
    let tasks = (0..80).map(|_| {
        let app = h.app(&client, Region::Us);
        tokio::spawn(async move { app.get_application().await.map(|_| ()) })
    });
    for result in join_all(tasks).await {
        result.unwrap().unwrap();
    }
    assert_eq!(h.count(Operation::GetApplication, 429), 0);
    let limiter = client.limiters().get(&h.v3(Region::Us).id).unwrap();
    let sent = limiter.send_instants();
    assert_eq!(sent.len(), 80);
    assert!(max_in_any_window(&sent, Duration::from_secs(1)) <= RATE as usize);
    // Spaced, not slowed: within a few percent of the ideal 79 intervals.
    let span = sent[79].duration_since(sent[0]);
    let ideal = Duration::from_secs(1) * 79 / RATE;
    assert!(
        span < ideal.mul_f64(1.10),
        "{span:?} for an ideal of {ideal:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applications_each_get_their_own_rate() {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        rate_limit: RATE,
        ..config(3)
    })
    .await;
    let client = h
        .builder()
        .default_rate_limit(RATE)
        .record_send_instants(true)
        .build()
        .unwrap();
    let tasks = [Region::Us, Region::Eu].into_iter().flat_map(|region| {
        let app = h.app(&client, region);
        (0..40).map(move |_| {
            let app = app.clone();
            tokio::spawn(async move { app.get_application().await.map(|_| ()) })
        })
    });
    for result in join_all(tasks.collect::<Vec<_>>()).await {
        result.unwrap().unwrap();
    }
    assert_eq!(h.count(Operation::GetApplication, 429), 0);
    let us = client
        .limiters()
        .get(&h.v3(Region::Us).id)
        .unwrap()
        .send_instants();
    let eu = client
        .limiters()
        .get(&h.v3(Region::Eu).id)
        .unwrap()
        .send_instants();
    assert_eq!((us.len(), eu.len()), (40, 40));
    let window = Duration::from_secs(1);
    assert!(max_in_any_window(&us, window) <= RATE as usize);
    assert!(max_in_any_window(&eu, window) <= RATE as usize);
    // Together they went faster than one application may: their limits are separate.
    let mut both: Vec<_> = us.into_iter().chain(eu).collect();
    both.sort();
    assert!(max_in_any_window(&both, window) > RATE as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_rate_lowers_the_application_limit() {
    let h = start(nylas_migrate::simulator::SimulatorConfig {
        rate_limit: 0,
        ..config(3)
    })
    .await;
    let client = h
        .builder()
        .default_rate_limit(RATE)
        .record_send_instants(true)
        .build()
        .unwrap();
    let v3 = h.v3(Region::Us);
    let app = client.app(nylas_migrate::client::AppConfig {
        region: Region::Us,
        app_id: v3.id.clone(),
        api_key: nylas_migrate::client::Secret::new(v3.api_key.clone()),
        rate_limit: Some(10),
        key_source: "environment variable K".into(),
    });
    join_all((0..12).map(|_| app.get_application()))
        .await
        .into_iter()
        .for_each(|r| {
            r.unwrap();
        });
    let sent = app.limiter().send_instants();
    assert!(max_in_any_window(&sent, Duration::from_secs(1)) <= 10);
}
