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
            let what = match action {
                Action::Conflict => "which conflicts".to_owned(),
                Action::Blocked => "which is blocked".to_owned(),
                other => format!("to {}", other.as_str()),
            };
            observation = Observation {
                action: Action::Blocked,
                reason: format!("waits for {dep} ({what}); then: {}", observation.reason),
                found: observation.found,
            };
        }
        actions.insert(step.id.clone(), observation.action);
        upstream.insert(step.id.clone(), blocker);
        steps.push(PreviewStep {
            step: step.clone(),
            observation,
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
