//! The simulator's memory with 1,000,000 generated accounts: resident set size after starting,
//! and after every account has been cloned by a batch job (Linux: /proc/self/status).
//!
//!     cargo bench --bench simulator_memory

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use base64::Engine;
use nylas_migrate::api::Region;
use nylas_migrate::simulator::{self, JobSpeed, SimulatorConfig, World};

const ACCOUNTS: usize = 1_000_000;

fn rss_mib() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or("?".to_string(), |kb| format!("{:.0} MiB", kb / 1024.0))
    };
    format!("RSS {} (peak {})", field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main]
async fn main() {
    println!("simulator_memory: {ACCOUNTS} generated accounts");
    println!("  before: {}", rss_mib());
    let started = Instant::now();
    let world = World::generate(ACCOUNTS, 42);
    println!(
        "  generated in {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        rss_mib()
    );
    // Only what the requests need, not a copy of the accounts.
    let pairs: Vec<(String, String, String, Region)> = world
        .v2_apps
        .iter()
        .zip(&world.v3_apps)
        .map(|(v2, v3)| {
            (
                v2.id.clone(),
                v2.secret.clone(),
                v3.api_key.clone(),
                v3.region,
            )
        })
        .collect();
    let first_account = world.v2_apps[0].accounts[0].id.clone();
    let sim = simulator::start(
        SimulatorConfig {
            world,
            rate_limit: 0,
            job_speed: JobSpeed::Manual,
            ..SimulatorConfig::default()
        },
        IpAddr::V4(Ipv4Addr::LOCALHOST),
    )
    .await
    .expect("start the simulator");
    println!("  started: {}", rss_mib());

    let http = reqwest::Client::new();
    for (v2_id, v2_secret, key, region) in &pairs {
        let base = sim.base_url(*region);
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{v2_id}:{v2_secret}"));
        for path in [
            "/v3/migration-tools/link-v2v3-apps",
            "/v3/migration-tools/import-v2-app",
        ] {
            let r = http
                .post(format!("{base}{path}"))
                .bearer_auth(key)
                .header("BasicV2", &basic)
                .send()
                .await
                .expect("setup");
            assert!(r.status().is_success());
        }
        // Give Microsoft connectors credentials, so that every account gets a grant.
        let _ = http
            .patch(format!("{base}/v3/connectors/microsoft"))
            .bearer_auth(key)
            .json(&serde_json::json!({"settings": {"client_id": "a", "client_secret": "b"}}))
            .send()
            .await
            .expect("fix microsoft");
        let r = http
            .post(format!("{base}/v3/migration-tools/snapshot-batch-clone"))
            .bearer_auth(key)
            .json(&serde_json::json!({"limit": ACCOUNTS}))
            .send()
            .await
            .expect("batch");
        assert!(r.status().is_success());
    }
    let started = Instant::now();
    sim.advance(Duration::from_secs(30 * 24 * 3600));
    let elapsed = started.elapsed().as_secs_f64();
    let after = rss_mib();
    let grants: usize = sim.world().apps.values().map(|a| a.grants.len()).sum();
    println!("  {grants} grants made by batch jobs in {elapsed:.2} s: {after}");
    let r = http
        .get(format!(
            "{}/v3/grants?limit=5&account_ids={}",
            sim.base_url(Region::Us),
            first_account
        ))
        .bearer_auth(&pairs[0].2)
        .send()
        .await
        .expect("grants");
    assert!(r.status().is_success());
    sim.shutdown().await;
}
