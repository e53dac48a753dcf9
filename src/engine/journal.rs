//! The journal: an embedded SQLite database in the state folder. It records every run, and for
//! every step its intent before the write and its outcome after, with request IDs, job IDs,
//! counts and secret fingerprints (never a secret). It is the audit trail, and what makes a
//! killed run resumable: an intent without an outcome is resolved by observing before acting.
//! Its `jobs` table holds every migration job the state knows (each job any wave started, and
//! jobs adopted with `--adopt-existing-jobs`): a job on the application that is not there was
//! not started from this state.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::graph::StepId;

mod translate;
pub use translate::{ChainProgress, FinishedPage, TranslateSession};

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
}

/// A stored value this version cannot read (see [`JournalError::Unknown`]).
#[derive(Debug)]
struct UnknownValue {
    what: &'static str,
    value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.what, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// Reads a typed column: an unknown value is an error that names it, never a default.
fn typed<T>(
    row: &rusqlite::Row<'_>,
    index: usize,
    what: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| unknown(index, what, &text))
}

fn unknown(index: usize, what: &'static str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        Box::new(UnknownValue {
            what,
            value: format!("\"{}\"", crate::untrusted::esc(value)),
        }),
    )
}

/// A step record, from its JSON: one that does not parse (an unknown job or grant status, a
/// field of the wrong type) is an error, never an empty record.
fn parse_record(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<StepRecord> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(UnknownValue {
                what: "step record",
                value: format!("({})", crate::untrusted::esc(&e.to_string())),
            }),
        )
    })
}

/// What an entry of the audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A write is about to be sent.
    Intent,
    /// A wave's request was answered: its jobs are known and running.
    Started,
    /// The write's result (done, failed or refused).
    Outcome,
    /// The step was found done without a write (by hand, or by a run whose outcome was lost).
    Observed,
    /// An error while a write's outcome is unknown: the audit trail only, the step's state
    /// stays as it was.
    Error,
}

impl Phase {
    pub const ALL: &'static [Phase] = &[
        Phase::Intent,
        Phase::Started,
        Phase::Outcome,
        Phase::Observed,
        Phase::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Intent => "intent",
            Phase::Started => "started",
            Phase::Outcome => "outcome",
            Phase::Observed => "observed",
            Phase::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.iter().copied().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run of `apply` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every step is done.
    Done,
    /// The run finished with steps failed, skipped or still running at Nylas.
    Incomplete,
    /// Stopped by SIGINT or SIGTERM; the next `apply` resumes.
    Interrupted,
}

impl RunOutcome {
    pub const ALL: &'static [RunOutcome] = &[
        RunOutcome::Done,
        RunOutcome::Incomplete,
        RunOutcome::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Done => "done",
            RunOutcome::Incomplete => "incomplete",
            RunOutcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<RunOutcome> {
        RunOutcome::ALL.iter().copied().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step's last known state in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// A write was about to be sent; whether it happened is unknown until observed.
    Intent,
    /// The step's write is known to have happened (or was found already done).
    Done,
    /// The step failed; it will be observed and tried again by the next run, unless the
    /// failure is an outcome: a wave whose job ended `failed`, a write Nylas refused
    /// ([`StepRecord::refused`]).
    Failed,
    /// A batch wave whose jobs exist and are not finished.
    Running,
}

impl StepStatus {
    pub const ALL: &'static [StepStatus] = &[
        StepStatus::Intent,
        StepStatus::Done,
        StepStatus::Failed,
        StepStatus::Running,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Intent => "intent",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Running => "running",
        }
    }

    /// The status for a stored value; `None` for one this version does not know.
    pub fn parse(s: &str) -> Option<StepStatus> {
        StepStatus::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Nylas answered the write with a definite refusal (HTTP 400: an account that cannot be
    /// migrated, a link to an application in another region): an outcome, not a pending change.
    /// It is tried again only when the plan changes what was asked (`request_key`), what it
    /// depends on is written again, or a rerun flag names it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    pub all: u64,
    pub success: u64,
    pub failed: u64,
    pub warning: u64,
}

/// Where the journal learned of a migration job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOrigin {
    /// A wave of this plan started it (its request was sent from this state).
    Wave,
    /// It was on the application already and `--adopt-existing-jobs` recorded it as history.
    Adopted,
}

impl JobOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOrigin::Wave => "wave",
            JobOrigin::Adopted => "adopted",
        }
    }

    pub fn parse(s: &str) -> Option<JobOrigin> {
        [JobOrigin::Wave, JobOrigin::Adopted]
            .into_iter()
            .find(|o| o.as_str() == s)
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
/// job's status and counts once finished.
fn record_wave_jobs(
    tx: &rusqlite::Transaction<'_>,
    run_id: i64,
    step: &StepId,
    record: &StepRecord,
) -> rusqlite::Result<()> {
    let insert = "INSERT OR IGNORE INTO jobs (job_id, app_id, step_id, job_type, linked_job_id, origin, run_id)
                  VALUES (?1, ?2, ?3, ?4, ?5, 'wave', ?6)";
    if let Some(snapshot) = &record.snapshot_job_id {
        tx.execute(
            insert,
            params![
                snapshot,
                record.app_id,
                step.as_str(),
                "snapshot",
                record.clone_job_id,
                run_id
            ],
        )?;
    }
    if let Some(clone) = &record.clone_job_id {
        tx.execute(
            insert,
            params![
                clone,
                record.app_id,
                step.as_str(),
                "migration",
                record.snapshot_job_id,
                run_id
            ],
        )?;
        if let Some(status) = record.job_status.map(|s| s.as_str()) {
            let counts = record.counts;
            tx.execute(
                "UPDATE jobs SET status = ?2, count_all = ?3, count_success = ?4, count_failed = ?5,
                     count_warning = ?6 WHERE job_id = ?1",
                params![
                    clone,
                    status,
                    counts.map(|c| c.all as i64),
                    counts.map(|c| c.success as i64),
                    counts.map(|c| c.failed as i64),
                    counts.map(|c| c.warning as i64)
                ],
            )?;
        }
    }
    Ok(())
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

#[derive(Debug)]
pub struct Journal {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// A journal timestamp (seconds since the epoch) as a UTC date and time, e.g.
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
    /// Opens (creating if needed) the journal in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        let path = state_dir.join(JOURNAL_FILE);
        let err = |source| JournalError::Storage {
            path: path.display().to_string(),
            source,
        };
        // Created private (0600) before SQLite opens it: SQLite gives the WAL and shared-memory
        // files the database file's mode. An existing journal is made private too (best
        // effort: a journal another user owns is still read).
        if !path.exists() {
            super::private::open(&path, std::fs::OpenOptions::new().write(true).create(true))
                .map_err(|e| err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        }
        let conn = Connection::open(&path).map_err(err)?;
        // WAL survives a killed process with every committed write; NORMAL sync is enough for
        // that (only an OS crash could lose the last transactions, and those are re-observed).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS runs (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 plan_name TEXT NOT NULL,
                 command TEXT NOT NULL,
                 started_at INTEGER NOT NULL,
                 finished_at INTEGER,
                 outcome TEXT
             );
             CREATE TABLE IF NOT EXISTS steps (
                 step_id TEXT PRIMARY KEY,
                 status TEXT NOT NULL,
                 record TEXT NOT NULL,
                 run_id INTEGER NOT NULL,
                 updated_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS events (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 run_id INTEGER NOT NULL,
                 step_id TEXT NOT NULL,
                 phase TEXT NOT NULL,
                 status TEXT NOT NULL,
                 record TEXT NOT NULL,
                 at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS jobs (
                 job_id TEXT PRIMARY KEY,
                 app_id TEXT,
                 step_id TEXT,
                 job_type TEXT,
                 linked_job_id TEXT,
                 origin TEXT NOT NULL,
                 run_id INTEGER NOT NULL,
                 status TEXT,
                 count_all INTEGER,
                 count_success INTEGER,
                 count_failed INTEGER,
                 count_warning INTEGER
             );",
        )
        .map_err(err)?;
        // Journals written before the jobs table knew their waves' jobs only from the steps'
        // records: those stay known. Done once (schema version 1).
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version < 1 {
            conn.execute_batch(
                "BEGIN;
                 INSERT OR IGNORE INTO jobs (job_id, app_id, step_id, job_type, origin, run_id)
                     SELECT json_extract(record, '$.snapshot_job_id'), json_extract(record, '$.app_id'),
                            step_id, 'snapshot', 'wave', run_id
                     FROM steps WHERE json_extract(record, '$.snapshot_job_id') IS NOT NULL;
                 INSERT OR IGNORE INTO jobs (job_id, app_id, step_id, job_type, linked_job_id, origin, run_id)
                     SELECT json_extract(record, '$.clone_job_id'), json_extract(record, '$.app_id'),
                            step_id, 'migration', json_extract(record, '$.snapshot_job_id'), 'wave', run_id
                     FROM steps WHERE json_extract(record, '$.clone_job_id') IS NOT NULL;
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(err)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = super::private::tighten(Path::new(&file));
        }
        Ok(Journal {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        let path = self.path.display().to_string();
        match source {
            rusqlite::Error::FromSqlConversionFailure(_, _, inner)
                if inner.is::<UnknownValue>() =>
            {
                match inner.downcast::<UnknownValue>() {
                    Ok(unknown) => JournalError::Unknown {
                        path,
                        what: unknown.what,
                        value: unknown.value,
                    },
                    Err(inner) => JournalError::Storage {
                        path,
                        source: rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            inner,
                        ),
                    },
                }
            }
            source => JournalError::Storage { path, source },
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, JournalError> {
        // A poisoned lock means a panic elsewhere while holding it; the connection itself is
        // still consistent (SQLite transactions), so keep using it.
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|e| self.err(e))
    }

    pub fn start_run(&self, plan_name: &str, command: &str) -> Result<i64, JournalError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (plan_name, command, started_at) VALUES (?1, ?2, ?3)",
                params![plan_name, command, now()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    pub fn finish_run(&self, run_id: i64, outcome: RunOutcome) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET finished_at = ?1, outcome = ?2 WHERE id = ?3",
                params![now(), outcome.as_str(), run_id],
            )?;
            Ok(())
        })
    }

    pub fn runs(&self) -> Result<Vec<RunRecord>, JournalError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, plan_name, started_at, finished_at, outcome FROM runs ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(RunRecord {
                    id: r.get(0)?,
                    plan_name: r.get(1)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    outcome: match r.get::<_, Option<String>>(4)? {
                        Some(text) => Some(
                            RunOutcome::parse(&text)
                                .ok_or_else(|| unknown(4, "run outcome", &text))?,
                        ),
                        None => None,
                    },
                })
            })?;
            rows.collect()
        })
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
        let json = serde_json::to_string(record).unwrap_or_else(|_| "{}".into());
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO steps (step_id, status, record, run_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(step_id) DO UPDATE SET status = ?2, record = ?3, run_id = ?4, updated_at = ?5",
                params![step.as_str(), status.as_str(), json, run_id, now()],
            )?;
            tx.execute(
                "INSERT INTO events (run_id, step_id, phase, status, record, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run_id, step.as_str(), phase.as_str(), status.as_str(), json, now()],
            )?;
            record_wave_jobs(&tx, run_id, step, record)?;
            tx.commit()
        })
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
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let mut adopted = 0;
            for job in jobs {
                adopted += tx.execute(
                    "INSERT OR IGNORE INTO jobs (job_id, app_id, step_id, job_type, linked_job_id, origin, run_id,
                         status, count_all, count_success, count_failed, count_warning)
                     VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![
                        job.job_id,
                        app_id,
                        job.job_type.as_str(),
                        job.linked_job_id,
                        JobOrigin::Adopted.as_str(),
                        run_id,
                        job.status.as_str(),
                        job.count_all as i64,
                        job.count_success as i64,
                        job.count_failed as i64,
                        job.count_warning as i64
                    ],
                )?;
            }
            tx.commit()?;
            Ok(adopted)
        })
    }

    /// Every job this state knows (started by its waves or adopted), in the order it learned
    /// of them.
    pub fn known_jobs(&self) -> Result<Vec<KnownJob>, JournalError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT job_id, app_id, step_id, job_type, linked_job_id, origin, run_id, status,
                        count_all, count_success, count_failed, count_warning
                 FROM jobs ORDER BY rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                let counts = match (
                    r.get::<_, Option<i64>>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                    r.get::<_, Option<i64>>(10)?,
                    r.get::<_, Option<i64>>(11)?,
                ) {
                    (Some(all), Some(success), Some(failed), Some(warning)) => Some(JobCounts {
                        all: all.max(0) as u64,
                        success: success.max(0) as u64,
                        failed: failed.max(0) as u64,
                        warning: warning.max(0) as u64,
                    }),
                    _ => None,
                };
                Ok(KnownJob {
                    job_id: r.get(0)?,
                    app_id: r.get(1)?,
                    step_id: r.get(2)?,
                    job_type: match r.get::<_, Option<String>>(3)? {
                        Some(text) => Some(
                            crate::api::JobType::parse(&text)
                                .ok_or_else(|| unknown(3, "job type", &text))?,
                        ),
                        None => None,
                    },
                    linked_job_id: r.get(4)?,
                    origin: typed(r, 5, "job origin", JobOrigin::parse)?,
                    run_id: r.get(6)?,
                    status: match r.get::<_, Option<String>>(7)? {
                        Some(text) => Some(
                            crate::api::JobStatus::parse(&text)
                                .ok_or_else(|| unknown(7, "job status", &text))?,
                        ),
                        None => None,
                    },
                    counts,
                })
            })?;
            rows.collect()
        })
    }

    /// Whether the journal holds any record of a step of `pair`.
    pub fn knows_pair(&self, pair: &str) -> Result<bool, JournalError> {
        let prefix = format!("{pair}/");
        self.with(|c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM steps WHERE substr(step_id, 1, length(?1)) = ?1)",
                params![prefix],
                |r| r.get(0),
            )
        })
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
        let json = serde_json::to_string(record).unwrap_or_else(|_| "{}".into());
        self.with(|c| {
            c.execute(
                "INSERT INTO events (run_id, step_id, phase, status, record, at) VALUES (?1, ?2, ?3, 'error', ?4, ?5)",
                params![run_id, step.as_str(), Phase::Error.as_str(), json, now()],
            )?;
            Ok(())
        })
    }

    pub fn step(&self, step: &StepId) -> Result<Option<StepState>, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT status, record, run_id, updated_at FROM steps WHERE step_id = ?1",
                params![step.as_str()],
                |r| {
                    Ok(StepState {
                        status: typed(r, 0, "step status", StepStatus::parse)?,
                        record: parse_record(r, 1)?,
                        run_id: r.get(2)?,
                        updated_at: r.get(3)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Every step's state, by step ID.
    pub fn steps(&self) -> Result<Vec<(String, StepState)>, JournalError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT step_id, status, record, run_id, updated_at FROM steps ORDER BY step_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    StepState {
                        status: typed(r, 1, "step status", StepStatus::parse)?,
                        record: parse_record(r, 2)?,
                        run_id: r.get(3)?,
                        updated_at: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// IDs of every job this state knows: every job any of its waves ever started (earlier
    /// jobs of a wave run again included) and every adopted one. A job is never claimed by two
    /// waves, and a job not in this list was not started from this state.
    pub fn claimed_jobs(&self) -> Result<std::collections::HashSet<String>, JournalError> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT job_id FROM jobs")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
    }

    /// The audit trail: every event, oldest first.
    pub fn events(&self) -> Result<Vec<Event>, JournalError> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT run_id, step_id, phase, status, record FROM events ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                let phase = typed(r, 2, "event phase", Phase::parse)?;
                let status = match phase {
                    Phase::Error => None,
                    _ => Some(typed(r, 3, "step status", StepStatus::parse)?),
                };
                Ok(Event {
                    run_id: r.get(0)?,
                    step_id: r.get(1)?,
                    phase,
                    status,
                    record: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_from_before_the_jobs_table_keeps_its_waves_jobs_known() {
        let dir = tempfile::tempdir().unwrap();
        {
            // The tables as they were: a wave's jobs only in its step record.
            let conn = Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
            conn.execute_batch(
                "CREATE TABLE steps (step_id TEXT PRIMARY KEY, status TEXT NOT NULL,
                     record TEXT NOT NULL, run_id INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                 INSERT INTO steps VALUES ('p/batch/w', 'failed',
                     '{\"app_id\":\"app\",\"snapshot_job_id\":\"s1\",\"clone_job_id\":\"m1\",\"job_status\":\"failed\"}', 3, 0);
                 INSERT INTO steps VALUES ('p/link', 'done', '{\"action\":\"link\"}', 3, 0);",
            )
            .unwrap();
        }
        let journal = Journal::open(dir.path()).unwrap();
        let claimed = journal.claimed_jobs().unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(claimed.contains("s1") && claimed.contains("m1"));
        let known = journal.known_jobs().unwrap();
        assert!(known.iter().all(|k| k.origin == JobOrigin::Wave
            && k.step_id.as_deref() == Some("p/batch/w")
            && k.app_id.as_deref() == Some("app")
            && k.run_id == 3));
        assert!(journal.knows_pair("p").unwrap());
        assert!(!journal.knows_pair("q").unwrap());
        // Opening again changes nothing.
        drop(journal);
        assert_eq!(
            Journal::open(dir.path())
                .unwrap()
                .known_jobs()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_finished_job_keeps_its_counts_and_adopted_jobs_are_known() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let run = journal.start_run("plan", "apply").unwrap();
        let step = StepId::new_raw("p/batch/w");
        let mut record = StepRecord {
            app_id: Some("app".into()),
            snapshot_job_id: Some("s1".into()),
            clone_job_id: Some("m1".into()),
            ..StepRecord::default()
        };
        journal
            .record(run, &step, Phase::Started, StepStatus::Running, &record)
            .unwrap();
        record.job_status = Some(crate::api::JobStatus::Partial);
        record.counts = Some(JobCounts {
            all: 10,
            success: 7,
            failed: 2,
            warning: 1,
        });
        journal
            .record(run, &step, Phase::Outcome, StepStatus::Done, &record)
            .unwrap();
        let known = journal.known_jobs().unwrap();
        let m1 = known.iter().find(|k| k.job_id == "m1").unwrap();
        assert_eq!(m1.status, Some(crate::api::JobStatus::Partial));
        assert_eq!(m1.counts, record.counts);
        assert_eq!(m1.linked_job_id.as_deref(), Some("s1"));

        let listed: crate::api::MigrationJob = serde_json::from_value(serde_json::json!({
            "job_id": "other", "type": "migration", "public_application_id": "app",
            "status": "completed", "count_all": 5, "count_success": 5, "count_failed": 0,
            "count_warning": 0, "created_at": 0, "updated_at": 0
        }))
        .unwrap();
        assert_eq!(
            journal
                .adopt_jobs(run, "app", std::slice::from_ref(&listed))
                .unwrap(),
            1
        );
        assert_eq!(journal.adopt_jobs(run, "app", &[listed]).unwrap(), 0);
        let adopted = journal.known_jobs().unwrap();
        let other = adopted.iter().find(|k| k.job_id == "other").unwrap();
        assert_eq!(other.origin, JobOrigin::Adopted);
        assert_eq!(other.step_id, None);
        assert_eq!(other.counts.map(|c| c.all), Some(5));
    }

    #[test]
    fn a_value_this_version_does_not_know_is_an_error_not_a_default() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let run = journal.start_run("plan", "apply").unwrap();
        let step = StepId::new_raw("p/link");
        journal
            .record(
                run,
                &step,
                Phase::Intent,
                StepStatus::Intent,
                &StepRecord::default(),
            )
            .unwrap();
        let edit = |sql: &str| {
            Connection::open(dir.path().join(JOURNAL_FILE))
                .unwrap()
                .execute_batch(sql)
                .unwrap()
        };
        fn unknown<T: std::fmt::Debug>(result: Result<T, JournalError>) -> String {
            match result {
                Err(JournalError::Unknown { what, value, .. }) => format!("{what} {value}"),
                other => panic!("expected an unknown-value error, got {other:?}"),
            }
        }
        // Before, an unknown status read as `intent`: a step done by a newer version would be
        // observed and written again.
        edit("UPDATE steps SET status = 'superseded'");
        assert_eq!(unknown(journal.step(&step)), "step status \"superseded\"");
        assert!(journal.steps().is_err());
        edit("UPDATE steps SET status = 'done', record = '{\"job_status\":\"paused\"}'");
        assert!(unknown(journal.step(&step)).starts_with("step record ("));
        edit("UPDATE events SET phase = 'rolled-back'");
        assert_eq!(unknown(journal.events()), "event phase \"rolled-back\"");
        edit("UPDATE runs SET outcome = 'aborted\x1b'");
        journal.finish_run(run, RunOutcome::Done).unwrap();
        assert_eq!(journal.runs().unwrap()[0].outcome, Some(RunOutcome::Done));
        edit("UPDATE runs SET outcome = 'aborted'");
        assert_eq!(unknown(journal.runs()), "run outcome \"aborted\"");
        edit("INSERT INTO jobs (job_id, origin, run_id) VALUES ('j', 'borrowed', 1)");
        assert_eq!(unknown(journal.known_jobs()), "job origin \"borrowed\"");
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
