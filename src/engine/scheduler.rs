//! The one scheduler: walks the step graph in dependency order for `plan` and `apply` alike.
//! It knows no step kind. It keeps the ready set (a step is ready once every step it waits for
//! has ended), holds one of its pair's permits while a step runs (`--concurrency` per v3
//! application for `apply`, one for `plan`), skips every step that waits on one that did not
//! let its dependents run (naming the cause), and with `--fail-fast` starts nothing after the
//! first failure.
//!
//! What running a step means is the [`Executor`]'s: `plan`'s observes it read-only
//! (`engine::preview`), `apply`'s observes and writes it (`engine::apply`), as cargo-nextest
//! separates its dispatcher from its executor.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::Semaphore;

use crate::graph::{Step, StepGraph, StepId};

use super::EngineError;

/// Runs the steps the scheduler hands it, and says what their results mean for the walk.
pub(super) trait Executor {
    type Output;

    /// Runs one step whose dependencies have all ended (and let it run), holding one of its
    /// pair's permits. An error stops the whole walk.
    fn run(&self, step: &Step) -> impl Future<Output = Result<Self::Output, EngineError>>;

    /// The result of a step the scheduler did not run, and why.
    fn skipped(&self, reason: String) -> Self::Output;

    /// A reason not to start a ready step (a gate): it ends skipped, and so do its
    /// dependents. An error stops the whole walk.
    fn hold(&self, step: &Step) -> Result<Option<String>, EngineError>;

    /// What a result means for the walk.
    fn verdict(&self, output: &Self::Output) -> Verdict;

    /// Called once for every step that ends, run or skipped, in the order they end (not for
    /// steps `--fail-fast` never started).
    fn finished(&self, step: &Step, output: &Self::Output);

    /// For a step outside the walk's selection (a pair `--pair` does not name) that selected
    /// steps wait on: `None` when it is done (they may run), else why they cannot (they end
    /// [`Executor::waiting`] with that reason, and their dependents skipped). It is never run.
    fn outside(&self, step: &Step) -> Result<Option<String>, EngineError>;

    /// The result of a selected step that cannot run because it waits on `on`, a step outside
    /// the selection that is not done (`reason`, from [`Executor::outside`]): skipped unless
    /// the executor tells it apart (`plan` counts it as waiting on pairs the run does not
    /// target, not as blocked by a conflict).
    fn waiting(&self, step: &Step, on: &Step, reason: String) -> Self::Output {
        let _ = (step, on);
        self.skipped(reason)
    }
}

/// What a step's result means for the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Verdict {
    /// Done as the plan asks; anything else stops the walk with `--fail-fast`.
    pub succeeded: bool,
    /// Whether the steps that wait on it may run; if not, they are skipped.
    pub lets_dependents_run: bool,
    /// It was skipped itself (its dependents are then skipped as "… was skipped").
    pub skipped: bool,
    /// It still runs at Nylas (a wave left running at `--wait`): its dependents wait for it
    /// (skipped as "… is still running at Nylas").
    pub running: bool,
}

/// The end of the reason of a step skipped because a step it waits on still runs at Nylas.
pub const STILL_RUNNING: &str = " is still running at Nylas (the next apply follows it)";

/// How much runs at once, and whether a failure stops the walk.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Steps in flight at once per pair (per v3 application).
    pub permits_per_pair: usize,
    /// Start nothing more after the first step that did not succeed.
    pub fail_fast: bool,
}

/// Walks the steps of the graph that `selected` keeps (every step of the pairs a run targets);
/// returns each one's result in graph order ([`StepGraph::steps`]). A selected step that waits
/// on a step outside the selection runs only if the executor says that step is done.
pub(super) async fn walk<'g, E: Executor>(
    graph: &'g StepGraph,
    executor: &E,
    limits: Limits,
    selected: impl Fn(&Step) -> bool,
) -> Result<Vec<(&'g Step, E::Output)>, EngineError> {
    let Order {
        steps,
        dependents,
        mut waiting,
    } = Order::new(graph);
    let inside: Vec<bool> = steps.iter().map(|s| selected(s)).collect();
    let mut outputs: Vec<Option<E::Output>> = (0..steps.len()).map(|_| None).collect();
    // What the selection waits on outside it: done (the wait is over) or which step is not,
    // and why.
    let mut blocked: Vec<Option<(usize, String)>> = vec![None; steps.len()];
    for (i, step) in steps.iter().enumerate() {
        if inside[i] || !dependents[i].iter().any(|&d| inside[d]) {
            continue;
        }
        let pending = executor.outside(step)?;
        for &d in dependents[i].iter().filter(|&&d| inside[d]) {
            match &pending {
                None => waiting[d] -= 1,
                Some(reason) => {
                    blocked[d].get_or_insert_with(|| (i, reason.clone()));
                }
            }
        }
    }
    // Ended before the walk starts; what waits on them learns it as the walk goes (`ended`).
    let mut ended = Vec::new();
    for (d, reason) in blocked.into_iter().enumerate() {
        let Some((on, reason)) = reason else { continue };
        if outputs[d].is_some() {
            continue;
        }
        let output = executor.waiting(steps[d], steps[on], reason);
        executor.finished(steps[d], &output);
        let verdict = executor.verdict(&output);
        outputs[d] = Some(output);
        if verdict.lets_dependents_run {
            ended.push(d);
        } else {
            skip_dependents(d, verdict, &steps, &dependents, &mut outputs, executor);
        }
    }
    for d in ended {
        for &next in dependents[d].iter().filter(|&&n| inside[n]) {
            waiting[next] -= 1;
        }
    }
    let permits: Vec<Semaphore> = graph
        .pairs()
        .iter()
        .map(|_| Semaphore::new(limits.permits_per_pair.max(1)))
        .collect();

    let dispatch = |i: usize| {
        let (step, permits) = (steps[i], &permits);
        async move {
            let Ok(_permit) = permits[step.pair].acquire().await else {
                return (i, Ok(executor.skipped("the run was stopped".into())));
            };
            (i, executor.run(step).await)
        }
    };
    let mut running = FuturesUnordered::new();
    for i in 0..steps.len() {
        if inside[i] && waiting[i] == 0 && outputs[i].is_none() {
            running.push(dispatch(i));
        }
    }
    let mut stopped = false;
    while let Some((i, output)) = running.next().await {
        let output = output?;
        executor.finished(steps[i], &output);
        let verdict = executor.verdict(&output);
        outputs[i] = Some(output);
        if !verdict.succeeded && limits.fail_fast && !stopped {
            stopped = true;
            // Steps already waiting for a permit end as "stopped" instead of running.
            for permit in &permits {
                permit.close();
            }
        }
        if !verdict.lets_dependents_run {
            skip_dependents(i, verdict, &steps, &dependents, &mut outputs, executor);
            continue;
        }
        for &d in dependents[i].iter().filter(|&&d| inside[d]) {
            waiting[d] -= 1;
            if waiting[d] > 0 || outputs[d].is_some() || stopped {
                continue;
            }
            if let Some(reason) = executor.hold(steps[d])? {
                let output = executor.skipped(reason);
                executor.finished(steps[d], &output);
                let verdict = executor.verdict(&output);
                outputs[d] = Some(output);
                skip_dependents(d, verdict, &steps, &dependents, &mut outputs, executor);
                continue;
            }
            running.push(dispatch(d));
        }
    }
    Ok(steps
        .into_iter()
        .zip(outputs)
        .zip(inside)
        .filter(|(_, inside)| *inside)
        .map(|((step, output), _)| {
            let output = output.unwrap_or_else(|| {
                executor.skipped("not started: --fail-fast stopped the run after a failure".into())
            });
            (step, output)
        })
        .collect())
}

/// The graph by position in [`StepGraph::steps`]: each step, the steps that wait for it, and
/// how many it waits for.
struct Order<'g> {
    steps: Vec<&'g Step>,
    dependents: Vec<Vec<usize>>,
    waiting: Vec<usize>,
}

impl<'g> Order<'g> {
    fn new(graph: &'g StepGraph) -> Order<'g> {
        let steps: Vec<&Step> = graph.steps().collect();
        let position: HashMap<&StepId, usize> =
            steps.iter().enumerate().map(|(i, s)| (&s.id, i)).collect();
        let dependents = steps
            .iter()
            .map(|s| {
                graph
                    .dependents(&s.id)
                    .iter()
                    .map(|d| position[&d.id])
                    .collect()
            })
            .collect();
        let waiting = steps
            .iter()
            .map(|s| graph.dependencies(&s.id).len())
            .collect();
        Order {
            steps,
            dependents,
            waiting,
        }
    }
}

/// Ends as skipped every step that waits (directly or not) on `cause`, naming it.
fn skip_dependents<E: Executor>(
    cause: usize,
    verdict: Verdict,
    steps: &[&Step],
    dependents: &[Vec<usize>],
    outputs: &mut [Option<E::Output>],
    executor: &E,
) {
    let reason = skip_reason(&steps[cause].id, verdict);
    for d in skipped_by(cause, dependents, |d| outputs[d].is_some()) {
        let output = executor.skipped(reason.clone());
        executor.finished(steps[d], &output);
        outputs[d] = Some(output);
    }
}

/// Why a step is skipped: `<cause> failed`, or `<cause> was skipped`.
fn skip_reason(cause: &StepId, verdict: Verdict) -> String {
    if verdict.running {
        return format!("{cause}{STILL_RUNNING}");
    }
    format!(
        "{cause} {}",
        if verdict.skipped {
            "was skipped"
        } else {
            "failed"
        }
    )
}

/// The steps to skip because `cause` did not let its dependents run: every step that waits
/// on it, directly or not, that has not `ended` yet, in the order they are reported.
fn skipped_by(
    cause: usize,
    dependents: &[Vec<usize>],
    ended: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let mut skipped = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<usize> = dependents[cause].clone();
    while let Some(d) = stack.pop() {
        if ended(d) || !seen.insert(d) {
            continue;
        }
        skipped.push(d);
        stack.extend(dependents[d].iter().copied());
    }
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Kind;

    #[test]
    fn a_failure_skips_everything_that_waits_on_it_once() {
        // 0 → 1 → {2, 3} → 4 → 5, and 6 on its own.
        let dependents = vec![
            vec![1],
            vec![2, 3],
            vec![4],
            vec![4],
            vec![5],
            vec![],
            vec![],
        ];
        for (cause, ended, expected) in [
            (0, vec![], vec![1, 3, 4, 5, 2]),
            (1, vec![], vec![3, 4, 5, 2]),
            // A step that already ended is left as it is, and so is what follows it only
            // through it.
            (1, vec![3, 4], vec![2]),
            (4, vec![], vec![5]),
            (5, vec![], vec![]),
            (6, vec![], vec![]),
        ] {
            assert_eq!(
                skipped_by(cause, &dependents, |d| ended.contains(&d)),
                expected,
                "{cause} {ended:?}"
            );
        }
    }

    #[test]
    fn a_skipped_step_names_its_cause() {
        let cause = StepId::new("p", Kind::Batch, Some("w1"));
        let verdict = |skipped| Verdict {
            succeeded: false,
            lets_dependents_run: false,
            skipped,
            running: false,
        };
        assert_eq!(skip_reason(&cause, verdict(false)), "p/batch/w1 failed");
        assert_eq!(skip_reason(&cause, verdict(true)), "p/batch/w1 was skipped");
    }
}
