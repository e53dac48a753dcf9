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

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt};

use crate::api::forms::normalized_url;
use crate::api::{
    ChannelStatus, CloneMode, Grant, GrantStatus, JobStatus, MigrationJob, RequestedStatus,
};
use crate::client::{AppClient, GrantFilter, JobFilter};
use crate::engine::{
    EngineError, PAIRS_AT_ONCE, Tally, pubsub_difference, redirect_uri_difference, sns_difference,
    webhook_difference,
};
use crate::graph::{Step, StepGraph, StepId, StepKind};
use crate::state::journal::{Journal, JournalError, StepStatus};

use super::checklist::{Check, Item, PairVerification, VERIFY_VERSION, Verification};

fn count_grants(n: usize) -> String {
    if n == 1 {
        "1 grant".to_owned()
    } else {
        format!("{n} grants")
    }
}

fn item(
    check: Check,
    subject: impl Into<String>,
    passed: bool,
    evidence: impl Into<String>,
) -> Item {
    Item {
        check,
        subject: subject.into(),
        passed,
        evidence: evidence.into(),
    }
}

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

async fn verify_pair(
    graph: &StepGraph,
    index: usize,
    app: &AppClient,
    journal: Option<&Journal>,
) -> Result<PairVerification, EngineError> {
    let pair = &graph.pairs()[index];
    let steps: Vec<_> = graph.steps().filter(|s| s.pair == index).collect();
    let mut items = Vec::new();

    // Link and region.
    let application = app.get_application().await?.data;
    let linked = application.v2_application_id.as_deref();
    items.push(item(
        Check::Link,
        "",
        linked == Some(pair.v2_app_id.as_str()),
        match linked {
            Some(v2) if v2 == pair.v2_app_id => {
                format!(
                    "v3 application {} is linked to v2 application {v2}",
                    pair.v3_app_id
                )
            }
            Some(v2) => format!(
                "v3 application {} is linked to v2 application {v2}, not the plan's {}",
                pair.v3_app_id, pair.v2_app_id
            ),
            None => format!(
                "v3 application {} is linked to no v2 application",
                pair.v3_app_id
            ),
        },
    ));
    let region = application.region.as_deref();
    items.push(item(
        Check::Region,
        "",
        region == Some(pair.region.as_str()),
        match region {
            Some(r) if r == pair.region.as_str() => format!("region {r}, as the plan says"),
            Some(r) => format!("region {r}, the plan says {}", pair.region),
            None => "the application does not say its region".to_owned(),
        },
    ));

    // Grants, by provider and status.
    let tally = GrantTally::read(app, &steps).await?;
    let by_provider = &tally.by_provider;

    // Connectors.
    let connectors = app.list_connectors().await?.data;
    let mut providers: BTreeSet<String> = by_provider.keys().map(|p| (*p).to_owned()).collect();
    for step in &steps {
        if let StepKind::Connector(c) = &step.kind {
            providers.insert(c.provider.as_str().to_owned());
        }
    }
    for provider in &providers {
        let present = connectors.iter().any(|c| c.provider.as_str() == provider);
        let uses = by_provider.get(provider.as_str()).copied().unwrap_or(0);
        items.push(item(
            Check::Connector,
            provider.clone(),
            present,
            match (present, uses) {
                (true, 0) => "present (the plan fixes it; no grant uses it yet)".to_owned(),
                (true, n) => format!("present, used by {}", count_grants(n)),
                (false, 0) => "absent, though the plan fixes it".to_owned(),
                (false, n) => format!("absent, though {} use it", count_grants(n)),
            },
        ));
    }
    // Import makes a Microsoft connector without credentials from a v2 Microsoft integration:
    // wherever there is one (or the grants or the plan need one), it must have its Azure app.
    if providers.contains("microsoft")
        || connectors
            .iter()
            .any(|c| c.provider.as_str() == "microsoft")
    {
        let client_id = connectors
            .iter()
            .find(|c| c.provider.as_str() == "microsoft")
            .and_then(|c| c.settings.as_ref())
            .and_then(|s| s.get("client_id"))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty());
        items.push(item(
            Check::MicrosoftCredentials,
            "microsoft",
            client_id.is_some(),
            match client_id {
                Some(_) => "the Microsoft connector has its Azure app's client_id (its secret cannot be read back)".to_owned(),
                None => "the Microsoft connector has no client_id: import leaves it without credentials; fix it in the plan with the new Azure app".to_owned(),
            },
        ));
    }

    // Redirect URIs, notification destinations and webhook tests.
    items.extend(notification_items(&steps, app, journal).await?);

    // Test accounts.
    let grant_of = |account: &str| tally.tests.get(account).and_then(Option::as_ref);
    let mut singles_with_grant = 0u64;
    for step in &steps {
        let StepKind::Clone(c) = &step.kind else {
            continue;
        };
        let (passed, evidence) = match grant_of(&c.account_id) {
            Some(g) => {
                singles_with_grant += 1;
                match g.grant_status {
                    Some(GrantStatus::Invalid) => (
                        false,
                        format!("placeholder grant {}: the user must re-authenticate", g.id),
                    ),
                    _ => (true, format!("valid grant {} ({})", g.id, g.provider)),
                }
            }
            None => {
                let why = journal
                    .map(|j| j.step(&step.id))
                    .transpose()?
                    .flatten()
                    .filter(|s| s.status == StepStatus::Failed)
                    .and_then(|s| s.record.error);
                (
                    false,
                    match why {
                        Some(e) => format!("no grant: the clone failed: {e}"),
                        None => "no grant: not cloned yet".to_owned(),
                    },
                )
            }
        };
        items.push(item(
            Check::TestAccount,
            c.account_id.clone(),
            passed,
            evidence,
        ));
    }

    // Waves, with the live jobs' counts when the journal knows their IDs.
    let waves: Vec<_> = steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Batch(b) => Some((*s, b)),
            _ => None,
        })
        .collect();
    let mut states = Vec::new();
    for (step, _) in &waves {
        states.push(wave_state(journal, &step.id)?);
    }
    let jobs: Vec<MigrationJob> = if states.iter().any(|s| {
        matches!(
            s,
            WaveState::Finished {
                clone_job_id: Some(_),
                ..
            } | WaveState::InProgress {
                clone_job_id: Some(_)
            }
        )
    }) {
        app.list_jobs(&JobFilter::default()).await?.data
    } else {
        Vec::new()
    };
    let mut counted = 0u64;
    let mut recounting = false;
    for (n, ((_, wave), state)) in waves.iter().zip(&states).enumerate() {
        let earlier_clones = n > 0 || singles_with_grant > 0;
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
                    .and_then(|id| jobs.iter().find(|j| j.job_id == id));
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
                counted += success + warning;
                if wave.request.mode == Some(CloneMode::All) && earlier_clones {
                    recounting = true;
                }
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
                if JobStatus::parse(&status) == Some(JobStatus::Failed) {
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
                }
            }
        };
        items.push(item(Check::Wave, wave.wave.clone(), passed, evidence));
    }

    // Grants from v2 accounts against what the clones report.
    if !waves.is_empty() || singles_with_grant > 0 {
        let have = tally.migrated;
        let expected = counted + singles_with_grant;
        let (passed, note) = if recounting {
            (
                have <= expected,
                " (a wave of mode `all` after other clones counts accounts that already had a grant again, so the grants may be fewer)",
            )
        } else {
            (have == expected, "")
        };
        let placeholders = tally.placeholders;
        items.push(item(
            Check::Grants,
            "",
            passed,
            format!(
                "{have} grants from v2 accounts ({}); the waves report {counted} migrated or placeholders, plus {singles_with_grant} test account{}: {expected}{note}",
                crate::engine::placeholders(placeholders),
                if singles_with_grant == 1 { "" } else { "s" }
            ),
        ));
    }

    Ok(PairVerification {
        pair: pair.name.clone(),
        region: pair.region,
        passed: items.iter().all(|i| i.passed),
        items,
    })
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

/// Whether a live object is as the plan says: absent, or different (`differences`, the status
/// among them: a plan wants its destinations `active` unless it says `pause`). The very
/// comparison `plan` and `apply` make, so that the three agree.
fn settled(
    what: &str,
    id: &str,
    differences: &[&str],
    status: Option<&str>,
    wanted: RequestedStatus,
) -> (bool, String) {
    let status = status.unwrap_or("of no reported status");
    if differences.is_empty() {
        (true, format!("{what} {id} {status}, as the plan says"))
    } else if differences == ["status"] {
        (
            false,
            format!("{what} {id} is {status}, not {wanted} as the plan says"),
        )
    } else {
        (
            false,
            format!(
                "{what} {id} ({status}) differs from the plan in {}",
                differences.join(", ")
            ),
        )
    }
}

/// The items of the pair's redirect URIs, webhook destinations with their tests, and
/// channels; each kind is read once, and only when the plan has one.
async fn notification_items(
    steps: &[&Step],
    app: &AppClient,
    journal: Option<&Journal>,
) -> Result<Vec<Item>, EngineError> {
    let mut items = Vec::new();
    let of = |f: fn(&StepKind) -> bool| steps.iter().filter(|s| f(&s.kind)).count() > 0;

    if of(|k| matches!(k, StepKind::RedirectUri(_))) {
        let live = app.list_redirect_uris().await?.data;
        for step in steps {
            let StepKind::RedirectUri(r) = &step.kind else {
                continue;
            };
            let url = normalized_url(&r.url);
            let same: Vec<_> = live
                .iter()
                .filter(|l| normalized_url(&l.url) == url)
                .collect();
            let found = same
                .iter()
                .find(|l| l.platform.platform() == r.platform)
                .or(same.first());
            let (passed, evidence) = match found {
                None => (
                    false,
                    format!("absent: no redirect URI with this URL among {}", live.len()),
                ),
                Some(l) => {
                    let differences = redirect_uri_difference(l, r);
                    if differences.is_empty() {
                        (true, format!("redirect URI {} for {}", l.id, r.platform))
                    } else {
                        (
                            false,
                            format!(
                                "redirect URI {} differs from the plan in {} (it is for {})",
                                l.id,
                                differences.join(", "),
                                l.platform.platform()
                            ),
                        )
                    }
                }
            };
            items.push(item(Check::RedirectUri, r.url.clone(), passed, evidence));
        }
    }

    if of(|k| matches!(k, StepKind::Webhook(_))) {
        let live = app.list_webhooks().await?.data;
        for step in steps {
            match &step.kind {
                StepKind::Webhook(w) => {
                    let url = normalized_url(&w.url);
                    let (passed, evidence) =
                        match live.iter().find(|h| normalized_url(&h.webhook_url) == url) {
                            None => (
                                false,
                                format!(
                                    "absent: no destination with this URL among {} destinations",
                                    live.len()
                                ),
                            ),
                            Some(h) => settled(
                                "destination",
                                &h.id,
                                &webhook_difference(h, w),
                                h.status.as_deref(),
                                w.status,
                            ),
                        };
                    items.push(item(Check::Webhook, w.url.clone(), passed, evidence));
                }
                StepKind::WebhookTest(t) => {
                    let trigger = t.event.trigger_type.as_str();
                    let state = journal.map(|j| j.step(&step.id)).transpose()?.flatten();
                    let (passed, evidence) = match state {
                        Some(s)
                            if s.status == StepStatus::Done
                                && s.record.request_key.as_deref() == Some(trigger) =>
                        {
                            (
                                true,
                                format!(
                                    "the endpoint acknowledged a {trigger} test event in run {}",
                                    s.run_id
                                ),
                            )
                        }
                        Some(s)
                            if s.status == StepStatus::Failed
                                && s.record.request_key.as_deref() == Some(trigger) =>
                        {
                            (
                                false,
                                format!(
                                    "not acknowledged in run {}: {}",
                                    s.run_id,
                                    s.record.error.as_deref().unwrap_or("it failed")
                                ),
                            )
                        }
                        _ => (false, format!("no {trigger} test event acknowledged yet")),
                    };
                    items.push(item(
                        Check::WebhookTest,
                        t.event.webhook_url.clone(),
                        passed,
                        evidence,
                    ));
                }
                _ => {}
            }
        }
    }

    let status = |s: Option<ChannelStatus>| s.map(ChannelStatus::as_listed);
    if of(|k| matches!(k, StepKind::Pubsub(_))) {
        let live = app.list_pubsub_channels().await?.data;
        for step in steps {
            let StepKind::Pubsub(p) = &step.kind else {
                continue;
            };
            let (passed, evidence) = match live.iter().find(|c| c.topic == p.topic) {
                None => (
                    false,
                    format!(
                        "absent: no Pub/Sub channel with this topic among {}",
                        live.len()
                    ),
                ),
                Some(c) => settled(
                    "Pub/Sub channel",
                    &c.id,
                    &pubsub_difference(c, p),
                    status(c.status),
                    p.wanted_status(),
                ),
            };
            items.push(item(Check::Pubsub, p.topic.clone(), passed, evidence));
        }
    }
    if of(|k| matches!(k, StepKind::Sns(_))) {
        let live = app.list_sns_channels().await?.data;
        for step in steps {
            let StepKind::Sns(sns) = &step.kind else {
                continue;
            };
            let (passed, evidence) = match live.iter().find(|c| c.topic == sns.topic) {
                None => (
                    false,
                    format!(
                        "absent: no SNS channel with this topic among {}",
                        live.len()
                    ),
                ),
                Some(c) => settled(
                    "SNS channel",
                    &c.id,
                    &sns_difference(c, sns),
                    status(c.status),
                    sns.wanted_status(),
                ),
            };
            items.push(item(Check::Sns, sns.topic.clone(), passed, evidence));
        }
    }
    Ok(items)
}
