//! The one error type of the commands: every command returns `Result<Finished, CliError>`,
//! and `main` renders the error once (miette, escaped) and maps it to an exit status.

use miette::Diagnostic;

use super::exit::ExitStatus;
use crate::client::ClientError;
use crate::code::Code;
use crate::engine::EngineError;
use crate::graph::GraphError;
use crate::output_file::Refusal;
use crate::plan::InvalidPlan;
use crate::state::{JournalError, LockError};
use crate::translate::TranslateError;

/// Why a command stopped. Library errors keep their own diagnostics (code, help, related
/// errors); the command line's own are [`CommandError`].
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum CliError {
    /// Plans that do not validate: their diagnostics, each at its line and column.
    #[error("{} invalid plan{}", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    InvalidPlans(Vec<InvalidPlan>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Client(Box<ClientError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] crate::state::journal::StateError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Translate(#[from] TranslateError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] GraphError),
}

impl From<ClientError> for CliError {
    fn from(err: ClientError) -> Self {
        CliError::Client(Box::new(err))
    }
}

impl From<InvalidPlan> for CliError {
    fn from(invalid: InvalidPlan) -> Self {
        CliError::InvalidPlans(vec![invalid])
    }
}

/// A run that could not be opened fails as its cause does.
impl From<crate::run::RunError> for CliError {
    fn from(err: crate::run::RunError) -> Self {
        use crate::run::RunError;
        match err {
            RunError::Plan(invalid) => CliError::from(*invalid),
            RunError::Graph(e) => e.into(),
            RunError::Client(e) => e.into(),
            RunError::Engine(e) => e.into(),
            RunError::Lock(e) => e.into(),
        }
    }
}

impl CliError {
    /// The exit status: a usage error is 64, every other error 1.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CliError::Command(e) if e.is_usage() => ExitStatus::Usage,
            _ => ExitStatus::Error,
        }
    }
}

/// Errors of the command line itself: its flags checked against the plan and the machine,
/// its files and folders. Each has a code from [`Code`] and a help line.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// `--state` (or the default state folder) exists and is not a folder.
    #[error("state folder {path} is not a folder")]
    StateNotAFolder { path: String },
    /// The state folder cannot be created or read.
    #[error("cannot {what} state folder {path}: {cause}")]
    StateFolder {
        what: &'static str,
        path: String,
        cause: std::io::Error,
    },
    /// A saved plan that cannot be used (its format, format version or tool version).
    #[error("saved plan {path} cannot be used: {why}")]
    SavedPlanInvalid { path: String, why: String },
    /// The plan file a saved plan names is missing or changed since `plan --out`.
    #[error("saved plan {path}: the plan file {plan} {why}")]
    SavedPlanChanged {
        path: String,
        plan: String,
        why: String,
    },
    /// Steps whose action now differs from the saved plan's: refused before any write.
    #[error(
        "saved plan {path} is out of date: {} step{} changed since it was observed at {observed_at}, so nothing was written:\n  {}",
        .changed.len(),
        if .changed.len() == 1 { "" } else { "s" },
        .changed.join("\n  ")
    )]
    SavedPlanStale {
        path: String,
        observed_at: String,
        changed: Vec<String>,
    },
    /// `--pair` names a pair the plan does not have.
    #[error("--pair {value}: no such pair in the plan")]
    NoSuchPair { value: String, known: Vec<String> },
    /// A rerun flag names a step the plan does not have.
    #[error("--{flag} {value}: the plan has no such {what}")]
    NoSuchStep {
        flag: &'static str,
        value: String,
        what: &'static str,
        kind: &'static str,
        known: Vec<String>,
    },
    /// `apply` without `--yes` where it cannot ask.
    #[error(
        "apply changes production state and needs confirmation, but stdin is not a terminal (or the output is JSON)"
    )]
    ConfirmationRequired,
    /// `apply`'s question was answered with something else than `yes`.
    #[error("cancelled: nothing was applied")]
    Cancelled,
    /// Two flags name one file.
    #[error("--{first} and --{second} name the same file {path}")]
    SameFile {
        first: &'static str,
        second: &'static str,
        path: String,
    },
    /// An output (`--out`, `--errors`) that must not be written: the plan, a saved plan,
    /// inside the state folder, or a symbolic link (see `output_file`).
    #[error("--{flag} {path} is refused: {}; nothing was written", .why.describe())]
    OutputRefused {
        flag: &'static str,
        path: String,
        why: crate::output_file::Refusal,
    },
    /// `--output json` for a command whose output is a document.
    #[error("`--output json` has no meaning for this command: {why}")]
    NoJsonOutput {
        why: &'static str,
        instead: &'static str,
    },
    /// `--output markdown` for a command that has no markdown output.
    #[error("`--output markdown` is for `plan`, `status` and `verify` only")]
    NoMarkdownOutput,
    /// An output file or folder cannot be written.
    #[error("cannot write {path}: {cause}")]
    Write { path: String, cause: std::io::Error },
    /// The async runtime or a signal handler cannot start.
    #[error("cannot start {what}: {cause}")]
    Runtime {
        what: &'static str,
        cause: std::io::Error,
    },
    /// Another translate writes the same output file with this state folder.
    #[error("another translate is writing {out} with this state folder")]
    TranslateLocked { out: String },
    /// `simulate --world FILE` cannot be loaded.
    #[error("{detail}")]
    SimulatorWorld { detail: String },
    /// The simulator cannot listen or start.
    #[error("cannot start the simulator: {detail}")]
    SimulatorListen { detail: String },
    /// A check of the program's own output failed.
    #[error("internal error: {what}")]
    Internal { what: String },
}

impl CommandError {
    /// The diagnostic code (named so as not to shadow [`Diagnostic::code`]).
    pub fn as_code(&self) -> Code {
        match self {
            CommandError::StateNotAFolder { .. } => Code::StateNotAFolder,
            CommandError::StateFolder { .. } => Code::StateIo,
            CommandError::SavedPlanInvalid { .. } => Code::SavedPlanInvalid,
            CommandError::SavedPlanChanged { .. } => Code::SavedPlanPlanChanged,
            CommandError::SavedPlanStale { .. } => Code::SavedPlanStale,
            CommandError::NoSuchPair { .. } => Code::CliNoSuchPair,
            CommandError::NoSuchStep { .. } => Code::CliNoSuchStep,
            CommandError::ConfirmationRequired => Code::CliConfirmationRequired,
            CommandError::Cancelled => Code::CliCancelled,
            CommandError::SameFile { .. } => Code::CliSameFile,
            CommandError::OutputRefused { why, .. } => match why {
                Refusal::IsPlan => Code::CliOutIsPlan,
                Refusal::IsSavedPlan => Code::CliOutIsSavedPlan,
                Refusal::InStateFolder => Code::CliOutInState,
                Refusal::Symlink => Code::CliOutSymlink,
            },
            CommandError::NoJsonOutput { .. } => Code::CliNoJsonOutput,
            CommandError::NoMarkdownOutput => Code::CliNoMarkdownOutput,
            CommandError::Write { .. } => Code::CliWriteFailed,
            CommandError::Runtime { .. } => Code::CliRuntime,
            CommandError::TranslateLocked { .. } => Code::TranslateLocked,
            CommandError::SimulatorWorld { .. } => Code::SimulatorWorld,
            CommandError::SimulatorListen { .. } => Code::SimulatorListen,
            CommandError::Internal { .. } => Code::CliInternal,
        }
    }

    /// Whether the command line itself is wrong (exit 64): what clap cannot check alone.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            CommandError::ConfirmationRequired
                | CommandError::SameFile { .. }
                | CommandError::OutputRefused { .. }
                | CommandError::NoJsonOutput { .. }
                | CommandError::NoMarkdownOutput
        )
    }

    /// What to do next.
    pub fn help_text(&self) -> String {
        match self {
            CommandError::StateNotAFolder { .. } => "--state names the folder that holds the journal and the lock (default: .nylas-migrate/ beside the plan); name a folder, or a path where one can be created".into(),
            CommandError::StateFolder { .. } => "check that --state names a folder this user can create, read and write (default: .nylas-migrate/ beside the plan)".into(),
            CommandError::SavedPlanInvalid { .. } => "make a new one with this build: `nylas-migrate plan PLAN --out FILE`".into(),
            CommandError::SavedPlanChanged { .. } => "a saved plan applies only the plan file it was made from: review the change, then make a new one with `nylas-migrate plan PLAN --out FILE`".into(),
            CommandError::SavedPlanStale { .. } => "the live state or the journal changed since the review: run `nylas-migrate plan PLAN --out FILE` again, review it, and apply the new file".into(),
            CommandError::NoSuchPair { known, .. } => format!("the plan's pairs: {}", known.join(", ")),
            CommandError::NoSuchStep { kind, known, .. } => {
                if known.is_empty() {
                    format!("the plan has no {kind} step")
                } else {
                    format!("the plan's: {}", known.join(", "))
                }
            }
            CommandError::ConfirmationRequired => "run `nylas-migrate plan` first to review, then pass --yes (-y) to apply without the question".into(),
            CommandError::Cancelled => "only `yes` confirms; run apply again to be asked again".into(),
            CommandError::SameFile { .. } => "give each its own file".into(),
            CommandError::OutputRefused { flag, why, .. } => match why {
                Refusal::IsPlan => format!("give --{flag} another file: the plan is only ever read"),
                Refusal::IsSavedPlan => format!("give --{flag} another file: a saved plan is only replaced by `nylas-migrate plan PLAN --out FILE`"),
                Refusal::InStateFolder => format!("give --{flag} a file outside the state folder (default .nylas-migrate/ beside the plan, or --state)"),
                Refusal::Symlink => format!("links are not followed, so that a link planted at an output path cannot redirect it; name the file itself: --{flag} \"$(readlink -f PATH)\", or remove the link"),
            },
            CommandError::NoJsonOutput { instead, .. } => (*instead).into(),
            CommandError::NoMarkdownOutput => "use --output human or --output json; `report --format html` makes a page for people".into(),
            CommandError::Write { .. } => "check that the folder exists and this user can write there".into(),
            CommandError::Runtime { .. } => "the system is short of threads or file descriptors (check ulimit -u and ulimit -n), then run it again".into(),
            CommandError::TranslateLocked { .. } => "wait for it to finish, or write to another --out".into(),
            CommandError::SimulatorWorld { .. } => "check the world file against docs/simulator.md, or generate one with --accounts N".into(),
            CommandError::SimulatorListen { .. } => "choose another --listen address or port (port 0 picks free ones)".into(),
            CommandError::Internal { .. } => "this is a bug in nylas-migrate; please report it with the command line".into(),
        }
    }
}

impl Diagnostic for CommandError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.as_code().as_str()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.help_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_and_help(err: &CliError) -> (String, String) {
        (
            err.code().map(|c| c.to_string()).unwrap_or_default(),
            err.help().map(|h| h.to_string()).unwrap_or_default(),
        )
    }

    #[test]
    fn runtime_errors_are_not_bugs() {
        let err = CliError::from(CommandError::Runtime {
            what: "the async runtime",
            cause: std::io::Error::from(std::io::ErrorKind::OutOfMemory),
        });
        let (code, help) = code_and_help(&err);
        assert_eq!(code, Code::CliRuntime.as_str());
        assert!(!help.contains("bug"), "{help}");
        assert_eq!(err.exit_status(), ExitStatus::Error);
    }

    #[test]
    fn internal_errors_say_they_are_bugs() {
        let err = CliError::from(CommandError::Internal {
            what: "the written plan does not validate".into(),
        });
        let (code, help) = code_and_help(&err);
        assert_eq!(code, Code::CliInternal.as_str());
        assert!(help.contains("this is a bug in nylas-migrate"), "{help}");
    }

    #[test]
    fn errors_shown_only_as_step_outcomes_keep_their_codes() {
        // A step's error becomes its outcome (a message in the summary and the journal), so
        // these codes are seen only when such an error stops a whole command: built here.
        let step = || "acme-prod/batch/everyone".to_owned();
        for (err, expected) in [
            (
                EngineError::OutcomeUnknown {
                    step: step(),
                    what: "batch clone".into(),
                },
                Code::EngineOutcomeUnknown,
            ),
            (
                EngineError::ConcurrentWave {
                    step: step(),
                    snapshots: "j1, j2".into(),
                },
                Code::EngineConcurrentWave,
            ),
            (
                EngineError::JobVanished {
                    step: step(),
                    job_id: "j1".into(),
                },
                Code::EngineJobVanished,
            ),
        ] {
            let (code, help) = code_and_help(&CliError::from(err));
            assert_eq!(code, expected.as_str());
            assert!(!help.is_empty() && !help.contains("bug"), "{help}");
        }
        let (code, help) = code_and_help(&CliError::from(EngineError::Internal(
            "a step task failed".into(),
        )));
        assert_eq!(code, Code::EngineInternal.as_str());
        assert!(help.contains("this is a bug in nylas-migrate"), "{help}");
    }

    #[test]
    fn a_client_that_cannot_start_is_not_called_a_bug() {
        // The TLS backend failing to start: no test machine can make that happen.
        let err = CliError::from(ClientError::Setup {
            detail: "no TLS provider".into(),
        });
        let (code, help) = code_and_help(&err);
        assert_eq!(code, Code::ApiSetup.as_str());
        assert!(
            help.contains("HTTPS_PROXY") && !help.contains("bug"),
            "{help}"
        );
    }

    #[test]
    fn only_the_command_line_s_own_mistakes_are_usage_errors() {
        for err in [
            CommandError::ConfirmationRequired,
            CommandError::SameFile {
                first: "out",
                second: "errors",
                path: "x".into(),
            },
            CommandError::NoJsonOutput {
                why: "w",
                instead: "i",
            },
            CommandError::NoMarkdownOutput,
        ] {
            assert_eq!(CliError::from(err).exit_status(), ExitStatus::Usage);
        }
        for err in [
            CommandError::Cancelled,
            CommandError::NoSuchPair {
                value: "x".into(),
                known: vec![],
            },
            CommandError::StateNotAFolder { path: "x".into() },
        ] {
            assert_eq!(CliError::from(err).exit_status(), ExitStatus::Error);
        }
    }
}
