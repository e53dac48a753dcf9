//! `status`: per pair and step, what the journal says, and for waves what their live jobs say.

use futures::{StreamExt, TryStreamExt};

use crate::api::MigrationJob;
use crate::client::JobFilter;
use crate::engine::{Context, EngineError, Tally};
use crate::graph::{Step, StepGraph, StepId, StepKind};
use crate::state::journal::{Journal, StepState};

use super::standing_model::{
    JobStanding, PairStanding, RunSummary, Standing, StandingStatus, StepStanding,
};

fn job_standing(job: &MigrationJob) -> JobStanding {
    JobStanding {
        job_id: job.job_id.clone(),
        status: job.status,
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
                region: pair.region,
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
