//! `nylas-migrate graph PLAN`: the step graph as DOT or Mermaid.

use super::output::out;
use std::path::PathBuf;

use clap::ValueEnum;

use super::{CliError, Finished, Output};
use crate::graph::{to_dot, to_mermaid};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Graphviz DOT (`dot -Tsvg`) or a Mermaid flowchart (renders in GitHub Markdown); with
    /// `--output json`, one `graph` event with the steps and edges instead.
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    pub format: Format,
    #[command(flatten)]
    pub trust: super::trust::TrustArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Dot,
    Mermaid,
}

pub fn run(args: Args, output: Output) -> Result<Finished, CliError> {
    let (_, graph) = super::setup::load(&args.plan)?;
    match (output, args.format) {
        (Output::Json, _) => super::render::json::print(&crate::events::Event::graph(&graph)),
        (Output::Human, Format::Dot) => out!("{}", to_dot(&graph)),
        (Output::Human, Format::Mermaid) => out!("{}", to_mermaid(&graph)),
    }
    Ok(Finished::Clean)
}
