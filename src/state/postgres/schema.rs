//! The schema `nylas_migrate`: its versioned migrations, made on first use under an advisory
//! lock, a newer schema refused; and the plan's row and fingerprint key.

use postgres::Client;

use super::error::Failure;
use crate::state::fingerprint::Fingerprinter;
use crate::state::journal::now;

/// The schema's migrations, in order; version N is `MIGRATIONS[N - 1]`. Never edit one that
/// has shipped: add the next.
pub(super) const MIGRATIONS: &[&str] = &[
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
pub(super) const LATEST: i32 = MIGRATIONS.len() as i32;

/// The transaction-level advisory lock that serialises schema migrations ("nylas-mi").
const SCHEMA_LOCK: i64 = 0x6e79_6c61_732d_6d69;

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
        return Err(Failure::Newer(current, LATEST));
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
pub(super) fn prepare(
    client: &mut Client,
    plan: &str,
    create: bool,
) -> Result<Option<i64>, Failure> {
    match schema_version(client)? {
        Some(v) if v > LATEST => return Err(Failure::Newer(v, LATEST)),
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
