//! A run's events as plain lines on stderr, for people when output is not a terminal: one line
//! per finished step and per change in a wave's progress; for translate, a line every ten
//! seconds and one per account that fails.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::Tally;
use crate::events::{
    AccountFailed, Event, JobProgress, Reporter, StepEnded, TranslateProgress, TranslateStarted,
};
use crate::untrusted::esc;

/// `1m 05s`, `2h 03m`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// `changed   acme/link: linked v2 application …`: a step that ended, for people.
pub fn step_line(e: &StepEnded) -> String {
    format!(
        "{:<9} {}: {}",
        e.outcome.as_str(),
        esc(e.step.as_str()),
        esc(&e.message)
    )
}

/// A job's counts as every command words them.
pub fn tally(job: &JobProgress) -> Tally {
    Tally {
        all: job.count_all,
        migrated: job.count_success,
        placeholders: job.count_warning,
        failed: job.count_failed,
    }
}

/// `12 rows · 3 pages · 1/4 account-types · 2.0 pages/s · ETA 5s`.
pub fn translate_line(p: &TranslateProgress) -> String {
    format!(
        "{} rows · {} pages · {}/{} account-types · {:.1} pages/s · ETA {}",
        p.rows,
        p.pages,
        p.chains_done + p.chains_failed,
        p.chains_total,
        p.pages_per_second,
        eta(p)
    )
}

/// The time left, or `…` while it cannot be told.
pub fn eta(p: &TranslateProgress) -> String {
    p.eta_seconds
        .map_or("…".into(), |s| human_duration(Duration::from_secs(s)))
}

pub fn translate_started_line(s: &TranslateStarted) -> String {
    format!(
        "translating {} accounts: {} account-types, {} already done{}",
        s.accounts,
        s.chains_total,
        s.chains_done,
        if s.resumed { " (resumed)" } else { "" }
    )
}

pub fn account_failed_line(e: &AccountFailed) -> String {
    format!(
        "failed    {}/{}: {}",
        e.pair,
        e.account_id,
        e.reason.escape_debug()
    )
}

/// Plain lines on stderr.
pub struct Lines {
    last_percent: Mutex<HashMap<String, u64>>,
    last_progress: Mutex<Option<Instant>>,
}

impl Lines {
    pub fn new() -> Lines {
        Lines {
            last_percent: Mutex::new(HashMap::new()),
            last_progress: Mutex::new(None),
        }
    }
}

impl Default for Lines {
    fn default() -> Self {
        Lines::new()
    }
}

impl Reporter for Lines {
    fn report(&self, event: &Event) {
        match event {
            Event::Notice(n) => errln!("note: {}", esc(&n.message)),
            Event::StepFinished(e) | Event::StepSkipped(e) => errln!("{}", step_line(e)),
            Event::JobProgress(job) => {
                let mut last = self.last_percent.lock().unwrap_or_else(|e| e.into_inner());
                if last.insert(job.step.to_string(), job.percent) != Some(job.percent) {
                    errln!(
                        "progress  {}: job {} {} {}% ({})",
                        esc(job.step.as_str()),
                        esc(&job.job_id),
                        esc(job.status.as_str()),
                        job.percent,
                        tally(job).out_of_all()
                    );
                }
            }
            Event::TranslateStarted(s) => errln!("{}", translate_started_line(s)),
            Event::TranslateProgress(p) => {
                let mut last = self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    *last = Some(Instant::now());
                    errln!("progress  {}", translate_line(p));
                }
            }
            Event::TranslateAccountFailed(e) => errln!("{}", account_failed_line(e)),
            _ => {}
        }
    }
}
