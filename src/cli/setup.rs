//! What `plan`, `apply` and `demo` share: loading the plan into a graph, the state folder, and
//! a client pointed at the plan's regions.

use std::path::{Path, PathBuf};

use crate::api::Region;
use crate::client::NylasClient;
use crate::graph::StepGraph;
use crate::plan::{self, Plan};

use super::diagnostics::print_invalid;

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

/// Loads and validates a plan, printing its diagnostics when it is invalid.
pub fn load(path: &Path) -> Option<Plan> {
    match plan::load_file(path) {
        Ok(loaded) => Some(loaded.plan),
        Err(invalid) => {
            print_invalid(&invalid);
            None
        }
    }
}

pub fn graph(plan: &Plan) -> Option<StepGraph> {
    match StepGraph::build(plan) {
        Ok(graph) => Some(graph),
        Err(err) => {
            eprintln!("{:?}", miette::Report::new(err));
            None
        }
    }
}

/// A client whose regions are the plan's (overrides applied).
pub fn client(plan: &Plan) -> Result<NylasClient, miette::Report> {
    let mut builder = NylasClient::builder();
    for region in Region::ALL {
        if let Some(settings) = plan.regions.get(region) {
            builder = builder
                .region_url(region, &settings.api_url)
                .map_err(miette::Report::new)?;
        }
    }
    builder.build().map_err(miette::Report::new)
}

/// Prints a diagnostic the way every command prints its failures.
pub fn report(err: impl Into<miette::Report>) {
    eprintln!("{:?}", err.into());
}
