//! A pair's listing: its accounts a page at a time, each page turned into the chains still to
//! do by asking the journal (not memory) which accounts this run listed before and what earlier
//! runs recorded of them, then queued for the pair's tasks.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::api::ResourceType;

use super::accounts::{Account, Source};
use super::{AccountError, Chain, HEAD_ACCOUNTS, Shared, Target, TranslateError};

/// A pair's listing: its source of accounts, and the chains listed but not yet queued.
pub(super) struct Lister {
    pub(super) pair: usize,
    pub(super) source: Source,
    /// The account IDs listed, when an accounts file is translated (those of the file no pair
    /// lists are errors): bounded by the file.
    pub(super) found: Option<Arc<Mutex<HashSet<String>>>>,
    /// Chains listed before the run started, queued first.
    pub(super) ready: Vec<Chain>,
    pub(super) exhausted: bool,
}

impl Lister {
    /// The next page of the pair's accounts, or `None` after the last.
    async fn next(&mut self) -> Result<Option<Vec<Account>>, TranslateError> {
        if self.exhausted {
            return Ok(None);
        }
        let batch = self.source.next_batch(self.pair).await?;
        match (&batch, &self.found) {
            (None, _) => self.exhausted = true,
            (Some(accounts), Some(found)) => found
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(accounts.iter().map(|a| a.account_id.clone())),
            (Some(_), None) => {}
        }
        Ok(batch)
    }

    /// Lists up to [`HEAD_ACCOUNTS`] accounts (all of a small world) and makes their chains,
    /// so that the run's first report counts them.
    pub(super) async fn head(
        &mut self,
        shared: &Arc<Shared>,
        resource_types: &[ResourceType],
    ) -> Result<(), TranslateError> {
        let mut listed = 0;
        while listed < HEAD_ACCOUNTS {
            let Some(batch) = self.next().await? else {
                break;
            };
            listed += batch.len();
            let chains = page_chains(shared, self.pair, batch, resource_types).await?;
            self.ready.extend(chains);
        }
        Ok(())
    }

    /// Queues the pair's chains, then lists the rest page by page, until the accounts end or
    /// the tasks stop taking chains.
    pub(super) async fn feed(
        mut self,
        shared: Arc<Shared>,
        queue: mpsc::Sender<Chain>,
        resource_types: Vec<ResourceType>,
    ) -> Result<(), TranslateError> {
        let mut chains = std::mem::take(&mut self.ready);
        loop {
            for chain in chains {
                if queue.send(chain).await.is_err() {
                    // The tasks stopped (the writer failed): it reports why.
                    return Ok(());
                }
            }
            let Some(accounts) = self.next().await? else {
                return Ok(());
            };
            chains = page_chains(&shared, self.pair, accounts, &resource_types).await?;
        }
    }
}

/// The chains of a page of `accounts` of pair `pair` still to do (see [`chains_of`]), the
/// journal asked off the runtime's threads.
async fn page_chains(
    shared: &Arc<Shared>,
    pair: usize,
    accounts: Vec<Account>,
    resource_types: &[ResourceType],
) -> Result<Vec<Chain>, TranslateError> {
    let shared = Arc::clone(shared);
    let types = resource_types.to_vec();
    tokio::task::spawn_blocking(move || chains_of(&shared, pair, accounts, &types))
        .await
        .map_err(|e| TranslateError::Io {
            path: String::from("the state folder"),
            what: "read translate's records in",
            source: std::io::Error::other(e.to_string()),
        })?
}

/// The chains of `accounts` (a page of pair `pair`) still to do, resource type by resource
/// type (an account Nylas refuses is found on its first type, before its other types are asked
/// for), counted in `shared`'s progress. An account this run listed before is skipped; a chain
/// an earlier run finished is counted done, one it began resumes at its next page; an account
/// refused before ends as it did then: a row in the errors, its chains abandoned, nothing asked.
fn chains_of(
    shared: &Shared,
    pair: usize,
    accounts: Vec<Account>,
    resource_types: &[ResourceType],
) -> Result<Vec<Chain>, TranslateError> {
    let name = &shared.pairs[pair].name;
    let records = {
        let ids: Vec<&str> = accounts.iter().map(|a| a.account_id.as_str()).collect();
        shared
            .journal
            .translate_listing(shared.session, name, &ids)?
    };
    let listed: Vec<_> = accounts
        .into_iter()
        .zip(records)
        .filter(|(_, record)| !record.again)
        .map(|(account, record)| (Arc::new(Target::new(account)), record))
        .collect();
    let mut refused: Vec<Vec<ResourceType>> = vec![Vec::new(); listed.len()];
    let (mut found, mut complete) = (0, 0);
    let mut chains = Vec::new();
    for &resource_type in resource_types {
        for ((target, record), refused) in listed.iter().zip(&mut refused) {
            found += 1;
            let start_page = match record.chains.iter().find(|(t, _)| *t == resource_type) {
                Some((_, None)) => {
                    complete += 1;
                    continue;
                }
                Some((_, Some(next))) => *next,
                None => 1,
            };
            if record.refusal.is_some() {
                refused.push(resource_type);
                continue;
            }
            chains.push(Chain {
                target: Arc::clone(target),
                resource_type,
                start_page,
            });
        }
    }
    shared.progress.chains_found(found, complete);
    shared
        .accounts
        .fetch_add(listed.len() as u64, Ordering::Relaxed);
    for ((target, record), mut resource_types) in listed.iter().zip(refused) {
        let Some(refusal) = &record.refusal else {
            continue;
        };
        if resource_types.is_empty() {
            continue;
        }
        for _ in &resource_types {
            shared.progress.chain_abandoned();
        }
        resource_types.sort();
        let account = &target.account;
        shared.journal.translate_failed(
            shared.session,
            &AccountError {
                pair: name.clone(),
                account_id: account.account_id.clone(),
                email: account.email.clone(),
                provider: account.provider.clone(),
                grant_id: account.grant_id.clone(),
                resource_types,
                status: refusal.status,
                request_id: refusal.request_id.clone(),
                reason: refusal.reason.clone(),
                refused: true,
            },
        )?;
    }
    Ok(chains)
}
