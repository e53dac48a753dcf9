//! `plan`'s executor: the scheduler's walk with every step observed read-only, one step of a
//! pair at a time; then each step that has work but waits on an earlier step that has too is
//! marked blocked (it runs `after` that step's change, or waits on its conflict), and the
//! waves a gate stops are marked held. Beside the steps, what each pair's application has
//! live that no step names (notification destinations, redirect URIs): not managed by the
//! plan, and left as it is.

use std::collections::HashMap;

use futures::future::try_join_all;

use crate::graph::{Step, StepId};

use super::EngineError;
use super::context::Context;
use super::scheduler::{self, Executor, Limits, Verdict};
use super::steps::{self, Action, Observation, PairReads, PairUnmanaged, StepCx, gates};

/// One step of the preview.
#[derive(Debug, Clone)]
pub struct PreviewStep {
    pub step: Step,
    pub observation: Observation,
    /// For a blocked step: it waits (however far up) on changes this apply makes first, so it
    /// will run after them; `false` when what it waits on is a conflict, which stops it.
    pub after_changes: bool,
}

/// The whole preview, in graph order.
#[derive(Debug, Clone)]
pub struct Preview {
    pub steps: Vec<PreviewStep>,
    /// Per pair, in plan order: what its application has live that no step of the plan names
    /// (notification destinations and redirect URIs), left as it is.
    pub unmanaged: Vec<PairUnmanaged>,
}

impl Preview {
    /// What pair `pair` has live that the plan does not manage.
    pub fn unmanaged_of(&self, pair: &str) -> Option<&PairUnmanaged> {
        self.unmanaged.iter().find(|p| p.pair == pair)
    }

    /// How many live objects no step of the plan names, in every pair.
    pub fn unmanaged_count(&self) -> usize {
        self.unmanaged.iter().map(|p| p.found.len()).sum()
    }

    pub fn count(&self, action: Action) -> usize {
        self.steps
            .iter()
            .filter(|s| s.observation.action == action)
            .count()
    }

    /// Blocked steps that run once the changes before them are made: pending changes too.
    pub fn after(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.observation.action == Action::Blocked && s.after_changes)
            .count()
    }

    /// Blocked steps that wait on a conflict: they cannot run until it is resolved.
    pub fn blocked_by_conflict(&self) -> usize {
        self.count(Action::Blocked) - self.after()
    }

    /// Steps `apply` would run: creates, updates, running waves to follow, and the steps after
    /// them.
    pub fn changes(&self) -> usize {
        self.count(Action::Create)
            + self.count(Action::Update)
            + self.count(Action::Attach)
            + self.after()
    }

    /// Steps whose recorded outcome is a failure that is not retried on its own (a failed
    /// wave, a refused account): not pending, but the plan is not fully done.
    pub fn has_failures(&self) -> bool {
        self.count(Action::Failed) > 0
    }

    /// Whether `apply` would change anything.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(
                s.observation.action,
                Action::Create | Action::Update | Action::Attach | Action::Blocked
            )
        })
    }

    pub fn has_conflicts(&self) -> bool {
        self.count(Action::Conflict) > 0
    }
}

/// Observes every step; pairs are observed concurrently, the steps of a pair one at a time,
/// in dependency order.
pub async fn preview(ctx: &Context) -> Result<Preview, EngineError> {
    let pairs = ctx.graph().pairs().len();
    // A pair the run does not target (`--pair`) is not observed.
    let reads = try_join_all((0..pairs).map(|pair| async move {
        if ctx.targets_pair(pair) {
            PairReads::load(ctx, pair).await
        } else {
            Ok(PairReads::lazy(pair))
        }
    }))
    .await?;
    let executor = PlanRun { ctx, reads };
    let limits = Limits {
        permits_per_pair: 1,
        fail_fast: false,
    };
    let walked = scheduler::walk(ctx.graph(), &executor, limits, |s| ctx.targets_pair(s.pair))
        .await?
        .into_iter()
        .map(|(step, observation)| (step.clone(), observation))
        .collect();
    let steps = mark_waiting(
        walked,
        |id| {
            ctx.graph()
                .dependencies(id)
                .into_iter()
                .map(|s| s.id.clone())
                .collect()
        },
        |step| gates::gate_stops(ctx, step),
    )?;
    let unmanaged =
        futures::future::join_all((0..pairs).map(|pair| steps::unmanaged::unmanaged(ctx, pair)))
            .await;
    Ok(Preview { steps, unmanaged })
}

/// A read-only walk, as the scheduler's executor.
struct PlanRun<'a> {
    ctx: &'a Context,
    reads: Vec<PairReads>,
}

impl Executor for PlanRun<'_> {
    type Output = Observation;

    async fn run(&self, step: &Step) -> Result<Observation, EngineError> {
        let cx = StepCx {
            ctx: self.ctx,
            step,
            reads: &self.reads[step.pair],
        };
        steps::observe(&cx).await
    }

    fn skipped(&self, reason: String) -> Observation {
        Observation {
            action: Action::Blocked,
            reason,
        }
    }

    /// Gates are read after the walk: a held wave is still observed.
    fn hold(&self, _: &Step) -> Result<Option<String>, EngineError> {
        Ok(None)
    }

    /// Whatever a step would do, the steps after it are observed too.
    fn verdict(&self, _: &Observation) -> Verdict {
        Verdict {
            succeeded: true,
            lets_dependents_run: true,
            skipped: false,
            running: false,
        }
    }

    fn finished(&self, _: &Step, _: &Observation) {}

    fn outside(&self, step: &Step) -> Result<Option<String>, EngineError> {
        self.ctx.untargeted_pending(step)
    }
}

/// Marks, in graph order, what each step waits on: a step with work whose nearest earlier
/// step with work (however far up: an unchanged step in between does not make what follows
/// it ready) is a change is blocked `after` it; one behind a conflict waits on it; a wave
/// behind a held wave, or whose gate stops it (`gate`), is held.
fn mark_waiting(
    walked: Vec<(Step, Observation)>,
    dependencies: impl Fn(&StepId) -> Vec<StepId>,
    mut gate: impl FnMut(&Step) -> Result<Option<String>, EngineError>,
) -> Result<Vec<PreviewStep>, EngineError> {
    let mut steps: Vec<PreviewStep> = Vec::with_capacity(walked.len());
    let mut actions: HashMap<StepId, Action> = HashMap::new();
    // For a blocked step, whether what it waits on is a change (it runs after) or a conflict.
    let mut after_changes: HashMap<StepId, bool> = HashMap::new();
    // For each step, the nearest earlier step (however far up) that still has work.
    let mut upstream: HashMap<StepId, Option<(StepId, Action)>> = HashMap::new();
    for (step, mut observation) in walked {
        let deps = dependencies(&step.id);
        let blocker = deps.iter().find_map(|d| match actions.get(d) {
            // A recorded failure (a failed wave, a refused account) holds nothing up: what
            // follows runs, and a gate decides for the next waves.
            Some(a) if !matches!(a, Action::Unchanged | Action::Held | Action::Failed) => {
                Some((d.clone(), *a))
            }
            _ => upstream.get(d).cloned().flatten(),
        });
        let held_before = deps
            .iter()
            .find(|d| actions.get(*d) == Some(&Action::Held))
            .cloned();
        if !matches!(observation.action, Action::Unchanged | Action::Failed)
            && let Some(held) = held_before
        {
            // The waves after a held wave cannot run either.
            observation = Observation {
                action: Action::Held,
                reason: format!("waits for {held}, which a gate holds"),
            };
        } else if observation.action == Action::Create
            && let Some(reason) = gate(&step)?
        {
            observation = Observation {
                action: Action::Held,
                reason,
            };
        } else if waits_on_blocker(observation.action, blocker.as_ref().map(|(_, a)| *a))
            && let Some((dep, action)) = &blocker
        {
            let dep_after = after_changes.get(dep).copied().unwrap_or(false);
            let after;
            (observation, after) = blocked(&step.id, observation, dep, *action, dep_after);
            after_changes.insert(step.id.clone(), after);
        }
        actions.insert(step.id.clone(), observation.action);
        upstream.insert(step.id.clone(), blocker);
        let after = observation.action == Action::Blocked
            && after_changes.get(&step.id).copied().unwrap_or(false);
        steps.push(PreviewStep {
            step,
            observation,
            after_changes: after,
        });
    }
    Ok(steps)
}

/// A step with work behind `dep`, the nearest earlier step with work (its `action`;
/// `dep_after`: for a blocked `dep`, whether it runs after changes): blocked, and whether it
/// runs after `dep`'s changes (`false`: a conflict stops it).
fn blocked(
    step: &StepId,
    observation: Observation,
    dep: &StepId,
    action: Action,
    dep_after: bool,
) -> (Observation, bool) {
    let after = match action {
        Action::Conflict => false,
        Action::Blocked => dep_after,
        _ => true,
    };
    // Within a pair the blocker is named by its local ID, as the preview lists it.
    let shown = if dep.pair() == step.pair() {
        dep.local()
    } else {
        dep.as_str()
    };
    let reason = match action {
        Action::Conflict => format!(
            "waits for {shown}, which conflicts; then: {}",
            observation.reason
        ),
        _ if !after => format!(
            "waits for {shown}, which is blocked; then: {}",
            observation.reason
        ),
        _ => format!("after {shown}: {}", observation.reason),
    };
    let observation = Observation {
        action: Action::Blocked,
        reason,
    };
    (observation, after)
}

/// Whether a step with `action` shows as blocked behind an earlier step that has work
/// (`blocker`). A recorded failure holds nothing; a conflict seen now (jobs this state does not
/// know) stands whatever runs first, unless an earlier step conflicts already.
fn waits_on_blocker(action: Action, blocker: Option<Action>) -> bool {
    match action {
        Action::Unchanged | Action::Failed => false,
        Action::Conflict => blocker == Some(Action::Conflict),
        _ => blocker.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{BatchCloneRequest, PlaceholderQuery};
    use crate::graph::{BatchStep, StepKind};

    fn step(pair: &str, kind: StepKind) -> Step {
        Step {
            id: StepId::new(pair, kind.kind(), kind.subject()),
            pair: 0,
            kind,
        }
    }

    fn wave(pair: &str, name: &str) -> Step {
        step(
            pair,
            StepKind::Batch(BatchStep {
                wave: name.into(),
                index: 0,
                request: BatchCloneRequest::default(),
                placeholders: PlaceholderQuery::default(),
                gate: None,
            }),
        )
    }

    fn seen(action: Action) -> Observation {
        Observation {
            action,
            reason: "why".into(),
        }
    }

    /// Runs `mark_waiting` over a chain (each step waits for the one before; the first step of
    /// pair `q` waits for the last of `p`), with waves named in `held` stopped by their gate.
    fn marked(chain: Vec<(Step, Action)>, held: &[&str]) -> Vec<(String, &'static str, String)> {
        let ids: Vec<StepId> = chain.iter().map(|(s, _)| s.id.clone()).collect();
        let walked = chain.into_iter().map(|(s, a)| (s, seen(a))).collect();
        let out = mark_waiting(
            walked,
            |id| {
                let i = ids.iter().position(|x| x == id).unwrap();
                ids[..i].last().cloned().into_iter().collect()
            },
            |s| {
                Ok(held
                    .contains(&s.id.as_str())
                    .then(|| "gate: too many failed".to_owned()))
            },
        )
        .unwrap();
        out.into_iter()
            .map(|p| {
                let label = match p.observation.action {
                    Action::Blocked if p.after_changes => "after",
                    a => a.as_str(),
                };
                (p.step.id.to_string(), label, p.observation.reason)
            })
            .collect()
    }

    fn row(id: &str, label: &'static str, reason: &str) -> (String, &'static str, String) {
        (id.into(), label, reason.into())
    }

    #[test]
    fn a_step_behind_a_change_runs_after_it_and_one_behind_a_conflict_waits() {
        let link = || step("p", StepKind::Link);
        let import = || step("p", StepKind::Import);
        let cases = vec![
            (
                "each change waits for the nearest change before it, an unchanged step between",
                vec![
                    (link(), Action::Create),
                    (import(), Action::Unchanged),
                    (wave("p", "w1"), Action::Create),
                    (wave("p", "w2"), Action::Create),
                ],
                vec![],
                vec![
                    row("p/link", "create", "why"),
                    row("p/import", "unchanged", "why"),
                    row("p/batch/w1", "after", "after link: why"),
                    row("p/batch/w2", "after", "after batch/w1: why"),
                ],
            ),
            (
                "behind a conflict, nothing runs",
                vec![
                    (link(), Action::Conflict),
                    (import(), Action::Create),
                    (wave("p", "w1"), Action::Create),
                ],
                vec![],
                vec![
                    row("p/link", "conflict", "why"),
                    row(
                        "p/import",
                        "blocked",
                        "waits for link, which conflicts; then: why",
                    ),
                    row(
                        "p/batch/w1",
                        "blocked",
                        "waits for import, which is blocked; then: why",
                    ),
                ],
            ),
            (
                "a conflict seen now stands on its own unless a conflict comes first",
                vec![
                    (link(), Action::Create),
                    (wave("p", "w1"), Action::Conflict),
                    (wave("p", "w2"), Action::Conflict),
                ],
                vec![],
                vec![
                    row("p/link", "create", "why"),
                    row("p/batch/w1", "conflict", "why"),
                    row(
                        "p/batch/w2",
                        "blocked",
                        "waits for batch/w1, which conflicts; then: why",
                    ),
                ],
            ),
            (
                "a recorded failure holds nothing up",
                vec![
                    (wave("p", "w1"), Action::Failed),
                    (wave("p", "w2"), Action::Create),
                ],
                vec![],
                vec![
                    row("p/batch/w1", "failed", "why"),
                    row("p/batch/w2", "create", "why"),
                ],
            ),
            (
                "a gate holds a wave, and the waves after it",
                vec![
                    (wave("p", "w1"), Action::Unchanged),
                    (wave("p", "w2"), Action::Create),
                    (wave("p", "w3"), Action::Create),
                    (wave("p", "w4"), Action::Unchanged),
                ],
                vec!["p/batch/w2"],
                vec![
                    row("p/batch/w1", "unchanged", "why"),
                    row("p/batch/w2", "held", "gate: too many failed"),
                    row(
                        "p/batch/w3",
                        "held",
                        "waits for p/batch/w2, which a gate holds",
                    ),
                    row("p/batch/w4", "unchanged", "why"),
                ],
            ),
            (
                "another pair's blocker is named in full",
                vec![
                    (link(), Action::Create),
                    (step("q", StepKind::Link), Action::Create),
                ],
                vec![],
                vec![
                    row("p/link", "create", "why"),
                    row("q/link", "after", "after p/link: why"),
                ],
            ),
        ];
        for (case, chain, held, expected) in cases {
            assert_eq!(marked(chain, &held), expected, "{case}");
        }
    }
}
