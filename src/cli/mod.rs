//! The command-line interface: one file per command, each a thin layer over the library.

mod apply;
mod completions;
mod demo;
pub mod diagnostics;
mod error;
mod exit;
mod graph;
mod layout;
mod man;
mod manual_steps;
pub(crate) mod output;
mod plan;
mod render;
mod report;
mod schema;
mod setup;
mod simulate;
mod simulate_plan;
mod status;
mod translate;
mod trust;
mod validate;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub use error::{CliError, CommandError};
pub use exit::{ExitStatus, Finished, Signal};

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The run's opt-ins (`--allow-api-host`, `--allow-secret-dir`, `--allow-state-host`) of a
/// command that loads a plan, set once in [`main`].
static TRUST: std::sync::OnceLock<crate::plan::Trust> = std::sync::OnceLock::new();

/// What the runner of this command allows a plan to reach beyond the defaults.
fn trust() -> crate::plan::Trust {
    TRUST.get().cloned().unwrap_or_default()
}

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

/// Whether `NO_COLOR` asks for plain output (set and not empty, as no-color.org defines it).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether progress bars may be drawn: stderr is a terminal and `NO_COLOR` is not set (it asks
/// for plain text, and bars are drawn with the same escape sequences as colours).
fn progress_bars() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr()) && !no_color()
}

/// The async runtime the networked commands run on.
fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| CommandError::Runtime {
            what: "the async runtime",
            cause: source,
        })
}

/// The "Exit codes:" section of `--help`, written from [`ExitStatus::ALL`].
static EXIT_CODES: std::sync::LazyLock<String> = std::sync::LazyLock::new(exit::help_text);

/// Move Nylas v2 applications and their connected accounts to Nylas v3, from a YAML plan.
#[derive(Debug, Parser)]
#[command(name = "nylas-migrate", version, about, after_help = EXIT_CODES.as_str())]
pub struct Cli {
    /// Output format: `human` for people, `json` for pipelines (JSON lines on stdout),
    /// `markdown` for pull-request comments and job summaries (`plan`, `status`, `verify`).
    #[arg(long, global = true, value_enum, default_value_t = OutputFlag::Human)]
    pub output: OutputFlag,
    /// More detail on stderr: -v logs every API request (never a secret), -vv more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less on stderr: no progress lines or bars, only errors and the summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// `--output`: what the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFlag {
    Human,
    Json,
    Markdown,
}

impl OutputFlag {
    /// What every command speaks: markdown is rendered by the commands that support it from
    /// what they would print for people, so the rest of the command is its human path.
    pub fn output(self) -> Output {
        match self {
            OutputFlag::Json => Output::Json,
            OutputFlag::Human | OutputFlag::Markdown => Output::Human,
        }
    }
}

/// The output of a command: for people, or JSON lines for pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plans: every error at once, each at its line and column. Needs no network and no
    /// secrets.
    #[command(after_help = EXIT_CODES.as_str())]
    Validate(validate::Args),
    /// Print the plan's JSON Schema (the same as schemas/plan.schema.json), a saved plan's, or
    /// the `--output json` events' (docs/events.schema.json).
    Schema(schema::Args),
    /// Print a plan's step graph as Graphviz DOT or Mermaid.
    #[command(after_help = EXIT_CODES.as_str())]
    Graph(graph::Args),
    /// Preview what `apply` would do: observe the live state read-only, step by step.
    #[command(after_help = EXIT_CODES.as_str())]
    Plan(plan::Args),
    /// Converge the live state on the plan: parallel, rate-limited, journaled, resumable.
    #[command(after_help = EXIT_CODES.as_str())]
    Apply(apply::Args),
    /// Where the migration stands: per pair and step, the journal and the live jobs.
    #[command(after_help = EXIT_CODES.as_str())]
    Status(status::Args),
    /// Accounts migrated, placeholder grants and failures, as CSV or JSON, for every pair.
    #[command(after_help = EXIT_CODES.as_str())]
    Report(report::Args),
    /// v2 object IDs to v3 provider IDs for every migrated account, streamed to CSV or JSON
    /// lines: paced, concurrent, resumable.
    #[command(after_help = EXIT_CODES.as_str())]
    Translate(translate::Args),
    /// A checklist per pair with evidence: linked and in region, connectors, webhooks, test
    /// accounts, waves finished with counts that add up. Exit 0 only when every item passes.
    #[command(after_help = EXIT_CODES.as_str())]
    Verify(verify::Args),
    /// Run the local Nylas v3 simulator (both regions) until Ctrl-C.
    Simulate(simulate::Args),
    /// Start the simulator in-process and apply the bundled example plan to it.
    #[command(after_help = EXIT_CODES.as_str())]
    Demo(demo::Args),
    /// Print shell completions (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionArgs),
    /// Print the manual (roff): `nylas-migrate man > nylas-migrate.1`, or a page per command
    /// with `--dir DIR`.
    Man(man::ManArgs),
}

impl Command {
    /// The runner's opt-ins, for the commands that load a plan (the others take none).
    fn trust(&self) -> Option<&trust::TrustArgs> {
        Some(match self {
            Command::Validate(args) => &args.trust,
            Command::Graph(args) => &args.trust,
            Command::Plan(args) => &args.target.trust,
            Command::Apply(args) => &args.target.trust,
            Command::Status(args) => &args.target.trust,
            Command::Report(args) => &args.target.trust,
            Command::Translate(args) => &args.target.trust,
            Command::Verify(args) => &args.target.trust,
            Command::Schema(_)
            | Command::Simulate(_)
            | Command::Demo(_)
            | Command::Completions(_)
            | Command::Man(_) => return None,
        })
    }
}

/// For a command whose output is not events, why `--output json` is refused and what to use.
fn no_json_output(command: &Command) -> Option<CommandError> {
    let (why, instead) = match command {
        Command::Report(_) => (
            "report writes CSV or JSON documents",
            "use `report --format json` (without --output json)",
        ),
        Command::Completions(_) => ("it prints a shell script", "omit --output json"),
        Command::Man(_) => ("it prints a roff manual", "omit --output json"),
        _ => return None,
    };
    Some(CommandError::NoJsonOutput { why, instead })
}

/// Whether a command speaks markdown (`plan`, `status` and `verify` do).
fn has_markdown_output(command: &Command) -> bool {
    matches!(
        command,
        Command::Plan(_) | Command::Status(_) | Command::Verify(_)
    )
}

/// Runs the command line and returns the process exit code: the one place where errors are
/// shown and outcomes become exit statuses.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap's own errors (unknown flag, missing argument, bad value) are usage errors;
        // `--help` and `--version` come this way too, on stdout, and succeed.
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            }
            .into();
        }
    };
    let status = match run(cli) {
        Ok(finished) => finished.exit_status(),
        Err(err) => {
            show(&err);
            err.exit_status()
        }
    };
    status.into()
}

/// Sets up logging and the run's options, then runs the command.
fn run(cli: Cli) -> Result<Finished, CliError> {
    init_logging(cli.verbose);
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    if let Some(trust) = cli.command.trust() {
        let _ = TRUST.set(trust.trust());
    }
    if cli.output == OutputFlag::Json
        && let Some(refused) = no_json_output(&cli.command)
    {
        return Err(refused.into());
    }
    if cli.output == OutputFlag::Markdown && !has_markdown_output(&cli.command) {
        return Err(CommandError::NoMarkdownOutput.into());
    }
    let flag = cli.output;
    let output = flag.output();
    match cli.command {
        Command::Validate(args) => validate::run(args, output),
        Command::Schema(args) => schema::run(args, output),
        Command::Graph(args) => graph::run(args, output),
        Command::Simulate(args) => simulate::run(args),
        Command::Plan(args) => plan::run(args, flag),
        Command::Apply(args) => apply::run(args, output),
        Command::Demo(args) => demo::run(args, output),
        Command::Status(args) => status::run(args, flag),
        Command::Report(args) => report::run(args),
        Command::Translate(args) => translate::run(args, output),
        Command::Verify(args) => verify::run(args, flag),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => man::man(args),
    }
}

/// Shows an error on stderr, once: an invalid plan's diagnostics with their snippets, any
/// other error as a miette report with its code and help, every text it carries escaped
/// (errors quote the API, the journal and files). A closed stderr is not an error.
fn show(err: &CliError) {
    match err {
        CliError::InvalidPlans(plans) => {
            for invalid in plans {
                diagnostics::print_invalid(invalid);
            }
        }
        other => {
            let shown = miette::Report::new(diagnostics::Shown::new(other));
            let _ = writeln!(std::io::stderr().lock(), "{shown:?}");
        }
    }
}
