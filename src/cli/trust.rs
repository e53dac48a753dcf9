//! The runner's opt-ins beyond what a plan may reach on its own (see the README's trust
//! boundaries): given outside the plan, on the commands that read one, since a plan cannot
//! choose where its secrets go.

use std::path::PathBuf;

/// `--allow-api-host`, `--allow-secret-dir`, `--allow-state-host`: flattened into the
/// arguments of every command that loads a plan (its API hosts, its `{ file: }` secrets and
/// its state URL are checked against them), and of no other.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct TrustArgs {
    /// Let a region's `api_url` send the plan's API keys to HOST, besides Nylas's API hosts and
    /// loopback (repeatable, or comma-separated in the variable). Given by whoever runs the
    /// plan, since a plan cannot choose where its secrets go.
    #[arg(
        long = "allow-api-host",
        value_name = "HOST",
        env = crate::plan::ALLOW_API_HOSTS_VAR,
        value_delimiter = ','
    )]
    pub allow_api_hosts: Vec<String>,
    /// Let `{ file: }` secrets be read from DIR, besides the plan's folder (repeatable, or
    /// comma-separated in the variable).
    #[arg(
        long = "allow-secret-dir",
        value_name = "DIR",
        env = crate::plan::ALLOW_SECRET_DIRS_VAR,
        value_delimiter = ','
    )]
    pub allow_secret_dirs: Vec<PathBuf>,
    /// Let a plan's PostgreSQL state URL (`state.postgres.url`) name HOST, besides loopback
    /// (repeatable, or comma-separated in the variable): the database password goes there, and
    /// its journal decides what a run skips. `--state postgres://…` needs no opt-in.
    #[arg(
        long = "allow-state-host",
        value_name = "HOST",
        env = crate::plan::ALLOW_STATE_HOSTS_VAR,
        value_delimiter = ','
    )]
    pub allow_state_hosts: Vec<String>,
}

impl TrustArgs {
    /// The opt-ins, empty values left out.
    pub fn trust(&self) -> crate::plan::Trust {
        let hosts = |list: &[String]| {
            list.iter()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect()
        };
        crate::plan::Trust {
            api_hosts: hosts(&self.allow_api_hosts),
            secret_dirs: self
                .allow_secret_dirs
                .iter()
                .filter(|d| !d.as_os_str().is_empty())
                .cloned()
                .collect(),
            state_hosts: hosts(&self.allow_state_hosts),
        }
    }
}
