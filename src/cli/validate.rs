//! `nylas-migrate validate PLAN...`: check plans without network or secrets.

use super::output::outln;
use std::path::PathBuf;

use serde_json::json;

use super::diagnostics::{print_invalid, to_json};
use super::{EXIT_FAILURE, EXIT_OK, Output};
use crate::graph::StepGraph;
use crate::plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files to check; every error of every file is reported (at most 500 a file, so a
    /// garbled file cannot flood a terminal).
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
}

pub fn run(args: Args, output: Output) -> u8 {
    let mut failed = false;
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
                    Output::Json => outln!(
                        "{}",
                        json!({"v": 1, "event": "validation", "file": loaded.source.name, "valid": true, "pairs": pairs, "steps": steps, "diagnostics": []})
                    ),
                }
            }
            Err(invalid) => {
                failed = true;
                match output {
                    Output::Human => print_invalid(&invalid),
                    Output::Json => {
                        let diagnostics: Vec<_> = invalid
                            .diagnostics
                            .iter()
                            .map(|d| to_json(&invalid.name, d))
                            .collect();
                        outln!(
                            "{}",
                            json!({"v": 1, "event": "validation", "file": invalid.name, "valid": false, "diagnostics": diagnostics})
                        );
                    }
                }
            }
        }
    }
    if failed { EXIT_FAILURE } else { EXIT_OK }
}
