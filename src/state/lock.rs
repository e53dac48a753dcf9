//! One `apply` at a time per plan state, held for the whole run and released however the run
//! ends (a SIGKILL included), so a crashed run never leaves a stale lock behind:
//! - a state folder: an exclusive lock on `state/lock`, released by the OS with the process;
//!   the lock file names its holder;
//! - PostgreSQL: a session-level advisory lock per plan on a connection of its own, released by
//!   the server when that session ends (see `journal::postgres`); a table names its holder.
//!
//! Either way a second run is refused at once with who holds it (process, user, host, since
//! when). Reads (`plan`, `status`, `report`) take no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::journal::{JournalError, StateLocation, format_utc, now};
use super::postgres::{LockHolder, LockSession, Locked, PostgresLock, try_lock};

/// The longest a write may be sent after its intent's fenced transaction began: past it the
/// write is not sent (its intent stays for a later run to resolve), so that a runner stalled
/// between its intent and its request cannot send it after its lock has long gone.
pub const SEND_WINDOW: Duration = Duration::from_secs(10);

/// How long a write of a runner that lost the lock can still be in flight after its last fenced
/// intent: the send window, then the client's bound on one call (no attempt starts after
/// `max_elapsed`, and one attempt lasts at most `request_timeout`), and a margin. A runner that
/// takes the lock from one that did not settle its epoch waits this long (from its own
/// acquisition, which is after the other's last intent) before it resolves an intent that runner
/// left, unless that runner settles sooner (see docs/architecture.md, "Fencing").
pub fn takeover_lease() -> Duration {
    let policy = crate::client::RetryPolicy::default();
    SEND_WINDOW + policy.max_elapsed + policy.request_timeout + Duration::from_secs(10)
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    /// `place`: `state folder DIR`, or `PostgreSQL state URL for plan `NAME``.
    #[error("another `nylas-migrate apply` is running on {place}{holder}")]
    #[diagnostic(
        code("state::locked"),
        help(
            "wait for it to finish (a run that was killed releases the lock with its process, or its database connection); two runs on one journal could start a wave twice"
        )
    )]
    Held { place: String, holder: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Postgres(#[from] JournalError),
    #[error("cannot lock state folder {path}: {source}")]
    #[diagnostic(
        code("state::lock-failed"),
        help(
            "check that --state names a folder this user can write, with no folder named `lock` in it"
        )
    )]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Who holds a lock, as its file records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub host: Option<String>,
    /// The user the process runs as.
    pub user: Option<String>,
    /// Seconds since the epoch.
    pub since: Option<i64>,
}

impl Holder {
    fn this_process() -> Holder {
        Holder {
            pid: Some(std::process::id()),
            host: host_name(),
            user: user_name(),
            since: Some(now()),
        }
    }

    /// `pid=…`, `host=…`, `since=…` lines; a file of an older version holds the pid alone.
    fn to_file(&self) -> String {
        let mut text = String::new();
        if let Some(pid) = self.pid {
            text.push_str(&format!("pid={pid}\n"));
        }
        if let Some(host) = &self.host {
            text.push_str(&format!("host={host}\n"));
        }
        if let Some(user) = &self.user {
            text.push_str(&format!("user={user}\n"));
        }
        if let Some(since) = self.since {
            text.push_str(&format!("since={since}\n"));
        }
        text
    }

    fn parse(text: &str) -> Holder {
        let mut holder = Holder::default();
        for line in text.lines().map(str::trim) {
            match line.split_once('=') {
                Some(("pid", v)) => holder.pid = v.parse().ok(),
                Some(("host", v)) if !v.is_empty() => {
                    holder.host = Some(crate::untrusted::escaped(v).into_owned())
                }
                Some(("user", v)) if !v.is_empty() => {
                    holder.user = Some(crate::untrusted::escaped(v).into_owned())
                }
                Some(("since", v)) => holder.since = v.parse().ok(),
                None => holder.pid = holder.pid.or_else(|| line.parse().ok()),
                _ => {}
            }
        }
        holder
    }

    /// ` (process 4242 of user ci on host ci-7, since 2026-11-23 10:00:00 UTC)`, or nothing
    /// when the file names no one.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(pid) = self.pid {
            parts.push(format!("process {pid}"));
        }
        if let Some(user) = &self.user {
            parts.push(format!("of user {user}"));
        }
        if let Some(host) = &self.host {
            parts.push(format!("on host {host}"));
        }
        let mut text = parts.join(" ");
        if let Some(since) = self.since {
            if !text.is_empty() {
                text.push_str(", ");
            }
            text.push_str(&format!("since {}", format_utc(since)));
        }
        if text.is_empty() {
            text
        } else {
            format!(" ({text})")
        }
    }
}

fn host_name() -> Option<String> {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).trim().to_owned();
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .ok()
        .filter(|h| !h.is_empty())
}

/// The user this process runs as (for the holder's description; not a secret).
fn user_name() -> Option<String> {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            #[cfg(unix)]
            {
                // SAFETY: getuid has no preconditions and cannot fail.
                let uid = unsafe { libc::getuid() };
                let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
                let mut buf = vec![0 as libc::c_char; 4096];
                let mut found: *mut libc::passwd = std::ptr::null_mut();
                // SAFETY: every pointer is valid for the sizes given; getpwuid_r writes the
                // entry's strings into `buf` and sets `found` to `&entry` or null.
                let rc = unsafe {
                    libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found)
                };
                let name = (rc == 0 && !found.is_null() && !entry.pw_name.is_null())
                    .then(|| {
                        // SAFETY: a NUL-terminated string inside `buf`, alive here.
                        unsafe { std::ffi::CStr::from_ptr(entry.pw_name) }
                            .to_string_lossy()
                            .into_owned()
                    })
                    .filter(|n| !n.is_empty());
                Some(name.unwrap_or_else(|| format!("uid {uid}")))
            }
            #[cfg(not(unix))]
            {
                None
            }
        })
}

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    File(#[allow(dead_code)] File, Arc<FolderFence>),
    Postgres(PostgresLock),
}

/// What lets the journal prove, at each write, that this runner still holds the lock (see
/// [`StateLock::fence`]).
#[derive(Debug, Clone)]
pub struct Fence(FenceKind);

#[derive(Debug, Clone)]
enum FenceKind {
    Folder(Arc<FolderFence>),
    Postgres(Arc<LockSession>),
}

/// The state folder's lock file as locked: its path, and the file (device and inode) the lock
/// is on. A lock file removed or replaced by hand no longer excludes another run: the next
/// write notices.
#[derive(Debug)]
pub(super) struct FolderFence {
    path: PathBuf,
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
    fn check(&self) -> Result<(), String> {
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

impl Fence {
    /// Why the lock is lost, if it is known to be: nothing more may be written.
    pub fn lost(&self) -> Option<String> {
        match &self.0 {
            FenceKind::Folder(f) => f.check().err(),
            FenceKind::Postgres(s) => s.lost(),
        }
    }

    /// Whether a write the previous holder may have sent is surely over (see
    /// [`takeover_lease`]): always for a state folder, whose lock is the holder process's.
    pub fn previous_settled(&self) -> bool {
        match &self.0 {
            FenceKind::Folder(_) => true,
            FenceKind::Postgres(s) => s.previous_settled(),
        }
    }

    /// At most how long until [`previous_settled`](Self::previous_settled) holds.
    pub fn lease_left(&self) -> Duration {
        match &self.0 {
            FenceKind::Folder(_) => Duration::ZERO,
            FenceKind::Postgres(s) => s.lease_left(),
        }
    }

    /// Whether a write must be sent within [`SEND_WINDOW`] of its intent (a lock that can be
    /// taken over by another machine).
    pub fn windowed(&self) -> bool {
        matches!(self.0, FenceKind::Postgres(_))
    }

    /// Holds the lock as lost from now on (a write could not be sent within [`SEND_WINDOW`] of
    /// its intent: the lock can no longer be proven for it).
    pub fn give_up(&self, why: String) {
        if let FenceKind::Postgres(s) = &self.0 {
            s.give_up(why);
        }
    }

    /// The lock's session, for the PostgreSQL journal's fenced writes.
    pub(super) fn session(&self) -> Option<Arc<LockSession>> {
        match &self.0 {
            FenceKind::Postgres(s) => Some(s.clone()),
            FenceKind::Folder(_) => None,
        }
    }

    /// Where the lock is, as messages name it.
    pub fn place(&self) -> String {
        match &self.0 {
            FenceKind::Folder(f) => format!(
                "state folder {}",
                f.path.parent().unwrap_or(&f.path).display()
            ),
            FenceKind::Postgres(s) => format!("PostgreSQL state {}", s.location()),
        }
    }
}

impl StateLock {
    /// Takes `plan`'s lock at `state` without waiting.
    pub fn acquire_at(state: &StateLocation, plan: &str) -> Result<StateLock, LockError> {
        match state {
            StateLocation::Folder(dir) => StateLock::acquire(dir),
            StateLocation::Postgres(target) => {
                let me = Holder::this_process();
                let me = LockHolder {
                    pid: me.pid.map(i64::from),
                    host: me.host,
                    user: me.user,
                    since: me.since,
                };
                match try_lock(target, plan, me, takeover_lease())? {
                    Locked::Acquired(lock) => Ok(StateLock {
                        held: Held::Postgres(lock),
                    }),
                    Locked::Busy(holder) => {
                        let holder = holder.unwrap_or_default();
                        Err(LockError::Held {
                            place: format!(
                                "PostgreSQL state {} for plan `{}`",
                                target.shown(),
                                crate::untrusted::escaped(plan)
                            ),
                            holder: Holder {
                                pid: holder.pid.and_then(|p| u32::try_from(p).ok()),
                                host: holder
                                    .host
                                    .map(|h| crate::untrusted::escaped(&h).into_owned()),
                                user: holder
                                    .user
                                    .map(|u| crate::untrusted::escaped(&u).into_owned()),
                                since: holder.since,
                            }
                            .describe(),
                        })
                    }
                }
            }
        }
    }

    /// The state folder's lock (its file `lock`), without waiting.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
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
        Ok(StateLock {
            held: Held::File(file, Arc::new(fence)),
        })
    }

    /// What the journal checks at each write to prove the lock is still this runner's.
    pub fn fence(&self) -> Fence {
        match &self.held {
            Held::File(_, fence) => Fence(FenceKind::Folder(fence.clone())),
            Held::Postgres(lock) => Fence(FenceKind::Postgres(lock.session())),
        }
    }

    /// After a lost lock, once every write of the run has ended: tells a runner that took the
    /// lock since that none of this one's writes is in flight (PostgreSQL), so it need not wait
    /// out the lease. Returns whether that was recorded.
    pub fn settle_after_loss(&self, state: &StateLocation) -> bool {
        match (&self.held, state) {
            (Held::Postgres(lock), StateLocation::Postgres(target)) => {
                lock.session().settle_after_loss(target)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_first_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _held = StateLock::acquire(dir.path()).unwrap();
        let err = StateLock::acquire(dir.path()).unwrap_err().to_string();
        let me = Holder::this_process();
        assert!(
            err.contains(&format!("(process {}", std::process::id())),
            "{err}"
        );
        if let Some(host) = &me.host {
            assert!(err.contains(&format!("on host {host}")), "{err}");
        }
        assert!(err.contains(", since 20"), "{err}");
        assert!(err.ends_with("UTC)"), "{err}");
    }

    #[test]
    fn an_old_lock_file_with_a_pid_alone_still_names_it() {
        assert_eq!(Holder::parse("4242").describe(), " (process 4242)");
        assert_eq!(Holder::parse("").describe(), "");
        assert_eq!(
            Holder::parse("pid=7\nhost=ci\u{1b}[2J\nuser=ci\nsince=0\n").describe(),
            " (process 7 of user ci on host ci\\u{1b}[2J, since 1970-01-01 00:00:00 UTC)"
        );
    }
}
