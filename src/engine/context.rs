//! What the engine works with for one plan: its graph, a client per pair, the resolved
//! secrets, the journal and the fingerprint key.

use std::sync::Arc;

use crate::client::{AppClient, AppConfig, NylasClient};
use crate::graph::{PairTarget, Step, StepGraph, StepId};

use super::EngineError;
use crate::secrets::{PairSecrets, SecretSource, resolve_all};
use crate::state::fingerprint::Fingerprinter;
use crate::state::journal::{Journal, StateLocation, StepStatus};

/// How many pairs are observed at once where pairs are read side by side (the history check,
/// `status`, `verify`, `report`): each pair's reads are paced by its own application's limiter,
/// so this bounds only the sockets and the pages held at once. The history check is on every
/// pair's path before its first step, and the pairs it reads past this bound wait for the
/// first ones to end (64 held 100 pairs' first steps back by a round trip to Nylas): 128 reads
/// the issue's 100 pairs in one go.
pub const PAIRS_AT_ONCE: usize = 128;

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
    /// The pairs this run is limited to (`--pair NAME`, by name); empty: every pair. Steps of
    /// the other pairs are neither observed nor written.
    pub pairs: Vec<String>,
    /// The plan file as the command line gave it, for the commands messages quote (`None`:
    /// they say `PLAN`).
    pub plan_file: Option<String>,
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

    /// Whether the run includes the pair named `name` (every pair without `--pair`).
    pub fn targets(&self, name: &str) -> bool {
        self.pairs.is_empty() || self.pairs.iter().any(|p| p == name)
    }

    /// Whether the run is limited to some pairs (`--pair`).
    pub fn partial(&self) -> bool {
        !self.pairs.is_empty()
    }

    /// The exact `apply` command of this run (its plan file and `--pair` targets) with `flag`
    /// added: what a message tells the user to run next.
    pub fn apply_command(&self, flag: &str) -> String {
        let mut words = vec![
            "nylas-migrate".to_owned(),
            "apply".to_owned(),
            shell_word(self.plan_file.as_deref().unwrap_or("PLAN")),
        ];
        for pair in &self.pairs {
            words.push("--pair".into());
            words.push(shell_word(pair));
        }
        words.push(flag.to_owned());
        words.join(" ")
    }
}

/// `word` as a POSIX shell reads it back: as it is when it holds only safe characters, else in
/// single quotes.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

impl Context {
    /// Resolves every secret (reporting all missing ones at once) and builds one client per
    /// pair. `create_state` opens the plan's journal at `state`, creating it (apply: a state
    /// folder is created private first);
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
            Some(Journal::open_at(state, graph.plan_name())?)
        } else {
            Journal::existing(state, graph.plan_name())?
        };
        if let Some(journal) = &journal {
            journal.check_values()?;
        }
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

    /// From now on every journal write proves that this runner holds `lock` (see
    /// [`Journal::set_fence`]); `apply` under the CLI always runs so. Call before the context
    /// is shared.
    pub fn fence_journal(&mut self, lock: &crate::state::StateLock) -> Result<(), EngineError> {
        let journal = self
            .journal
            .as_mut()
            .and_then(Arc::get_mut)
            .ok_or_else(|| {
                EngineError::Internal("the journal to fence is missing or already shared".into())
            })?;
        journal.set_fence(lock.fence());
        Ok(())
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

    /// Whether the run includes the pair at `index` in [`StepGraph::pairs`] (`--pair`).
    pub fn targets_pair(&self, index: usize) -> bool {
        self.graph
            .pairs()
            .get(index)
            .is_some_and(|p| self.options.targets(&p.name))
    }

    /// For a step of a pair the run does not target (`--pair`), which targeted steps wait on:
    /// `None` when the journal records it done (or ended in a recorded failure that lets what
    /// follows run, as a run of every pair would go on), else why the steps after it cannot run.
    /// It is never observed or written by this run.
    pub(super) fn untargeted_pending(&self, step: &Step) -> Result<Option<String>, EngineError> {
        let state = match self.journal() {
            Some(journal) => journal.step(&step.id)?,
            None => None,
        };
        let done = state.as_ref().is_some_and(|s| {
            s.status == StepStatus::Done
                || (s.status == StepStatus::Failed
                    && (s.record.refused || super::finished_wave(s).is_some()))
        });
        if done {
            return Ok(None);
        }
        let pair = &self.pair(step).name;
        Ok(Some(format!(
            "waits for pair {pair}, which this run does not target (--pair) and which is not done ({} is {}): apply it first with `--pair {pair}`, or target it too",
            step.id,
            state.map_or("not recorded", |s| s.status.as_str()),
        )))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apply_command_a_message_quotes_reads_back_in_a_shell() {
        let options = |plan: Option<&str>, pairs: &[&str]| RunOptions {
            plan_file: plan.map(str::to_owned),
            pairs: pairs.iter().map(|p| p.to_string()).collect(),
            ..RunOptions::default()
        };
        for (options, expected) in [
            (
                options(Some("plans/prod.yaml"), &[]),
                "nylas-migrate apply plans/prod.yaml --adopt-existing-jobs",
            ),
            (
                options(Some("my plan's.yaml"), &["acme-eu"]),
                r#"nylas-migrate apply 'my plan'\''s.yaml' --pair acme-eu --adopt-existing-jobs"#,
            ),
            (
                options(None, &[]),
                "nylas-migrate apply PLAN --adopt-existing-jobs",
            ),
        ] {
            assert_eq!(options.apply_command("--adopt-existing-jobs"), expected);
        }
    }
}
