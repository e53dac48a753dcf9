//! What the engine works with for one plan: its graph, a client per pair, the resolved
//! secrets, the journal and the fingerprint key.

use std::sync::Arc;

use crate::client::{AppClient, AppConfig, NylasClient};
use crate::graph::{PairTarget, Step, StepGraph, StepId};

use super::EngineError;
use super::fingerprint::Fingerprinter;
use super::journal::{Journal, StateLocation};
use super::secrets::{PairSecrets, SecretSource, resolve_all};

/// Everything a walk of the graph needs; shared by every step task. Outside the engine it is
/// read through its methods.
#[derive(Debug)]
pub struct Context {
    graph: StepGraph,
    /// The shared client (connection pool, rate limiters), for calls outside a pair's region.
    client: NylasClient,
    apps: Vec<AppClient>,
    secrets: Vec<PairSecrets>,
    source: SecretSource,
    /// `None` for a preview of a plan that has never been applied (no journal yet).
    journal: Option<Arc<Journal>>,
    fingerprinter: Option<Fingerprinter>,
    /// Where the plan's state lives (a folder, or PostgreSQL).
    state: StateLocation,
    /// What the user asked for beyond the plan (reruns, adopting jobs).
    options: RunOptions,
}

/// Explicit requests beyond the plan, given on the command line of `plan` and `apply`, so that
/// the preview shows what `apply` will do with them. Each names steps of the plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    /// Waves to start again although they finished (`--rerun-wave PAIR/WAVE`).
    pub rerun_waves: Vec<StepId>,
    /// Test accounts to clone again although Nylas refused them (`--rerun-clone PAIR/ACCOUNT`).
    pub rerun_clones: Vec<StepId>,
    /// Links to send again although Nylas refused them (`--rerun-link PAIR`).
    pub rerun_links: Vec<StepId>,
    /// Record migration jobs this state does not know as history, then start waves anyway
    /// (`--adopt-existing-jobs`).
    pub adopt_existing_jobs: bool,
}

impl RunOptions {
    /// Whether the user asked to run `step` again despite its recorded outcome.
    pub fn rerun(&self, step: &StepId) -> bool {
        self.rerun_waves
            .iter()
            .chain(&self.rerun_clones)
            .chain(&self.rerun_links)
            .any(|s| s == step)
    }
}

impl Context {
    /// Resolves every secret (reporting all missing ones at once) and builds one client per
    /// pair. `create_state` opens the plan's journal at `state`, creating it (apply);
    /// otherwise an absent one is left absent (plan).
    pub fn new(
        graph: StepGraph,
        source: SecretSource,
        client: &NylasClient,
        state: &StateLocation,
        create_state: bool,
    ) -> Result<Context, EngineError> {
        let secrets = resolve_all(&graph, &source).map_err(EngineError::Secrets)?;
        let apps = graph
            .pairs()
            .iter()
            .zip(&secrets)
            .map(|(pair, secrets)| client.app(app_config(pair, secrets)))
            .collect();
        let journal = if create_state {
            if let StateLocation::Folder(dir) = state {
                super::private::create_dir(dir).map_err(|source| EngineError::State {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            Some(Journal::open_at(state, graph.plan_name())?)
        } else {
            Journal::existing(state, graph.plan_name())?
        };
        let fingerprinter = match &journal {
            Some(journal) => Some(journal.fingerprinter()?),
            None => None,
        };
        Ok(Context {
            graph,
            client: client.clone(),
            apps,
            secrets,
            source,
            journal: journal.map(Arc::new),
            fingerprinter,
            state: state.clone(),
            options: RunOptions::default(),
        })
    }

    /// What the user asked for beyond the plan, for the runs made with this context.
    pub fn set_options(&mut self, options: RunOptions) {
        self.options = options;
    }

    pub fn graph(&self) -> &StepGraph {
        &self.graph
    }

    /// The state folder's journal; `None` when the folder has none (a preview before the
    /// first apply).
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_deref()
    }

    /// The client of a pair's v3 application, by the pair's index in [`StepGraph::pairs`].
    pub fn pair_app(&self, pair: usize) -> &AppClient {
        &self.apps[pair]
    }

    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// Where the plan's state lives.
    pub fn state(&self) -> &StateLocation {
        &self.state
    }

    /// The shared client (connection pool, rate limiters), for calls outside a pair's region.
    pub(super) fn client(&self) -> &NylasClient {
        &self.client
    }

    /// A pair's resolved secrets, by its index in [`StepGraph::pairs`].
    pub(super) fn secrets(&self, pair: usize) -> &PairSecrets {
        &self.secrets[pair]
    }

    pub(super) fn source(&self) -> &SecretSource {
        &self.source
    }

    /// The key that fingerprints secrets; `None` without a state folder.
    pub(super) fn fingerprinter(&self) -> Option<&Fingerprinter> {
        self.fingerprinter.as_ref()
    }

    /// The client of the step's v3 application.
    pub fn app(&self, step: &Step) -> &AppClient {
        &self.apps[step.pair]
    }

    pub fn pair(&self, step: &Step) -> &PairTarget {
        self.graph.pair_of(step)
    }
}

pub(super) fn app_config(pair: &PairTarget, secrets: &PairSecrets) -> AppConfig {
    AppConfig {
        region: pair.region,
        app_id: pair.v3_app_id.clone(),
        api_key: secrets.v3_api_key.clone(),
        rate_limit: Some(pair.rate_limit),
        key_source: format!("{} (pair {})", pair.v3_api_key, pair.name),
    }
}
