//! A PostgreSQL database as a [`StateBackend`]: the plan's journal (its schema created or
//! upgraded on first use), and its lock (a session-level advisory lock on a session of its own,
//! whose proof is made by each write on that session).

use std::sync::Arc;

use super::lock::{LockSession, Locked, PostgresLock, try_lock};
use super::store::PostgresStore;
use crate::state::holder::Holder;
use crate::state::journal::{
    HeldLock, JournalError, LockError, LockFence, PostgresTarget, StateBackend, Store,
};

/// A PostgreSQL state database, where several plans live side by side, each keyed by its name.
#[derive(Debug)]
pub(crate) struct PostgresBackend {
    pub(crate) target: PostgresTarget,
    /// How long a write of a holder that vanished can still be in flight (see
    /// `state::takeover_lease`).
    pub(crate) lease: std::time::Duration,
}

impl StateBackend for PostgresBackend {
    fn create(&self, plan: &str) -> Result<Arc<dyn Store>, JournalError> {
        Ok(Arc::new(PostgresStore::open(&self.target, plan)?))
    }

    fn existing(&self, plan: &str) -> Result<Option<Arc<dyn Store>>, JournalError> {
        Ok(PostgresStore::existing(&self.target, plan)?.map(|s| Arc::new(s) as Arc<dyn Store>))
    }

    fn lock(&self, plan: &str) -> Result<Box<dyn HeldLock>, LockError> {
        match try_lock(&self.target, plan, Holder::this_process(), self.lease)? {
            Locked::Acquired(lock) => Ok(Box::new(PostgresHeld {
                lock,
                target: self.target.clone(),
            })),
            Locked::Busy(holder) => Err(LockError::Held {
                place: format!(
                    "PostgreSQL state {} for plan `{}`",
                    self.target.shown(),
                    crate::untrusted::escaped(plan)
                ),
                holder: holder.unwrap_or_default().describe(),
            }),
        }
    }
}

/// The advisory lock held, and where to settle its epoch from after it is lost.
#[derive(Debug)]
struct PostgresHeld {
    lock: PostgresLock,
    target: PostgresTarget,
}

impl HeldLock for PostgresHeld {
    fn fence(&self) -> Arc<dyn LockFence> {
        self.lock.session()
    }

    fn settle_after_loss(&self) -> bool {
        self.lock.session().settle_after_loss(&self.target)
    }
}

impl LockFence for LockSession {
    fn lost(&self) -> Option<String> {
        LockSession::lost(self)
    }

    fn previous_settled(&self) -> bool {
        LockSession::previous_settled(self)
    }

    fn lease_left(&self) -> std::time::Duration {
        LockSession::lease_left(self)
    }

    fn windowed(&self) -> bool {
        true
    }

    fn give_up(&self, why: String) {
        LockSession::give_up(self, why);
    }

    fn place(&self) -> String {
        format!("PostgreSQL state {}", self.location())
    }
}
