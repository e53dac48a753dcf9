//! Clone throughput through the client against the simulator, as a ratio to the ideal: every
//! account of two applications (U.S. and E.U.) cloned at once, each application at Nylas's
//! limit, under injected latency. The product asks for >= 95% of the limit with no 429.
//!
//! `cargo bench --bench client_throughput`; `CLIENT_BENCH_ACCOUNTS` (default 300) sets the
//! world's size, `CLIENT_BENCH_LATENCY_MS` (default 40) the simulator's latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use nylas_migrate::api::{ConnectorProvider, Operation, PlaceholderQuery, Region, UpdateConnector};
use nylas_migrate::client::{AppClient, AppConfig, NylasClient, Secret};
use nylas_migrate::simulator::{self, SimulatorConfig, World};
use tokio::sync::Semaphore;

const RATE: u32 = 20;
const IN_FLIGHT_PER_APP: usize = 16;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let accounts = env_or("CLIENT_BENCH_ACCOUNTS", 300) as usize;
    let latency = Duration::from_millis(env_or("CLIENT_BENCH_LATENCY_MS", 40));
    let world = World::generate(accounts, 11);
    let sim = simulator::start(
        SimulatorConfig {
            world: world.clone(),
            rate_limit: RATE,
            latency,
            ..SimulatorConfig::default()
        },
        "127.0.0.1".parse().unwrap(),
    )
    .await
    .unwrap();
    let client = NylasClient::builder()
        .region_url(Region::Us, &sim.base_url(Region::Us))
        .unwrap()
        .region_url(Region::Eu, &sim.base_url(Region::Eu))
        .unwrap()
        .default_rate_limit(RATE)
        .build()
        .unwrap();

    let mut runs = Vec::new();
    for region in [Region::Us, Region::Eu] {
        let v3 = world.v3_apps.iter().find(|a| a.region == region).unwrap();
        let v2 = world.v2_apps.iter().find(|a| a.region == region).unwrap();
        let app = client.app(AppConfig {
            region,
            app_id: v3.id.clone(),
            api_key: Secret::new(v3.api_key.clone()),
            rate_limit: None,
            key_source: "benchmark world".into(),
        });
        app.link_v2_app(&v2.id, &Secret::new(v2.secret.clone()))
            .await
            .unwrap();
        app.import_v2_app().await.unwrap();
        if app
            .get_connector(ConnectorProvider::Microsoft)
            .await
            .unwrap()
            .data
            .is_some()
        {
            let azure =
                serde_json::json!({"client_id": "a", "client_secret": "b", "tenant": "common"});
            let fix = UpdateConnector {
                settings: azure.as_object().cloned(),
                ..UpdateConnector::default()
            };
            app.update_connector(ConnectorProvider::Microsoft, &fix)
                .await
                .unwrap();
        }
        let ids: Vec<String> = v2.accounts.iter().map(|a| a.id.clone()).collect();
        runs.push((region, app, ids));
    }
    // Start the measured part from a full simulator bucket, as a fresh run would.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let results = join_all(
        runs.into_iter()
            .map(|(region, app, ids)| clone_all(region, app, ids)),
    )
    .await;
    let stats = sim.stats();
    println!(
        "client_throughput: {accounts} accounts, latency {} ms, limit {RATE}/s per application",
        latency.as_millis()
    );
    for (region, count, elapsed) in &results {
        // n requests at RATE/s need (n - 1) / RATE seconds between the first and the last send,
        // plus one round trip for the last answer.
        let ideal =
            Duration::from_secs_f64((*count as f64 - 1.0).max(0.0) / f64::from(RATE)) + latency;
        println!(
            "  {region}: {count} clones in {:.2} s, ideal {:.2} s: {:.1}% of the limit",
            elapsed.as_secs_f64(),
            ideal.as_secs_f64(),
            100.0 * ideal.as_secs_f64() / elapsed.as_secs_f64()
        );
    }
    println!(
        "  429 answers: {}, clone requests: {}",
        stats.status_total(429),
        stats.op_total(Operation::CloneSingleAccount)
    );
    sim.shutdown().await;
}

async fn clone_all(region: Region, app: AppClient, ids: Vec<String>) -> (Region, usize, Duration) {
    let gate = Arc::new(Semaphore::new(IN_FLIGHT_PER_APP));
    let started = Instant::now();
    let count = ids.len();
    let tasks = ids.into_iter().map(|id| {
        let app = app.clone();
        let gate = Arc::clone(&gate);
        tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            app.clone_account(&id, PlaceholderQuery::default())
                .await
                .unwrap();
        })
    });
    for task in join_all(tasks).await {
        task.unwrap();
    }
    (region, count, started.elapsed())
}
