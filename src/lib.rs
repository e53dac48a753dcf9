//! nylas-migrate: a declarative, idempotent runner for Nylas v2-to-v3 migrations.
//!
//! The data's path, one module per stage:
//! - [`plan`]: the plan file: its model, loading with source spans, and validation.
//! - [`graph`]: the step graph built from a valid plan.
//! - [`api`]: the Nylas v3 contract's operations and wire types, shared by client and simulator.
//! - [`client`]: the Nylas v3 API client (regions, auth, rate limiting, retries, errors).
//! - [`simulator`]: a local Nylas v3 simulator that behaves like the contract.
//! - [`engine`]: one scheduler and one driver per step kind, journaling every write: `plan` and
//!   `apply` (see `docs/architecture.md`).
//! - [`state`]: the plan's state: the journal and its records, in a folder or PostgreSQL, and
//!   the lock that fences every write.
//! - [`translate`]: v2 → v3 IDs, streamed and resumable.
//! - [`secrets`]: plan secret references resolved at run time.
//! - [`run`]: opening a run: plan, client, secrets, state and lock, in one place.
//! - [`output_file`]: outputs written whole or not at all.
//! - [`report`]: where a migration stands, and which accounts moved.
//! - [`saved`]: saved plans (`plan --out`, `apply FILE`).
//! - [`cli`]: the command-line commands.
//! - [`code`]: every diagnostic code, in one list.
//! - [`yaml`]: the one YAML parser, keeping every node's source span.
//! - [`untrusted`]: text from outside (plans, the API, the journal) made safe for a terminal.

/// `eprintln!` that never panics: when stderr is closed or its reader went away, the line is
/// lost and the program goes on (a panic there would turn a reported error into a crash).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod api;
pub mod cli;
pub mod client;
pub mod code;
pub mod engine;
pub mod events;
pub mod graph;
pub mod output_file;
pub mod plan;
pub mod report;
pub mod run;
pub mod saved;
pub mod secrets;
pub mod simulator;
pub mod state;
pub mod translate;
pub mod untrusted;
pub mod yaml;
