//! `nylas-migrate graph PLAN`: the step graph as DOT or Mermaid.

use super::output::out;
use std::path::PathBuf;

use clap::ValueEnum;

use super::diagnostics::print_invalid;
use super::{EXIT_FAILURE, EXIT_OK};
use crate::graph::{StepGraph, to_dot, to_mermaid};
use crate::plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Graphviz DOT (`dot -Tsvg`) or a Mermaid flowchart (renders in GitHub Markdown).
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Dot,
    Mermaid,
}

pub fn run(args: Args) -> u8 {
    let loaded = match plan::load_file_with(&args.plan, &super::trust()) {
        Ok(loaded) => loaded,
        Err(invalid) => {
            print_invalid(&invalid);
            return EXIT_FAILURE;
        }
    };
    match StepGraph::build(&loaded.plan) {
        Ok(graph) => {
            match args.format {
                Format::Dot => out!("{}", to_dot(&graph)),
                Format::Mermaid => out!("{}", to_mermaid(&graph)),
            }
            EXIT_OK
        }
        Err(err) => {
            super::setup::report(err);
            EXIT_FAILURE
        }
    }
}
