//! The command-line interface: one file per command, each a thin layer over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success (for `validate`: every plan is valid).
pub const EXIT_OK: u8 = 0;
/// Exit code: the input is invalid or the command failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line itself is wrong (unknown flag, missing argument).
pub const EXIT_USAGE: u8 = 2;

/// Move Nylas v2 applications and their connected accounts to Nylas v3, from a YAML plan.
#[derive(Debug, Parser)]
#[command(name = "nylas-migrate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {}

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
    match cli.command {}
}
