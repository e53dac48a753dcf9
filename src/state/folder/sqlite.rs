//! The embedded backend: an SQLite database, `journal.sqlite`, in the state folder, with the
//! fingerprint key beside it. One plan per folder (the folder is the plan's state). The
//! translate checkpoints live here too (see `translate.rs`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::JOURNAL_FILE;
use crate::graph::StepId;
use crate::state::fingerprint::Fingerprinter;
use crate::state::journal::{
    Event, JobCounts, JobOrigin, JournalError, KnownJob, Phase, RunOutcome, RunRecord, StepRecord,
    StepState, StepStatus, Store, UnknownValue, now, record_json, wave_jobs,
};

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

/// Keeps the jobs table in step with a wave's record: its jobs once known, and its migration
/// job's status and counts once finished ([`wave_jobs`], as every backend reads them).
fn record_wave_jobs(
    tx: &rusqlite::Transaction<'_>,
    run_id: i64,
    step: &StepId,
    record: &StepRecord,
) -> rusqlite::Result<()> {
    for job in wave_jobs(record) {
        tx.execute(
            "INSERT OR IGNORE INTO jobs (job_id, app_id, step_id, job_type, linked_job_id, origin, run_id)
             VALUES (?1, ?2, ?3, ?4, ?5, 'wave', ?6)",
            params![
                job.job_id,
                job.app_id,
                step.as_str(),
                job.job_type,
                job.linked_job_id,
                run_id
            ],
        )?;
        if let Some(status) = job.status {
            let [all, success, failed, warning] = job.counts;
            tx.execute(
                "UPDATE jobs SET status = ?2, count_all = ?3, count_success = ?4, count_failed = ?5,
                     count_warning = ?6 WHERE job_id = ?1",
                params![job.job_id, status, all, success, failed, warning],
            )?;
        }
    }
    Ok(())
}

/// The schema version this build writes (`PRAGMA user_version`): 1, the jobs table filled from
/// the steps' records of a journal made before it. A journal of a newer version is refused.
pub(crate) const LATEST: i64 = 1;

/// Creates the tables, or brings a journal of schema `version` (older or current) up to
/// [`LATEST`].
fn migrate(conn: &Connection, version: i64) -> rusqlite::Result<()> {
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
    )?;
    // Journals written before the jobs table knew their waves' jobs only from the steps'
    // records: those stay known. Done once (schema version 1).
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
        ?;
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    dir: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the journal in `state_dir`.
    pub(crate) fn open(state_dir: &Path) -> Result<SqliteStore, JournalError> {
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
        // Before anything is written: a journal of a newer version keeps what this one cannot
        // read or would write wrong.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version > LATEST {
            return Err(JournalError::NewerSchema {
                location: format!("journal {}", path.display()),
                found: i32::try_from(version).unwrap_or(i32::MAX),
                known: LATEST as i32,
            });
        }
        migrate(&conn, version).map_err(err)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = super::private::tighten(Path::new(&file));
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path,
            dir: state_dir.to_path_buf(),
        })
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> JournalError {
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

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, JournalError> {
        // A poisoned lock means a panic elsewhere while holding it; the connection itself is
        // still consistent (SQLite transactions), so keep using it.
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|e| self.err(e))
    }
}

impl Store for SqliteStore {
    fn start_run(&self, plan_name: &str, command: &str) -> Result<i64, JournalError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (plan_name, command, started_at) VALUES (?1, ?2, ?3)",
                params![plan_name, command, now()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn finish_run(&self, run_id: i64, outcome: RunOutcome) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET finished_at = ?1, outcome = ?2 WHERE id = ?3",
                params![now(), outcome.as_str(), run_id],
            )?;
            Ok(())
        })
    }

    fn runs(&self) -> Result<Vec<RunRecord>, JournalError> {
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

    fn record_if_mine(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<bool, JournalError> {
        let json = record_json(record);
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let updated = tx.execute(
                "UPDATE steps SET status = ?2, record = ?3, updated_at = ?5
                 WHERE step_id = ?1 AND run_id = ?4",
                params![step.as_str(), status.as_str(), json, run_id, now()],
            )?;
            if updated == 1 {
                tx.execute(
                    "INSERT INTO events (run_id, step_id, phase, status, record, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![run_id, step.as_str(), phase.as_str(), status.as_str(), json, now()],
                )?;
                record_wave_jobs(&tx, run_id, step, record)?;
            }
            tx.commit()?;
            Ok(updated == 1)
        })
    }

    /// Records a step's new state, and appends it to the audit trail, in one transaction.
    fn record(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<(), JournalError> {
        let json = record_json(record);
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
    fn adopt_jobs(
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
    fn known_jobs(&self) -> Result<Vec<KnownJob>, JournalError> {
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
    fn knows_pair(&self, pair: &str) -> Result<bool, JournalError> {
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
    fn note(&self, run_id: i64, step: &StepId, record: &StepRecord) -> Result<(), JournalError> {
        let json = record_json(record);
        self.with(|c| {
            c.execute(
                "INSERT INTO events (run_id, step_id, phase, status, record, at) VALUES (?1, ?2, ?3, 'error', ?4, ?5)",
                params![run_id, step.as_str(), Phase::Error.as_str(), json, now()],
            )?;
            Ok(())
        })
    }

    fn step(&self, step: &StepId) -> Result<Option<StepState>, JournalError> {
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
    fn steps(&self) -> Result<Vec<(String, StepState)>, JournalError> {
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
    fn claimed_jobs(&self) -> Result<HashSet<String>, JournalError> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT job_id FROM jobs")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
    }

    /// The audit trail: every event, oldest first.
    fn events(&self) -> Result<Vec<Event>, JournalError> {
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

    fn fingerprinter(&self) -> Result<Fingerprinter, JournalError> {
        Fingerprinter::load_or_create(&self.dir).map_err(|source| JournalError::Io {
            path: self.dir.display().to_string(),
            source,
        })
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::journal::Journal;

    /// The tables as they were before the jobs table: a wave's jobs only in its step record.
    const BEFORE_JOBS: &str = r#"
        CREATE TABLE steps (step_id TEXT PRIMARY KEY, status TEXT NOT NULL,
            record TEXT NOT NULL, run_id INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        INSERT INTO steps VALUES ('p/batch/w', 'failed',
            '{"app_id":"app","snapshot_job_id":"s1","clone_job_id":"m1","job_status":"failed"}', 3, 0);
        INSERT INTO steps VALUES ('p/link', 'done', '{"action":"link"}', 3, 0);"#;

    #[test]
    fn a_journal_of_a_newer_schema_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(JOURNAL_FILE);
        Connection::open(&file)
            .unwrap()
            .execute_batch("PRAGMA user_version = 7;")
            .unwrap();
        let err = Journal::open(dir.path()).unwrap_err();
        assert_eq!(
            miette::Diagnostic::code(&err).map(|c| c.to_string()),
            Some("state::schema-newer".to_owned())
        );
        assert_eq!(
            err.to_string(),
            format!(
                "journal {}: its schema is version 7, this nylas-migrate knows up to 1",
                file.display()
            )
        );
        let tables: i64 = Connection::open(&file)
            .unwrap()
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0, "nothing was created in it");
        // This version's own journal opens.
        let current = tempfile::tempdir().unwrap();
        drop(Journal::open(current.path()).unwrap());
        let version: i64 = Connection::open(current.path().join(JOURNAL_FILE))
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, LATEST);
        assert!(Journal::open(current.path()).is_ok());
    }

    #[test]
    fn a_journal_from_before_the_jobs_table_keeps_its_waves_jobs_known() {
        let dir = tempfile::tempdir().unwrap();
        Connection::open(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .execute_batch(BEFORE_JOBS)
            .unwrap();
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
}
