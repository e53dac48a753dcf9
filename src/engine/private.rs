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

/// Creates `dir` (and missing parents) readable by its user only. An existing folder keeps
/// its mode (it may be a folder the user chose for other things too), with a warning when other
/// users can enter it.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        warn_if_open(dir);
        return Ok(());
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

/// Opens `path` with `options`, creating it 0600 if it does not exist, and making it 0600 if
/// it does.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    tighten(path)?;
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

/// Makes an existing file private (0600); nothing if it does not exist.
pub fn tighten(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
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

fn warn_if_open(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(dir) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let shown = crate::untrusted::escaped(&dir.display().to_string()).into_owned();
            tracing::warn!(
                "state folder {shown} can be entered by other users (mode {mode:04o}); its files are private (0600), but consider: chmod 700 {shown}"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}
