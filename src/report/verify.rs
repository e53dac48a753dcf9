//! `verify`: per pair, a checklist that proves the migration is done, each item passed or
//! failed with its evidence from the live API (and the journal for waves):
//!
//! - `link`, `region`: the v3 application is linked to the plan's v2 application, in the plan's
//!   region;
//! - `connector`: a connector for every provider among the pair's grants (and the plan's
//!   connector fixes); `microsoft-credentials`: the Microsoft connector (wherever there is or
//!   should be one) has its Azure app's client ID;
//! - `redirect-uri`: every redirect URI of the plan present, on its platform, with its
//!   settings;
//! - `webhook`: every destination of the plan present, with the plan's triggers (and
//!   description and notification emails where the plan gives them), and active;
//!   `webhook-test`: the endpoint acknowledged the plan's test event (the journal: Nylas keeps
//!   no record of a test);
//! - `pubsub`, `sns`: every channel of the plan present by its topic, with the plan's settings,
//!   and active;
//! - `test-account`: every test account has a valid grant;
//! - `wave`: every wave finished, its counts adding up (`count_all` = success + failed +
//!   placeholders) and its failures within the gate;
//! - `grants`: the grants that came from v2 accounts against the waves' successes and
//!   placeholders (and the test accounts).

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt};

use crate::api::{CloneMode, Grant, GrantStatus, JobStatus, MigrationJob};
use crate::client::{AppClient, GrantFilter, JobFilter};
use crate::engine::{EngineError, PAIRS_AT_ONCE, Tally, VerifyCx, VerifyReads, verify_items};
use crate::graph::{BatchStep, Step, StepGraph, StepId, StepKind};
use crate::state::journal::{Journal, JournalError, StepStatus};

use super::checklist::{Check, PairVerification, VERIFY_VERSION, Verification, VerifyItem};

/// A wave as the journal records it.
#[derive(Debug, Clone, PartialEq)]
pub enum WaveState {
    /// No record: never started.
    NotStarted,
    /// Its request was sent, or its jobs run.
    InProgress { clone_job_id: Option<String> },
    /// Its jobs ended.
    Finished {
        clone_job_id: Option<String>,
        job_status: Option<crate::api::JobStatus>,
        counts: Option<crate::state::journal::JobCounts>,
    },
    /// The step failed before its jobs ended (a snapshot that failed, an error), with why.
    Failed { error: Option<String> },
}

/// The one place verify reads a wave's state from the journal. A finished wave is recorded
/// `done` with its job's status and counts; a job that failed outright, or a step that failed,
/// `failed` (a failed job keeps its counts).
pub fn wave_state(journal: Option<&Journal>, step: &StepId) -> Result<WaveState, JournalError> {
    let Some(state) = journal.map(|j| j.step(step)).transpose()?.flatten() else {
        return Ok(WaveState::NotStarted);
    };
    let r = state.record;
    Ok(match state.status {
        StepStatus::Intent | StepStatus::Running => WaveState::InProgress {
            clone_job_id: r.clone_job_id,
        },
        StepStatus::Done => WaveState::Finished {
            clone_job_id: r.clone_job_id,
            job_status: r.job_status,
            counts: r.counts,
        },
        StepStatus::Failed if r.counts.is_some() => WaveState::Finished {
            clone_job_id: r.clone_job_id,
            job_status: r.job_status,
            counts: r.counts,
        },
        StepStatus::Failed => WaveState::Failed { error: r.error },
    })
}

/// Verifies `pairs` (indices into the graph's pairs, each with its v3 application's client).
pub async fn verify(
    graph: &StepGraph,
    pairs: &[(usize, AppClient)],
    journal: Option<&Journal>,
) -> Result<Verification, EngineError> {
    // Pairs side by side, each application's reads paced by its own limiter; the results
    // in the order of `pairs`.
    let out: Vec<PairVerification> = futures::stream::iter(pairs)
        .map(|(index, app)| verify_pair(graph, *index, app, journal))
        .buffered(PAIRS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(Verification {
        v: VERIFY_VERSION,
        plan: graph.plan_name().to_owned(),
        passed: out.iter().all(|p| p.passed),
        pairs: out,
    })
}

/// One pair's checklist: each step's items from its kind, then the waves and the grants.
async fn verify_pair(
    graph: &StepGraph,
    index: usize,
    app: &AppClient,
    journal: Option<&Journal>,
) -> Result<PairVerification, EngineError> {
    let pair = &graph.pairs()[index];
    let steps: Vec<&Step> = graph.steps().filter(|s| s.pair == index).collect();
    let tally = GrantTally::read(app, &steps).await?;
    let reads = VerifyReads::new(app, journal, &steps, &tally.tests, &tally.by_provider);
    let mut items = Vec::new();
    for step in &steps {
        items.extend(verify_items(&VerifyCx::new(step, pair, &reads)).await?);
    }
    let singles_with_grant = tally.tests.values().filter(|g| g.is_some()).count() as u64;
    let waves = Waves::read(app, journal, &steps).await?;
    let counted = waves.items(singles_with_grant, &mut items);
    if !waves.waves.is_empty() || singles_with_grant > 0 {
        items.push(grants_item(&tally, counted, singles_with_grant));
    }
    Ok(PairVerification {
        pair: pair.name.clone(),
        region: pair.region,
        passed: items.iter().all(|i| !i.fails()),
        items,
    })
}

/// What the waves report, for the `grants` item: the accounts migrated or made placeholders,
/// and whether a wave of mode `all` after other clones counted some again.
struct Counted {
    accounts: u64,
    recounting: bool,
}

/// A pair's waves as the journal records them, with the live jobs when it knows their IDs.
struct Waves<'a> {
    waves: Vec<&'a BatchStep>,
    states: Vec<WaveState>,
    jobs: Vec<MigrationJob>,
}

impl<'a> Waves<'a> {
    async fn read(
        app: &AppClient,
        journal: Option<&Journal>,
        steps: &[&'a Step],
    ) -> Result<Waves<'a>, EngineError> {
        let mut waves = Vec::new();
        let mut states = Vec::new();
        for step in steps {
            if let StepKind::Batch(b) = &step.kind {
                waves.push(&**b);
                states.push(wave_state(journal, &step.id)?);
            }
        }
        let known_job = |s: &WaveState| {
            matches!(
                s,
                WaveState::Finished {
                    clone_job_id: Some(_),
                    ..
                } | WaveState::InProgress {
                    clone_job_id: Some(_)
                }
            )
        };
        let jobs = if states.iter().any(known_job) {
            app.list_jobs(&JobFilter::default()).await?.data
        } else {
            Vec::new()
        };
        Ok(Waves {
            waves,
            states,
            jobs,
        })
    }

    /// A `wave` item per wave, in plan order; what they count.
    fn items(&self, singles_with_grant: u64, items: &mut Vec<VerifyItem>) -> Counted {
        let mut counted = Counted {
            accounts: 0,
            recounting: false,
        };
        for (n, (wave, state)) in self.waves.iter().zip(&self.states).enumerate() {
            let (passed, evidence) = match state {
                WaveState::NotStarted => (false, "not started".to_owned()),
                WaveState::InProgress { clone_job_id } => (
                    false,
                    format!(
                        "not finished: job {} is still running (or its request's outcome is unknown)",
                        clone_job_id.as_deref().unwrap_or("not known yet")
                    ),
                ),
                WaveState::Failed { error } => (
                    false,
                    format!("failed: {}", error.as_deref().unwrap_or("no job finished")),
                ),
                WaveState::Finished {
                    clone_job_id,
                    job_status,
                    counts,
                } => {
                    let live = clone_job_id
                        .as_deref()
                        .and_then(|id| self.jobs.iter().find(|j| j.job_id == id));
                    let finished = finished_wave(wave, clone_job_id, *job_status, counts, live);
                    counted.accounts += finished.counted;
                    let earlier_clones = n > 0 || singles_with_grant > 0;
                    if wave.request.mode == Some(CloneMode::All) && earlier_clones {
                        counted.recounting = true;
                    }
                    (finished.passed, finished.evidence)
                }
            };
            items.push(VerifyItem::new(
                Check::Wave,
                wave.wave.clone(),
                passed,
                evidence,
            ));
        }
        counted
    }
}

/// A finished wave's item: its job finished, its counts adding up, its failures within the
/// gate; and the accounts it migrated or made placeholders.
struct FinishedItem {
    passed: bool,
    evidence: String,
    counted: u64,
}

fn finished_wave(
    wave: &BatchStep,
    clone_job_id: &Option<String>,
    job_status: Option<JobStatus>,
    counts: &Option<crate::state::journal::JobCounts>,
    live: Option<&MigrationJob>,
) -> FinishedItem {
    let (status, all, success, failed, warning, source) = match (live, counts) {
        (Some(j), _) => (
            j.status.to_string(),
            j.count_all,
            j.count_success,
            j.count_failed,
            j.count_warning,
            "live job",
        ),
        (None, Some(c)) => (
            job_status.map(|s| s.to_string()).unwrap_or_default(),
            c.all,
            c.success,
            c.failed,
            c.warning,
            "journal",
        ),
        (None, None) => (
            job_status.map(|s| s.to_string()).unwrap_or_default(),
            0,
            0,
            0,
            0,
            "journal, no counts",
        ),
    };
    let job = clone_job_id.as_deref().unwrap_or("?");
    let tally = Tally {
        all,
        migrated: success,
        placeholders: warning,
        failed,
    };
    let summary = format!("job {job} {status} ({source}): {}", tally.out_of_all());
    let ratio = if all > 0 {
        failed as f64 / all as f64
    } else {
        0.0
    };
    let (passed, evidence) = if JobStatus::parse(&status) == Some(JobStatus::Failed) {
        (false, format!("{summary}: the job failed"))
    } else if !JobStatus::parse(&status).is_some_and(JobStatus::is_finished) {
        (false, format!("{summary}: not finished"))
    } else if success + failed + warning != all {
        (false, format!("{summary}: the counts do not add up"))
    } else if let Some(gate) = wave.gate.filter(|g| ratio > g.max_failed_ratio) {
        (
            false,
            format!(
                "{summary}: {:.1}% failed, above the gate's {:.1}%",
                ratio * 100.0,
                gate.max_failed_ratio * 100.0
            ),
        )
    } else {
        (true, summary)
    };
    FinishedItem {
        passed,
        evidence,
        counted: success + warning,
    }
}

/// Grants from v2 accounts against what the clones report.
fn grants_item(tally: &GrantTally, counted: Counted, singles_with_grant: u64) -> VerifyItem {
    let have = tally.migrated;
    let expected = counted.accounts + singles_with_grant;
    let (passed, note) = if counted.recounting {
        (
            have <= expected,
            " (a wave of mode `all` after other clones counts accounts that already had a grant again, so the grants may be fewer)",
        )
    } else {
        (have == expected, "")
    };
    VerifyItem::new(
        Check::Grants,
        "",
        passed,
        format!(
            "{have} grants from v2 accounts ({}); the waves report {} migrated or placeholders, plus {singles_with_grant} test account{}: {expected}{note}",
            crate::engine::placeholders(tally.placeholders),
            counted.accounts,
            if singles_with_grant == 1 { "" } else { "s" }
        ),
    )
}

/// What verify needs of a pair's grants, read a page at a time (an application with a
/// million grants is counted in the memory of one page): the grants that came from v2
/// accounts, by provider and as placeholders, and the first grant of each of the plan's test
/// accounts.
struct GrantTally {
    migrated: u64,
    placeholders: u64,
    by_provider: BTreeMap<String, usize>,
    /// Each test account of the pair (single clone) → its first grant, if any.
    tests: HashMap<String, Option<Grant>>,
}

impl GrantTally {
    async fn read(app: &AppClient, steps: &[&Step]) -> Result<GrantTally, EngineError> {
        let mut tally = GrantTally {
            migrated: 0,
            placeholders: 0,
            by_provider: BTreeMap::new(),
            tests: steps
                .iter()
                .filter_map(|s| match &s.kind {
                    StepKind::Clone(c) => Some((c.account_id.clone(), None)),
                    _ => None,
                })
                .collect(),
        };
        let mut pages = app.grant_pages(&GrantFilter::default());
        while let Some(page) = pages.next_page().await? {
            for grant in page.data {
                let Some(account) = &grant.account_id else {
                    continue;
                };
                tally.migrated += 1;
                if grant.grant_status == Some(GrantStatus::Invalid) {
                    tally.placeholders += 1;
                }
                *tally.by_provider.entry(grant.provider.clone()).or_default() += 1;
                if let Some(first @ None) = tally.tests.get_mut(account.as_str()) {
                    *first = Some(grant);
                }
            }
        }
        Ok(tally)
    }
}
