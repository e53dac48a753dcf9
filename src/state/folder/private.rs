//! The state folder and the files the tool writes are private to their user: the journal holds
//! account IDs, job IDs and secret fingerprints, reports hold users' emails. Folders are made
//! 0700 and files 0600, whatever the umask.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of the folders the tool creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files the tool writes.
pub const FILE_MODE: u32 = 0o600;

/// Creates the state folder `dir` (and missing parents) readable by its user only. A folder
/// that already exists is made private too: the folder 0700 and every file the tool keeps in it
/// 0600 (the journal, its WAL, the lock, `fingerprint.key`, translate's locks), saying what was
/// changed; other files, and a symbolic link, are left alone (never followed).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return secure_existing(dir);
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)?;
    // The umask can only take permissions away; set the mode exactly anyway.
    set_mode(dir, DIR_MODE)
}

/// Makes an existing state folder and the files it holds private; warns with what it changed.
fn secure_existing(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let shown = crate::untrusted::escaped(&dir.display().to_string()).into_owned();
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != DIR_MODE {
            set_mode(dir, DIR_MODE)?;
            tracing::warn!(
                "state folder {shown} was mode {mode:04o}; made it {DIR_MODE:04o} (only its user may enter it)"
            );
        }
        let mut tightened = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            // The entry itself, not what a link points at.
            let meta = entry.metadata()?;
            // Only what the tool keeps there: a state folder given with `--state` may hold the
            // user's own files too, and those keep their modes.
            if !meta.is_file() || !is_state_file(&entry.file_name().to_string_lossy()) {
                continue;
            }
            let file_mode = meta.permissions().mode() & 0o777;
            if file_mode != FILE_MODE {
                set_mode(&entry.path(), FILE_MODE)?;
                tightened.push(format!(
                    "{} (was {file_mode:04o})",
                    crate::untrusted::escaped(&entry.file_name().to_string_lossy())
                ));
            }
        }
        if !tightened.is_empty() {
            tightened.sort();
            tracing::warn!(
                "made {} in state folder {shown} private ({FILE_MODE:04o}): {}",
                if tightened.len() == 1 {
                    "1 file".to_owned()
                } else {
                    format!("{} files", tightened.len())
                },
                tightened.join(", ")
            );
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Whether a file of the state folder is one the tool keeps: the journal (with SQLite's WAL,
/// shared memory and rollback journal), the lock, the fingerprint key, translate's locks.
fn is_state_file(name: &str) -> bool {
    let journal = super::JOURNAL_FILE;
    name == journal
        || name
            .strip_prefix(journal)
            .is_some_and(|rest| matches!(rest, "-wal" | "-shm" | "-journal"))
        || name == "lock"
        || name == "fingerprint.key"
        || (name.starts_with("translate-") && name.ends_with(".lock"))
}

/// Opens `path` with `options`, creating it 0600 if it does not exist, and making it 0600 if
/// it does.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    // The file opened, not whatever the path names by now.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
            file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    Ok(file)
}

/// Writes `contents` to `path`, a private file (0600), replacing what it held.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = open(
        path,
        OpenOptions::new().write(true).create(true).truncate(true),
    )?;
    io::Write::write_all(&mut file, contents)
}

/// Makes an existing file private (0600); nothing if it does not exist or is a symbolic link
/// (never followed).
pub fn tighten(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => set_mode(path, FILE_MODE),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if current != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tools_own_files_are_state_files() {
        for name in [
            "journal.sqlite",
            "journal.sqlite-wal",
            "journal.sqlite-shm",
            "lock",
            "fingerprint.key",
            "translate-0123456789abcdef.lock",
        ] {
            assert!(is_state_file(name), "{name}");
        }
        for name in ["plan.yaml", "journal.sqlite.bak", "notes.txt", "lockfile"] {
            assert!(!is_state_file(name), "{name}");
        }
    }
}
