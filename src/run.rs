//! Opening a run: the one way a plan becomes what the engine walks. From a plan (loaded, or
//! given) and where its secrets and state are, [`Opening`] builds the client pointed at the
//! plan's regions (the CA file and retry deadline the environment sets, and whatever the caller
//! adds to the builder), and then opens the run: for reading, the plan's state as it is (nothing
//! created); for writing, the state's lock taken, the journal opened or created, and every
//! journal write fenced by the lock. Secrets are resolved as the [`Context`] is made (every
//! missing one reported at once).
//!
//! The CLI's commands, the benchmarks and the tests open their runs here, so that a run is
//! assembled in one order everywhere: plan → client → secrets → state → lock.

use std::path::Path;

use crate::client::{ClientError, NylasClient, NylasClientBuilder, RetryPolicy};
use crate::engine::{Context, EngineError, RunOptions};
use crate::graph::{GraphError, StepGraph};
use crate::plan::{InvalidPlan, Plan, Trust};
use crate::secrets::SecretSource;
use crate::state::{LockError, StateLocation, StateLock};

/// Why a run cannot be opened.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    /// A plan that did not pass: its diagnostics, each with its code, line and column, are in
    /// it (the CLI renders them).
    #[error("{} is not a valid plan ({} problems)", .0.name, .0.diagnostics.len())]
    Plan(Box<InvalidPlan>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
}

impl From<InvalidPlan> for RunError {
    fn from(invalid: InvalidPlan) -> Self {
        RunError::Plan(Box::new(invalid))
    }
}

/// A plan and its graph, read from `path` and checked with `trust` (the run's opt-ins).
/// Returns the bytes it was loaded from too (what a saved plan's digest covers).
pub fn load_plan(path: &Path, trust: &Trust) -> Result<(Plan, StepGraph, Vec<u8>), RunError> {
    let (name, bytes) = crate::plan::read_file(path)?;
    let plan = crate::plan::load_bytes_with(path, &name, &bytes, trust)?.plan;
    let graph = StepGraph::build(&plan)?;
    Ok((plan, graph, bytes))
}

/// The builder of a client whose regions are the plan's (overrides applied), trusting the CA
/// file `NYLAS_MIGRATE_CA_FILE` names, retrying within the deadline the environment sets, and
/// paced as `NYLAS_MIGRATE_LOOPBACK_RATE_LIMIT` says when every region is the simulator's.
pub fn client_builder(plan: &Plan) -> Result<NylasClientBuilder, RunError> {
    let mut builder = NylasClient::builder()
        .ca_file_from_env()
        .retry_policy(RetryPolicy::from_env()?);
    for region in crate::api::Region::ALL {
        if let Some(settings) = plan.regions.get(region) {
            builder = builder
                .region_url(region, &settings.api_url)
                .map_err(ClientError::from)?;
        }
    }
    // A raised pace applies only when every region the client is built with is on loopback.
    Ok(builder.loopback_rate_from_env()?)
}

/// A plan's client (see [`client_builder`]).
pub fn client(plan: &Plan) -> Result<NylasClient, RunError> {
    Ok(client_builder(plan)?.build()?)
}

/// What a run is opened from: the plan's graph, its secrets' source, where its state lives, the
/// client, and what the user asked beyond the plan. Open it with [`read`](Self::read) (the
/// state as it is) or [`write`](Self::write) (locked, created, fenced).
#[derive(Debug)]
pub struct Opening {
    plan_name: String,
    graph: StepGraph,
    source: SecretSource,
    state: StateLocation,
    client: NylasClient,
    options: RunOptions,
}

/// A run opened for writing: the engine's [`Context`] and the lock its journal's writes are
/// fenced by (held until this is dropped).
#[derive(Debug)]
pub struct Run {
    pub context: Context,
    pub lock: StateLock,
}

impl Opening {
    /// A run of `plan` (whose graph is `graph`) with the plan's client.
    pub fn new(
        plan: &Plan,
        graph: StepGraph,
        source: SecretSource,
        state: StateLocation,
    ) -> Result<Opening, RunError> {
        Opening::with_client(plan, graph, source, state, |builder| builder)
    }

    /// A run of `plan`, its graph built here.
    pub fn of_plan(
        plan: &Plan,
        source: SecretSource,
        state: StateLocation,
    ) -> Result<Opening, RunError> {
        Opening::new(plan, StepGraph::build(plan)?, source, state)
    }

    /// As [`new`](Self::new), with `tune` applied to the plan's client builder (a test's or a
    /// benchmark's settings).
    pub fn with_client(
        plan: &Plan,
        graph: StepGraph,
        source: SecretSource,
        state: StateLocation,
        tune: impl FnOnce(NylasClientBuilder) -> NylasClientBuilder,
    ) -> Result<Opening, RunError> {
        let client = tune(client_builder(plan)?).build()?;
        Ok(Opening {
            plan_name: plan.name.clone(),
            graph,
            source,
            state,
            client,
            options: RunOptions::default(),
        })
    }

    /// What the user asked for beyond the plan, for every context opened from here.
    pub fn with_options(mut self, options: RunOptions) -> Opening {
        self.options = options;
        self
    }

    pub fn client(&self) -> &NylasClient {
        &self.client
    }

    pub fn graph(&self) -> &StepGraph {
        &self.graph
    }

    pub fn state(&self) -> &StateLocation {
        &self.state
    }

    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// The run for reading (`plan`, `status`, `report`, a writing run's look before it
    /// writes): the plan's state as it is, nothing created, no lock.
    pub fn read(&self) -> Result<Context, EngineError> {
        self.context(false)
    }

    /// Takes the state's lock without waiting (a run that holds it is named).
    pub fn lock(&self) -> Result<StateLock, LockError> {
        StateLock::acquire_at(&self.state, &self.plan_name)
    }

    /// The run for writing, under `lock` (see [`lock`](Self::lock)): the journal opened or
    /// created (a state folder created private first), every write of it fenced by the lock.
    pub fn write(self, lock: StateLock) -> Result<Run, EngineError> {
        let mut context = self.context(true)?;
        // Every journal write of this run proves, as it is made, that the lock is still ours.
        context.fence_journal(&lock)?;
        Ok(Run { context, lock })
    }

    /// [`lock`](Self::lock), then [`write`](Self::write).
    pub fn lock_and_write(self) -> Result<Run, EngineError> {
        let lock = self.lock()?;
        self.write(lock)
    }

    /// The run for writing without a lock: for a state no other runner can reach (the demo's
    /// private folder, a benchmark's). Each call opens the state again (the demo applies
    /// twice with one client).
    pub fn write_unlocked(&self) -> Result<Context, EngineError> {
        self.context(true)
    }

    /// A context over the state, created first when `create` (see [`Context::new`]).
    fn context(&self, create: bool) -> Result<Context, EngineError> {
        let mut ctx = Context::new(
            self.graph.clone(),
            self.source.clone(),
            &self.client,
            &self.state,
            create,
        )?;
        ctx.set_options(self.options.clone());
        Ok(ctx)
    }
}
