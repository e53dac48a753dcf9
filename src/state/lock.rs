//! One `apply` at a time per plan state, held for the whole run and released however the run
//! ends (a SIGKILL included), so a crashed run never leaves a stale lock behind:
//! - a state folder: an exclusive lock on `state/lock`, released by the OS with the process;
//!   the lock file names its holder;
//! - PostgreSQL: a session-level advisory lock per plan on a connection of its own, released by
//!   the server when that session ends (see `journal::postgres`); a table names its holder.
//!
//! Either way a second run is refused at once with who holds it (process, user, host, since
//! when). Reads (`plan`, `status`, `report`) take no lock.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::state::folder::{FolderFence, lock_folder};
use crate::state::holder::Holder;
use crate::state::journal::{LockError, StateLocation};
use crate::state::postgres::{LockSession, Locked, PostgresLock, try_lock};

/// The longest a write may be sent after its intent's fenced transaction began: past it the
/// write is not sent (its intent stays for a later run to resolve), so that a runner stalled
/// between its intent and its request cannot send it after its lock has long gone.
pub const SEND_WINDOW: Duration = Duration::from_secs(10);

/// How long a write of a runner that lost the lock can still be in flight after its last fenced
/// intent: the send window, then the client's bound on one call (no attempt starts after
/// `max_elapsed`, and one attempt lasts at most `request_timeout`), and a margin. A runner that
/// takes the lock from one that did not settle its epoch waits this long (from its own
/// acquisition, which is after the other's last intent) before it resolves an intent that runner
/// left, unless that runner settles sooner (see docs/architecture.md, "Fencing").
pub fn takeover_lease() -> Duration {
    let policy = crate::client::RetryPolicy::default();
    SEND_WINDOW + policy.max_elapsed + policy.request_timeout + Duration::from_secs(10)
}

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    File(#[allow(dead_code)] File, Arc<FolderFence>),
    Postgres(PostgresLock),
}

/// What lets the journal prove, at each write, that this runner still holds the lock (see
/// [`StateLock::fence`]).
#[derive(Debug, Clone)]
pub struct Fence(FenceKind);

#[derive(Debug, Clone)]
enum FenceKind {
    Folder(Arc<FolderFence>),
    Postgres(Arc<LockSession>),
}

impl Fence {
    /// Why the lock is lost, if it is known to be: nothing more may be written.
    pub fn lost(&self) -> Option<String> {
        match &self.0 {
            FenceKind::Folder(f) => f.check().err(),
            FenceKind::Postgres(s) => s.lost(),
        }
    }

    /// Whether a write the previous holder may have sent is surely over (see
    /// [`takeover_lease`]): always for a state folder, whose lock is the holder process's.
    pub fn previous_settled(&self) -> bool {
        match &self.0 {
            FenceKind::Folder(_) => true,
            FenceKind::Postgres(s) => s.previous_settled(),
        }
    }

    /// At most how long until [`previous_settled`](Self::previous_settled) holds.
    pub fn lease_left(&self) -> Duration {
        match &self.0 {
            FenceKind::Folder(_) => Duration::ZERO,
            FenceKind::Postgres(s) => s.lease_left(),
        }
    }

    /// Whether a write must be sent within [`SEND_WINDOW`] of its intent (a lock that can be
    /// taken over by another machine).
    pub fn windowed(&self) -> bool {
        matches!(self.0, FenceKind::Postgres(_))
    }

    /// Holds the lock as lost from now on (a write could not be sent within [`SEND_WINDOW`] of
    /// its intent: the lock can no longer be proven for it).
    pub fn give_up(&self, why: String) {
        if let FenceKind::Postgres(s) = &self.0 {
            s.give_up(why);
        }
    }

    /// The lock's session, for the PostgreSQL journal's fenced writes.
    pub(super) fn session(&self) -> Option<Arc<LockSession>> {
        match &self.0 {
            FenceKind::Postgres(s) => Some(s.clone()),
            FenceKind::Folder(_) => None,
        }
    }

    /// Where the lock is, as messages name it.
    pub fn place(&self) -> String {
        match &self.0 {
            FenceKind::Folder(f) => format!(
                "state folder {}",
                f.path.parent().unwrap_or(&f.path).display()
            ),
            FenceKind::Postgres(s) => format!("PostgreSQL state {}", s.location()),
        }
    }
}

impl StateLock {
    /// Takes `plan`'s lock at `state` without waiting.
    pub fn acquire_at(state: &StateLocation, plan: &str) -> Result<StateLock, LockError> {
        match state {
            StateLocation::Folder(dir) => StateLock::acquire(dir),
            StateLocation::Postgres(target) => {
                match try_lock(target, plan, Holder::this_process(), takeover_lease())? {
                    Locked::Acquired(lock) => Ok(StateLock {
                        held: Held::Postgres(lock),
                    }),
                    Locked::Busy(holder) => Err(LockError::Held {
                        place: format!(
                            "PostgreSQL state {} for plan `{}`",
                            target.shown(),
                            crate::untrusted::escaped(plan)
                        ),
                        holder: holder.unwrap_or_default().describe(),
                    }),
                }
            }
        }
    }

    /// The state folder's lock (its file `lock`), without waiting.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        let (file, fence) = lock_folder(state_dir)?;
        Ok(StateLock {
            held: Held::File(file, fence),
        })
    }

    /// What the journal checks at each write to prove the lock is still this runner's.
    pub fn fence(&self) -> Fence {
        match &self.held {
            Held::File(_, fence) => Fence(FenceKind::Folder(fence.clone())),
            Held::Postgres(lock) => Fence(FenceKind::Postgres(lock.session())),
        }
    }

    /// After a lost lock, once every write of the run has ended: tells a runner that took the
    /// lock since that none of this one's writes is in flight (PostgreSQL), so it need not wait
    /// out the lease. Returns whether that was recorded.
    pub fn settle_after_loss(&self, state: &StateLocation) -> bool {
        match (&self.held, state) {
            (Held::Postgres(lock), StateLocation::Postgres(target)) => {
                lock.session().settle_after_loss(target)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_first_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _held = StateLock::acquire(dir.path()).unwrap();
        let err = StateLock::acquire(dir.path()).unwrap_err().to_string();
        let me = Holder::this_process();
        assert!(
            err.contains(&format!("(process {}", std::process::id())),
            "{err}"
        );
        if let Some(host) = &me.host {
            assert!(err.contains(&format!("on host {host}")), "{err}");
        }
        assert!(err.contains(", since 20"), "{err}");
        assert!(err.ends_with("UTC)"), "{err}");
    }
}
