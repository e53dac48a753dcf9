//! `report`: one row per v2 account the plan touched, from the live grants (every grant of each
//! v3 application that came from a v2 account) and the journal (single clones that failed or
//! have not run). The contract gives batch jobs' failures as counts only, never per account, so
//! accounts a wave failed to migrate appear in the wave counts, not as rows: every job the
//! journal knows counts (earlier jobs of a wave run again, adopted jobs), and a job that ended
//! `failed` counts every account it did not migrate as failed, whatever its counts say. So the
//! rows of accounts the waves cloned, plus the counted failures, add up to the accounts the
//! waves selected.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::{GrantStatus, JobStatus, JobType, MigrationJob};
use crate::client::{GrantFilter, JobFilter};
use crate::engine::journal::{JobOrigin, Journal, KnownJob, StepStatus};
use crate::engine::{Context, EngineError};
use crate::graph::{StepId, StepKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountOutcome {
    /// A valid v3 grant.
    Migrated,
    /// An invalid v3 grant: the user must re-authenticate.
    Placeholder,
    /// The clone failed (the error says why).
    Failed,
    /// Listed in the plan, not cloned yet.
    Pending,
}

impl AccountOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountOutcome::Migrated => "migrated",
            AccountOutcome::Placeholder => "placeholder",
            AccountOutcome::Failed => "failed",
            AccountOutcome::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRow {
    pub pair: String,
    pub account_id: String,
    pub provider: String,
    pub email: String,
    pub grant_id: String,
    pub grant_status: String,
    pub outcome: AccountOutcome,
    pub error: String,
}

/// One wave: the sums over every job it ran, and each job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveCounts {
    pub pair: String,
    pub wave: String,
    /// The status of its latest job.
    pub status: String,
    pub count_all: u64,
    pub count_success: u64,
    /// Counted failures: a `failed` job counts every account it did not migrate.
    pub count_failed: u64,
    pub count_warning: u64,
    pub jobs: Vec<JobCount>,
}

/// One migration job's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobCount {
    pub job_id: String,
    pub status: String,
    pub count_all: u64,
    pub count_success: u64,
    /// Counted failures (see [`WaveCounts::count_failed`]).
    pub count_failed: u64,
    pub count_warning: u64,
}

/// Jobs that were on an application before this state knew them, recorded with
/// `--adopt-existing-jobs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdoptedJobs {
    pub pair: String,
    pub jobs: Vec<JobCount>,
}

/// The report's accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Rows of the report.
    pub rows: u64,
    /// Rows of the plan's test accounts (single clones).
    pub test_account_rows: u64,
    /// Accounts selected by every job the journal knows (waves' and adopted).
    pub selected_by_jobs: u64,
    /// Accounts those jobs did not migrate, counted per job: a row cannot list them.
    pub failed_in_jobs: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountsReport {
    pub plan: String,
    pub accounts: Vec<AccountRow>,
    pub waves: Vec<WaveCounts>,
    pub adopted_jobs: Vec<AdoptedJobs>,
    /// Rows − test-account rows + failed_in_jobs = selected_by_jobs, when every account was
    /// selected once, or again only after failing (`only_new`, `only_failed`).
    pub totals: Totals,
}

/// A job's counts, from its live listing when Nylas still lists it, else as the journal last
/// saw them.
fn job_count(known: &KnownJob, live: &[MigrationJob]) -> Option<JobCount> {
    let (status, all, success, failed, warning) =
        match live.iter().find(|j| j.job_id == known.job_id) {
            Some(j) => (
                Some(j.status),
                j.count_all,
                j.count_success,
                j.count_failed,
                j.count_warning,
            ),
            None => {
                let c = known.counts?;
                (known.status, c.all, c.success, c.failed, c.warning)
            }
        };
    // A wave whose snapshot job failed was recorded failed while its migration job may stay
    // listed as pending: the journal's outcome wins.
    let status = if known.status == Some(JobStatus::Failed) {
        Some(JobStatus::Failed)
    } else {
        status
    };
    let failed = if status == Some(JobStatus::Failed) {
        // Nylas: "failed (none migrated)". Whatever its counts say, every account it did not
        // migrate failed.
        all.saturating_sub(success + warning).max(failed)
    } else {
        failed
    };
    Some(JobCount {
        job_id: known.job_id.clone(),
        status: status.map(|s| s.to_string()).unwrap_or_default(),
        count_all: all,
        count_success: success,
        count_failed: failed,
        count_warning: warning,
    })
}

/// Builds the report: every grant of every pair's v3 application (paged, 200 a page), plus the
/// plan's single-clone accounts that have no grant, plus each wave's counts from the journal.
pub async fn accounts_report(
    ctx: &Context,
    journal: Option<&Journal>,
) -> Result<AccountsReport, EngineError> {
    let graph = ctx.graph();
    let mut accounts = Vec::new();
    let mut waves = Vec::new();
    let mut adopted_jobs = Vec::new();
    let mut totals = Totals::default();
    let known = match journal {
        Some(j) => j.known_jobs()?,
        None => Vec::new(),
    };
    for (index, pair) in graph.pairs().iter().enumerate() {
        // `--pair`: only the pairs the run targets.
        if !ctx.targets_pair(index) {
            continue;
        }
        let grants = ctx
            .pair_app(index)
            .list_all_grants(&GrantFilter::default())
            .await?
            .data;
        // Migration jobs only: a snapshot job's counts are the accounts it listed, not cloned.
        let pair_jobs: Vec<&KnownJob> = known
            .iter()
            .filter(|k| {
                k.app_id.as_deref() == Some(pair.v3_app_id.as_str())
                    && k.job_type != Some(JobType::Snapshot)
            })
            .collect();
        let live: Vec<MigrationJob> = if pair_jobs.is_empty() {
            Vec::new()
        } else {
            ctx.pair_app(index)
                .list_jobs(&JobFilter::default())
                .await?
                .data
        };
        let adopted: Vec<JobCount> = pair_jobs
            .iter()
            .filter(|k| k.origin == JobOrigin::Adopted)
            .filter_map(|k| job_count(k, &live))
            .collect();
        for job in &adopted {
            totals.selected_by_jobs += job.count_all;
            totals.failed_in_jobs += job.count_failed;
        }
        if !adopted.is_empty() {
            adopted_jobs.push(AdoptedJobs {
                pair: pair.name.clone(),
                jobs: adopted,
            });
        }
        let mut by_account: BTreeMap<String, AccountRow> = BTreeMap::new();
        for grant in grants {
            let Some(account_id) = grant.account_id.clone() else {
                continue;
            };
            let placeholder = grant.grant_status == Some(GrantStatus::Invalid);
            by_account.insert(
                account_id.clone(),
                AccountRow {
                    pair: pair.name.clone(),
                    account_id,
                    provider: grant.provider.clone(),
                    email: grant.email.clone().unwrap_or_default(),
                    grant_id: grant.id.clone(),
                    grant_status: grant
                        .grant_status
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    outcome: if placeholder {
                        AccountOutcome::Placeholder
                    } else {
                        AccountOutcome::Migrated
                    },
                    error: String::new(),
                },
            );
        }
        for step in graph.steps().filter(|s| s.pair == index) {
            let state = match journal {
                Some(j) => j.step(&step.id)?,
                None => None,
            };
            match &step.kind {
                StepKind::Clone(c) if by_account.contains_key(&c.account_id) => {
                    totals.test_account_rows += 1;
                    // Refused as a test account, given a grant later by a wave: the row is the
                    // grant's, and says what happened to the single clone.
                    if let Some(state) = state.filter(|s| s.record.refused)
                        && let Some(row) = by_account.get_mut(&c.account_id)
                    {
                        row.error = format!(
                            "the single clone was refused in run {}: {}",
                            state.run_id,
                            state.record.error.as_deref().unwrap_or("no reason given")
                        );
                    }
                }
                StepKind::Clone(c) => {
                    totals.test_account_rows += 1;
                    let failed = state.as_ref().filter(|s| s.status == StepStatus::Failed);
                    // Not cloned yet: say so when a failed step it waits for holds it up (a
                    // webhook whose URL failed verification, a test event not acknowledged).
                    let waiting = match (failed, journal) {
                        (None, Some(j)) => held_up_by(graph, j, &step.id)?,
                        _ => None,
                    };
                    by_account.insert(
                        c.account_id.clone(),
                        AccountRow {
                            pair: pair.name.clone(),
                            account_id: c.account_id.clone(),
                            provider: String::new(),
                            email: String::new(),
                            grant_id: String::new(),
                            grant_status: String::new(),
                            outcome: if failed.is_some() {
                                AccountOutcome::Failed
                            } else {
                                AccountOutcome::Pending
                            },
                            error: failed
                                .and_then(|s| s.record.error.clone())
                                .or(waiting)
                                .unwrap_or_default(),
                        },
                    );
                }
                StepKind::Batch(b) => {
                    let jobs: Vec<JobCount> = pair_jobs
                        .iter()
                        .filter(|k| {
                            k.step_id.as_deref().and_then(StepId::parse).as_ref() == Some(&step.id)
                        })
                        .filter_map(|k| job_count(k, &live))
                        .collect();
                    let Some(last) = jobs.last() else {
                        continue;
                    };
                    let mut wave = WaveCounts {
                        pair: pair.name.clone(),
                        wave: b.wave.clone(),
                        status: last.status.clone(),
                        count_all: 0,
                        count_success: 0,
                        count_failed: 0,
                        count_warning: 0,
                        jobs: Vec::new(),
                    };
                    for job in &jobs {
                        wave.count_all += job.count_all;
                        wave.count_success += job.count_success;
                        wave.count_failed += job.count_failed;
                        wave.count_warning += job.count_warning;
                    }
                    totals.selected_by_jobs += wave.count_all;
                    totals.failed_in_jobs += wave.count_failed;
                    wave.jobs = jobs;
                    waves.push(wave);
                }
                _ => {}
            }
        }
        accounts.extend(by_account.into_values());
    }
    totals.rows = accounts.len() as u64;
    Ok(AccountsReport {
        plan: graph.plan_name().to_owned(),
        accounts,
        waves,
        adopted_jobs,
        totals,
    })
}

/// The nearest step that `step` waits for (however far up) whose journal row says it failed,
/// as a reason for a person: it, and why it failed.
fn held_up_by(
    graph: &crate::graph::StepGraph,
    journal: &Journal,
    step: &StepId,
) -> Result<Option<String>, EngineError> {
    let mut seen = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<StepId> = graph
        .dependencies(step)
        .into_iter()
        .map(|s| s.id.clone())
        .collect();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(state) = journal.step(&id)?
            && state.status == StepStatus::Failed
        {
            let shown = if id.pair() == step.pair() {
                id.local()
            } else {
                id.as_str()
            };
            return Ok(Some(format!(
                "not cloned: it waits for {shown}, which failed in run {}: {}",
                state.run_id,
                state
                    .record
                    .error
                    .as_deref()
                    .unwrap_or("no reason recorded")
            )));
        }
        queue.extend(graph.dependencies(&id).into_iter().map(|s| s.id.clone()));
    }
    Ok(None)
}

/// RFC 4180 CSV with a header row.
pub fn to_csv(report: &AccountsReport) -> String {
    let mut out =
        String::from("pair,account_id,provider,email,grant_id,grant_status,outcome,error\n");
    for row in &report.accounts {
        let fields = [
            row.pair.as_str(),
            &row.account_id,
            &row.provider,
            &row.email,
            &row.grant_id,
            &row.grant_status,
            row.outcome.as_str(),
            &row.error,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn csv_field(field: &str) -> String {
    // Emails and errors come from the API and the journal: the one rule for a cell people read
    // (escaped, neutralised against formulas, quoted).
    crate::untrusted::csv_cell(field).into_owned()
}

impl AccountsReport {
    pub fn to_csv(&self) -> String {
        to_csv(self)
    }
}
