//! How many requests per second the simulator serves to 200 concurrent clients, on 127.0.0.1.
//! Bounded: at most 400,000 requests or 10 seconds of load. Rate limit off (it is what is being
//! measured around), no injected latency or faults. Client and server share this process and
//! the machine's cores, so the figure is a floor for the server alone.
//!
//!     cargo bench --bench simulator_throughput

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use nylas_migrate::api::Region;
use nylas_migrate::simulator::{self, JobSpeed, SimulatorConfig, World};

const CLIENTS: usize = 200;
const MAX_REQUESTS: u64 = 400_000;
const MAX_TIME: Duration = Duration::from_secs(10);
const ACCOUNTS: usize = 100_000;

#[tokio::main]
async fn main() {
    let world = World::generate(ACCOUNTS, 42);
    let v2 = world.v2_apps[0].clone();
    let v3 = world.v3_apps[0].clone();
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
    let base = sim.base_url(Region::Us);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");

    // A migrated app: linked, imported, every account cloned.
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", v2.id, v2.secret));
    for path in [
        "/v3/migration-tools/link-v2v3-apps",
        "/v3/migration-tools/import-v2-app",
    ] {
        let r = http
            .post(format!("{base}{path}"))
            .bearer_auth(&v3.api_key)
            .header("BasicV2", &basic)
            .send()
            .await
            .expect("setup request");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    let r = http
        .post(format!("{base}/v3/migration-tools/snapshot-batch-clone"))
        .bearer_auth(&v3.api_key)
        .json(&serde_json::json!({"limit": ACCOUNTS}))
        .send()
        .await
        .expect("batch clone");
    assert!(r.status().is_success());
    sim.advance(Duration::from_secs(24 * 3600));
    let grants = sim.world().app(&v3.id).map_or(0, |a| a.grants.len());

    // Each client cycles through three observations a migration makes: a page of grants by
    // account ids, the jobs, the application.
    let ids: Arc<Vec<String>> = Arc::new(v2.accounts.iter().map(|a| a.id.clone()).collect());
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (http, base, key, ids) = (http.clone(), base.clone(), v3.api_key.clone(), ids.clone());
        let (done, failed) = (done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = client;
            while started.elapsed() < MAX_TIME && done.load(Ordering::Relaxed) < MAX_REQUESTS {
                let path = match n % 3 {
                    0 => {
                        let start = (n * 10) % (ids.len() - 10);
                        format!(
                            "/v3/grants?limit=10&account_ids={}",
                            ids[start..start + 10].join(",")
                        )
                    }
                    1 => "/v3/migration-tools/jobs".to_string(),
                    _ => "/v3/applications".to_string(),
                };
                let ok = match http
                    .get(format!("{base}{path}"))
                    .bearer_auth(&key)
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
                n += CLIENTS;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = done.load(Ordering::Relaxed);
    println!(
        "simulator_throughput: {CLIENTS} concurrent clients, {ACCOUNTS} accounts, {grants} grants"
    );
    println!(
        "  {total} requests in {elapsed:.2} s = {:.0} requests/second ({} failed)",
        total as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    sim.shutdown().await;
}
