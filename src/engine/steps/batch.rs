//! `batch/<wave>`: one batch-clone wave: a snapshot job, then a migration job, followed until
//! they finish. A pair's waves run one after the other; [`super::gates`] may hold the next.

use std::time::Duration;

use crate::api::{BatchProvider, ConnectorProvider, JobStatus, MigrationJob};
use crate::client::JobFilter;
use crate::events::{Event, JobProgress};
use crate::graph::{BatchStep, StepKind};

use super::adoption::{FoundBatch, describe_adoption};
use super::wave_reads::{
    concurrent_jobs, live_jobs_conflict, pair_adoption, unknown_jobs, wave_jobs,
};
use super::waves::{
    WaveJobs, WaveMatch, describe_jobs, finished_wave, job_summary, linked_migration_job,
};
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx, journal_state};
use crate::engine::EngineError;
use crate::engine::context::Context;
use crate::engine::failpoint::reached;
use crate::state::journal::{JobCounts, JobOrigin, Phase, StepRecord, StepState, StepStatus};

/// Batch: never repeated blindly. The intent records which jobs existed before the request, so
/// a job that appears afterwards is recognised as this wave's (after an unanswered request or
/// a crash) and followed instead of starting a second one. An unanswered request is never sent
/// again in the same run: the jobs are listed for a while, and if none appears the step fails
/// with its intent kept, for the next run to look again. Right before the request the live
/// jobs are checked once more, and right after it exactly one new batch clone must have
/// appeared: another one means a second runner on the same application. A finished wave
/// (completed, partial or failed) is not started again unless its settings change or
/// `--rerun-wave` names it.
pub(super) struct BatchKind;

/// What a wave journals: its request (to notice changed settings), the jobs that existed
/// before it (with the intent), its jobs once known, and their end with the counts.
#[derive(Debug, Clone, Default)]
pub(super) struct WaveRecord {
    pub request_key: String,
    pub jobs_before: Vec<String>,
    pub snapshot_job_id: Option<String>,
    pub clone_job_id: Option<String>,
    pub job_status: Option<JobStatus>,
    pub counts: Option<JobCounts>,
}

impl WaveRecord {
    fn started(request_key: String, jobs: &WaveJobs) -> WaveRecord {
        WaveRecord {
            request_key,
            snapshot_job_id: Some(jobs.snapshot_job_id.clone()),
            clone_job_id: jobs.clone_job_id.clone(),
            ..WaveRecord::default()
        }
    }
}

impl From<WaveRecord> for StepRecord {
    fn from(r: WaveRecord) -> StepRecord {
        StepRecord {
            action: Some("batch clone".into()),
            request_key: Some(r.request_key),
            jobs_before: r.jobs_before,
            snapshot_job_id: r.snapshot_job_id,
            clone_job_id: r.clone_job_id,
            job_status: r.job_status,
            counts: r.counts,
            ..StepRecord::default()
        }
    }
}

/// A wave under way: its jobs, the started record, and (when this run sent the request) the
/// jobs listed before it, to notice another runner's batch clone started at the same time.
pub(super) struct WaveFollow {
    jobs: WaveJobs,
    record: WaveRecord,
    sent: Option<Vec<String>>,
}

/// How a wave's jobs ended.
enum WaveEnd {
    Finished(MigrationJob),
    SnapshotFailed(MigrationJob),
    /// Other batch clones appeared at the same time as this run's own.
    Concurrent(Vec<MigrationJob>),
    /// Followed for `max_follow` and not finished: the jobs keep running at Nylas. The
    /// migration job as last listed, if it was.
    StillRunning(Option<MigrationJob>),
}

impl StepDriver for BatchKind {
    type Spec = BatchStep;
    /// The wave's jobs, when they already exist.
    type Found = Option<WaveJobs>;
    /// The intent's record, with the jobs that existed before the request.
    type Write = WaveRecord;
    type Follow = WaveFollow;
    type Record = WaveRecord;

    async fn observe(
        cx: &StepCx<'_>,
        b: &BatchStep,
    ) -> Result<Observed<Option<WaveJobs>>, EngineError> {
        if let Some(conflict) = foreign_record(cx)? {
            return Ok(Observed::of(Action::Conflict, conflict));
        }
        let state = cx.journal_state()?;
        let start_reason = match state.as_ref().map(|state| finished(cx, b, state)) {
            Some(Finished::Stays(observed)) => return Ok(observed),
            Some(Finished::StartAgain(reason)) => Some(reason),
            Some(Finished::No) | None => None,
        };
        let jobs = cx.app().list_jobs(&JobFilter::default()).await?.data;
        if start_reason.is_none()
            && let Some(state) = &state
            && let Some(observed) = started(wave_jobs(cx.ctx, state, &jobs)?, &jobs)
        {
            return Ok(observed);
        }
        // --adopt-existing-jobs, before `apply` records it (what `plan` shows): the batch clone
        // the adoption gives this wave is its own, and nothing starts.
        let (waves, adoption) = pair_adoption(cx.ctx, cx.step.pair, &jobs)?;
        if state.is_none()
            && cx.ctx.options().adopt_existing_jobs
            && let Some(position) = waves.iter().position(|(s, _)| s.id == cx.step.id)
            && let Some((_, batch)) = adoption.waves.iter().find(|(w, _)| *w == position)
        {
            return Ok(adopted(cx, b, batch));
        }
        if let Some(conflict) = live_jobs_conflict(cx.ctx, cx.step.pair, &jobs)? {
            return Ok(Observed::of(Action::Conflict, conflict));
        }
        if start_reason.is_none()
            && let Some(conflict) = journaled_job_live(cx, state.as_ref(), &jobs)?
        {
            return Ok(Observed::of(Action::Conflict, conflict));
        }
        if let Some(conflict) = missing_connector(cx, b).await? {
            return Ok(Observed::of(Action::Conflict, conflict));
        }
        let mut reason =
            start_reason.unwrap_or_else(|| format!("start a batch clone ({})", wave_request(b)));
        if !unknown_jobs(cx.ctx, &jobs)?.is_empty() {
            // Only reached with --adopt-existing-jobs (otherwise a conflict above): no batch
            // clone on the application fits this wave, so as far as it shows the wave never
            // ran.
            reason = if adoption.history.is_empty() {
                format!(
                    "--adopt-existing-jobs: no batch clone on the application fits this wave; {reason}"
                )
            } else {
                format!(
                    "--adopt-existing-jobs: no batch clone on the application fits this wave; first record as history {}; then {reason}",
                    describe_jobs(&adoption.history)
                )
            };
        }
        Ok(Observed::of(Action::Create, reason))
    }

    async fn intend(
        cx: &WriteCx<'_>,
        b: &BatchStep,
        found: Option<WaveJobs>,
        _: Action,
    ) -> Result<Intent<Self>, EngineError> {
        let key = request_key(b);
        if let Some(jobs) = found {
            let record = WaveRecord::started(key, &jobs);
            return Ok(Intent::Resume {
                record: record.clone(),
                follow: WaveFollow {
                    jobs,
                    record,
                    sent: None,
                },
            });
        }
        let listed = cx.app().list_jobs(&JobFilter::default()).await?.data;
        // The observation may be a moment old: a job started since by someone else (another
        // runner, the dashboard) stops the wave here, before any write.
        if let Some(conflict) = live_jobs_conflict(cx.ctx, cx.step.pair, &listed)? {
            return Ok(Intent::Ended(Outcome::Failed(format!(
                "conflict: {conflict}"
            ))));
        }
        let record = WaveRecord {
            request_key: key,
            jobs_before: listed.into_iter().map(|j| j.job_id).collect(),
            ..WaveRecord::default()
        };
        Ok(Intent::Write {
            record: record.clone(),
            write: record,
        })
    }

    async fn write(
        cx: &WriteCx<'_>,
        b: &BatchStep,
        intent: WaveRecord,
    ) -> Result<Sent<Self>, EngineError> {
        let jobs = match cx.app().batch_clone(&b.request, b.placeholders).await {
            Ok(response) => WaveJobs {
                snapshot_job_id: response.data.snapshot_job.job_id,
                clone_job_id: Some(response.data.clone_job.job_id),
            },
            Err(err) if err.is_ambiguous() => find_started(cx, &intent).await?,
            Err(err) => return Err(err.into()),
        };
        let record = WaveRecord::started(intent.request_key, &jobs);
        Ok(Sent::Started {
            record: record.clone(),
            follow: WaveFollow {
                jobs,
                record,
                sent: Some(intent.jobs_before),
            },
        })
    }

    async fn follow(
        cx: &WriteCx<'_>,
        b: &BatchStep,
        follow: WaveFollow,
    ) -> Result<Sent<Self>, EngineError> {
        let WaveFollow {
            jobs,
            mut record,
            sent,
        } = follow;
        let job = match poll(cx, &jobs, sent.as_deref()).await? {
            WaveEnd::Finished(job) => job,
            WaveEnd::Concurrent(others) => {
                // This wave's job is recorded (running); the next run follows it.
                return Ok(Sent::Unresolved(Outcome::Failed(format!(
                    "conflict: another run started {} at the same time as this wave's (snapshot job {}): two runs are applying this plan to the same application, and the same accounts may be cloned twice. Stop the other runner and keep one state folder; this wave's job is recorded and the next apply follows it",
                    describe_jobs(&others),
                    jobs.snapshot_job_id
                ))));
            }
            WaveEnd::StillRunning(job) => {
                // Nothing more is journaled: the wave stays recorded as started, and the next
                // apply observes its jobs and follows them (attach), starting nothing.
                let progress = job.as_ref().map_or_else(
                    || {
                        format!(
                            "snapshot job {}, migration job not listed yet",
                            jobs.snapshot_job_id
                        )
                    },
                    job_summary,
                );
                return Ok(Sent::Unresolved(Outcome::Running(format!(
                    "still running at Nylas after following it for {} (--wait): {progress}; it keeps running, and the next apply follows it",
                    crate::client::retry::seconds(cx.max_follow)
                ))));
            }
            WaveEnd::SnapshotFailed(snapshot) => {
                // A finished wave: its outcome is recorded and it is not started again on its
                // own.
                record.job_status = Some(JobStatus::Failed);
                return Ok(Sent::Failed {
                    record,
                    outcome: Outcome::Settled(format!(
                        "wave `{}` failed: its snapshot job {} failed, so no account was migrated; {}",
                        b.wave,
                        snapshot.job_id,
                        rerun_hint(cx, b)
                    )),
                });
            }
        };
        Ok(job_ended(cx, b, record, &job))
    }
}

/// What `plan --adopt-existing-jobs` shows for a wave the adoption gives `batch`: followed while
/// it runs, else done (or a recorded failure) with its counts; never started.
fn adopted(cx: &StepCx<'_>, b: &BatchStep, batch: &FoundBatch) -> Observed<Option<WaveJobs>> {
    let adopt = format!(
        "--adopt-existing-jobs: records {} as this wave's",
        batch.describe()
    );
    match &batch.migration {
        Some(m) if m.status == JobStatus::Failed => Observed::of(
            Action::Failed,
            format!("{adopt}: the wave failed; {}", rerun_hint(cx, b)),
        ),
        Some(m) if m.status.is_finished() => Observed::of(
            Action::Unchanged,
            format!(
                "{adopt}: the wave is done, nothing starts (start it again only with `--rerun-wave {}/{}`)",
                cx.pair().name,
                b.wave
            ),
        ),
        _ => Observed::new(
            Action::Attach,
            format!("{adopt}: follow it, start nothing"),
            Some(batch.jobs()),
        ),
    }
}

/// `--adopt-existing-jobs`, before any step of pair `pair` runs: the batch clones this state
/// does not know that fit its unrecorded waves (see `adoption::propose_adoption`, the mapping
/// `plan` shows) are recorded as those waves' jobs (done, failed, or running and followed by
/// the walk), so that no adopted wave starts again unless `--rerun-wave` names it; every other
/// job is recorded as history. Returns what was adopted, in words, or `None` when the
/// application has no job this state does not know.
pub(in crate::engine) async fn adopt_pair_jobs(
    ctx: &Context,
    run_id: i64,
    pair: usize,
) -> Result<Option<String>, EngineError> {
    let Some(journal) = ctx.journal() else {
        return Ok(None);
    };
    let target = &ctx.graph().pairs()[pair];
    let jobs = ctx
        .pair_app(pair)
        .list_jobs(&JobFilter::default())
        .await?
        .data;
    if unknown_jobs(ctx, &jobs)?.is_empty() {
        return Ok(None);
    }
    let (waves, adoption) = pair_adoption(ctx, pair, &jobs)?;
    for (position, batch) in &adoption.waves {
        let (step, b) = waves[*position];
        let mut record = WaveRecord::started(request_key(b), &batch.jobs());
        let status = match &batch.migration {
            Some(job) if job.status.is_finished() => {
                record.job_status = Some(job.status);
                record.counts = Some(JobCounts {
                    all: job.count_all,
                    success: job.count_success,
                    failed: job.count_failed,
                    warning: job.count_warning,
                });
                if job.status == JobStatus::Failed {
                    StepStatus::Failed
                } else {
                    StepStatus::Done
                }
            }
            _ => StepStatus::Running,
        };
        let mut record = StepRecord::from(record);
        record.app_id = Some(target.v3_app_id.clone());
        journal.record(run_id, &step.id, Phase::Observed, status, &record)?;
    }
    journal.adopt_jobs(run_id, &target.v3_app_id, &adoption.history)?;
    Ok(Some(format!(
        "{}: adopted (--adopt-existing-jobs) {}",
        target.name,
        describe_adoption(&waves, &adoption)
    )))
}

/// A wave whose migration job finished: recorded with its counts, done, or failed (not
/// started again on its own, and read by the pair's gate as the worst case).
fn job_ended(
    cx: &StepCx<'_>,
    b: &BatchStep,
    mut record: WaveRecord,
    job: &MigrationJob,
) -> Sent<BatchKind> {
    record.clone_job_id = Some(job.job_id.clone());
    record.job_status = Some(job.status);
    record.counts = Some(JobCounts {
        all: job.count_all,
        success: job.count_success,
        failed: job.count_failed,
        warning: job.count_warning,
    });
    if job.status == JobStatus::Failed {
        return Sent::Failed {
            record,
            outcome: Outcome::Settled(format!(
                "wave `{}` failed: {}; {}",
                b.wave,
                job_summary(job),
                rerun_hint(cx, b)
            )),
        };
    }
    Sent::Done {
        record,
        outcome: Outcome::Changed(format!("wave `{}` finished: {}", b.wave, job_summary(job))),
    }
}

/// What a wave's finished jobs (as the journal recorded them) mean for it now.
enum Finished {
    /// The jobs have not finished (or never started).
    No,
    /// Finished, and it stays so: unchanged, or a recorded failure.
    Stays(Observed<Option<WaveJobs>>),
    /// Finished, but its settings changed or `--rerun-wave` names it: start it again, why.
    StartAgain(String),
}

/// A wave runs once per definition: once its jobs finished (completed, partial or failed) it
/// is done, and starts again only when its settings change or the user asks.
fn finished(cx: &StepCx<'_>, b: &BatchStep, state: &StepState) -> Finished {
    let Some(finished) = finished_wave(state) else {
        return Finished::No;
    };
    let ran = finished.describe();
    let changed = state
        .record
        .request_key
        .as_ref()
        .is_some_and(|key| *key != request_key(b));
    if changed {
        Finished::StartAgain(format!(
            "the wave's settings changed since it finished in {ran}: start a batch clone with the new settings"
        ))
    } else if cx.ctx.options().rerun(&cx.step.id) {
        Finished::StartAgain(format!(
            "--rerun-wave: the wave finished in {ran}; start it again ({}), over the accounts that match now (its earlier jobs stay in the history)",
            wave_request(b)
        ))
    } else if finished.status == JobStatus::Failed {
        Finished::Stays(Observed::of(
            Action::Failed,
            format!(
                "wave failed in {ran}; not started again on its own: retry its accounts with a wave of mode only_failed, or run `apply --rerun-wave {}/{}`",
                cx.pair().name,
                b.wave
            ),
        ))
    } else {
        Finished::Stays(Observed::of(
            Action::Unchanged,
            format!("wave finished in {ran}"),
        ))
    }
}

/// A wave the journal says was started or requested, whose jobs are listed: followed
/// (attach), or a conflict when which jobs are its own cannot be told.
fn started(found: WaveMatch, jobs: &[MigrationJob]) -> Option<Observed<Option<WaveJobs>>> {
    match found {
        WaveMatch::One(found) => {
            let status = found
                .clone_job_id
                .as_ref()
                .and_then(|id| jobs.iter().find(|j| &j.job_id == id))
                .map_or("not listed yet".to_owned(), |j| j.status.to_string());
            Some(Observed::new(
                Action::Attach,
                format!(
                    "wave's jobs exist (snapshot job {}, migration job {status}): follow them, start nothing",
                    found.snapshot_job_id
                ),
                Some(found),
            ))
        }
        WaveMatch::Several(ids) => Some(Observed::of(
            Action::Conflict,
            format!(
                "this wave's request got no answer, and {} batch clones appeared since (snapshot jobs {}): another run started one at the same time, so which is this wave's cannot be told; check the jobs in the Nylas dashboard, and run one apply at a time",
                ids.len(),
                ids.join(", ")
            ),
        )),
        WaveMatch::None => None,
    }
}

/// A wave filtered to providers whose connector does not exist (and that the plan does not
/// create) cannot clone anything: that is a conflict, known before any job starts. Asked once
/// the import is done (it creates connectors).
async fn missing_connector(cx: &StepCx<'_>, b: &BatchStep) -> Result<Option<String>, EngineError> {
    let Some(providers) = &b.request.providers else {
        return Ok(None);
    };
    if !import_done(cx)? {
        return Ok(None);
    }
    let planned: Vec<ConnectorProvider> = cx
        .ctx
        .graph()
        .steps()
        .filter(|s| s.pair == cx.step.pair)
        .filter_map(|s| match &s.kind {
            StepKind::Connector(c) => Some(c.provider),
            _ => None,
        })
        .collect();
    let live: Vec<ConnectorProvider> = cx
        .app()
        .list_connectors()
        .await?
        .data
        .into_iter()
        .map(|c| c.provider)
        .collect();
    Ok(providers
        .iter()
        .filter_map(|p| needed_connector(*p))
        .find(|provider| !live.contains(provider) && !planned.contains(provider))
        .map(|provider| {
            format!(
                "the wave clones {provider} accounts but the v3 app has no {provider} connector and the plan creates none"
            )
        }))
}

/// The key a wave's request is recorded under: what it asks Nylas for.
fn request_key(b: &BatchStep) -> String {
    serde_json::json!({"request": b.request, "placeholders": b.placeholders}).to_string()
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

fn rerun_hint(cx: &StepCx<'_>, b: &BatchStep) -> String {
    format!(
        "it is not started again on its own: retry its accounts with a wave of mode only_failed, or run `apply --rerun-wave {}/{}`",
        cx.pair().name,
        b.wave
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

/// Whether the journal records the pair's import as done.
fn import_done(cx: &StepCx<'_>) -> Result<bool, EngineError> {
    let import = cx
        .ctx
        .graph()
        .steps()
        .find(|s| s.pair == cx.step.pair && matches!(s.kind, StepKind::Import));
    Ok(match import {
        Some(import) => {
            journal_state(cx.ctx, import)?.is_some_and(|s| s.status == StepStatus::Done)
        }
        None => false,
    })
}

/// After an unanswered batch clone: lists the jobs for about 15 seconds (0.5 + 1 + 2 + 4 + 8 s
/// between listings) looking for the one the request may have started. Never resends.
async fn find_started(cx: &WriteCx<'_>, intent: &WaveRecord) -> Result<WaveJobs, EngineError> {
    let state = StepState {
        status: StepStatus::Intent,
        record: intent.clone().into(),
        run_id: cx.run_id,
        updated_at: 0,
    };
    let mut wait = Duration::from_millis(500);
    for _ in 0..6 {
        let jobs = cx.app().list_jobs(&JobFilter::default()).await?.data;
        match wave_jobs(cx.ctx, &state, &jobs)? {
            WaveMatch::One(found) => return Ok(found),
            WaveMatch::Several(snapshots) => {
                return Err(EngineError::ConcurrentWave {
                    step: cx.step.id.to_string(),
                    snapshots: snapshots.join(", "),
                });
            }
            WaveMatch::None => {}
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    Err(EngineError::OutcomeUnknown {
        step: cx.step.id.to_string(),
        what: "batch clone".into(),
    })
}

/// Polls the jobs until the wave's migration job has finished (or its snapshot job failed, in
/// which case the migration job never runs), backing off from 100 ms to `max_poll`, and
/// reports its counts as it goes.
///
/// `sent`: the jobs listed before this run's own request, when it sent one. The first listing
/// then checks that exactly one new batch clone appeared, this wave's: another one was started
/// by someone else at the same time (two runners with two state folders), two jobs now run
/// over the same accounts, and following this one in silence would hide it.
async fn poll(
    cx: &WriteCx<'_>,
    wave: &WaveJobs,
    mut sent: Option<&[String]>,
) -> Result<WaveEnd, EngineError> {
    let mut wait = Duration::from_millis(100);
    let mut clone_id = wave.clone_job_id.clone();
    let followed = tokio::time::Instant::now();
    loop {
        let jobs = cx.app().list_jobs(&JobFilter::default()).await?.data;
        if let Some(before) = sent.take() {
            let others = concurrent_jobs(cx.ctx, before, wave, &jobs)?;
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
                cx.reporter
                    .report(&Event::JobProgress(JobProgress::of(cx.step, job)));
                if job.status.is_finished() {
                    return Ok(WaveEnd::Finished(job.clone()));
                }
                if let Some(snapshot) = snapshot
                    && snapshot.status == JobStatus::Failed
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
                    step: cx.step.id.to_string(),
                    job_id: clone_id.unwrap_or_else(|| wave.snapshot_job_id.clone()),
                });
            }
        }
        // The bound on following (`--wait`): checked after each listing, so a job that has
        // finished is always seen as finished.
        if followed.elapsed() >= cx.max_follow {
            return Ok(WaveEnd::StillRunning(clone.cloned()));
        }
        reached(cx.step, "polling").await;
        tokio::time::sleep(wait.min(cx.max_follow.saturating_sub(followed.elapsed()))).await;
        wait = (wait * 2).min(cx.max_poll);
    }
}
/// Defence in depth: the journal's record of this wave made for another v3 application. A wave
/// is started on the journal's word that it was not (no job of it is known), so a record that
/// is not about this application (the pair pointed at another one, two plans sharing a state,
/// an edited journal) is a conflict, not a reason to start it.
fn foreign_record(cx: &StepCx<'_>) -> Result<Option<String>, EngineError> {
    let Some(journal) = cx.ctx.journal() else {
        return Ok(None);
    };
    let app = &cx.pair().v3_app_id;
    Ok(journal.step(&cx.step.id)?.and_then(|state| {
        let recorded = state.record.app_id?;
        (recorded != *app).then(|| {
            format!(
                "the journal's record of this wave (run {}) was made for v3 application {}, and the plan's pair names {}: the state belongs to another application, or was edited; nothing is started (give the new application a state of its own)",
                state.run_id,
                crate::untrusted::escaped(&recorded),
                app
            )
        })
    }))
}

/// Defence in depth: a job the journal's jobs table ties to this wave that is still on the
/// application, while the wave's record does not say it runs or ended (the step row deleted,
/// set back, or made for another application): whatever the step row says, such a wave is never
/// started again on its own (`--rerun-wave` does it deliberately).
fn journaled_job_live(
    cx: &StepCx<'_>,
    state: Option<&StepState>,
    live: &[MigrationJob],
) -> Result<Option<String>, EngineError> {
    let Some(journal) = cx.ctx.journal() else {
        return Ok(None);
    };
    let step = cx.step.id.as_str();
    let found = journal.known_jobs()?.into_iter().find(|k| {
        k.origin == JobOrigin::Wave
            && k.step_id.as_deref() == Some(step)
            && live.iter().any(|j| j.job_id == k.job_id)
    });
    Ok(found.map(|k| {
        format!(
            "job {} of this wave, journaled by run {}, is still on the application, but the journal's record of the wave {}: the journal was edited or damaged; nothing is started (check the job in the dashboard; `--rerun-wave {}` starts the wave again deliberately)",
            crate::untrusted::escaped(&k.job_id),
            k.run_id,
            match state {
                Some(s) => format!("says `{}`", s.status.as_str()),
                None => "is missing".into(),
            },
            cx.step.id
        )
    }))
}
