//! A plan's journal in PostgreSQL: the [`Store`] the journal uses, its reads on a connection
//! of its own, its writes fenced on the lock's session once the run holds the lock.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use super::batch::Entry;
use super::error::{Failure, describe, parse_record, typed};
use super::lock::LockSession;
use super::lookup::Lookup;
use super::schema::prepare;
use super::worker::{Job, Session, Worker, blocking, journal_setup};
use super::write::{
    FENCED_FINISH_RUN, FENCED_START_RUN, JOB_FINISHED, NOTE, RECORD, RECORD_IF_MINE, START_RUN,
    WAVE_JOB, WriteFn, transact,
};
use crate::graph::StepId;
use crate::state::fingerprint::Fingerprinter;
use crate::state::journal::{
    Event, JobCounts, JobOrigin, JournalError, KnownJob, LockFence, Phase, PostgresTarget,
    RunOutcome, RunRecord, StepRecord, StepState, StepStatus, Store, UnknownValue, now,
    record_json, wave_jobs,
};

fn counts(
    all: Option<i64>,
    success: Option<i64>,
    failed: Option<i64>,
    warning: Option<i64>,
) -> Option<JobCounts> {
    match (all, success, failed, warning) {
        (Some(all), Some(success), Some(failed), Some(warning)) => Some(JobCounts {
            all: all.max(0) as u64,
            success: success.max(0) as u64,
            failed: failed.max(0) as u64,
            warning: warning.max(0) as u64,
        }),
        _ => None,
    }
}

/// A step's new state and its event, with a wave's jobs; `only_if_mine`: only when the step's
/// row is still run `run_id`'s ([`RECORD_IF_MINE`]). Answers whether it was recorded.
fn record_write(
    run_id: i64,
    step: &StepId,
    phase: Phase,
    status: StepStatus,
    record: &StepRecord,
    only_if_mine: bool,
) -> WriteFn<bool> {
    let json = record_json(record);
    let step = step.as_str().to_owned();
    let jobs = wave_jobs(record);
    Box::new(move |tx, p, plan| {
        let at = now();
        let params: [&(dyn postgres::types::ToSql + Sync); 7] = [
            &plan,
            &step,
            &status.as_str(),
            &json,
            &run_id,
            &at,
            &phase.as_str(),
        ];
        let sql = if only_if_mine { RECORD_IF_MINE } else { RECORD };
        if tx.execute(p.get(sql)?, &params)? == 0 {
            return Ok(false);
        }
        for job in &jobs {
            tx.execute(
                p.get(WAVE_JOB)?,
                &[
                    &plan,
                    &job.job_id,
                    &job.app_id,
                    &step,
                    &job.job_type,
                    &job.linked_job_id,
                    &run_id,
                ],
            )?;
            if let Some(status) = job.status {
                let [all, success, failed, warning] = job.counts;
                tx.execute(
                    p.get(JOB_FINISHED)?,
                    &[
                        &plan,
                        &job.job_id,
                        &status,
                        &all,
                        &success,
                        &failed,
                        &warning,
                    ],
                )?;
            }
        }
        Ok(true)
    })
}

/// A plan's journal in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PostgresStore {
    /// The journal's own connection: reads, and writes when no lock fences them.
    worker: Worker<Lookup>,
    plan_id: i64,
    location: String,
    /// The lock's session, once the run holds the lock: every write goes through it, fenced.
    fence: OnceLock<Arc<LockSession>>,
    /// The steps' rows while this run holds the lock (see [`Rows`]).
    rows: Rows,
}

/// A row per step, by step ID.
type RowMap = std::collections::HashMap<String, StepState>;

/// The plan's steps' rows, read in one query once the run holds the lock, then kept as this
/// run's own fenced writes commit: a step reads its row before it acts, and a database at a
/// distance would make each read a round trip on the pair's path (link, import, the first
/// clones one after the other). Exact only while no one else writes the plan's rows, so kept
/// only when the lock was taken from a holder that settled its epoch (a holder that lost the
/// lock may still record the outcome of a write it had in flight, on its own connection, until
/// it settles), and dropped at the first write whose outcome is not known committed (an error,
/// a lost lock): reads go to the database from then on. `None`: not kept.
#[derive(Debug, Default)]
struct Rows(std::sync::Mutex<Option<RowMap>>);

impl Rows {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<RowMap>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The row of `step` if the rows are kept (`None`: ask the database).
    fn get(&self, step: &str) -> Option<Option<StepState>> {
        self.lock().as_ref().map(|rows| rows.get(step).cloned())
    }

    /// A committed write of this run: the row as the database now holds it (the record as
    /// stored and read back; the time is this machine's, within a second of the stored one).
    fn written(&self, run_id: i64, step: &str, status: StepStatus, record: &StepRecord) {
        let mut rows = self.lock();
        let Some(kept) = rows.as_mut() else { return };
        match parse_record(&record_json(record)) {
            Ok(record) => {
                kept.insert(
                    step.to_owned(),
                    StepState {
                        status,
                        record,
                        run_id,
                        updated_at: now(),
                    },
                );
            }
            Err(_) => *rows = None,
        }
    }

    fn drop_all(&self) {
        *self.lock() = None;
    }
}

impl PostgresStore {
    /// Connects, creates or upgrades the schema, and makes the plan known.
    pub(crate) fn open(target: &PostgresTarget, plan: &str) -> Result<PostgresStore, JournalError> {
        PostgresStore::connect(target, plan, true)?
            .ok_or_else(|| Failure::Gone.into_journal(&describe(target, plan)))
    }

    /// The plan's journal if the database has one; creates nothing.
    pub(crate) fn existing(
        target: &PostgresTarget,
        plan: &str,
    ) -> Result<Option<PostgresStore>, JournalError> {
        PostgresStore::connect(target, plan, false)
    }

    fn connect(
        target: &PostgresTarget,
        plan: &str,
        create: bool,
    ) -> Result<Option<PostgresStore>, JournalError> {
        let location = describe(target, plan);
        let worker = Worker::<Lookup>::start(target, "nylas-migrate", journal_setup, true)
            .map_err(|e| e.into_journal(&location))?;
        let name = plan.to_owned();
        let plan_id = worker
            .call(move |s| prepare(&mut s.client, &name, create))
            .map_err(|e| e.into_journal(&location))?;
        Ok(plan_id.map(|plan_id| PostgresStore {
            worker,
            plan_id,
            location,
            fence: OnceLock::new(),
            rows: Rows::default(),
        }))
    }

    /// A write: fenced on the lock's session when the run holds the lock, otherwise in a
    /// transaction on the journal's connection.
    fn write<T: Send + 'static>(&self, f: WriteFn<T>) -> Result<T, JournalError> {
        let result = match self.fence.get() {
            Some(session) => session.write(f),
            None => {
                let plan = self.plan_id;
                self.worker.call(move |s| transact(s, plan, None, f))
            }
        };
        result.map_err(|e| e.into_journal(&self.location))
    }

    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session, i64) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, JournalError> {
        let plan = self.plan_id;
        self.worker
            .call(move |s| f(s, plan))
            .map_err(|e| e.into_journal(&self.location))
    }
}

impl Store for PostgresStore {
    fn start_run(&self, plan_name: &str, command: &str) -> Result<i64, JournalError> {
        let (name, command) = (plan_name.to_owned(), command.to_owned());
        if let Some(session) = self.fence.get() {
            return session
                .statement(move |s, (plan, epoch, key)| {
                    let statement = s.prepared(FENCED_START_RUN)?;
                    let row = s
                        .client
                        .query_one(&statement, &[&plan, &epoch, &key, &name, &command, &now()])?;
                    let (fenced, id): (i64, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
                    Ok(id.filter(|_| fenced > 0))
                })
                .map_err(|e| e.into_journal(&self.location));
        }
        self.write(Box::new(move |tx, p, plan| {
            Ok(tx
                .query_one(p.get(START_RUN)?, &[&plan, &name, &command, &now()])?
                .try_get(0)?)
        }))
    }

    fn finish_run(&self, run_id: i64, outcome: RunOutcome) -> Result<(), JournalError> {
        if let Some(session) = self.fence.get() {
            return session
                .statement(move |s, (plan, epoch, key)| {
                    let statement = s.prepared(FENCED_FINISH_RUN)?;
                    let row = s.client.query_one(
                        &statement,
                        &[&plan, &epoch, &key, &run_id, &now(), &outcome.as_str()],
                    )?;
                    Ok((row.try_get::<_, i64>(0)? > 0).then_some(()))
                })
                .map_err(|e| e.into_journal(&self.location));
        }
        self.write(Box::new(move |tx, _, plan| {
            tx.execute(
                "UPDATE nylas_migrate.runs SET finished_at = $3, outcome = $4
                 WHERE plan_id = $1 AND id = $2",
                &[&plan, &run_id, &now(), &outcome.as_str()],
            )?;
            Ok(())
        }))
    }

    fn runs(&self) -> Result<Vec<RunRecord>, JournalError> {
        self.call(|s, plan| {
            let rows = s.client.query(
                "SELECT id, plan_name, started_at, finished_at, outcome FROM nylas_migrate.runs
                 WHERE plan_id = $1 ORDER BY id",
                &[&plan],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(RunRecord {
                        id: r.try_get(0)?,
                        plan_name: r.try_get(1)?,
                        started_at: r.try_get(2)?,
                        finished_at: r.try_get(3)?,
                        outcome: match r.try_get::<_, Option<String>>(4)? {
                            Some(text) => Some(typed(&text, "run outcome", RunOutcome::parse)?),
                            None => None,
                        },
                    })
                })
                .collect()
        })
    }

    fn record(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<(), JournalError> {
        match self.fence.get() {
            Some(session) => {
                match session.record(Entry::record(run_id, step.as_str(), phase, status, record)) {
                    Ok(()) => {
                        self.rows.written(run_id, step.as_str(), status, record);
                        Ok(())
                    }
                    Err(e) => {
                        // Committed or not cannot always be told: ask the database from now on.
                        self.rows.drop_all();
                        Err(e.into_journal(&self.location))
                    }
                }
            }
            None => self
                .write(record_write(run_id, step, phase, status, record, false))
                .map(|_| ()),
        }
    }

    fn record_if_mine(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<bool, JournalError> {
        // On the journal's connection (reopened if need be), not the lost lock's.
        self.rows.drop_all();
        let f = record_write(run_id, step, phase, status, record, true);
        let plan = self.plan_id;
        self.worker
            .call(move |s| transact(s, plan, None, f))
            .map_err(|e| e.into_journal(&self.location))
    }

    fn adopt_jobs(
        &self,
        run_id: i64,
        app_id: &str,
        jobs: &[crate::api::MigrationJob],
    ) -> Result<usize, JournalError> {
        let app_id = app_id.to_owned();
        let jobs: Vec<_> = jobs
            .iter()
            .map(|job| {
                (
                    job.job_id.clone(),
                    job.job_type.as_str(),
                    job.linked_job_id.clone(),
                    job.status.as_str(),
                    [
                        job.count_all as i64,
                        job.count_success as i64,
                        job.count_failed as i64,
                        job.count_warning as i64,
                    ],
                )
            })
            .collect();
        self.write(Box::new(move |tx, _, plan| {
            let mut adopted = 0;
            for (job_id, job_type, linked, status, [all, success, failed, warning]) in &jobs {
                adopted += tx.execute(
                    "INSERT INTO nylas_migrate.jobs (plan_id, job_id, app_id, step_id, job_type,
                         linked_job_id, origin, run_id, status, count_all, count_success,
                         count_failed, count_warning)
                     VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (plan_id, job_id) DO NOTHING",
                    &[
                        &plan,
                        job_id,
                        &app_id,
                        job_type,
                        linked,
                        &JobOrigin::Adopted.as_str(),
                        &run_id,
                        status,
                        all,
                        success,
                        failed,
                        warning,
                    ],
                )? as usize;
            }
            Ok(adopted)
        }))
    }

    fn known_jobs(&self) -> Result<Vec<KnownJob>, JournalError> {
        self.call(|s, plan| {
            let rows = s.client.query(
                "SELECT job_id, app_id, step_id, job_type, linked_job_id, origin, run_id, status,
                        count_all, count_success, count_failed, count_warning
                 FROM nylas_migrate.jobs WHERE plan_id = $1 ORDER BY seq",
                &[&plan],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(KnownJob {
                        job_id: r.try_get(0)?,
                        app_id: r.try_get(1)?,
                        step_id: r.try_get(2)?,
                        job_type: match r.try_get::<_, Option<String>>(3)? {
                            Some(text) => {
                                Some(typed(&text, "job type", crate::api::JobType::parse)?)
                            }
                            None => None,
                        },
                        linked_job_id: r.try_get(4)?,
                        origin: typed(&r.try_get::<_, String>(5)?, "job origin", JobOrigin::parse)?,
                        run_id: r.try_get(6)?,
                        status: match r.try_get::<_, Option<String>>(7)? {
                            Some(text) => {
                                Some(typed(&text, "job status", crate::api::JobStatus::parse)?)
                            }
                            None => None,
                        },
                        counts: counts(
                            r.try_get(8)?,
                            r.try_get(9)?,
                            r.try_get(10)?,
                            r.try_get(11)?,
                        ),
                    })
                })
                .collect()
        })
    }

    fn knows_pair(&self, pair: &str) -> Result<bool, JournalError> {
        let prefix = format!("{pair}/");
        self.call(move |s, plan| {
            Ok(s.client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM nylas_migrate.steps
                         WHERE plan_id = $1 AND left(step_id, length($2)) = $2)",
                    &[&plan, &prefix],
                )?
                .try_get(0)?)
        })
    }

    /// One query for every pair: the pairs (a pair's name holds no `/`) of the plan's steps.
    fn knows_pairs(&self, pairs: &[&str]) -> Result<Vec<bool>, JournalError> {
        if pairs.iter().any(|p| p.contains('/')) {
            return pairs.iter().map(|pair| self.knows_pair(pair)).collect();
        }
        let asked: Vec<String> = pairs.iter().map(|p| (*p).to_owned()).collect();
        let known: HashSet<String> = self.call(move |s, plan| {
            let rows = s.client.query(
                "SELECT DISTINCT split_part(step_id, '/', 1) FROM nylas_migrate.steps
                 WHERE plan_id = $1 AND strpos(step_id, '/') > 0
                   AND split_part(step_id, '/', 1) = ANY($2)",
                &[&plan, &asked],
            )?;
            rows.iter()
                .map(|r| Ok(r.try_get::<_, String>(0)?))
                .collect()
        })?;
        Ok(pairs.iter().map(|p| known.contains(*p)).collect())
    }

    fn note(&self, run_id: i64, step: &StepId, record: &StepRecord) -> Result<(), JournalError> {
        if let Some(session) = self.fence.get() {
            return session
                .record(Entry::note(run_id, step.as_str(), record))
                .map_err(|e| e.into_journal(&self.location));
        }
        let json = record_json(record);
        let step = step.as_str().to_owned();
        self.write(Box::new(move |tx, p, plan| {
            tx.execute(p.get(NOTE)?, &[&plan, &run_id, &step, &json, &now()])?;
            Ok(())
        }))
    }

    fn step(&self, step: &StepId) -> Result<Option<StepState>, JournalError> {
        if let Some(row) = self.rows.get(step.as_str()) {
            return Ok(row);
        }
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.worker
            .send(Job::Grouped(Lookup {
                plan: self.plan_id,
                step: step.as_str().to_owned(),
                answer,
            }))
            .map_err(|e| e.into_journal(&self.location))?;
        blocking(|| answered.recv())
            .unwrap_or(Err(Failure::Gone))
            .map_err(|e| e.into_journal(&self.location))
    }

    fn steps(&self) -> Result<Vec<(String, StepState)>, JournalError> {
        self.call(|s, plan| {
            // Byte order, as SQLite sorts them, whatever the database's collation.
            let rows = s.client.query(
                "SELECT step_id, status, record, run_id, updated_at FROM nylas_migrate.steps
                 WHERE plan_id = $1 ORDER BY step_id COLLATE \"C\"",
                &[&plan],
            )?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get(0)?,
                        StepState {
                            status: typed(
                                &r.try_get::<_, String>(1)?,
                                "step status",
                                StepStatus::parse,
                            )?,
                            record: parse_record(&r.try_get::<_, String>(2)?)?,
                            run_id: r.try_get(3)?,
                            updated_at: r.try_get(4)?,
                        },
                    ))
                })
                .collect()
        })
    }

    fn claimed_jobs(&self) -> Result<HashSet<String>, JournalError> {
        self.call(|s, plan| {
            let rows = s.client.query(
                "SELECT job_id FROM nylas_migrate.jobs WHERE plan_id = $1",
                &[&plan],
            )?;
            rows.iter()
                .map(|r| Ok(r.try_get::<_, String>(0)?))
                .collect()
        })
    }

    fn events(&self) -> Result<Vec<Event>, JournalError> {
        self.call(|s, plan| {
            let rows = s.client.query(
                "SELECT run_id, step_id, phase, status, record FROM nylas_migrate.events
                 WHERE plan_id = $1 ORDER BY id",
                &[&plan],
            )?;
            rows.iter()
                .map(|r| {
                    let phase = typed(&r.try_get::<_, String>(2)?, "event phase", Phase::parse)?;
                    let status = match phase {
                        Phase::Error => None,
                        _ => Some(typed(
                            &r.try_get::<_, String>(3)?,
                            "step status",
                            StepStatus::parse,
                        )?),
                    };
                    Ok(Event {
                        run_id: r.try_get(0)?,
                        step_id: r.try_get(1)?,
                        phase,
                        status,
                        record: r.try_get(4)?,
                    })
                })
                .collect()
        })
    }

    fn fingerprinter(&self) -> Result<Fingerprinter, JournalError> {
        self.call(|s, plan| {
            let key = Fingerprinter::new_key();
            s.client.execute(
                "INSERT INTO nylas_migrate.fingerprint_keys (plan_id, key) VALUES ($1, $2)
                 ON CONFLICT (plan_id) DO NOTHING",
                &[&plan, &key.as_slice()],
            )?;
            let stored: Vec<u8> = s
                .client
                .query_one(
                    "SELECT key FROM nylas_migrate.fingerprint_keys WHERE plan_id = $1",
                    &[&plan],
                )?
                .try_get(0)?;
            Fingerprinter::from_key(&stored).ok_or_else(|| {
                Failure::Unknown(UnknownValue {
                    what: "fingerprint key",
                    value: format!("of {} bytes", stored.len()),
                })
            })
        })
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    /// From now on every write goes through the lock's session, fenced (see
    /// [`LockSession::write`]). Another backend's fence leaves the store as it is.
    fn fence_with(&self, fence: Arc<dyn LockFence>) {
        let fence: Arc<dyn std::any::Any + Send + Sync> = fence;
        if let Ok(session) = fence.downcast::<LockSession>() {
            // The steps' rows are read once and kept while no one else can write them
            // ([`Rows`]).
            let alone = session.previous_settled() && session.lost().is_none();
            if self.fence.set(session).is_ok() {
                let rows = if alone {
                    self.steps().ok().map(|rows| rows.into_iter().collect())
                } else {
                    None
                };
                *self.rows.lock() = rows;
            }
        }
    }
}
