//! Who holds a plan's lock: the one type both backends record and read back (a state folder's
//! lock file, PostgreSQL's `lock_holders`), and how a refused run names it.

use crate::state::journal::{format_utc, now};

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
    pub(crate) fn this_process() -> Holder {
        Holder {
            pid: Some(std::process::id()),
            host: host_name(),
            user: user_name(),
            since: Some(now()),
        }
    }

    /// `pid=…`, `host=…`, `since=…` lines; a file of an older version holds the pid alone.
    pub(crate) fn to_file(&self) -> String {
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

    pub(crate) fn parse(text: &str) -> Holder {
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
    pub(crate) fn describe(&self) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
