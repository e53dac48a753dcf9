//! What `plan`, `apply` and `demo` share: loading the plan into a graph, the state folder, and
//! a client pointed at the plan's regions.

use std::path::{Path, PathBuf};

use crate::api::Region;
use crate::client::{AppClient, AppConfig, NylasClient};
use crate::engine::RunOptions;
use crate::graph::{Kind, PairTarget, StepGraph, StepId, StepKind};
use crate::plan::{self, Plan};
use crate::secrets::SecretSource;
use crate::state::journal::{JOURNAL_FILE, Journal, PostgresTarget, StateLocation};

use super::error::{CliError, CommandError};

/// The arguments every command that works on a plan's state takes.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The plan file.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Where the plan's state (journal and lock) lives: a folder (default `.nylas-migrate/`
    /// beside the plan), or a PostgreSQL database, `postgres://USER@HOST[:PORT]/DB`, whose
    /// password comes only from PGPASSWORD. Overrides the plan's `state`.
    #[arg(long, value_name = "DIR|URL")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub trust: super::trust::TrustArgs,
}

impl PlanArgs {
    /// The plan's state: `--state`, else the plan's `state` (its URL read from its secret
    /// reference, its host checked against the run's opt-ins), else the folder beside the plan.
    pub fn state(&self, plan: &Plan) -> Result<StateLocation, CliError> {
        Ok(StateLocation::resolve(
            self.state.as_deref(),
            plan.state.as_ref(),
            state_dir(&self.plan, None),
            &self.secret_source(),
            &super::trust(),
        )?)
    }

    /// A local state folder, for what stays on this machine whatever the plan's state
    /// (translate's checkpoints): `--state DIR`, else the folder beside the plan.
    pub fn local_state_dir(&self) -> PathBuf {
        match &self.state {
            Some(flag) if !flag.to_str().is_some_and(PostgresTarget::is_url) => flag.clone(),
            _ => state_dir(&self.plan, None),
        }
    }

    pub fn plan_dir(&self) -> PathBuf {
        plan_dir(&self.plan)
    }

    /// Where this plan's secrets are read from: the environment, and files in the plan's folder
    /// or a folder the run allows.
    pub fn secret_source(&self) -> SecretSource {
        SecretSource::new(self.plan_dir()).allowing(super::trust().secret_dirs)
    }
}

/// Explicit requests beyond the plan, shared by `plan` (to preview them) and `apply`.
#[derive(Debug, Default, clap::Args)]
pub struct RerunArgs {
    /// Start a finished wave again (completed, partial or failed), over the accounts that match
    /// it now; its earlier jobs stay in the history. Repeatable.
    #[arg(long, value_name = "PAIR/WAVE", value_parser = pair_slash_name)]
    pub rerun_wave: Vec<String>,
    /// Clone a test account again although Nylas refused it (it is otherwise retried only when
    /// the plan changes its placeholders or a connector is written again). Repeatable.
    #[arg(long, value_name = "PAIR/ACCOUNT", value_parser = pair_slash_name)]
    pub rerun_clone: Vec<String>,
    /// Send a pair's link again although Nylas refused it (after fixing the cause in the
    /// dashboard). Repeatable.
    #[arg(long, value_name = "PAIR")]
    pub rerun_link: Vec<String>,
    /// Record the migration jobs this state does not know (a lost or different state folder)
    /// as this plan's history, then start waves anyway.
    #[arg(long)]
    pub adopt_existing_jobs: bool,
}

impl RerunArgs {
    /// The options, each step checked against the plan.
    pub fn options(&self, graph: &StepGraph) -> Result<RunOptions, CliError> {
        let mut options = RunOptions {
            adopt_existing_jobs: self.adopt_existing_jobs,
            ..RunOptions::default()
        };
        for value in &self.rerun_wave {
            options
                .rerun_waves
                .push(step_named(graph, "rerun-wave", value, Kind::Batch)?);
        }
        for value in &self.rerun_clone {
            options
                .rerun_clones
                .push(step_named(graph, "rerun-clone", value, Kind::Clone)?);
        }
        for value in &self.rerun_link {
            options
                .rerun_links
                .push(step_named(graph, "rerun-link", value, Kind::Link)?);
        }
        Ok(options)
    }
}

/// A `PAIR/NAME` flag value. Its form is checked here, by clap (a usage error); its names
/// against the plan, by [`step_named`].
pub fn pair_slash_name(value: &str) -> Result<String, String> {
    match value.split_once('/') {
        Some((pair, name)) if !pair.is_empty() && !name.is_empty() => Ok(value.to_owned()),
        _ => Err("expected PAIR/NAME, e.g. `acme-prod/google`".to_owned()),
    }
}

/// The step of `kind` a rerun flag's value names: `PAIR` for a link, `PAIR/NAME` otherwise.
fn step_named(
    graph: &StepGraph,
    flag: &'static str,
    value: &str,
    kind: Kind,
) -> Result<StepId, CommandError> {
    let id = match value.split_once('/') {
        Some((pair, subject)) if kind != Kind::Link => StepId::new(pair, kind, Some(subject)),
        _ => StepId::new(value, kind, None),
    };
    if graph.get(&id).is_some() {
        return Ok(id);
    }
    let known: Vec<String> = graph
        .steps()
        .filter(|s| s.kind.kind() == kind)
        .map(|s| match &s.kind {
            StepKind::Link => graph.pair_of(s).name.clone(),
            _ => format!(
                "{}/{}",
                graph.pair_of(s).name,
                s.kind.subject().unwrap_or_default()
            ),
        })
        .take(10)
        .collect();
    Err(CommandError::NoSuchStep {
        flag,
        value: value.to_owned(),
        what: match kind {
            Kind::Batch => "wave",
            Kind::Clone => "test account",
            _ => "pair",
        },
        kind: kind.as_str(),
        known,
    })
}

/// `--pair NAME`: the pairs a run is limited to.
#[derive(Debug, Default, clap::Args)]
pub struct PairArgs {
    /// Limit the run to this pair (repeatable): the other pairs are neither read nor written.
    /// A pair whose `after` pairs are not done is blocked, never run out of order.
    #[arg(long = "pair", value_name = "NAME")]
    pub pairs: Vec<String>,
}

impl PairArgs {
    /// The pairs named, each checked against the plan, in the plan's order, once each.
    pub fn checked(&self, graph: &StepGraph) -> Result<Vec<String>, CommandError> {
        check_pairs(graph, &self.pairs)?;
        Ok(graph
            .pairs()
            .iter()
            .filter(|p| self.pairs.contains(&p.name))
            .map(|p| p.name.clone())
            .collect())
    }
}

/// Says that a run is limited to some pairs (`--pair`), when it is: a `partial` event with
/// `--output json`, else a note line (on stdout for a preview or a status, which are read as a
/// whole; on stderr for `apply` and `report`).
pub fn print_partial(graph: &StepGraph, pairs: &[String], output: super::Output, on_stdout: bool) {
    if pairs.is_empty() {
        return;
    }
    let others: Vec<&str> = graph
        .pairs()
        .iter()
        .map(|p| p.name.as_str())
        .filter(|p| !pairs.iter().any(|t| t == p))
        .collect();
    let message = format!(
        "partial run (--pair): only {}; not read or written: {}",
        pairs.join(", "),
        if others.is_empty() {
            "none".to_owned()
        } else {
            others.join(", ")
        }
    );
    match output {
        super::Output::Json => {
            super::render::json::print(&crate::events::Event::Partial(crate::events::Partial {
                pairs: pairs.to_vec(),
                not_targeted: others.iter().map(|p| p.to_string()).collect(),
                message,
            }))
        }
        super::Output::Human if on_stdout => {
            super::output::outln!("! note: {}", crate::untrusted::esc(&message))
        }
        super::Output::Human => errln!("note: {}", crate::untrusted::esc(&message)),
    }
}

/// Checks that every `--pair` names a pair of the plan.
pub fn check_pairs(graph: &StepGraph, pairs: &[String]) -> Result<(), CommandError> {
    let known: Vec<&str> = graph.pairs().iter().map(|p| p.name.as_str()).collect();
    match pairs.iter().find(|p| !known.contains(&p.as_str())) {
        Some(unknown) => Err(CommandError::NoSuchPair {
            value: unknown.clone(),
            known: known.iter().map(|k| (*k).to_owned()).collect(),
        }),
        None => Ok(()),
    }
}

/// The state folder: `--state`, or `.nylas-migrate/` beside the plan.
pub fn state_dir(plan_path: &Path, state: Option<&Path>) -> PathBuf {
    match state {
        Some(dir) => dir.to_path_buf(),
        None => plan_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(".nylas-migrate"),
    }
}

/// The folder secret files are relative to.
pub fn plan_dir(plan_path: &Path) -> PathBuf {
    plan_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Loads and validates a plan and builds its graph.
pub fn load(path: &Path) -> Result<(Plan, StepGraph), CliError> {
    let (plan, graph, _) = load_with_bytes(path)?;
    Ok((plan, graph))
}

/// Loads a plan as [`load`] does, and returns the bytes it was loaded from (what a saved
/// plan's digest covers).
pub fn load_with_bytes(path: &Path) -> Result<(Plan, StepGraph, Vec<u8>), CliError> {
    let (name, bytes) = plan::read_file(path)?;
    let plan = plan::load_bytes_with(path, &name, &bytes, &super::trust())?.plan;
    let graph = StepGraph::build(&plan)?;
    Ok((plan, graph, bytes))
}

/// Whether the state folder exists: absent (`false`), a folder (`true`), or an error when it
/// is something else or cannot be looked at.
fn state_exists(state_dir: &Path) -> Result<bool, CommandError> {
    match std::fs::metadata(state_dir) {
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(_) => Err(CommandError::StateNotAFolder {
            path: state_dir.display().to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(CommandError::StateFolder {
            what: "read",
            path: state_dir.display().to_string(),
            cause: source,
        }),
    }
}

/// Checks that a state folder is a folder or absent, before anything is observed (a database
/// is checked when it is opened).
pub fn check_state(state: &StateLocation) -> Result<(), CommandError> {
    match state.folder() {
        Some(dir) => state_exists(dir).map(|_| ()),
        None => Ok(()),
    }
}

/// Creates a state folder (private, 0700) if it is absent.
pub fn create_state(state: &StateLocation) -> Result<(), CommandError> {
    check_state(state)?;
    let Some(state_dir) = state.folder() else {
        return Ok(());
    };
    crate::state::private::create_dir(state_dir).map_err(|source| CommandError::StateFolder {
        what: "create",
        path: state_dir.display().to_string(),
        cause: source,
    })
}

/// The plan's journal at `state`, if anything was ever applied there. Opening never creates
/// one.
pub fn existing_journal(state: &StateLocation, plan: &Plan) -> Result<Option<Journal>, CliError> {
    let Some(state_dir) = state.folder() else {
        return Ok(Journal::existing(state, &plan.name)?);
    };
    if !state_exists(state_dir)? {
        return Ok(None);
    }
    match state_dir.join(JOURNAL_FILE).try_exists() {
        Ok(true) => Ok(Journal::existing(state, &plan.name)?),
        Ok(false) => Ok(None),
        Err(source) => Err(CommandError::StateFolder {
            what: "read",
            path: state_dir.display().to_string(),
            cause: source,
        }
        .into()),
    }
}

/// A client whose regions are the plan's (overrides applied).
pub fn client(plan: &Plan) -> Result<NylasClient, CliError> {
    let mut builder = NylasClient::builder()
        .ca_file_from_env()
        .retry_policy(crate::client::RetryPolicy::from_env()?);
    for region in Region::ALL {
        if let Some(settings) = plan.regions.get(region) {
            builder = builder
                .region_url(region, &settings.api_url)
                .map_err(crate::client::ClientError::from)?;
        }
    }
    Ok(builder.loopback_rate_from_env()?.build()?)
}

/// A client for the v3 application of each of the graph's pairs that `wanted` keeps (by
/// position in the graph), each with its key resolved. Every missing key is reported at once.
pub fn app_clients(
    graph: &StepGraph,
    client: &NylasClient,
    source: &SecretSource,
    wanted: impl Fn(&PairTarget) -> bool,
) -> Result<Vec<(usize, AppClient)>, crate::engine::EngineError> {
    let mut apps = Vec::new();
    let mut missing = Vec::new();
    for (index, pair) in graph.pairs().iter().enumerate() {
        if !wanted(pair) {
            continue;
        }
        match source.resolve(&pair.v3_api_key, "v3 API key", &pair.name) {
            Ok(api_key) => apps.push((
                index,
                client.app(AppConfig {
                    region: pair.region,
                    app_id: pair.v3_app_id.clone(),
                    api_key,
                    rate_limit: Some(pair.rate_limit),
                    key_source: format!("{} (pair {})", pair.v3_api_key, pair.name),
                }),
            )),
            Err(e) => missing.push(e),
        }
    }
    if missing.is_empty() {
        Ok(apps)
    } else {
        Err(crate::engine::EngineError::Secrets(missing))
    }
}

/// Checks an output path (`--out`, `--errors`) before anything is written: not the plan, not a
/// saved plan (unless `saved_plan_replaceable`, `plan --out`), not inside the state folder, not
/// a symbolic link. See `output_file`.
pub fn check_output(
    flag: &'static str,
    path: &Path,
    target: &PlanArgs,
    saved_plan_replaceable: bool,
) -> Result<(), CommandError> {
    let protected = crate::output_file::Protected {
        plan: Some(target.plan.clone()),
        state_dir: Some(target.local_state_dir()),
        saved_plan_replaceable,
    };
    crate::output_file::check(path, &protected).map_err(|why| CommandError::OutputRefused {
        flag,
        path: path.display().to_string(),
        why,
    })
}

/// Writes a checked output whole or not at all (a private temporary file renamed over it).
pub fn write_output(path: &Path, contents: &[u8]) -> Result<(), CommandError> {
    crate::output_file::write_whole(path, contents).map_err(|cause| CommandError::Write {
        path: path.display().to_string(),
        cause,
    })
}
