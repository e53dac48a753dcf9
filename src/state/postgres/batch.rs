//! Group commit on the lock's session: the journal's fenced step writes (intents, outcomes, a
//! wave's jobs, notes) that are waiting when the session is free are written together, in one
//! statement that checks the fence and writes every entry only if the fence holds. A batch
//! costs one round trip however many steps wait in it, so concurrent steps do not wait on each
//! other's commits; each writer is answered only once its batch committed (or failed: then
//! every writer of the batch gets the failure, and nothing of the batch was written).
//!
//! The fence is the same check a lone write made in its transaction before ([`super::FENCE`]):
//! the epoch is the newest and this very session holds the plan's advisory lock. Folded into
//! the statement as a CTE that every insert depends on, it is evaluated in the statement's one
//! snapshot, and the statement is its own transaction.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, mpsc};

use super::error::{Failure, chain};
use super::worker::{Grouped, Job, Session};
use super::write::{NOT_HOLDING, fence};
use crate::state::journal::{Phase, StepRecord, StepStatus, WaveJob, record_json, wave_jobs};

/// The most entries one batch carries (a bound on its parameters, not a pacing).
const MAX_BATCH: usize = 512;

/// The batch statement. `$1` plan, `$2` epoch, `$3` lock key, `$4` time; the entries as arrays
/// (`$5`–`$10`), then their jobs (`$11`–`$21`). Answers one row when the fence held.
const BATCH: &str = concat!(
    "WITH fence AS (",
    fence!(),
    "),
     entry AS (
         SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::int8[],
                              $10::bool[])
             WITH ORDINALITY AS x(step_id, phase, status, record, run_id, step_row, n)
         WHERE EXISTS (SELECT 1 FROM fence)
     ),
     step AS (
         INSERT INTO nylas_migrate.steps (plan_id, step_id, status, record, run_id, updated_at)
         SELECT $1, step_id, status, record, run_id, $4 FROM entry WHERE step_row ORDER BY n
         ON CONFLICT (plan_id, step_id) DO UPDATE SET status = EXCLUDED.status,
             record = EXCLUDED.record, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
     ),
     event AS (
         INSERT INTO nylas_migrate.events (plan_id, run_id, step_id, phase, status, record, at)
         SELECT $1, run_id, step_id, phase, status, record, $4 FROM entry ORDER BY n
     ),
     job AS (
         INSERT INTO nylas_migrate.jobs (plan_id, job_id, app_id, step_id, job_type,
             linked_job_id, origin, run_id, status, count_all, count_success, count_failed,
             count_warning)
         SELECT $1, job_id, app_id, step_id, job_type, linked_job_id, 'wave', run_id, status,
                count_all, count_success, count_failed, count_warning
         FROM unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
                     $16::int8[], $17::text[], $18::int8[], $19::int8[], $20::int8[],
                     $21::int8[])
             WITH ORDINALITY AS j(job_id, app_id, step_id, job_type, linked_job_id, run_id,
                                  status, count_all, count_success, count_failed,
                                  count_warning, n)
         WHERE EXISTS (SELECT 1 FROM fence)
         ORDER BY n
         ON CONFLICT (plan_id, job_id) DO UPDATE SET status = EXCLUDED.status,
             count_all = EXCLUDED.count_all, count_success = EXCLUDED.count_success,
             count_failed = EXCLUDED.count_failed, count_warning = EXCLUDED.count_warning
         WHERE EXCLUDED.status IS NOT NULL
     )
     SELECT count(*) FROM fence"
);

/// One fenced step write waiting for a batch: a step's new state and its event (with a wave's
/// jobs), or a note (the event alone).
#[derive(Debug)]
pub(super) struct Entry {
    run_id: i64,
    step: String,
    phase: &'static str,
    status: &'static str,
    json: String,
    /// Whether the step's row takes the new state (`false` for a note).
    step_row: bool,
    jobs: Vec<WaveJob>,
}

impl Entry {
    pub(super) fn record(
        run_id: i64,
        step: &str,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Entry {
        Entry {
            run_id,
            step: step.to_owned(),
            phase: phase.as_str(),
            status: status.as_str(),
            json: record_json(record),
            step_row: true,
            jobs: wave_jobs(record),
        }
    }

    pub(super) fn note(run_id: i64, step: &str, record: &StepRecord) -> Entry {
        Entry {
            run_id,
            step: step.to_owned(),
            phase: Phase::Error.as_str(),
            status: "error",
            json: record_json(record),
            step_row: false,
            jobs: Vec::new(),
        }
    }
}

/// An entry on its way to the lock session's thread, with the fence it must pass
/// (`(plan, epoch, lock key)`) and where its writer waits for the answer.
pub(super) struct Queued {
    pub(super) entry: Entry,
    pub(super) fence: (i64, i64, i64),
    pub(super) answer: mpsc::SyncSender<Result<(), Failure>>,
}

/// Writes `first` and every entry queued behind it (up to [`MAX_BATCH`], each step once: a
/// step's row is written once per statement) as one batch, and answers each writer. Returns a
/// job taken from the queue that is not part of the batch, to run next.
impl Grouped for Queued {
    fn commit(
        session: &mut Session,
        first: Queued,
        inbox: &mpsc::Receiver<Job<Queued>>,
    ) -> Option<Job<Queued>> {
        commit(session, first, inbox)
    }
}

fn commit(
    session: &mut Session,
    first: Queued,
    inbox: &mpsc::Receiver<Job<Queued>>,
) -> Option<Job<Queued>> {
    let mut steps = HashSet::from([first.entry.step.clone()]);
    let fence = first.fence;
    let mut batch = vec![first];
    let mut next = None;
    while batch.len() < MAX_BATCH {
        match inbox.try_recv() {
            Ok(Job::Grouped(queued))
                if queued.fence == fence
                    && (!queued.entry.step_row || !steps.contains(&queued.entry.step)) =>
            {
                if queued.entry.step_row {
                    steps.insert(queued.entry.step.clone());
                }
                batch.push(queued);
            }
            Ok(other) => {
                next = Some(other);
                break;
            }
            Err(_) => break,
        }
    }
    let entries: Vec<&Entry> = batch.iter().map(|q| &q.entry).collect();
    let result = write(session, fence, &entries);
    for queued in batch {
        let answer = match &result {
            Ok(()) => Ok(()),
            Err(failure) => Err(failure.again()),
        };
        let _ = queued.answer.send(answer);
    }
    next
}

/// The batch's statement, run once; a session that ended is a lost lock (its advisory lock went
/// with it), as for a lone fenced write.
fn write(session: &mut Session, fence: (i64, i64, i64), entries: &[&Entry]) -> Result<(), Failure> {
    if session.client.is_closed() {
        return Err(Failure::LockLost("its database session ended".into()));
    }
    match run(session, fence, entries) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::LockLost(NOT_HOLDING.into())),
        Err(e) if session.client.is_closed() || e.is_closed() => Err(Failure::LockLost(format!(
            "its database session ended: {}",
            chain(&e)
        ))),
        Err(e) => Err(Failure::Shared(Arc::new(e))),
    }
}

/// Every job of the batch once (a job two records name is inserted once; the last end known
/// wins), in the order first named, with the step and run that named it first.
fn batch_jobs(entries: &[&Entry]) -> Vec<(WaveJob, String, i64)> {
    let mut order: Vec<String> = Vec::new();
    let mut jobs: BTreeMap<String, (WaveJob, String, i64)> = BTreeMap::new();
    for entry in entries {
        for job in &entry.jobs {
            match jobs.get_mut(&job.job_id) {
                Some((known, _, _)) => {
                    if job.status.is_some() {
                        known.status = job.status;
                        known.counts = job.counts;
                    }
                }
                None => {
                    order.push(job.job_id.clone());
                    jobs.insert(
                        job.job_id.clone(),
                        (job.clone(), entry.step.clone(), entry.run_id),
                    );
                }
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| jobs.remove(&id))
        .collect()
}

/// Runs the statement: `true` when the fence held and everything was written.
fn run(
    session: &mut Session,
    (plan, epoch, key): (i64, i64, i64),
    entries: &[&Entry],
) -> Result<bool, postgres::Error> {
    let statement = session.prepared(BATCH)?;
    let step: Vec<&str> = entries.iter().map(|e| e.step.as_str()).collect();
    let phase: Vec<&str> = entries.iter().map(|e| e.phase).collect();
    let status: Vec<&str> = entries.iter().map(|e| e.status).collect();
    let record: Vec<&str> = entries.iter().map(|e| e.json.as_str()).collect();
    let run_id: Vec<i64> = entries.iter().map(|e| e.run_id).collect();
    let step_row: Vec<bool> = entries.iter().map(|e| e.step_row).collect();
    let jobs = batch_jobs(entries);
    let job_id: Vec<&str> = jobs.iter().map(|j| j.0.job_id.as_str()).collect();
    let app_id: Vec<Option<&str>> = jobs.iter().map(|j| j.0.app_id.as_deref()).collect();
    let job_step: Vec<&str> = jobs.iter().map(|j| j.1.as_str()).collect();
    let job_type: Vec<&str> = jobs.iter().map(|j| j.0.job_type).collect();
    let linked: Vec<Option<&str>> = jobs.iter().map(|j| j.0.linked_job_id.as_deref()).collect();
    let job_run: Vec<i64> = jobs.iter().map(|j| j.2).collect();
    let job_status: Vec<Option<&str>> = jobs.iter().map(|j| j.0.status).collect();
    let count = |i: usize| -> Vec<Option<i64>> { jobs.iter().map(|j| j.0.counts[i]).collect() };
    let (all, success, failed, warning) = (count(0), count(1), count(2), count(3));
    let at = crate::state::journal::now();
    let row = session.client.query_one(
        &statement,
        &[
            &plan,
            &epoch,
            &key,
            &at,
            &step,
            &phase,
            &status,
            &record,
            &run_id,
            &step_row,
            &job_id,
            &app_id,
            &job_step,
            &job_type,
            &linked,
            &job_run,
            &job_status,
            &all,
            &success,
            &failed,
            &warning,
        ],
    )?;
    let fenced: i64 = row.try_get(0)?;
    Ok(fenced > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::JobStatus;
    use crate::state::journal::JobCounts;

    fn wave(snapshot: &str, clone: &str, status: Option<JobStatus>) -> StepRecord {
        StepRecord {
            app_id: Some("app".into()),
            snapshot_job_id: Some(snapshot.into()),
            clone_job_id: Some(clone.into()),
            job_status: status,
            counts: status.map(|_| JobCounts {
                all: 3,
                success: 2,
                failed: 1,
                warning: 0,
            }),
            ..StepRecord::default()
        }
    }

    #[test]
    fn a_wave_record_names_its_jobs_and_its_migration_jobs_end() {
        let jobs = wave_jobs(&wave("s1", "c1", Some(JobStatus::Completed)));
        assert_eq!(jobs.len(), 2);
        assert_eq!(
            (jobs[0].job_type, jobs[0].status, jobs[0].counts),
            ("snapshot", None, [None; 4])
        );
        assert_eq!(jobs[0].linked_job_id.as_deref(), Some("c1"));
        assert_eq!(
            (jobs[1].job_type, jobs[1].status, jobs[1].counts),
            (
                "migration",
                Some(JobStatus::Completed.as_str()),
                [Some(3), Some(2), Some(1), Some(0)]
            )
        );
        assert!(wave_jobs(&StepRecord::default()).is_empty());
    }

    #[test]
    fn a_job_two_entries_name_is_written_once_with_the_last_end_known() {
        let running = Entry::record(
            1,
            "p/batch/a",
            Phase::Started,
            StepStatus::Running,
            &wave("s1", "c1", None),
        );
        let done = Entry::record(
            1,
            "p/batch/b",
            Phase::Outcome,
            StepStatus::Done,
            &wave("s2", "c1", Some(JobStatus::Completed)),
        );
        let jobs = batch_jobs(&[&running, &done]);
        let ids: Vec<(&str, &str)> = jobs
            .iter()
            .map(|j| (j.0.job_id.as_str(), j.1.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("s1", "p/batch/a"),
                ("c1", "p/batch/a"),
                ("s2", "p/batch/b")
            ]
        );
        assert_eq!(jobs[1].0.status, Some(JobStatus::Completed.as_str()));
    }
}
