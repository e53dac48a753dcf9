//! One `apply` at a time per plan state, held for the whole run and released however the run
//! ends (a SIGKILL included), so a crashed run never leaves a stale lock behind:
//! - a state folder: an exclusive lock on `state/lock`, released by the OS with the process;
//!   the lock file names its holder;
//! - PostgreSQL: a session-level advisory lock per plan on a connection of its own, released by
//!   the server when that session ends (see `state/postgres/`); a table names its holder.
//!
//! Either way a second run is refused at once with who holds it (process, user, host, since
//! when). Reads (`plan`, `status`, `report`) take no lock. Each backend takes its lock
//! (`StateBackend::lock`); this file holds what is the same for all: the held lock and the
//! [`Fence`] the journal checks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::state::folder::FolderBackend;
use crate::state::journal::{HeldLock, LockError, LockFence, StateBackend, StateLocation};

/// The held lock, whichever backend holds it; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    held: Box<dyn HeldLock>,
}

/// What lets the journal prove, at each write, that this runner still holds the lock (see
/// [`StateLock::fence`]).
#[derive(Debug, Clone)]
pub struct Fence(Arc<dyn LockFence>);

impl Fence {
    /// Why the lock is lost, if it is known to be: nothing more may be written.
    pub fn lost(&self) -> Option<String> {
        self.0.lost()
    }

    /// Whether a write the previous holder may have sent is surely over (see
    /// [`takeover_lease`](crate::state::takeover_lease)): always for a state folder, whose
    /// lock is the holder process's.
    pub fn previous_settled(&self) -> bool {
        self.0.previous_settled()
    }

    /// At most how long until [`previous_settled`](Self::previous_settled) holds.
    pub fn lease_left(&self) -> Duration {
        self.0.lease_left()
    }

    /// Whether a write must be sent within [`SEND_WINDOW`](crate::state::SEND_WINDOW) of its
    /// intent (a lock that can be taken over by another machine).
    pub fn windowed(&self) -> bool {
        self.0.windowed()
    }

    /// Holds the lock as lost from now on (a write could not be sent within
    /// [`SEND_WINDOW`](crate::state::SEND_WINDOW) of its intent: the lock can no longer be
    /// proven for it).
    pub fn give_up(&self, why: String) {
        self.0.give_up(why);
    }

    /// The proof itself, for the store's fenced writes (see `Store::fence_with`).
    pub(crate) fn proof(&self) -> Arc<dyn LockFence> {
        self.0.clone()
    }

    /// Where the lock is, as messages name it.
    pub fn place(&self) -> String {
        self.0.place()
    }
}

impl StateLock {
    /// `plan`'s lock at `state` without waiting.
    pub fn acquire_at(state: &StateLocation, plan: &str) -> Result<StateLock, LockError> {
        Ok(StateLock {
            held: state.backend().lock(plan)?,
        })
    }

    /// The state folder's lock (its file `lock`), without waiting.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        let folder = FolderBackend {
            dir: state_dir.to_path_buf(),
        };
        Ok(StateLock {
            held: folder.lock("")?,
        })
    }

    /// What the journal checks at each write to prove the lock is still this runner's.
    pub fn fence(&self) -> Fence {
        Fence(self.held.fence())
    }

    /// After a lost lock, once every write of the run has ended: tells a runner that took the
    /// lock since that none of this one's writes is in flight (PostgreSQL), so it need not wait
    /// out the lease. Returns whether that was recorded.
    pub fn settle_after_loss(&self) -> bool {
        self.held.settle_after_loss()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::holder::Holder;

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
