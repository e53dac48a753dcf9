//! The client's tests' harness: a simulator, a client pointed at it, and a handle per v3
//! application of the simulated world.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nylas_migrate::api::Region;
use nylas_migrate::client::{
    AppClient, AppConfig, NylasClient, NylasClientBuilder, RequestRecord, RetryPolicy, Secret,
};
use nylas_migrate::simulator::{self, RunningSimulator, SimulatorConfig, World};

use super::LOCALHOST;

pub struct Harness {
    pub sim: RunningSimulator,
    pub world: World,
}

pub async fn start(config: SimulatorConfig) -> Harness {
    let world = config.world.clone();
    let sim = simulator::start(config, LOCALHOST).await.unwrap();
    Harness { sim, world }
}

/// A simulator over a generated world of `accounts` accounts (two thirds U.S., one third E.U.),
/// with jobs on a manual clock.
pub fn config(accounts: usize) -> SimulatorConfig {
    SimulatorConfig {
        world: World::generate(accounts, 7),
        job_speed: simulator::JobSpeed::Manual,
        ..SimulatorConfig::default()
    }
}

/// Retries fast enough for tests: 1–8 ms backoff.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 8,
        max_elapsed: Duration::from_secs(20),
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(8),
        request_timeout: Duration::from_secs(10),
        ..RetryPolicy::default()
    }
}

impl Harness {
    /// A client builder with both regions pointed at the simulator.
    pub fn builder(&self) -> NylasClientBuilder {
        NylasClient::builder()
            .region_url(Region::Us, &self.sim.base_url(Region::Us))
            .unwrap()
            .region_url(Region::Eu, &self.sim.base_url(Region::Eu))
            .unwrap()
            .retry_policy(fast_retries())
            .jitter_seed(1)
    }

    pub fn client(&self) -> NylasClient {
        self.builder().build().unwrap()
    }

    /// The world's v3 application of `region`, with its right key.
    pub fn app(&self, client: &NylasClient, region: Region) -> AppClient {
        let v3 = self.v3(region);
        client.app(AppConfig {
            region,
            app_id: v3.id.clone(),
            api_key: Secret::new(v3.api_key.clone()),
            rate_limit: None,
            key_source: format!(
                "environment variable TEST_{}_V3_API_KEY (pair test-{region})",
                region.as_str().to_uppercase()
            ),
        })
    }

    pub fn v3(&self, region: Region) -> &simulator::V3App {
        self.world
            .v3_apps
            .iter()
            .find(|a| a.region == region)
            .unwrap()
    }

    pub fn v2(&self, region: Region) -> &simulator::V2App {
        self.world
            .v2_apps
            .iter()
            .find(|a| a.region == region)
            .unwrap()
    }

    pub fn v2_secret(&self, region: Region) -> Secret {
        Secret::new(self.v2(region).secret.clone())
            .with_origin("environment variable TEST_V2_SECRET")
    }
}

/// A request observer and what it saw.
pub fn recorder() -> (
    nylas_migrate::client::RequestObserver,
    Arc<Mutex<Vec<RequestRecord>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let observer: nylas_migrate::client::RequestObserver =
        Arc::new(move |record: &RequestRecord| sink.lock().unwrap().push(record.clone()));
    (observer, seen)
}

impl Harness {
    /// Requests to `op` the simulator answered with `status`.
    pub fn count(&self, op: nylas_migrate::api::Operation, status: u16) -> u64 {
        self.sim.stats().count(op, status)
    }

    /// Requests to `op` the simulator answered, whatever the status.
    pub fn answered(&self, op: nylas_migrate::api::Operation) -> u64 {
        self.sim.stats().op_total(op)
    }

    /// Connections to `op` the simulator dropped (a write dropped after it was applied is also
    /// counted as answered).
    pub fn dropped_of(&self, op: nylas_migrate::api::Operation) -> u64 {
        self.sim
            .stats()
            .dropped
            .get(op.operation_id())
            .copied()
            .unwrap_or(0)
    }

    /// Connections the simulator dropped, every operation together.
    pub fn dropped(&self) -> u64 {
        self.sim.stats().dropped.values().sum()
    }
}
