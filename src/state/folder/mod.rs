//! The state folder: the plan's journal in an embedded SQLite database (`journal.sqlite`), the
//! fingerprint key beside it, translate's checkpoints, an exclusive file lock, and the files'
//! privacy (0700 folder, 0600 files). One plan per folder: the folder is the plan's state.
//! [`FolderBackend`] is the folder as a state backend.

mod backend;
mod lock;
pub(crate) mod private;
mod sqlite;
mod translate;

pub(crate) use backend::FolderBackend;
pub use translate::{
    FailureCounts, FinishedPage, FolderJournal, ListedAccountRecord, TranslateFailure,
    TranslateRefusal, TranslateSession,
};

/// The journal's file in the state folder.
pub const JOURNAL_FILE: &str = "journal.sqlite";
