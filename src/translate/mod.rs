//! `translate`: v2 object IDs to v3 provider IDs for every migrated account of a plan and every
//! requested resource type, through `translate_v2id_to_provider_id`.
//!
//! - Work comes in chains: one (account, resource type), whose pages follow each other by
//!   `next_page_number`. Each pair's chains are worked by `concurrency` tasks at once, every
//!   request through the v3 application's rate limiter, and every pair at once: the limit of
//!   every application is used, not exceeded.
//! - One writer streams each page's rows to the output file, then records the page and the
//!   file's length in the journal. A killed run resumes: the file is cut back to the last
//!   recorded page and no recorded page is asked for again, so the output ends with every row
//!   once. Memory holds the accounts and a few pages in flight, never the rows.
//! - An account translate cannot serve (Nylas refuses it: an Outlook account; or its requests
//!   keep failing) stops only that account: a row in the errors file and in the summary. A
//!   refusal (a 4xx answer) is recorded in the journal like a finished chain: a rerun of the
//!   same output asks nothing more of that account and lists it again from the record
//!   (`--restart` forgets it and asks again); other failures are asked again.

mod accounts;
mod output;
mod progress;

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::{ResourceType, TranslateRequest, Translation};
use crate::client::{AppClient, ClientError};

use crate::state::journal::JournalError;
use crate::state::{FinishedPage, FolderJournal, TranslateRefusal};

pub use accounts::{Account, ListedAccount, discover, parse_accounts, read_accounts_file};
pub use output::{COLUMNS, ERROR_COLUMNS, Format, imap_folder_id};
pub use progress::{
    BarTranslateReporter, JsonTranslateReporter, PlainTranslateReporter, Progress,
    QuietTranslateReporter, TranslateReporter,
};

/// One pair whose accounts are translated: its name and its v3 application's client.
#[derive(Debug, Clone)]
pub struct TranslatePair {
    pub name: String,
    pub app: AppClient,
}

#[derive(Debug, Clone)]
pub struct TranslateOptions {
    pub resource_types: Vec<ResourceType>,
    /// `start_from_timestamp`: objects created after this Unix time only.
    pub since: Option<i64>,
    /// The output file (rows), absolute.
    pub output: PathBuf,
    /// The errors file (one row per account that could not be translated).
    pub errors: PathBuf,
    pub format: Format,
    /// Chains in flight per pair.
    pub concurrency: usize,
    /// Forget an earlier session of this output file and start it again.
    pub restart: bool,
}

/// An account that could not be translated, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountError {
    pub pair: String,
    pub account_id: String,
    pub email: String,
    pub provider: String,
    pub grant_id: String,
    /// The resource types left untranslated.
    pub resource_types: Vec<ResourceType>,
    /// The HTTP status of the answer that stopped it, if there was one.
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub reason: String,
    /// Refused for good (a 4xx answer, or no grant): running again will not change it.
    /// Otherwise (a network error, a 5xx after retries) the next run tries again.
    pub refused: bool,
}

/// Requests and pace of one pair's application.
#[derive(Debug, Clone, PartialEq)]
pub struct PairThroughput {
    pub pair: String,
    pub rate_limit: u32,
    pub requests: u64,
    /// From the first translate answer to the last.
    pub span: Duration,
}

impl PairThroughput {
    /// Requests per second over the span, as a share of the rate limit (1.0 = the limit).
    pub fn ratio(&self) -> Option<f64> {
        let secs = self.span.as_secs_f64();
        (self.requests > 1 && secs > 0.0)
            .then(|| (self.requests - 1) as f64 / secs / f64::from(self.rate_limit))
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct TranslateSummary {
    pub output: PathBuf,
    pub errors_file: PathBuf,
    pub accounts: u64,
    pub chains: u64,
    pub chains_complete: u64,
    /// Rows in the output file (this run's and the resumed ones').
    pub rows: u64,
    pub rows_this_run: u64,
    /// Pages requested by this run.
    pub pages_this_run: u64,
    /// Pages recorded by earlier runs, not requested again.
    pub pages_resumed: u64,
    /// Bytes cut from the end of the output: rows written but not recorded before a crash.
    pub cut_bytes: u64,
    pub errors: Vec<AccountError>,
    pub throughput: Vec<PairThroughput>,
    pub elapsed: Duration,
}

impl TranslateSummary {
    /// Every chain done, except accounts Nylas refused for good (in the errors file).
    pub fn complete(&self) -> bool {
        self.errors.iter().all(|e| e.refused)
            && self.chains_complete + self.refused_chains() >= self.chains
    }

    fn refused_chains(&self) -> u64 {
        self.errors
            .iter()
            .filter(|e| e.refused)
            .map(|e| e.resource_types.len() as u64)
            .sum()
    }

    /// Accounts refused for good.
    pub fn refused(&self) -> usize {
        self.errors.iter().filter(|e| e.refused).count()
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TranslateError {
    #[error("{path} already exists and no translate run of this state folder wrote it")]
    #[diagnostic(
        code("translate::output-exists"),
        help("choose another --out, delete the file, or pass --restart to overwrite it")
    )]
    OutputExists { path: String },
    #[error("{path} {what}")]
    #[diagnostic(
        code("translate::options-changed"),
        help(
            "run again with the options it was started with to resume it, choose another --out, or pass --restart to start it again"
        )
    )]
    SessionMismatch { path: String, what: String },
    #[error("accounts file {at}: {message}")]
    #[diagnostic(
        code("translate::accounts-file"),
        help("list one v2 account ID per line, or pass the CSV that `report` writes")
    )]
    AccountsFile { at: String, message: String },
    #[error("cannot {what} {path}: {source}")]
    #[diagnostic(
        code("translate::io"),
        help("check that the folder exists and this user can read and write there")
    )]
    Io {
        path: String,
        what: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Client(Box<ClientError>),
}

impl From<ClientError> for TranslateError {
    fn from(err: ClientError) -> Self {
        TranslateError::Client(Box::new(err))
    }
}

/// A chain as the journal names it: pair, account, resource type.
type ChainKey = (String, String, ResourceType);

/// One (account, resource type) still to do, from `start_page`.
#[derive(Debug, Clone, Copy)]
struct Chain {
    account: usize,
    resource_type: ResourceType,
    start_page: u64,
}

/// What the writer records, in the order the tasks send it.
enum Written {
    /// A page's rows: written to the output, then recorded.
    Page(PageRows),
    /// An account Nylas refused for good: recorded.
    Refused(TranslateRefusal),
}

/// A page for the writer.
struct PageRows {
    account: usize,
    resource_type: ResourceType,
    page: u64,
    next_page: Option<u64>,
    request_id: Option<String>,
    translations: Vec<Translation>,
}

/// What every task of a run shares.
struct Shared {
    pairs: Vec<TranslatePair>,
    accounts: Vec<Account>,
    queues: Vec<Mutex<VecDeque<Chain>>>,
    /// Set once an account failed: its other chains stop.
    failed: Vec<AtomicBool>,
    errors: Mutex<Vec<AccountError>>,
    since: Option<i64>,
    progress: Progress,
    /// Per pair: translate calls, first and last call.
    calls: Vec<PairCalls>,
}

#[derive(Default)]
struct PairCalls {
    count: AtomicU64,
    window: Mutex<Option<(Instant, Instant)>>,
}

impl PairCalls {
    fn note(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        *w = Some(w.map_or((now, now), |(first, _)| (first, now)));
    }
}

/// Runs a translation. `listed`: only these accounts (an accounts file), otherwise every
/// account with a v3 grant in `pairs`.
pub async fn translate(
    pairs: Vec<TranslatePair>,
    listed: Option<Vec<ListedAccount>>,
    journal: Arc<FolderJournal>,
    options: &TranslateOptions,
    reporter: Arc<dyn TranslateReporter>,
) -> Result<TranslateSummary, TranslateError> {
    let started = Instant::now();
    let opened = output::open(
        &journal,
        &options.output,
        options.format,
        options.since,
        options.restart,
    )?;
    let (accounts, mut listed_errors) = discover(&pairs, listed.as_deref()).await?;

    // Where each chain stands in the journal.
    let recorded: HashMap<ChainKey, (Option<u64>, u64, u64)> = journal
        .translate_progress(opened.session.id)?
        .into_iter()
        .map(|c| {
            (
                (c.pair, c.account_id, c.resource_type),
                (c.next_page, c.rows, c.last_page),
            )
        })
        .collect();
    // Accounts Nylas refused for good in an earlier run of this output: not asked again.
    let refusals: HashMap<(String, String), TranslateRefusal> = journal
        .translate_refusals(opened.session.id)?
        .into_iter()
        .map(|r| ((r.pair.clone(), r.account_id.clone()), r))
        .collect();
    let mut refused_before: Vec<(usize, Vec<ResourceType>)> = Vec::new();
    let rows_before: u64 = recorded.values().map(|(_, rows, _)| rows).sum();
    let pages_resumed: u64 = recorded.values().map(|(_, _, pages)| pages).sum();
    let mut queues: Vec<VecDeque<Chain>> = vec![VecDeque::new(); pairs.len()];
    let mut chains = 0u64;
    let mut complete = 0u64;
    // Resource type by resource type: an account Nylas refuses is found on its first type,
    // before its other types are asked for.
    for &resource_type in &options.resource_types {
        for (index, account) in accounts.iter().enumerate() {
            chains += 1;
            let key = (
                pairs[account.pair].name.clone(),
                account.account_id.clone(),
                resource_type,
            );
            let start_page = match recorded.get(&key) {
                Some((None, _, _)) => {
                    complete += 1;
                    continue;
                }
                Some((Some(next), _, _)) => *next,
                None => 1,
            };
            if refusals.contains_key(&(key.0, key.1)) {
                match refused_before.iter_mut().find(|(a, _)| *a == index) {
                    Some((_, types)) => types.push(resource_type),
                    None => refused_before.push((index, vec![resource_type])),
                }
                continue;
            }
            queues[account.pair].push_back(Chain {
                account: index,
                resource_type,
                start_page,
            });
        }
    }
    for e in &mut listed_errors {
        e.resource_types = options.resource_types.clone();
    }
    let refused_chains: usize = refused_before.iter().map(|(_, types)| types.len()).sum();
    for (index, mut resource_types) in refused_before {
        let account = &accounts[index];
        let pair = &pairs[account.pair].name;
        let Some(refusal) = refusals.get(&(pair.clone(), account.account_id.clone())) else {
            continue;
        };
        resource_types.sort();
        listed_errors.push(AccountError {
            pair: pair.clone(),
            account_id: account.account_id.clone(),
            email: account.email.clone(),
            provider: account.provider.clone(),
            grant_id: account.grant_id.clone(),
            resource_types,
            status: refusal.status,
            request_id: refusal.request_id.clone(),
            reason: refusal.reason.clone(),
            refused: true,
        });
    }
    let progress = Progress::new(chains, complete, rows_before, opened.cut, opened.resumed);
    // The chains of accounts refused before end as they did then: abandoned, not asked.
    for _ in 0..refused_chains {
        progress.chain_abandoned();
    }
    let shared = Arc::new(Shared {
        failed: accounts.iter().map(|_| AtomicBool::new(false)).collect(),
        calls: pairs.iter().map(|_| PairCalls::default()).collect(),
        queues: queues.into_iter().map(Mutex::new).collect(),
        errors: Mutex::new(listed_errors),
        since: options.since,
        progress,
        pairs,
        accounts,
    });
    reporter.started(&shared.progress, shared.accounts.len() as u64);

    // The writer: a blocking thread, so file writes and journal commits never stall requests.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Written>(16);
    let writer = {
        let shared = Arc::clone(&shared);
        let journal = Arc::clone(&journal);
        let format = options.format;
        let session = opened.session.id;
        let mut file = opened.file;
        let mut offset = opened.offset;
        let path = options.output.clone();
        tokio::task::spawn_blocking(move || -> Result<(), TranslateError> {
            let mut buf = Vec::with_capacity(1 << 20);
            while let Some(written) = rx.blocking_recv() {
                let page = match written {
                    Written::Page(page) => page,
                    Written::Refused(refusal) => {
                        journal.translate_refused(session, &refusal)?;
                        continue;
                    }
                };
                buf.clear();
                let account = &shared.accounts[page.account];
                let pair = &shared.pairs[account.pair].name;
                let imap_folders =
                    account.provider == "imap" && page.resource_type == ResourceType::Folders;
                let mut rows = 0u64;
                for t in &page.translations {
                    let Some(v2_id) = t.v2_resource_id.as_deref() else {
                        continue;
                    };
                    let v3 = t.v3_resource_id.as_deref().unwrap_or_default();
                    let folder_id;
                    let v3_id = if imap_folders && !v3.is_empty() {
                        folder_id = imap_folder_id(&account.grant_id, v3);
                        folder_id.as_str()
                    } else {
                        v3
                    };
                    format.row(
                        &output::Row {
                            pair,
                            v2_account_id: &account.account_id,
                            grant_id: &account.grant_id,
                            resource_type: page.resource_type,
                            v2_id,
                            v3_id,
                        },
                        &mut buf,
                    );
                    rows += 1;
                }
                file.write_all(&buf).map_err(|source| TranslateError::Io {
                    path: path.display().to_string(),
                    what: "write the output file",
                    source,
                })?;
                offset += buf.len() as u64;
                journal.translate_page_done(
                    session,
                    &FinishedPage {
                        pair,
                        account_id: &account.account_id,
                        resource_type: page.resource_type,
                        page: page.page,
                        next_page: page.next_page,
                        rows,
                        end_offset: offset,
                        request_id: page.request_id.as_deref(),
                    },
                )?;
                shared.progress.page_written(rows, page.next_page.is_none());
            }
            Ok(())
        })
    };

    let ticker = {
        let shared = Arc::clone(&shared);
        let reporter = Arc::clone(&reporter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                reporter.progress(&shared.progress);
            }
        })
    };

    let mut workers = tokio::task::JoinSet::new();
    for pair in 0..shared.pairs.len() {
        for _ in 0..options.concurrency.max(1) {
            let shared = Arc::clone(&shared);
            let tx = tx.clone();
            let reporter = Arc::clone(&reporter);
            workers.spawn(async move { work(pair, &shared, &tx, reporter.as_ref()).await });
        }
    }
    drop(tx);
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined {
            ticker.abort();
            return Err(TranslateError::Io {
                path: options.output.display().to_string(),
                what: "finish a translate task for",
                source: std::io::Error::other(e.to_string()),
            });
        }
    }
    let written = writer.await.map_err(|e| TranslateError::Io {
        path: options.output.display().to_string(),
        what: "finish writing",
        source: std::io::Error::other(e.to_string()),
    });
    ticker.abort();
    written??;
    reporter.progress(&shared.progress);

    let mut errors = std::mem::take(&mut *shared.errors.lock().unwrap_or_else(|e| e.into_inner()));
    errors.sort_by(|a, b| (&a.pair, &a.account_id).cmp(&(&b.pair, &b.account_id)));
    output::write_errors(&options.errors, options.format, &errors)?;
    let throughput = shared
        .pairs
        .iter()
        .zip(&shared.calls)
        .map(|(pair, calls)| PairThroughput {
            pair: pair.name.clone(),
            rate_limit: pair.app.limiter().per_second(),
            requests: calls.count.load(Ordering::Relaxed),
            span: calls
                .window
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .map_or(Duration::ZERO, |(a, b)| b - a),
        })
        .collect();
    let p = &shared.progress;
    let summary = TranslateSummary {
        output: options.output.clone(),
        errors_file: options.errors.clone(),
        accounts: shared.accounts.len() as u64,
        chains,
        chains_complete: p.chains_done(),
        rows: p.rows(),
        rows_this_run: p.rows() - rows_before,
        pages_this_run: p.pages(),
        pages_resumed,
        cut_bytes: opened.cut,
        errors,
        throughput,
        elapsed: started.elapsed(),
    };
    reporter.finished(&summary);
    Ok(summary)
}

/// One task of a pair: takes the pair's chains one by one and follows each to its last page.
async fn work(
    pair: usize,
    shared: &Shared,
    tx: &tokio::sync::mpsc::Sender<Written>,
    reporter: &dyn TranslateReporter,
) {
    let app = &shared.pairs[pair].app;
    loop {
        let chain = {
            let mut queue = shared.queues[pair]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            queue.pop_front()
        };
        let Some(chain) = chain else {
            return;
        };
        let account = &shared.accounts[chain.account];
        let mut page = chain.start_page;
        loop {
            if shared.failed[chain.account].load(Ordering::Relaxed) {
                shared.progress.chain_abandoned();
                add_untranslated(shared, chain.account, chain.resource_type);
                break;
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
                    if data.v2_account_id != account.account_id
                        || data.resource_type != chain.resource_type.as_str()
                    {
                        Some((
                            None,
                            response.request_id,
                            format!(
                                "the answer is for account {} and type {}, not the ones asked for",
                                data.v2_account_id, data.resource_type
                            ),
                            false,
                        ))
                    } else if next.is_some_and(|n| n <= page) {
                        Some((
                            None,
                            response.request_id,
                            format!(
                                "page {page} points back to page {next:?}: pages do not advance"
                            ),
                            false,
                        ))
                    } else {
                        let rows = PageRows {
                            account: chain.account,
                            resource_type: chain.resource_type,
                            page,
                            next_page: next,
                            request_id: response.request_id,
                            translations: data.translations.unwrap_or_default(),
                        };
                        shared.progress.page_fetched();
                        if tx.send(Written::Page(rows)).await.is_err() {
                            // The writer stopped (an I/O or journal error): it reports why.
                            return;
                        }
                        match next {
                            Some(n) => {
                                page = n;
                                continue;
                            }
                            None => break,
                        }
                    }
                }
                Err(err) => {
                    let status = err.status();
                    // A 4xx other than 429 (the client waits those out) is Nylas's answer about
                    // this account: asking again will get the same answer.
                    let refused = status.is_some_and(|s| (400..500).contains(&s) && s != 429);
                    Some((
                        status,
                        err.request_id().map(str::to_owned),
                        err.to_string(),
                        refused,
                    ))
                }
            };
            if let Some((status, request_id, reason, refused)) = failure {
                // Under the errors lock, so that another chain of the account that sees the
                // flag finds the row to add its type to.
                let record = {
                    let mut errors = shared.errors.lock().unwrap_or_else(|e| e.into_inner());
                    if shared.failed[chain.account].load(Ordering::Relaxed) {
                        None
                    } else {
                        let error = AccountError {
                            pair: shared.pairs[pair].name.clone(),
                            account_id: account.account_id.clone(),
                            email: account.email.clone(),
                            provider: account.provider.clone(),
                            grant_id: account.grant_id.clone(),
                            resource_types: vec![chain.resource_type],
                            status,
                            request_id,
                            reason,
                            refused,
                        };
                        reporter.account_failed(&error);
                        // Refused for good: recorded, so that a rerun does not ask again.
                        let record = error.refused.then(|| TranslateRefusal {
                            pair: error.pair.clone(),
                            account_id: error.account_id.clone(),
                            status: error.status,
                            request_id: error.request_id.clone(),
                            reason: error.reason.clone(),
                        });
                        errors.push(error);
                        shared.failed[chain.account].store(true, Ordering::Relaxed);
                        Some(record)
                    }
                };
                let Some(record) = record else {
                    add_untranslated(shared, chain.account, chain.resource_type);
                    shared.progress.chain_abandoned();
                    break;
                };
                shared.progress.chain_abandoned();
                if let Some(refusal) = record
                    && tx.send(Written::Refused(refusal)).await.is_err()
                {
                    // The writer stopped (an I/O or journal error): it reports why.
                    return;
                }
                break;
            }
        }
    }
}

/// Adds a resource type to an account's error row (its other chains stop once it failed).
fn add_untranslated(shared: &Shared, account: usize, resource_type: ResourceType) {
    let id = &shared.accounts[account].account_id;
    let pair = &shared.pairs[shared.accounts[account].pair].name;
    let mut errors = shared.errors.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = errors
        .iter_mut()
        .find(|e| &e.account_id == id && &e.pair == pair)
        && !e.resource_types.contains(&resource_type)
    {
        e.resource_types.push(resource_type);
        e.resource_types.sort();
    }
}
