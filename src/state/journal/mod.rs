//! The journal: the state of a plan. It records every run, and for every step its intent before
//! the write and its outcome after, with request IDs, job IDs, counts and secret fingerprints
//! (never a secret). It is the audit trail, and what makes a killed run resumable: an intent
//! without an outcome is resolved by observing before acting. Its jobs hold every migration job
//! the state knows (each job any wave started, and jobs adopted with `--adopt-existing-jobs`): a
//! job on the application that is not there was not started from this state.
//!
//! Two backends keep it, behind one interface (this type; the engine sees no other):
//! - `state/folder/`: an embedded SQLite database in a local state folder, the default;
//! - `state/postgres/`: a PostgreSQL database every runner of a pipeline shares, where several
//!   plans may live side by side, each keyed by its name.
//!
//! [`StateLocation`] says which (`StateLocation::backend`, the one place it is matched); the
//! journal holds the backend's [`Store`] and knows no backend. The translate checkpoints stay
//! local whatever the plan's state (`FolderJournal`, in `state/folder/translate.rs`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::graph::StepId;
use crate::state::fingerprint::Fingerprinter;
use crate::state::folder::FolderBackend;
use crate::state::lock::Fence;

mod backend;
mod location;
mod records;
pub use crate::state::folder::JOURNAL_FILE;
pub(crate) use backend::{HeldLock, LockFence, StateBackend, Store};
pub use location::{PASSWORD_VAR, PostgresTarget, SslMode, StateError, StateLocation};
pub use records::{
    Event, JobCounts, JobOrigin, JournalError, KnownJob, LockError, Phase, RunOutcome, RunRecord,
    StepRecord, StepState, StepStatus, format_utc, now,
};
pub(crate) use records::{UnknownValue, WaveJob, record_json, wave_jobs};

/// A plan's journal, in a state folder or in PostgreSQL.
#[derive(Debug)]
pub struct Journal {
    /// The backend's journal.
    store: Arc<dyn Store>,
    /// The lock's proof, once the run holds it: every write checks it (PostgreSQL: every write
    /// runs on the lock's session behind a fence, see `postgres::LockSession`).
    fence: Option<Fence>,
    /// Steps whose write this journal recorded as intended or running and not ended: what was
    /// in flight if the lock is lost.
    open: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Journal {
    /// Opens (creating if needed) the journal in the state folder `state_dir`, which must
    /// exist.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        let folder = FolderBackend {
            dir: state_dir.to_path_buf(),
        };
        Ok(Journal::of(folder.open()?))
    }

    /// Opens (creating if needed) `plan`'s journal at `state`: a folder's journal (one plan per
    /// folder, the folder created private first), or the plan's part of a PostgreSQL database
    /// (its schema created or upgraded on first use).
    pub fn open_at(state: &StateLocation, plan: &str) -> Result<Journal, JournalError> {
        Ok(Journal::of(state.backend().create(plan)?))
    }

    /// `plan`'s journal at `state` if anything was ever applied there; creates nothing (a
    /// folder without a journal, a database without the schema or the plan: `None`).
    pub fn existing(state: &StateLocation, plan: &str) -> Result<Option<Journal>, JournalError> {
        Ok(state.backend().existing(plan)?.map(Journal::of))
    }

    /// The journal a backend's store keeps (a folder's is shared with `FolderJournal`).
    pub(crate) fn of(store: Arc<dyn Store>) -> Journal {
        Journal {
            store,
            fence: None,
            open: Default::default(),
        }
    }

    /// From now on every write proves, when it is made, that this runner holds `fence`'s lock;
    /// a write that cannot is refused with [`JournalError::LockLost`] and nothing is written.
    pub fn set_fence(&mut self, fence: Fence) {
        self.store.fence_with(fence.proof());
        self.fence = Some(fence);
    }

    /// The lock's proof, when the run holds one.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    /// Why the lock is lost, if it is known to be (always `None` without a fence).
    pub fn lock_lost(&self) -> Option<String> {
        self.fence.as_ref().and_then(Fence::lost)
    }

    /// Reads every stored value once: a value this version does not know (a step status, a
    /// job's status, a run's outcome) fails here, for every command alike (`plan` as `apply`,
    /// before any write), rather than only where a step happens to read it.
    pub fn check_values(&self) -> Result<(), JournalError> {
        self.store().steps()?;
        self.store().known_jobs()?;
        self.store().runs()?;
        Ok(())
    }

    /// The steps whose write this run intended (or started) and whose end it did not record.
    pub fn open_steps(&self) -> Vec<String> {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Before a write: a state folder's lock file must still be the one locked. (PostgreSQL's
    /// proof is made by the write itself, in its transaction.)
    fn fenced(&self) -> Result<(), JournalError> {
        if let Some(fence) = &self.fence
            && !fence.windowed()
            && let Some(why) = fence.lost()
        {
            return Err(JournalError::LockLost {
                location: self.store().location(),
                why,
            });
        }
        Ok(())
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The key connector secrets are fingerprinted with: the folder's `fingerprint.key`, or the
    /// plan's key in PostgreSQL (made with the plan's first journal there).
    pub fn fingerprinter(&self) -> Result<Fingerprinter, JournalError> {
        self.store().fingerprinter()
    }

    pub fn start_run(&self, plan_name: &str, command: &str) -> Result<i64, JournalError> {
        self.fenced()?;
        self.store().start_run(plan_name, command)
    }

    pub fn finish_run(&self, run_id: i64, outcome: RunOutcome) -> Result<(), JournalError> {
        self.fenced()?;
        self.store().finish_run(run_id, outcome)
    }

    pub fn runs(&self) -> Result<Vec<RunRecord>, JournalError> {
        self.store().runs()
    }

    /// Records a step's new state, and appends it to the audit trail, in one transaction.
    pub fn record(
        &self,
        run_id: i64,
        step: &StepId,
        phase: Phase,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<(), JournalError> {
        let recorded = self
            .fenced()
            .and_then(|()| self.store().record(run_id, step, phase, status, record));
        match recorded {
            Ok(()) => {}
            // The lock is gone, but a write already sent has ended: its outcome (or a wave's
            // jobs) is kept if the journal is reachable and the step's row is still this run's
            // (the runner that holds the lock now has not recorded it). Never an intent: no new
            // write may follow. The run still ends with `state::lock-lost`.
            Err(lost @ JournalError::LockLost { .. }) if phase != Phase::Intent => {
                if !self
                    .store()
                    .record_if_mine(run_id, step, phase, status, record)
                    .unwrap_or(false)
                {
                    return Err(lost);
                }
                if matches!(status, StepStatus::Done | StepStatus::Failed) {
                    self.open
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(step.as_str());
                }
                return Err(lost);
            }
            Err(e) => return Err(e),
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match status {
            StepStatus::Intent | StepStatus::Running => {
                open.insert(step.as_str().to_owned());
            }
            StepStatus::Done | StepStatus::Failed => {
                open.remove(step.as_str());
            }
        }
        Ok(())
    }

    /// Records jobs that were on the application before this state knew them, as history
    /// (`--adopt-existing-jobs`). Jobs already known are left as they are. Returns how many
    /// were new to the journal.
    pub fn adopt_jobs(
        &self,
        run_id: i64,
        app_id: &str,
        jobs: &[crate::api::MigrationJob],
    ) -> Result<usize, JournalError> {
        self.fenced()?;
        self.store().adopt_jobs(run_id, app_id, jobs)
    }

    /// Every job this state knows (started by its waves or adopted), in the order it learned
    /// of them.
    pub fn known_jobs(&self) -> Result<Vec<KnownJob>, JournalError> {
        self.store().known_jobs()
    }

    /// Whether the journal holds any record of a step of `pair`.
    pub fn knows_pair(&self, pair: &str) -> Result<bool, JournalError> {
        self.store().knows_pair(pair)
    }

    /// [`knows_pair`](Self::knows_pair) for each of `pairs`, in their order, asked at once.
    pub fn knows_pairs(&self, pairs: &[&str]) -> Result<Vec<bool>, JournalError> {
        self.store().knows_pairs(pairs)
    }

    /// Appends to the audit trail only, leaving the step's state as it is: an error while a
    /// write's outcome is unknown (an intent, a running wave) must not erase what the next run
    /// needs to resolve it.
    pub fn note(
        &self,
        run_id: i64,
        step: &StepId,
        record: &StepRecord,
    ) -> Result<(), JournalError> {
        self.fenced()?;
        self.store().note(run_id, step, record)
    }

    pub fn step(&self, step: &StepId) -> Result<Option<StepState>, JournalError> {
        self.store().step(step)
    }

    /// Every step's state, by step ID.
    pub fn steps(&self) -> Result<Vec<(String, StepState)>, JournalError> {
        self.store().steps()
    }

    /// IDs of every job this state knows: every job any of its waves ever started (earlier
    /// jobs of a wave run again included) and every adopted one. A job is never claimed by two
    /// waves, and a job not in this list was not started from this state.
    pub fn claimed_jobs(&self) -> Result<HashSet<String>, JournalError> {
        self.store().claimed_jobs()
    }

    /// The audit trail: every event, oldest first.
    pub fn events(&self) -> Result<Vec<Event>, JournalError> {
        self.store().events()
    }
}
