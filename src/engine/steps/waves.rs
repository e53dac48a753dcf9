//! Batch waves and the migration jobs they start: which listed jobs are a wave's own, which
//! finished, and which this state does not know (another runner's, the dashboard's, a lost
//! state folder's). The decisions are pure functions of the listing and the journal's
//! records, tested below; the batch kind acts on them, reading the journal through
//! `wave_reads`.

use std::collections::HashSet;

use crate::api::{JobStatus, JobType, MigrationJob};

use crate::engine::counts::Tally;
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

/// `wave_reads::wave_jobs` with the jobs this state knows (`claimed`) given.
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

/// `wave_reads::concurrent_jobs` with the jobs this state knows (`claimed`) given.
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

/// `wave_reads::live_jobs_conflict` with the journal's jobs given: `known` as recorded, `claimed` their
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
pub(super) mod tests {
    use super::*;
    use crate::state::journal::StepRecord;

    /// A job as Nylas lists it (shared with `adoption.rs`'s tests).
    pub(in crate::engine::steps) fn job(
        id: &str,
        job_type: JobType,
        status: JobStatus,
        linked: Option<&str>,
    ) -> MigrationJob {
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

    pub(in crate::engine::steps) fn snapshot(id: &str, linked: Option<&str>) -> MigrationJob {
        job(id, JobType::Snapshot, JobStatus::Completed, linked)
    }

    pub(in crate::engine::steps) fn migration(
        id: &str,
        status: JobStatus,
        linked: Option<&str>,
    ) -> MigrationJob {
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
