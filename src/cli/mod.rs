//! The command-line interface: one file per command, each a thin layer over the library.

mod diagnostics;
mod graph;
mod schema;
mod simulate;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: success (for `validate`: every plan is valid).
pub const EXIT_OK: u8 = 0;
/// Exit code: the input is invalid or the command failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line itself is wrong (unknown flag, missing argument).
pub const EXIT_USAGE: u8 = 2;

const EXIT_CODES: &str = "\
Exit codes:
  0  success: every plan is valid, the command did what it says
  1  a plan is invalid, or the command failed (diagnostics on stderr)
  2  usage error: unknown command, flag or argument";

/// Move Nylas v2 applications and their connected accounts to Nylas v3, from a YAML plan.
#[derive(Debug, Parser)]
#[command(name = "nylas-migrate", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Output format: `human` for people, `json` for pipelines (JSON lines on stdout).
    #[arg(long, global = true, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plans: every error at once, each at its line and column. Needs no network and no
    /// secrets.
    #[command(after_help = EXIT_CODES)]
    Validate(validate::Args),
    /// Print the plan's JSON Schema (the same as schemas/plan.schema.json).
    Schema(schema::Args),
    /// Print a plan's step graph as Graphviz DOT or Mermaid.
    #[command(after_help = EXIT_CODES)]
    Graph(graph::Args),
    /// Run the local Nylas v3 simulator (both regions) until Ctrl-C.
    Simulate(simulate::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Validate(args) => validate::run(args, cli.output),
        Command::Schema(args) => schema::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Simulate(args) => simulate::run(args),
    };
    ExitCode::from(code)
}
