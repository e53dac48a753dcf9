//! A local Nylas v3 simulator that behaves like the contract
//! (`../shared/nylas-openapi/nylas-v3-migration.openapi.yaml`), over real sockets: both regions,
//! each at its own base URL; the migration tools, applications, connectors, grants, webhooks
//! (verified and tested by real deliveries to loopback URLs), Pub/Sub and SNS channels and
//! redirect URIs; batch jobs that advance against a simulated clock; the per-application rate
//! limit; seeded faults; and counters tests read. `docs/simulator.md` documents the world file and the flags.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use nylas_migrate::simulator::{self, JobSpeed, SimulatorConfig, World};
//! let sim = simulator::start(
//!     SimulatorConfig {
//!         world: World::generate(100, 7),
//!         job_speed: JobSpeed::Manual,
//!         ..SimulatorConfig::default()
//!     },
//!     "127.0.0.1".parse()?,
//! )
//! .await?;
//! let us = sim.base_url(nylas_migrate::api::Region::Us);
//! sim.advance(std::time::Duration::from_secs(60));
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod clock;
mod config;
mod connection;
mod error;
mod faults;
mod generate;
mod ids;
mod objects;
mod outbound;
mod rate_limit;
mod record;
mod rehearsal;
mod routes;
mod rules;
mod server;
mod state;
mod stats;
mod view;
mod world;
mod world_yaml;

pub use clock::JobSpeed;
pub use config::{EmptyFields, FailingJob, JobTiming, ReadTimeouts, SimulatorConfig};
pub use objects::{AccountObjects, RESOURCE_TYPES, is_outlook};
pub use outbound::TEST_EVENT_SECRET;
pub use record::RecordedResponse;
pub use rehearsal::world_for_plan;
pub use server::{RunningSimulator, STATS_PATH, SimulatorError, start, start_on};
pub use state::MigrationStatus;
pub use stats::Stats;
pub use view::{AppView, WorldView};
pub use world::{
    AccountProvider, SeededChannel, SeededRedirectUri, V2Account, V2App, V3App, World, WorldError,
};
