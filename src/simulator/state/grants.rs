//! Grants made by cloning v2 accounts, indexed by grant id and by v2 account so that observing
//! a page of accounts costs a page of lookups.

use std::sync::Arc;

use serde::Serialize;

use super::{AccountRef, AppState, State};
use crate::api::{Grant, GrantStatus};
use crate::simulator::generate::PERSONAL_MICROSOFT_DOMAINS;
use crate::simulator::world::AccountProvider;

#[derive(Debug, Clone)]
pub struct GrantRecord {
    /// A UUID, kept as its 128 bits: a million grants would otherwise carry two million
    /// 36-character strings (here and in `grant_by_id`).
    pub id: u128,
    pub account: AccountRef,
    pub valid: bool,
    pub created_s: i64,
    /// The scope granted, fixed when the grant was made (the connector's scope at that
    /// moment): an index into the app's `AppState::scopes`, or `NO_SCOPE`. An index rather
    /// than the list keeps a million grants as small as before.
    pub scope: u32,
}

/// `GrantRecord::scope` of a grant whose connector had no scope.
pub const NO_SCOPE: u32 = u32::MAX;

/// The filters and ordering of `get-all-grants`. Its `sort_by` (`created_at` or `updated_at`)
/// needs no field: a simulated grant is never re-authenticated, so its `updated_at` is its
/// `created_at`, and grants are stored in creation order, so both orders are storage order.
#[derive(Debug, Default)]
pub struct GrantFilter {
    pub account_ids: Option<Vec<String>>,
    pub provider: Option<String>,
    pub grant_status: Option<GrantStatus>,
    /// Compared without regard to ASCII case.
    pub email: Option<String>,
    /// `created_at >= since`.
    pub since: Option<i64>,
    /// `created_at <= before`.
    pub before: Option<i64>,
    pub ip: Option<String>,
    pub workspace_id: Option<String>,
    pub limit: usize,
    pub offset: usize,
    pub ascending: bool,
}

/// `GrantObject` with every property the contract lists, as the simulator sends it: the
/// fields the runner reads (`Grant`) and the rest with their empty values, since a migrated
/// grant has no sign-in of its own (no IP, user agent, state or credential).
#[derive(Debug, Clone, Serialize)]
pub struct GrantWire {
    #[serde(flatten)]
    pub grant: Grant,
    pub ip: String,
    pub provider_user_id: String,
    pub state: String,
    pub user_agent: String,
    pub workspace_id: String,
    pub credential_id: String,
    /// Only with `expose_aliases=true`, and never for a consumer Microsoft account (the
    /// contract: "this field is omitted from the response entirely").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_aliases: Option<Vec<String>>,
}

impl State {
    /// The v3 app holding `record` (the one its v2 app is linked to).
    fn grant_app(&self, record: &GrantRecord) -> Option<usize> {
        self.linked_v3_of(record.account.app as usize)
    }

    pub fn grant_to_api(&self, record: &GrantRecord) -> Grant {
        let account = self.account(record.account);
        Grant {
            id: uuid::Uuid::from_u128(record.id).to_string(),
            provider: account.provider.connector().as_str().to_string(),
            created_at: record.created_s,
            scope: self
                .grant_app(record)
                .and_then(|app| self.apps[app].scopes.get(record.scope as usize))
                .map(|scope| scope.to_vec())
                .unwrap_or_default(),
            account_id: Some(account.id.clone()),
            grant_status: Some(if record.valid {
                GrantStatus::Valid
            } else {
                GrantStatus::Invalid
            }),
            email: Some(account.email.clone()),
            name: Some(String::new()),
            blocked: Some(false),
            updated_at: Some(record.created_s),
            settings: Some(serde_json::Map::new()),
        }
    }

    /// The grant as the API sends it; `expose_aliases` is `get_grant_by_id`'s query flag.
    pub fn grant_wire(&self, record: &GrantRecord, expose_aliases: bool) -> GrantWire {
        let account = self.account(record.account);
        let consumer_microsoft = account.provider == AccountProvider::Microsoft
            && account.email.rsplit_once('@').is_some_and(|(_, domain)| {
                PERSONAL_MICROSOFT_DOMAINS
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(domain))
            });
        let has_aliases = matches!(
            account.provider,
            AccountProvider::Google | AccountProvider::Microsoft
        ) && !consumer_microsoft;
        GrantWire {
            grant: self.grant_to_api(record),
            ip: String::new(),
            provider_user_id: String::new(),
            state: String::new(),
            user_agent: String::new(),
            workspace_id: self
                .grant_app(record)
                .map(|app| self.apps[app].workspace_id.clone())
                .unwrap_or_default(),
            credential_id: String::new(),
            // The world knows no aliases: an empty list where the contract sends one.
            email_aliases: (expose_aliases && has_aliases).then(Vec::new),
        }
    }

    /// One page of `app`'s grants, newest first unless `ascending`. With `account_ids` the cost
    /// is one lookup per id, whatever the number of grants; `since` and `before` narrow the
    /// range by binary search (grants are stored in creation order).
    pub fn list_grants(&self, app: usize, filter: &GrantFilter) -> Vec<GrantWire> {
        let state = &self.apps[app];
        // Every grant of the app is in its default workspace and has no client IP.
        let in_workspace = filter
            .workspace_id
            .as_deref()
            .is_none_or(|w| w == state.workspace_id);
        let ip_matches = filter.ip.as_deref().is_none_or(str::is_empty);
        if !in_workspace || !ip_matches {
            return Vec::new();
        }
        let keep = |record: &GrantRecord| {
            let account = self.account(record.account);
            filter
                .provider
                .as_deref()
                .is_none_or(|p| account.provider.as_str() == p)
                && filter
                    .grant_status
                    .is_none_or(|s| (s == GrantStatus::Valid) == record.valid)
                && filter
                    .email
                    .as_deref()
                    .is_none_or(|e| account.email.eq_ignore_ascii_case(e))
                && filter.since.is_none_or(|t| record.created_s >= t)
                && filter.before.is_none_or(|t| record.created_s <= t)
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
            None => {
                let grants = &state.grants;
                let lo = filter
                    .since
                    .map_or(0, |t| grants.partition_point(|g| g.created_s < t));
                let hi = filter
                    .before
                    .map_or(grants.len(), |t| {
                        grants.partition_point(|g| g.created_s <= t)
                    })
                    .max(lo);
                let range = &grants[lo..hi];
                if filter.ascending {
                    range
                        .iter()
                        .filter(|g| keep(g))
                        .skip(filter.offset)
                        .take(filter.limit)
                        .collect()
                } else {
                    range
                        .iter()
                        .rev()
                        .filter(|g| keep(g))
                        .skip(filter.offset)
                        .take(filter.limit)
                        .collect()
                }
            }
        };
        picked
            .into_iter()
            .map(|g| self.grant_wire(g, false))
            .collect()
    }
}

impl AppState {
    /// The index in `scopes` of the scope `scope` (interned: the same list shared by the
    /// connector is stored once), or `NO_SCOPE`.
    pub fn scope_index(&mut self, scope: Option<&Arc<[String]>>) -> u32 {
        let Some(scope) = scope else {
            return NO_SCOPE;
        };
        if let Some(i) = self.scopes.iter().rposition(|s| Arc::ptr_eq(s, scope)) {
            return i as u32;
        }
        self.scopes.push(scope.clone());
        (self.scopes.len() - 1) as u32
    }

    pub fn grant(&self, id: &str) -> Option<&GrantRecord> {
        let id = uuid::Uuid::parse_str(id).ok()?.as_u128();
        self.grant_by_id.get(&id).map(|&i| &self.grants[i as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million grants cost what docs/simulator.md and the README say: fixing each grant's
    /// scope must not grow the record.
    #[test]
    fn a_grant_record_stays_small() {
        assert!(std::mem::size_of::<GrantRecord>() <= 48);
    }
}
