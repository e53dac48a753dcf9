//! What `status` says, as data: where each step stands in the journal and what its wave's
//! job says now (its JSON is the `status` event's payload, see `src/events/`).

use schemars::JsonSchema;
use serde::Serialize;

use crate::api::{JobStatus, Region};
use crate::engine::Tally;
use crate::graph::{Kind, StepId};
use crate::state::journal::{RunRecord, StepStatus};

/// Where a step stands in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StandingStatus {
    /// Done, or found done.
    Done,
    /// Failed: a failed step, a refused write, a failed wave.
    Failed,
    /// A wave whose jobs are running.
    Running,
    /// An intent without an outcome: the run stopped while the write was under way.
    Interrupted,
    /// No record.
    Pending,
}

impl StandingStatus {
    /// The standing of a step whose journal row has `status` (`None`: no row).
    pub fn of(status: Option<StepStatus>) -> StandingStatus {
        match status {
            Some(StepStatus::Done) => StandingStatus::Done,
            Some(StepStatus::Failed) => StandingStatus::Failed,
            Some(StepStatus::Running) => StandingStatus::Running,
            Some(StepStatus::Intent) => StandingStatus::Interrupted,
            None => StandingStatus::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StandingStatus::Done => "done",
            StandingStatus::Failed => "failed",
            StandingStatus::Running => "running",
            StandingStatus::Interrupted => "interrupted",
            StandingStatus::Pending => "pending",
        }
    }
}

impl std::fmt::Display for StandingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One step's standing.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepStanding {
    pub step: StepId,
    pub kind: Kind,
    pub status: StandingStatus,
    pub run_id: Option<i64>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
    /// A wave's migration job as Nylas reports it now.
    pub job: Option<JobStanding>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobStanding {
    pub job_id: String,
    pub status: JobStatus,
    #[schemars(range(max = 100))]
    pub percent: u64,
    pub count_all: u64,
    pub count_success: u64,
    pub count_failed: u64,
    pub count_warning: u64,
}

impl JobStanding {
    pub fn tally(&self) -> Tally {
        Tally {
            all: self.count_all,
            migrated: self.count_success,
            placeholders: self.count_warning,
            failed: self.count_failed,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PairStanding {
    pub pair: String,
    pub region: Region,
    pub steps: Vec<StepStanding>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Standing {
    pub plan: String,
    pub last_run: Option<RunSummary>,
    pub pairs: Vec<PairStanding>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunSummary {
    pub run_id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    #[schemars(with = "Option<String>")]
    pub outcome: Option<crate::state::journal::RunOutcome>,
}

impl From<&RunRecord> for RunSummary {
    fn from(r: &RunRecord) -> Self {
        RunSummary {
            run_id: r.id,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steps_standing_follows_its_journal_row() {
        for (status, standing, shown) in [
            (Some(StepStatus::Done), StandingStatus::Done, "done"),
            (Some(StepStatus::Failed), StandingStatus::Failed, "failed"),
            (
                Some(StepStatus::Running),
                StandingStatus::Running,
                "running",
            ),
            (
                Some(StepStatus::Intent),
                StandingStatus::Interrupted,
                "interrupted",
            ),
            (None, StandingStatus::Pending, "pending"),
        ] {
            assert_eq!(StandingStatus::of(status), standing);
            assert_eq!(standing.as_str(), shown);
            assert_eq!(format!("{standing:<12}|"), format!("{shown:<12}|"));
            assert_eq!(
                serde_json::to_value(standing).unwrap(),
                serde_json::json!(shown)
            );
        }
    }
}
