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
//!   once.
//! - Flat memory: each pair's accounts are listed a page (200) at a time while the chains of
//!   the pages before are translated; a bounded queue per pair holds the chains waiting, so
//!   listing runs only as far ahead as the tasks. What grows with the accounts lives in the
//!   state folder's journal, not in memory: the accounts this run listed (an account listed
//!   twice is translated once), what earlier runs recorded (asked a page of accounts at a
//!   time), and the accounts that could not be translated (the errors file is written from
//!   them, a page at a time; the summary keeps their counts and the first few). Memory holds a
//!   page of accounts per pair, the chains queued and a few pages in flight.
//! - An account translate cannot serve (Nylas refuses it: an Outlook account; or its requests
//!   keep failing) stops only that account: a row in the errors file and a count in the
//!   summary. A
//!   refusal (a 4xx answer) is recorded in the journal like a finished chain: a rerun of the
//!   same output asks nothing more of that account and lists it again from the record
//!   (`--restart` forgets it and asks again); other failures are asked again.

mod accounts;
mod listing;
mod output;
mod progress;
mod work;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::api::{ResourceType, Translation};
use crate::client::{AppClient, ClientError};
use crate::events::Reporter;

use crate::state::journal::JournalError;
use crate::state::{FailureCounts, FolderJournal, TranslateRefusal};

pub use accounts::{Account, ListedAccount, parse_accounts, read_accounts_file};
pub use output::{COLUMNS, ERROR_COLUMNS, Format, imap_folder_id};
pub use progress::Progress;

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

/// An account that could not be translated, with why: a row of the errors file, kept in the
/// journal while the run lasts.
pub use crate::state::TranslateFailure as AccountError;

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
    /// The accounts that could not be translated, counted (their rows are in the errors file).
    pub failures: FailureCounts,
    /// The first of them in the errors file's order, at most [`ERROR_SAMPLE`], for a terminal.
    pub sample: Vec<AccountError>,
    pub throughput: Vec<PairThroughput>,
    pub elapsed: Duration,
}

impl TranslateSummary {
    /// Every chain done, except accounts Nylas refused for good (in the errors file).
    pub fn complete(&self) -> bool {
        self.failures.accounts == self.failures.refused
            && self.chains_complete + self.failures.refused_chains >= self.chains
    }

    /// Accounts refused for good.
    pub fn refused(&self) -> u64 {
        self.failures.refused
    }
}

/// Failures a summary carries (the errors file has them all).
pub const ERROR_SAMPLE: usize = 10;

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

/// Accounts listed per pair before the run reports that it started: a world this small is
/// counted whole in the first report (accounts, chains), a larger one as it is listed.
const HEAD_ACCOUNTS: usize = 1_000;

/// Chains waiting per pair: listing stays this far ahead of the tasks, no further.
const QUEUED_CHAINS: usize = 2_000;

/// One account being translated, shared by its chains.
#[derive(Debug)]
struct Target {
    account: Account,
    /// Why the account failed, once it did: its other chains stop.
    failure: OnceLock<Failure>,
}

impl Target {
    fn new(account: Account) -> Target {
        Target {
            account,
            failure: OnceLock::new(),
        }
    }

    fn failed(&self) -> bool {
        self.failure.get().is_some()
    }

    /// The account's errors-file row for `resource_type`, once it failed.
    fn error(&self, pair: &str, resource_type: ResourceType) -> Option<AccountError> {
        let failure = self.failure.get()?;
        let account = &self.account;
        Some(AccountError {
            pair: pair.to_owned(),
            account_id: account.account_id.clone(),
            email: account.email.clone(),
            provider: account.provider.clone(),
            grant_id: account.grant_id.clone(),
            resource_types: vec![resource_type],
            status: failure.status,
            request_id: failure.request_id.clone(),
            reason: failure.reason.clone(),
            refused: failure.refused,
        })
    }
}

/// Why an account's request went wrong: the answer's status, its request ID, why, and whether
/// Nylas refused the account for good.
#[derive(Debug)]
struct Failure {
    status: Option<u16>,
    request_id: Option<String>,
    reason: String,
    refused: bool,
}

/// One (account, resource type) still to do, from `start_page`.
#[derive(Debug, Clone)]
struct Chain {
    target: Arc<Target>,
    resource_type: ResourceType,
    start_page: u64,
}

/// What the writer records, in the order the tasks send it.
enum Written {
    /// A page's rows: written to the output, then recorded.
    Page(PageRows),
    /// An account Nylas refused for good: recorded.
    Refused(TranslateRefusal),
    /// A resource type of an account that failed: its errors-file row, or a type added to it.
    Failed(AccountError),
}

/// A page for the writer.
struct PageRows {
    target: Arc<Target>,
    resource_type: ResourceType,
    page: u64,
    next_page: Option<u64>,
    request_id: Option<String>,
    translations: Vec<Translation>,
}

/// What every task of a run shares.
struct Shared {
    pairs: Vec<TranslatePair>,
    /// Per pair, the chains listed and not yet taken.
    queues: Vec<tokio::sync::Mutex<mpsc::Receiver<Chain>>>,
    /// The journal, and the session of the output: what earlier runs recorded, the accounts
    /// this run listed, the accounts it could not translate.
    journal: Arc<FolderJournal>,
    session: i64,
    since: Option<i64>,
    progress: Progress,
    /// Per pair: translate calls, first and last call.
    calls: Vec<PairCalls>,
    /// Accounts listed so far.
    accounts: AtomicU64,
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

/// What a task of the run ends with.
enum Ended {
    Listed(Result<(), TranslateError>),
    Worked,
}

/// Runs a translation. `listed`: only these accounts (an accounts file), otherwise every
/// account with a v3 grant in `pairs`.
pub async fn translate(
    pairs: Vec<TranslatePair>,
    listed: Option<Vec<ListedAccount>>,
    journal: Arc<FolderJournal>,
    options: &TranslateOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<TranslateSummary, TranslateError> {
    let started = Instant::now();
    let opened = output::open(
        &journal,
        &options.output,
        options.format,
        options.since,
        options.restart,
    )?;
    let session = opened.session.id;
    journal.translate_begin_run(session)?;
    let (rows_before, pages_resumed) = journal.translate_resumed_totals(session)?;
    let found = listed
        .as_ref()
        .map(|_| Arc::new(Mutex::new(HashSet::new())));
    let (senders, receivers): (Vec<_>, Vec<_>) = pairs
        .iter()
        .map(|_| mpsc::channel::<Chain>(QUEUED_CHAINS))
        .unzip();
    let shared = Arc::new(Shared {
        calls: pairs.iter().map(|_| PairCalls::default()).collect(),
        queues: receivers.into_iter().map(tokio::sync::Mutex::new).collect(),
        journal: Arc::clone(&journal),
        session,
        since: options.since,
        progress: Progress::new(0, 0, rows_before, opened.cut, opened.resumed),
        accounts: AtomicU64::new(0),
        pairs,
    });
    let mut listers = Vec::with_capacity(shared.pairs.len());
    for pair in 0..shared.pairs.len() {
        let mut lister = listing::Lister {
            pair,
            source: accounts::Source::of(&shared.pairs, pair, listed.as_deref()),
            found: found.clone(),
            ready: Vec::new(),
            exhausted: false,
        };
        lister.head(&shared, &options.resource_types).await?;
        listers.push(lister);
    }
    reporter.report(
        &shared
            .progress
            .started(shared.accounts.load(Ordering::Relaxed)),
    );

    let (tx, rx) = mpsc::channel::<Written>(16);
    let writer = output::spawn_writer(&shared, &journal, &opened, options, rx);
    let ticker = tick(&shared, &reporter);
    let mut tasks = tokio::task::JoinSet::new();
    for (lister, queue) in listers.into_iter().zip(senders) {
        let pair = lister.pair;
        let feed = lister.feed(Arc::clone(&shared), queue, options.resource_types.clone());
        tasks.spawn(async move { Ended::Listed(feed.await) });
        for _ in 0..options.concurrency.max(1) {
            let (shared, tx) = (Arc::clone(&shared), tx.clone());
            let reporter = Arc::clone(&reporter);
            tasks.spawn(async move {
                work::work(pair, &shared, &tx, reporter.as_ref()).await;
                Ended::Worked
            });
        }
    }
    drop(tx);
    let failed = join(&mut tasks, &options.output).await;
    let written = writer.await.map_err(|e| TranslateError::Io {
        path: options.output.display().to_string(),
        what: "finish writing",
        source: std::io::Error::other(e.to_string()),
    });
    ticker.abort();
    if let Some(error) = failed {
        return Err(error);
    }
    written??;
    reporter.report(&shared.progress.now());

    if let (Some(listed), Some(found)) = (&listed, &found) {
        let found = found.lock().unwrap_or_else(|e| e.into_inner());
        for error in accounts::not_found(&shared.pairs, listed, &found, &options.resource_types) {
            journal.translate_failed(session, &error)?;
        }
    }
    journal.translate_end_run(session)?;
    let sample = output::write_errors(&options.errors, options.format, &journal, session)?;
    let p = &shared.progress;
    let summary = TranslateSummary {
        output: options.output.clone(),
        errors_file: options.errors.clone(),
        accounts: shared.accounts.load(Ordering::Relaxed),
        chains: p.chains_total(),
        chains_complete: p.chains_done(),
        rows: p.rows(),
        rows_this_run: p.rows() - rows_before,
        pages_this_run: p.pages(),
        pages_resumed,
        cut_bytes: opened.cut,
        failures: journal.translate_failure_counts(session)?,
        sample,
        throughput: throughput(&shared),
        elapsed: started.elapsed(),
    };
    reporter.report(&summary.event());
    Ok(summary)
}

/// Reports the run's progress every half second.
fn tick(shared: &Arc<Shared>, reporter: &Arc<dyn Reporter>) -> tokio::task::JoinHandle<()> {
    let shared = Arc::clone(shared);
    let reporter = Arc::clone(reporter);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            reporter.report(&shared.progress.now());
        }
    })
}

/// Waits for the run's tasks. The first that fails (a listing's error, or a task that
/// panicked) stops the others; its error is returned.
async fn join(
    tasks: &mut tokio::task::JoinSet<Ended>,
    output: &std::path::Path,
) -> Option<TranslateError> {
    while let Some(joined) = tasks.join_next().await {
        let error = match joined {
            Ok(Ended::Listed(Ok(())) | Ended::Worked) => continue,
            Ok(Ended::Listed(Err(error))) => error,
            Err(e) => TranslateError::Io {
                path: output.display().to_string(),
                what: "finish a translate task for",
                source: std::io::Error::other(e.to_string()),
            },
        };
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        return Some(error);
    }
    None
}

/// Each pair's requests and their span.
fn throughput(shared: &Shared) -> Vec<PairThroughput> {
    shared
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
        .collect()
}
