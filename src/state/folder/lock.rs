//! A state folder's lock: an exclusive `flock` on `state/lock`, released by the kernel with the
//! process, the file naming its holder; and the fence a run checks before each journal write
//! (the lock file must still be the file that was locked).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::state::holder::Holder;
use crate::state::journal::LockError;

/// The state folder's lock file as locked: its path, and the file (device and inode) the lock
/// is on. A lock file removed or replaced by hand no longer excludes another run: the next
/// write notices.
#[derive(Debug)]
pub(crate) struct FolderFence {
    pub(crate) path: PathBuf,
    id: (u64, u64),
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

impl FolderFence {
    pub(crate) fn check(&self) -> Result<(), String> {
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if file_id(&meta) == self.id => Ok(()),
            Ok(_) => Err(format!(
                "its lock file {} was replaced since this run locked it",
                self.path.display()
            )),
            Err(e) => Err(format!(
                "its lock file {} is gone ({e})",
                self.path.display()
            )),
        }
    }
}

/// Takes the state folder's lock (its file `lock`) without waiting, and writes this process in
/// it as the holder.
pub(crate) fn lock_folder(state_dir: &Path) -> Result<(File, Arc<FolderFence>), LockError> {
    let path = state_dir.join("lock");
    let io = |source| LockError::Io {
        path: state_dir.display().to_string(),
        source,
    };
    let mut file = super::private::open(
        &path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(LockError::Held {
                place: format!("state folder {}", state_dir.display()),
                holder: Holder::parse(&text).describe(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    // Who holds it, for the message another run shows.
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(Holder::this_process().to_file().as_bytes())
        .map_err(io)?;
    file.flush().map_err(io)?;
    let fence = FolderFence {
        path,
        id: file_id(&file.metadata().map_err(io)?),
    };
    Ok((file, Arc::new(fence)))
}
