//! How a run tells people and pipelines what it is doing: plain lines when output is not a
//! terminal, progress bars when it is, JSON lines for `--output json`.

use std::io::Write;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;

use crate::api::MigrationJob;
use crate::graph::Step;

use super::counts::Tally;
use super::steps::Outcome;
use crate::untrusted::esc;

pub trait Reporter: Send + Sync {
    fn step_started(&self, step: &Step);
    fn step_finished(&self, step: &Step, outcome: &Outcome);
    fn job_progress(&self, step: &Step, job: &MigrationJob);
    /// Something the run did or found besides its steps (jobs adopted as history).
    fn notice(&self, message: &str) {
        errln!("note: {}", esc(message));
    }
}

fn percent(job: &MigrationJob) -> u64 {
    job.percent_done()
}

/// One line per finished step (and per change in a wave's progress), on stderr.
pub struct PlainReporter {
    last_percent: Mutex<std::collections::HashMap<String, u64>>,
}

impl PlainReporter {
    pub fn new() -> PlainReporter {
        PlainReporter {
            last_percent: Mutex::new(Default::default()),
        }
    }
}

impl Default for PlainReporter {
    fn default() -> Self {
        PlainReporter::new()
    }
}

impl Reporter for PlainReporter {
    fn step_started(&self, _step: &Step) {}

    fn step_finished(&self, step: &Step, outcome: &Outcome) {
        errln!(
            "{:<9} {}: {}",
            outcome.label(),
            esc(step.id.as_str()),
            esc(outcome.message())
        );
    }

    fn job_progress(&self, step: &Step, job: &MigrationJob) {
        let p = percent(job);
        let mut last = self.last_percent.lock().unwrap_or_else(|e| e.into_inner());
        if last.insert(step.id.to_string(), p) != Some(p) {
            errln!(
                "progress  {}: job {} {} {p}% ({})",
                esc(step.id.as_str()),
                esc(&job.job_id),
                esc(job.status.as_str()),
                Tally::from(job).out_of_all()
            );
        }
    }
}

/// Nothing while the run goes (`-q`): only the summary is printed, at the end.
pub struct QuietReporter;

impl Reporter for QuietReporter {
    fn step_started(&self, _step: &Step) {}
    fn step_finished(&self, _step: &Step, _outcome: &Outcome) {}
    fn job_progress(&self, _step: &Step, _job: &MigrationJob) {}
    // The summary repeats notices.
    fn notice(&self, _message: &str) {}
}

/// A bar for the whole run and one per running wave.
pub struct BarReporter {
    multi: MultiProgress,
    overall: ProgressBar,
    waves: Mutex<std::collections::HashMap<String, ProgressBar>>,
}

impl BarReporter {
    pub fn new(total_steps: u64) -> BarReporter {
        let multi = MultiProgress::new();
        let overall = multi.add(ProgressBar::new(total_steps));
        overall.set_style(
            ProgressStyle::with_template("{spinner} steps [{bar:40}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        BarReporter {
            multi,
            overall,
            waves: Mutex::new(Default::default()),
        }
    }
}

impl Reporter for BarReporter {
    fn step_started(&self, step: &Step) {
        self.overall.set_message(esc(step.id.as_str()).to_string());
    }

    fn notice(&self, message: &str) {
        let _ = self.multi.println(format!("note: {}", esc(message)));
    }

    fn step_finished(&self, step: &Step, outcome: &Outcome) {
        self.overall.inc(1);
        if !matches!(outcome, Outcome::Unchanged(_)) {
            let _ = self.multi.println(format!(
                "{:<9} {}: {}",
                outcome.label(),
                esc(step.id.as_str()),
                esc(outcome.message())
            ));
        }
        if let Some(bar) = self
            .waves
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(step.id.as_str())
        {
            bar.finish_and_clear();
        }
    }

    fn job_progress(&self, step: &Step, job: &MigrationJob) {
        let mut waves = self.waves.lock().unwrap_or_else(|e| e.into_inner());
        let bar = waves.entry(step.id.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(100));
            bar.set_style(
                ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(esc(step.id.as_str()).to_string());
            bar
        });
        bar.set_position(percent(job));
        bar.set_message(format!(
            "{} · {}",
            esc(job.status.as_str()),
            Tally::from(job).out_of_all()
        ));
    }
}

/// Newline-delimited JSON events on stdout (schema version 1).
pub struct JsonReporter;

fn emit(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
}

impl Reporter for JsonReporter {
    fn notice(&self, message: &str) {
        emit(json!({"v": 1, "event": "notice", "message": message}));
    }

    fn step_started(&self, step: &Step) {
        emit(
            json!({"v": 1, "event": "step_started", "step": step.id.as_str(), "kind": step.kind.name()}),
        );
    }

    fn step_finished(&self, step: &Step, outcome: &Outcome) {
        emit(json!({
            "v": 1,
            "event": match outcome { Outcome::Skipped(_) => "step_skipped", _ => "step_finished" },
            "step": step.id.as_str(),
            "kind": step.kind.name(),
            "outcome": outcome.label(),
            "message": outcome.message(),
        }));
    }

    fn job_progress(&self, step: &Step, job: &MigrationJob) {
        emit(json!({
            "v": 1,
            "event": "job_progress",
            "step": step.id.as_str(),
            "job_id": job.job_id,
            "status": job.status.as_str(),
            "percent": percent(job),
            "count_all": job.count_all,
            "count_success": job.count_success,
            "count_failed": job.count_failed,
            "count_warning": job.count_warning,
        }));
    }
}
