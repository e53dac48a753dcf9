//! `plan`'s executor: the scheduler's walk with every step observed read-only, one step of a
//! pair at a time; then each step that has work but waits on an earlier step that has too is
//! marked blocked (it runs `after` that step's change, or waits on its conflict), and the
//! waves a gate stops are marked held. Beside the steps, what each pair's application has
//! live that no step names (notification destinations, redirect URIs): not managed by the
//! plan, and left as it is.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use futures::future::try_join_all;

use crate::graph::{Step, StepId};

use super::EngineError;
use super::context::Context;
pub use super::outcome::Waits;
use super::outcome::{Action, Observation};
use super::scheduler::{self, Executor, Limits, Verdict};
use super::steps::{self, PairReads, PairUnmanaged, StepCx, gates};

/// One step of the preview.
#[derive(Debug, Clone)]
pub struct PreviewStep {
    pub step: Step,
    pub observation: Observation,
    /// For a blocked step, what it waits on (however far up); `None` for any other action.
    pub waits: Option<Waits>,
}

impl PreviewStep {
    /// A blocked step that runs once this apply's changes before it are made: a pending
    /// change too (`plan` labels it `after`).
    pub fn after_changes(&self) -> bool {
        self.observation.action == Action::Blocked && self.waits == Some(Waits::Changes)
    }
}

/// The whole preview, in graph order.
#[derive(Debug, Clone)]
pub struct Preview {
    pub steps: Vec<PreviewStep>,
    /// Per targeted pair, in plan order: what its application has live that no step of the
    /// plan names (notification destinations and redirect URIs), left as it is.
    pub unmanaged: Vec<PairUnmanaged>,
    /// The pairs this run does not target (`--pair`) whose steps are not done and that
    /// targeted steps wait on, in plan order.
    pub waiting_on: Vec<String>,
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

    fn blocked_on(&self, waits: Waits) -> usize {
        self.steps
            .iter()
            .filter(|s| s.observation.action == Action::Blocked && s.waits == Some(waits))
            .count()
    }

    /// Blocked steps that run once the changes before them are made: pending changes too.
    pub fn after(&self) -> usize {
        self.blocked_on(Waits::Changes)
    }

    /// Blocked steps that wait on a conflict: they cannot run until it is resolved.
    pub fn blocked_by_conflict(&self) -> usize {
        self.blocked_on(Waits::Conflict)
    }

    /// Blocked steps that wait on pairs this run does not target ([`Preview::waiting_on`]):
    /// not changes this run can make, and the plan is not done for the targeted pairs.
    pub fn waiting(&self) -> usize {
        self.blocked_on(Waits::UntargetedPairs)
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

    /// Whether `apply` would change anything (a step waiting on a pair the run does not
    /// target is not a change it can make).
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| match s.observation.action {
            Action::Create | Action::Update | Action::Attach => true,
            Action::Blocked => s.waits != Some(Waits::UntargetedPairs),
            _ => false,
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
    let executor = PlanRun {
        ctx,
        reads,
        waiting: Mutex::default(),
    };
    let limits = Limits {
        permits_per_pair: 1,
        fail_fast: false,
    };
    let walked = scheduler::walk(ctx.graph(), &executor, limits, |s| ctx.targets_pair(s.pair))
        .await?
        .into_iter()
        .map(|(step, observation)| (step.clone(), observation))
        .collect();
    let Waiting { steps: outside, on } = executor
        .waiting
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let steps = mark_waiting(
        walked,
        &outside,
        |id| {
            ctx.graph()
                .dependencies(id)
                .into_iter()
                .map(|s| s.id.clone())
                .collect()
        },
        |step| gates::gate_stops(ctx, step),
    )?;
    // Nor is what a pair the run does not target has live: no request for it, nothing shown.
    let unmanaged = futures::future::join_all(
        (0..pairs)
            .filter(|&pair| ctx.targets_pair(pair))
            .map(|pair| steps::drift::unmanaged(ctx, pair)),
    )
    .await;
    let waiting_on = ctx
        .graph()
        .pairs()
        .iter()
        .filter(|p| on.contains(&p.name))
        .map(|p| p.name.clone())
        .collect();
    Ok(Preview {
        steps,
        unmanaged,
        waiting_on,
    })
}

/// A read-only walk, as the scheduler's executor.
struct PlanRun<'a> {
    ctx: &'a Context,
    reads: Vec<PairReads>,
    waiting: Mutex<Waiting>,
}

/// The steps the walk found waiting on pairs it does not target, and those pairs.
#[derive(Default)]
struct Waiting {
    steps: HashSet<StepId>,
    on: HashSet<String>,
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

    fn waiting(&self, step: &Step, on: &Step, reason: String) -> Observation {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.steps.insert(step.id.clone());
        waiting.on.insert(on.id.pair().to_owned());
        self.skipped(reason)
    }
}

/// Marks, in graph order, what each step waits on: a step with work whose nearest earlier
/// step with work (however far up: an unchanged step in between does not make what follows
/// it ready) is a change is blocked `after` it; one behind a conflict waits on it; one behind
/// a step that waits on pairs the run does not target (`outside`: those the walk could not
/// run for it) waits on them too; a wave behind a held wave, or whose gate stops it (`gate`),
/// is held.
fn mark_waiting(
    walked: Vec<(Step, Observation)>,
    outside: &HashSet<StepId>,
    dependencies: impl Fn(&StepId) -> Vec<StepId>,
    mut gate: impl FnMut(&Step) -> Result<Option<String>, EngineError>,
) -> Result<Vec<PreviewStep>, EngineError> {
    let mut steps: Vec<PreviewStep> = Vec::with_capacity(walked.len());
    let mut actions: HashMap<StepId, Action> = HashMap::new();
    // For a blocked step, what it waits on.
    let mut waits: HashMap<StepId, Waits> = HashMap::new();
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
        if outside.contains(&step.id) {
            // Not run: a pair the run does not target is not done (the reason says which).
            waits.insert(step.id.clone(), Waits::UntargetedPairs);
        } else if !matches!(observation.action, Action::Unchanged | Action::Failed)
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
            let on;
            (observation, on) = blocked(&step.id, observation, dep, *action, waits.get(dep));
            waits.insert(step.id.clone(), on);
        }
        actions.insert(step.id.clone(), observation.action);
        upstream.insert(step.id.clone(), blocker);
        let on = (observation.action == Action::Blocked)
            .then(|| waits.get(&step.id).copied().unwrap_or(Waits::Conflict));
        steps.push(PreviewStep {
            step,
            observation,
            waits: on,
        });
    }
    Ok(steps)
}

/// A step with work behind `dep`, the nearest earlier step with work (its `action`;
/// `dep_waits`: for a blocked `dep`, what it waits on): blocked, and what on: `dep`'s changes
/// (it runs after them), a conflict (which stops it), or pairs the run does not target.
fn blocked(
    step: &StepId,
    observation: Observation,
    dep: &StepId,
    action: Action,
    dep_waits: Option<&Waits>,
) -> (Observation, Waits) {
    let on = match action {
        Action::Conflict => Waits::Conflict,
        Action::Blocked => dep_waits.copied().unwrap_or(Waits::Conflict),
        _ => Waits::Changes,
    };
    // Within a pair the blocker is named by its local ID, as the preview lists it.
    let shown = if dep.pair() == step.pair() {
        dep.local()
    } else {
        dep.as_str()
    };
    let reason = match (action, on) {
        (Action::Conflict, _) => format!(
            "waits for {shown}, which conflicts; then: {}",
            observation.reason
        ),
        (_, Waits::UntargetedPairs) => format!(
            "waits for {shown}, which waits on a pair this run does not target; then: {}",
            observation.reason
        ),
        (_, Waits::Conflict) => format!(
            "waits for {shown}, which is blocked; then: {}",
            observation.reason
        ),
        (_, Waits::Changes) => format!("after {shown}: {}", observation.reason),
    };
    let observation = Observation {
        action: Action::Blocked,
        reason,
    };
    (observation, on)
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
            StepKind::Batch(Box::new(BatchStep {
                wave: name.into(),
                index: 0,
                request: BatchCloneRequest::default(),
                placeholders: PlaceholderQuery::default(),
                gate: None,
            })),
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
        marked_with(chain, held, &[])
    }

    /// [`marked`], with the steps in `waiting` found waiting on pairs the run does not target.
    fn marked_with(
        chain: Vec<(Step, Action)>,
        held: &[&str],
        waiting: &[&str],
    ) -> Vec<(String, &'static str, String)> {
        let outside: HashSet<StepId> = chain
            .iter()
            .filter(|(s, _)| waiting.contains(&s.id.as_str()))
            .map(|(s, _)| s.id.clone())
            .collect();
        let ids: Vec<StepId> = chain.iter().map(|(s, _)| s.id.clone()).collect();
        let walked = chain.into_iter().map(|(s, a)| (s, seen(a))).collect();
        let out = mark_waiting(
            walked,
            &outside,
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
                let label = match (p.observation.action, p.waits) {
                    (Action::Blocked, Some(Waits::Changes)) => "after",
                    (Action::Blocked, Some(Waits::UntargetedPairs)) => "waiting",
                    (a, _) => a.as_str(),
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

    #[test]
    fn what_follows_a_step_waiting_on_an_untargeted_pair_waits_on_it_too() {
        let link = || step("q", StepKind::Link);
        let import = || step("q", StepKind::Import);
        let skipped = Action::Blocked;
        assert_eq!(
            marked_with(
                vec![
                    (link(), skipped),
                    (import(), Action::Create),
                    (wave("q", "w1"), Action::Unchanged),
                    (wave("q", "w2"), Action::Create),
                ],
                &[],
                &["q/link"],
            ),
            vec![
                row("q/link", "waiting", "why"),
                row(
                    "q/import",
                    "waiting",
                    "waits for link, which waits on a pair this run does not target; then: why"
                ),
                row("q/batch/w1", "unchanged", "why"),
                row(
                    "q/batch/w2",
                    "waiting",
                    "waits for import, which waits on a pair this run does not target; then: why"
                ),
            ]
        );
        // A conflict behind the wait still reads as a conflict once the wait is over; until
        // then, what waits on it waits on the pair as well.
        assert_eq!(
            marked_with(
                vec![(link(), skipped), (wave("q", "w1"), Action::Conflict)],
                &[],
                &["q/link"],
            ),
            vec![
                row("q/link", "waiting", "why"),
                row("q/batch/w1", "conflict", "why"),
            ]
        );
    }
}
