//! The engine: observe the live state, then walk the step graph, read-only for `plan`
//! ([`preview`]) and for real for `apply` ([`apply`]), journaling every write.
//!
//! - `steps/`: one file per step kind, each a driver that owns its read-only observation, its
//!   write and its journal record; the one function that runs intent → write → outcome for
//!   every kind; waves' jobs and gates.
//! - `scheduler`: the one walk of the graph (ready set, permits per application, skips,
//!   `--fail-fast`), with two executors: `preview` (`plan`) and `apply`.
//! - `counts`: the one wording of a wave's counts.
//!
//! `docs/architecture.md` tells the whole path, the journal's protocol, and how to add a step
//! kind.

mod apply;
mod context;
mod counts;
mod failpoint;
mod history;
pub mod outcome;
mod preview;
mod scheduler;
mod steps;

/// The reporter a run emits its events through (`crate::events`); the quiet one for callers
/// that print only the summary (`-q`, the benchmarks).
pub use crate::events::{QuietReporter, Reporter};
pub use apply::{ApplyOptions, ApplySummary, apply};
pub use context::{Context, PAIRS_AT_ONCE, RunOptions};
pub use counts::{Tally, placeholders};
pub use history::{HistoryNote, unrecorded_history};
pub use outcome::{Action, Observation, Outcome, OutcomeKind, Waits};
pub use preview::{Preview, PreviewStep, preview};
pub use steps::checklist::{VerifyCx, VerifyReads};
pub use steps::verify_item::{Check, VerifyItem};
pub use steps::waves::{FinishedWave, finished_wave};
pub use steps::{PairUnmanaged, Unmanaged, microsoft_credentials, verify_items};

use crate::secrets::SecretError;
use crate::state::{JournalError, LockError};

/// What can stop the engine as a whole (a step's own failure is an [`Outcome`] instead).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EngineError {
    #[error("{} secret reference{} could not be read", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    #[diagnostic(code("secrets::unresolved"))]
    Secrets(#[related] Vec<SecretError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Client(Box<crate::client::ClientError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
    #[error("state folder {path}: {source}")]
    #[diagnostic(
        code("state::io"),
        help("check that --state names a folder this user can create, read and write")
    )]
    State {
        path: String,
        source: std::io::Error,
    },
    #[error("{step}: the {what} request got no answer and no job appeared; nothing was resent")]
    #[diagnostic(
        code("engine::outcome-unknown"),
        help("run apply again: it looks for the job first and starts one only if there is none")
    )]
    OutcomeUnknown { step: String, what: String },
    #[error(
        "{step}: the batch clone got no answer, and several batch clones appeared since (snapshot jobs {snapshots}): another run started one at the same time, so which is this wave's cannot be told"
    )]
    #[diagnostic(
        code("engine::concurrent-wave"),
        help(
            "run one apply at a time per application (one state folder, a CI concurrency group); check the jobs in the Nylas dashboard; this wave starts nothing while they are unresolved"
        )
    )]
    ConcurrentWave { step: String, snapshots: String },
    #[error("{step}: job {job_id} is no longer listed by Nylas")]
    #[diagnostic(
        code("engine::job-vanished"),
        help(
            "check the application's migration jobs in the dashboard; the next run starts the wave again"
        )
    )]
    JobVanished { step: String, job_id: String },
    /// The run lost the state's lock: it started nothing more, let what was in flight end, and
    /// stopped.
    #[error(
        "{place}: this apply lost the state's lock ({why}) and stopped without writing more{in_flight}"
    )]
    #[diagnostic(
        code("state::lock-lost"),
        help(
            "check that no other apply runs on this state, then run apply again: it waits until no write this run may have left in flight can still land, observes the live state, and resolves those steps before any write"
        )
    )]
    LockLost {
        place: String,
        why: String,
        /// `; in flight when it was lost (their outcome is not journaled): a, b`, or nothing.
        in_flight: String,
    },
    #[error("internal error: {0}")]
    #[diagnostic(
        code("engine::internal"),
        help("this is a bug in nylas-migrate; the journal keeps what was done")
    )]
    Internal(String),
}

impl From<SecretError> for EngineError {
    fn from(err: SecretError) -> Self {
        EngineError::Secrets(vec![err])
    }
}

impl EngineError {
    /// The error as a step's outcome shows it: the error and, for those a person must fix
    /// outside the plan's steps (a key Nylas rejects, a certificate, a redirect, a secret that
    /// cannot be read), what to do, as `plan` shows it.
    pub fn outcome_message(&self) -> String {
        let needs_help = match self {
            EngineError::Client(e) => {
                matches!(e.status(), Some(300..=399 | 401 | 403))
                    || matches!(
                        **e,
                        crate::client::ClientError::Certificate { .. }
                            | crate::client::ClientError::Tls { .. }
                    )
            }
            EngineError::Secrets(_) => true,
            _ => false,
        };
        match miette::Diagnostic::help(self) {
            Some(help) if needs_help => format!("{self}. {help}"),
            _ => self.to_string(),
        }
    }
}

impl EngineError {
    /// Whether the write this error interrupted may or may not have happened.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            EngineError::OutcomeUnknown { .. } | EngineError::ConcurrentWave { .. } => true,
            EngineError::Client(e) => e.is_ambiguous(),
            _ => false,
        }
    }

    /// The API's request ID, when the error came from an answered request.
    pub fn request_id(&self) -> Option<String> {
        match self {
            EngineError::Client(e) => e.request_id().map(str::to_owned),
            _ => None,
        }
    }
}

impl From<crate::client::ClientError> for EngineError {
    fn from(err: crate::client::ClientError) -> Self {
        EngineError::Client(Box::new(err))
    }
}
