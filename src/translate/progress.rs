//! A translate run's counters, and the events it reports from them (`translate_started`,
//! `translate_progress`, `translate_account_failed`, `translate_summary`): how they are shown
//! (a bar, lines, JSON lines, nothing) is the reporter's (`cli/render/`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::events::{
    AccountFailed, Event, Throughput, TranslateEnded, TranslateProgress, TranslateStarted,
};

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

impl Progress {
    /// `translate_started`: what the run will do.
    pub fn started(&self, accounts: u64) -> Event {
        Event::TranslateStarted(TranslateStarted {
            accounts,
            chains_total: self.chains_total(),
            chains_done: self.chains_done(),
            rows: self.rows(),
            resumed: self.resumed,
            cut_bytes: self.cut_bytes,
        })
    }

    /// `translate_progress`: the counters now (the reporter decides how often to show them).
    pub fn now(&self) -> Event {
        Event::TranslateProgress(TranslateProgress {
            rows: self.rows(),
            pages: self.pages(),
            chains_done: self.chains_done(),
            chains_failed: self.chains_abandoned(),
            chains_total: self.chains_total(),
            pages_per_second: self.pages_per_second(),
            eta_seconds: self.eta().map(|d| d.as_secs()),
        })
    }
}

/// `translate_account_failed`.
pub fn account_failed(error: &AccountError) -> Event {
    Event::TranslateAccountFailed(AccountFailed {
        pair: error.pair.clone(),
        account_id: error.account_id.clone(),
        resource_type: error.resource_types.first().copied(),
        status: error.status,
        request_id: error.request_id.clone(),
        reason: error.reason.clone(),
        refused: error.refused,
    })
}

impl TranslateSummary {
    /// `translate_summary`: the run's counts, last.
    pub fn event(&self) -> Event {
        Event::TranslateSummary(TranslateEnded {
            output: self.output.display().to_string(),
            errors_file: self.errors_file.display().to_string(),
            accounts: self.accounts,
            chains_total: self.chains,
            chains_done: self.chains_complete,
            rows: self.rows,
            rows_this_run: self.rows_this_run,
            pages_this_run: self.pages_this_run,
            pages_resumed: self.pages_resumed,
            accounts_failed: self.failures.accounts as usize,
            accounts_refused: self.refused() as usize,
            throughput: self
                .throughput
                .iter()
                .map(|t| Throughput {
                    pair: t.pair.clone(),
                    requests: t.requests,
                    rate_limit: t.rate_limit,
                    ratio: t.ratio(),
                })
                .collect(),
            elapsed_seconds: self.elapsed.as_secs_f64(),
            complete: self.complete(),
        })
    }
}
