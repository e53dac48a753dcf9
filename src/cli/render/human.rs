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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::OutcomeKind;
    use crate::graph::Kind;

    #[test]
    fn durations_read_as_people_say_them() {
        for (secs, shown) in [
            (0, "0s"),
            (59, "59s"),
            (60, "1m 00s"),
            (65, "1m 05s"),
            (3599, "59m 59s"),
            (3600, "1h 00m"),
            (7380, "2h 03m"),
        ] {
            assert_eq!(human_duration(Duration::from_secs(secs)), shown);
        }
    }

    #[test]
    fn lines_say_the_counters_and_escape_what_came_from_outside() {
        let ended = StepEnded {
            step: "acme/link".parse().expect("a step ID"),
            kind: Kind::Link,
            outcome: OutcomeKind::Failed,
            message: "Nylas said \u{1b}[31mno".into(),
        };
        assert_eq!(
            step_line(&ended),
            "failed    acme/link: Nylas said \\u{1b}[31mno"
        );
        let mut progress = TranslateProgress {
            rows: 120,
            pages: 6,
            chains_done: 2,
            chains_failed: 1,
            chains_total: 8,
            pages_per_second: 1.26,
            eta_seconds: Some(65),
        };
        assert_eq!(
            translate_line(&progress),
            "120 rows · 6 pages · 3/8 account-types · 1.3 pages/s · ETA 1m 05s"
        );
        progress.eta_seconds = None;
        assert!(translate_line(&progress).ends_with("ETA …"));
    }
}
