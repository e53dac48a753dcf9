//! `nylas-migrate validate PLAN...`: check plans without network or secrets.

use super::output::outln;
use std::path::PathBuf;

use super::render::json;
use super::{CliError, Finished, Output};
use crate::events::{Diagnostic, Event, Validation};
use crate::graph::StepGraph;
use crate::plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files to check; every error of every file is reported (at most 500 a file, so a
    /// garbled file cannot flood a terminal).
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
    #[command(flatten)]
    pub trust: super::trust::TrustArgs,
}

/// Every plan checked; the invalid ones are an error (their diagnostics, shown by `main`), or
/// with `--output json` a `validation` event each (the output says it all).
pub fn run(args: Args, output: Output) -> Result<Finished, CliError> {
    let mut invalid_plans = Vec::new();
    for path in &args.plans {
        match plan::load_file_with(path, &super::trust()) {
            Ok(loaded) => {
                let steps = StepGraph::build(&loaded.plan).map(|g| g.len()).unwrap_or(0);
                let pairs = loaded.plan.pairs.len();
                match output {
                    Output::Human => outln!(
                        "ok: {} is valid: {pairs} pair{}, {steps} steps",
                        loaded.source.name,
                        if pairs == 1 { "" } else { "s" }
                    ),
                    Output::Json => json::print(&Event::Validation(Validation {
                        file: loaded.source.name.clone(),
                        valid: true,
                        pairs: Some(pairs),
                        steps: Some(steps),
                        diagnostics: Vec::new(),
                    })),
                }
            }
            Err(invalid) => match output {
                Output::Human => invalid_plans.push(invalid),
                Output::Json => {
                    let diagnostics = invalid
                        .diagnostics
                        .iter()
                        .map(|d| Diagnostic::of(&invalid.name, d))
                        .collect();
                    json::print(&Event::Validation(Validation {
                        file: invalid.name.clone(),
                        valid: false,
                        pairs: None,
                        steps: None,
                        diagnostics,
                    }));
                    invalid_plans.push(invalid);
                }
            },
        }
    }
    match output {
        _ if invalid_plans.is_empty() => Ok(Finished::Clean),
        Output::Human => Err(CliError::InvalidPlans(invalid_plans)),
        Output::Json => Ok(Finished::WithFailures),
    }
}
