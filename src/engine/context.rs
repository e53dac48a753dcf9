//! What the engine works with for one plan: its graph, a client per pair, the resolved
//! secrets, the journal and the fingerprint key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::client::{AppClient, AppConfig, NylasClient};
use crate::graph::{PairTarget, Step, StepGraph};

use super::EngineError;
use super::fingerprint::Fingerprinter;
use super::journal::Journal;
use super::secrets::{PairSecrets, SecretSource, resolve_all};

/// Everything a walk of the graph needs; shared by every step task.
#[derive(Debug)]
pub struct Context {
    pub graph: StepGraph,
    /// The shared client (connection pool, rate limiters), for calls outside a pair's region.
    pub client: NylasClient,
    pub apps: Vec<AppClient>,
    pub secrets: Vec<PairSecrets>,
    pub source: SecretSource,
    /// `None` for a preview of a plan that has never been applied (no state folder yet).
    pub journal: Option<Arc<Journal>>,
    pub fingerprinter: Option<Fingerprinter>,
    pub state_dir: PathBuf,
}

impl Context {
    /// Resolves every secret (reporting all missing ones at once) and builds one client per
    /// pair. `create_state` makes the state folder (apply); otherwise an absent one is left
    /// absent (plan).
    pub fn new(
        graph: StepGraph,
        source: SecretSource,
        client: &NylasClient,
        state_dir: &Path,
        create_state: bool,
    ) -> Result<Context, EngineError> {
        let secrets = resolve_all(&graph, &source).map_err(EngineError::Secrets)?;
        let apps = graph
            .pairs()
            .iter()
            .zip(&secrets)
            .map(|(pair, secrets)| client.app(app_config(pair, secrets)))
            .collect();
        if create_state {
            super::private::create_dir(state_dir).map_err(|source| EngineError::State {
                path: state_dir.display().to_string(),
                source,
            })?;
        }
        let has_state = state_dir.join(super::journal::JOURNAL_FILE).exists() || create_state;
        let journal = if has_state {
            Some(Arc::new(Journal::open(state_dir)?))
        } else {
            None
        };
        let fingerprinter = if has_state {
            Some(
                Fingerprinter::load_or_create(state_dir).map_err(|source| EngineError::State {
                    path: state_dir.display().to_string(),
                    source,
                })?,
            )
        } else {
            None
        };
        Ok(Context {
            graph,
            client: client.clone(),
            apps,
            secrets,
            source,
            journal,
            fingerprinter,
            state_dir: state_dir.to_path_buf(),
        })
    }

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
