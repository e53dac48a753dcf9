//! Read-only probes: what each step would do, and the evidence. `plan` shows these; `apply`
//! takes one right before each write, so a write is never made on stale knowledge.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::api::{
    BatchProvider, Connector, ConnectorProvider, Grant, GrantStatus, JobStatus, JobType,
    MigrationJob, Webhook,
};
use crate::client::{JobFilter, Secret};
use crate::graph::{BatchStep, CloneStep, ConnectorStep, Step, StepKind, WebhookStep};

use super::EngineError;
use super::context::Context;
use super::journal::{JobCounts, StepState, StepStatus};

/// What a step would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Already as the plan says; the reason is the evidence.
    Unchanged,
    Create,
    Update,
    /// A batch wave whose jobs are running: follow them, start nothing.
    Attach,
    /// Waits on an earlier step that has work to do.
    Blocked,
    /// The live state contradicts the plan; nothing is written for this pair.
    Conflict,
    /// A wave its pair's gate stops: the previous wave failed too much. Not a pending change.
    Held,
    /// Ended in a failure that is an outcome, recorded by an earlier run: a wave whose job
    /// failed, a test account Nylas refused. Not repeated on its own (only when the plan
    /// changes what was asked, or a rerun flag names it), so not a pending change; `apply`
    /// still ends incomplete while it stands.
    Failed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Unchanged => "unchanged",
            Action::Create => "create",
            Action::Update => "update",
            Action::Attach => "attach",
            Action::Blocked => "blocked",
            Action::Conflict => "conflict",
            Action::Held => "held",
            Action::Failed => "failed",
        }
    }
}

/// A probe's result: the action and, in words, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub action: Action,
    pub reason: String,
    /// What the write will need from the probe (a webhook's ID, a wave's jobs).
    #[serde(skip)]
    pub found: Found,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Found {
    #[default]
    Nothing,
    Webhook(Box<Webhook>),
    /// A wave's jobs, when they already exist. The migration job may not be listed yet right
    /// after the request; it is found through its link to the snapshot job.
    Jobs(WaveJobs),
    /// Jobs on the application that this state does not know (a wave's conflict, or what
    /// `--adopt-existing-jobs` will record).
    UnknownJobs(Vec<MigrationJob>),
}

impl Observation {
    fn new(action: Action, reason: impl Into<String>) -> Observation {
        Observation {
            action,
            reason: reason.into(),
            found: Found::Nothing,
        }
    }
}

/// The jobs one batch clone started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveJobs {
    pub snapshot_job_id: String,
    pub clone_job_id: Option<String>,
}

/// The grants of one pair's single-clone accounts, looked up in pages rather than one call
/// per account.
pub type GrantIndex = HashMap<String, Grant>;

pub async fn grant_index(ctx: &Context, pair: usize) -> Result<GrantIndex, EngineError> {
    let accounts: Vec<&str> = ctx
        .graph
        .steps()
        .filter(|s| s.pair == pair)
        .filter_map(|s| match &s.kind {
            StepKind::Clone(c) => Some(c.account_id.as_str()),
            _ => None,
        })
        .collect();
    if accounts.is_empty() {
        return Ok(GrantIndex::new());
    }
    let pages = ctx.apps[pair].grants_for_accounts(&accounts).await?;
    Ok(pages
        .data
        .into_iter()
        .filter_map(|g| g.account_id.clone().map(|a| (a, g)))
        .collect())
}

/// The journal's record of a step, unless it was made for another v3 application.
pub fn journal_state(ctx: &Context, step: &Step) -> Result<Option<StepState>, EngineError> {
    let Some(journal) = &ctx.journal else {
        return Ok(None);
    };
    let app = &ctx.pair(step).v3_app_id;
    Ok(journal.step(&step.id)?.filter(|s| {
        s.record
            .app_id
            .as_ref()
            .is_none_or(|recorded| recorded == app)
    }))
}

/// The key a wave's request is recorded under: what it asks Nylas for.
pub fn request_key(b: &BatchStep) -> String {
    serde_json::json!({"request": b.request, "placeholders": b.placeholders}).to_string()
}

/// The key a single clone's refusal is recorded under: what it asked Nylas for.
pub fn clone_key(c: &CloneStep) -> String {
    serde_json::json!({"placeholders": c.placeholders}).to_string()
}

/// The key a link's refusal is recorded under: which applications, in which region.
pub fn link_key(ctx: &Context, step: &Step) -> String {
    let pair = ctx.pair(step);
    serde_json::json!({"v2": pair.v2_app_id, "v3": pair.v3_app_id, "region": pair.region.as_str()})
        .to_string()
}

/// The journal's record of a definite refusal of `step` (Nylas answered 400) that still stands:
/// made for the same request (`key`), nothing it depends on written since (a connector fixed,
/// an import run again), and no rerun flag naming the step.
pub fn standing_refusal(
    ctx: &Context,
    step: &Step,
    key: &str,
) -> Result<Option<StepState>, EngineError> {
    let Some(state) = journal_state(ctx, step)? else {
        return Ok(None);
    };
    if state.status != StepStatus::Failed
        || !state.record.refused
        || state.record.request_key.as_deref() != Some(key)
        || ctx.options.rerun(&step.id)
    {
        return Ok(None);
    }
    // What Nylas checks when it refuses (the connectors, the link, the import) written in a
    // later run: the refusal may no longer hold.
    for other in ctx.graph.steps().filter(|s| {
        s.pair == step.pair
            && s.id != step.id
            && matches!(
                s.kind,
                StepKind::Link | StepKind::Import | StepKind::Connector(_)
            )
    }) {
        if let Some(written) = journal_state(ctx, other)?
            && written.status == StepStatus::Done
            && written.run_id > state.run_id
            && written
                .record
                .action
                .as_deref()
                .is_some_and(|a| a != "unchanged")
        {
            return Ok(None);
        }
    }
    Ok(Some(state))
}

/// A URL as Nylas would store it (lower-case scheme and host, `/` for an empty path), so that
/// `https://Hooks.Example.com` and `https://hooks.example.com/` name one destination.
pub fn normalized_url(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.to_string())
}

/// Observes one step. Clone steps read `grants` (see [`grant_index`]) instead of calling.
pub async fn observe(
    ctx: &Context,
    step: &Step,
    grants: &GrantIndex,
) -> Result<Observation, EngineError> {
    match &step.kind {
        StepKind::Link => observe_link(ctx, step).await,
        StepKind::Import => observe_import(ctx, step),
        StepKind::Connector(c) => observe_connector(ctx, step, c).await,
        StepKind::Webhook(w) => observe_webhook(ctx, step, w).await,
        StepKind::Clone(c) => Ok(match grants.get(&c.account_id) {
            Some(grant) => Observation::new(Action::Unchanged, grant_evidence(grant)),
            None => match standing_refusal(ctx, step, &clone_key(c))? {
                Some(refusal) => Observation::new(
                    Action::Failed,
                    format!(
                        "Nylas refused this account in run {}: {}; cloned again only when the plan changes its placeholders or a connector is written again, or with `apply --rerun-clone {}/{}`",
                        refusal.run_id,
                        refusal.record.error.as_deref().unwrap_or("no reason given"),
                        ctx.pair(step).name,
                        c.account_id
                    ),
                ),
                None => Observation::new(Action::Create, "no v3 grant for this account yet"),
            },
        }),
        StepKind::Batch(b) => observe_batch(ctx, step, b).await,
    }
}

pub fn grant_evidence(grant: &Grant) -> String {
    match grant.grant_status {
        Some(GrantStatus::Invalid) => {
            format!("placeholder grant {} (user must re-authenticate)", grant.id)
        }
        _ => format!("grant {} exists", grant.id),
    }
}

async fn observe_link(ctx: &Context, step: &Step) -> Result<Observation, EngineError> {
    let pair = ctx.pair(step);
    let app = match ctx.app(step).get_application().await {
        Ok(response) => response.data,
        Err(err) if err.status() == Some(401) => {
            // A key from the other data centre is unknown here. Ask the other region with the
            // same key: if it answers, the plan names the wrong region, which is a conflict to
            // explain, not a bad key.
            return match other_region(ctx, step).await {
                Some(actual) => Ok(Observation::new(
                    Action::Conflict,
                    format!(
                        "v3 application {} is in region `{actual}` but the plan says `{}`; a v2 app can only move to a v3 app in its own region",
                        pair.v3_app_id, pair.region
                    ),
                )),
                None => Err(err.into()),
            };
        }
        Err(err) => return Err(err.into()),
    };
    if let Some(region) = app.region.as_deref()
        && region != pair.region.as_str()
    {
        return Ok(Observation::new(
            Action::Conflict,
            format!(
                "v3 application {} is in region `{region}` but the plan says `{}`; a v2 app can only move to a v3 app in its own region",
                pair.v3_app_id, pair.region
            ),
        ));
    }
    Ok(match app.v2_application_id.as_deref() {
        Some(linked) if linked == pair.v2_app_id => Observation::new(
            Action::Unchanged,
            format!("v3 app already linked to v2 app {linked}"),
        ),
        Some(other) => Observation::new(
            Action::Conflict,
            format!(
                "v3 application {} is already linked to another v2 app, {other}; a v3 app is linked to one v2 app only",
                pair.v3_app_id
            ),
        ),
        None => match standing_refusal(ctx, step, &link_key(ctx, step))? {
            Some(refusal) => Observation::new(
                Action::Conflict,
                format!(
                    "Nylas refused in run {} to link v2 app {} to v3 app {}: {}; {}",
                    refusal.run_id,
                    pair.v2_app_id,
                    pair.v3_app_id,
                    refusal.record.error.as_deref().unwrap_or("no reason given"),
                    link_refusal_help(ctx, step)
                ),
            ),
            None => Observation::new(
                Action::Create,
                format!(
                    "link v2 app {} to v3 app {}",
                    pair.v2_app_id, pair.v3_app_id
                ),
            ),
        },
    })
}

/// What to do about a link Nylas refused with a 400.
pub fn link_refusal_help(ctx: &Context, step: &Step) -> String {
    let pair = ctx.pair(step);
    format!(
        "help: a v2 application links only to a v3 application in its own region (the plan says `{}`), and to one v3 application only: check the pair's `region` and `v2.app_id`, or unlink the v2 app from the other v3 app in the Nylas dashboard, then run `apply --rerun-link {}`",
        pair.region, pair.name
    )
}

/// The region whose API accepts this pair's key, when it is not the plan's.
async fn other_region(ctx: &Context, step: &Step) -> Option<crate::api::Region> {
    let pair = ctx.pair(step);
    for region in crate::api::Region::ALL
        .into_iter()
        .filter(|r| *r != pair.region)
    {
        let mut config = super::context::app_config(pair, &ctx.secrets[step.pair]);
        config.region = region;
        let app = ctx.client.app(config);
        if let Ok(response) = app.get_application().await {
            return Some(
                response
                    .data
                    .region
                    .as_deref()
                    .and_then(crate::api::Region::parse)
                    .unwrap_or(region),
            );
        }
    }
    None
}

fn observe_import(ctx: &Context, step: &Step) -> Result<Observation, EngineError> {
    // Nylas has no read-back of "was imported"; the journal is the evidence. Import is safe to
    // repeat (the guides say the calls may be retried), so without a record it runs again.
    Ok(match journal_state(ctx, step)? {
        Some(state) if state.status == StepStatus::Done => Observation::new(
            Action::Unchanged,
            format!("imported by run {}", state.run_id),
        ),
        _ => Observation::new(
            Action::Create,
            "import v2 settings, redirect URIs and integrations (as connectors)",
        ),
    })
}

/// The settings a connector fix writes, resolved; and the fingerprints of its secrets.
pub struct DesiredConnector {
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    pub scope: Option<Vec<String>>,
    pub fingerprints: Vec<(String, String)>,
}

pub fn desired_connector(
    ctx: &Context,
    step: &Step,
    c: &ConnectorStep,
) -> Result<DesiredConnector, EngineError> {
    let pair = &ctx.pair(step).name;
    let mut fingerprints = Vec::new();
    let settings = match &c.settings {
        None => None,
        Some(s) => {
            let mut map = serde_json::Map::new();
            if let Some(id) = &s.client_id {
                let id =
                    ctx.source
                        .setting(id, &format!("{} connector client_id", c.provider), pair)?;
                map.insert("client_id".into(), id.expose().into());
            }
            if let Some(secret) = &s.client_secret {
                let secret: Secret = ctx.source.resolve(
                    secret,
                    &format!("{} connector client_secret", c.provider),
                    pair,
                )?;
                if let Some(f) = &ctx.fingerprinter {
                    fingerprints.push(("client_secret".to_owned(), f.fingerprint(pair, &secret)));
                }
                map.insert("client_secret".into(), secret.expose().into());
            }
            if let Some(tenant) = &s.tenant {
                map.insert("tenant".into(), tenant.clone().into());
            }
            if let Some(topic) = &s.topic_name {
                map.insert("topic_name".into(), topic.clone().into());
            }
            Some(map)
        }
    };
    Ok(DesiredConnector {
        settings,
        scope: c.scope.clone(),
        fingerprints,
    })
}

/// Why a live connector differs from the plan, or `None` when it matches.
fn connector_difference(
    live: &Connector,
    desired: &DesiredConnector,
    recorded: &[(String, String)],
) -> Option<String> {
    let mut differences = Vec::new();
    if let Some(scope) = &desired.scope {
        let want: BTreeSet<&str> = scope.iter().map(String::as_str).collect();
        let have: BTreeSet<&str> = live.scope.iter().flatten().map(String::as_str).collect();
        if want != have {
            differences.push("scope".to_owned());
        }
    }
    if let Some(settings) = &desired.settings {
        for (key, value) in settings {
            if key == "client_secret" {
                // Secrets cannot be read back: matching means this journal wrote this very
                // secret (same keyed fingerprint).
                let want = desired.fingerprints.iter().find(|(k, _)| k == key);
                let have = recorded.iter().find(|(k, _)| k == key);
                if want.is_none() || want != have {
                    differences.push(format!("{key} (not known to be set)"));
                }
            } else if live.settings.as_ref().and_then(|s| s.get(key)) != Some(value) {
                differences.push(key.clone());
            }
        }
    }
    (!differences.is_empty()).then(|| format!("differs in {}", differences.join(", ")))
}

async fn observe_connector(
    ctx: &Context,
    step: &Step,
    c: &ConnectorStep,
) -> Result<Observation, EngineError> {
    let desired = desired_connector(ctx, step, c)?;
    let live = ctx.app(step).get_connector(c.provider).await?.data;
    let Some(live) = live else {
        return Ok(Observation::new(
            Action::Create,
            format!("no {} connector yet", c.provider),
        ));
    };
    let recorded = journal_state(ctx, step)?
        .map(|s| s.record.fingerprints)
        .unwrap_or_default();
    Ok(match connector_difference(&live, &desired, &recorded) {
        None => Observation::new(
            Action::Unchanged,
            format!("{} connector has the plan's settings and scope", c.provider),
        ),
        Some(why) => Observation::new(Action::Update, format!("{} connector {why}", c.provider)),
    })
}

async fn observe_webhook(
    ctx: &Context,
    step: &Step,
    w: &WebhookStep,
) -> Result<Observation, EngineError> {
    let webhooks = ctx.app(step).list_webhooks().await?.data;
    let want_url = normalized_url(&w.url);
    let mut same_url: Vec<Webhook> = webhooks
        .into_iter()
        .filter(|h| normalized_url(&h.webhook_url) == want_url)
        .collect();
    if same_url.len() > 1 {
        return Ok(Observation::new(
            Action::Conflict,
            duplicate_webhooks(&w.url, &same_url, None),
        ));
    }
    let Some(live) = same_url.pop() else {
        return Ok(Observation::new(
            Action::Create,
            "no destination with this URL yet",
        ));
    };
    let mut differences = Vec::new();
    let want: BTreeSet<_> = w.triggers.iter().collect();
    let have: BTreeSet<_> = live.trigger_types.iter().collect();
    if want != have {
        differences.push("triggers");
    }
    if w.description.is_some() && w.description != live.description {
        differences.push("description");
    }
    if let Some(emails) = &w.notification_emails {
        let want: BTreeSet<_> = emails.iter().collect();
        let have: BTreeSet<_> = live.notification_email_addresses.iter().flatten().collect();
        if want != have {
            differences.push("notification emails");
        }
    }
    let mut observation = if differences.is_empty() {
        Observation::new(
            Action::Unchanged,
            format!("destination {} has the plan's triggers", live.id),
        )
    } else {
        Observation::new(
            Action::Update,
            format!(
                "destination {} differs in {}",
                live.id,
                differences.join(", ")
            ),
        )
    };
    observation.found = Found::Webhook(Box::new(live));
    Ok(observation)
}

/// Why several destinations with one URL are a problem, and what to do.
pub fn duplicate_webhooks(url: &str, hooks: &[Webhook], ours: Option<&str>) -> String {
    let ids: Vec<String> = hooks
        .iter()
        .map(|h| {
            if Some(h.id.as_str()) == ours {
                format!("{} (made by this run)", h.id)
            } else {
                h.id.clone()
            }
        })
        .collect();
    format!(
        "{} webhook destinations have the URL {url}: {}; every notification reaches it {} times. Another run created one at the same time (two runners on one plan), or one was made by hand: delete the extra ones in the Nylas dashboard (nylas-migrate never deletes), and run one apply at a time",
        hooks.len(),
        ids.join(", "),
        hooks.len()
    )
}

/// Connector providers a batch filter needs (Graph accounts use the Microsoft connector).
fn needed_connector(provider: BatchProvider) -> Option<ConnectorProvider> {
    Some(match provider {
        BatchProvider::Google => ConnectorProvider::Google,
        BatchProvider::Microsoft | BatchProvider::Graph => ConnectorProvider::Microsoft,
        BatchProvider::Imap => ConnectorProvider::Imap,
        BatchProvider::Icloud => ConnectorProvider::Icloud,
        BatchProvider::Ews => ConnectorProvider::Ews,
        BatchProvider::VirtualCalendar => return None,
    })
}

pub fn job_summary(job: &MigrationJob) -> String {
    format!(
        "job {} {}: {} of {} migrated, {}, {} failed",
        job.job_id,
        job.status,
        job.count_success,
        job.count_all,
        super::progress::placeholders(job.count_warning),
        job.count_failed
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
                "run {} ({}): {} of {} migrated, {}, {} failed",
                self.run_id,
                self.status,
                c.success,
                c.all,
                super::progress::placeholders(c.warning),
                c.failed
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

fn wave_request(b: &BatchStep) -> String {
    let mode = b.request.mode.map_or("all", |m| m.as_str());
    format!(
        "{mode}{}",
        b.request
            .limit
            .map_or(String::new(), |l| format!(", limit {l}"))
    )
}

async fn observe_batch(
    ctx: &Context,
    step: &Step,
    b: &BatchStep,
) -> Result<Observation, EngineError> {
    let pair = &ctx.pair(step).name;
    let state = journal_state(ctx, step)?;
    // A wave runs once per definition: once its jobs finished (completed, partial or failed)
    // it is done, and starts again only when its settings change or the user asks.
    let mut start_reason = None;
    if let Some(state) = &state
        && let Some(finished) = finished_wave(state)
    {
        let ran = finished.describe();
        let changed = state
            .record
            .request_key
            .as_ref()
            .is_some_and(|key| *key != request_key(b));
        if changed {
            start_reason = Some(format!(
                "the wave's settings changed since it finished in {ran}: start a batch clone with the new settings"
            ));
        } else if ctx.options.rerun(&step.id) {
            start_reason = Some(format!(
                "--rerun-wave: the wave finished in {ran}; start it again ({}), over the accounts that match now (its earlier jobs stay in the history)",
                wave_request(b)
            ));
        } else if finished.status == JobStatus::Failed {
            return Ok(Observation::new(
                Action::Failed,
                format!(
                    "wave failed in {ran}; not started again on its own: retry its accounts with a wave of mode only_failed, or run `apply --rerun-wave {pair}/{}`",
                    b.wave
                ),
            ));
        } else {
            return Ok(Observation::new(
                Action::Unchanged,
                format!("wave finished in {ran}"),
            ));
        }
    }
    let jobs = ctx.app(step).list_jobs(&JobFilter::default()).await?.data;
    if start_reason.is_none()
        && let Some(state) = &state
    {
        match wave_jobs(ctx, state, &jobs)? {
            WaveMatch::One(found) => {
                let status = found
                    .clone_job_id
                    .as_ref()
                    .and_then(|id| jobs.iter().find(|j| &j.job_id == id))
                    .map_or("not listed yet".to_owned(), |j| j.status.to_string());
                let mut observation = Observation::new(
                    Action::Attach,
                    format!(
                        "wave's jobs exist (snapshot job {}, migration job {status}): follow them, start nothing",
                        found.snapshot_job_id
                    ),
                );
                observation.found = Found::Jobs(found);
                return Ok(observation);
            }
            WaveMatch::Several(ids) => {
                return Ok(Observation::new(
                    Action::Conflict,
                    format!(
                        "this wave's request got no answer, and {} batch clones appeared since (snapshot jobs {}): another run started one at the same time, so which is this wave's cannot be told; check the jobs in the Nylas dashboard, and run one apply at a time",
                        ids.len(),
                        ids.join(", ")
                    ),
                ));
            }
            WaveMatch::None => {}
        }
    }
    if let Some(conflict) = live_jobs_conflict(ctx, &jobs)? {
        return Ok(conflict);
    }
    // A wave filtered to providers whose connector does not exist (and that the plan does not
    // create) cannot clone anything: that is a conflict, known before any job starts.
    if let Some(providers) = &b.request.providers
        && import_done(ctx, step)?
    {
        let planned: Vec<ConnectorProvider> = ctx
            .graph
            .steps()
            .filter(|s| s.pair == step.pair)
            .filter_map(|s| match &s.kind {
                StepKind::Connector(c) => Some(c.provider),
                _ => None,
            })
            .collect();
        let live: Vec<ConnectorProvider> = ctx
            .app(step)
            .list_connectors()
            .await?
            .data
            .into_iter()
            .map(|c| c.provider)
            .collect();
        for provider in providers.iter().filter_map(|p| needed_connector(*p)) {
            if !live.contains(&provider) && !planned.contains(&provider) {
                return Ok(Observation::new(
                    Action::Conflict,
                    format!(
                        "the wave clones {provider} accounts but the v3 app has no {provider} connector and the plan creates none"
                    ),
                ));
            }
        }
    }
    let mut reason =
        start_reason.unwrap_or_else(|| format!("start a batch clone ({})", wave_request(b)));
    let unknown = unknown_jobs(ctx, &jobs)?;
    let mut found = Found::Nothing;
    if !unknown.is_empty() {
        // Only reached with --adopt-existing-jobs (otherwise a conflict above).
        reason = format!(
            "--adopt-existing-jobs: first record as history {}; then {reason}",
            describe_jobs(&unknown)
        );
        found = Found::UnknownJobs(unknown);
    }
    let mut observation = Observation::new(Action::Create, reason);
    observation.found = found;
    Ok(observation)
}

/// Jobs on the application that this state does not know: not started by any of its waves,
/// and not adopted.
pub fn unknown_jobs(
    ctx: &Context,
    jobs: &[MigrationJob],
) -> Result<Vec<MigrationJob>, EngineError> {
    let claimed = match &ctx.journal {
        Some(j) => j.claimed_jobs()?,
        None => Default::default(),
    };
    Ok(jobs
        .iter()
        .filter(|j| !claimed.contains(&j.job_id))
        .cloned()
        .collect())
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

/// Before a wave starts: the live jobs that make starting it unsafe. A pending or running job
/// (this wave's own are attached to before this is asked) would run over the same accounts; a
/// finished job this state does not know means this state is not the one that ran the plan (a
/// lost or different state folder), and the wave could migrate accounts the plan never asked
/// for, unless `--adopt-existing-jobs` records them as history first.
pub fn live_jobs_conflict(
    ctx: &Context,
    jobs: &[MigrationJob],
) -> Result<Option<Observation>, EngineError> {
    let known = match &ctx.journal {
        Some(j) => j.known_jobs()?,
        None => Vec::new(),
    };
    // This plan's own waves run one after another: a job one of them started is followed by
    // that wave (and the walk starts this one only after it). Any other unfinished job would
    // run over the same accounts as this wave.
    let started_here = |id: &str| {
        known
            .iter()
            .any(|k| k.job_id == id && k.origin == super::journal::JobOrigin::Wave)
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
        return Ok(Some(Observation::new(
            Action::Conflict,
            format!(
                "{} job {} is {} on this application and {whose}; wait for it to finish, or run from the state folder that started it",
                job.job_type, job.job_id, job.status
            ),
        )));
    }
    let unknown = unknown_jobs(ctx, jobs)?;
    if unknown.is_empty() || ctx.options.adopt_existing_jobs {
        return Ok(None);
    }
    let mut observation = Observation::new(
        Action::Conflict,
        format!(
            "this state folder does not know the application's {}. This state is likely new or not the one that ran this plan (a lost CI cache, another machine, the dashboard), and starting the wave could migrate accounts the plan never asked for: restore the state folder that ran the plan, or run `apply --adopt-existing-jobs` to record these jobs as this plan's history and start the wave",
            describe_jobs(&unknown)
        ),
    );
    observation.found = Found::UnknownJobs(unknown);
    Ok(Some(observation))
}

fn import_done(ctx: &Context, step: &Step) -> Result<bool, EngineError> {
    let import = ctx
        .graph
        .steps()
        .find(|s| s.pair == step.pair && matches!(s.kind, StepKind::Import));
    Ok(match import {
        Some(import) => journal_state(ctx, import)?.is_some_and(|s| s.status == StepStatus::Done),
        None => false,
    })
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
    if state.status == StepStatus::Running
        && let Some(snapshot) = &state.record.snapshot_job_id
    {
        return Ok(WaveMatch::One(WaveJobs {
            snapshot_job_id: snapshot.clone(),
            clone_job_id: state
                .record
                .clone_job_id
                .clone()
                .or_else(|| linked_migration_job(jobs, snapshot)),
        }));
    }
    // A finished wave starts again only when asked (its old jobs stay known to this state).
    if state.status != StepStatus::Intent {
        return Ok(WaveMatch::None);
    }
    let claimed = match &ctx.journal {
        Some(j) => j.claimed_jobs()?,
        None => Default::default(),
    };
    let new: Vec<&MigrationJob> = jobs
        .iter()
        .filter(|j| {
            j.job_type == JobType::Snapshot
                && !state.record.jobs_before.contains(&j.job_id)
                && !claimed.contains(&j.job_id)
        })
        .collect();
    Ok(match new.as_slice() {
        [] => WaveMatch::None,
        [snapshot] => WaveMatch::One(WaveJobs {
            snapshot_job_id: snapshot.job_id.clone(),
            clone_job_id: linked_migration_job(jobs, &snapshot.job_id),
        }),
        several => WaveMatch::Several(several.iter().map(|j| j.job_id.clone()).collect()),
    })
}

/// Jobs that appeared after this wave's request (not in `before`, not known to this state) and
/// are not this wave's own: another runner's, started at the same time.
pub fn concurrent_jobs(
    ctx: &Context,
    before: &[String],
    ours: &WaveJobs,
    jobs: &[MigrationJob],
) -> Result<Vec<MigrationJob>, EngineError> {
    let claimed = match &ctx.journal {
        Some(j) => j.claimed_jobs()?,
        None => Default::default(),
    };
    let linked = linked_migration_job(jobs, &ours.snapshot_job_id);
    let ours_ids = [
        Some(&ours.snapshot_job_id),
        ours.clone_job_id.as_ref(),
        linked.as_ref(),
    ];
    Ok(jobs
        .iter()
        .filter(|j| {
            !before.contains(&j.job_id)
                && !claimed.contains(&j.job_id)
                && !ours_ids.contains(&Some(&j.job_id))
                && j.linked_job_id.as_deref() != Some(ours.snapshot_job_id.as_str())
        })
        .cloned()
        .collect())
}

/// The migration job linked to a snapshot job (the link may be recorded on either job).
pub fn linked_migration_job(jobs: &[MigrationJob], snapshot_id: &str) -> Option<String> {
    let snapshot = jobs.iter().find(|j| j.job_id == snapshot_id);
    jobs.iter()
        .find(|j| {
            j.job_type == crate::api::JobType::Migration
                && (j.linked_job_id.as_deref() == Some(snapshot_id)
                    || snapshot
                        .is_some_and(|s| s.linked_job_id.as_deref() == Some(j.job_id.as_str())))
        })
        .map(|j| j.job_id.clone())
}
