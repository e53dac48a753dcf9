//! The state folder as a [`StateBackend`]: its journal (`journal.sqlite`, the folder created
//! private first when a run writes), and its lock (an exclusive lock on the file `lock`, whose
//! proof is that file, checked before each write).

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use super::JOURNAL_FILE;
use super::lock::{FolderFence, lock_folder};
use super::sqlite::SqliteStore;
use crate::state::journal::{HeldLock, JournalError, LockError, LockFence, StateBackend, Store};

/// A local state folder: one plan per folder.
#[derive(Debug)]
pub(crate) struct FolderBackend {
    pub(crate) dir: PathBuf,
}

impl FolderBackend {
    /// The folder's journal, created in it if absent; the folder itself must exist.
    pub(crate) fn open(&self) -> Result<Arc<dyn Store>, JournalError> {
        Ok(Arc::new(SqliteStore::open(&self.dir)?))
    }
}

impl StateBackend for FolderBackend {
    fn create(&self, _plan: &str) -> Result<Arc<dyn Store>, JournalError> {
        super::private::create_dir(&self.dir).map_err(|source| JournalError::Io {
            path: self.dir.display().to_string(),
            source,
        })?;
        self.open()
    }

    fn existing(&self, _plan: &str) -> Result<Option<Arc<dyn Store>>, JournalError> {
        if !self.dir.join(JOURNAL_FILE).exists() {
            return Ok(None);
        }
        self.open().map(Some)
    }

    fn lock(&self, _plan: &str) -> Result<Box<dyn HeldLock>, LockError> {
        let (file, fence) = lock_folder(&self.dir)?;
        Ok(Box::new(FolderLock { _file: file, fence }))
    }
}

/// The locked file, open for as long as the lock is held (the OS releases it with the file).
#[derive(Debug)]
struct FolderLock {
    _file: File,
    fence: Arc<FolderFence>,
}

impl HeldLock for FolderLock {
    fn fence(&self) -> Arc<dyn LockFence> {
        self.fence.clone()
    }
}

impl LockFence for FolderFence {
    fn lost(&self) -> Option<String> {
        self.check().err()
    }

    fn place(&self) -> String {
        format!(
            "state folder {}",
            self.path.parent().unwrap_or(&self.path).display()
        )
    }
}
