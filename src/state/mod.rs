//! The plan's state: the journal and its records, kept in a state folder (`folder/`: SQLite and
//! a file lock) or in PostgreSQL (`postgres/`: an advisory lock, fenced and group-committed
//! writes), and the lock that a run holds while it writes. See `docs/architecture.md` ("The
//! state", "Fencing", "How to add a state backend").
//!
//! The files, each using only those listed before it: `fingerprint` (the key secrets are
//! fingerprinted with), `journal::records` and `journal::location` (what every backend shares:
//! the records, where the state lives), `journal::backend` (what a backend implements:
//! `StateBackend`, its `Store`, its `HeldLock` and `LockFence`), `holder` (who holds a lock),
//! `folder/` and `postgres/` (the backends), `backends` (`StateLocation::backend`, the one
//! place a location picks its backend), `lock` (the lock a run holds, its fence), `journal`
//! (the [`Journal`] the engine talks to), `folder::FolderJournal` (a folder's journal with
//! translate's checkpoints).

mod backends;
pub(crate) mod fingerprint;
pub(crate) mod folder;
pub(crate) mod holder;
pub mod journal;
pub(crate) mod lock;
pub(crate) mod postgres;

pub use backends::{SEND_WINDOW, takeover_lease};
pub(crate) use folder::private;
pub use folder::{
    FailureCounts, FinishedPage, FolderJournal, ListedAccountRecord, TranslateFailure,
    TranslateRefusal, TranslateSession,
};
pub use journal::{Journal, JournalError, LockError, StateError, StateLocation};
pub use lock::{Fence, StateLock};
