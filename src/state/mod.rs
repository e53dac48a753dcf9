//! The plan's state: the journal and its records, kept in a folder (SQLite and a file lock) or
//! in PostgreSQL (an advisory lock and fenced transactions), and the lock that a run holds while
//! it writes. See `docs/architecture.md` ("The journal", "Fencing").

pub(crate) mod fingerprint;
pub mod journal;
pub(crate) mod lock;
pub(crate) mod postgres;
pub(crate) mod private;

pub use journal::{Journal, JournalError, StateError, StateLocation};
pub use lock::{Fence, LockError, SEND_WINDOW, StateLock, takeover_lease};
