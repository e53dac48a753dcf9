//! The shared backend: the journal in PostgreSQL, so that every runner of a pipeline (ephemeral
//! CI machines with no cache in common) sees one state, and one `apply` at a time runs per plan.
//!
//! **Layout.** Every table lives in the schema `nylas_migrate`, so the database may hold other
//! things. The schema is created on first use and versioned: `schema_version` lists the
//! migrations applied (`schema::MIGRATIONS`, in order, each in the transaction that records it, under
//! a transaction-level advisory lock so that two first runs do not race). A database whose
//! schema is newer than this version knows is refused. Several plans share one database: every
//! row is keyed by the plan (`plans`, by name), and every query names the plan, so one plan
//! never sees another's steps, runs, jobs or key.
//!
//! **Threads.** The journal's API is synchronous and is called from async code on a
//! multi-threaded tokio runtime; the synchronous `postgres` client runs a runtime of its own for
//! each call and panics inside another. So each connection lives on a thread of its own
//! (`worker::Worker`), which owns the client and runs the calls sent to it over a channel; the caller
//! waits for the answer, inside `tokio::task::block_in_place` when on a multi-threaded runtime
//! (its other tasks move to another worker thread meanwhile), directly otherwise. One
//! connection serialises the journal's calls, as the SQLite backend's mutex does. A connection
//! found closed (a server restart) is opened again before the next call; a call that was cut
//! off is not repeated (its outcome is unknown) but fails, as a failed SQLite write does.
//!
//! **The lock** (`lock::try_lock`) is a session-level advisory lock on a key derived from the
//! plan's name, taken by a connection of its own and held for the run: the server releases it
//! when that session ends, however the runner ends (SIGKILL, a lost machine: TCP keepalives
//! end the session within about a minute). Its holder (process, host, user, since when) is
//! written to `lock_holders` for the message a refused run shows.
//!
//! **Group commit** (`batch.rs`): the run's fenced step writes wait for no other step's commit;
//! whatever is queued when the lock's session is free is written as one statement, the fence
//! folded in. A run's start and end and the watchdog's check are one such statement each.
//!
//! **Kept rows** (`store.rs`, `Rows`): while the run holds the lock (taken from a holder that
//! settled), the steps' rows are read once and kept as its own writes commit, so that a step's
//! read of its row is no round trip; a write is fenced at the database whatever was read.
//!
//! The files, each using only those above it: `error` (how a failure is told), `worker` (a
//! connection on its thread), `schema` (migrations, the plan's row), `write` (the fence and the
//! fenced transaction), `batch` (group commit), `lookup` (grouped reads of steps' rows), `lock` (the advisory lock, its session, the
//! watchdog), `store` (the journal's reads and writes, the kept rows), `backend` (the database as a
//! state backend: [`PostgresBackend`]).

mod backend;
mod batch;
mod error;
mod lock;
mod lookup;
mod schema;
mod store;
mod worker;
mod write;

pub(crate) use backend::PostgresBackend;
