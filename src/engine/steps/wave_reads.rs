//! What the batch kind reads of the journal to take its decisions about a wave's jobs (the
//! decisions themselves are pure functions of the listing and the records, in `waves`): the
//! jobs this state knows, and the waves it has no record of.

use std::collections::HashSet;

use crate::api::MigrationJob;
use crate::engine::EngineError;
use crate::engine::context::Context;
use crate::graph::StepKind;
use crate::state::journal::{StepState, StepStatus};

use super::adoption::{Adoption, Waves, describe_adoption, propose_adoption};
use super::waves::{WaveJobs, WaveMatch, jobs_conflict, match_wave, others_since};

/// The jobs of a wave the journal says was started, or whose request may have been sent (an
/// intent left open by a crash or an unanswered request): the recorded job IDs, else the one
/// snapshot job that did not exist before the request and that this state does not know, with
/// its migration job if it is listed yet.
pub fn wave_jobs(
    ctx: &Context,
    state: &StepState,
    jobs: &[MigrationJob],
) -> Result<WaveMatch, EngineError> {
    // The journal's known jobs matter only for a request whose answer was lost.
    let claimed = match ctx.journal() {
        Some(j) if state.status == StepStatus::Intent => j.claimed_jobs()?,
        _ => HashSet::new(),
    };
    Ok(match_wave(state, jobs, &claimed))
}

/// Jobs that appeared after this wave's request (not in `before`, not known to this state) and
/// are not this wave's own: another runner's, started at the same time.
pub fn concurrent_jobs(
    ctx: &Context,
    before: &[String],
    ours: &WaveJobs,
    jobs: &[MigrationJob],
) -> Result<Vec<MigrationJob>, EngineError> {
    let claimed = match ctx.journal() {
        Some(j) => j.claimed_jobs()?,
        None => Default::default(),
    };
    Ok(others_since(before, ours, jobs, &claimed))
}

/// Jobs on the application that this state does not know: not started by any of its waves,
/// and not adopted.
pub fn unknown_jobs(
    ctx: &Context,
    jobs: &[MigrationJob],
) -> Result<Vec<MigrationJob>, EngineError> {
    let claimed = match ctx.journal() {
        Some(j) => j.claimed_jobs()?,
        None => Default::default(),
    };
    Ok(jobs
        .iter()
        .filter(|j| !claimed.contains(&j.job_id))
        .cloned()
        .collect())
}

/// Before a wave starts: the live jobs that make starting it unsafe, as a conflict's reason.
/// A pending or running job (this wave's own are attached to before this is asked) would run
/// over the same accounts; a finished job this state does not know means this state is not
/// the one that ran the plan (a lost or different state folder), and the wave could migrate
/// accounts the plan never asked for, unless `--adopt-existing-jobs` records them as history
/// first.
pub fn live_jobs_conflict(
    ctx: &Context,
    pair: usize,
    jobs: &[MigrationJob],
) -> Result<Option<String>, EngineError> {
    let (known, claimed) = match ctx.journal() {
        Some(j) => (j.known_jobs()?, j.claimed_jobs()?),
        None => Default::default(),
    };
    let (waves, adoption) = pair_adoption(ctx, pair, jobs)?;
    let adopt = format!(
        "run `{}`: it records {}, then applies the rest of the plan",
        ctx.options().apply_command("--adopt-existing-jobs"),
        describe_adoption(&waves, &adoption)
    );
    Ok(jobs_conflict(
        &known,
        &claimed,
        jobs,
        ctx.options().adopt_existing_jobs,
        &adopt,
    ))
}

/// The waves of pair `pair` this state has no record of, in plan order: those
/// `--adopt-existing-jobs` may record batch clones it finds as.
pub fn unrecorded_waves(ctx: &Context, pair: usize) -> Result<Waves<'_>, EngineError> {
    let mut waves = Vec::new();
    for step in ctx.graph().steps().filter(|s| s.pair == pair) {
        let StepKind::Batch(b) = &step.kind else {
            continue;
        };
        let recorded = match ctx.journal() {
            Some(j) => j.step(&step.id)?.is_some(),
            None => false,
        };
        if !recorded {
            waves.push((step, &**b));
        }
    }
    Ok(waves)
}

/// What `--adopt-existing-jobs` does with the application's `jobs` ([`propose_adoption`] over
/// the jobs this state does not know and the pair's waves it has no record of), with those
/// waves.
pub fn pair_adoption<'c>(
    ctx: &'c Context,
    pair: usize,
    jobs: &[MigrationJob],
) -> Result<(Waves<'c>, Adoption), EngineError> {
    let unknown = unknown_jobs(ctx, jobs)?;
    let waves = unrecorded_waves(ctx, pair)?;
    let limits: Vec<Option<u64>> = waves.iter().map(|(_, b)| b.request.limit).collect();
    let adoption = propose_adoption(&limits, &unknown);
    Ok((waves, adoption))
}
