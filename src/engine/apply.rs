//! `apply`'s executor: every step the scheduler hands it is observed and, where it has work,
//! written ([`steps::apply_step`]), each in its own task; a gate holds waves; every outcome is
//! reported as it ends. The run is journaled from start to finish.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures::StreamExt;
use tokio::task::{JoinError, JoinHandle};

use crate::graph::Step;

use super::EngineError;
use super::context::{Context, PAIRS_AT_ONCE};
use super::scheduler::{self, Executor, Limits, Verdict};
use super::steps::{self, Outcome, PairReads, StepCx, WriteCx, gates};
use crate::events::{Event, Reporter, StepStarted};
use crate::state::journal::RunOutcome;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Steps in flight at once per v3 application.
    pub concurrency: usize,
    /// Stop starting steps after the first failure.
    pub fail_fast: bool,
    /// Longest wait between two polls of a wave's jobs.
    pub max_poll: Duration,
    /// How long one wave's jobs are followed; past it they keep running at Nylas, the step
    /// ends [`Outcome::Running`] and the next apply follows them (`apply --wait`).
    pub max_follow: Duration,
}

/// How long `apply` follows one wave's jobs unless `--wait` says otherwise.
pub const DEFAULT_MAX_FOLLOW: Duration = Duration::from_secs(24 * 3600);

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 8,
            fail_fast: false,
            max_poll: Duration::from_secs(5),
            max_follow: DEFAULT_MAX_FOLLOW,
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

    /// Waves left running at Nylas when the run stopped following them (`--wait`).
    pub fn running(&self) -> usize {
        self.count("running")
    }

    /// Whether everything is done but waves left running at Nylas (`--wait`) and the steps
    /// that wait for them: the next apply finishes the work by following them.
    pub fn only_running_left(&self) -> bool {
        if self.running() == 0 {
            return false;
        }
        let mut waiting: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for (step, outcome) in &self.results {
            match outcome {
                Outcome::Unchanged(_) | Outcome::Changed(_) => {}
                Outcome::Running(_) => {
                    waiting.insert(step.id.as_str());
                }
                Outcome::Skipped(reason) => {
                    let cause = reason
                        .strip_suffix(super::scheduler::STILL_RUNNING)
                        .or_else(|| reason.strip_suffix(" was skipped"));
                    match cause {
                        Some(cause) if waiting.contains(cause) => {
                            waiting.insert(step.id.as_str());
                        }
                        _ => return false,
                    }
                }
                Outcome::Failed(_) | Outcome::Settled(_) => return false,
            }
        }
        true
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
    let journal = ctx.journal().ok_or_else(|| EngineError::State {
        path: ctx.state().to_string(),
        source: std::io::Error::other("no journal"),
    })?;
    let run_id = journal.start_run(ctx.graph().plan_name(), "apply")?;
    let notices = if ctx.options().adopt_existing_jobs {
        adopt_unknown_jobs(&ctx, run_id, reporter.as_ref()).await?
    } else {
        Vec::new()
    };

    let executor = ApplyRun {
        reads: (0..ctx.graph().pairs().len())
            .map(|pair| Arc::new(PairReads::lazy(pair)))
            .collect(),
        ctx: ctx.clone(),
        run_id,
        reporter,
        max_poll: options.max_poll,
        max_follow: options.max_follow,
    };
    let limits = Limits {
        permits_per_pair: options.concurrency,
        fail_fast: options.fail_fast,
    };
    let results = scheduler::walk(ctx.graph(), &executor, limits, |s| ctx.targets_pair(s.pair))
        .await?
        .into_iter()
        .map(|(step, outcome)| (step.clone(), outcome))
        .collect();
    // Every step has ended (the ones started before the loss let their requests finish): a
    // lost lock ends the run here, naming what it left in flight.
    if let Some(why) = journal.lock_lost() {
        let open = journal.open_steps();
        return Err(EngineError::LockLost {
            place: journal
                .fence()
                .map_or_else(|| ctx.state().to_string(), |f| f.place()),
            why,
            in_flight: if open.is_empty() {
                String::new()
            } else {
                format!(
                    "; in flight when it was lost (their outcome is not journaled): {}",
                    crate::untrusted::escaped(&open.join(", "))
                )
            },
        });
    }
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

/// `--adopt-existing-jobs`, before any wave: the jobs this state did not know become this
/// plan's, each batch clone that fits a wave the wave's own (done, or followed: not started
/// again) and the others history, so that the waves' guard (and the report) count them (see
/// `steps::adopt_pair_jobs`). Returns what was adopted, in words.
async fn adopt_unknown_jobs(
    ctx: &Context,
    run_id: i64,
    reporter: &dyn Reporter,
) -> Result<Vec<String>, EngineError> {
    // Every targeted pair at once (each application's reads paced by its own limiter); the
    // notices come back in plan order.
    let targeted: Vec<usize> = (0..ctx.graph().pairs().len())
        .filter(|&index| ctx.targets_pair(index))
        .collect();
    let adopted = futures::stream::iter(targeted)
        .map(|index| steps::adopt_pair_jobs(ctx, run_id, index))
        .buffered(PAIRS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let mut notices = Vec::new();
    for notice in adopted {
        if let Some(notice) = notice? {
            reporter.report(&Event::notice(notice.clone()));
            notices.push(notice);
        }
    }
    Ok(notices)
}

/// One run of `apply`, as the scheduler's executor.
struct ApplyRun {
    ctx: Arc<Context>,
    run_id: i64,
    reporter: Arc<dyn Reporter>,
    max_poll: Duration,
    max_follow: Duration,
    /// Per pair: the reads its steps share (one observation of its grants for all its
    /// clones).
    reads: Vec<Arc<PairReads>>,
}

impl Executor for ApplyRun {
    type Output = Outcome;

    /// Each step runs in a task of its own (the runtime's threads share the work); dropping
    /// the walk (Ctrl-C) aborts the tasks at their next await, as a killed run would stop,
    /// and the journal's intents let the next run resume them.
    async fn run(&self, step: &Step) -> Result<Outcome, EngineError> {
        // A lost lock starts nothing more (what already runs finishes, unable to journal).
        if let Some(why) = self.ctx.journal().and_then(|j| j.lock_lost()) {
            return Ok(Outcome::Skipped(format!(
                "not started: this run lost the state's lock ({why})"
            )));
        }
        self.reporter
            .report(&Event::StepStarted(StepStarted::of(step)));
        let ctx = self.ctx.clone();
        let reads = self.reads[step.pair].clone();
        let reporter = self.reporter.clone();
        let (step, run_id, max_poll, max_follow) =
            (step.clone(), self.run_id, self.max_poll, self.max_follow);
        let task = tokio::spawn(async move {
            let cx = WriteCx {
                cx: StepCx {
                    ctx: &ctx,
                    step: &step,
                    reads: &reads,
                },
                run_id,
                reporter: reporter.as_ref(),
                max_poll,
                max_follow,
            };
            steps::apply_step(&cx).await
        });
        // A step task that panicked is a bug; its step is unknown to the JoinError, so the
        // walk stops.
        AbortOnDrop(task)
            .await
            .map_err(|err| EngineError::Internal(format!("a step task failed: {err}")))
    }

    fn skipped(&self, reason: String) -> Outcome {
        Outcome::Skipped(reason)
    }

    fn hold(&self, step: &Step) -> Result<Option<String>, EngineError> {
        gates::gate_stops(&self.ctx, step)
    }

    fn verdict(&self, outcome: &Outcome) -> Verdict {
        Verdict {
            succeeded: outcome.succeeded(),
            lets_dependents_run: outcome.lets_dependents_run(),
            skipped: matches!(outcome, Outcome::Skipped(_)),
            running: matches!(outcome, Outcome::Running(_)),
        }
    }

    fn finished(&self, step: &Step, outcome: &Outcome) {
        self.reporter.report(&Event::step_ended(step, outcome));
    }

    fn outside(&self, step: &Step) -> Result<Option<String>, EngineError> {
        self.ctx.untargeted_pending(step)
    }
}

/// A task that is aborted when its handle is dropped (a task's handle alone detaches it).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}
