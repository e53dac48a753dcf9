//! `status`: per pair and step, what the journal says, and for waves what their live jobs say.

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::api::MigrationJob;
use crate::client::JobFilter;
use crate::engine::{Context, EngineError, Tally};
use crate::graph::{Kind, Step, StepGraph, StepId, StepKind};
use crate::state::journal::{Journal, RunRecord, StepState, StepStatus};

/// Where a step stands in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct JobStanding {
    pub job_id: String,
    pub status: String,
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

#[derive(Debug, Clone, Serialize)]
pub struct PairStanding {
    pub pair: String,
    pub region: String,
    pub steps: Vec<StepStanding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Standing {
    pub plan: String,
    pub last_run: Option<RunSummary>,
    pub pairs: Vec<PairStanding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
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

fn job_standing(job: &MigrationJob) -> JobStanding {
    JobStanding {
        job_id: job.job_id.clone(),
        status: job.status.to_string(),
        percent: job.percent_done(),
        count_all: job.count_all,
        count_success: job.count_success,
        count_failed: job.count_failed,
        count_warning: job.count_warning,
    }
}

/// One step's standing: its journal row (`state`), and for a started wave its job among the
/// live `jobs`.
fn step_standing(step: &Step, state: Option<&StepState>, jobs: &[MigrationJob]) -> StepStanding {
    StepStanding {
        step: step.id.clone(),
        kind: step.kind.kind(),
        status: StandingStatus::of(state.map(|st| st.status)),
        run_id: state.map(|st| st.run_id),
        request_id: state.and_then(|st| st.record.request_id.clone()),
        detail: state.and_then(detail),
        job: state
            .and_then(|st| st.record.clone_job_id.as_ref())
            .and_then(|id| jobs.iter().find(|j| &j.job_id == id))
            .map(job_standing),
    }
}

/// What the journal says of a step beyond its status: a refusal, a failed wave, an error, a
/// finished wave's counts, or the object it made.
fn detail(st: &StepState) -> Option<String> {
    let refused = st.record.refused.then(|| {
        format!(
            "refused by Nylas: {}",
            st.record.error.as_deref().unwrap_or("no reason given")
        )
    });
    let wave = crate::engine::finished_wave(st)
        .filter(|w| w.status == crate::api::JobStatus::Failed)
        .map(|w| format!("wave failed in {}", w.describe()));
    refused
        .or(wave)
        .or_else(|| st.record.error.clone())
        .or_else(|| st.record.counts.map(|c| Tally::from(c).of_all()))
        .or_else(|| st.record.object_id.clone())
}

/// The standing of every step. With `ctx` (secrets resolved, network), waves' live jobs are
/// read: one `migration_get_jobs` call per pair that has started a wave. `pairs` limits it to
/// the pairs it names (`--pair`; empty: every pair).
pub async fn standing(
    graph: &StepGraph,
    journal: Option<&Journal>,
    ctx: Option<&Context>,
    pairs_named: &[String],
) -> Result<Standing, EngineError> {
    // The journal's rows by step; a row that is no step ID (another version's) is no step
    // of this plan.
    let steps_state: std::collections::HashMap<StepId, StepState> = match journal {
        Some(j) => j
            .steps()?
            .into_iter()
            .filter_map(|(id, state)| Some((StepId::parse(&id)?, state)))
            .collect(),
        None => Default::default(),
    };
    let last_run = match journal {
        Some(j) => j.runs()?.last().map(RunSummary::from),
        None => None,
    };
    // The live jobs of every pair that started a wave, side by side (each application's
    // reads paced by its own limiter); the pairs in plan order.
    let named: Vec<usize> = (0..graph.pairs().len())
        .filter(|&index| pairs_named.is_empty() || pairs_named.contains(&graph.pairs()[index].name))
        .collect();
    let steps_state = &steps_state;
    let pairs: Vec<PairStanding> = futures::stream::iter(named)
        .map(|index| async move {
            let pair = &graph.pairs()[index];
            let pair_steps: Vec<_> = graph.steps().filter(|s| s.pair == index).collect();
            let started_wave = pair_steps.iter().any(|s| {
                matches!(s.kind, StepKind::Batch(_))
                    && steps_state
                        .get(&s.id)
                        .is_some_and(|st| st.record.clone_job_id.is_some())
            });
            let jobs: Vec<MigrationJob> = match ctx {
                Some(ctx) if started_wave => {
                    ctx.pair_app(index)
                        .list_jobs(&JobFilter::default())
                        .await?
                        .data
                }
                _ => Vec::new(),
            };
            let steps = pair_steps
                .iter()
                .map(|s| step_standing(s, steps_state.get(&s.id), &jobs))
                .collect();
            Ok::<_, EngineError>(PairStanding {
                pair: pair.name.clone(),
                region: pair.region.to_string(),
                steps,
            })
        })
        .buffered(crate::engine::PAIRS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(Standing {
        plan: graph.plan_name().to_owned(),
        last_run,
        pairs,
    })
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
