//! Batch clones: a snapshot job, then a migration job linked to it, advancing against the
//! simulated clock. The snapshot waits `snapshot_pending`, runs `snapshot_running`, completes;
//! the migration job is pending until then, runs at `accounts_per_second`, and ends completed
//! (every account migrated), partial (some failed or became placeholders) or failed (all
//! failed). Accounts are processed lazily: whenever state is read, `tick` catches every active
//! job up with the clock.

use std::time::Duration;

use super::{AccountRef, CloneFailure, CloneOutcome, MigrationStatus, PlaceholderFlags, State};
use crate::api::{BatchProvider, CloneMode, JobStatus, JobType, MigrationJob};
use crate::simulator::clock::secs;
use crate::simulator::ids;

/// Which accounts a batch clone takes (the request body, with Nylas's defaults applied).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSelection {
    pub limit: usize,
    pub offset: usize,
    pub providers: Vec<BatchProvider>,
    pub mode: CloneMode,
}

#[derive(Debug, Clone)]
pub struct BatchJob {
    pub app: usize,
    pub snapshot_id: String,
    pub migration_id: String,
    pub created_ms: u64,
    snapshot_end_ms: u64,
    snapshot_start_ms: u64,
    ms_per_account: f64,
    pub accounts: Vec<AccountRef>,
    pub processed: usize,
    pub success: u64,
    pub failed: u64,
    pub warning: u64,
    pub flags: PlaceholderFlags,
    pub forced_failure: bool,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl BatchJob {
    /// When the migration job finishes, once every account is processed.
    fn migration_end_ms(&self) -> u64 {
        self.snapshot_end_ms + (self.accounts.len() as f64 * self.ms_per_account).ceil() as u64
    }

    pub fn finished(&self, now_ms: u64) -> bool {
        self.processed == self.accounts.len() && now_ms >= self.migration_end_ms()
    }

    fn snapshot_status(&self, now_ms: u64) -> (JobStatus, u64) {
        if now_ms < self.snapshot_start_ms {
            (JobStatus::Pending, self.created_ms)
        } else if now_ms < self.snapshot_end_ms {
            (JobStatus::Running, self.snapshot_start_ms)
        } else {
            (JobStatus::Completed, self.snapshot_end_ms)
        }
    }

    fn migration_status(&self, now_ms: u64) -> (JobStatus, u64) {
        if now_ms < self.snapshot_end_ms {
            return (JobStatus::Pending, self.created_ms);
        }
        if !self.finished(now_ms) {
            let last = self.snapshot_end_ms + (self.processed as f64 * self.ms_per_account) as u64;
            return (JobStatus::Running, last.min(now_ms));
        }
        let status = if self.forced_failure
            || (self.failed == self.accounts.len() as u64 && self.failed > 0)
        {
            JobStatus::Failed
        } else if self.failed > 0 || self.warning > 0 {
            JobStatus::Partial
        } else {
            JobStatus::Completed
        };
        (status, self.migration_end_ms())
    }

    /// Both jobs as the contract shows them at `now_ms`: `(snapshot_job, clone_job)`.
    pub fn to_api(&self, public_application_id: &str, now_ms: u64) -> (MigrationJob, MigrationJob) {
        let total = self.accounts.len() as u64;
        let (snapshot_status, snapshot_updated) = self.snapshot_status(now_ms);
        let snapshot = MigrationJob {
            job_id: self.snapshot_id.clone(),
            job_type: JobType::Snapshot,
            public_application_id: public_application_id.to_string(),
            status: snapshot_status,
            count_all: total,
            count_success: if snapshot_status == JobStatus::Completed {
                total
            } else {
                0
            },
            count_failed: 0,
            count_warning: 0,
            created_at: secs(self.created_ms),
            updated_at: secs(snapshot_updated),
            linked_job_id: Some(self.migration_id.clone()),
        };
        let (status, updated) = self.migration_status(now_ms);
        let migration = MigrationJob {
            job_id: self.migration_id.clone(),
            job_type: JobType::Migration,
            public_application_id: public_application_id.to_string(),
            status,
            count_all: total,
            count_success: self.success,
            count_failed: self.failed,
            count_warning: self.warning,
            created_at: secs(self.created_ms),
            updated_at: secs(updated),
            linked_job_id: Some(self.snapshot_id.clone()),
        };
        (snapshot, migration)
    }

    /// When the job ended, for `sort_by_completion`: `None` while pending or running.
    pub fn completed_ms(&self, job_type: JobType, now_ms: u64) -> Option<u64> {
        match job_type {
            JobType::Snapshot => (now_ms >= self.snapshot_end_ms).then_some(self.snapshot_end_ms),
            JobType::Migration => self.finished(now_ms).then(|| self.migration_end_ms()),
        }
    }
}

impl State {
    /// The accounts a batch clone for `app` takes now: the linked v2 app's accounts in import
    /// order, filtered by mode and providers, then `offset` skipped and `limit` taken.
    fn select(&self, v2: usize, selection: &BatchSelection) -> Vec<AccountRef> {
        let accounts = &self.world.v2_apps[v2].accounts;
        (0..accounts.len())
            .map(|i| AccountRef {
                app: v2 as u32,
                index: i as u32,
            })
            .filter(|&r| {
                let provider = self.account(r).provider;
                let mode_ok = match selection.mode {
                    CloneMode::All => true,
                    CloneMode::OnlyNew => self.status(r) == MigrationStatus::New,
                    CloneMode::OnlyFailed => self.status(r) == MigrationStatus::Failed,
                };
                mode_ok
                    && (selection.providers.is_empty()
                        || selection.providers.iter().any(|f| provider.matches(*f)))
            })
            .skip(selection.offset)
            .take(selection.limit)
            .collect()
    }

    /// Starts a batch clone for `app` (linked to `v2`); returns the index of the new job.
    pub fn start_batch(
        &mut self,
        app: usize,
        v2: usize,
        selection: &BatchSelection,
        flags: PlaceholderFlags,
        now_ms: u64,
    ) -> usize {
        let accounts = self.select(v2, selection);
        let nth = self.apps[app].jobs.len() as u32 + 1;
        let app_id = &self.world.v3_apps[app].id;
        let forced_failure = self
            .failing_jobs
            .iter()
            .any(|f| &f.application_id == app_id && f.nth == nth);
        let snapshot_id = ids::uuid(self.rng());
        let migration_id = ids::uuid(self.rng());
        let snapshot_start_ms = now_ms + ms(self.timing.snapshot_pending);
        let job = BatchJob {
            app,
            snapshot_id,
            migration_id,
            created_ms: now_ms,
            snapshot_start_ms,
            snapshot_end_ms: snapshot_start_ms + ms(self.timing.snapshot_running),
            ms_per_account: 1000.0 / f64::from(self.timing.accounts_per_second.max(1)),
            accounts,
            processed: 0,
            success: 0,
            failed: 0,
            warning: 0,
            flags,
            forced_failure,
        };
        let index = self.jobs.len();
        self.jobs.push(job);
        self.apps[app].jobs.push(index);
        self.active_jobs.push(index);
        index
    }

    /// Catches every active job up with the clock: processes the accounts due by `now_ms`.
    pub fn tick(&mut self, now_ms: u64) {
        if self.active_jobs.is_empty() {
            return;
        }
        let active = std::mem::take(&mut self.active_jobs);
        let mut still = Vec::with_capacity(active.len());
        for index in active {
            self.advance_job(index, now_ms);
            if !self.jobs[index].finished(now_ms) {
                still.push(index);
            }
        }
        self.active_jobs = still;
    }

    fn advance_job(&mut self, index: usize, now_ms: u64) {
        let job = &self.jobs[index];
        if now_ms < job.snapshot_end_ms {
            return;
        }
        let elapsed = (now_ms - job.snapshot_end_ms) as f64;
        let due = ((elapsed / job.ms_per_account) as usize).min(job.accounts.len());
        let (app, flags, forced, from) = (job.app, job.flags, job.forced_failure, job.processed);
        for i in from..due {
            let account = self.jobs[index].accounts[i];
            let at = self.jobs[index].snapshot_end_ms
                + ((i + 1) as f64 * self.jobs[index].ms_per_account) as u64;
            let outcome = if forced {
                self.fail_account(account);
                CloneOutcome::Failed(CloneFailure::JobFailed)
            } else {
                self.clone_account(app, account, flags, at)
            };
            let job = &mut self.jobs[index];
            match outcome {
                CloneOutcome::Existing(g) => {
                    if self.apps[app].grants[g as usize].valid {
                        job.success += 1;
                    } else {
                        job.warning += 1;
                    }
                }
                CloneOutcome::Migrated(_) => job.success += 1,
                CloneOutcome::Placeholder(_) => job.warning += 1,
                CloneOutcome::Failed(_) => job.failed += 1,
            }
            job.processed = i + 1;
        }
    }

    /// `app`'s jobs, both of each batch, for `migration_get_jobs`.
    pub fn jobs_of(&self, app: usize, now_ms: u64) -> Vec<(MigrationJob, Option<u64>)> {
        let app_id = &self.world.v3_apps[app].id;
        let mut out = Vec::with_capacity(self.apps[app].jobs.len() * 2);
        for &index in self.apps[app].jobs.iter().rev() {
            let job = &self.jobs[index];
            let (snapshot, migration) = job.to_api(app_id, now_ms);
            out.push((migration, job.completed_ms(JobType::Migration, now_ms)));
            out.push((snapshot, job.completed_ms(JobType::Snapshot, now_ms)));
        }
        out
    }
}
