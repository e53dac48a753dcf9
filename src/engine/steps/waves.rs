//! Batch waves and the migration jobs they start: which listed jobs are a wave's own, which
//! finished, and which this state does not know (another runner's, the dashboard's, a lost
//! state folder's). The decisions are pure functions of the listing and the journal's
//! records, tested below; [`super::batch`] acts on them.

use std::collections::HashSet;

use crate::api::{JobStatus, JobType, MigrationJob};
use crate::graph::{BatchStep, Step, StepKind};

use super::super::EngineError;
use super::super::context::Context;
use super::super::counts::Tally;
use crate::state::journal::{JobCounts, JobOrigin, KnownJob, StepState, StepStatus};

/// The jobs one batch clone started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveJobs {
    pub snapshot_job_id: String,
    /// The migration job may not be listed yet right after the request; it is found through
    /// its link to the snapshot job.
    pub clone_job_id: Option<String>,
}

/// What the live jobs say about a wave the journal says was started or requested.
#[derive(Debug, Clone, PartialEq)]
pub enum WaveMatch {
    /// Nothing of this wave's is listed.
    None,
    /// The wave's jobs.
    One(WaveJobs),
    /// After an unanswered request, several new batch clones appeared (their snapshot jobs):
    /// another runner started one at the same time, and which is this wave's cannot be told.
    Several(Vec<String>),
}

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

/// [`wave_jobs`] with the jobs this state knows (`claimed`) given.
pub fn match_wave(
    state: &StepState,
    jobs: &[MigrationJob],
    claimed: &HashSet<String>,
) -> WaveMatch {
    if state.status == StepStatus::Running
        && let Some(snapshot) = &state.record.snapshot_job_id
    {
        return WaveMatch::One(WaveJobs {
            snapshot_job_id: snapshot.clone(),
            clone_job_id: state
                .record
                .clone_job_id
                .clone()
                .or_else(|| linked_migration_job(jobs, snapshot)),
        });
    }
    // A finished wave starts again only when asked (its old jobs stay known to this state).
    if state.status != StepStatus::Intent {
        return WaveMatch::None;
    }
    let new: Vec<&MigrationJob> = jobs
        .iter()
        .filter(|j| {
            j.job_type == JobType::Snapshot
                && !state.record.jobs_before.contains(&j.job_id)
                && !claimed.contains(&j.job_id)
        })
        .collect();
    match new.as_slice() {
        [] => WaveMatch::None,
        [snapshot] => WaveMatch::One(WaveJobs {
            snapshot_job_id: snapshot.job_id.clone(),
            clone_job_id: linked_migration_job(jobs, &snapshot.job_id),
        }),
        several => WaveMatch::Several(several.iter().map(|j| j.job_id.clone()).collect()),
    }
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

/// [`concurrent_jobs`] with the jobs this state knows (`claimed`) given.
pub fn others_since(
    before: &[String],
    ours: &WaveJobs,
    jobs: &[MigrationJob],
    claimed: &HashSet<String>,
) -> Vec<MigrationJob> {
    let linked = linked_migration_job(jobs, &ours.snapshot_job_id);
    let ours_ids = [
        Some(&ours.snapshot_job_id),
        ours.clone_job_id.as_ref(),
        linked.as_ref(),
    ];
    jobs.iter()
        .filter(|j| {
            !before.contains(&j.job_id)
                && !claimed.contains(&j.job_id)
                && !ours_ids.contains(&Some(&j.job_id))
                && j.linked_job_id.as_deref() != Some(ours.snapshot_job_id.as_str())
        })
        .cloned()
        .collect()
}

/// The migration job linked to a snapshot job (the link may be recorded on either job).
pub fn linked_migration_job(jobs: &[MigrationJob], snapshot_id: &str) -> Option<String> {
    let snapshot = jobs.iter().find(|j| j.job_id == snapshot_id);
    jobs.iter()
        .find(|j| {
            j.job_type == JobType::Migration
                && (j.linked_job_id.as_deref() == Some(snapshot_id)
                    || snapshot
                        .is_some_and(|s| s.linked_job_id.as_deref() == Some(j.job_id.as_str())))
        })
        .map(|j| j.job_id.clone())
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

/// Waves of a pair, in plan order: each step and its settings.
pub type Waves<'c> = Vec<(&'c Step, &'c BatchStep)>;

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
            waves.push((step, b));
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

/// The adoption in words: `batch clone job m1 completed: … as wave `first`'s (the wave is then
/// done: it starts again only with `--rerun-wave solo/first`), and 2 jobs as history`.
pub fn describe_adoption(waves: &[(&Step, &BatchStep)], adoption: &Adoption) -> String {
    let mut parts: Vec<String> = adoption
        .waves
        .iter()
        .map(|(w, batch)| {
            let (step, b) = waves[*w];
            let running = batch
                .migration
                .as_ref()
                .is_none_or(|m| !m.status.is_finished());
            format!(
                "{} as wave `{}`'s ({}; it starts again only with `--rerun-wave {}`)",
                batch.describe(),
                b.wave,
                if running {
                    "followed until it ends, nothing started"
                } else {
                    "the wave is done, nothing started"
                },
                step.id.as_str().replace("/batch/", "/")
            )
        })
        .collect();
    if !adoption.history.is_empty() {
        parts.push(format!(
            "{} as history (no wave's: counted by the report, claimed by no wave)",
            describe_jobs(&adoption.history)
        ));
    }
    if parts.is_empty() {
        return "nothing".into();
    }
    let fitted = adoption.waves.len();
    let rest = waves.len().saturating_sub(fitted);
    let mut text = parts.join("; ");
    if rest > 0 {
        text.push_str(&format!(
            "; {rest} wave{} no batch clone fits {} never run, and start{} as the plan says",
            if rest == 1 { "" } else { "s" },
            if rest == 1 { "has" } else { "have" },
            if rest == 1 { "s" } else { "" },
        ));
    }
    text
}

/// [`live_jobs_conflict`] with the journal's jobs given: `known` as recorded, `claimed` their
/// IDs.
pub fn jobs_conflict(
    known: &[KnownJob],
    claimed: &HashSet<String>,
    jobs: &[MigrationJob],
    adopt: bool,
    adopt_command: &str,
) -> Option<String> {
    // This plan's own waves run one after another: a job one of them started is followed by
    // that wave (and the walk starts this one only after it). Any other unfinished job would
    // run over the same accounts as this wave.
    let started_here = |id: &str| {
        known
            .iter()
            .any(|k| k.job_id == id && k.origin == JobOrigin::Wave)
    };
    if let Some(job) = jobs
        .iter()
        .find(|j| !j.status.is_finished() && !started_here(&j.job_id))
    {
        let whose = if known.iter().any(|k| k.job_id == job.job_id) {
            "was adopted by this state folder, not started by it"
        } else {
            "was not started from this state folder"
        };
        return Some(format!(
            "{} job {} is {} on this application and {whose}; wait for it to finish, or run from the state folder that started it",
            job.job_type, job.job_id, job.status
        ));
    }
    let unknown: Vec<MigrationJob> = jobs
        .iter()
        .filter(|j| !claimed.contains(&j.job_id))
        .cloned()
        .collect();
    if unknown.is_empty() || adopt {
        return None;
    }
    Some(format!(
        "this state folder does not know the application's {}. This state is likely new or not the one that ran this plan (a lost CI cache, another machine, the dashboard), and starting the wave could migrate accounts the plan never asked for: restore the state folder that ran the plan, or, to move on, {adopt_command}",
        describe_jobs(&unknown)
    ))
}

/// `2 batch clones (4 jobs): job a partial: 41 of 60 migrated, …; job b …`: each batch clone
/// by its migration job's counts, at most five, snapshot jobs folded into theirs.
pub fn describe_jobs(jobs: &[MigrationJob]) -> String {
    let migrations: Vec<&MigrationJob> = jobs
        .iter()
        .filter(|j| j.job_type == JobType::Migration)
        .collect();
    // Snapshot jobs whose migration job is not among them (a failed snapshot, or a listing
    // taken between the two).
    let lone_snapshots: Vec<&MigrationJob> = jobs
        .iter()
        .filter(|j| {
            j.job_type == JobType::Snapshot
                && !migrations.iter().any(|m| {
                    m.linked_job_id.as_deref() == Some(j.job_id.as_str())
                        || j.linked_job_id.as_deref() == Some(m.job_id.as_str())
                })
        })
        .collect();
    let batches = migrations.len() + lone_snapshots.len();
    let mut parts: Vec<String> = migrations
        .iter()
        .map(|j| job_summary(j))
        .chain(
            lone_snapshots
                .iter()
                .map(|j| format!("snapshot job {} {}", j.job_id, j.status)),
        )
        .collect();
    const SHOWN: usize = 5;
    if parts.len() > SHOWN {
        let more = parts.len() - SHOWN;
        parts.truncate(SHOWN);
        parts.push(format!("and {more} more"));
    }
    format!(
        "{batches} batch clone{} ({} job{}): {}",
        if batches == 1 { "" } else { "s" },
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" },
        parts.join("; ")
    )
}

/// `job m1 partial: 41 of 60 migrated, 0 placeholders, 19 failed`.
pub fn job_summary(job: &MigrationJob) -> String {
    format!(
        "job {} {}: {}",
        job.job_id,
        job.status,
        Tally::from(job).of_all()
    )
}

/// Nylas's `limit` of a batch clone when the request gives none.
pub const DEFAULT_BATCH_LIMIT: u64 = 1000;

/// One batch clone found on the application (a snapshot job and, once listed, its migration
/// job), as `--adopt-existing-jobs` may record it as one wave's.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundBatch {
    pub snapshot: MigrationJob,
    pub migration: Option<MigrationJob>,
}

impl FoundBatch {
    /// The jobs, as a wave records them.
    pub fn jobs(&self) -> WaveJobs {
        WaveJobs {
            snapshot_job_id: self.snapshot.job_id.clone(),
            clone_job_id: self.migration.as_ref().map(|m| m.job_id.clone()),
        }
    }

    /// `batch clone of job m1 (completed: 20 of 20 migrated, …)`.
    pub fn describe(&self) -> String {
        match &self.migration {
            Some(m) => format!("batch clone {}", job_summary(m)),
            None => format!(
                "batch clone of snapshot job {} ({})",
                self.snapshot.job_id, self.snapshot.status
            ),
        }
    }
}

/// What `--adopt-existing-jobs` does with the jobs a state does not know: the batch clones it
/// records as waves' own (each wave done, or followed while its job runs, and not started
/// again), and the jobs it records as history only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Adoption {
    /// (position in the waves given to [`propose_adoption`], the batch clone it ran).
    pub waves: Vec<(usize, FoundBatch)>,
    /// Every other job: history, counted by the report, claimed by no wave.
    pub history: Vec<MigrationJob>,
}

/// The mapping `plan` proposes and `apply --adopt-existing-jobs` records: Nylas's job object
/// carries no wave parameters, so the batch clones this state does not know (`jobs`), in the
/// order they were created, are matched against the waves this state has no record of (their
/// `limits`, in plan order; `None`: Nylas's default), one after the other: a batch clone whose
/// migration job selected no more accounts than its wave's limit is that wave's; one that does
/// not fit (more accounts, or no migration job listed) is history, and the wave waits for the
/// next batch clone. Batch clones beyond the last wave are history; waves no batch clone fits
/// have, as far as the application shows, never run.
///
/// Creation order is `created_at` (seconds), then the migration job's `updated_at` (a plan's
/// waves run one after another, so an earlier wave's job ended before the next began), then
/// the listing's order read as newest first (as Nylas and the simulator list jobs; the
/// contract does not say): only batch clones started within the same second tie that far.
pub fn propose_adoption(limits: &[Option<u64>], jobs: &[MigrationJob]) -> Adoption {
    let migration_of = |snapshot: &MigrationJob| {
        linked_migration_job(jobs, &snapshot.job_id)
            .and_then(|id| jobs.iter().find(|j| j.job_id == id))
    };
    let mut snapshots: Vec<(usize, &MigrationJob)> = jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| j.job_type == JobType::Snapshot)
        .collect();
    snapshots.sort_by_key(|(listed, s)| {
        (
            s.created_at,
            migration_of(s).map_or(i64::MAX, |m| m.updated_at),
            std::cmp::Reverse(*listed),
        )
    });
    let mut adoption = Adoption::default();
    let mut claimed: HashSet<&str> = HashSet::new();
    let mut next = 0;
    for (_, snapshot) in snapshots {
        let migration = migration_of(snapshot);
        let fits = |limit: Option<u64>| {
            migration.is_some_and(|m| m.count_all <= limit.unwrap_or(DEFAULT_BATCH_LIMIT))
        };
        if next < limits.len() && fits(limits[next]) {
            claimed.insert(&snapshot.job_id);
            if let Some(m) = migration {
                claimed.insert(&m.job_id);
            }
            adoption.waves.push((
                next,
                FoundBatch {
                    snapshot: snapshot.clone(),
                    migration: migration.cloned(),
                },
            ));
            next += 1;
        }
    }
    adoption.history = jobs
        .iter()
        .filter(|j| !claimed.contains(j.job_id.as_str()))
        .cloned()
        .collect();
    adoption
}

/// How a wave ended, as the journal recorded it once its jobs finished.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedWave {
    /// Completed, partial or failed.
    pub status: JobStatus,
    pub counts: Option<JobCounts>,
    pub run_id: i64,
}

impl FinishedWave {
    /// The share of the wave's accounts that failed, as its pair's gate reads it. A `failed`
    /// job (none migrated, or its snapshot failed) is the worst case, 1, whatever its counts.
    pub fn failed_ratio(&self) -> Option<f64> {
        if self.status == JobStatus::Failed {
            return Some(1.0);
        }
        let counts = self.counts?;
        (counts.all > 0).then(|| counts.failed as f64 / counts.all as f64)
    }

    /// `run 3 (partial): 41 of 60 migrated, 0 placeholders, 19 failed`.
    pub fn describe(&self) -> String {
        match self.counts {
            Some(c) => format!(
                "run {} ({}): {}",
                self.run_id,
                self.status,
                Tally::from(c).of_all()
            ),
            None => format!("run {} ({}): no counts", self.run_id, self.status),
        }
    }
}

/// The wave's outcome if its jobs finished: a `done` record (completed or partial), or a
/// `failed` one whose job ended `failed`. A wave whose request was refused, or whose jobs are
/// still unknown or running, has not finished.
pub fn finished_wave(state: &StepState) -> Option<FinishedWave> {
    let status = state.record.job_status.filter(|s| s.is_finished());
    let status = match state.status {
        StepStatus::Done => status.unwrap_or(JobStatus::Completed),
        StepStatus::Failed
            if status == Some(JobStatus::Failed) && state.record.snapshot_job_id.is_some() =>
        {
            JobStatus::Failed
        }
        _ => return None,
    };
    Some(FinishedWave {
        status,
        counts: state.record.counts,
        run_id: state.run_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::journal::StepRecord;

    fn job(id: &str, job_type: JobType, status: JobStatus, linked: Option<&str>) -> MigrationJob {
        MigrationJob {
            job_id: id.into(),
            job_type,
            public_application_id: "app".into(),
            status,
            count_all: 10,
            count_success: 7,
            count_failed: 2,
            count_warning: 1,
            created_at: 0,
            updated_at: 0,
            linked_job_id: linked.map(str::to_owned),
        }
    }

    fn snapshot(id: &str, linked: Option<&str>) -> MigrationJob {
        job(id, JobType::Snapshot, JobStatus::Completed, linked)
    }

    fn migration(id: &str, status: JobStatus, linked: Option<&str>) -> MigrationJob {
        job(id, JobType::Migration, status, linked)
    }

    fn state(status: StepStatus, record: StepRecord) -> StepState {
        StepState {
            status,
            record,
            run_id: 1,
            updated_at: 0,
        }
    }

    fn ids(list: &[&str]) -> HashSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn one(snapshot: &str, clone: Option<&str>) -> WaveMatch {
        WaveMatch::One(WaveJobs {
            snapshot_job_id: snapshot.into(),
            clone_job_id: clone.map(str::to_owned),
        })
    }

    #[test]
    fn a_wave_is_matched_to_its_jobs() {
        let intent = |before: &[&str]| StepRecord {
            jobs_before: before.iter().map(|s| s.to_string()).collect(),
            ..StepRecord::default()
        };
        let running = StepRecord {
            snapshot_job_id: Some("s1".into()),
            ..StepRecord::default()
        };
        let listed = vec![
            snapshot("s0", None),
            migration("m0", JobStatus::Completed, Some("s0")),
            snapshot("s1", None),
            migration("m1", JobStatus::Running, Some("s1")),
        ];
        let cases = vec![
            (
                "running: the recorded snapshot, its migration found by its link",
                state(StepStatus::Running, running.clone()),
                listed.clone(),
                ids(&[]),
                one("s1", Some("m1")),
            ),
            (
                "running: the migration job not listed yet",
                state(StepStatus::Running, running.clone()),
                vec![snapshot("s1", None)],
                ids(&[]),
                one("s1", None),
            ),
            (
                "running: the link recorded on the snapshot job instead",
                state(StepStatus::Running, running),
                vec![
                    snapshot("s1", Some("m9")),
                    migration("m9", JobStatus::Pending, None),
                ],
                ids(&[]),
                one("s1", Some("m9")),
            ),
            (
                "intent: the one snapshot job that was not there before",
                state(StepStatus::Intent, intent(&["s0", "m0"])),
                listed.clone(),
                ids(&[]),
                one("s1", Some("m1")),
            ),
            (
                "intent: nothing new yet",
                state(StepStatus::Intent, intent(&["s0", "m0", "s1", "m1"])),
                listed.clone(),
                ids(&[]),
                WaveMatch::None,
            ),
            (
                "intent: a new job this state knows is another wave's",
                state(StepStatus::Intent, intent(&["s0", "m0"])),
                listed.clone(),
                ids(&["s1", "m1"]),
                WaveMatch::None,
            ),
            (
                "intent: two new batch clones, which is this one's cannot be told",
                state(StepStatus::Intent, intent(&[])),
                listed.clone(),
                ids(&[]),
                WaveMatch::Several(vec!["s0".into(), "s1".into()]),
            ),
            (
                "done: a finished wave does not claim new jobs",
                state(StepStatus::Done, intent(&[])),
                listed.clone(),
                ids(&[]),
                WaveMatch::None,
            ),
            (
                "failed: a refused request does not claim new jobs",
                state(StepStatus::Failed, intent(&[])),
                listed,
                ids(&[]),
                WaveMatch::None,
            ),
        ];
        for (case, state, jobs, claimed, expected) in cases {
            assert_eq!(match_wave(&state, &jobs, &claimed), expected, "{case}");
        }
    }

    #[test]
    fn jobs_that_appeared_with_this_waves_are_another_runners() {
        let ours = WaveJobs {
            snapshot_job_id: "s1".into(),
            clone_job_id: None,
        };
        let jobs = vec![
            snapshot("s0", None),
            snapshot("s1", None),
            migration("m1", JobStatus::Running, Some("s1")),
            snapshot("s2", None),
            migration("m2", JobStatus::Running, Some("s2")),
        ];
        let others: Vec<String> = others_since(&["s0".into()], &ours, &jobs, &ids(&[]))
            .into_iter()
            .map(|j| j.job_id)
            .collect();
        assert_eq!(others, ["s2", "m2"]);
        assert!(others_since(&["s0".into()], &ours, &jobs, &ids(&["s2", "m2"])).is_empty());
        assert!(others_since(&["s0".into()], &ours, &jobs[..3], &ids(&[])).is_empty());
    }

    #[test]
    fn live_jobs_that_stop_a_wave() {
        let known = |id: &str, origin: JobOrigin| KnownJob {
            job_id: id.into(),
            app_id: None,
            step_id: None,
            job_type: None,
            linked_job_id: None,
            origin,
            run_id: 1,
            status: None,
            counts: None,
        };
        let running = migration("m1", JobStatus::Running, None);
        let done = migration("m2", JobStatus::Completed, None);
        let cases = vec![
            ("no job at all", vec![], vec![], false, None),
            (
                "a running job this state started",
                vec![known("m1", JobOrigin::Wave)],
                vec![running.clone()],
                false,
                None,
            ),
            (
                "a running job nobody here started",
                vec![],
                vec![running.clone()],
                true,
                Some("was not started from this state folder"),
            ),
            (
                "a running job that was adopted",
                vec![known("m1", JobOrigin::Adopted)],
                vec![running],
                true,
                Some("was adopted by this state folder, not started by it"),
            ),
            (
                "a finished job this state does not know",
                vec![],
                vec![done.clone()],
                false,
                Some(
                    "does not know the application's 1 batch clone (1 job): job m2 completed: 7 of 10 migrated, 1 placeholder, 2 failed. This state is likely new or not the one that ran this plan (a lost CI cache, another machine, the dashboard), and starting the wave could migrate accounts the plan never asked for: restore the state folder that ran the plan, or, to move on, run `adopt`",
                ),
            ),
            (
                "the same, with --adopt-existing-jobs",
                vec![],
                vec![done.clone()],
                true,
                None,
            ),
            (
                "a finished job this state knows",
                vec![known("m2", JobOrigin::Adopted)],
                vec![done],
                false,
                None,
            ),
        ];
        for (case, known, jobs, adopt, expected) in cases {
            let claimed: HashSet<String> = known.iter().map(|k| k.job_id.clone()).collect();
            let conflict = jobs_conflict(&known, &claimed, &jobs, adopt, "run `adopt`");
            match expected {
                None => assert_eq!(conflict, None, "{case}"),
                Some(words) => assert!(
                    conflict.as_deref().is_some_and(|c| c.contains(words)),
                    "{case}: {conflict:?}"
                ),
            }
        }
    }

    #[test]
    fn a_wave_finishes_once_its_jobs_do() {
        let record = |status: Option<JobStatus>, snapshot: bool| StepRecord {
            job_status: status,
            snapshot_job_id: snapshot.then(|| "s1".to_owned()),
            ..StepRecord::default()
        };
        for (status, record, expected) in [
            (
                StepStatus::Done,
                record(Some(JobStatus::Partial), true),
                Some(JobStatus::Partial),
            ),
            (
                StepStatus::Done,
                record(None, false),
                Some(JobStatus::Completed),
            ),
            (
                StepStatus::Failed,
                record(Some(JobStatus::Failed), true),
                Some(JobStatus::Failed),
            ),
            // A refused request: no job ever ran.
            (
                StepStatus::Failed,
                record(Some(JobStatus::Failed), false),
                None,
            ),
            (StepStatus::Failed, record(None, false), None),
            (
                StepStatus::Running,
                record(Some(JobStatus::Running), true),
                None,
            ),
            (StepStatus::Intent, record(None, false), None),
        ] {
            assert_eq!(
                finished_wave(&state(status, record.clone())).map(|w| w.status),
                expected,
                "{status} {record:?}"
            );
        }
        let failed = FinishedWave {
            status: JobStatus::Failed,
            counts: None,
            run_id: 2,
        };
        assert_eq!(failed.failed_ratio(), Some(1.0));
        assert_eq!(failed.describe(), "run 2 (failed): no counts");
        let partial = FinishedWave {
            status: JobStatus::Partial,
            counts: Some(JobCounts {
                all: 60,
                success: 41,
                failed: 18,
                warning: 1,
            }),
            run_id: 3,
        };
        assert_eq!(partial.failed_ratio(), Some(0.3));
        assert_eq!(
            partial.describe(),
            "run 3 (partial): 41 of 60 migrated, 1 placeholder, 18 failed"
        );
    }

    #[test]
    fn adopted_batch_clones_are_matched_to_waves_in_order_within_their_limits() {
        let at = |mut j: MigrationJob, created: i64, all: u64| {
            j.created_at = created;
            j.count_all = all;
            j
        };
        // Batch clone n: snapshot sn created at n, migration mn selecting `all` accounts.
        let batch = |n: i64, all: u64| {
            vec![
                at(snapshot(&format!("s{n}"), None), n, 0),
                at(
                    migration(
                        &format!("m{n}"),
                        JobStatus::Completed,
                        Some(&format!("s{n}")),
                    ),
                    n,
                    all,
                ),
            ]
        };
        let mapped = |adoption: &Adoption| -> Vec<(usize, String)> {
            adoption
                .waves
                .iter()
                .map(|(w, b)| (*w, b.jobs().clone_job_id.unwrap_or_default()))
                .collect()
        };
        let history = |adoption: &Adoption| -> Vec<String> {
            adoption.history.iter().map(|j| j.job_id.clone()).collect()
        };
        // (case, the waves' limits, the jobs, (wave, migration job) adopted, history).
        type Case<'a> = (
            &'a str,
            Vec<Option<u64>>,
            Vec<MigrationJob>,
            Vec<(usize, &'a str)>,
            Vec<&'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                "two waves of 20 and their two jobs, listed newest first",
                vec![Some(20), Some(20)],
                [batch(2, 20), batch(1, 20)].concat(),
                vec![(0, "m1"), (1, "m2")],
                vec![],
            ),
            (
                "a third batch clone fits no wave: history",
                vec![Some(20), Some(20)],
                [batch(1, 20), batch(2, 20), batch(3, 20)].concat(),
                vec![(0, "m1"), (1, "m2")],
                vec!["s3", "m3"],
            ),
            (
                "a job over its wave's limit is history, and the wave takes the next one",
                vec![Some(20), Some(20)],
                [batch(1, 500), batch(2, 20)].concat(),
                vec![(0, "m2")],
                vec!["s1", "m1"],
            ),
            (
                "no limit: Nylas's default of 1000",
                vec![None],
                [batch(1, 1000), batch(2, 1001)].concat(),
                vec![(0, "m1")],
                vec!["s2", "m2"],
            ),
            (
                "fewer jobs than waves: the later waves have not run",
                vec![Some(20), Some(20), Some(20)],
                batch(1, 20),
                vec![(0, "m1")],
                vec![],
            ),
            (
                "a snapshot without its migration job is history",
                vec![Some(20)],
                vec![at(snapshot("s1", None), 1, 0)],
                vec![],
                vec!["s1"],
            ),
            (
                "no wave to adopt into: all history",
                vec![],
                batch(1, 20),
                vec![],
                vec!["s1", "m1"],
            ),
        ];
        for (case, limits, jobs, waves, rest) in cases {
            let adoption = propose_adoption(&limits, &jobs);
            let waves: Vec<(usize, String)> =
                waves.into_iter().map(|(w, m)| (w, m.to_owned())).collect();
            assert_eq!(mapped(&adoption), waves, "{case}");
            let mut got = history(&adoption);
            got.sort();
            let mut rest: Vec<String> = rest.into_iter().map(str::to_owned).collect();
            rest.sort();
            assert_eq!(got, rest, "{case}");
        }
    }

    #[test]
    fn jobs_are_described_by_batch_clone() {
        let jobs = vec![
            snapshot("s1", None),
            migration("m1", JobStatus::Partial, Some("s1")),
            job("s2", JobType::Snapshot, JobStatus::Failed, None),
        ];
        assert_eq!(
            describe_jobs(&jobs),
            "2 batch clones (3 jobs): job m1 partial: 7 of 10 migrated, 1 placeholder, 2 failed; snapshot job s2 failed"
        );
        let many: Vec<MigrationJob> = (0..7)
            .map(|i| migration(&format!("m{i}"), JobStatus::Completed, None))
            .collect();
        assert!(
            describe_jobs(&many).ends_with("and 2 more"),
            "{}",
            describe_jobs(&many)
        );
    }
}
