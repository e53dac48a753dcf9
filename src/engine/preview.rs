//! The read-only walk behind `plan`: every step observed, and marked blocked when it has work
//! to do but waits on an earlier step that has too.

use std::collections::HashMap;

use futures::future::try_join_all;

use crate::graph::{Step, StepId};

use super::EngineError;
use super::context::Context;
use super::observe::{Action, Observation, grant_index, observe};
use super::walk::gate_stops;

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
}

impl Preview {
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

/// Observes every step; pairs are observed concurrently, steps of a pair in order.
pub async fn preview(ctx: &Context) -> Result<Preview, EngineError> {
    let pairs = (0..ctx.graph.pairs().len()).map(|pair| observe_pair(ctx, pair));
    let observed: HashMap<StepId, Observation> =
        try_join_all(pairs).await?.into_iter().flatten().collect();
    let mut steps: Vec<PreviewStep> = Vec::with_capacity(observed.len());
    let mut actions: HashMap<StepId, Action> = HashMap::new();
    // For a blocked step, whether what it waits on is a change (it runs after) or a conflict.
    let mut after_changes: HashMap<StepId, bool> = HashMap::new();
    // For each step, the nearest earlier step (however far up) that still has work: an
    // unchanged step in between does not make what follows it ready.
    let mut upstream: HashMap<StepId, Option<(StepId, Action)>> = HashMap::new();
    for step in ctx.graph.steps() {
        let Some(mut observation) = observed.get(&step.id).cloned() else {
            continue;
        };
        let blocker =
            ctx.graph
                .dependencies(&step.id)
                .iter()
                .find_map(|d| match actions.get(&d.id) {
                    // A recorded failure (a failed wave, a refused account) holds nothing up:
                    // what follows runs, and a gate decides for the next waves.
                    Some(a) if !matches!(a, Action::Unchanged | Action::Held | Action::Failed) => {
                        Some((d.id.clone(), *a))
                    }
                    _ => upstream.get(&d.id).cloned().flatten(),
                });
        let held_before = ctx
            .graph
            .dependencies(&step.id)
            .iter()
            .find(|d| actions.get(&d.id) == Some(&Action::Held))
            .map(|d| d.id.clone());
        if !matches!(observation.action, Action::Unchanged | Action::Failed)
            && let Some(held) = held_before
        {
            // The waves after a held wave cannot run either.
            observation = Observation {
                action: Action::Held,
                reason: format!("waits for {held}, which a gate holds"),
                found: observation.found,
            };
        } else if observation.action == Action::Create
            && let Some(reason) = gate_stops(ctx, step)?
        {
            observation = Observation {
                action: Action::Held,
                reason,
                found: observation.found,
            };
        } else if waits_on_blocker(observation.action, blocker.as_ref().map(|(_, a)| *a))
            && let Some((dep, action)) = &blocker
        {
            let after = match action {
                Action::Conflict => false,
                Action::Blocked => after_changes.get(dep).copied().unwrap_or(false),
                _ => true,
            };
            // Within a pair the blocker is named by its local ID, as the preview lists it.
            let shown = match (
                dep.as_str().split_once('/'),
                step.id.as_str().split_once('/'),
            ) {
                (Some((dep_pair, local)), Some((pair, _))) if dep_pair == pair => local,
                _ => dep.as_str(),
            };
            let reason = match action {
                Action::Conflict => {
                    format!(
                        "waits for {shown}, which conflicts; then: {}",
                        observation.reason
                    )
                }
                _ if !after => format!(
                    "waits for {shown}, stopped by a conflict; then: {}",
                    observation.reason
                ),
                _ => format!("after {shown}: {}", observation.reason),
            };
            after_changes.insert(step.id.clone(), after);
            observation = Observation {
                action: Action::Blocked,
                reason,
                found: observation.found,
            };
        }
        actions.insert(step.id.clone(), observation.action);
        upstream.insert(step.id.clone(), blocker);
        let after = observation.action == Action::Blocked
            && after_changes.get(&step.id).copied().unwrap_or(false);
        steps.push(PreviewStep {
            step: step.clone(),
            observation,
            after_changes: after,
        });
    }
    Ok(Preview { steps })
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

async fn observe_pair(
    ctx: &Context,
    pair: usize,
) -> Result<Vec<(StepId, Observation)>, EngineError> {
    let grants = grant_index(ctx, pair).await?;
    let mut out = Vec::new();
    for step in ctx.graph.steps().filter(|s| s.pair == pair) {
        out.push((step.id.clone(), observe(ctx, step, &grants).await?));
    }
    Ok(out)
}
