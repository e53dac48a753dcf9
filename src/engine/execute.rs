//! The writes: for one step, observe, then (if needed) journal the intent, write, journal the
//! outcome. Each kind documents what makes it safe to run again.

use std::time::Duration;

use crate::api::{CreateConnector, CreateWebhook, JobStatus, UpdateConnector, UpdateWebhook};
use crate::client::{ClientError, JobFilter};
use crate::graph::{BatchStep, CloneStep, ConnectorStep, Step, StepKind, WebhookStep};

use super::EngineError;
use super::context::Context;
use super::failpoint::reached;
use super::journal::{JobCounts, Phase, StepRecord, StepState, StepStatus};
use super::observe::{
    Action, Found, GrantIndex, Observation, WaveJobs, WaveMatch, clone_key, concurrent_jobs,
    describe_jobs, desired_connector, duplicate_webhooks, job_summary, journal_state, link_key,
    link_refusal_help, linked_migration_job, live_jobs_conflict, normalized_url, observe,
    request_key, wave_jobs,
};
use super::progress::Reporter;

/// How a wave's jobs ended.
enum WaveEnd {
    Finished(crate::api::MigrationJob),
    SnapshotFailed(crate::api::MigrationJob),
    /// Other batch clones appeared at the same time as this run's own.
    Concurrent(Vec<crate::api::MigrationJob>),
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
    /// Ended in a failure that is an outcome, not an error: a wave whose job failed, a test
    /// account Nylas refused. Recorded and not repeated on its own; the run is incomplete, but
    /// what follows still runs (a gate decides for the next waves).
    Settled(String),
    /// Not attempted, and why.
    Skipped(String),
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Unchanged(_) | Outcome::Changed(_))
    }

    /// Whether the steps that wait on this one may run: it succeeded, or its failure is an
    /// outcome they do not depend on.
    pub fn lets_dependents_run(&self) -> bool {
        self.succeeded() || matches!(self, Outcome::Settled(_))
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Unchanged(_) => "unchanged",
            Outcome::Changed(_) => "changed",
            Outcome::Failed(_) | Outcome::Settled(_) => "failed",
            Outcome::Skipped(_) => "skipped",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Outcome::Unchanged(m)
            | Outcome::Changed(m)
            | Outcome::Failed(m)
            | Outcome::Settled(m)
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
        phase: Phase,
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
                let message = err.outcome_message();
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
                        let _ = journal.note(self.run_id, &step.id, &self.stamped(step, record));
                    } else {
                        let _ = self.record(step, Phase::Outcome, StepStatus::Failed, &record);
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
                        Phase::Observed,
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
            Action::Failed => return Ok(Outcome::Settled(observation.reason)),
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
        let response = match self
            .ctx
            .app(step)
            .link_v2_app(&pair.v2_app_id, &secrets.v2_client_secret)
            .await
        {
            Ok(response) => response,
            // Nylas refuses a v2 application in the other region, or one already linked to
            // another v3 application: a conflict to resolve by hand, not an error to retry.
            Err(err) if err.status() == Some(400) => {
                let message = api_message(&err);
                self.record(
                    step,
                    Phase::Outcome,
                    StepStatus::Failed,
                    &StepRecord {
                        action: Some("link".into()),
                        request_key: Some(link_key(self.ctx, step)),
                        request_id: err.request_id().map(str::to_owned),
                        error: Some(message.clone()),
                        refused: true,
                        ..StepRecord::default()
                    },
                )?;
                reached(step, "after-outcome").await;
                return Ok(Outcome::Failed(format!(
                    "conflict: Nylas refused to link v2 app {} to v3 app {}: {message}; {}",
                    pair.v2_app_id,
                    pair.v3_app_id,
                    link_refusal_help(self.ctx, step)
                )));
            }
            Err(err) => return Err(err.into()),
        };
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
                let mut found = Vec::new();
                for _ in 0..5 {
                    found = app
                        .list_webhooks()
                        .await?
                        .data
                        .into_iter()
                        .filter(|h| normalized_url(&h.webhook_url) == url)
                        .collect();
                    if !found.is_empty() {
                        break;
                    }
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                if found.len() > 1 {
                    // This run's create and another runner's both happened; which one is this
                    // run's cannot be told. Nothing more is written.
                    return Ok(Outcome::Failed(format!(
                        "conflict: {}",
                        duplicate_webhooks(&w.url, &found, None)
                    )));
                }
                match found.pop() {
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
        // Another runner may have created the same destination at the same time: look again,
        // and say so rather than leave every notification doubled without a word.
        let url = normalized_url(&w.url);
        let same_url: Vec<_> = app
            .list_webhooks()
            .await?
            .data
            .into_iter()
            .filter(|h| normalized_url(&h.webhook_url) == url)
            .collect();
        if same_url.len() > 1 {
            return Ok(Outcome::Failed(format!(
                "conflict: {}",
                duplicate_webhooks(&w.url, &same_url, Some(&created.0))
            )));
        }
        Ok(Outcome::Changed(format!(
            "created webhook destination {}",
            created.0
        )))
    }

    /// Clone: after an ambiguous failure the client reads the account's grant before sending
    /// again (see `client::retry`), so an account is cloned once. A definite refusal (400: an
    /// account that cannot migrate with placeholders disallowed, a connector without
    /// credentials) is an outcome: recorded with what was asked, and not sent again until that
    /// changes.
    async fn clone_account(&self, step: &Step, c: &CloneStep) -> Result<Outcome, EngineError> {
        self.intent(step, "clone").await?;
        let response = match self
            .ctx
            .app(step)
            .clone_account(&c.account_id, c.placeholders)
            .await
        {
            Ok(response) => response,
            Err(err) if err.status() == Some(400) => {
                let message = api_message(&err);
                self.record(
                    step,
                    Phase::Outcome,
                    StepStatus::Failed,
                    &StepRecord {
                        action: Some("clone".into()),
                        request_key: Some(clone_key(c)),
                        request_id: err.request_id().map(str::to_owned),
                        error: Some(message.clone()),
                        refused: true,
                        ..StepRecord::default()
                    },
                )?;
                reached(step, "after-outcome").await;
                return Ok(Outcome::Settled(format!(
                    "Nylas refused to clone account {}: {message}; not sent again until the plan changes its placeholders or a connector is written again (or `apply --rerun-clone {}/{}`)",
                    c.account_id,
                    self.ctx.pair(step).name,
                    c.account_id
                )));
            }
            Err(err) => return Err(err.into()),
        };
        reached(step, "after-write").await;
        let grant = response.data;
        self.done(
            step,
            StepRecord {
                action: Some("clone".into()),
                request_id: response.request_id,
                object_id: Some(grant.id.clone()),
                grant_status: grant.grant_status,
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
    /// fails with its intent kept, for the next run to look again. Right before the request the
    /// live jobs are checked once more, and right after it exactly one new batch clone must have
    /// appeared: another one means a second runner on the same application.
    async fn batch(
        &self,
        step: &Step,
        b: &BatchStep,
        observation: Observation,
    ) -> Result<Outcome, EngineError> {
        let app = self.ctx.app(step);
        let key = request_key(b);
        let mut sent: Option<Vec<String>> = None;
        let jobs = match observation.found {
            Found::Jobs(jobs) => jobs,
            _ => {
                let listed = app.list_jobs(&JobFilter::default()).await?.data;
                // The observation may be a moment old: a job started since by someone else
                // (another runner, the dashboard) stops the wave here, before any write.
                if let Some(conflict) = live_jobs_conflict(self.ctx, &listed)? {
                    return Ok(Outcome::Failed(format!("conflict: {}", conflict.reason)));
                }
                let before: Vec<String> = listed.into_iter().map(|j| j.job_id).collect();
                reached(step, "before-intent").await;
                let record = StepRecord {
                    action: Some("batch clone".into()),
                    request_key: Some(key.clone()),
                    jobs_before: before.clone(),
                    ..StepRecord::default()
                };
                self.record(step, Phase::Intent, StepStatus::Intent, &record)?;
                reached(step, "after-intent").await;
                let jobs = match app.batch_clone(&b.request, b.placeholders).await {
                    Ok(response) => WaveJobs {
                        snapshot_job_id: response.data.snapshot_job.job_id,
                        clone_job_id: Some(response.data.clone_job.job_id),
                    },
                    Err(err) if err.is_ambiguous() => self.find_started(step, &record).await?,
                    Err(err) => return Err(err.into()),
                };
                sent = Some(before);
                jobs
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
        self.record(step, Phase::Started, StepStatus::Running, &record)?;
        let job = match self.poll(step, &jobs, sent.as_deref()).await? {
            WaveEnd::Finished(job) => job,
            WaveEnd::Concurrent(others) => {
                // This wave's job is recorded (running); the next run follows it.
                return Ok(Outcome::Failed(format!(
                    "conflict: another run started {} at the same time as this wave's (snapshot job {}): two runs are applying this plan to the same application, and the same accounts may be cloned twice. Stop the other runner and keep one state folder; this wave's job is recorded and the next apply follows it",
                    describe_jobs(&others),
                    jobs.snapshot_job_id
                )));
            }
            WaveEnd::SnapshotFailed(snapshot) => {
                // A finished wave: its outcome is recorded and it is not started again on its
                // own.
                record.job_status = Some(JobStatus::Failed);
                self.record(step, Phase::Outcome, StepStatus::Failed, &record)?;
                reached(step, "after-outcome").await;
                return Ok(Outcome::Settled(format!(
                    "wave `{}` failed: its snapshot job {} failed, so no account was migrated; {}",
                    b.wave,
                    snapshot.job_id,
                    self.rerun_hint(step, b)
                )));
            }
        };
        record.clone_job_id = Some(job.job_id.clone());
        record.job_status = Some(job.status);
        record.counts = Some(JobCounts {
            all: job.count_all,
            success: job.count_success,
            failed: job.count_failed,
            warning: job.count_warning,
        });
        if job.status == JobStatus::Failed {
            // Finished like any other wave: recorded with its counts, not started again on its
            // own, and read by the pair's gate as the worst case.
            self.record(step, Phase::Outcome, StepStatus::Failed, &record)?;
            reached(step, "after-outcome").await;
            return Ok(Outcome::Settled(format!(
                "wave `{}` failed: {}; {}",
                b.wave,
                job_summary(&job),
                self.rerun_hint(step, b)
            )));
        }
        self.record(step, Phase::Outcome, StepStatus::Done, &record)?;
        reached(step, "after-outcome").await;
        Ok(Outcome::Changed(format!(
            "wave `{}` finished: {}",
            b.wave,
            job_summary(&job)
        )))
    }

    fn rerun_hint(&self, step: &Step, b: &BatchStep) -> String {
        format!(
            "it is not started again on its own: retry its accounts with a wave of mode only_failed, or run `apply --rerun-wave {}/{}`",
            self.ctx.pair(step).name,
            b.wave
        )
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
            match wave_jobs(self.ctx, &state, &jobs)? {
                WaveMatch::One(found) => return Ok(found),
                WaveMatch::Several(snapshots) => {
                    return Err(EngineError::ConcurrentWave {
                        step: step.id.to_string(),
                        snapshots: snapshots.join(", "),
                    });
                }
                WaveMatch::None => {}
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
    ///
    /// `sent`: the jobs listed before this run's own request, when it sent one. The first
    /// listing then checks that exactly one new batch clone appeared, this wave's: another one
    /// was started by someone else at the same time (two runners with two state folders), two
    /// jobs now run over the same accounts, and following this one in silence would hide it.
    async fn poll(
        &self,
        step: &Step,
        wave: &WaveJobs,
        mut sent: Option<&[String]>,
    ) -> Result<WaveEnd, EngineError> {
        let mut wait = Duration::from_millis(100);
        let mut clone_id = wave.clone_job_id.clone();
        loop {
            let jobs = self
                .ctx
                .app(step)
                .list_jobs(&JobFilter::default())
                .await?
                .data;
            if let Some(before) = sent.take() {
                let others = concurrent_jobs(self.ctx, before, wave, &jobs)?;
                if !others.is_empty() {
                    return Ok(WaveEnd::Concurrent(others));
                }
            }
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
            Phase::Intent,
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
        self.record(step, Phase::Outcome, StepStatus::Done, &record)?;
        reached(step, "after-outcome").await;
        Ok(())
    }
}

/// Nylas's answer to a refused request, for the journal and the summary: status, type and
/// message, without the help text meant for an interactive error.
fn api_message(err: &ClientError) -> String {
    match err {
        ClientError::Api {
            status,
            error_type,
            message,
            request_id,
            ..
        } => {
            let kind = error_type
                .as_deref()
                .map(|t| format!(" {t}"))
                .unwrap_or_default();
            let message = if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            };
            let request = request_id
                .as_deref()
                .map(|id| format!(" (request_id {id})"))
                .unwrap_or_default();
            format!("HTTP {status}{kind}{message}{request}")
        }
        other => other.to_string(),
    }
}

impl EngineError {
    /// Whether the write this error interrupted may or may not have happened.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            EngineError::OutcomeUnknown { .. } | EngineError::ConcurrentWave { .. } => true,
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
