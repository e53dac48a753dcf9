//! What a plan may reach without an opt-in from outside it.
//!
//! A plan comes from a pull request, while the secrets it references come from the environment
//! of whoever runs it (a CI job with production keys). So the plan alone must not decide where
//! those secrets go: a region's `api_url` may name Nylas's API hosts or a loopback address, and
//! a `{ file: }` secret may be read from the plan's folder; anything else needs an opt-in given
//! by the runner, as a flag or an environment variable, naming the host or folder allowed.

use std::path::{Component, Path, PathBuf};

use crate::api::Region;

/// The environment variable that allows API hosts beyond Nylas's (comma-separated).
pub const ALLOW_API_HOSTS_VAR: &str = "NYLAS_MIGRATE_ALLOW_API_HOSTS";
/// The environment variable that allows PostgreSQL state hosts beyond loopback
/// (comma-separated).
pub const ALLOW_STATE_HOSTS_VAR: &str = "NYLAS_MIGRATE_ALLOW_STATE_HOSTS";
/// The environment variable that allows secret files in folders beyond the plan's
/// (comma-separated).
pub const ALLOW_SECRET_DIRS_VAR: &str = "NYLAS_MIGRATE_ALLOW_SECRET_DIRS";

/// The opt-ins of one run. The default allows nothing beyond Nylas's hosts, loopback and the
/// plan's folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Host names (or IP addresses) a region may point at besides Nylas's and loopback.
    pub api_hosts: Vec<String>,
    /// Folders secret files may be read from besides the plan's.
    pub secret_dirs: Vec<PathBuf>,
    /// Hosts a plan's PostgreSQL state URL may name besides loopback (the URL's password, and
    /// `PGPASSWORD`, go there; its journal decides what a run skips).
    pub state_hosts: Vec<String>,
}

impl Trust {
    /// Whether a region's API base URL may name `host` (as `Url::host_str` gives it).
    pub fn allows_api_host(&self, host: &str) -> bool {
        let host = normal_host(host);
        is_nylas_host(&host)
            || is_loopback_host(&host)
            || self.api_hosts.iter().any(|h| normal_host(h) == host)
    }

    /// Whether a plan's PostgreSQL state URL may name `host`: loopback, a Unix socket folder
    /// (a path: this machine), or a host the run allows.
    pub fn allows_state_host(&self, host: &str) -> bool {
        host.starts_with('/')
            || is_loopback_host(host)
            || self
                .state_hosts
                .iter()
                .any(|h| normal_host(h) == normal_host(host))
    }

    /// Whether a secret file at `path` (as the plan writes it, relative to `plan_dir`) stays in
    /// the plan's folder or an allowed one. Lexical: `..` and absolute paths are resolved
    /// without reading the file system (the file need not exist to validate; reading it checks
    /// again, following links).
    pub fn allows_secret_path(&self, plan_dir: &Path, path: &Path) -> bool {
        let full = normalize(&absolute(&plan_dir.join(path)));
        let base = normalize(&absolute(plan_dir));
        full.starts_with(&base)
            || self
                .secret_dirs
                .iter()
                .any(|dir| full.starts_with(normalize(&absolute(dir))))
    }
}

/// Nylas's API hosts, one per region.
pub fn nylas_hosts() -> Vec<&'static str> {
    Region::ALL
        .into_iter()
        .map(|r| {
            r.default_api_url()
                .trim_start_matches("https://")
                .trim_end_matches('/')
        })
        .collect()
}

fn is_nylas_host(host: &str) -> bool {
    nylas_hosts().contains(&host)
}

/// Lowercase, without a trailing dot or IPv6 brackets.
fn normal_host(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// `127.0.0.0/8`, `::1` or `localhost` (RFC 6761 reserves it for loopback).
pub fn is_loopback_host(host: &str) -> bool {
    let host = normal_host(host);
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host == "localhost",
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `path` with `.` dropped and each `..` taking away the component before it.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nylas_and_loopback_hosts_need_no_opt_in() {
        let trust = Trust::default();
        for host in [
            "api.us.nylas.com",
            "API.EU.NYLAS.COM",
            "api.eu.nylas.com.",
            "127.0.0.1",
            "127.9.9.9",
            "[::1]",
            "localhost",
        ] {
            assert!(trust.allows_api_host(host), "{host}");
        }
        for host in [
            "api.us.nylas.com.evil.example",
            "nylas.com",
            "10.0.0.1",
            "localhost.evil.example",
            "staging.example.com",
        ] {
            assert!(!trust.allows_api_host(host), "{host}");
        }
        let trust = Trust {
            api_hosts: vec!["Staging.Example.com".into()],
            ..Trust::default()
        };
        assert!(trust.allows_api_host("staging.example.com"));
        assert!(!trust.allows_api_host("other.example.com"));
    }

    #[test]
    fn state_hosts_need_an_opt_in_unless_local() {
        let trust = Trust::default();
        for host in ["127.0.0.1", "localhost", "[::1]", "/var/run/postgresql"] {
            assert!(trust.allows_state_host(host), "{host}");
        }
        for host in ["db.example.com", "10.0.0.5", "api.us.nylas.com"] {
            assert!(!trust.allows_state_host(host), "{host}");
        }
        let trust = Trust {
            state_hosts: vec!["DB.example.com.".into()],
            ..Trust::default()
        };
        assert!(trust.allows_state_host("db.example.com"));
        assert!(!trust.allows_state_host("db2.example.com"));
        // An API host opt-in is not a state host opt-in.
        let trust = Trust {
            api_hosts: vec!["db.example.com".into()],
            ..Trust::default()
        };
        assert!(!trust.allows_state_host("db.example.com"));
    }

    #[test]
    fn secret_files_stay_in_the_plan_folder_unless_allowed() {
        let trust = Trust::default();
        let plan_dir = Path::new("/work/plans");
        assert!(trust.allows_secret_path(plan_dir, Path::new("secrets/key")));
        assert!(trust.allows_secret_path(plan_dir, Path::new("./a/../b")));
        assert!(!trust.allows_secret_path(plan_dir, Path::new("../other/key")));
        assert!(!trust.allows_secret_path(plan_dir, Path::new("/etc/passwd")));
        assert!(!trust.allows_secret_path(plan_dir, Path::new("a/../../x")));
        let trust = Trust {
            secret_dirs: vec!["/run/secrets".into()],
            ..Trust::default()
        };
        assert!(trust.allows_secret_path(plan_dir, Path::new("/run/secrets/v3")));
        assert!(!trust.allows_secret_path(plan_dir, Path::new("/run/secretsx/v3")));
    }
}
