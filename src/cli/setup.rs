//! What `plan`, `apply` and `demo` share: loading the plan into a graph, the state folder, and
//! a client pointed at the plan's regions.

use std::path::{Path, PathBuf};

use crate::api::Region;
use crate::client::{AppClient, AppConfig, NylasClient};
use crate::engine::journal::{Journal, JournalError, PostgresTarget, StateLocation};
use crate::engine::{RunOptions, SecretSource};
use crate::graph::{PairTarget, StepGraph, StepId, StepKind};
use crate::plan::{self, Plan};

use super::diagnostics::print_invalid;

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
}

impl PlanArgs {
    /// The plan's state: `--state`, else the plan's `state` (its URL read from its secret
    /// reference, its host checked against the run's opt-ins), else the folder beside the plan.
    pub fn state(&self, plan: &Plan) -> Result<StateLocation, miette::Report> {
        StateLocation::resolve(
            self.state.as_deref(),
            plan.state.as_ref(),
            state_dir(&self.plan, None),
            &self.secret_source(),
            &super::trust(),
        )
        .map_err(miette::Report::new)
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
    #[arg(long, value_name = "PAIR/WAVE")]
    pub rerun_wave: Vec<String>,
    /// Clone a test account again although Nylas refused it (it is otherwise retried only when
    /// the plan changes its placeholders or a connector is written again). Repeatable.
    #[arg(long, value_name = "PAIR/ACCOUNT")]
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
    pub fn options(&self, graph: &StepGraph) -> Result<RunOptions, miette::Report> {
        let find = |flag: &str, value: &str, kind: &str| -> Result<StepId, miette::Report> {
            let id = match value.split_once('/') {
                Some((pair, subject)) if kind != "link" => StepId::new(pair, kind, Some(subject)),
                None if kind == "link" => StepId::new(value, kind, None),
                _ => {
                    return Err(miette::miette!(
                        help = if kind == "link" {
                            "name the pair, e.g. `acme-prod`"
                        } else {
                            "write PAIR/NAME, e.g. `acme-prod/google`"
                        },
                        "--{flag} {value}: expected {}",
                        if kind == "link" {
                            "a pair name"
                        } else {
                            "PAIR/NAME"
                        }
                    ));
                }
            };
            if graph.get(&id).is_some() {
                return Ok(id);
            }
            let known: Vec<String> = graph
                .steps()
                .filter(|s| s.kind.name() == kind)
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
            Err(miette::miette!(
                help = if known.is_empty() {
                    format!("the plan has no {kind} step")
                } else {
                    format!("the plan's: {}", known.join(", "))
                },
                "--{flag} {value}: the plan has no such {}",
                match kind {
                    "batch" => "wave",
                    "clone" => "test account",
                    _ => "pair",
                }
            ))
        };
        let mut options = RunOptions {
            adopt_existing_jobs: self.adopt_existing_jobs,
            ..RunOptions::default()
        };
        for value in &self.rerun_wave {
            options
                .rerun_waves
                .push(find("rerun-wave", value, "batch")?);
        }
        for value in &self.rerun_clone {
            options
                .rerun_clones
                .push(find("rerun-clone", value, "clone")?);
        }
        for value in &self.rerun_link {
            options.rerun_links.push(find("rerun-link", value, "link")?);
        }
        Ok(options)
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

/// Loads and validates a plan and builds its graph, printing what is wrong when it cannot.
pub fn load(path: &Path) -> Option<(Plan, StepGraph)> {
    let plan = match plan::load_file_with(path, &super::trust()) {
        Ok(loaded) => loaded.plan,
        Err(invalid) => {
            print_invalid(&invalid);
            return None;
        }
    };
    match StepGraph::build(&plan) {
        Ok(graph) => Some((plan, graph)),
        Err(err) => {
            report(err);
            None
        }
    }
}

/// The plan's journal at `state`, if anything was ever applied there. Opening never creates
/// one.
pub fn existing_journal(
    state: &StateLocation,
    plan: &Plan,
) -> Result<Option<Journal>, JournalError> {
    Journal::existing(state, &plan.name)
}

/// A client whose regions are the plan's (overrides applied).
pub fn client(plan: &Plan) -> Result<NylasClient, miette::Report> {
    let mut builder = NylasClient::builder().ca_file_from_env();
    for region in Region::ALL {
        if let Some(settings) = plan.regions.get(region) {
            builder = builder
                .region_url(region, &settings.api_url)
                .map_err(miette::Report::new)?;
        }
    }
    builder.build().map_err(miette::Report::new)
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

/// Prints a diagnostic the way every command prints its failures, escaped: errors quote the
/// API, the journal and files.
pub fn report(err: impl Into<miette::Report>) {
    let report: miette::Report = err.into();
    let shown = super::diagnostics::Shown::new(report.as_ref());
    eprintln!("{:?}", miette::Report::new(shown));
}
