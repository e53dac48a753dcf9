//! What the journal holds (steps' records, runs, events, known jobs, the values it stores as
//! text), its errors, and the [`Store`] every backend implements: the part of the state that
//! is the same whatever keeps it, and that the backends use (they never use the `Journal`).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::graph::StepId;
use crate::state::fingerprint::Fingerprinter;

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
    /// The state's schema was made by a newer nylas-migrate (`location`: `PostgreSQL state
    /// URL (plan `NAME`)`, or `journal PATH` of a state folder).
    #[error("{location}: its schema is version {found}, this nylas-migrate knows up to {known}")]
    #[diagnostic(
        code("state::schema-newer"),
        help(
            "a newer nylas-migrate has used this state; run that version (every runner of a plan should run the same one)"
        )
    )]
    NewerSchema {
        location: String,
        found: i32,
        known: i32,
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

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    /// `place`: `state folder DIR`, or `PostgreSQL state URL for plan `NAME``.
    #[error("another `nylas-migrate apply` is running on {place}{holder}")]
    #[diagnostic(
        code("state::locked"),
        help(
            "wait for it to finish (a run that was killed releases the lock with its process, or its database connection); two runs on one journal could start a wave twice"
        )
    )]
    Held { place: String, holder: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Postgres(#[from] JournalError),
    #[error("cannot lock state folder {path}: {source}")]
    #[diagnostic(
        code("state::lock-failed"),
        help(
            "check that --state names a folder this user can write, with no folder named `lock` in it"
        )
    )]
    Io {
        path: String,
        source: std::io::Error,
    },
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

/// A migration job a wave's record names: inserted when the journal does not know it yet; its
/// end (`status` and counts, the wave's migration job once finished) written either way.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WaveJob {
    pub(crate) job_id: String,
    pub(crate) app_id: Option<String>,
    pub(crate) job_type: &'static str,
    pub(crate) linked_job_id: Option<String>,
    pub(crate) status: Option<&'static str>,
    pub(crate) counts: [Option<i64>; 4],
}

/// The jobs a wave's record names (its snapshot and migration jobs), with the migration job's
/// end once the record has it. The one place that reads them from a record, for the batch and
/// for the unfenced write alike.
pub(crate) fn wave_jobs(record: &StepRecord) -> Vec<WaveJob> {
    let mut jobs = Vec::new();
    if let Some(snapshot) = &record.snapshot_job_id {
        jobs.push(WaveJob {
            job_id: snapshot.clone(),
            app_id: record.app_id.clone(),
            job_type: "snapshot",
            linked_job_id: record.clone_job_id.clone(),
            status: None,
            counts: [None; 4],
        });
    }
    if let Some(clone) = &record.clone_job_id {
        let c = record.counts;
        jobs.push(WaveJob {
            job_id: clone.clone(),
            app_id: record.app_id.clone(),
            job_type: "migration",
            linked_job_id: record.snapshot_job_id.clone(),
            status: record.job_status.map(|s| s.as_str()),
            counts: [
                c.map(|c| c.all as i64),
                c.map(|c| c.success as i64),
                c.map(|c| c.failed as i64),
                c.map(|c| c.warning as i64),
            ],
        });
    }
    jobs
}

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

/// What each backend does; the engine talks to the `Journal` only.
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
    /// [`knows_pair`](Self::knows_pair) for each of `pairs`, in their order: a backend at a
    /// distance answers them in one round trip.
    fn knows_pairs(&self, pairs: &[&str]) -> Result<Vec<bool>, JournalError> {
        pairs.iter().map(|pair| self.knows_pair(pair)).collect()
    }
    fn note(&self, run_id: i64, step: &StepId, record: &StepRecord) -> Result<(), JournalError>;
    fn step(&self, step: &StepId) -> Result<Option<StepState>, JournalError>;
    fn steps(&self) -> Result<Vec<(String, StepState)>, JournalError>;
    fn claimed_jobs(&self) -> Result<HashSet<String>, JournalError>;
    fn events(&self) -> Result<Vec<Event>, JournalError>;
    fn fingerprinter(&self) -> Result<Fingerprinter, JournalError>;
    /// Where it is, as errors show it (a PostgreSQL password masked).
    fn location(&self) -> String;
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
