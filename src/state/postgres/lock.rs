//! The plan's lock: a session-level advisory lock held by a session of its own, the epoch it
//! took, the fenced writes on that session (alone, or in a batch), the watchdog, the lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::batch::{Entry, Queued};
use super::error::{Failure, chain, describe};
use super::schema::prepare;
use super::worker::{Job, Session, Ungrouped, Worker, blocking, journal_setup, lock_setup};
use super::write::{FENCE, NOT_HOLDING, WriteFn, transact};
use crate::state::holder::Holder;
use crate::state::journal::{JournalError, PostgresTarget, now};

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
    worker: Worker<Queued>,
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
    pub(super) fn write<T: Send + 'static>(&self, f: WriteFn<T>) -> Result<T, Failure> {
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

    /// One statement that folds the fence in (a CTE every change in it depends on, as a batch
    /// does): one round trip, where a fenced transaction takes four. `f` answers `None` when
    /// the fence did not hold (then nothing was written). Refused without a round trip once
    /// the lock is known lost.
    pub(super) fn statement<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session, (i64, i64, i64)) -> Result<Option<T>, postgres::Error>
        + Send
        + 'static,
    ) -> Result<T, Failure> {
        if self.released.load(Ordering::SeqCst) {
            return Err(Failure::LockLost("the lock was released".into()));
        }
        if let Some(why) = self.lost() {
            return Err(Failure::LockLost(why));
        }
        let fence = (self.plan_id, self.epoch, self.key);
        let result = self.worker.call(move |s| {
            if s.client.is_closed() {
                return Err(Failure::LockLost("its database session ended".into()));
            }
            match f(s, fence) {
                Ok(Some(out)) => Ok(out),
                Ok(None) => Err(Failure::LockLost(NOT_HOLDING.into())),
                Err(e) if s.client.is_closed() || e.is_closed() => Err(Failure::LockLost(format!(
                    "its database session ended: {}",
                    chain(&e)
                ))),
                Err(e) => Err(Failure::Pg(e)),
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
    pub(super) fn record(&self, entry: Entry) -> Result<(), Failure> {
        if self.released.load(Ordering::SeqCst) {
            return Err(Failure::LockLost("the lock was released".into()));
        }
        if let Some(why) = self.lost() {
            return Err(Failure::LockLost(why));
        }
        let (answer, answered) = mpsc::sync_channel(1);
        self.worker.send(Job::Grouped(Queued {
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

    /// The fence alone, one statement (the watchdog's periodic check).
    fn check(&self) {
        let result = self.statement(|s, (plan, epoch, key)| {
            let fence = s.prepared(FENCE)?;
            Ok(s.client
                .query_opt(&fence, &[&plan, &epoch, &key])?
                .map(|_| ()))
        });
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
        let Ok(worker) = Worker::<Ungrouped>::start(target, "nylas-migrate", journal_setup, false)
        else {
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
    Busy(Option<Holder>),
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
/// With the lock just taken: the holder's row and a new epoch, in one transaction. No one else
/// can write either (they need the lock). Answers the epoch, and the one before it when its
/// holder did not settle it.
fn new_epoch(
    client: &mut postgres::Client,
    plan: i64,
    me: &Holder,
) -> Result<(i64, Option<Previous>), Failure> {
    let pid = me.pid.map(i64::from);
    let mut tx = client.transaction()?;
    tx.execute(
        "INSERT INTO nylas_migrate.lock_holders
             (plan_id, backend_pid, pid, host, username, since)
         VALUES ($1, pg_backend_pid(), $2, $3, $4, $5)
         ON CONFLICT (plan_id) DO UPDATE SET backend_pid = EXCLUDED.backend_pid,
             pid = EXCLUDED.pid, host = EXCLUDED.host,
             username = EXCLUDED.username, since = EXCLUDED.since",
        &[
            &plan,
            &pid,
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
        &[&plan, &epoch, &pid, &me.host, &now()],
    )?;
    tx.commit()?;
    let previous = previous
        .filter(|p| !p.1)
        .map(|(epoch, _, pid, host)| Previous { epoch, pid, host });
    Ok((epoch, previous))
}

/// Who holds the lock that was busy, named only while its session holds the lock (a row left
/// by a holder that ended is not the holder).
fn holder(client: &mut postgres::Client, plan: i64, key: i64) -> Result<Option<Holder>, Failure> {
    Ok(client
        .query_opt(
            "SELECT h.pid, h.host, h.username, h.since FROM nylas_migrate.lock_holders h
             WHERE h.plan_id = $1 AND EXISTS (
                 SELECT 1 FROM pg_locks l
                 WHERE l.locktype = 'advisory' AND l.granted AND l.pid = h.backend_pid
                   AND l.objsubid = 1
                   AND ((l.classid::bigint << 32) | l.objid::bigint) = $2)",
            &[&plan, &key],
        )?
        .map(|r| -> Result<Holder, postgres::Error> {
            // Escaped: any runner of the database wrote them.
            let escaped =
                |text: Option<String>| text.map(|t| crate::untrusted::escaped(&t).into_owned());
            Ok(Holder {
                pid: r
                    .try_get::<_, Option<i64>>(0)?
                    .and_then(|p| u32::try_from(p).ok()),
                host: escaped(r.try_get(1)?),
                user: escaped(r.try_get(2)?),
                since: r.try_get(3)?,
            })
        })
        .transpose()?)
}

pub(crate) fn try_lock(
    target: &PostgresTarget,
    plan: &str,
    me: Holder,
    lease: Duration,
) -> Result<Locked, JournalError> {
    let location = describe(target, plan);
    let worker = Worker::<Queued>::start(target, "nylas-migrate lock", lock_setup, false)
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
                let (epoch, previous) = new_epoch(&mut s.client, plan, &me)?;
                Ok(Ok((plan, epoch, previous)))
            } else {
                Ok(Err(holder(&mut s.client, plan, key)?))
            }
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
