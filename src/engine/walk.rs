//! Walking the step graph for real (`apply`): every step whose dependencies succeeded runs, as
//! many at once as `--concurrency` allows per v3 application (every request also passes that
//! application's rate limiter); a step that fails skips its dependents, with the reason, and
//! the other pairs go on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OnceCell, Semaphore};
use tokio::task::JoinSet;

use crate::graph::{Step, StepId, StepKind};

use super::EngineError;
use super::context::Context;
use super::execute::{Outcome, Run};
use super::journal::{RunOutcome, StepStatus};
use super::observe::{GrantIndex, describe_jobs, finished_wave, grant_index, unknown_jobs};
use super::progress::Reporter;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Steps in flight at once per v3 application.
    pub concurrency: usize,
    /// Stop starting steps after the first failure.
    pub fail_fast: bool,
    /// Longest wait between two polls of a wave's jobs.
    pub max_poll: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 8,
            fail_fast: false,
            max_poll: Duration::from_secs(5),
        }
    }
}

/// How every step of a run ended, in graph order.
#[derive(Debug, Clone)]
pub struct ApplySummary {
    pub run_id: i64,
    pub results: Vec<(Step, Outcome)>,
    /// What the run did besides its steps (jobs adopted as history), in words.
    pub notices: Vec<String>,
}

impl ApplySummary {
    pub fn count(&self, label: &str) -> usize {
        self.results
            .iter()
            .filter(|(_, o)| o.label() == label)
            .count()
    }

    /// Whether everything the plan asks for is done.
    pub fn all_done(&self) -> bool {
        self.results.iter().all(|(_, o)| o.succeeded())
    }
}

/// Applies the plan. The context must have a journal (it is created for `apply`).
pub async fn apply(
    ctx: Arc<Context>,
    options: &ApplyOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<ApplySummary, EngineError> {
    let journal = ctx.journal.clone().ok_or_else(|| EngineError::State {
        path: ctx.state.to_string(),
        source: std::io::Error::other("no journal"),
    })?;
    let run_id = journal.start_run(ctx.graph.plan_name(), "apply")?;
    let mut notices = Vec::new();
    if ctx.options.adopt_existing_jobs {
        // Before any wave: jobs this state did not know become this plan's history, so that
        // the waves' guard (and the report) count them.
        for (index, pair) in ctx.graph.pairs().iter().enumerate() {
            let jobs = ctx.apps[index]
                .list_jobs(&crate::client::JobFilter::default())
                .await?
                .data;
            let unknown = unknown_jobs(&ctx, &jobs)?;
            if unknown.is_empty() {
                continue;
            }
            journal.adopt_jobs(run_id, &pair.v3_app_id, &unknown)?;
            let notice = format!(
                "{}: adopted as history (--adopt-existing-jobs) {}",
                pair.name,
                describe_jobs(&unknown)
            );
            reporter.notice(&notice);
            notices.push(notice);
        }
    }

    let steps: Vec<Step> = ctx.graph.steps().cloned().collect();
    let position: HashMap<StepId, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    let dependents: Vec<Vec<usize>> = steps
        .iter()
        .map(|s| {
            ctx.graph
                .dependents(&s.id)
                .iter()
                .map(|d| position[&d.id])
                .collect()
        })
        .collect();
    let mut waiting: Vec<usize> = steps
        .iter()
        .map(|s| ctx.graph.dependencies(&s.id).len())
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; steps.len()];

    let pairs = ctx.graph.pairs().len();
    let permits: Vec<Arc<Semaphore>> = (0..pairs)
        .map(|_| Arc::new(Semaphore::new(options.concurrency.max(1))))
        .collect();
    // One observation of a pair's grants serves all its clone steps; a failure is kept too, so
    // that an outage fails the pair's clones once instead of each retrying every page.
    type Observed = OnceCell<Result<Arc<GrantIndex>, String>>;
    let grants: Arc<Vec<Observed>> = Arc::new((0..pairs).map(|_| OnceCell::new()).collect());

    let mut tasks: JoinSet<(usize, Outcome)> = JoinSet::new();
    let mut stopped = false;
    let spawn = |tasks: &mut JoinSet<(usize, Outcome)>, i: usize| {
        let ctx = ctx.clone();
        let step = steps[i].clone();
        let permit = permits[step.pair].clone();
        let grants = grants.clone();
        let reporter = reporter.clone();
        let max_poll = options.max_poll;
        tasks.spawn(async move {
            let Ok(_permit) = permit.acquire_owned().await else {
                return (i, Outcome::Skipped("the run was stopped".into()));
            };
            reporter.step_started(&step);
            let index = if matches!(step.kind, StepKind::Clone(_)) {
                let observed = grants[step.pair]
                    .get_or_init(|| async {
                        grant_index(&ctx, step.pair)
                            .await
                            .map(Arc::new)
                            .map_err(|err| err.outcome_message())
                    })
                    .await;
                match observed {
                    Ok(index) => index.clone(),
                    Err(err) => return (i, Outcome::Failed(format!("observing grants: {err}"))),
                }
            } else {
                Arc::new(GrantIndex::new())
            };
            let run = Run {
                ctx: &ctx,
                run_id,
                reporter: reporter.as_ref(),
                max_poll,
            };
            (i, run.step(&step, &index).await)
        });
    };

    for (i, _) in waiting.iter().enumerate().filter(|(_, w)| **w == 0) {
        spawn(&mut tasks, i);
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, outcome) = match joined {
            Ok(done) => done,
            // A step task panicked: a bug. Its step cannot be identified from the JoinError, so
            // the remaining steps are finished as skipped below.
            Err(err) => return Err(EngineError::Internal(format!("a step task failed: {err}"))),
        };
        reporter.step_finished(&steps[i], &outcome);
        let succeeded = outcome.succeeded();
        let go_on = outcome.lets_dependents_run();
        outcomes[i] = Some(outcome);
        if !succeeded && options.fail_fast && !stopped {
            stopped = true;
            // Steps already waiting for a permit end as "stopped" instead of running.
            for permit in &permits {
                permit.close();
            }
        }
        if !go_on {
            skip_dependents(i, &steps, &dependents, &mut outcomes, reporter.as_ref());
            continue;
        }
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] > 0 || outcomes[d].is_some() {
                continue;
            }
            if stopped {
                continue;
            }
            if let Some(reason) = gate_stops(&ctx, &steps[d])? {
                let outcome = Outcome::Skipped(reason);
                reporter.step_finished(&steps[d], &outcome);
                outcomes[d] = Some(outcome);
                skip_dependents(d, &steps, &dependents, &mut outcomes, reporter.as_ref());
                continue;
            }
            spawn(&mut tasks, d);
        }
    }
    let results: Vec<(Step, Outcome)> = steps
        .into_iter()
        .zip(outcomes)
        .map(|(step, outcome)| {
            let outcome = outcome.unwrap_or_else(|| {
                Outcome::Skipped("not started: --fail-fast stopped the run after a failure".into())
            });
            (step, outcome)
        })
        .collect();
    let summary = ApplySummary {
        run_id,
        results,
        notices,
    };
    journal.finish_run(
        run_id,
        if summary.all_done() {
            RunOutcome::Done
        } else {
            RunOutcome::Incomplete
        },
    )?;
    Ok(summary)
}

/// Marks every step that waits (directly or not) on `failed` as skipped, naming the cause.
fn skip_dependents(
    failed: usize,
    steps: &[Step],
    dependents: &[Vec<usize>],
    outcomes: &mut [Option<Outcome>],
    reporter: &dyn Reporter,
) {
    let cause = &steps[failed].id;
    let verb = match &outcomes[failed] {
        Some(Outcome::Skipped(_)) => "was skipped",
        _ => "failed",
    };
    let mut stack: Vec<usize> = dependents[failed].clone();
    while let Some(d) = stack.pop() {
        if outcomes[d].is_some() {
            continue;
        }
        let outcome = Outcome::Skipped(format!("{cause} {verb}"));
        reporter.step_finished(&steps[d], &outcome);
        outcomes[d] = Some(outcome);
        stack.extend(dependents[d].iter().copied());
    }
}

/// A wave after the first runs only if the previous wave's failures stayed within the gate.
pub(super) fn gate_stops(ctx: &Context, step: &Step) -> Result<Option<String>, EngineError> {
    let StepKind::Batch(batch) = &step.kind else {
        return Ok(None);
    };
    let (Some(gate), Some(journal)) = (batch.gate, &ctx.journal) else {
        return Ok(None);
    };
    // A wave whose jobs are already under way is followed whatever the gate says now.
    if journal
        .step(&step.id)?
        .is_some_and(|s| matches!(s.status, StepStatus::Intent | StepStatus::Running))
    {
        return Ok(None);
    }
    for previous in ctx.graph.dependencies(&step.id) {
        let StepKind::Batch(prev) = &previous.kind else {
            continue;
        };
        let Some(state) = journal.step(&previous.id)? else {
            continue;
        };
        // Any finished wave counts, a failed one as the worst case.
        let Some(finished) = finished_wave(&state) else {
            continue;
        };
        let Some(ratio) = finished.failed_ratio() else {
            continue;
        };
        if ratio > gate.max_failed_ratio {
            let counts = finished.counts.unwrap_or_default();
            return Ok(Some(if finished.status == crate::api::JobStatus::Failed {
                format!(
                    "gate: wave `{}` ended `failed` ({} of its {} accounts reported failed; a failed job is the worst case, 100%), above the gate's {:.1}%",
                    prev.wave,
                    counts.failed,
                    counts.all,
                    gate.max_failed_ratio * 100.0
                )
            } else {
                format!(
                    "gate: wave `{}` failed for {:.1}% of its {} accounts ({} failed), above the gate's {:.1}%",
                    prev.wave,
                    ratio * 100.0,
                    counts.all,
                    counts.failed,
                    gate.max_failed_ratio * 100.0
                )
            }));
        }
    }
    Ok(None)
}
