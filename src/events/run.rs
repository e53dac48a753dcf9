//! The events of `plan` and `apply`: the steps as observed or as they run, the waves' jobs,
//! the counts at the end.

use schemars::JsonSchema;
use serde::Serialize;

use crate::api::{JobStatus, MigrationJob};
use crate::engine::outcome::{Action, Outcome, OutcomeKind, Waits};
use crate::graph::{Kind, Step, StepId};
use crate::report::standing_model::StandingStatus;

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Notice {
    /// The pair it is about, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Partial {
    pub pairs: Vec<String>,
    pub not_targeted: Vec<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PlanStep {
    pub step: StepId,
    pub kind: Kind,
    #[serde(flatten)]
    pub seen: PlanSeen,
}

/// What `plan` knows of a step: observed online, or recorded in the journal (--offline).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PlanSeen {
    Observed {
        /// failed: a failure recorded by an earlier run that is not repeated on its own (a
        /// wave whose job failed, a test account Nylas refused); not a pending change.
        action: Action,
        reason: String,
        /// A blocked step only: what it waits on. changes: this apply's earlier changes (plan
        /// shows it as `after`; a pending change too); conflict: a conflict, which stops it;
        /// untargeted_pairs: a pair the run does not target (--pair) that is not done (plan
        /// shows it as `waiting`; counted in plan_summary's `waiting`).
        #[serde(skip_serializing_if = "Option::is_none")]
        waits: Option<Waits>,
    },
    Recorded {
        journal: StandingStatus,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct UnmanagedFound {
    pub pair: String,
    /// The kind of step that would manage it (webhook, pubsub, sns, redirect-uri).
    pub kind: Kind,
    /// Its ID at Nylas.
    pub id: String,
    /// What identifies it, as a plan names it: the URL or the topic.
    pub subject: String,
    /// Its settings, for a person: status and triggers, or platform.
    pub detail: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PlanSummary {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub conflict: usize,
    /// Steps that wait on an earlier step: those counted in `after`, those a conflict stops,
    /// and those counted in `waiting`.
    pub blocked: usize,
    /// Blocked steps that run after this apply's own changes: pending changes too.
    pub after: usize,
    /// Blocked steps that wait on pairs this run does not target (--pair) and that are not
    /// done: not changes this run can make; plan exits 1 while there are any, as apply with
    /// the same targets does.
    pub waiting: usize,
    /// Steps apply would run: create + update + attach + after.
    pub changes: usize,
    pub attach: usize,
    /// Waves a gate stops: not pending changes.
    pub held: usize,
    /// Steps whose recorded failure stands (action failed): not pending changes.
    pub failed: usize,
    /// Destinations and redirect URIs found live but not managed by this plan (the unmanaged
    /// events): not pending changes.
    pub unmanaged: usize,
    pub changes_pending: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StepStarted {
    pub step: StepId,
    pub kind: Kind,
}

impl StepStarted {
    pub fn of(step: &Step) -> StepStarted {
        StepStarted {
            step: step.id.clone(),
            kind: step.kind.kind(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StepEnded {
    pub step: StepId,
    pub kind: Kind,
    pub outcome: OutcomeKind,
    pub message: String,
}

impl StepEnded {
    pub fn of(step: &Step, outcome: &Outcome) -> StepEnded {
        StepEnded {
            step: step.id.clone(),
            kind: step.kind.kind(),
            outcome: outcome.kind(),
            message: outcome.message().to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct JobProgress {
    pub step: StepId,
    pub job_id: String,
    pub status: JobStatus,
    #[schemars(range(max = 100))]
    pub percent: u64,
    pub count_all: u64,
    pub count_success: u64,
    pub count_failed: u64,
    pub count_warning: u64,
}

impl JobProgress {
    pub fn of(step: &Step, job: &MigrationJob) -> JobProgress {
        JobProgress {
            step: step.id.clone(),
            job_id: job.job_id.clone(),
            status: job.status,
            percent: job.percent_done(),
            count_all: job.count_all,
            count_success: job.count_success,
            count_failed: job.count_failed,
            count_warning: job.count_warning,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Summary {
    pub run_id: i64,
    pub changed: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Waves left running at Nylas at the --wait bound (only when there are some); apply
    /// exits 3 when nothing else failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<usize>,
    pub done: bool,
}

/// The signal that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    #[serde(rename = "Ctrl-C")]
    Interrupt,
    /// SIGTERM (a CI job cancelled, a container stopped).
    #[serde(rename = "SIGTERM")]
    Terminate,
}

impl Signal {
    /// How the run's messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C",
            Signal::Terminate => "SIGTERM",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Interrupted {
    pub signal: Signal,
    pub steps: usize,
    pub finished: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub skipped: usize,
    pub in_progress: usize,
    pub running_waves: Vec<RunningWave>,
}

/// A wave whose job may keep running at Nylas: its last known job, if one was seen.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RunningWave {
    pub step: StepId,
    pub job_id: Option<String>,
    pub percent: Option<u64>,
}
