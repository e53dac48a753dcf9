//! One task of a pair: takes the pair's chains one by one and follows each to its last page,
//! each page to the writer; an account that fails stops its other chains.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::api::TranslateRequest;
use crate::state::TranslateRefusal;

use crate::events::Reporter;

use super::{Chain, Failure, PageRows, Shared, Written};

/// What a task does after a chain.
enum Next {
    Chain,
    /// The writer stopped (an I/O or journal error): it reports why.
    Stop,
}

/// Works the pair's chains until they end (its listing finished and the queue is empty) or
/// the writer stops.
pub(super) async fn work(
    pair: usize,
    shared: &Shared,
    tx: &mpsc::Sender<Written>,
    reporter: &dyn Reporter,
) {
    loop {
        let chain = shared.queues[pair].lock().await.recv().await;
        let Some(chain) = chain else {
            return;
        };
        if let Next::Stop = follow(pair, &chain, shared, tx, reporter).await {
            // The listing must not wait on a queue nobody takes from any more.
            shared.queues[pair].lock().await.close();
            return;
        }
    }
}

/// Follows one chain from its start page to its last, or until its account fails.
async fn follow(
    pair: usize,
    chain: &Chain,
    shared: &Shared,
    tx: &mpsc::Sender<Written>,
    reporter: &dyn Reporter,
) -> Next {
    let app = &shared.pairs[pair].app;
    let account = &chain.target.account;
    let mut page = chain.start_page;
    loop {
        if chain.target.failed() {
            shared.progress.chain_abandoned();
            return untranslated(pair, chain, shared, tx).await;
        }
        let request = TranslateRequest {
            resource_type: chain.resource_type.as_str().to_owned(),
            v2_account_id: account.account_id.clone(),
            nylas_ids: None,
            start_from_timestamp: shared.since,
            next_page_number: (page > 1).then_some(page),
        };
        let result = app.translate(&request).await;
        // When the answer came: answers are spaced as the limiter spaced the requests.
        shared.calls[pair].note();
        let failure = match result {
            Ok(response) => {
                let data = response.data;
                let next = data.next_page_number;
                let reason = if data.v2_account_id != account.account_id
                    || data.resource_type != chain.resource_type.as_str()
                {
                    format!(
                        "the answer is for account {} and type {}, not the ones asked for",
                        data.v2_account_id, data.resource_type
                    )
                } else if next.is_some_and(|n| n <= page) {
                    format!("page {page} points back to page {next:?}: pages do not advance")
                } else {
                    let rows = PageRows {
                        target: Arc::clone(&chain.target),
                        resource_type: chain.resource_type,
                        page,
                        next_page: next,
                        request_id: response.request_id,
                        translations: data.translations.unwrap_or_default(),
                    };
                    shared.progress.page_fetched();
                    if tx.send(Written::Page(rows)).await.is_err() {
                        return Next::Stop;
                    }
                    match next {
                        Some(n) => {
                            page = n;
                            continue;
                        }
                        None => return Next::Chain,
                    }
                };
                Failure {
                    status: None,
                    request_id: response.request_id,
                    reason,
                    refused: false,
                }
            }
            Err(err) => {
                let status = err.status();
                // A 4xx other than 429 (the client waits those out) is Nylas's answer about
                // this account: asking again will get the same answer.
                Failure {
                    status,
                    request_id: err.request_id().map(str::to_owned),
                    reason: err.to_string(),
                    refused: status.is_some_and(|s| (400..500).contains(&s) && s != 429),
                }
            }
        };
        return fail(pair, chain, failure, shared, tx, reporter).await;
    }
}

/// Stops a chain whose request failed: the account's first failure is its error row (and,
/// refused for good, a record in the journal); a later one adds its type to that row.
async fn fail(
    pair: usize,
    chain: &Chain,
    failure: Failure,
    shared: &Shared,
    tx: &mpsc::Sender<Written>,
    reporter: &dyn Reporter,
) -> Next {
    let first = chain.target.failure.set(failure).is_ok();
    shared.progress.chain_abandoned();
    if first
        && let Some(error) = chain
            .target
            .error(&shared.pairs[pair].name, chain.resource_type)
    {
        reporter.report(&super::progress::account_failed(&error));
        // Refused for good: recorded, so that a rerun does not ask again.
        if error.refused {
            let refusal = TranslateRefusal {
                pair: error.pair,
                account_id: error.account_id,
                status: error.status,
                request_id: error.request_id,
                reason: error.reason,
            };
            if tx.send(Written::Refused(refusal)).await.is_err() {
                return Next::Stop;
            }
        }
    }
    untranslated(pair, chain, shared, tx).await
}

/// Adds a resource type to the error row of an account that failed (its other chains stop
/// once it failed): the writer records it in the journal, where the row is.
async fn untranslated(
    pair: usize,
    chain: &Chain,
    shared: &Shared,
    tx: &mpsc::Sender<Written>,
) -> Next {
    let Some(error) = chain
        .target
        .error(&shared.pairs[pair].name, chain.resource_type)
    else {
        return Next::Chain;
    };
    match tx.send(Written::Failed(error)).await {
        Ok(()) => Next::Chain,
        Err(_) => Next::Stop,
    }
}
