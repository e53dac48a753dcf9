//! What a step would do ([`Action`], with its evidence in an [`Observation`]) and how it ended
//! ([`Outcome`]): the words the engine, its executors and what reports on them share.

use serde::Serialize;

/// What a step would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Already as the plan says; the reason is the evidence.
    Unchanged,
    Create,
    Update,
    /// A batch wave whose jobs are running: follow them, start nothing.
    Attach,
    /// Waits on an earlier step that has work to do.
    Blocked,
    /// The live state contradicts the plan; nothing is written for this pair.
    Conflict,
    /// A wave its pair's gate stops: the previous wave failed too much. Not a pending change.
    Held,
    /// Ended in a failure that is an outcome, recorded by an earlier run: a wave whose job
    /// failed, a test account Nylas refused. Not repeated on its own (only when the plan
    /// changes what was asked, or a rerun flag names it), so not a pending change; `apply`
    /// still ends incomplete while it stands.
    Failed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Unchanged => "unchanged",
            Action::Create => "create",
            Action::Update => "update",
            Action::Attach => "attach",
            Action::Blocked => "blocked",
            Action::Conflict => "conflict",
            Action::Held => "held",
            Action::Failed => "failed",
        }
    }
}

/// A probe's result: the action and, in words, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub action: Action,
    pub reason: String,
}

/// How a step ended in this run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Already as planned: nothing written.
    Unchanged(String),
    /// Written (created, updated, linked, cloned, wave finished).
    Changed(String),
    /// Could not be done; its dependents are skipped.
    Failed(String),
    /// Ended in a failure that is an outcome, not an error: a wave whose job failed, a test
    /// account Nylas refused. Recorded and not repeated on its own; the run is incomplete, but
    /// what follows still runs (a gate decides for the next waves).
    Settled(String),
    /// Not attempted, and why.
    Skipped(String),
    /// A wave whose jobs still run at Nylas when this run stopped following them (`--wait`):
    /// recorded as running, not failed; the next apply follows them, starting nothing.
    Running(String),
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Unchanged(_) | Outcome::Changed(_))
    }

    /// Whether the steps that wait on this one may run: it succeeded, or its failure is an
    /// outcome they do not depend on.
    pub fn lets_dependents_run(&self) -> bool {
        self.succeeded() || matches!(self, Outcome::Settled(_))
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Unchanged(_) => "unchanged",
            Outcome::Changed(_) => "changed",
            Outcome::Failed(_) | Outcome::Settled(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::Running(_) => "running",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Outcome::Unchanged(m)
            | Outcome::Changed(m)
            | Outcome::Failed(m)
            | Outcome::Settled(m)
            | Outcome::Skipped(m)
            | Outcome::Running(m) => m,
        }
    }
}
