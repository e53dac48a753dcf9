//! How a translate run reports: a progress bar (chains, pages, rows, ETA) on a terminal, a
//! line every ten seconds otherwise, JSON events for `--output json`, nothing with `-q`.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::{AccountError, TranslateSummary};

/// Counters of a run, updated by its tasks.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// Grows as accounts are found (they are listed a page at a time, while others translate).
    chains_total: AtomicU64,
    chains_done: AtomicU64,
    chains_before: AtomicU64,
    chains_abandoned: AtomicU64,
    pages_fetched: AtomicU64,
    pages_written: AtomicU64,
    rows: AtomicU64,
    rows_before: u64,
    /// Bytes cut from the output before resuming.
    pub cut_bytes: u64,
    pub resumed: bool,
}

impl Progress {
    pub fn new(
        chains_total: u64,
        chains_done: u64,
        rows_before: u64,
        cut_bytes: u64,
        resumed: bool,
    ) -> Progress {
        Progress {
            started: Instant::now(),
            chains_total: AtomicU64::new(chains_total),
            chains_done: AtomicU64::new(chains_done),
            chains_before: AtomicU64::new(chains_done),
            chains_abandoned: AtomicU64::new(0),
            pages_fetched: AtomicU64::new(0),
            pages_written: AtomicU64::new(0),
            rows: AtomicU64::new(rows_before),
            rows_before,
            cut_bytes,
            resumed,
        }
    }

    /// More chains found: `chains` in all, `done` of them finished by earlier runs.
    pub(super) fn chains_found(&self, chains: u64, done: u64) {
        self.chains_total.fetch_add(chains, Ordering::Relaxed);
        self.chains_done.fetch_add(done, Ordering::Relaxed);
        self.chains_before.fetch_add(done, Ordering::Relaxed);
    }

    pub(super) fn page_fetched(&self) {
        self.pages_fetched.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn page_written(&self, rows: u64, last: bool) {
        self.pages_written.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
        if last {
            self.chains_done.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn chain_abandoned(&self) {
        self.chains_abandoned.fetch_add(1, Ordering::Relaxed);
    }

    pub fn chains_total(&self) -> u64 {
        self.chains_total.load(Ordering::Relaxed)
    }

    /// Chains whose last page is written (earlier runs' included).
    pub fn chains_done(&self) -> u64 {
        self.chains_done.load(Ordering::Relaxed)
    }

    /// Chains given up (their account failed).
    pub fn chains_abandoned(&self) -> u64 {
        self.chains_abandoned.load(Ordering::Relaxed)
    }

    /// Pages written by this run.
    pub fn pages(&self) -> u64 {
        self.pages_written.load(Ordering::Relaxed)
    }

    /// Rows in the output (earlier runs' included).
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    pub fn rows_before(&self) -> u64 {
        self.rows_before
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Pages per second this run.
    pub fn pages_per_second(&self) -> f64 {
        let secs = self.elapsed().as_secs_f64();
        if secs > 0.0 {
            self.pages() as f64 / secs
        } else {
            0.0
        }
    }

    /// Time left at this run's pace: the chains left times the pages a chain took so far.
    pub fn eta(&self) -> Option<Duration> {
        let finished_here = self
            .chains_done()
            .saturating_sub(self.chains_before.load(Ordering::Relaxed));
        let left = self
            .chains_total()
            .saturating_sub(self.chains_done() + self.chains_abandoned());
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let rate = self.pages_per_second();
        if finished_here == 0 || rate <= 0.0 {
            return None;
        }
        let pages_per_chain = self.pages() as f64 / finished_here as f64;
        Some(Duration::from_secs_f64(
            left as f64 * pages_per_chain / rate,
        ))
    }
}

/// `1m 05s`, `2h 03m`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

fn line(p: &Progress) -> String {
    format!(
        "{} rows · {} pages · {}/{} account-types · {:.1} pages/s · ETA {}",
        p.rows(),
        p.pages(),
        p.chains_done() + p.chains_abandoned(),
        p.chains_total(),
        p.pages_per_second(),
        p.eta().map_or("…".into(), human_duration)
    )
}

pub trait TranslateReporter: Send + Sync {
    fn started(&self, progress: &Progress, accounts: u64);
    fn progress(&self, progress: &Progress);
    fn account_failed(&self, error: &AccountError);
    fn finished(&self, summary: &TranslateSummary);
}

/// Nothing while it runs (`-q`).
pub struct QuietTranslateReporter;

impl TranslateReporter for QuietTranslateReporter {
    fn started(&self, _: &Progress, _: u64) {}
    fn progress(&self, _: &Progress) {}
    fn account_failed(&self, _: &AccountError) {}
    fn finished(&self, _: &TranslateSummary) {}
}

/// A line on stderr every ten seconds, and one per account that fails.
pub struct PlainTranslateReporter {
    last: Mutex<Option<Instant>>,
}

impl PlainTranslateReporter {
    pub fn new() -> PlainTranslateReporter {
        PlainTranslateReporter {
            last: Mutex::new(None),
        }
    }
}

impl Default for PlainTranslateReporter {
    fn default() -> Self {
        PlainTranslateReporter::new()
    }
}

impl TranslateReporter for PlainTranslateReporter {
    fn started(&self, p: &Progress, accounts: u64) {
        errln!(
            "translating {accounts} accounts: {} account-types, {} already done{}",
            p.chains_total(),
            p.chains_done(),
            if p.resumed { " (resumed)" } else { "" }
        );
    }

    fn progress(&self, p: &Progress) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            errln!("progress  {}", line(p));
        }
    }

    fn account_failed(&self, e: &AccountError) {
        errln!(
            "failed    {}/{}: {}",
            e.pair,
            e.account_id,
            e.reason.escape_debug()
        );
    }

    fn finished(&self, _: &TranslateSummary) {}
}

/// A bar over the account-types (chains), with rows, pages and the ETA.
pub struct BarTranslateReporter {
    bar: ProgressBar,
}

impl BarTranslateReporter {
    pub fn new() -> BarTranslateReporter {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} translate [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        BarTranslateReporter { bar }
    }
}

impl Default for BarTranslateReporter {
    fn default() -> Self {
        BarTranslateReporter::new()
    }
}

impl TranslateReporter for BarTranslateReporter {
    fn started(&self, p: &Progress, _accounts: u64) {
        self.bar.set_length(p.chains_total());
        self.progress(p);
    }

    fn progress(&self, p: &Progress) {
        self.bar.set_length(p.chains_total());
        self.bar
            .set_position(p.chains_done() + p.chains_abandoned());
        self.bar.set_message(format!(
            "account-types · {} rows · {} pages · {:.1} pages/s · ETA {}",
            p.rows(),
            p.pages(),
            p.pages_per_second(),
            p.eta().map_or("…".into(), human_duration)
        ));
    }

    fn account_failed(&self, e: &AccountError) {
        self.bar.println(format!(
            "failed    {}/{}: {}",
            e.pair,
            e.account_id,
            e.reason.escape_debug()
        ));
    }

    fn finished(&self, _: &TranslateSummary) {
        self.bar.finish_and_clear();
    }
}

/// JSON lines on stdout (events schema version 1): `translate_started`, `translate_progress`
/// (at most every two seconds, and last), `translate_account_failed`, `translate_summary`.
pub struct JsonTranslateReporter {
    last: Mutex<Option<Instant>>,
}

impl JsonTranslateReporter {
    pub fn new() -> JsonTranslateReporter {
        JsonTranslateReporter {
            last: Mutex::new(None),
        }
    }
}

impl Default for JsonTranslateReporter {
    fn default() -> Self {
        JsonTranslateReporter::new()
    }
}

fn emit(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
}

fn progress_event(p: &Progress) -> serde_json::Value {
    json!({
        "v": 1,
        "event": "translate_progress",
        "rows": p.rows(),
        "pages": p.pages(),
        "chains_done": p.chains_done(),
        "chains_failed": p.chains_abandoned(),
        "chains_total": p.chains_total(),
        "pages_per_second": (p.pages_per_second() * 100.0).round() / 100.0,
        "eta_seconds": p.eta().map(|d| d.as_secs()),
    })
}

impl TranslateReporter for JsonTranslateReporter {
    fn started(&self, p: &Progress, accounts: u64) {
        emit(json!({
            "v": 1,
            "event": "translate_started",
            "accounts": accounts,
            "chains_total": p.chains_total(),
            "chains_done": p.chains_done(),
            "rows": p.rows(),
            "resumed": p.resumed,
            "cut_bytes": p.cut_bytes,
        }));
    }

    fn progress(&self, p: &Progress) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(2)) {
            *last = Some(Instant::now());
            emit(progress_event(p));
        }
    }

    fn account_failed(&self, e: &AccountError) {
        emit(json!({
            "v": 1,
            "event": "translate_account_failed",
            "pair": e.pair,
            "account_id": e.account_id,
            "resource_type": e.resource_types.first().map(|t| t.as_str()),
            "status": e.status,
            "request_id": e.request_id,
            "reason": e.reason,
            "refused": e.refused,
        }));
    }

    fn finished(&self, s: &TranslateSummary) {
        emit(json!({
            "v": 1,
            "event": "translate_summary",
            "output": s.output.display().to_string(),
            "errors_file": s.errors_file.display().to_string(),
            "accounts": s.accounts,
            "chains_total": s.chains,
            "chains_done": s.chains_complete,
            "rows": s.rows,
            "rows_this_run": s.rows_this_run,
            "pages_this_run": s.pages_this_run,
            "pages_resumed": s.pages_resumed,
            "accounts_failed": s.errors.len(),
            "accounts_refused": s.refused(),
            "throughput": s.throughput.iter().map(|t| json!({
                "pair": t.pair,
                "requests": t.requests,
                "rate_limit": t.rate_limit,
                "ratio": t.ratio().map(|r| (r * 1000.0).round() / 1000.0),
            })).collect::<Vec<_>>(),
            "elapsed_seconds": (s.elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "complete": s.complete(),
        }));
    }
}
