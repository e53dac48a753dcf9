//! The shared backend: the journal in PostgreSQL, so that every runner of a pipeline (ephemeral
//! CI machines with no cache in common) sees one state, and one `apply` at a time runs per plan.
//!
//! **Layout.** Every table lives in the schema `nylas_migrate`, so the database may hold other
//! things. The schema is created on first use and versioned: `schema_version` lists the
//! migrations applied ([`MIGRATIONS`], in order, each in the transaction that records it, under
//! a transaction-level advisory lock so that two first runs do not race). A database whose
//! schema is newer than this version knows is refused. Several plans share one database: every
//! row is keyed by the plan (`plans`, by name), and every query names the plan, so one plan
//! never sees another's steps, runs, jobs or key.
//!
//! **Threads.** The journal's API is synchronous and is called from async code on a
//! multi-threaded tokio runtime; the synchronous `postgres` client runs a runtime of its own for
//! each call and panics inside another. So each connection lives on a thread of its own
//! ([`Worker`]), which owns the client and runs the calls sent to it over a channel; the caller
//! waits for the answer, inside `tokio::task::block_in_place` when on a multi-threaded runtime
//! (its other tasks move to another worker thread meanwhile), directly otherwise. One
//! connection serialises the journal's calls, as the SQLite backend's mutex does. A connection
//! found closed (a server restart) is opened again before the next call; a call that was cut
//! off is not repeated (its outcome is unknown) but fails, as a failed SQLite write does.
//!
//! **The lock** ([`try_lock`]) is a session-level advisory lock on a key derived from the
//! plan's name, taken by a connection of its own and held for the run: the server releases it
//! when that session ends, however the runner ends (SIGKILL, a lost machine: TCP keepalives
//! end the session within about a minute). Its holder (process, host, user, since when) is
//! written to `lock_holders` for the message a refused run shows.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::{Client, Statement};

mod batch;

use crate::graph::StepId;
use crate::state::fingerprint::Fingerprinter;
use crate::state::journal::{
    Event, JobCounts, JobOrigin, JournalError, KnownJob, Phase, PostgresTarget, RunOutcome,
    RunRecord, SslMode, StateError, StepRecord, StepState, StepStatus, Store, UnknownValue, now,
    record_json,
};

/// The schema's migrations, in order; version N is `MIGRATIONS[N - 1]`. Never edit one that
/// has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: the journal of every plan, the plans' fingerprint keys, the lock holders.
    "CREATE TABLE nylas_migrate.plans (
         id BIGSERIAL PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         created_at BIGINT NOT NULL
     );
     CREATE TABLE nylas_migrate.runs (
         plan_id BIGINT NOT NULL REFERENCES nylas_migrate.plans (id),
         id BIGINT NOT NULL,
         plan_name TEXT NOT NULL,
         command TEXT NOT NULL,
         started_at BIGINT NOT NULL,
         finished_at BIGINT,
         outcome TEXT,
         PRIMARY KEY (plan_id, id)
     );
     CREATE TABLE nylas_migrate.steps (
         plan_id BIGINT NOT NULL REFERENCES nylas_migrate.plans (id),
         step_id TEXT NOT NULL,
         status TEXT NOT NULL,
         record TEXT NOT NULL,
         run_id BIGINT NOT NULL,
         updated_at BIGINT NOT NULL,
         PRIMARY KEY (plan_id, step_id)
     );
     CREATE TABLE nylas_migrate.events (
         id BIGSERIAL PRIMARY KEY,
         plan_id BIGINT NOT NULL REFERENCES nylas_migrate.plans (id),
         run_id BIGINT NOT NULL,
         step_id TEXT NOT NULL,
         phase TEXT NOT NULL,
         status TEXT NOT NULL,
         record TEXT NOT NULL,
         at BIGINT NOT NULL
     );
     CREATE INDEX events_by_plan ON nylas_migrate.events (plan_id, id);
     CREATE TABLE nylas_migrate.jobs (
         plan_id BIGINT NOT NULL REFERENCES nylas_migrate.plans (id),
         job_id TEXT NOT NULL,
         seq BIGSERIAL,
         app_id TEXT,
         step_id TEXT,
         job_type TEXT,
         linked_job_id TEXT,
         origin TEXT NOT NULL,
         run_id BIGINT NOT NULL,
         status TEXT,
         count_all BIGINT,
         count_success BIGINT,
         count_failed BIGINT,
         count_warning BIGINT,
         PRIMARY KEY (plan_id, job_id)
     );
     CREATE TABLE nylas_migrate.fingerprint_keys (
         plan_id BIGINT PRIMARY KEY REFERENCES nylas_migrate.plans (id),
         key BYTEA NOT NULL
     );
     CREATE TABLE nylas_migrate.lock_holders (
         plan_id BIGINT PRIMARY KEY REFERENCES nylas_migrate.plans (id),
         backend_pid INTEGER NOT NULL,
         pid BIGINT,
         host TEXT,
         username TEXT,
         since BIGINT NOT NULL
     );",
    // 2: the lock's generations (fencing, see `LockSession`): one row per acquisition.
    "CREATE TABLE nylas_migrate.lock_epochs (
         plan_id BIGINT NOT NULL REFERENCES nylas_migrate.plans (id),
         epoch BIGINT NOT NULL,
         backend_pid INTEGER NOT NULL,
         pid BIGINT,
         host TEXT,
         acquired_at BIGINT NOT NULL,
         settled BOOLEAN NOT NULL DEFAULT false,
         PRIMARY KEY (plan_id, epoch)
     );",
];

/// The schema version this build writes.
const LATEST: i32 = MIGRATIONS.len() as i32;

/// The transaction-level advisory lock that serialises schema migrations ("nylas-mi").
const SCHEMA_LOCK: i64 = 0x6e79_6c61_732d_6d69;

/// Why a call failed, before it is told as a [`JournalError`].
enum Failure {
    Pg(postgres::Error),
    /// A batch's error, told to each of its writers.
    Shared(Arc<postgres::Error>),
    Setup(StateError),
    Newer(i32),
    Unknown(UnknownValue),
    /// The connection's thread is gone (it panicked).
    Gone,
    /// A fenced write found that this runner no longer holds the lock (its session ended, or
    /// another runner took a newer epoch): nothing was written.
    LockLost(String),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Failure {
        Failure::Pg(e)
    }
}

impl Failure {
    fn into_journal(self, location: &str) -> JournalError {
        let location = location.to_owned();
        match self {
            Failure::Pg(e) => JournalError::Postgres {
                location,
                help: help_for(&e).to_owned(),
                detail: crate::untrusted::escaped(&chain(&e)).into_owned(),
            },
            Failure::Shared(e) => JournalError::Postgres {
                location,
                help: help_for(&e).to_owned(),
                detail: crate::untrusted::escaped(&chain(&e)).into_owned(),
            },
            Failure::Setup(e) => JournalError::Postgres {
                location,
                help: miette::Diagnostic::help(&e)
                    .map(|h| h.to_string())
                    .unwrap_or_default(),
                detail: e.to_string(),
            },
            Failure::Newer(found) => JournalError::NewerSchema {
                location,
                found,
                known: LATEST,
            },
            Failure::Unknown(unknown) => JournalError::Unknown {
                path: location,
                what: unknown.what,
                value: unknown.value,
            },
            Failure::Gone => JournalError::Postgres {
                location,
                detail: "the connection's thread stopped".into(),
                help: "this is a bug in nylas-migrate; the journal keeps what was done".into(),
            },
            Failure::LockLost(why) => JournalError::LockLost { location, why },
        }
    }
}

/// An error with its causes (the client's errors name their cause only as a source):
/// `error connecting to server: Connection refused (os error 111)`,
/// `db error: ERROR: permission denied for database state`.
fn chain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What to do about a PostgreSQL error.
fn help_for(e: &postgres::Error) -> &'static str {
    use postgres::error::SqlState;
    match e.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            "check the user and the password (PGPASSWORD, or the URL the plan's `state.postgres.url` names)"
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
            "the first run creates the schema nylas_migrate, which needs CREATE on the database (or have its owner create the schema and grant it); later runs need to read and write its tables"
        }
        Some(c) if *c == SqlState::UNDEFINED_DATABASE => {
            "create the database first (CREATE DATABASE …): nylas-migrate creates its schema in it, not the database"
        }
        Some(_) => "the journal keeps what was committed; run again once the database is fixed",
        None => {
            "check the host and port, that the server accepts connections from this machine, and sslmode (a TLS certificate is verified against the system's roots, the bundled Mozilla roots and NYLAS_MIGRATE_CA_FILE)"
        }
    }
}

/// A connection and its prepared statements, owned by its thread.
struct Session {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Session {
    /// `sql` prepared once per connection.
    fn prepared(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// What a connection's thread runs: a call, or a step's new state for the lock session's next
/// group commit (see [`batch`]).
enum Job {
    Call(Box<dyn FnOnce(&mut Session) + Send>),
    Entry(batch::Queued),
}

/// What runs on a connection each time it is opened.
type Setup = fn(&mut Client) -> Result<(), postgres::Error>;

/// One connection on a thread of its own (see the module's doc). Dropping it closes the
/// connection.
struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Worker(..)")
    }
}

/// Runs `f`, which blocks, without stalling a multi-threaded runtime's other tasks.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Client-side bounds on every connection to the state: a dead server or a cut network is
/// noticed in seconds, not at the operating system's defaults (hours of keepalive silence,
/// minutes of retransmissions). Data unacknowledged for `TCP_USER_TIMEOUT` ends the connection;
/// an idle one is probed after `KEEPALIVE_IDLE`, every `KEEPALIVE_INTERVAL`, `KEEPALIVE_RETRIES`
/// times. The server's side of the lock's session is bounded the same way ([`lock_setup`]).
pub(crate) const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
pub(crate) const KEEPALIVE_RETRIES: u32 = 3;

fn connect(target: &PostgresTarget, name: &str, setup: Setup) -> Result<Client, Failure> {
    let mut config = target.connect_config();
    config.application_name(name);
    config
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_RETRIES)
        .tcp_user_timeout(TCP_USER_TIMEOUT);
    let mut client = match target.ssl_mode() {
        SslMode::Disable => config.connect(postgres::NoTls)?,
        SslMode::Prefer | SslMode::Require | SslMode::VerifyFull => {
            let tls = target.tls_config().map_err(Failure::Setup)?;
            config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))?
        }
    };
    setup(&mut client)?;
    Ok(client)
}

impl Worker {
    /// Connects (on the new thread) and waits until the connection is ready or has failed.
    /// `reconnect`: open a new connection when the server closed this one between calls (the
    /// journal's reads); never for the lock's session, whose lock a new session would not hold.
    fn start(
        target: &PostgresTarget,
        name: &'static str,
        setup: Setup,
        reconnect: bool,
    ) -> Result<Worker, Failure> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, is_ready) = mpsc::sync_channel::<Result<(), Failure>>(1);
        let target = target.clone();
        let thread = std::thread::Builder::new()
            .name("nylas-migrate-postgres".into())
            .spawn(move || {
                let client = match connect(&target, name, setup) {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        client
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let mut session = Session {
                    client,
                    statements: HashMap::new(),
                };
                // A job taken from the queue while a batch was gathered, run next.
                let mut next: Option<Job> = None;
                while let Some(job) = next.take().or_else(|| inbox.recv().ok()) {
                    if reconnect && session.client.is_closed() {
                        // The server went away between calls: open a new connection; the
                        // call itself fails if that fails too.
                        if let Ok(client) = connect(&target, name, setup) {
                            session = Session {
                                client,
                                statements: HashMap::new(),
                            };
                        }
                    }
                    match job {
                        Job::Call(f) => f(&mut session),
                        Job::Entry(first) => next = batch::commit(&mut session, first, &inbox),
                    }
                }
            })
            .map_err(|e| {
                Failure::Setup(StateError::Tls {
                    detail: format!("cannot start the connection's thread: {e}"),
                })
            })?;
        match blocking(|| is_ready.recv()) {
            Ok(Ok(())) => Ok(Worker {
                jobs: Some(jobs),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = blocking(|| thread.join());
                Err(e)
            }
            Err(_) => Err(Failure::Gone),
        }
    }

    /// Runs `f` on the connection and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let (answer, answered) = mpsc::sync_channel(1);
        self.send(Job::Call(Box::new(move |session| {
            let _ = answer.send(f(session));
        })))?;
        blocking(|| answered.recv()).unwrap_or(Err(Failure::Gone))
    }

    fn send(&self, job: Job) -> Result<(), Failure> {
        self.jobs
            .as_ref()
            .ok_or(Failure::Gone)?
            .send(job)
            .map_err(|_| Failure::Gone)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; the client it drops says goodbye to the
        // server (a clean close, not a dropped connection in the server's log).
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = blocking(|| thread.join());
        }
    }
}

/// The journal's connection: plain defaults.
fn journal_setup(_: &mut Client) -> Result<(), postgres::Error> {
    Ok(())
}

/// The lock's connection: TCP keepalives so that the server ends the session (and releases the
/// lock) within about 11 s of a runner's machine vanishing (5 s idle, then 3 probes 2 s
/// apart), a statement timeout so that a fenced write never waits longer than 10 s, and no
/// idle timeout that would end it (and release the lock) while the run goes on.
fn lock_setup(client: &mut Client) -> Result<(), postgres::Error> {
    client.batch_execute(
        "SET tcp_keepalives_idle = 5;
         SET tcp_keepalives_interval = 2;
         SET tcp_keepalives_count = 3;
         SET statement_timeout = '10s';
         SET idle_in_transaction_session_timeout = '10s';
         SELECT set_config('idle_session_timeout', '0', false)
             WHERE current_setting('server_version_num')::int >= 140000;",
    )
}

/// The schema's version, or `None` before the first use.
fn schema_version(client: &mut Client) -> Result<Option<i32>, Failure> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('nylas_migrate.schema_version') IS NOT NULL",
            &[],
        )?
        .try_get(0)?;
    if !exists {
        return Ok(None);
    }
    let version: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM nylas_migrate.schema_version",
            &[],
        )?
        .try_get(0)?;
    Ok(Some(version))
}

/// Creates the schema, or applies the migrations it lacks.
fn migrate(client: &mut Client) -> Result<(), Failure> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    // Only when absent: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database, which
    // a user given a schema made by its owner may lack.
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'nylas_migrate')",
            &[],
        )?
        .try_get(0)?;
    if !exists {
        tx.batch_execute("CREATE SCHEMA nylas_migrate")?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS nylas_migrate.schema_version (
             version INTEGER PRIMARY KEY,
             applied_at BIGINT NOT NULL,
             tool_version TEXT NOT NULL
         )",
    )?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM nylas_migrate.schema_version",
            &[],
        )?
        .try_get(0)?;
    if current > LATEST {
        return Err(Failure::Newer(current));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i32 + 1;
        if version <= current {
            continue;
        }
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO nylas_migrate.schema_version (version, applied_at, tool_version)
             VALUES ($1, $2, $3)",
            &[&version, &now(), &env!("CARGO_PKG_VERSION")],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The plan's ID, with the schema brought up to date. `create`: the schema, the plan and its
/// fingerprint key are made when missing; otherwise `None` when there is no schema or no plan
/// (an older schema is still upgraded: that changes no state).
fn prepare(client: &mut Client, plan: &str, create: bool) -> Result<Option<i64>, Failure> {
    match schema_version(client)? {
        Some(v) if v > LATEST => return Err(Failure::Newer(v)),
        Some(v) if v == LATEST => {}
        None if !create => return Ok(None),
        _ => migrate(client)?,
    }
    if !create {
        return Ok(client
            .query_opt(
                "SELECT id FROM nylas_migrate.plans WHERE name = $1",
                &[&plan],
            )?
            .map(|row| row.try_get(0))
            .transpose()?);
    }
    let mut tx = client.transaction()?;
    tx.execute(
        "INSERT INTO nylas_migrate.plans (name, created_at) VALUES ($1, $2)
         ON CONFLICT (name) DO NOTHING",
        &[&plan, &now()],
    )?;
    let id: i64 = tx
        .query_one(
            "SELECT id FROM nylas_migrate.plans WHERE name = $1",
            &[&plan],
        )?
        .try_get(0)?;
    let key = Fingerprinter::new_key();
    tx.execute(
        "INSERT INTO nylas_migrate.fingerprint_keys (plan_id, key) VALUES ($1, $2)
         ON CONFLICT (plan_id) DO NOTHING",
        &[&id, &key.as_slice()],
    )?;
    tx.commit()?;
    Ok(Some(id))
}

/// `postgres://ci@db/state (plan `acme`)`: the location errors name.
fn describe(target: &PostgresTarget, plan: &str) -> String {
    format!(
        "{} (plan `{}`)",
        target.shown(),
        crate::untrusted::escaped(plan)
    )
}

/// A typed value read back: one this version does not know is an error, never a default.
fn typed<T>(
    text: &str,
    what: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, Failure> {
    parse(text).ok_or_else(|| {
        Failure::Unknown(UnknownValue {
            what,
            value: format!("\"{}\"", crate::untrusted::esc(text)),
        })
    })
}

fn parse_record(text: &str) -> Result<StepRecord, Failure> {
    serde_json::from_str(text).map_err(|e| {
        Failure::Unknown(UnknownValue {
            what: "step record",
            value: format!("({})", crate::untrusted::esc(&e.to_string())),
        })
    })
}

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

const START_RUN: &str =
    "INSERT INTO nylas_migrate.runs (plan_id, id, plan_name, command, started_at)
     SELECT $1, COALESCE(MAX(id), 0) + 1, $2, $3, $4 FROM nylas_migrate.runs WHERE plan_id = $1
     RETURNING id";
const RECORD: &str = "WITH step AS (
         INSERT INTO nylas_migrate.steps (plan_id, step_id, status, record, run_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (plan_id, step_id) DO UPDATE SET status = EXCLUDED.status,
             record = EXCLUDED.record, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
     )
     INSERT INTO nylas_migrate.events (plan_id, run_id, step_id, phase, status, record, at)
     VALUES ($1, $5, $2, $7, $3, $4, $6)";
/// [`RECORD`], only when the step's row is still run `$5`'s: one row inserted in `events` if so.
const RECORD_IF_MINE: &str = "WITH step AS (
         UPDATE nylas_migrate.steps SET status = $3, record = $4, updated_at = $6
         WHERE plan_id = $1 AND step_id = $2 AND run_id = $5
         RETURNING 1
     )
     INSERT INTO nylas_migrate.events (plan_id, run_id, step_id, phase, status, record, at)
     SELECT $1, $5, $2, $7, $3, $4, $6 FROM step";
const WAVE_JOB: &str = "INSERT INTO nylas_migrate.jobs
         (plan_id, job_id, app_id, step_id, job_type, linked_job_id, origin, run_id)
     VALUES ($1, $2, $3, $4, $5, $6, 'wave', $7)
     ON CONFLICT (plan_id, job_id) DO NOTHING";
const JOB_FINISHED: &str = "UPDATE nylas_migrate.jobs SET status = $3, count_all = $4,
         count_success = $5, count_failed = $6, count_warning = $7
     WHERE plan_id = $1 AND job_id = $2";
const STEP: &str = "SELECT status, record, run_id, updated_at FROM nylas_migrate.steps
     WHERE plan_id = $1 AND step_id = $2";
const NOTE: &str =
    "INSERT INTO nylas_migrate.events (plan_id, run_id, step_id, phase, status, record, at)
     VALUES ($1, $2, $3, 'error', 'error', $4, $5)";

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
    let jobs = batch::wave_jobs(record);
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
    worker: Worker,
    plan_id: i64,
    location: String,
    /// The lock's session, once the run holds the lock: every write goes through it, fenced.
    fence: Option<Arc<LockSession>>,
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
        let worker = Worker::start(target, "nylas-migrate", journal_setup, true)
            .map_err(|e| e.into_journal(&location))?;
        let name = plan.to_owned();
        let plan_id = worker
            .call(move |s| prepare(&mut s.client, &name, create))
            .map_err(|e| e.into_journal(&location))?;
        Ok(plan_id.map(|plan_id| PostgresStore {
            worker,
            plan_id,
            location,
            fence: None,
        }))
    }

    /// From now on every write goes through `session`, fenced (see [`LockSession::write`]).
    pub(crate) fn fence_with(&mut self, session: Arc<LockSession>) {
        self.fence = Some(session);
    }

    /// A write: fenced on the lock's session when the run holds the lock, otherwise in a
    /// transaction on the journal's connection.
    fn write<T: Send + 'static>(&self, f: WriteFn<T>) -> Result<T, JournalError> {
        let result = match &self.fence {
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
        self.write(Box::new(move |tx, p, plan| {
            Ok(tx
                .query_one(p.get(START_RUN)?, &[&plan, &name, &command, &now()])?
                .try_get(0)?)
        }))
    }

    fn finish_run(&self, run_id: i64, outcome: RunOutcome) -> Result<(), JournalError> {
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
        match &self.fence {
            Some(session) => session
                .record(batch::Entry::record(
                    run_id,
                    step.as_str(),
                    phase,
                    status,
                    record,
                ))
                .map_err(|e| e.into_journal(&self.location)),
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

    fn note(&self, run_id: i64, step: &StepId, record: &StepRecord) -> Result<(), JournalError> {
        if let Some(session) = &self.fence {
            return session
                .record(batch::Entry::note(run_id, step.as_str(), record))
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
        let step = step.as_str().to_owned();
        self.call(move |s, plan| {
            let stmt = s.prepared(STEP)?;
            match s.client.query_opt(&stmt, &[&plan, &step])? {
                Some(r) => Ok(Some(StepState {
                    status: typed(
                        &r.try_get::<_, String>(0)?,
                        "step status",
                        StepStatus::parse,
                    )?,
                    record: parse_record(&r.try_get::<_, String>(1)?)?,
                    run_id: r.try_get(2)?,
                    updated_at: r.try_get(3)?,
                })),
                None => Ok(None),
            }
        })
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
}

/// Who holds a plan's lock, as `lock_holders` records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LockHolder {
    pub pid: Option<i64>,
    pub host: Option<String>,
    pub user: Option<String>,
    pub since: Option<i64>,
}

/// The check every fenced write makes, in its own transaction, before it writes anything: the
/// epoch is this runner's and no newer one exists, and this very session holds the plan's
/// advisory lock. `$1` plan, `$2` epoch, `$3` lock key.
const FENCE: &str = "SELECT 1 FROM nylas_migrate.lock_epochs e
     WHERE e.plan_id = $1 AND e.epoch = $2
       AND NOT EXISTS (SELECT 1 FROM nylas_migrate.lock_epochs n
                       WHERE n.plan_id = $1 AND n.epoch > $2)
       AND EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted AND l.pid = pg_backend_pid()
                     AND l.objsubid = 1
                     AND ((l.classid::bigint << 32) | l.objid::bigint) = $3)";

/// The epoch before this one, when its holder did not settle it (it vanished, or lost the lock
/// with writes possibly in flight): its intents wait for the lease.
#[derive(Debug, Clone)]
struct Previous {
    epoch: i64,
    pid: Option<i64>,
    host: Option<String>,
}

/// A plan's lock: the session that holds the advisory lock, and the epoch it took with it. Every
/// journal write of `apply` runs on this session, fenced ([`LockSession::write`]); the session
/// is never opened again (a new session would not hold the lock), so a session that ended
/// fails every later write.
pub(crate) struct LockSession {
    worker: Worker,
    plan_id: i64,
    key: i64,
    epoch: i64,
    location: String,
    /// Why the lock is lost, once it is.
    lost: std::sync::Mutex<Option<String>>,
    /// Released by its holder: no more writes.
    released: AtomicBool,
    previous: Option<Previous>,
    /// The host this runner runs on (to tell a vanished previous holder on the same host).
    host: Option<String>,
    /// Whether the previous epoch can no longer have a write in flight.
    lease_clear: AtomicBool,
    acquired: Instant,
    lease: Duration,
    /// Dropping it stops the watchdog.
    _watchdog: std::sync::Mutex<Option<mpsc::Sender<()>>>,
}

impl std::fmt::Debug for LockSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockSession")
            .field("plan_id", &self.plan_id)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// Statements a fenced write may use, prepared once per session.
struct Prepared<'a>(&'a HashMap<&'static str, Statement>);

impl Prepared<'_> {
    fn get(&self, sql: &'static str) -> Result<&Statement, Failure> {
        self.0.get(sql).ok_or(Failure::Gone)
    }
}

/// Every statement a write prepares (see [`Prepared`]).
const WRITES: &[&str] = &[
    FENCE,
    START_RUN,
    RECORD,
    RECORD_IF_MINE,
    WAVE_JOB,
    JOB_FINISHED,
    NOTE,
];

/// A write's body: runs inside the transaction the fence opened.
type WriteFn<T> = Box<
    dyn FnOnce(&mut postgres::Transaction<'_>, &Prepared<'_>, i64) -> Result<T, Failure> + Send,
>;

/// Runs `f` in a transaction on `session`, after the fence (when `fence` is given:
/// `(epoch, key)`) found the lock still this session's.
fn transact<T>(
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
        return Err(Failure::LockLost(
            "the database no longer shows this runner's session holding the lock at its epoch"
                .into(),
        ));
    }
    let out = f(&mut tx, &prepared, plan)?;
    tx.commit()?;
    Ok(out)
}

impl LockSession {
    /// Why the lock is lost, if it is.
    pub(crate) fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// See `Fence::give_up`.
    pub(crate) fn give_up(&self, why: String) {
        self.mark_lost(why);
    }

    fn mark_lost(&self, why: String) {
        let mut lost = self.lost.lock().unwrap_or_else(|e| e.into_inner());
        if lost.is_none() {
            *lost = Some(why);
        }
    }

    /// A write, fenced: in one transaction on the lock's session, the fence first, then `f`;
    /// committed only if both succeed. Refused without a round trip once the lock is known lost.
    fn write<T: Send + 'static>(&self, f: WriteFn<T>) -> Result<T, Failure> {
        if self.released.load(Ordering::SeqCst) {
            return Err(Failure::LockLost("the lock was released".into()));
        }
        if let Some(why) = self.lost() {
            return Err(Failure::LockLost(why));
        }
        let (plan, fence) = (self.plan_id, (self.epoch, self.key));
        let result = self.worker.call(move |s| {
            if s.client.is_closed() {
                return Err(Failure::LockLost("its database session ended".into()));
            }
            match transact(s, plan, Some(fence), f) {
                Err(Failure::Pg(e)) if s.client.is_closed() || e.is_closed() => Err(
                    Failure::LockLost(format!("its database session ended: {}", chain(&e))),
                ),
                other => other,
            }
        });
        if let Err(Failure::LockLost(why)) = &result {
            self.mark_lost(why.clone());
        }
        result
    }

    /// A step's new state (or a note), fenced, in the session's next batch (see [`batch`]):
    /// answered once the batch committed. Refused without a round trip once the lock is known
    /// lost.
    fn record(&self, entry: batch::Entry) -> Result<(), Failure> {
        if self.released.load(Ordering::SeqCst) {
            return Err(Failure::LockLost("the lock was released".into()));
        }
        if let Some(why) = self.lost() {
            return Err(Failure::LockLost(why));
        }
        let (answer, answered) = mpsc::sync_channel(1);
        self.worker.send(Job::Entry(batch::Queued {
            entry,
            fence: (self.plan_id, self.epoch, self.key),
            answer,
        }))?;
        let result = blocking(|| answered.recv()).unwrap_or(Err(Failure::Gone));
        if let Err(Failure::LockLost(why)) = &result {
            self.mark_lost(why.clone());
        }
        result
    }

    /// The fence alone (the watchdog's periodic check).
    fn check(&self) {
        let result = self.write(Box::new(|_, _, _| Ok(())));
        if let Err(Failure::Pg(e)) = result {
            // Anything else that fails the check (a statement timeout: the server does not
            // answer in time) is treated as a loss too: the lock cannot be proven.
            self.mark_lost(format!("the lock could not be checked: {}", chain(&e)));
        }
    }

    /// Whether the previous holder can no longer have a write in flight: it settled its epoch
    /// (it released the lock cleanly, or it stopped after losing it), its process on this host
    /// is gone, or the lease has run out since this runner took the lock.
    pub(crate) fn previous_settled(&self) -> bool {
        if self.lease_clear.load(Ordering::SeqCst) {
            return true;
        }
        let Some(previous) = &self.previous else {
            return true;
        };
        let clear = self.acquired.elapsed() >= self.lease
            || (previous.host.is_some()
                && previous.host == self.host
                && previous.pid.is_some_and(process_gone))
            || {
                let (plan, epoch) = (self.plan_id, previous.epoch);
                self.worker
                    .call(move |s| {
                        Ok(s.client
                            .query_opt(
                                "SELECT settled FROM nylas_migrate.lock_epochs
                                 WHERE plan_id = $1 AND epoch = $2",
                                &[&plan, &epoch],
                            )?
                            .map(|r| r.try_get::<_, bool>(0))
                            .transpose()?
                            .unwrap_or(true))
                    })
                    .unwrap_or(false)
            };
        if clear {
            self.lease_clear.store(true, Ordering::SeqCst);
        }
        clear
    }

    /// How long the lease has left at most (zero when it is clear).
    pub(crate) fn lease_left(&self) -> Duration {
        if self.lease_clear.load(Ordering::SeqCst) || self.previous.is_none() {
            return Duration::ZERO;
        }
        self.lease.saturating_sub(self.acquired.elapsed())
    }

    /// Releases the lock: settles this epoch when nothing of it or of the one before can still
    /// be in flight, removes the holder row, unlocks. Later writes fail.
    fn release(&self) {
        if self.released.swap(true, Ordering::SeqCst) || self.lost().is_some() {
            return;
        }
        let settled = self.previous_settled();
        let (plan, epoch, key) = (self.plan_id, self.epoch, self.key);
        let _ = self.worker.call(move |s| {
            s.client.execute(
                "UPDATE nylas_migrate.lock_epochs SET settled = $3
                 WHERE plan_id = $1 AND epoch = $2",
                &[&plan, &epoch, &settled],
            )?;
            s.client.execute(
                "DELETE FROM nylas_migrate.lock_holders
                 WHERE plan_id = $1 AND backend_pid = pg_backend_pid()",
                &[&plan],
            )?;
            s.client.execute("SELECT pg_advisory_unlock($1)", &[&key])?;
            Ok(())
        });
    }

    /// After the lock was lost and every write of this run has ended: marks this epoch settled
    /// (on a new connection: the lock's is gone), so that the runner holding the lock now need
    /// not wait out the lease. Only this epoch's own row is touched, and only when nothing
    /// of the epoch before can still be in flight either. Returns whether it was marked.
    pub(crate) fn settle_after_loss(&self, target: &PostgresTarget) -> bool {
        if !self.previous_settled_without_asking() {
            return false;
        }
        let Ok(worker) = Worker::start(target, "nylas-migrate", journal_setup, false) else {
            return false;
        };
        let (plan, epoch) = (self.plan_id, self.epoch);
        worker
            .call(move |s| {
                Ok(s.client.execute(
                    "UPDATE nylas_migrate.lock_epochs SET settled = true
                     WHERE plan_id = $1 AND epoch = $2",
                    &[&plan, &epoch],
                )? == 1)
            })
            .unwrap_or(false)
    }

    /// [`previous_settled`](Self::previous_settled) without a query (the session may be gone).
    fn previous_settled_without_asking(&self) -> bool {
        self.lease_clear.load(Ordering::SeqCst)
            || self.previous.is_none()
            || self.acquired.elapsed() >= self.lease
    }

    pub(crate) fn location(&self) -> &str {
        &self.location
    }
}

/// Whether no process `pid` runs on this host.
fn process_gone(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// A plan's advisory lock, held by a session of its own until this is dropped.
#[derive(Debug)]
pub(crate) struct PostgresLock {
    session: Arc<LockSession>,
}

impl PostgresLock {
    /// The session every fenced write of the run goes through.
    pub(crate) fn session(&self) -> Arc<LockSession> {
        self.session.clone()
    }
}

impl Drop for PostgresLock {
    fn drop(&mut self) {
        self.session.release();
    }
}

/// What trying the lock found.
pub(crate) enum Locked {
    Acquired(PostgresLock),
    /// Another session holds it; its holder, when recorded.
    Busy(Option<LockHolder>),
}

/// The advisory lock key of a plan: the first 8 bytes of a SHA-256 of its name.
pub(crate) fn lock_key(plan: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("nylas-migrate plan lock\0{plan}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// How often the watchdog checks the lock.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Takes `plan`'s lock without waiting, recording `me` as its holder and starting a new epoch.
/// `lease`: how long a write of a holder that vanished can still be in flight (see
/// `state::lock`).
pub(crate) fn try_lock(
    target: &PostgresTarget,
    plan: &str,
    me: LockHolder,
    lease: Duration,
) -> Result<Locked, JournalError> {
    let location = describe(target, plan);
    let worker = Worker::start(target, "nylas-migrate lock", lock_setup, false)
        .map_err(|e| e.into_journal(&location))?;
    let key = lock_key(plan);
    let name = plan.to_owned();
    let host = me.host.clone();
    let found = worker
        .call(move |s| {
            let plan = prepare(&mut s.client, &name, true)?.ok_or(Failure::Gone)?;
            let got: bool = s
                .client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
                .try_get(0)?;
            if got {
                // The lock is this session's from here: a new epoch, in one transaction with
                // the holder's row. No one else can write either (they need the lock).
                let mut tx = s.client.transaction()?;
                tx.execute(
                    "INSERT INTO nylas_migrate.lock_holders
                         (plan_id, backend_pid, pid, host, username, since)
                     VALUES ($1, pg_backend_pid(), $2, $3, $4, $5)
                     ON CONFLICT (plan_id) DO UPDATE SET backend_pid = EXCLUDED.backend_pid,
                         pid = EXCLUDED.pid, host = EXCLUDED.host,
                         username = EXCLUDED.username, since = EXCLUDED.since",
                    &[
                        &plan,
                        &me.pid,
                        &me.host,
                        &me.user,
                        &me.since.unwrap_or_else(now),
                    ],
                )?;
                let previous = tx
                    .query_opt(
                        "SELECT epoch, settled, pid, host FROM nylas_migrate.lock_epochs
                         WHERE plan_id = $1 ORDER BY epoch DESC LIMIT 1",
                        &[&plan],
                    )?
                    .map(
                        |r| -> Result<(i64, bool, Option<i64>, Option<String>), Failure> {
                            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
                        },
                    )
                    .transpose()?;
                let epoch = previous.as_ref().map_or(1, |p| p.0 + 1);
                tx.execute(
                    "INSERT INTO nylas_migrate.lock_epochs
                         (plan_id, epoch, backend_pid, pid, host, acquired_at)
                     VALUES ($1, $2, pg_backend_pid(), $3, $4, $5)",
                    &[&plan, &epoch, &me.pid, &me.host, &now()],
                )?;
                tx.commit()?;
                let previous = previous
                    .filter(|p| !p.1)
                    .map(|(epoch, _, pid, host)| Previous { epoch, pid, host });
                return Ok(Ok((plan, epoch, previous)));
            }
            // Named only while its session holds the lock (a row left by a holder that ended
            // is not the holder).
            let holder = s
                .client
                .query_opt(
                    "SELECT h.pid, h.host, h.username, h.since FROM nylas_migrate.lock_holders h
                     WHERE h.plan_id = $1 AND EXISTS (
                         SELECT 1 FROM pg_locks l
                         WHERE l.locktype = 'advisory' AND l.granted AND l.pid = h.backend_pid
                           AND l.objsubid = 1
                           AND ((l.classid::bigint << 32) | l.objid::bigint) = $2)",
                    &[&plan, &key],
                )?
                .map(|r| -> Result<LockHolder, postgres::Error> {
                    Ok(LockHolder {
                        pid: r.try_get(0)?,
                        host: r.try_get(1)?,
                        user: r.try_get(2)?,
                        since: r.try_get(3)?,
                    })
                })
                .transpose()?;
            Ok(Err(holder))
        })
        .map_err(|e| e.into_journal(&location))?;
    let (plan_id, epoch, previous) = match found {
        Ok(acquired) => acquired,
        Err(holder) => return Ok(Locked::Busy(holder)),
    };
    let (stop, stopped) = mpsc::channel::<()>();
    let session = Arc::new(LockSession {
        worker,
        plan_id,
        key,
        epoch,
        location,
        lost: std::sync::Mutex::new(None),
        released: AtomicBool::new(false),
        previous,
        host,
        lease_clear: AtomicBool::new(false),
        acquired: Instant::now(),
        lease,
        _watchdog: std::sync::Mutex::new(Some(stop)),
    });
    // The watchdog: notices a lost lock within about a second even when no write is due (a
    // wave's long wait), so that the run starts nothing more. It ends with the session.
    let watched = Arc::downgrade(&session);
    let _ = std::thread::Builder::new()
        .name("nylas-migrate-lock-watch".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(WATCH_EVERY) {
                let Some(session) = watched.upgrade() else {
                    return;
                };
                if session.released.load(Ordering::SeqCst) || session.lost().is_some() {
                    return;
                }
                session.check();
            }
        });
    Ok(Locked::Acquired(PostgresLock { session }))
}
