//! The command-line interface: one file per command, each a thin layer over the library.

mod apply;
mod completions;
mod demo;
mod diagnostics;
mod graph;
mod manual_steps;
mod plan;
mod report;
mod schema;
mod setup;
mod simulate;
mod status;
mod translate;
mod validate;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: success (for `validate`: every plan is valid).
pub const EXIT_OK: u8 = 0;
/// Exit code: the input is invalid or the command failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line itself is wrong (unknown flag, missing argument).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of `plan --detailed-exitcode` when changes are pending.
pub const EXIT_CHANGES: u8 = 2;

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `-q` was given.
fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Logs go to stderr: warnings by default, `-v` one line per API request, `-vv` everything.
/// `NYLAS_MIGRATE_LOG` (an `EnvFilter` directive) overrides.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "warn,nylas_migrate=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("NYLAS_MIGRATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .with_target(false)
        .try_init();
}

/// The async runtime the networked commands run on.
fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        // Without threads or timers there is nothing this program can do.
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            std::process::exit(i32::from(EXIT_FAILURE));
        }
    }
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success: plans valid; plan: nothing to do; apply: everything done
  1  invalid plan, conflict, a failed or skipped step, or another error (on stderr);
     apply, status: also while a recorded failed wave or refused account stands
  2  usage error (unknown command, flag or argument); plan --detailed-exitcode: changes pending";

/// Move Nylas v2 applications and their connected accounts to Nylas v3, from a YAML plan.
#[derive(Debug, Parser)]
#[command(name = "nylas-migrate", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Output format: `human` for people, `json` for pipelines (JSON lines on stdout).
    #[arg(long, global = true, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// More detail on stderr: -v logs every API request (never a secret), -vv more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less on stderr: no progress lines or bars, only errors and the summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
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
    /// Preview what `apply` would do: observe the live state read-only, step by step.
    #[command(after_help = EXIT_CODES)]
    Plan(plan::Args),
    /// Converge the live state on the plan: parallel, rate-limited, journaled, resumable.
    #[command(after_help = EXIT_CODES)]
    Apply(apply::Args),
    /// Where the migration stands: per pair and step, the journal and the live jobs.
    #[command(after_help = EXIT_CODES)]
    Status(status::Args),
    /// Accounts migrated, placeholder grants and failures, as CSV or JSON, for every pair.
    #[command(after_help = EXIT_CODES)]
    Report(report::Args),
    /// v2 object IDs to v3 provider IDs for every migrated account, streamed to CSV or JSON
    /// lines: paced, concurrent, resumable.
    #[command(after_help = EXIT_CODES)]
    Translate(translate::Args),
    /// A checklist per pair with evidence: linked and in region, connectors, webhooks, test
    /// accounts, waves finished with counts that add up. Exit 0 only when every item passes.
    #[command(after_help = EXIT_CODES)]
    Verify(verify::Args),
    /// Run the local Nylas v3 simulator (both regions) until Ctrl-C.
    Simulate(simulate::Args),
    /// Start the simulator in-process and apply the bundled example plan to it.
    #[command(after_help = EXIT_CODES)]
    Demo(demo::Args),
    /// Print shell completions (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionArgs),
    /// Print the man page (roff), e.g. `nylas-migrate man > nylas-migrate.1`.
    Man(completions::ManArgs),
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
    init_logging(cli.verbose);
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let code = match cli.command {
        Command::Validate(args) => validate::run(args, cli.output),
        Command::Schema(args) => schema::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Plan(args) => plan::run(args, cli.output),
        Command::Apply(args) => apply::run(args, cli.output),
        Command::Demo(args) => demo::run(args, cli.output),
        Command::Status(args) => status::run(args, cli.output),
        Command::Report(args) => report::run(args),
        Command::Translate(args) => translate::run(args, cli.output),
        Command::Verify(args) => verify::run(args, cli.output),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    };
    ExitCode::from(code)
}
