//! The writes: for one step, observe, then (if needed) journal the intent, write, journal the
//! outcome. Each kind documents what makes it safe to run again.

use std::time::Duration;

use crate::api::{CreateConnector, CreateWebhook, JobStatus, UpdateConnector, UpdateWebhook};
use crate::client::{ClientError, JobFilter};
use crate::graph::{BatchStep, CloneStep, ConnectorStep, Step, StepKind, WebhookStep};

use super::EngineError;
use super::context::Context;
use super::failpoint::reached;
use super::journal::{JobCounts, StepRecord, StepState, StepStatus};
use super::observe::{
    Action, Found, GrantIndex, Observation, WaveJobs, desired_connector, job_summary,
    journal_state, linked_migration_job, normalized_url, observe, request_key, wave_jobs,
};
use super::progress::Reporter;

/// How a wave's jobs ended.
enum WaveEnd {
    Finished(crate::api::MigrationJob),
    SnapshotFailed(crate::api::MigrationJob),
}

/// How a step ended in this run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Already as planned: nothing written.
    Unchanged(String),
    /// Written (created, updated, linked, cloned, wave finished).
    Changed(String),
    /// Could not be done; its dependents are skipped.
    Failed(String),
    /// Not attempted, and why.
    Skipped(String),
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Unchanged(_) | Outcome::Changed(_))
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Unchanged(_) => "unchanged",
            Outcome::Changed(_) => "changed",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Outcome::Unchanged(m)
            | Outcome::Changed(m)
            | Outcome::Failed(m)
            | Outcome::Skipped(m) => m,
        }
    }
}

pub struct Run<'a> {
    pub ctx: &'a Context,
    pub run_id: i64,
    pub reporter: &'a dyn Reporter,
    /// Longest wait between two polls of a wave's jobs.
    pub max_poll: Duration,
}

impl Run<'_> {
    fn record(
        &self,
        step: &Step,
        phase: &str,
        status: StepStatus,
        record: &StepRecord,
    ) -> Result<(), EngineError> {
        if let Some(journal) = &self.ctx.journal {
            journal.record(
                self.run_id,
                &step.id,
                phase,
                status,
                &self.stamped(step, record.clone()),
            )?;
        }
        Ok(())
    }

    /// The record with the v3 application it is about.
    fn stamped(&self, step: &Step, mut record: StepRecord) -> StepRecord {
        record.app_id = Some(self.ctx.pair(step).v3_app_id.clone());
        record
    }

    /// Runs one step whose dependencies have all succeeded.
    pub async fn step(&self, step: &Step, grants: &GrantIndex) -> Outcome {
        match self.try_step(step, grants).await {
            Ok(outcome) => outcome,
            Err(err) => {
                let message = err.to_string();
                let record = StepRecord {
                    error: Some(message.clone()),
                    request_id: err.request_id(),
                    ..StepRecord::default()
                };
                // While a write's outcome is unknown (a running wave, or an intent whose request
                // got no answer) the step's row holds what the next run needs to resolve it (the
                // jobs before the request, the wave's job IDs): the error goes to the audit trail
                // only. A definite refusal is recorded as a failure. A failure to journal leaves the previous state, which the
                // next run observes anyway.
                if let Some(journal) = &self.ctx.journal {
                    let open = journal_state(self.ctx, step)
                        .ok()
                        .flatten()
                        .is_some_and(|s| {
                            s.status == StepStatus::Running
                                || (s.status == StepStatus::Intent && err.outcome_unknown())
                        });
                    if open {
                        let _ = journal.note(
                            self.run_id,
                            &step.id,
                            "error",
                            &self.stamped(step, record),
                        );
                    } else {
                        let _ = self.record(step, "outcome", StepStatus::Failed, &record);
                    }
                }
                Outcome::Failed(message)
            }
        }
    }

    async fn try_step(&self, step: &Step, grants: &GrantIndex) -> Result<Outcome, EngineError> {
        let observation = observe(self.ctx, step, grants).await?;
        match observation.action {
            Action::Unchanged => {
                // Keep the journal's view current (a step done by hand, or by a run whose
                // outcome write was lost) without touching fingerprints it already holds.
                if let Some(journal) = &self.ctx.journal
                    && journal
                        .step(&step.id)?
                        .is_none_or(|s| s.status != StepStatus::Done)
                    && !matches!(step.kind, StepKind::Connector(_))
                {
                    journal.record(
                        self.run_id,
                        &step.id,
                        "observed",
                        StepStatus::Done,
                        &StepRecord {
                            action: Some("unchanged".into()),
                            ..StepRecord::default()
                        },
                    )?;
                }
                return Ok(Outcome::Unchanged(observation.reason));
            }
            Action::Conflict => {
                return Ok(Outcome::Failed(format!("conflict: {}", observation.reason)));
            }
            Action::Blocked | Action::Held => return Ok(Outcome::Skipped(observation.reason)),
            Action::Create | Action::Update | Action::Attach => {}
        }
        match &step.kind {
            StepKind::Link => self.link(step).await,
            StepKind::Import => self.import(step).await,
            StepKind::Connector(c) => self.connector(step, c, observation.action).await,
            StepKind::Webhook(w) => self.webhook(step, w, observation).await,
            StepKind::Clone(c) => self.clone_account(step, c).await,
            StepKind::Batch(b) => self.batch(step, b, observation).await,
        }
    }

    /// Link: repeating it for the same pair is harmless (Nylas answers with the same link), so
    /// an unanswered request is simply observed again by the next run.
    async fn link(&self, step: &Step) -> Result<Outcome, EngineError> {
        let pair = self.ctx.pair(step);
        self.intent(step, "link").await?;
        let secrets = &self.ctx.secrets[step.pair];
        let response = self
            .ctx
            .app(step)
            .link_v2_app(&pair.v2_app_id, &secrets.v2_client_secret)
            .await?;
        reached(step, "after-write").await;
        self.done(
            step,
            StepRecord {
                action: Some("link".into()),
                request_id: response.request_id,
                ..StepRecord::default()
            },
        )
        .await?;
        Ok(Outcome::Changed(format!(
            "linked v2 app {} to v3 app {}",
            pair.v2_app_id, pair.v3_app_id
        )))
    }

    /// Import: Nylas's guides allow repeating it, so an unanswered import is run again.
    async fn import(&self, step: &Step) -> Result<Outcome, EngineError> {
        self.intent(step, "import").await?;
        let response = self.ctx.app(step).import_v2_app().await?;
        reached(step, "after-write").await;
        self.done(
            step,
            StepRecord {
                action: Some("import".into()),
                request_id: response.request_id,
                ..StepRecord::default()
            },
        )
        .await?;
        Ok(Outcome::Changed(
            "imported v2 settings and integrations".into(),
        ))
    }

    /// Connector: create or replace its settings and scope; both converge on the same state,
    /// so repeating is harmless. The secret's fingerprint is journaled with the outcome.
    async fn connector(
        &self,
        step: &Step,
        c: &ConnectorStep,
        action: Action,
    ) -> Result<Outcome, EngineError> {
        let desired = desired_connector(self.ctx, step, c)?;
        let verb = if action == Action::Create {
            "create"
        } else {
            "update"
        };
        self.intent(step, verb).await?;
        let app = self.ctx.app(step);
        let request_id = if action == Action::Create {
            app.create_connector(&CreateConnector {
                provider: c.provider,
                settings: desired.settings.clone(),
                scope: desired.scope.clone(),
            })
            .await?
            .request_id
        } else {
            app.update_connector(
                c.provider,
                &UpdateConnector {
                    settings: desired.settings.clone(),
                    scope: desired.scope.clone(),
                    active_credential_id: None,
                },
            )
            .await?
            .request_id
        };
        reached(step, "after-write").await;
        self.done(
            step,
            StepRecord {
                action: Some(verb.into()),
                request_id,
                fingerprints: desired.fingerprints,
                ..StepRecord::default()
            },
        )
        .await?;
        Ok(Outcome::Changed(format!(
            "{verb}d {} connector",
            c.provider
        )))
    }

    /// Webhook: an update is repeatable; a create is not (a repeat makes a second destination),
    /// so after an unanswered create the destinations are listed again before any retry.
    async fn webhook(
        &self,
        step: &Step,
        w: &WebhookStep,
        observation: Observation,
    ) -> Result<Outcome, EngineError> {
        let app = self.ctx.app(step);
        if let Found::Webhook(live) = observation.found {
            self.intent(step, "update").await?;
            let response = app
                .update_webhook(
                    &live.id,
                    &UpdateWebhook {
                        trigger_types: Some(w.triggers.clone()),
                        webhook_url: None,
                        description: w.description.clone(),
                        notification_email_addresses: w.notification_emails.clone(),
                        status: None,
                        compressed_delivery: None,
                    },
                )
                .await?;
            reached(step, "after-write").await;
            self.done(
                step,
                StepRecord {
                    action: Some("update".into()),
                    request_id: response.request_id,
                    object_id: Some(live.id.clone()),
                    ..StepRecord::default()
                },
            )
            .await?;
            return Ok(Outcome::Changed(format!(
                "updated webhook destination {}",
                live.id
            )));
        }
        self.intent(step, "create").await?;
        let body = CreateWebhook {
            trigger_types: w.triggers.clone(),
            webhook_url: w.url.clone(),
            description: w.description.clone(),
            notification_email_addresses: w.notification_emails.clone(),
            compressed_delivery: None,
        };
        let created = match app.create_webhook(&body).await {
            Ok(response) => (response.data.webhook.id, response.request_id),
            Err(err) if err.is_ambiguous() => {
                // The create may have happened: look (for a while, lists can lag) and never
                // send it again in this run; a second destination would double every
                // notification.
                let url = normalized_url(&w.url);
                let mut wait = Duration::from_millis(500);
                let mut found = None;
                for _ in 0..5 {
                    found = app
                        .list_webhooks()
                        .await?
                        .data
                        .into_iter()
                        .find(|h| normalized_url(&h.webhook_url) == url);
                    if found.is_some() {
                        break;
                    }
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                match found {
                    Some(h) => (h.id, None),
                    None => {
                        return Err(EngineError::OutcomeUnknown {
                            step: step.id.to_string(),
                            what: "webhook create".into(),
                        });
                    }
                }
            }
            Err(err) => return Err(err.into()),
        };
        reached(step, "after-write").await;
        // The destination's signing secret was in the create response; it is dropped here and
        // never journaled (Nylas shows it in the dashboard).
        self.done(
            step,
            StepRecord {
                action: Some("create".into()),
                request_id: created.1,
                object_id: Some(created.0.clone()),
                ..StepRecord::default()
            },
        )
        .await?;
        Ok(Outcome::Changed(format!(
            "created webhook destination {}",
            created.0
        )))
    }

    /// Clone: repeatable (cloning an account that has a grant returns that grant).
    async fn clone_account(&self, step: &Step, c: &CloneStep) -> Result<Outcome, EngineError> {
        self.intent(step, "clone").await?;
        let response = self
            .ctx
            .app(step)
            .clone_account(&c.account_id, c.placeholders)
            .await?;
        reached(step, "after-write").await;
        let grant = response.data;
        self.done(
            step,
            StepRecord {
                action: Some("clone".into()),
                request_id: response.request_id,
                object_id: Some(grant.id.clone()),
                grant_status: grant.grant_status.map(|s| s.to_string()),
                ..StepRecord::default()
            },
        )
        .await?;
        Ok(Outcome::Changed(match grant.grant_status {
            Some(crate::api::GrantStatus::Invalid) => format!(
                "cloned into placeholder grant {} (the user must re-authenticate)",
                grant.id
            ),
            _ => format!("cloned into grant {}", grant.id),
        }))
    }

    /// Batch: never repeated blindly. The intent records which jobs existed before the request,
    /// so a job that appears afterwards is recognised as this wave's (after an unanswered request
    /// or a crash) and followed instead of starting a second one. An unanswered request is never
    /// sent again in the same run: the jobs are listed for a while, and if none appears the step
    /// fails with its intent kept, for the next run to look again.
    async fn batch(
        &self,
        step: &Step,
        b: &BatchStep,
        observation: Observation,
    ) -> Result<Outcome, EngineError> {
        let app = self.ctx.app(step);
        let key = request_key(b);
        let jobs = match observation.found {
            Found::Jobs(jobs) => jobs,
            _ => {
                let before: Vec<String> = app
                    .list_jobs(&JobFilter::default())
                    .await?
                    .data
                    .into_iter()
                    .map(|j| j.job_id)
                    .collect();
                reached(step, "before-intent").await;
                let record = StepRecord {
                    action: Some("batch clone".into()),
                    request_key: Some(key.clone()),
                    jobs_before: before,
                    ..StepRecord::default()
                };
                self.record(step, "intent", StepStatus::Intent, &record)?;
                reached(step, "after-intent").await;
                match app.batch_clone(&b.request, b.placeholders).await {
                    Ok(response) => WaveJobs {
                        snapshot_job_id: response.data.snapshot_job.job_id,
                        clone_job_id: Some(response.data.clone_job.job_id),
                    },
                    Err(err) if err.is_ambiguous() => self.find_started(step, &record).await?,
                    Err(err) => return Err(err.into()),
                }
            }
        };
        reached(step, "after-write").await;
        let mut record = StepRecord {
            action: Some("batch clone".into()),
            request_key: Some(key),
            snapshot_job_id: Some(jobs.snapshot_job_id.clone()),
            clone_job_id: jobs.clone_job_id.clone(),
            ..StepRecord::default()
        };
        self.record(step, "started", StepStatus::Running, &record)?;
        let job = match self.poll(step, &jobs).await? {
            WaveEnd::Finished(job) => job,
            WaveEnd::SnapshotFailed(snapshot) => {
                record.job_status = Some("failed".into());
                self.record(step, "outcome", StepStatus::Failed, &record)?;
                reached(step, "after-outcome").await;
                return Ok(Outcome::Failed(format!(
                    "wave `{}` failed: its snapshot job {} failed, so no account was migrated",
                    b.wave, snapshot.job_id
                )));
            }
        };
        record.clone_job_id = Some(job.job_id.clone());
        record.job_status = Some(job.status.to_string());
        record.counts = Some(JobCounts {
            all: job.count_all,
            success: job.count_success,
            failed: job.count_failed,
            warning: job.count_warning,
        });
        if job.status == JobStatus::Failed {
            // Recorded as failed so the next run starts the wave afresh (its old jobs stay
            // claimed by it and are never attached to again).
            self.record(step, "outcome", StepStatus::Failed, &record)?;
            reached(step, "after-outcome").await;
            return Ok(Outcome::Failed(format!(
                "wave `{}` failed: {}",
                b.wave,
                job_summary(&job)
            )));
        }
        self.record(step, "outcome", StepStatus::Done, &record)?;
        reached(step, "after-outcome").await;
        Ok(Outcome::Changed(format!(
            "wave `{}` finished: {}",
            b.wave,
            job_summary(&job)
        )))
    }

    /// After an unanswered batch clone: lists the jobs for about 15 seconds (0.5 + 1 + 2 + 4 +
    /// 8 s between listings) looking for the one the request may have started. Never resends.
    async fn find_started(
        &self,
        step: &Step,
        intent: &StepRecord,
    ) -> Result<WaveJobs, EngineError> {
        let state = StepState {
            status: StepStatus::Intent,
            record: intent.clone(),
            run_id: self.run_id,
            updated_at: 0,
        };
        let mut wait = Duration::from_millis(500);
        for _ in 0..6 {
            let jobs = self
                .ctx
                .app(step)
                .list_jobs(&JobFilter::default())
                .await?
                .data;
            if let Some(found) = wave_jobs(self.ctx, &state, &jobs)? {
                return Ok(found);
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
        Err(EngineError::OutcomeUnknown {
            step: step.id.to_string(),
            what: "batch clone".into(),
        })
    }

    /// Polls the jobs until the wave's migration job has finished (or its snapshot job failed,
    /// in which case the migration job never runs), backing off from 100 ms to `max_poll`, and
    /// reports its counts as it goes.
    async fn poll(&self, step: &Step, wave: &WaveJobs) -> Result<WaveEnd, EngineError> {
        let mut wait = Duration::from_millis(100);
        let mut clone_id = wave.clone_job_id.clone();
        loop {
            let jobs = self
                .ctx
                .app(step)
                .list_jobs(&JobFilter::default())
                .await?
                .data;
            if clone_id.is_none() {
                clone_id = linked_migration_job(&jobs, &wave.snapshot_job_id);
            }
            let snapshot = jobs.iter().find(|j| j.job_id == wave.snapshot_job_id);
            let clone = clone_id
                .as_ref()
                .and_then(|id| jobs.iter().find(|j| &j.job_id == id));
            match (clone, snapshot) {
                (Some(job), _) => {
                    self.reporter.job_progress(step, job);
                    if job.status.is_finished() {
                        return Ok(WaveEnd::Finished(job.clone()));
                    }
                    if let Some(snapshot) = snapshot
                        && snapshot.status == JobStatus::Failed
                        && !job.status.is_finished()
                        && job.status == JobStatus::Pending
                    {
                        return Ok(WaveEnd::SnapshotFailed(snapshot.clone()));
                    }
                }
                (None, Some(snapshot)) if snapshot.status == JobStatus::Failed => {
                    return Ok(WaveEnd::SnapshotFailed(snapshot.clone()));
                }
                (None, Some(_)) => {}
                (None, None) => {
                    return Err(EngineError::JobVanished {
                        step: step.id.to_string(),
                        job_id: clone_id.unwrap_or_else(|| wave.snapshot_job_id.clone()),
                    });
                }
            }
            reached(step, "polling").await;
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.max_poll);
        }
    }

    async fn intent(&self, step: &Step, action: &str) -> Result<(), EngineError> {
        reached(step, "before-intent").await;
        self.record(
            step,
            "intent",
            StepStatus::Intent,
            &StepRecord {
                action: Some(action.into()),
                ..StepRecord::default()
            },
        )?;
        reached(step, "after-intent").await;
        Ok(())
    }

    async fn done(&self, step: &Step, record: StepRecord) -> Result<(), EngineError> {
        self.record(step, "outcome", StepStatus::Done, &record)?;
        reached(step, "after-outcome").await;
        Ok(())
    }
}

impl EngineError {
    /// Whether the write this error interrupted may or may not have happened.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            EngineError::OutcomeUnknown { .. } => true,
            EngineError::Client(e) => e.is_ambiguous(),
            _ => false,
        }
    }

    /// The API's request ID, when the error came from an answered request.
    pub fn request_id(&self) -> Option<String> {
        match self {
            EngineError::Client(e) => e.request_id().map(str::to_owned),
            _ => None,
        }
    }
}

impl From<ClientError> for EngineError {
    fn from(err: ClientError) -> Self {
        EngineError::Client(Box::new(err))
    }
}
