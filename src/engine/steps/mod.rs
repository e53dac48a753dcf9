//! Step kinds: one file per kind, each a [`StepDriver`], and the one function that runs a step
//! for `apply` (observe, journal the intent, write, journal the outcome) for every kind.
//!
//! | file | kind | observes | writes |
//! | --- | --- | --- | --- |
//! | [`link`] | `link` | the v3 application | links the v2 application to it |
//! | [`import`] | `import` | the journal (Nylas has no read-back) | imports the v2 settings |
//! | [`connector`] | `connector/<provider>` | the connector, and the journal's secret fingerprints | creates or updates it |
//! | [`redirect_uri`] | `redirect-uri/<url>` | the redirect URIs | adds the one with the URL, or updates it (PATCH) |
//! | [`webhook`] | `webhook/<url>` | the destinations | creates or updates the one with the URL |
//! | [`webhook_test`] | `webhook-test/<url>` | the journal (Nylas keeps no record of a test) | asks Nylas to send a test event; fails unless the endpoint acknowledged it |
//! | [`pubsub`] | `pubsub/<topic>` | the Pub/Sub channels | creates the one with the topic, or updates it (PUT) |
//! | [`sns`] | `sns/<topic>` | the SNS channels | creates the one with the topic, or updates it (PUT) |
//! | [`clone`] | `clone/<account>` | the pair's grants, in pages | clones the account |
//! | [`batch`] | `batch/<wave>` | the journal and the application's jobs | starts a batch clone, then follows its jobs |
//!
//! [`waves`] holds the decisions about a wave's jobs, [`gates`] the gate between waves,
//! [`channel`] what the Pub/Sub and SNS kinds share, and [`unmanaged`] what `plan` lists as
//! found live but not in the plan.
//!
//! A kind is reached from the graph's [`StepKind`] through one `match`, in [`dispatch`];
//! nothing outside this folder names a kind's driver. `plan` calls [`observe`] and `apply`
//! calls [`apply_step`], both from the scheduler (`engine::scheduler`), which knows no kind.

pub(super) mod adoption;
mod batch;
mod channel;
pub(super) mod checklist;
mod clone;
mod connector;
pub(super) mod drift;
pub(super) mod gates;
mod import;
mod link;
mod pubsub;
mod redirect_uri;
mod sns;
pub(super) mod unmanaged;
pub(super) mod verify_item;
pub(super) mod wave_reads;
pub(super) mod waves;
mod webhook;
mod webhook_test;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use crate::client::{AppClient, ClientError};
use crate::graph::{PairTarget, Step, StepKind};

use super::EngineError;
use super::context::Context;
use super::failpoint::reached;
pub use super::outcome::{Action, Observation, Outcome};
use crate::events::{Event, Reporter};
use crate::state::SEND_WINDOW;
use crate::state::journal::{JournalError, Phase, StepRecord, StepState, StepStatus};

pub(super) use batch::adopt_pair_jobs;
use checklist::{VerifyCx, VerifyItem};
pub use clone::GrantIndex;
pub use connector::microsoft_credentials;
pub use unmanaged::{PairUnmanaged, Unmanaged};

/// A driver's observation: the action, why, and what the write will need from it (a webhook's
/// live destination, a wave's jobs, a connector's resolved settings).
pub(super) struct Observed<F> {
    pub action: Action,
    pub reason: String,
    pub found: F,
}

impl<F> Observed<F> {
    pub fn new(action: Action, reason: impl Into<String>, found: F) -> Observed<F> {
        Observed {
            action,
            reason: reason.into(),
            found,
        }
    }

    fn observation(self) -> Observation {
        Observation {
            action: self.action,
            reason: self.reason,
        }
    }
}

impl<F: Default> Observed<F> {
    /// An observation that hands nothing to the write.
    pub fn of(action: Action, reason: impl Into<String>) -> Observed<F> {
        Observed::new(action, reason, F::default())
    }
}

/// What one step works with: the run's context, the step, the reads its pair shares.
#[derive(Clone, Copy)]
pub(super) struct StepCx<'a> {
    pub ctx: &'a Context,
    pub step: &'a Step,
    pub reads: &'a PairReads,
}

impl<'a> StepCx<'a> {
    pub fn pair(&self) -> &'a PairTarget {
        self.ctx.pair(self.step)
    }

    pub fn app(&self) -> &'a AppClient {
        self.ctx.app(self.step)
    }

    /// The journal's record of this step, unless it was made for another v3 application.
    pub fn journal_state(&self) -> Result<Option<StepState>, EngineError> {
        journal_state(self.ctx, self.step)
    }
}

/// What a step's write works with besides its [`StepCx`]: the run it belongs to.
pub(super) struct WriteCx<'a> {
    pub cx: StepCx<'a>,
    pub run_id: i64,
    pub reporter: &'a dyn Reporter,
    /// Longest wait between two polls of a wave's jobs.
    pub max_poll: Duration,
    /// How long one wave's jobs are followed before the run leaves them running (`--wait`).
    pub max_follow: Duration,
}

impl<'a> std::ops::Deref for WriteCx<'a> {
    type Target = StepCx<'a>;

    fn deref(&self) -> &StepCx<'a> {
        &self.cx
    }
}

/// What a step kind does. Each kind is a unit type implementing this in its own file, with a
/// doc comment saying what makes its write safe to run again. [`apply_step`] calls, in order:
/// [`observe`](Self::observe); for a create, update or attach [`intend`](Self::intend), then
/// (the intent journaled) [`write`](Self::write); for a write under way at Nylas
/// [`follow`](Self::follow); once the outcome is journaled, [`confirm`](Self::confirm).
pub(super) trait StepDriver: Sized + 'static {
    /// The step's settings from the plan: the payload of its [`StepKind`] variant (`()` for
    /// a kind without one).
    type Spec: Sync + 'static;
    /// What an observation hands to the write.
    type Found: Send;
    /// What the write needs once its intent is journaled.
    type Write: Send;
    /// What a write under way at Nylas is followed with (a wave's jobs);
    /// [`std::convert::Infallible`] for kinds whose write is answered at once.
    type Follow: Send;
    /// What the kind journals with its intent and its outcome (turned into the journal's
    /// [`StepRecord`], which also gets the v3 application's ID).
    type Record: Into<StepRecord> + Clone + Send + Sync;

    /// Whether a step found as the plan says is recorded `done` when the journal does not say
    /// so already (a step done by hand, or by a run whose outcome was lost).
    const RECORDS_FOUND: bool = true;

    /// Whether writing this kind may lift a refusal Nylas gave to a link or clone of the same
    /// pair (Nylas checks the link, the import and the connectors when it refuses).
    const LIFTS_REFUSALS: bool = false;

    /// Reads this kind shares with the other steps of its pair, made once per pair by the
    /// first of them in `apply` (`plan` makes them all up front, see [`PairReads::load`]). A
    /// failure fails each of those steps, in these words, without a journal record.
    fn shared_reads(cx: &StepCx<'_>) -> impl Future<Output = Result<(), String>> + Send {
        let _ = cx;
        std::future::ready(Ok(()))
    }

    /// Read-only: what the step would do, and the evidence. `plan` shows it; `apply` takes
    /// one right before each write, so a write is never made on stale knowledge.
    fn observe(
        cx: &StepCx<'_>,
        spec: &Self::Spec,
    ) -> impl Future<Output = Result<Observed<Self::Found>, EngineError>> + Send;

    /// For a create, update or attach: the intent the journal records before the write (a
    /// last read may come first, such as a wave's listing of the jobs before its request).
    fn intend(
        cx: &WriteCx<'_>,
        spec: &Self::Spec,
        found: Self::Found,
        action: Action,
    ) -> impl Future<Output = Result<Intent<Self>, EngineError>> + Send;

    /// The write, sent once its intent is journaled.
    fn write(
        cx: &WriteCx<'_>,
        spec: &Self::Spec,
        write: Self::Write,
    ) -> impl Future<Output = Result<Sent<Self>, EngineError>> + Send;

    /// Follows a write that is under way at Nylas ([`Sent::Started`]) until it ends.
    fn follow(
        cx: &WriteCx<'_>,
        spec: &Self::Spec,
        follow: Self::Follow,
    ) -> impl Future<Output = Result<Sent<Self>, EngineError>> + Send {
        let _ = (cx, spec, follow);
        std::future::ready(Err(EngineError::Internal(
            "a step kind without anything to follow answered `started`".into(),
        )))
    }

    /// After a `done` outcome is journaled: a last look, which may turn the step's outcome
    /// into a failure (a webhook destination created twice by two runners).
    fn confirm(
        cx: &WriteCx<'_>,
        spec: &Self::Spec,
        record: &Self::Record,
        outcome: Outcome,
    ) -> impl Future<Output = Result<Outcome, EngineError>> + Send {
        let _ = (cx, spec, record);
        std::future::ready(Ok(outcome))
    }

    /// `verify`'s items for this step, from the same match of the live object and the same
    /// comparison as [`observe`](Self::observe) (none for a kind whose evidence is the pair's
    /// as a whole: `report::verify` checks the import's connectors and the waves' counts).
    fn verify(
        cx: &VerifyCx<'_>,
        spec: &Self::Spec,
    ) -> impl Future<Output = Result<Vec<VerifyItem>, EngineError>> + Send {
        let _ = (cx, spec);
        std::future::ready(Ok(Vec::new()))
    }
}

/// What [`StepDriver::intend`] decided.
pub(super) enum Intent<D: StepDriver> {
    /// Journal `record` as the intent, then send the write.
    Write { record: D::Record, write: D::Write },
    /// Nothing to send: an earlier run's write is under way (a wave's jobs); journal it as
    /// started and follow it.
    Resume {
        record: D::Record,
        follow: D::Follow,
    },
    /// Ended before any write (a conflict seen at the last moment).
    Ended(Outcome),
}

/// How a write was answered.
pub(super) enum Sent<D: StepDriver> {
    /// Done: journaled `done` with `record`.
    Done { record: D::Record, outcome: Outcome },
    /// Finished in a failure that is an outcome (a wave whose job failed): journaled `failed`
    /// with `record`, not repeated on its own.
    Failed { record: D::Record, outcome: Outcome },
    /// Nylas refused it (HTTP 400): journaled as a refusal, not sent again until what was
    /// asked changes.
    Refused { refusal: Refusal, outcome: Outcome },
    /// Accepted and under way at Nylas: journaled `running` with `record`, then followed.
    Started {
        record: D::Record,
        follow: D::Follow,
    },
    /// Whether it happened cannot be told: nothing more is journaled, and the intent (or the
    /// running record) stays for the next run to resolve by observing first.
    Unresolved(Outcome),
}

/// A definite refusal, as the journal keeps it: what was asked (`request_key`), so that the
/// same request is not sent again until the plan changes it.
pub(super) struct Refusal {
    pub action: &'static str,
    pub request_key: String,
    pub request_id: Option<String>,
    pub error: String,
}

impl From<Refusal> for StepRecord {
    fn from(r: Refusal) -> StepRecord {
        StepRecord {
            action: Some(r.action.into()),
            request_key: Some(r.request_key),
            request_id: r.request_id,
            error: Some(r.error),
            refused: true,
            ..StepRecord::default()
        }
    }
}

/// Calls the visitor with the driver of `kind`: the one place a kind is mapped to its driver.
trait Visit<'a> {
    type Out;
    fn visit<D: StepDriver>(self, spec: &'a D::Spec) -> Self::Out;
}

fn dispatch<'a, V: Visit<'a>>(kind: &'a StepKind, visitor: V) -> V::Out {
    match kind {
        StepKind::Link => visitor.visit::<link::LinkKind>(&()),
        StepKind::Import => visitor.visit::<import::ImportKind>(&()),
        StepKind::Connector(spec) => visitor.visit::<connector::ConnectorKind>(spec),
        StepKind::RedirectUri(spec) => visitor.visit::<redirect_uri::RedirectUriKind>(spec),
        StepKind::Webhook(spec) => visitor.visit::<webhook::WebhookKind>(spec),
        StepKind::WebhookTest(spec) => visitor.visit::<webhook_test::WebhookTestKind>(spec),
        StepKind::Pubsub(spec) => visitor.visit::<pubsub::PubsubKind>(spec),
        StepKind::Sns(spec) => visitor.visit::<sns::SnsKind>(spec),
        StepKind::Clone(spec) => visitor.visit::<clone::CloneKind>(spec),
        StepKind::Batch(spec) => visitor.visit::<batch::BatchKind>(spec),
    }
}

/// Observes one step, read-only (`plan`).
pub(super) async fn observe(cx: &StepCx<'_>) -> Result<Observation, EngineError> {
    struct Observe<'a, 'b>(&'a StepCx<'b>);
    impl<'a, 'b: 'a> Visit<'a> for Observe<'a, 'b> {
        type Out = BoxFuture<'a, Result<Observation, EngineError>>;
        fn visit<D: StepDriver>(self, spec: &'a D::Spec) -> Self::Out {
            Box::pin(async move { Ok(D::observe(self.0, spec).await?.observation()) })
        }
    }
    dispatch(&cx.step.kind, Observe(cx)).await
}

/// `verify`'s items for one step, by its kind (see [`StepDriver::verify`]).
pub async fn verify_items(cx: &VerifyCx<'_>) -> Result<Vec<VerifyItem>, EngineError> {
    struct Verify<'a, 'b>(&'a VerifyCx<'b>);
    impl<'a, 'b: 'a> Visit<'a> for Verify<'a, 'b> {
        type Out = BoxFuture<'a, Result<Vec<VerifyItem>, EngineError>>;
        fn visit<D: StepDriver>(self, spec: &'a D::Spec) -> Self::Out {
            Box::pin(D::verify(self.0, spec))
        }
    }
    dispatch(&cx.step.kind, Verify(cx)).await
}

/// Whether a write of `kind` may lift a refusal (see [`StepDriver::LIFTS_REFUSALS`]).
fn lifts_refusals(kind: &StepKind) -> bool {
    struct Lifts;
    impl Visit<'_> for Lifts {
        type Out = bool;
        fn visit<D: StepDriver>(self, _: &D::Spec) -> bool {
            D::LIFTS_REFUSALS
        }
    }
    dispatch(kind, Lifts)
}

/// Runs one step whose dependencies have all succeeded (`apply`): observes it, and if it has
/// work to do, journals the intent, writes, and journals the outcome, with a failpoint at each
/// boundary (see `engine::failpoint`). An error ends the step as failed; while the write's
/// outcome is unknown the journal keeps what the next run needs to resolve it.
pub(super) async fn apply_step(cx: &WriteCx<'_>) -> Outcome {
    struct Apply<'a, 'b>(&'a WriteCx<'b>);
    impl<'a, 'b: 'a> Visit<'a> for Apply<'a, 'b> {
        type Out = BoxFuture<'a, Outcome>;
        fn visit<D: StepDriver>(self, spec: &'a D::Spec) -> Self::Out {
            Box::pin(run::<D>(self.0, spec))
        }
    }
    dispatch(&cx.step.kind, Apply(cx)).await
}

async fn run<D: StepDriver>(cx: &WriteCx<'_>, spec: &D::Spec) -> Outcome {
    if let Err(message) = D::shared_reads(&cx.cx).await {
        return Outcome::Failed(message);
    }
    match converge::<D>(cx, spec).await {
        Ok(outcome) => outcome,
        Err(err) => cx.failed(err),
    }
}

/// Observe → intent → write → outcome.
async fn converge<D: StepDriver>(cx: &WriteCx<'_>, spec: &D::Spec) -> Result<Outcome, EngineError> {
    cx.await_previous_writes().await?;
    let observed = D::observe(&cx.cx, spec).await?;
    match observed.action {
        Action::Unchanged => {
            if D::RECORDS_FOUND {
                cx.found_done()?;
            }
            return Ok(Outcome::Unchanged(observed.reason));
        }
        Action::Conflict => return Ok(Outcome::Failed(format!("conflict: {}", observed.reason))),
        Action::Failed => return Ok(Outcome::Settled(observed.reason)),
        Action::Blocked | Action::Held => return Ok(Outcome::Skipped(observed.reason)),
        Action::Create | Action::Update | Action::Attach => {}
    }
    let sent = match D::intend(cx, spec, observed.found, observed.action).await? {
        Intent::Ended(outcome) => return Ok(outcome),
        Intent::Resume { record, follow } => Sent::Started { record, follow },
        Intent::Write { record, write } => {
            cx.intent(record.into()).await?;
            D::write(cx, spec, write).await?
        }
    };
    settle::<D>(cx, spec, sent).await
}

/// Journals how the write was answered, following a write under way until it ends.
async fn settle<D: StepDriver>(
    cx: &WriteCx<'_>,
    spec: &D::Spec,
    mut sent: Sent<D>,
) -> Result<Outcome, EngineError> {
    // `after-write`: answered, the outcome not journaled yet. Reached once, before the first
    // record that follows the write.
    let mut answered = false;
    loop {
        if !answered
            && matches!(
                sent,
                Sent::Done { .. } | Sent::Failed { .. } | Sent::Started { .. }
            )
        {
            answered = true;
            reached(cx.step, "after-write").await;
        }
        return match sent {
            Sent::Done { record, outcome } => {
                cx.outcome(StepStatus::Done, record.clone().into()).await?;
                D::confirm(cx, spec, &record, outcome).await
            }
            Sent::Failed { record, outcome } => {
                cx.outcome(StepStatus::Failed, record.into()).await?;
                Ok(outcome)
            }
            Sent::Refused { refusal, outcome } => {
                cx.outcome(StepStatus::Failed, refusal.into()).await?;
                Ok(outcome)
            }
            Sent::Started { record, follow } => {
                cx.record(Phase::Started, StepStatus::Running, record.into())?;
                sent = D::follow(cx, spec, follow).await?;
                continue;
            }
            Sent::Unresolved(outcome) => Ok(outcome),
        };
    }
}

impl WriteCx<'_> {
    /// Journals the step's new state, with the v3 application it is about.
    fn record(
        &self,
        phase: Phase,
        status: StepStatus,
        record: StepRecord,
    ) -> Result<(), EngineError> {
        if let Some(journal) = self.ctx.journal() {
            journal.record(
                self.run_id,
                &self.step.id,
                phase,
                status,
                &self.stamped(record),
            )?;
        }
        Ok(())
    }

    fn stamped(&self, mut record: StepRecord) -> StepRecord {
        record.app_id = Some(self.pair().v3_app_id.clone());
        record
    }

    /// The intent, between the `before-intent` and `after-intent` failpoints. The journal
    /// refuses it unless this runner holds the lock when it commits (the fence); the write
    /// that follows is sent only if the lock is not known lost since, and (a lock another
    /// machine can take over) within [`SEND_WINDOW`] of the intent's start: a runner that
    /// stalled longer gives the lock up rather than send it (see docs/architecture.md).
    async fn intent(&self, record: StepRecord) -> Result<(), EngineError> {
        reached(self.step, "before-intent").await;
        let started = std::time::Instant::now();
        self.record(Phase::Intent, StepStatus::Intent, record)?;
        reached(self.step, "after-intent").await;
        if let Some(journal) = self.ctx.journal()
            && let Some(fence) = journal.fence()
        {
            if fence.windowed() && started.elapsed() > SEND_WINDOW {
                fence.give_up(format!(
                    "{} passed between the intent of {} and its write, more than the {} s a write may follow its intent",
                    humantime(started.elapsed()),
                    self.step.id,
                    SEND_WINDOW.as_secs()
                ));
            }
            if let Some(why) = fence.lost() {
                return Err(JournalError::LockLost {
                    location: fence.place(),
                    why,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Before observing a step the journal holds an intent of another run for: while that
    /// run's write may still be in flight (it lost the lock without settling), wait, so that
    /// the observation sees what its write did. See [`crate::state::takeover_lease`].
    async fn await_previous_writes(&self) -> Result<(), EngineError> {
        let Some(fence) = self.ctx.journal().and_then(|j| j.fence()) else {
            return Ok(());
        };
        if fence.previous_settled() {
            return Ok(());
        }
        let foreign_intent = journal_state(self.ctx, self.step)?
            .is_some_and(|s| s.status == StepStatus::Intent && s.run_id != self.run_id);
        if !foreign_intent {
            return Ok(());
        }
        self.reporter.report(&Event::notice(format!(
            "{}: the runner that held the lock before left its write in flight; waiting up to {} for it to end before observing",
            self.step.id,
            humantime(fence.lease_left())
        )));
        while !fence.previous_settled() {
            if let Some(why) = fence.lost() {
                return Err(JournalError::LockLost {
                    location: fence.place(),
                    why,
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(250).min(fence.lease_left())).await;
        }
        Ok(())
    }

    /// The outcome, then the `after-outcome` failpoint.
    async fn outcome(&self, status: StepStatus, record: StepRecord) -> Result<(), EngineError> {
        self.record(Phase::Outcome, status, record)?;
        reached(self.step, "after-outcome").await;
        Ok(())
    }

    /// Keeps the journal's view current for a step found done, without touching what it
    /// already holds for one it records done.
    fn found_done(&self) -> Result<(), EngineError> {
        if let Some(journal) = self.ctx.journal()
            && journal
                .step(&self.step.id)?
                .is_none_or(|s| s.status != StepStatus::Done)
        {
            journal.record(
                self.run_id,
                &self.step.id,
                Phase::Observed,
                StepStatus::Done,
                &StepRecord {
                    action: Some("unchanged".into()),
                    ..StepRecord::default()
                },
            )?;
        }
        Ok(())
    }

    /// A step that ended in an error. While a write's outcome is unknown (a running wave, or
    /// an intent whose request got no answer) the step's row holds what the next run needs to
    /// resolve it (the jobs before the request, the wave's job IDs): the error goes to the
    /// audit trail only. Otherwise it is recorded as the step's failure. A failure to journal
    /// leaves the previous state, which the next run observes anyway.
    fn failed(&self, err: EngineError) -> Outcome {
        // A server's message can be megabytes: cut (saying so) before it is recorded or shown.
        let message = crate::untrusted::bounded_message(err.outcome_message());
        let record = StepRecord {
            error: Some(message.clone()),
            request_id: err.request_id(),
            ..StepRecord::default()
        };
        if let Some(journal) = self.ctx.journal() {
            // A lost lock: nothing more is recorded for the step (an outcome its write got was
            // kept, if it could be; a failure written over it would hide it).
            if journal.lock_lost().is_some() {
                return Outcome::Failed(message);
            }
            let open = journal_state(self.ctx, self.step)
                .ok()
                .flatten()
                .is_some_and(|s| {
                    s.status == StepStatus::Running
                        || (s.status == StepStatus::Intent && err.outcome_unknown())
                });
            if open {
                let _ = journal.note(self.run_id, &self.step.id, &self.stamped(record));
            } else {
                let _ = self.record(Phase::Outcome, StepStatus::Failed, record);
            }
        }
        Outcome::Failed(message)
    }
}

/// Reads the steps of one pair share, made once. Today: the grants of the pair's test
/// accounts, looked up in pages rather than one call per account. A failure is kept too, so
/// that an outage fails the pair's clones once instead of each retrying every page.
pub(super) struct PairReads {
    pair: usize,
    grants: OnceCell<Result<Arc<GrantIndex>, String>>,
}

impl PairReads {
    /// Reads made when a step first needs them (`apply`).
    pub fn lazy(pair: usize) -> PairReads {
        PairReads {
            pair,
            grants: OnceCell::new(),
        }
    }

    /// Every read made now (`plan`): a failure stops the preview, as an observation's does.
    pub async fn load(ctx: &Context, pair: usize) -> Result<PairReads, EngineError> {
        let grants = clone::grant_index(ctx, pair).await?;
        Ok(PairReads {
            pair,
            grants: OnceCell::new_with(Some(Ok(Arc::new(grants)))),
        })
    }

    async fn grants(&self, ctx: &Context) -> Result<Arc<GrantIndex>, String> {
        self.grants
            .get_or_init(|| async {
                clone::grant_index(ctx, self.pair)
                    .await
                    .map(Arc::new)
                    .map_err(|err| err.outcome_message())
            })
            .await
            .clone()
    }
}

/// The journal's record of a step, unless it was made for another v3 application.
pub(super) fn journal_state(ctx: &Context, step: &Step) -> Result<Option<StepState>, EngineError> {
    let Some(journal) = ctx.journal() else {
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

/// The journal's record of a definite refusal of the step (Nylas answered 400) that still
/// stands: made for the same request (`key`), nothing that lifts refusals written since (a
/// connector fixed, an import run again), and no rerun flag naming the step.
fn standing_refusal(cx: &StepCx<'_>, key: &str) -> Result<Option<StepState>, EngineError> {
    let (ctx, step) = (cx.ctx, cx.step);
    let Some(state) = cx.journal_state()? else {
        return Ok(None);
    };
    if state.status != StepStatus::Failed
        || !state.record.refused
        || state.record.request_key.as_deref() != Some(key)
        || ctx.options().rerun(&step.id)
    {
        return Ok(None);
    }
    // What Nylas checks when it refuses, written in a later run: the refusal may no longer
    // hold.
    for other in ctx
        .graph()
        .steps()
        .filter(|s| s.pair == step.pair && s.id != step.id && lifts_refusals(&s.kind))
    {
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

/// `12 s`, `3 min 20 s`: a duration for a message.
fn humantime(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else if secs > 0 {
        format!("{secs} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Nylas's answer to a refused request, for the journal and the summary: status, type and
/// message (at most [`crate::untrusted::MAX_MESSAGE_BYTES`] of it), without the help text meant
/// for an interactive error.
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
            // Cut to a few KiB (saying so): a server's message can be megabytes, and this one
            // is journaled and printed by every later `status` and `plan`.
            let message = if message.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    crate::untrusted::bounded(message, crate::untrusted::MAX_MESSAGE_BYTES)
                )
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

#[cfg(test)]
mod tests {
    /// Adding a step kind touches this folder, the graph's kind enum and the plan model, never
    /// the scheduler or its executors: they name no kind.
    #[test]
    fn the_scheduler_and_its_executors_name_no_step_kind() {
        for (file, text) in [
            ("scheduler.rs", include_str!("../scheduler.rs")),
            ("apply.rs", include_str!("../apply.rs")),
            ("preview.rs", include_str!("../preview.rs")),
        ] {
            let code = text.split("#[cfg(test)]").next().unwrap_or(text);
            for word in [
                "StepKind",
                "Kind::",
                "link::",
                "import::",
                "connector::",
                "webhook::",
                "webhook_test::",
                "pubsub::",
                "sns::",
                "redirect_uri::",
                "clone::",
                "batch::",
            ] {
                assert!(!code.contains(word), "{file} names `{word}`");
            }
        }
    }
}
