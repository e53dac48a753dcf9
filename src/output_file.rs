//! Where the files the user asks for go (`report --out`, `translate --out`/`--errors`,
//! `plan --out`), and how they are written: the one rule for every output.
//!
//! An output path comes from a command line a pipeline wrote, perhaps in a workspace a pull
//! request controls, so before anything is written it is checked ([`check`]):
//! - it is not the plan file, a saved plan (`plan --out`'s file, which `apply FILE` applies), or
//!   anything inside the state folder (the journal, the lock, the fingerprint key);
//! - its last component is not a symbolic link: a planted link (dangling or not) would send the
//!   rows somewhere else. There is no flag to follow one; the user names the link's target
//!   instead (`--out "$(readlink -f PATH)"`). The folders above it are the user's to choose.
//!
//! A document is written whole or not at all ([`write_whole`]): into a new private (0600)
//! temporary file in the same folder, synced, then renamed over the path. A crash or a full
//! disk leaves the previous file as it was, and a reader never sees half a report. (Translate's
//! ID file is the exception by design: it is appended to page by page and resumed after a crash,
//! its journal recording how far it is whole; it is opened without following a link.)

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What an output must not be: the run's plan file, a saved plan, and the state folder.
#[derive(Debug, Clone, Default)]
pub struct Protected {
    /// The plan file the command reads.
    pub plan: Option<PathBuf>,
    /// The local state folder (journal, lock, fingerprint key, translate's checkpoints).
    pub state_dir: Option<PathBuf>,
    /// Whether an existing saved plan may be replaced (`plan --out` makes saved plans; every
    /// other output must not destroy one).
    pub saved_plan_replaceable: bool,
}

/// Why an output path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It is the plan file.
    IsPlan,
    /// It is a saved plan (`plan --out`'s file).
    IsSavedPlan,
    /// It is inside the state folder.
    InStateFolder,
    /// Its last component is a symbolic link.
    Symlink,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::IsPlan => "it is the plan file",
            Refusal::IsSavedPlan => "it is a saved plan (written by `plan --out`)",
            Refusal::InStateFolder => {
                "it is inside the state folder, which holds the journal and the lock"
            }
            Refusal::Symlink => "it is a symbolic link, which is not followed",
        }
    }
}

/// How much of an existing file is read to tell whether it is a saved plan.
const SAVED_PLAN_SNIFF: u64 = 4096;

/// Checks `path` as an output (see the module documentation). `Ok` says nothing about whether
/// the folder is writable: that is learnt by writing.
pub fn check(path: &Path, protected: &Protected) -> Result<(), Refusal> {
    let existing = std::fs::symlink_metadata(path).ok();
    if existing
        .as_ref()
        .is_some_and(|m| m.file_type().is_symlink())
    {
        return Err(Refusal::Symlink);
    }
    let resolved = resolve(path);
    if let Some(plan) = &protected.plan
        && (same_file(path, plan) || resolved.as_deref() == canonical(plan).as_deref())
    {
        return Err(Refusal::IsPlan);
    }
    if let (Some(state), Some(resolved)) = (&protected.state_dir, &resolved)
        && let Some(state) = canonical(state)
        && resolved.starts_with(&state)
    {
        return Err(Refusal::InStateFolder);
    }
    if !protected.saved_plan_replaceable
        && existing.as_ref().is_some_and(std::fs::Metadata::is_file)
        && looks_like_saved_plan(path)
    {
        return Err(Refusal::IsSavedPlan);
    }
    Ok(())
}

/// Writes `contents` to `path` whole or not at all (see [`WholeFile`]).
pub fn write_whole(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = WholeFile::create(path)?;
    file.write_all(contents)?;
    file.commit()
}

/// An output written whole or not at all, however it is written (at once, or a page at a time
/// as a streamed report is): a private temporary file beside `path` that [`WholeFile::commit`]
/// syncs and renames over it. Dropped without a commit, the temporary file is removed and
/// `path` is left as it was. A symbolic link at `path` is replaced, never followed (callers
/// refuse one first with [`check`]).
pub struct WholeFile {
    path: PathBuf,
    dir: PathBuf,
    tmp: PathBuf,
    file: Option<io::BufWriter<std::fs::File>>,
}

impl WholeFile {
    pub fn create(path: &Path) -> io::Result<WholeFile> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        let mut attempt = 0u32;
        loop {
            let tmp = dir.join(format!(
                ".{}.{}.{}.tmp",
                name.to_string_lossy(),
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            // create_new: never an existing file, never through a link.
            match crate::state::private::open(
                &tmp,
                std::fs::OpenOptions::new().write(true).create_new(true),
            ) {
                Ok(file) => {
                    return Ok(WholeFile {
                        path: path.to_path_buf(),
                        dir,
                        tmp,
                        file: Some(io::BufWriter::new(file)),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 3 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Syncs the temporary file and renames it over the output.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(file) = self.file.take() else {
            return Err(io::Error::other("the output was already committed"));
        };
        let written = file
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        // The rename itself is durable once the folder is synced; not every filesystem allows
        // opening a folder, and the data is already safe, so a failure here is not an error.
        if let Ok(folder) = std::fs::File::open(&self.dir) {
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

impl Write for WholeFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write(buf),
            None => Err(io::Error::other("the output was already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for WholeFile {
    fn drop(&mut self) {
        // Not committed: the partial file goes, the output stays as it was.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// `path` made absolute with its folder resolved (links above the last component followed, as
/// the write will follow them), or `None` when the folder does not exist.
fn resolve(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

fn canonical(path: &Path) -> Option<PathBuf> {
    path.canonicalize().ok()
}

/// Whether two paths name one file (a hard link included).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
        false
    }
    #[cfg(not(unix))]
    {
        matches!((canonical(a), canonical(b)), (Some(a), Some(b)) if a == b)
    }
}

/// Whether the file starts like a saved plan: JSON whose first bytes hold its format marker.
fn looks_like_saved_plan(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = Vec::new();
    if io::Read::read_to_end(&mut io::Read::take(file, SAVED_PLAN_SNIFF), &mut head).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    text.trim_start().starts_with('{') && text.contains("\"nylas-migrate/saved-plan\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_not_committed_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report.csv");
        std::fs::write(&out, "old report").unwrap();
        let mut file = WholeFile::create(&out).unwrap();
        file.write_all(b"half of a new one").unwrap();
        drop(file); // a report that failed part way
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old report");
        let mut file = WholeFile::create(&out).unwrap();
        file.write_all(b"page 1\n").unwrap();
        file.write_all(b"page 2\n").unwrap();
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "page 1\npage 2\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.csv")]);
    }

    #[test]
    fn a_whole_write_replaces_a_link_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "kept").unwrap();
        let link = dir.path().join("out.csv");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &link).unwrap();
        #[cfg(unix)]
        assert_eq!(check(&link, &Protected::default()), Err(Refusal::Symlink));
        write_whole(&link, b"rows").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "rows");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn the_plan_the_state_folder_and_saved_plans_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.yaml");
        std::fs::write(&plan, "version: 1\n").unwrap();
        let state = dir.path().join(".nylas-migrate");
        std::fs::create_dir(&state).unwrap();
        let saved = dir.path().join("saved.json");
        std::fs::write(&saved, "{\n  \"format\": \"nylas-migrate/saved-plan\",\n").unwrap();
        let protected = Protected {
            plan: Some(plan.clone()),
            state_dir: Some(state.clone()),
            saved_plan_replaceable: false,
        };
        assert_eq!(check(&plan, &protected), Err(Refusal::IsPlan));
        let dotted = dir.path().join(".").join("plan.yaml");
        assert_eq!(check(&dotted, &protected), Err(Refusal::IsPlan));
        assert_eq!(
            check(&state.join("journal.sqlite"), &protected),
            Err(Refusal::InStateFolder)
        );
        assert_eq!(
            check(&state.join("new.csv"), &protected),
            Err(Refusal::InStateFolder)
        );
        assert_eq!(check(&saved, &protected), Err(Refusal::IsSavedPlan));
        assert_eq!(check(&dir.path().join("report.csv"), &protected), Ok(()));
        let replaceable = Protected {
            saved_plan_replaceable: true,
            ..protected
        };
        assert_eq!(check(&saved, &replaceable), Ok(()));
    }
}
