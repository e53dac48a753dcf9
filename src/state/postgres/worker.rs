//! A connection on a thread of its own (see the module's doc, "Threads"): the caller sends a
//! call and waits for its answer. The lock's session also takes entries for group commit
//! ([`Grouped`]): those waiting together are handed over together.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, Statement};

use super::error::Failure;
use crate::state::journal::{PostgresTarget, SslMode, StateError};

/// A connection and its prepared statements, owned by its thread.
pub(super) struct Session {
    pub(super) client: Client,
    pub(super) statements: HashMap<&'static str, Statement>,
}

impl Session {
    /// `sql` prepared once per connection.
    pub(super) fn prepared(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// What a connection's thread runs: a call, or an entry of the next group (the lock session's
/// group commit, see `batch`).
pub(super) enum Job<G> {
    Call(Box<dyn FnOnce(&mut Session) + Send>),
    Grouped(G),
}

/// Entries written together: [`Grouped::commit`] takes the first, and whatever joins it from
/// the queue, writes them and answers each; it returns a job it took from the queue that is not
/// part of the group, for the thread to run next.
pub(super) trait Grouped: Send + Sized + 'static {
    fn commit(
        session: &mut Session,
        first: Self,
        inbox: &mpsc::Receiver<Job<Self>>,
    ) -> Option<Job<Self>>;
}

/// No groups: a connection that only takes calls (the journal's own).
pub(super) enum Ungrouped {}

impl Grouped for Ungrouped {
    fn commit(_: &mut Session, first: Self, _: &mpsc::Receiver<Job<Self>>) -> Option<Job<Self>> {
        match first {}
    }
}

/// What runs on a connection each time it is opened.
type Setup = fn(&mut Client) -> Result<(), postgres::Error>;

/// One connection on a thread of its own (see the module's doc). Dropping it closes the
/// connection.
pub(super) struct Worker<G: Grouped = Ungrouped> {
    jobs: Option<mpsc::Sender<Job<G>>>,
    thread: Option<JoinHandle<()>>,
}

impl<G: Grouped> std::fmt::Debug for Worker<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Worker(..)")
    }
}

/// Runs `f`, which blocks, without stalling a multi-threaded runtime's other tasks.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
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

impl<G: Grouped> Worker<G> {
    /// Connects (on the new thread) and waits until the connection is ready or has failed.
    /// `reconnect`: open a new connection when the server closed this one between calls (the
    /// journal's reads); never for the lock's session, whose lock a new session would not hold.
    pub(super) fn start(
        target: &PostgresTarget,
        name: &'static str,
        setup: Setup,
        reconnect: bool,
    ) -> Result<Worker<G>, Failure> {
        let (jobs, inbox) = mpsc::channel::<Job<G>>();
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
                let mut next: Option<Job<G>> = None;
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
                        Job::Grouped(first) => next = G::commit(&mut session, first, &inbox),
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
    pub(super) fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let (answer, answered) = mpsc::sync_channel(1);
        self.send(Job::Call(Box::new(move |session| {
            let _ = answer.send(f(session));
        })))?;
        blocking(|| answered.recv()).unwrap_or(Err(Failure::Gone))
    }

    pub(super) fn send(&self, job: Job<G>) -> Result<(), Failure> {
        self.jobs
            .as_ref()
            .ok_or(Failure::Gone)?
            .send(job)
            .map_err(|_| Failure::Gone)
    }
}

impl<G: Grouped> Drop for Worker<G> {
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
pub(super) fn journal_setup(_: &mut Client) -> Result<(), postgres::Error> {
    Ok(())
}

/// The lock's connection: TCP keepalives so that the server ends the session (and releases the
/// lock) within about 11 s of a runner's machine vanishing (5 s idle, then 3 probes 2 s
/// apart), a statement timeout so that a fenced write never waits longer than 10 s, and no
/// idle timeout that would end it (and release the lock) while the run goes on.
pub(super) fn lock_setup(client: &mut Client) -> Result<(), postgres::Error> {
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
