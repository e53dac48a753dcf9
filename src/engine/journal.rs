//! The journal: an embedded SQLite database in the state folder. It records every run, and for
//! every step its intent before the write and its outcome after, with request IDs, job IDs,
//! counts and secret fingerprints (never a secret). It is the audit trail, and what makes a
//! killed run resumable: an intent without an outcome is resolved by observing before acting.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::graph::StepId;

mod translate;
pub use translate::{ChainProgress, FinishedPage, TranslateSession};

pub const JOURNAL_FILE: &str = "journal.sqlite";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("journal {path}: {source}")]
#[diagnostic(
    code(state::journal),
    help(
        "the journal is the state folder's journal.sqlite; check the folder is writable and not on a network share"
    )
)]
pub struct JournalError {
    path: String,
    source: rusqlite::Error,
}

/// A step's last known state in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// A write was about to be sent; whether it happened is unknown until observed.
    Intent,
    /// The step's write is known to have happened (or was found already done).
    Done,
    /// The step failed; it will be observed and tried again by the next run.
    Failed,
    /// A batch wave whose jobs exist and are not finished.
    Running,
}

impl StepStatus {
    fn as_str(&self) -> &'static str {
        match self {
            StepStatus::Intent => "intent",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Running => "running",
        }
    }

    fn parse(s: &str) -> StepStatus {
        match s {
            "done" => StepStatus::Done,
            "failed" => StepStatus::Failed,
            "running" => StepStatus::Running,
            _ => StepStatus::Intent,
        }
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
    pub grant_status: Option<String>,
    /// Batch: jobs that existed before this wave's request (to recognise its jobs after a
    /// crash), and the wave's jobs once known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs_before: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<JobCounts>,
    /// Connector: fingerprints of the secrets last written, by setting name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprints: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    pub all: u64,
    pub success: u64,
    pub failed: u64,
    pub warning: u64,
}

/// A step's row: status, record, the run that wrote it, when.
#[derive(Debug, Clone, PartialEq)]
pub struct StepState {
    pub status: StepStatus,
    pub record: StepRecord,
    pub run_id: i64,
    pub updated_at: i64,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub run_id: i64,
    pub step_id: String,
    /// `intent`, `outcome`, `started` (a wave's jobs known), `observed` (found done).
    pub phase: String,
    pub status: String,
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
    pub outcome: Option<String>,
}

#[derive(Debug)]
pub struct Journal {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Journal {
    /// Opens (creating if needed) the journal in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        let path = state_dir.join(JOURNAL_FILE);
        let err = |source| JournalError {
            path: path.display().to_string(),
            source,
        };
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
             );",
        )
        .map_err(err)?;
        Ok(Journal {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError {
            path: self.path.display().to_string(),
            source,
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

    pub fn finish_run(&self, run_id: i64, outcome: &str) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET finished_at = ?1, outcome = ?2 WHERE id = ?3",
                params![now(), outcome, run_id],
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
                    outcome: r.get(4)?,
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
        phase: &str,
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
                params![run_id, step.as_str(), phase, status.as_str(), json, now()],
            )?;
            tx.commit()
        })
    }

    /// Appends to the audit trail only, leaving the step's state as it is: an error while a
    /// write's outcome is unknown (an intent, a running wave) must not erase what the next run
    /// needs to resolve it.
    pub fn note(
        &self,
        run_id: i64,
        step: &StepId,
        phase: &str,
        record: &StepRecord,
    ) -> Result<(), JournalError> {
        let json = serde_json::to_string(record).unwrap_or_else(|_| "{}".into());
        self.with(|c| {
            c.execute(
                "INSERT INTO events (run_id, step_id, phase, status, record, at) VALUES (?1, ?2, ?3, 'error', ?4, ?5)",
                params![run_id, step.as_str(), phase, json, now()],
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
                    let status: String = r.get(0)?;
                    let record: String = r.get(1)?;
                    Ok(StepState {
                        status: StepStatus::parse(&status),
                        record: serde_json::from_str(&record).unwrap_or_default(),
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
                let status: String = r.get(1)?;
                let record: String = r.get(2)?;
                Ok((
                    r.get::<_, String>(0)?,
                    StepState {
                        status: StepStatus::parse(&status),
                        record: serde_json::from_str(&record).unwrap_or_default(),
                        run_id: r.get(3)?,
                        updated_at: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// Job IDs the journal attributes to any wave (so a job is never claimed by two waves).
    pub fn claimed_jobs(&self) -> Result<Vec<String>, JournalError> {
        // Only waves' rows hold job IDs: read those two fields in SQL rather than decoding
        // every step's record (tens of thousands with many test accounts).
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT json_extract(record, '$.snapshot_job_id'), json_extract(record, '$.clone_job_id')
                 FROM steps WHERE json_extract(record, '$.snapshot_job_id') IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok([r.get::<_, Option<String>>(0)?, r.get::<_, Option<String>>(1)?])
            })?;
            let mut ids = Vec::new();
            for row in rows {
                ids.extend(row?.into_iter().flatten());
            }
            Ok(ids)
        })
    }

    /// The audit trail: every event, oldest first.
    pub fn events(&self) -> Result<Vec<Event>, JournalError> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT run_id, step_id, phase, status, record FROM events ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Event {
                    run_id: r.get(0)?,
                    step_id: r.get(1)?,
                    phase: r.get(2)?,
                    status: r.get(3)?,
                    record: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }
}
