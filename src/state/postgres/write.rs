//! The fenced transaction: the check every fenced write makes first ([`FENCE`]), the write
//! statements, and [`transact`], which runs a write behind the fence on a session.

use std::collections::HashMap;

use postgres::Statement;

use super::error::Failure;
use super::worker::Session;

/// The fence's text, for the statements that fold it in (`concat!` takes literals only).
macro_rules! fence {
    () => {
        "SELECT 1 FROM nylas_migrate.lock_epochs e
     WHERE e.plan_id = $1 AND e.epoch = $2
       AND NOT EXISTS (SELECT 1 FROM nylas_migrate.lock_epochs n
                       WHERE n.plan_id = $1 AND n.epoch > $2)
       AND EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted AND l.pid = pg_backend_pid()
                     AND l.objsubid = 1
                     AND ((l.classid::bigint << 32) | l.objid::bigint) = $3)"
    };
}
pub(super) use fence;

/// The check every fenced write makes, in its own transaction, before it writes anything: the
/// epoch is this runner's and no newer one exists, and this very session holds the plan's
/// advisory lock. `$1` plan, `$2` epoch, `$3` lock key. Alone, it is the watchdog's check.
pub(super) const FENCE: &str = fence!();

/// Why a fenced write wrote nothing when the fence did not hold.
pub(super) const NOT_HOLDING: &str =
    "the database no longer shows this runner's session holding the lock at its epoch";

/// A run's start, fenced in one statement (one round trip, as a batch is): the fence is a CTE
/// the insert depends on, evaluated in the statement's one snapshot. `$4` plan name, `$5`
/// command, `$6` time. Answers one row: whether the fence held, and the new run's ID.
pub(super) const FENCED_START_RUN: &str = concat!(
    "WITH fence AS (",
    fence!(),
    "),
     run AS (
         INSERT INTO nylas_migrate.runs (plan_id, id, plan_name, command, started_at)
         SELECT $1, n.id, $4, $5, $6
         FROM (SELECT COALESCE(MAX(id), 0) + 1 AS id FROM nylas_migrate.runs
               WHERE plan_id = $1) n
         WHERE EXISTS (SELECT 1 FROM fence)
         RETURNING id
     )
     SELECT (SELECT count(*) FROM fence), (SELECT id FROM run)"
);

/// A run's end, fenced in one statement. `$4` run, `$5` time, `$6` outcome. Answers whether
/// the fence held.
pub(super) const FENCED_FINISH_RUN: &str = concat!(
    "WITH fence AS (",
    fence!(),
    "),
     run AS (
         UPDATE nylas_migrate.runs SET finished_at = $5, outcome = $6
         WHERE plan_id = $1 AND id = $4 AND EXISTS (SELECT 1 FROM fence)
     )
     SELECT count(*) FROM fence"
);

pub(super) const START_RUN: &str =
    "INSERT INTO nylas_migrate.runs (plan_id, id, plan_name, command, started_at)
     SELECT $1, COALESCE(MAX(id), 0) + 1, $2, $3, $4 FROM nylas_migrate.runs WHERE plan_id = $1
     RETURNING id";
pub(super) const RECORD: &str = "WITH step AS (
         INSERT INTO nylas_migrate.steps (plan_id, step_id, status, record, run_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (plan_id, step_id) DO UPDATE SET status = EXCLUDED.status,
             record = EXCLUDED.record, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
     )
     INSERT INTO nylas_migrate.events (plan_id, run_id, step_id, phase, status, record, at)
     VALUES ($1, $5, $2, $7, $3, $4, $6)";
/// [`RECORD`], only when the step's row is still run `$5`'s: one row inserted in `events` if so.
pub(super) const RECORD_IF_MINE: &str = "WITH step AS (
         UPDATE nylas_migrate.steps SET status = $3, record = $4, updated_at = $6
         WHERE plan_id = $1 AND step_id = $2 AND run_id = $5
         RETURNING 1
     )
     INSERT INTO nylas_migrate.events (plan_id, run_id, step_id, phase, status, record, at)
     SELECT $1, $5, $2, $7, $3, $4, $6 FROM step";
pub(super) const WAVE_JOB: &str = "INSERT INTO nylas_migrate.jobs
         (plan_id, job_id, app_id, step_id, job_type, linked_job_id, origin, run_id)
     VALUES ($1, $2, $3, $4, $5, $6, 'wave', $7)
     ON CONFLICT (plan_id, job_id) DO NOTHING";
pub(super) const JOB_FINISHED: &str = "UPDATE nylas_migrate.jobs SET status = $3, count_all = $4,
         count_success = $5, count_failed = $6, count_warning = $7
     WHERE plan_id = $1 AND job_id = $2";
pub(super) const NOTE: &str =
    "INSERT INTO nylas_migrate.events (plan_id, run_id, step_id, phase, status, record, at)
     VALUES ($1, $2, $3, 'error', 'error', $4, $5)";

/// Statements a fenced write may use, prepared once per session.
pub(super) struct Prepared<'a>(&'a HashMap<&'static str, Statement>);

impl Prepared<'_> {
    pub(super) fn get(&self, sql: &'static str) -> Result<&Statement, Failure> {
        self.0.get(sql).ok_or(Failure::Gone)
    }
}

/// Every statement a write prepares (see [`Prepared`]).
pub(super) const WRITES: &[&str] = &[
    FENCE,
    START_RUN,
    RECORD,
    RECORD_IF_MINE,
    WAVE_JOB,
    JOB_FINISHED,
    NOTE,
];

/// A write's body: runs inside the transaction the fence opened.
pub(super) type WriteFn<T> = Box<
    dyn FnOnce(&mut postgres::Transaction<'_>, &Prepared<'_>, i64) -> Result<T, Failure> + Send,
>;

/// Runs `f` in a transaction on `session`, after the fence (when `fence` is given:
/// `(epoch, key)`) found the lock still this session's.
pub(super) fn transact<T>(
    session: &mut Session,
    plan: i64,
    fence: Option<(i64, i64)>,
    f: WriteFn<T>,
) -> Result<T, Failure> {
    for sql in WRITES {
        session.prepared(sql)?;
    }
    let Session { client, statements } = session;
    let prepared = Prepared(statements);
    let mut tx = client.transaction()?;
    if let Some((epoch, key)) = fence
        && tx
            .query_opt(prepared.get(FENCE)?, &[&plan, &epoch, &key])?
            .is_none()
    {
        // Dropping the transaction rolls it back: nothing was written.
        return Err(Failure::LockLost(NOT_HOLDING.into()));
    }
    let out = f(&mut tx, &prepared, plan)?;
    tx.commit()?;
    Ok(out)
}
