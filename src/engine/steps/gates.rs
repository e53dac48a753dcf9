//! Gates between waves: a pair's wave after the first runs only if the waves before it failed
//! for no more of their accounts than the pair's `gate` allows. `apply` asks before starting a
//! wave (a held wave is skipped, and the waves after it); `plan` shows such a wave as `held`.

use crate::api::JobStatus;
use crate::graph::{Step, StepKind};
use crate::plan::Gate;

use super::waves::{FinishedWave, finished_wave};
use crate::engine::EngineError;
use crate::engine::context::Context;
use crate::state::journal::StepStatus;

/// Why the pair's gate stops `step` (a wave), or `None` when it may run.
pub fn gate_stops(ctx: &Context, step: &Step) -> Result<Option<String>, EngineError> {
    let StepKind::Batch(batch) = &step.kind else {
        return Ok(None);
    };
    let (Some(gate), Some(journal)) = (batch.gate, ctx.journal()) else {
        return Ok(None);
    };
    // A wave whose jobs are already under way is followed whatever the gate says now.
    if journal
        .step(&step.id)?
        .is_some_and(|s| matches!(s.status, StepStatus::Intent | StepStatus::Running))
    {
        return Ok(None);
    }
    for previous in ctx.graph().dependencies(&step.id) {
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
        if let Some(reason) = gate_verdict(&gate, &prev.wave, &finished) {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}

/// Whether a finished wave (`wave`) stops the next ones behind `gate`, and why.
pub fn gate_verdict(gate: &Gate, wave: &str, finished: &FinishedWave) -> Option<String> {
    let ratio = finished.failed_ratio()?;
    if ratio <= gate.max_failed_ratio {
        return None;
    }
    let counts = finished.counts.unwrap_or_default();
    Some(if finished.status == JobStatus::Failed {
        format!(
            "gate: wave `{wave}` ended `failed` ({} of its {} accounts reported failed; a failed job is the worst case, 100%), above the gate's {:.1}%",
            counts.failed,
            counts.all,
            gate.max_failed_ratio * 100.0
        )
    } else {
        format!(
            "gate: wave `{wave}` failed for {:.1}% of its {} accounts ({} failed), above the gate's {:.1}%",
            ratio * 100.0,
            counts.all,
            counts.failed,
            gate.max_failed_ratio * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::journal::JobCounts;

    fn wave(status: JobStatus, all: u64, failed: u64) -> FinishedWave {
        FinishedWave {
            status,
            counts: (all > 0).then_some(JobCounts {
                all,
                success: all - failed,
                failed,
                warning: 0,
            }),
            run_id: 1,
        }
    }

    #[test]
    fn a_gate_holds_the_next_wave_above_its_ratio() {
        let gate = |max_failed_ratio| Gate { max_failed_ratio };
        for (max, finished, expected) in [
            (0.05, wave(JobStatus::Completed, 100, 0), None),
            // At the ratio is within it; above it is not.
            (0.05, wave(JobStatus::Partial, 100, 5), None),
            (
                0.05,
                wave(JobStatus::Partial, 100, 6),
                Some(
                    "gate: wave `w` failed for 6.0% of its 100 accounts (6 failed), above the gate's 5.0%",
                ),
            ),
            // No counts: nothing to read, nothing held.
            (0.0, wave(JobStatus::Completed, 0, 0), None),
            // A failed job is the worst case, whatever its counts.
            (
                0.99,
                wave(JobStatus::Failed, 10, 1),
                Some(
                    "gate: wave `w` ended `failed` (1 of its 10 accounts reported failed; a failed job is the worst case, 100%), above the gate's 99.0%",
                ),
            ),
            (
                0.5,
                wave(JobStatus::Failed, 0, 0),
                Some(
                    "gate: wave `w` ended `failed` (0 of its 0 accounts reported failed; a failed job is the worst case, 100%), above the gate's 50.0%",
                ),
            ),
            (1.0, wave(JobStatus::Failed, 10, 10), None),
        ] {
            assert_eq!(
                gate_verdict(&gate(max), "w", &finished).as_deref(),
                expected,
                "{max} {finished:?}"
            );
        }
    }
}
