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
use std::path::Path;

use super::journal::postgres::{LockHolder, Locked, PostgresLock, try_lock};
use super::journal::{JournalError, StateLocation, format_utc, now};

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
    _held: Held,
}

#[derive(Debug)]
enum Held {
    File(#[allow(dead_code)] File),
    Postgres(#[allow(dead_code)] PostgresLock),
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
                match try_lock(target, plan, me)? {
                    Locked::Acquired(lock) => Ok(StateLock {
                        _held: Held::Postgres(lock),
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
        Ok(StateLock {
            _held: Held::File(file),
        })
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
