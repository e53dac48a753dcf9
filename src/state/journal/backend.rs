//! What a state backend is: where a plan's journal is kept and how its lock is taken, as one
//! client per backend (Terraform's state manager is storage plus locker). A backend implements
//! [`StateBackend`] (open or create the plan's journal, find an existing one, take the lock),
//! its journal [`Store`], its held lock [`HeldLock`] and the lock's proof [`LockFence`].
//! `folder/` (SQLite, a file lock) and `postgres/` (an advisory lock on a session of its own)
//! implement them; `StateLocation::backend` (in `state/backends.rs`) is the one place a location
//! picks its backend. What is the same for every backend stays above them, once: the
//! `Journal` (checking the fence before each write, the steps in flight), the `StateLock` and
//! its `Fence`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::records::{
    Event, JournalError, KnownJob, LockError, Phase, RunOutcome, RunRecord, StepRecord, StepState,
    StepStatus,
};
use crate::graph::StepId;
use crate::state::fingerprint::Fingerprinter;

/// Where a plan's state is kept: its journal and its lock, for one location.
pub(crate) trait StateBackend: std::fmt::Debug {
    /// Opens `plan`'s journal, creating what it needs first (a state folder, private; a
    /// database's schema and the plan's row).
    fn create(&self, plan: &str) -> Result<Arc<dyn Store>, JournalError>;
    /// `plan`'s journal if anything was ever applied there; creates nothing.
    fn existing(&self, plan: &str) -> Result<Option<Arc<dyn Store>>, JournalError>;
    /// Takes `plan`'s lock without waiting; a lock another runner holds is
    /// [`LockError::Held`], naming it.
    fn lock(&self, plan: &str) -> Result<Box<dyn HeldLock>, LockError>;
}

/// A lock a runner holds, released when dropped (and by the OS or the server however the
/// process ends).
pub(crate) trait HeldLock: Send + Sync + std::fmt::Debug {
    /// The proof the journal checks at each write.
    fn fence(&self) -> Arc<dyn LockFence>;
    /// After a lost lock, once every write of the run has ended: tells a runner that took the
    /// lock since that none of this one's writes is in flight, so it need not wait out the
    /// lease. Returns whether that was recorded (never, for a lock that has no lease).
    fn settle_after_loss(&self) -> bool {
        false
    }
}

/// What proves, at a write, that this runner still holds its lock (see `state::Fence`, which
/// the engine holds).
pub(crate) trait LockFence: std::any::Any + Send + Sync + std::fmt::Debug {
    /// Why the lock is lost, if it is known to be: nothing more may be written.
    fn lost(&self) -> Option<String>;
    /// Whether a write the previous holder may have sent is surely over: always for a lock
    /// that is its holder process's.
    fn previous_settled(&self) -> bool {
        true
    }
    /// At most how long until [`previous_settled`](Self::previous_settled) holds.
    fn lease_left(&self) -> Duration {
        Duration::ZERO
    }
    /// Whether a write must be sent within `SEND_WINDOW` of its intent (a lock another machine
    /// can take over); such a lock's proof is made by the store's write itself.
    fn windowed(&self) -> bool {
        false
    }
    /// Holds the lock as lost from now on (only a windowed lock can be given up).
    fn give_up(&self, _why: String) {}
    /// Where the lock is, as messages name it.
    fn place(&self) -> String;
}

/// A plan's journal as one backend keeps it: the records' reads and writes. The engine talks to
/// the `Journal` only, which holds one of these and checks the fence before each write.
pub(crate) trait Store: Send + Sync + std::fmt::Debug {
    fn start_run(&self, plan_name: &str, command: &str) -> Result<i64, JournalError>;
    fn finish_run(&self, run_id: i64, outcome: RunOutcome) -> Result<(), JournalError>;
    fn runs(&self) -> Result<Vec<RunRecord>, JournalError>;
    fn record(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<(), JournalError>;
    /// After the lock was lost: the step's new state, unfenced, only if its row is still this
    /// run's (no other runner has recorded the step since). Returns whether it was recorded.
    fn record_if_mine(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<bool, JournalError>;
    fn adopt_jobs(
        &self,
        run_id: i64,
        app_id: &str,
        jobs: &[crate::api::MigrationJob],
    ) -> Result<usize, JournalError>;
    fn known_jobs(&self) -> Result<Vec<KnownJob>, JournalError>;
    fn knows_pair(&self, pair: &str) -> Result<bool, JournalError>;
    /// [`knows_pair`](Self::knows_pair) for each of `pairs`, in their order: a backend at a
    /// distance answers them in one round trip.
    fn knows_pairs(&self, pairs: &[&str]) -> Result<Vec<bool>, JournalError> {
        pairs.iter().map(|pair| self.knows_pair(pair)).collect()
    }
    fn note(&self, run_id: i64, step: &StepId, record: &StepRecord) -> Result<(), JournalError>;
    fn step(&self, step: &StepId) -> Result<Option<StepState>, JournalError>;
    fn steps(&self) -> Result<Vec<(String, StepState)>, JournalError>;
    fn claimed_jobs(&self) -> Result<HashSet<String>, JournalError>;
    fn events(&self) -> Result<Vec<Event>, JournalError>;
    fn fingerprinter(&self) -> Result<Fingerprinter, JournalError>;
    /// Where it is, as errors show it (a PostgreSQL password masked).
    fn location(&self) -> String;
    /// From now on every write proves, as it is made, that the runner still holds the lock
    /// whose proof `fence` is (PostgreSQL: the write runs on the lock's session, the fence in
    /// its transaction). A backend whose lock the `Journal` checks before each
    /// write (a state folder's file lock) has nothing to do here.
    fn fence_with(&self, _fence: Arc<dyn LockFence>) {}
}
