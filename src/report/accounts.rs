//! `report`: one row per v2 account the plan touched, from the live grants (every grant of each
//! v3 application that came from a v2 account) and the journal (single clones that failed or
//! have not run). The contract gives batch jobs' failures as counts only, never per account, so
//! accounts a wave failed to migrate appear in the wave counts, not as rows: every job the
//! journal knows counts (earlier jobs of a wave run again, adopted jobs), and a job that ended
//! `failed` counts every account it did not migrate as failed, whatever its counts say. So the
//! rows of accounts the waves cloned, plus the counted failures, add up to the accounts the
//! waves selected.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::api::{Grant, GrantStatus, JobStatus, JobType, MigrationJob};
use crate::client::{GrantFilter, JobFilter};
use crate::engine::{Context, EngineError, PAIRS_AT_ONCE};
use crate::graph::{StepId, StepKind};
use crate::state::journal::{JobOrigin, Journal, KnownJob, StepStatus};

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
    /// When its first job was created, as Nylas lists it (Unix seconds; `None` once Nylas no
    /// longer lists the job). Not in the JSON document (version 1 of its fields).
    #[serde(skip)]
    pub started_at: Option<i64>,
    /// When its latest job finished (its last update, once finished), as Nylas lists it.
    #[serde(skip)]
    pub ended_at: Option<i64>,
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
    /// When Nylas created it (Unix seconds), while Nylas lists it.
    #[serde(skip)]
    pub started_at: Option<i64>,
    /// When it finished (its last update once finished), while Nylas lists it.
    #[serde(skip)]
    pub ended_at: Option<i64>,
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

/// A job's counts, from its live listing when Nylas still lists it, else as the journal last
/// saw them.
fn job_count(known: &KnownJob, live: &[MigrationJob]) -> Option<JobCount> {
    let listed = live.iter().find(|j| j.job_id == known.job_id);
    let (status, all, success, failed, warning) = match listed {
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
        started_at: listed.map(|j| j.created_at),
        ended_at: listed
            .filter(|j| j.status.is_finished())
            .map(|j| j.updated_at),
    })
}

/// What the report says besides its rows, known once every row has been written.
#[derive(Debug, Clone, Serialize)]
pub struct ReportTail {
    pub plan: String,
    pub waves: Vec<WaveCounts>,
    pub adopted_jobs: Vec<AdoptedJobs>,
    pub totals: Totals,
}

/// One pair's part of the report that needs no grant: its waves' and adopted jobs' counts, and
/// its test accounts (single clones) with the journal's word on each.
struct PairPrelude {
    index: usize,
    waves: Vec<WaveCounts>,
    adopted: Vec<JobCount>,
    /// Test account → its row if it has no grant (failed, or pending and why), `None` once a
    /// grant of it was written.
    tests: HashMap<String, TestAccount>,
}

struct TestAccount {
    /// The row when no grant turns up.
    without_grant: Option<AccountRow>,
    /// The single clone was refused (then the account got a grant another way): said on the
    /// grant's row.
    refused: Option<String>,
}

/// One page of a pair's grants, or the end of them.
enum PairPage {
    Grants(usize, Vec<Grant>),
    End(usize),
}

/// Streams the report: every grant of every pair's v3 application that came from a v2 account
/// (paged, 200 a page), handed to `emit` a page at a time as the pages arrive, then the pair's
/// test accounts (single clones) that have no grant; memory is a page, however many accounts
/// there are. Returns the waves' counts and the totals, known at the end. The order is stable:
/// the pairs in plan order, one after the other (so two reports of the same state compare line
/// by line), a pair's rows in the order Nylas lists its grants. The pairs' job listings (for
/// the waves' counts) are read side by side first.
pub async fn stream_accounts_report(
    ctx: &Context,
    journal: Option<&Journal>,
    mut emit: impl FnMut(&[AccountRow]) -> Result<(), EngineError>,
) -> Result<ReportTail, EngineError> {
    let graph = ctx.graph();
    let mut totals = Totals::default();
    let known = match journal {
        Some(j) => j.known_jobs()?,
        None => Vec::new(),
    };
    // `--pair`: only the pairs the run targets.
    let targeted: Vec<usize> = (0..graph.pairs().len())
        .filter(|&index| ctx.targets_pair(index))
        .collect();
    let known = &known;
    let preludes: Vec<PairPrelude> = futures::stream::iter(targeted.clone())
        .map(|index| pair_prelude(ctx, journal, known, index))
        .buffered(PAIRS_AT_ONCE)
        .try_collect()
        .await?;
    let mut waves = Vec::new();
    let mut adopted_jobs = Vec::new();
    let mut preludes: HashMap<usize, PairPrelude> = preludes
        .into_iter()
        .map(|mut p| {
            for job in &p.adopted {
                totals.selected_by_jobs += job.count_all;
                totals.failed_in_jobs += job.count_failed;
            }
            for wave in &p.waves {
                totals.selected_by_jobs += wave.count_all;
                totals.failed_in_jobs += wave.count_failed;
            }
            totals.test_account_rows += p.tests.len() as u64;
            waves.append(&mut p.waves);
            if !p.adopted.is_empty() {
                adopted_jobs.push(AdoptedJobs {
                    pair: graph.pairs()[p.index].name.clone(),
                    jobs: std::mem::take(&mut p.adopted),
                });
            }
            (p.index, p)
        })
        .collect();

    let pages = futures::stream::iter(targeted)
        .map(|index| {
            let pager = Some(ctx.pair_app(index).grant_pages(&GrantFilter::default()));
            futures::stream::unfold(pager, move |pager| async move {
                let mut pager = pager?;
                Some(match pager.next_page().await {
                    Ok(Some(page)) => (Ok(PairPage::Grants(index, page.data)), Some(pager)),
                    Ok(None) => (Ok(PairPage::End(index)), None),
                    Err(err) => (Err(EngineError::from(err)), None),
                })
            })
            .boxed()
        })
        .flatten();
    futures::pin_mut!(pages);
    let mut rows = Vec::new();
    while let Some(page) = pages.next().await {
        rows.clear();
        match page? {
            PairPage::Grants(index, grants) => {
                let pair = &graph.pairs()[index].name;
                let tests = preludes.get_mut(&index).map(|p| &mut p.tests);
                grant_rows(pair, grants, tests, &mut rows);
            }
            PairPage::End(index) => {
                if let Some(prelude) = preludes.remove(&index) {
                    let mut left: Vec<AccountRow> = prelude
                        .tests
                        .into_values()
                        .filter_map(|t| t.without_grant)
                        .collect();
                    left.sort_by(|a, b| a.account_id.cmp(&b.account_id));
                    rows.extend(left);
                }
            }
        }
        totals.rows += rows.len() as u64;
        if !rows.is_empty() {
            emit(&rows)?;
        }
    }
    Ok(ReportTail {
        plan: graph.plan_name().to_owned(),
        waves,
        adopted_jobs,
        totals,
    })
}

/// The rows of a page of grants: one per grant that came from a v2 account (a test account's
/// once, with what happened to its single clone).
fn grant_rows(
    pair: &str,
    grants: Vec<Grant>,
    mut tests: Option<&mut HashMap<String, TestAccount>>,
    rows: &mut Vec<AccountRow>,
) {
    for grant in grants {
        let Some(account_id) = grant.account_id else {
            continue;
        };
        let mut error = String::new();
        if let Some(test) = tests.as_deref_mut().and_then(|t| t.get_mut(&account_id)) {
            // A test account's second grant would be a second row of the same account.
            if test.without_grant.take().is_none() {
                continue;
            }
            error = test.refused.take().unwrap_or_default();
        }
        let placeholder = grant.grant_status == Some(GrantStatus::Invalid);
        rows.push(AccountRow {
            pair: pair.to_owned(),
            account_id,
            provider: grant.provider,
            email: grant.email.unwrap_or_default(),
            grant_id: grant.id,
            grant_status: grant
                .grant_status
                .map(|s| s.to_string())
                .unwrap_or_default(),
            outcome: if placeholder {
                AccountOutcome::Placeholder
            } else {
                AccountOutcome::Migrated
            },
            error,
        });
    }
}

/// A pair's waves, adopted jobs and test accounts (one `migration_get_jobs` call when the
/// journal knows jobs of the pair).
async fn pair_prelude(
    ctx: &Context,
    journal: Option<&Journal>,
    known: &[KnownJob],
    index: usize,
) -> Result<PairPrelude, EngineError> {
    let graph = ctx.graph();
    let pair = &graph.pairs()[index];
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
    let mut waves = Vec::new();
    let mut tests = HashMap::new();
    for step in graph.steps().filter(|s| s.pair == index) {
        let state = match journal {
            Some(j) => j.step(&step.id)?,
            None => None,
        };
        match &step.kind {
            StepKind::Clone(c) => {
                let failed = state.as_ref().filter(|s| s.status == StepStatus::Failed);
                // Not cloned yet: say so when a failed step it waits for holds it up (a
                // webhook whose URL failed verification, a test event not acknowledged).
                let waiting = match (failed, journal) {
                    (None, Some(j)) => held_up_by(graph, j, &step.id)?,
                    _ => None,
                };
                // Refused as a test account, given a grant later by a wave: the row is the
                // grant's, and says what happened to the single clone.
                let refused = state.as_ref().filter(|s| s.record.refused).map(|state| {
                    format!(
                        "the single clone was refused in run {}: {}",
                        state.run_id,
                        state.record.error.as_deref().unwrap_or("no reason given")
                    )
                });
                let without_grant = AccountRow {
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
                };
                tests.insert(
                    c.account_id.clone(),
                    TestAccount {
                        without_grant: Some(without_grant),
                        refused,
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
                if let Some(wave) = wave_counts(&pair.name, &b.wave, jobs) {
                    waves.push(wave);
                }
            }
            _ => {}
        }
    }
    Ok(PairPrelude {
        index,
        waves,
        adopted,
        tests,
    })
}

/// A wave's counts: the sums over its jobs, its latest job's status, when its first job started
/// and its latest ended; `None` for a wave with no job.
fn wave_counts(pair: &str, wave: &str, jobs: Vec<JobCount>) -> Option<WaveCounts> {
    let last = jobs.last()?;
    let mut counts = WaveCounts {
        pair: pair.to_owned(),
        wave: wave.to_owned(),
        status: last.status.clone(),
        count_all: 0,
        count_success: 0,
        count_failed: 0,
        count_warning: 0,
        started_at: jobs.iter().filter_map(|j| j.started_at).min(),
        ended_at: last.ended_at,
        jobs: Vec::new(),
    };
    for job in &jobs {
        counts.count_all += job.count_all;
        counts.count_success += job.count_success;
        counts.count_failed += job.count_failed;
        counts.count_warning += job.count_warning;
    }
    counts.jobs = jobs;
    Some(counts)
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

/// The header row of the report's CSV.
pub const CSV_HEADER: &str = "pair,account_id,provider,email,grant_id,grant_status,outcome,error\n";

/// One row of the report's CSV (after [`CSV_HEADER`]), appended to `out`.
pub fn csv_row(row: &AccountRow, out: &mut String) {
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

fn csv_field(field: &str) -> String {
    // Emails and errors come from the API and the journal: the one rule for a cell people read
    // (escaped, neutralised against formulas, quoted).
    crate::untrusted::csv_cell(field).into_owned()
}
