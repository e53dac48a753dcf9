//! Cloning one v2 account into a v3 grant: the rules a single clone and every account of a batch
//! job follow.

use super::{AccountRef, GrantRecord, MigrationStatus, State};
use crate::api::ConnectorProvider;
use crate::simulator::clock::secs;
use crate::simulator::ids;
use crate::simulator::world::AccountProvider;

/// The placeholder query parameters (`allow_invalid_grant_creation`, `clone_exchange`), both
/// `true` by default as at Nylas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaceholderFlags {
    pub allow_invalid_grant_creation: bool,
    pub clone_exchange: bool,
}

impl Default for PlaceholderFlags {
    fn default() -> Self {
        PlaceholderFlags {
            allow_invalid_grant_creation: true,
            clone_exchange: true,
        }
    }
}

impl PlaceholderFlags {
    /// Whether an account of `provider` that cannot migrate becomes a placeholder grant:
    /// `allow_invalid_grant_creation=false` refuses it for every provider, `clone_exchange=false`
    /// for Microsoft.
    fn allows(self, provider: AccountProvider) -> bool {
        self.allow_invalid_grant_creation
            && (provider != AccountProvider::Microsoft || self.clone_exchange)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneOutcome {
    /// The account already had a grant (index into the app's grants); nothing was created.
    Existing(u32),
    /// A valid grant was created.
    Migrated(u32),
    /// An invalid placeholder grant was created.
    Placeholder(u32),
    Failed(CloneFailure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneFailure {
    NoConnector(ConnectorProvider),
    ConnectorNotConfigured(ConnectorProvider),
    CannotMigrate,
    /// The batch job was made to fail (`SimulatorConfig::failing_jobs`).
    JobFailed,
}

impl CloneFailure {
    pub fn message(self) -> String {
        match self {
            CloneFailure::NoConnector(p) => {
                format!("no {p} connector: create one before migrating {p} accounts")
            }
            CloneFailure::ConnectorNotConfigured(p) => format!(
                "the {p} connector has no working credentials: set client_id and client_secret in its settings"
            ),
            CloneFailure::CannotMigrate => "the account cannot be migrated automatically and placeholder grant creation is disabled for it".into(),
            CloneFailure::JobFailed => "the migration job failed".into(),
        }
    }
}

impl State {
    /// Clones `account` for v3 app `app`. Counts the attempt, whatever its outcome.
    pub fn clone_account(
        &mut self,
        app: usize,
        account: AccountRef,
        flags: PlaceholderFlags,
        now_ms: u64,
    ) -> CloneOutcome {
        self.count_clone(account);
        if let Some(g) = self.grant_index(account) {
            return CloneOutcome::Existing(g);
        }
        let provider = self.account(account).provider;
        let connector = provider.connector();
        let failure = match self.apps[app].connector(connector) {
            None => Some(CloneFailure::NoConnector(connector)),
            Some(c) if !c.works() => Some(CloneFailure::ConnectorNotConfigured(connector)),
            Some(_) => None,
        };
        let migratable = self.account(account).migratable;
        let failure = failure.or_else(|| {
            (!migratable && !flags.allows(provider)).then_some(CloneFailure::CannotMigrate)
        });
        if let Some(failure) = failure {
            self.set_status(account, MigrationStatus::Failed);
            return CloneOutcome::Failed(failure);
        }
        let id = ids::uuid_bits(self.rng());
        let state = &mut self.apps[app];
        // The grant keeps the scope it was granted, whatever happens to the connector later.
        let scope = state.connector(connector).and_then(|c| c.scope.clone());
        let scope = state.scope_index(scope.as_ref());
        let g = state.grants.len() as u32;
        state.grant_by_id.insert(id, g);
        state.grants.push(GrantRecord {
            id,
            account,
            valid: migratable,
            created_s: secs(now_ms),
            scope,
        });
        self.progress_mut(account).grant = g;
        if migratable {
            self.set_status(account, MigrationStatus::Migrated);
            CloneOutcome::Migrated(g)
        } else {
            self.set_status(account, MigrationStatus::Placeholder);
            CloneOutcome::Placeholder(g)
        }
    }

    /// Counts a clone attempt that a failing job turned into a failure.
    pub fn fail_account(&mut self, account: AccountRef) {
        self.count_clone(account);
        if self.status(account) == MigrationStatus::New {
            self.set_status(account, MigrationStatus::Failed);
        }
    }
}
