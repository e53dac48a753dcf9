//! What a simulator run is configured with.

use std::time::Duration;

use super::clock::JobSpeed;
use super::world::World;

/// Everything `start` needs. `Default` is an empty world, the contract's rate limit, no faults
/// and real-time jobs.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub world: World,
    /// Requests per second per v3 application (Nylas: 20). Counted in wall time, since clients
    /// pace themselves in wall time. 0 disables the limit.
    pub rate_limit: u32,
    /// Added before answering every request.
    pub latency: Duration,
    /// Share (0..=1) of requests answered 502, 503 or 504 without touching state.
    pub fault_rate: f64,
    /// Share (0..=1) of connections dropped after the request was read, without an answer. For
    /// writes, half of the drops happen after the write was applied (an ambiguous failure).
    pub drop_rate: f64,
    /// Seeds the fault injection and the ids the simulator creates.
    pub seed: u64,
    /// Batch clones whose migration job fails outright.
    pub failing_jobs: Vec<FailingJob>,
    /// How the simulated clock, and so the jobs, move.
    pub job_speed: JobSpeed,
    /// How long jobs take in simulated time.
    pub job_timing: JobTiming,
    /// Keep every response (operation, status, body) for contract tests
    /// (`RunningSimulator::recorded_responses`).
    pub record_responses: bool,
    /// How long a connection may take to send a request, stall inside one, or sit idle between
    /// two before the simulator closes it.
    pub read_timeouts: ReadTimeouts,
    /// What an update does with an optional field sent empty.
    pub empty_fields: EmptyFields,
}

/// What an update of a notification destination (`put-webhook-by-id`, `put-pubsub-by-id`,
/// `put-sns-by-id`) does with an optional field sent empty: `"description": ""`,
/// `"notification_email_addresses": []`. The contract says it for webhooks only ("Empty fields
/// in the request do not overwrite existing fields"); for channels it says that a PUT "replaces
/// all data in the nested object with the information included". What Nylas really does is not
/// written anywhere else, so a rehearsal can choose, and the tests run both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EmptyFields {
    /// As the contract reads: a webhook keeps the field, a channel clears it.
    #[default]
    AsDocumented,
    /// Every destination keeps a field sent empty as it was.
    Keep,
    /// Every destination clears a field sent empty.
    Clear,
}

impl EmptyFields {
    /// Whether a webhook destination's field sent empty is cleared.
    pub fn clears_webhooks(self) -> bool {
        self == EmptyFields::Clear
    }

    /// Whether a channel's field sent empty is cleared.
    pub fn clears_channels(self) -> bool {
        self != EmptyFields::Keep
    }
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            world: World::default(),
            rate_limit: 20,
            latency: Duration::ZERO,
            fault_rate: 0.0,
            drop_rate: 0.0,
            seed: 0,
            failing_jobs: Vec::new(),
            job_speed: JobSpeed::default(),
            job_timing: JobTiming::default(),
            record_responses: false,
            read_timeouts: ReadTimeouts::default(),
            empty_fields: EmptyFields::default(),
        }
    }
}

/// Read timeouts, in wall time, as a front end applies them: a connection that is slow to send
/// its request headers, stops in the middle of a body, or stays idle between requests is
/// closed, so that a broken client or a load test cannot hold connections forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTimeouts {
    /// From a new connection, or from the first byte of a request on a kept-alive connection,
    /// until its headers are complete.
    pub headers: Duration,
    /// The longest pause between two pieces of a request body. A stalled body is answered
    /// 408 and the connection closed.
    pub body: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle: Duration,
}

impl Default for ReadTimeouts {
    fn default() -> Self {
        ReadTimeouts {
            headers: Duration::from_secs(5),
            body: Duration::from_secs(10),
            idle: Duration::from_secs(60),
        }
    }
}

/// The `nth` batch clone (1-based, counted per v3 application) of `application_id` gets a
/// migration job that ends `failed`, every account counted failed and none given a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingJob {
    pub application_id: String,
    pub nth: u32,
}

impl std::str::FromStr for FailingJob {
    type Err = String;

    /// `APP_ID:N`, as `simulate --fail-job` takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (app, nth) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("expected APP_ID:N, got {s:?}"))?;
        let nth: u32 = nth
            .parse()
            .map_err(|_| format!("expected a batch number after ':', got {nth:?}"))?;
        if app.is_empty() || nth == 0 {
            return Err(format!("expected APP_ID:N with N >= 1, got {s:?}"));
        }
        Ok(FailingJob {
            application_id: app.to_string(),
            nth,
        })
    }
}

/// Job durations in simulated time. A batch clone's snapshot job waits `snapshot_pending`, then
/// runs for `snapshot_running`; the migration job stays pending until the snapshot completes,
/// then processes `accounts_per_second` accounts per simulated second, in import order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobTiming {
    pub snapshot_pending: Duration,
    pub snapshot_running: Duration,
    pub accounts_per_second: u32,
}

impl Default for JobTiming {
    fn default() -> Self {
        JobTiming {
            snapshot_pending: Duration::from_secs(1),
            snapshot_running: Duration::from_secs(2),
            accounts_per_second: 100,
        }
    }
}
