//! `--adopt-existing-jobs`: the batch clones on an application that this state does not know,
//! matched to the waves it has no record of (a pure function, tested below), and the mapping in
//! words for `plan` and the conflict that names the command.

use std::collections::HashSet;

use crate::api::{JobType, MigrationJob};
use crate::graph::{BatchStep, Step};

use super::waves::{WaveJobs, describe_jobs, job_summary, linked_migration_job};

/// Waves of a pair, in plan order: each step and its settings.
pub type Waves<'c> = Vec<(&'c Step, &'c BatchStep)>;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::JobStatus;
    use crate::engine::steps::waves::tests::{migration, snapshot};

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
}
