//! Grants made by cloning v2 accounts, indexed by grant id and by v2 account so that observing
//! a page of accounts costs a page of lookups.

use super::{AccountRef, AppState, State};
use crate::api::{Grant, GrantStatus};

#[derive(Debug, Clone)]
pub struct GrantRecord {
    /// A UUID, kept as its 128 bits: a million grants would otherwise carry two million
    /// 36-character strings (here and in `grant_by_id`).
    pub id: u128,
    pub account: AccountRef,
    pub valid: bool,
    pub created_s: i64,
}

/// The filters of `get-all-grants` the simulator honours.
#[derive(Debug, Default)]
pub struct GrantFilter {
    pub account_ids: Option<Vec<String>>,
    pub provider: Option<String>,
    pub grant_status: Option<GrantStatus>,
    pub limit: usize,
    pub offset: usize,
    pub ascending: bool,
}

impl State {
    pub fn grant_to_api(&self, record: &GrantRecord) -> Grant {
        let account = self.account(record.account);
        let provider = account.provider.connector();
        let app = self.linked_v3_of(record.account.app as usize);
        let scope = app
            .and_then(|a| self.apps[a].connector(provider))
            .and_then(|c| c.scope.clone())
            .unwrap_or_default();
        Grant {
            id: uuid::Uuid::from_u128(record.id).to_string(),
            provider: provider.as_str().to_string(),
            created_at: record.created_s,
            scope,
            account_id: Some(account.id.clone()),
            grant_status: Some(if record.valid {
                GrantStatus::Valid
            } else {
                GrantStatus::Invalid
            }),
            email: Some(account.email.clone()),
            name: None,
            blocked: Some(false),
            updated_at: Some(record.created_s),
            settings: None,
        }
    }

    /// One page of `app`'s grants, newest first unless `ascending`. With `account_ids` the cost
    /// is one lookup per id, whatever the number of grants.
    pub fn list_grants(&self, app: usize, filter: &GrantFilter) -> Vec<Grant> {
        let state = &self.apps[app];
        let keep = |record: &GrantRecord| {
            let account = self.account(record.account);
            filter
                .provider
                .as_deref()
                .is_none_or(|p| account.provider.as_str() == p)
                && filter
                    .grant_status
                    .is_none_or(|s| (s == GrantStatus::Valid) == record.valid)
        };
        let picked: Vec<&GrantRecord> = match &filter.account_ids {
            Some(ids) => {
                let mut found: Vec<u32> = ids
                    .iter()
                    .filter_map(|id| self.account_ref(id))
                    // Only this app's accounts: those of the v2 app it is linked to.
                    .filter(|r| state.linked_v2 == Some(r.app as usize))
                    .filter_map(|r| self.grant_index(r))
                    .filter(|&g| keep(&state.grants[g as usize]))
                    .collect();
                // Grants are stored in creation order, so their index orders them by created_at.
                found.sort_unstable();
                found.dedup();
                if !filter.ascending {
                    found.reverse();
                }
                found
                    .into_iter()
                    .skip(filter.offset)
                    .take(filter.limit)
                    .map(|g| &state.grants[g as usize])
                    .collect()
            }
            None if filter.ascending => state
                .grants
                .iter()
                .filter(|g| keep(g))
                .skip(filter.offset)
                .take(filter.limit)
                .collect(),
            None => state
                .grants
                .iter()
                .rev()
                .filter(|g| keep(g))
                .skip(filter.offset)
                .take(filter.limit)
                .collect(),
        };
        picked.into_iter().map(|g| self.grant_to_api(g)).collect()
    }
}

impl AppState {
    pub fn grant(&self, id: &str) -> Option<&GrantRecord> {
        let id = uuid::Uuid::parse_str(id).ok()?.as_u128();
        self.grant_by_id.get(&id).map(|&i| &self.grants[i as usize])
    }
}
