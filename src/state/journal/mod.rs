//! The journal: the state of a plan. It records every run, and for every step its intent before
//! the write and its outcome after, with request IDs, job IDs, counts and secret fingerprints
//! (never a secret). It is the audit trail, and what makes a killed run resumable: an intent
//! without an outcome is resolved by observing before acting. Its jobs hold every migration job
//! the state knows (each job any wave started, and jobs adopted with `--adopt-existing-jobs`): a
//! job on the application that is not there was not started from this state.
//!
//! Two backends keep it, behind one interface (this type; the engine sees no other):
//! - [`sqlite`]: an embedded SQLite database in a local state folder, the default;
//! - [`postgres`]: a PostgreSQL database every runner of a pipeline shares, where several plans
//!   may live side by side, each keyed by its name.
//!
//! [`StateLocation`] says which. The translate checkpoints stay local whatever the plan's state
//! (see `translate.rs`).

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::graph::StepId;
use crate::state::fingerprint::Fingerprinter;
use crate::state::lock::Fence;

mod location;
mod sqlite;
mod translate;
pub use location::{PASSWORD_VAR, PostgresTarget, SslMode, StateError, StateLocation};
pub use translate::{ChainProgress, FinishedPage, TranslateRefusal, TranslateSession};

pub const JOURNAL_FILE: &str = "journal.sqlite";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    #[diagnostic(
        code("state::journal"),
        help(
            "the journal is the state folder's journal.sqlite; check the folder is writable and not on a network share"
        )
    )]
    Storage {
        path: String,
        source: rusqlite::Error,
    },
    /// A value this version does not know (a journal written by a newer version, or edited):
    /// read as anything else it could make a run act on a step it should leave alone.
    #[error("journal {path}: {what} {value} is not one this version of nylas-migrate knows")]
    #[diagnostic(
        code("state::journal-unknown-value"),
        help(
            "the journal was written by a newer nylas-migrate or edited by hand; run the version that wrote it, or restore the state folder from a copy"
        )
    )]
    Unknown {
        path: String,
        what: &'static str,
        /// Quoted and escaped: it comes from a file anyone with the state folder can edit.
        value: String,
    },
    #[error("state folder {path}: {source}")]
    #[diagnostic(
        code("state::io"),
        help("check the state folder is writable by this user")
    )]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The PostgreSQL state cannot be reached or used (`location` is the URL as shown, its
    /// password masked).
    #[error("PostgreSQL state {location}: {detail}")]
    #[diagnostic(code("state::postgres"), help("{help}"))]
    Postgres {
        location: String,
        detail: String,
        help: String,
    },
    /// The database's schema was made by a newer nylas-migrate.
    #[error(
        "PostgreSQL state {location}: its schema is version {found}, this nylas-migrate knows up to {known}"
    )]
    #[diagnostic(
        code("state::schema-newer"),
        help(
            "a newer nylas-migrate has used this database; run that version (every runner of a plan should run the same one)"
        )
    )]
    NewerSchema {
        location: String,
        found: i32,
        known: i32,
    },
    /// What only a local state folder keeps, asked of a PostgreSQL state.
    #[error("{what} are kept in a local state folder, not in PostgreSQL state {location}")]
    #[diagnostic(
        code("state::local-only"),
        help("this is a bug in nylas-migrate: the command should have opened a state folder")
    )]
    LocalOnly {
        what: &'static str,
        location: String,
    },
    /// A fenced write (an intent, an outcome, a run's record) was refused because this runner
    /// no longer provably holds the state's lock: nothing was written, and no request follows.
    #[error(
        "{location}: this runner no longer holds the state's lock ({why}); nothing more is written"
    )]
    #[diagnostic(
        code("state::lock-lost"),
        help(
            "another runner may hold it now; once no other apply runs, run apply again: it observes the live state before any write"
        )
    )]
    LockLost { location: String, why: String },
}

/// A stored value this version cannot read (see [`JournalError::Unknown`]).

#[derive(Debug)]
pub(crate) struct UnknownValue {
    pub(crate) what: &'static str,
    pub(crate) value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.what, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// Declares an enum the journal stores as text: its variants and their stored values, `ALL`,
/// `as_str`, `parse` (`None` for a value this version does not know) and `Display`.
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $value)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as the journal stores it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value,)+ }
            }

            /// The variant for a stored value; `None` for one this version does not know.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($value => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum! {
    /// What an entry of the audit trail records.
    Phase {
        /// A write is about to be sent.
        Intent = "intent",
        /// A wave's request was answered: its jobs are known and running.
        Started = "started",
        /// The write's result (done, failed or refused).
        Outcome = "outcome",
        /// The step was found done without a write (by hand, or by a run whose outcome was
        /// lost).
        Observed = "observed",
        /// An error while a write's outcome is unknown: the audit trail only, the step's state
        /// stays as it was.
        Error = "error",
    }
}

stored_enum! {
    /// How a run of `apply` ended.
    RunOutcome {
        /// Every step is done.
        Done = "done",
        /// The run finished with steps failed, skipped or still running at Nylas.
        Incomplete = "incomplete",
        /// Stopped by SIGINT or SIGTERM; the next `apply` resumes.
        Interrupted = "interrupted",
    }
}

stored_enum! {
    /// A step's last known state in the journal.
    StepStatus {
        /// A write was about to be sent; whether it happened is unknown until observed.
        Intent = "intent",
        /// The step's write is known to have happened (or was found already done).
        Done = "done",
        /// The step failed; it will be observed and tried again by the next run, unless the
        /// failure is an outcome: a wave whose job ended `failed`, a write Nylas refused
        /// ([`StepRecord::refused`]).
        Failed = "failed",
        /// A batch wave whose jobs exist and are not finished.
        Running = "running",
    }
}

/// What a step's journal record holds besides its status: everything needed to resume it and
/// to audit it. Free of secrets by construction: only IDs, counts, fingerprints and messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The v3 application the step acted on: a record made for another application (a pair
    /// pointed at a new app, two plans sharing a state folder) is not evidence for this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Batch: the wave's request as sent (filters, limit, offset, placeholders), to notice a
    /// wave whose settings changed after it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Clone: the grant; webhook: the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_status: Option<crate::api::GrantStatus>,
    /// Batch: jobs that existed before this wave's request (to recognise its jobs after a
    /// crash), and the wave's jobs once known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs_before: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<crate::api::JobStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<JobCounts>,
    /// Connector: fingerprints of the secrets last written, by setting name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprints: Vec<(String, String)>,
    /// Bounded to [`crate::untrusted::MAX_MESSAGE_BYTES`] when recorded and when read: a server
    /// can answer with a message of megabytes, which the journal would keep and every later
    /// `status`, `plan` and `report` would print (a journal from an older version may hold one).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "bounded_message::serialize",
        deserialize_with = "bounded_message::deserialize"
    )]
    pub error: Option<String>,
    /// Nylas answered the write with a definite refusal (HTTP 400: an account that cannot be
    /// migrated, a link to an application in another region): an outcome, not a pending change.
    /// It is tried again only when the plan changes what was asked (`request_key`), what it
    /// depends on is written again, or a rerun flag names it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

/// A message from outside as the journal keeps it: cut to a few KiB, saying so.
mod bounded_message {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::untrusted::{MAX_MESSAGE_BYTES, bounded};

    pub fn serialize<S: Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(text) => s.serialize_some(&bounded(text, MAX_MESSAGE_BYTES)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(crate::untrusted::bounded_message))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    pub all: u64,
    pub success: u64,
    pub failed: u64,
    pub warning: u64,
}

stored_enum! {
    /// Where the journal learned of a migration job.
    JobOrigin {
        /// A wave of this plan started it (its request was sent from this state).
        Wave = "wave",
        /// It was on the application already and `--adopt-existing-jobs` recorded it as
        /// history.
        Adopted = "adopted",
    }
}

/// A migration job this state knows: started by one of its waves, or adopted.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownJob {
    pub job_id: String,
    /// The v3 application it runs on.
    pub app_id: Option<String>,
    /// The wave that started it (`None` for an adopted job).
    pub step_id: Option<String>,
    pub job_type: Option<crate::api::JobType>,
    pub linked_job_id: Option<String>,
    pub origin: JobOrigin,
    /// The run that recorded it.
    pub run_id: i64,
    /// The last status and counts the journal saw (finished jobs keep theirs).
    pub status: Option<crate::api::JobStatus>,
    pub counts: Option<JobCounts>,
}

/// A step's row: status, record, the run that wrote it, when.
#[derive(Debug, Clone, PartialEq)]
pub struct StepState {
    pub status: StepStatus,
    pub record: StepRecord,
    pub run_id: i64,
    pub updated_at: i64,
}

/// Keeps the jobs table in step with a wave's record: its jobs once known, and its migration
/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub run_id: i64,
    pub step_id: String,
    pub phase: Phase,
    /// The step's status the entry recorded; `None` for [`Phase::Error`], which leaves the
    /// step's state as it was.
    pub status: Option<StepStatus>,
    /// The step record, as JSON.
    pub record: String,
}

/// One run of `apply`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub plan_name: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// `None` while the run goes on, or when its process was killed.
    pub outcome: Option<RunOutcome>,
}

/// What each backend does; the engine talks to [`Journal`] only.
pub(crate) trait Store: Send + Sync + std::fmt::Debug {
    fn start_run(&self, plan_name: &str, command: &str) -> Result<i64, JournalError>;
    fn finish_run(&self, run_id: i64, outcome: RunOutcome) -> Result<(), JournalError>;
    fn runs(&self) -> Result<Vec<RunRecord>, JournalError>;
    fn record(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<(), JournalError>;
    /// After the lock was lost: the step's new state, unfenced, only if its row is still this
    /// run's (no other runner has recorded the step since). Returns whether it was recorded.
    fn record_if_mine(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<bool, JournalError>;
    fn adopt_jobs(
        &self,
        run_id: i64,
        app_id: &str,
        jobs: &[crate::api::MigrationJob],
    ) -> Result<usize, JournalError>;
    fn known_jobs(&self) -> Result<Vec<KnownJob>, JournalError>;
    fn knows_pair(&self, pair: &str) -> Result<bool, JournalError>;
    fn note(&self, run_id: i64, step: &StepId, record: &StepRecord) -> Result<(), JournalError>;
    fn step(&self, step: &StepId) -> Result<Option<StepState>, JournalError>;
    fn steps(&self) -> Result<Vec<(String, StepState)>, JournalError>;
    fn claimed_jobs(&self) -> Result<HashSet<String>, JournalError>;
    fn events(&self) -> Result<Vec<Event>, JournalError>;
    fn fingerprinter(&self) -> Result<Fingerprinter, JournalError>;
    /// Where it is, as errors show it (a PostgreSQL password masked).
    fn location(&self) -> String;
}

#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(crate::state::postgres::PostgresStore),
}

/// A plan's journal, in a state folder or in PostgreSQL.
#[derive(Debug)]
pub struct Journal {
    backend: Backend,
    /// The lock's proof, once the run holds it: every write checks it (PostgreSQL: every write
    /// runs on the lock's session behind a fence, see `postgres::LockSession`).
    fence: Option<Fence>,
    /// Steps whose write this journal recorded as intended or running and not ended: what was
    /// in flight if the lock is lost.
    open: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// `2026-11-21 22:26:40 UTC`.
pub fn format_utc(unix: i64) -> String {
    // Days since the epoch to a civil date (Howard Hinnant's algorithm), to print UTC times
    // without a date library.
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Journal {
    /// Opens (creating if needed) the journal in the state folder `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        Ok(Journal::of(Backend::Sqlite(sqlite::SqliteStore::open(
            state_dir,
        )?)))
    }

    /// Opens (creating if needed) `plan`'s journal at `state`: a folder's journal (one plan per
    /// folder), or the plan's part of a PostgreSQL database (its schema created or upgraded on
    /// first use).
    pub fn open_at(state: &StateLocation, plan: &str) -> Result<Journal, JournalError> {
        match state {
            StateLocation::Folder(dir) => Journal::open(dir),
            StateLocation::Postgres(target) => Ok(Journal::of(Backend::Postgres(
                crate::state::postgres::PostgresStore::open(target, plan)?,
            ))),
        }
    }

    /// `plan`'s journal at `state` if anything was ever applied there; creates nothing (a
    /// folder without a journal, a database without the schema or the plan: `None`).
    pub fn existing(state: &StateLocation, plan: &str) -> Result<Option<Journal>, JournalError> {
        match state {
            StateLocation::Folder(dir) => {
                if dir.join(JOURNAL_FILE).exists() {
                    Journal::open(dir).map(Some)
                } else {
                    Ok(None)
                }
            }
            StateLocation::Postgres(target) => Ok(crate::state::postgres::PostgresStore::existing(
                target, plan,
            )?
            .map(|store| Journal::of(Backend::Postgres(store)))),
        }
    }

    fn of(backend: Backend) -> Journal {
        Journal {
            backend,
            fence: None,
            open: Default::default(),
        }
    }

    /// From now on every write proves, when it is made, that this runner holds `fence`'s lock;
    /// a write that cannot is refused with [`JournalError::LockLost`] and nothing is written.
    pub fn set_fence(&mut self, fence: Fence) {
        if let (Backend::Postgres(store), Some(session)) = (&mut self.backend, fence.session()) {
            store.fence_with(session);
        }
        self.fence = Some(fence);
    }

    /// The lock's proof, when the run holds one.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    /// Why the lock is lost, if it is known to be (always `None` without a fence).
    pub fn lock_lost(&self) -> Option<String> {
        self.fence.as_ref().and_then(Fence::lost)
    }

    /// Reads every stored value once: a value this version does not know (a step status, a
    /// job's status, a run's outcome) fails here, for every command alike (`plan` as `apply`,
    /// before any write), rather than only where a step happens to read it.
    pub fn check_values(&self) -> Result<(), JournalError> {
        self.store().steps()?;
        self.store().known_jobs()?;
        self.store().runs()?;
        Ok(())
    }

    /// The steps whose write this run intended (or started) and whose end it did not record.
    pub fn open_steps(&self) -> Vec<String> {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Before a write: a state folder's lock file must still be the one locked. (PostgreSQL's
    /// proof is made by the write itself, in its transaction.)
    fn fenced(&self) -> Result<(), JournalError> {
        if let Some(fence) = &self.fence
            && !fence.windowed()
            && let Some(why) = fence.lost()
        {
            return Err(JournalError::LockLost {
                location: self.store().location(),
                why,
            });
        }
        Ok(())
    }

    fn store(&self) -> &dyn Store {
        match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => p,
        }
    }

    /// The SQLite backend, for what only a local folder keeps (translate's checkpoints).
    fn local(&self, what: &'static str) -> Result<&sqlite::SqliteStore, JournalError> {
        match &self.backend {
            Backend::Sqlite(s) => Ok(s),
            Backend::Postgres(p) => Err(JournalError::LocalOnly {
                what,
                location: p.location(),
            }),
        }
    }

    /// The key connector secrets are fingerprinted with: the folder's `fingerprint.key`, or the
    /// plan's key in PostgreSQL (made with the plan's first journal there).
    pub fn fingerprinter(&self) -> Result<Fingerprinter, JournalError> {
        self.store().fingerprinter()
    }

    pub fn start_run(&self, plan_name: &str, command: &str) -> Result<i64, JournalError> {
        self.fenced()?;
        self.store().start_run(plan_name, command)
    }

    pub fn finish_run(&self, run_id: i64, outcome: RunOutcome) -> Result<(), JournalError> {
        self.fenced()?;
        self.store().finish_run(run_id, outcome)
    }

    pub fn runs(&self) -> Result<Vec<RunRecord>, JournalError> {
        self.store().runs()
    }

    /// Records a step's new state, and appends it to the audit trail, in one transaction.
    pub fn record(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<(), JournalError> {
        let recorded = self
            .fenced()
            .and_then(|()| self.store().record(run_id, step, phase, status, record));
        match recorded {
            Ok(()) => {}
            // The lock is gone, but a write already sent has ended: its outcome (or a wave's
            // jobs) is kept if the journal is reachable and the step's row is still this run's
            // (the runner that holds the lock now has not recorded it). Never an intent: no new
            // write may follow. The run still ends with `state::lock-lost`.
            Err(lost @ JournalError::LockLost { .. }) if phase != Phase::Intent => {
                if !self
                    .store()
                    .record_if_mine(run_id, step, phase, status, record)
                    .unwrap_or(false)
                {
                    return Err(lost);
                }
                if matches!(status, StepStatus::Done | StepStatus::Failed) {
                    self.open
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(step.as_str());
                }
                return Err(lost);
            }
            Err(e) => return Err(e),
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match status {
            StepStatus::Intent | StepStatus::Running => {
                open.insert(step.as_str().to_owned());
            }
            StepStatus::Done | StepStatus::Failed => {
                open.remove(step.as_str());
            }
        }
        Ok(())
    }

    /// Records jobs that were on the application before this state knew them, as history
    /// (`--adopt-existing-jobs`). Jobs already known are left as they are. Returns how many
    /// were new to the journal.
    pub fn adopt_jobs(
        &self,
        run_id: i64,
        app_id: &str,
        jobs: &[crate::api::MigrationJob],
    ) -> Result<usize, JournalError> {
        self.fenced()?;
        self.store().adopt_jobs(run_id, app_id, jobs)
    }

    /// Every job this state knows (started by its waves or adopted), in the order it learned
    /// of them.
    pub fn known_jobs(&self) -> Result<Vec<KnownJob>, JournalError> {
        self.store().known_jobs()
    }

    /// Whether the journal holds any record of a step of `pair`.
    pub fn knows_pair(&self, pair: &str) -> Result<bool, JournalError> {
        self.store().knows_pair(pair)
    }

    /// Appends to the audit trail only, leaving the step's state as it is: an error while a
    /// write's outcome is unknown (an intent, a running wave) must not erase what the next run
    /// needs to resolve it.
    pub fn note(
        &self,
        run_id: i64,
        step: &StepId,
        record: &StepRecord,
    ) -> Result<(), JournalError> {
        self.fenced()?;
        self.store().note(run_id, step, record)
    }

    pub fn step(&self, step: &StepId) -> Result<Option<StepState>, JournalError> {
        self.store().step(step)
    }

    /// Every step's state, by step ID.
    pub fn steps(&self) -> Result<Vec<(String, StepState)>, JournalError> {
        self.store().steps()
    }

    /// IDs of every job this state knows: every job any of its waves ever started (earlier
    /// jobs of a wave run again included) and every adopted one. A job is never claimed by two
    /// waves, and a job not in this list was not started from this state.
    pub fn claimed_jobs(&self) -> Result<HashSet<String>, JournalError> {
        self.store().claimed_jobs()
    }

    /// The audit trail: every event, oldest first.
    pub fn events(&self) -> Result<Vec<Event>, JournalError> {
        self.store().events()
    }
}

/// A step record as stored (JSON). Serialising plain data cannot fail; `{}` if it ever did.
pub(crate) fn record_json(record: &StepRecord) -> String {
    serde_json::to_string(record).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_message_is_kept_cut_and_read_back_cut() {
        let max = crate::untrusted::MAX_MESSAGE_BYTES;
        let huge = "w".repeat(3 * 1024 * 1024);
        let record = StepRecord {
            error: Some(huge.clone()),
            ..StepRecord::default()
        };
        let stored = record_json(&record);
        assert!(stored.len() < max + 100, "stored {} bytes", stored.len());
        let back: StepRecord = serde_json::from_str(&stored).unwrap();
        let error = back.error.unwrap();
        assert!(
            error.ends_with("more bytes not kept]"),
            "{}",
            &error[max - 60..]
        );
        // What an older version stored whole is cut when read.
        let old = serde_json::json!({ "error": huge }).to_string();
        let read: StepRecord = serde_json::from_str(&old).unwrap();
        assert!(read.error.is_some_and(|e| e.len() <= max));
        let none: StepRecord = serde_json::from_str("{}").unwrap();
        assert_eq!(none.error, None);
    }

    #[test]
    fn every_typed_value_reads_back_as_written() {
        for s in StepStatus::ALL {
            assert_eq!(StepStatus::parse(s.as_str()), Some(*s));
        }
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(*p));
        }
        for o in RunOutcome::ALL {
            assert_eq!(RunOutcome::parse(o.as_str()), Some(*o));
        }
        for o in [JobOrigin::Wave, JobOrigin::Adopted] {
            assert_eq!(JobOrigin::parse(o.as_str()), Some(o));
        }
    }
}
