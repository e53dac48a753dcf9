//! One `apply` at a time per state folder: an exclusive lock on `state/lock`, held for the
//! whole run and released by the OS when the process ends, however it ends (a SIGKILL
//! included), so a crashed run never leaves a stale lock behind. The lock file names its
//! holder (process, host, since when), so that a second run can say who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::journal::{format_utc, now};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("another `nylas-migrate apply` is running on state folder {path}{holder}")]
    #[diagnostic(
        code("state::locked"),
        help(
            "wait for it to finish, or use another --state folder for another plan; two runs on one journal could start a wave twice"
        )
    )]
    Held { path: String, holder: String },
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
    /// Seconds since the epoch.
    pub since: Option<i64>,
}

impl Holder {
    fn this_process() -> Holder {
        Holder {
            pid: Some(std::process::id()),
            host: host_name(),
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
                Some(("since", v)) => holder.since = v.parse().ok(),
                None => holder.pid = holder.pid.or_else(|| line.parse().ok()),
                _ => {}
            }
        }
        holder
    }

    /// ` (process 4242 on host ci-7, since 2026-11-23 10:00:00 UTC)`, or nothing when the file
    /// names no one.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(pid) = self.pid {
            parts.push(format!("process {pid}"));
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

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
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
                    path: state_dir.display().to_string(),
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
        Ok(StateLock { _file: file })
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
            Holder::parse("pid=7\nhost=ci\u{1b}[2J\nsince=0\n").describe(),
            " (process 7 on host ci\\u{1b}[2J, since 1970-01-01 00:00:00 UTC)"
        );
    }
}
