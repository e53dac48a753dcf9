//! The plan's state: the journal and its records, kept in a state folder (`folder/`: SQLite and
//! a file lock) or in PostgreSQL (`postgres/`: an advisory lock, fenced and group-committed
//! writes), and the lock that a run holds while it writes. See `docs/architecture.md` ("The
//! state", "Fencing", "How to add a state backend").
//!
//! The files, each using only those listed before it: `fingerprint` (the key secrets are
//! fingerprinted with), `journal::records` and `journal::location` (what every backend shares:
//! the records, the [`journal::Store`] a backend implements, where the state lives), `holder`
//! (who holds a lock), `folder/` and `postgres/` (the backends), `lock` (the lock a run holds,
//! its fence), `journal` (the [`Journal`] the engine talks to), `folder::FolderJournal` (a
//! folder's journal with translate's checkpoints).

pub(crate) mod fingerprint;
pub(crate) mod folder;
pub(crate) mod holder;
pub mod journal;
pub(crate) mod lock;
pub(crate) mod postgres;

pub(crate) use folder::private;
pub use folder::{
    FailureCounts, FinishedPage, FolderJournal, ListedAccountRecord, TranslateFailure,
    TranslateRefusal, TranslateSession,
};
pub use journal::{Journal, JournalError, LockError, StateError, StateLocation};
pub use lock::{Fence, SEND_WINDOW, StateLock, takeover_lease};
