//! Read-only probes: what each step would do, and the evidence. `plan` shows these; `apply`
//! takes one right before each write, so a write is never made on stale knowledge.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::api::{
    BatchProvider, Connector, ConnectorProvider, Grant, GrantStatus, MigrationJob, Webhook,
};
use crate::client::{JobFilter, Secret};
use crate::graph::{BatchStep, ConnectorStep, Step, StepKind, WebhookStep};

use super::EngineError;
use super::context::Context;
use super::journal::{StepState, StepStatus};

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
            None => Observation::new(Action::Create, "no v3 grant for this account yet"),
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
        None => Observation::new(
            Action::Create,
            format!(
                "link v2 app {} to v3 app {}",
                pair.v2_app_id, pair.v3_app_id
            ),
        ),
    })
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
    let Some(live) = webhooks
        .into_iter()
        .find(|h| normalized_url(&h.webhook_url) == want_url)
    else {
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

async fn observe_batch(
    ctx: &Context,
    step: &Step,
    b: &BatchStep,
) -> Result<Observation, EngineError> {
    let state = journal_state(ctx, step)?;
    if let Some(state) = &state
        && state.status == StepStatus::Done
    {
        let counts = state.record.counts.unwrap_or_default();
        let ran = format!(
            "run {} ({}): {} of {} migrated, {}, {} failed",
            state.run_id,
            state.record.job_status.as_deref().unwrap_or("finished"),
            counts.success,
            counts.all,
            super::progress::placeholders(counts.warning),
            counts.failed
        );
        // A wave whose filters, limit or offset changed after it ran is a new wave to run.
        return Ok(match &state.record.request_key {
            Some(key) if *key != request_key(b) => Observation::new(
                Action::Create,
                format!(
                    "the wave's settings changed since it finished in {ran}: start a batch clone with the new settings"
                ),
            ),
            _ => Observation::new(Action::Unchanged, format!("wave finished in {ran}")),
        });
    }
    let jobs = ctx.app(step).list_jobs(&JobFilter::default()).await?.data;
    if let Some(state) = &state
        && let Some(found) = wave_jobs(ctx, state, &jobs)?
    {
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
    // A job this state folder did not start (another machine, a lost state folder, the
    // dashboard) is still running on the application: starting another would clone the same
    // accounts twice.
    let claimed = match &ctx.journal {
        Some(j) => j.claimed_jobs()?,
        None => Vec::new(),
    };
    if let Some(job) = jobs
        .iter()
        .find(|j| !j.status.is_finished() && !claimed.contains(&j.job_id))
    {
        return Ok(Observation::new(
            Action::Conflict,
            format!(
                "{} job {} is {} on this application and was not started from this state folder; wait for it to finish, or run from the state folder that started it",
                job.job_type, job.job_id, job.status
            ),
        ));
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
    let mode = b.request.mode.map_or("all", |m| m.as_str());
    Ok(Observation::new(
        Action::Create,
        format!(
            "start a batch clone ({mode}{})",
            b.request
                .limit
                .map_or(String::new(), |l| format!(", limit {l}"))
        ),
    ))
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

/// The jobs of a wave the journal says was started, or whose request may have been sent (an
/// intent left open by a crash or an unanswered request): the recorded job IDs, else a snapshot
/// job that did not exist before the request and that no other wave has claimed, with its
/// migration job if it is listed yet.
pub fn wave_jobs(
    ctx: &Context,
    state: &StepState,
    jobs: &[MigrationJob],
) -> Result<Option<WaveJobs>, EngineError> {
    if state.status == StepStatus::Running
        && let Some(snapshot) = &state.record.snapshot_job_id
    {
        return Ok(Some(WaveJobs {
            snapshot_job_id: snapshot.clone(),
            clone_job_id: state
                .record
                .clone_job_id
                .clone()
                .or_else(|| linked_migration_job(jobs, snapshot)),
        }));
    }
    // A failed or finished wave is started afresh; its old jobs stay claimed by it.
    if state.status != StepStatus::Intent {
        return Ok(None);
    }
    let claimed = match &ctx.journal {
        Some(j) => j.claimed_jobs()?,
        None => Vec::new(),
    };
    Ok(jobs
        .iter()
        .find(|j| {
            j.job_type == crate::api::JobType::Snapshot
                && !state.record.jobs_before.contains(&j.job_id)
                && !claimed.contains(&j.job_id)
        })
        .map(|snapshot| WaveJobs {
            snapshot_job_id: snapshot.job_id.clone(),
            clone_job_id: linked_migration_job(jobs, &snapshot.job_id),
        }))
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
