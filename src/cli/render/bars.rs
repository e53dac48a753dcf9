//! A run's events as progress bars on a terminal (stderr): for apply, a bar for the whole run
//! and one per running wave; for translate, a bar over the account-types.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::human::{account_failed_line, eta, step_line, tally};
use crate::engine::OutcomeKind;
use crate::events::{Event, Reporter};
use crate::untrusted::esc;

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// apply's bars: the steps, and one per running wave.
pub struct StepBars {
    multi: MultiProgress,
    overall: ProgressBar,
    waves: Mutex<HashMap<String, ProgressBar>>,
}

impl StepBars {
    pub fn new(total_steps: u64) -> StepBars {
        let multi = MultiProgress::new();
        let overall = multi.add(ProgressBar::new(total_steps));
        overall.set_style(style("{spinner} steps [{bar:40}] {pos}/{len} {msg}"));
        StepBars {
            multi,
            overall,
            waves: Mutex::new(HashMap::new()),
        }
    }

    fn waves(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.waves.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reporter for StepBars {
    fn report(&self, event: &Event) {
        match event {
            Event::StepStarted(s) => self.overall.set_message(esc(s.step.as_str()).to_string()),
            Event::Notice(n) => {
                let _ = self.multi.println(format!("note: {}", esc(&n.message)));
            }
            Event::StepFinished(e) | Event::StepSkipped(e) => {
                self.overall.inc(1);
                if e.outcome != OutcomeKind::Unchanged {
                    let _ = self.multi.println(step_line(e));
                }
                if let Some(bar) = self.waves().remove(e.step.as_str()) {
                    bar.finish_and_clear();
                }
            }
            Event::JobProgress(job) => {
                let mut waves = self.waves();
                let bar = waves.entry(job.step.to_string()).or_insert_with(|| {
                    let bar = self.multi.add(ProgressBar::new(100));
                    bar.set_style(style("  {prefix} [{bar:30}] {pos}% {msg}"));
                    bar.set_prefix(esc(job.step.as_str()).to_string());
                    bar
                });
                bar.set_position(job.percent);
                bar.set_message(format!(
                    "{} · {}",
                    esc(job.status.as_str()),
                    tally(job).out_of_all()
                ));
            }
            _ => {}
        }
    }
}

/// translate's bar over the account-types (chains), with rows, pages and the ETA.
pub struct TranslateBar {
    bar: ProgressBar,
}

impl TranslateBar {
    pub fn new() -> TranslateBar {
        let bar = ProgressBar::new(0);
        bar.set_style(style("{spinner} translate [{bar:30}] {pos}/{len} {msg}"));
        TranslateBar { bar }
    }
}

impl Default for TranslateBar {
    fn default() -> Self {
        TranslateBar::new()
    }
}

impl Reporter for TranslateBar {
    fn report(&self, event: &Event) {
        match event {
            Event::TranslateStarted(s) => {
                self.bar.set_length(s.chains_total);
                self.bar.set_position(s.chains_done);
                // Nothing fetched yet: no pace, and a time left only when nothing is left.
                let left = if s.chains_done >= s.chains_total {
                    "0s"
                } else {
                    "…"
                };
                self.bar.set_message(format!(
                    "account-types · {} rows · 0 pages · 0.0 pages/s · ETA {left}",
                    s.rows
                ));
            }
            Event::TranslateProgress(p) => {
                // The total grows as accounts are listed, a page at a time.
                self.bar.set_length(p.chains_total);
                self.bar.set_position(p.chains_done + p.chains_failed);
                self.bar.set_message(format!(
                    "account-types · {} rows · {} pages · {:.1} pages/s · ETA {}",
                    p.rows,
                    p.pages,
                    p.pages_per_second,
                    eta(p)
                ));
            }
            Event::TranslateAccountFailed(e) => self.bar.println(account_failed_line(e)),
            Event::TranslateSummary(_) => self.bar.finish_and_clear(),
            _ => {}
        }
    }
}
