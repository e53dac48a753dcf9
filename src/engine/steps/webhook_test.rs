//! `webhook-test/<url>`: a test event of the plan's `test:` trigger, delivered by Nylas to the
//! webhook's URL (`send-test-event`) after the webhook is subscribed and before any clone of
//! its pair. The step fails, and the pair's clones wait, unless the endpoint acknowledged it.

use std::convert::Infallible;

use crate::client::TestEventDelivery;
use crate::graph::WebhookTestStep;

use super::checklist::{Check, VerifyCx, VerifyItem};
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx};
use crate::engine::EngineError;
use crate::state::journal::{StepRecord, StepStatus};

/// Webhook test. Nylas keeps no record of a test event, so the journal is the evidence: a test
/// of the same trigger recorded as acknowledged is not sent again. Sending one again is
/// harmless (the endpoint gets one more test notification; nothing changes at Nylas), so a
/// test whose outcome was lost, or that was not acknowledged, is simply sent again.
pub(super) struct WebhookTestKind;

/// What a webhook test journals: the trigger tested (as the request's key: a test of another
/// trigger is another request), Nylas's request ID, and why it failed.
#[derive(Debug, Clone, Default)]
pub(super) struct WebhookTestRecord {
    pub trigger: &'static str,
    pub request_id: Option<String>,
    pub error: Option<String>,
}

impl From<WebhookTestRecord> for StepRecord {
    fn from(r: WebhookTestRecord) -> StepRecord {
        StepRecord {
            action: Some("test".into()),
            request_key: Some(r.trigger.into()),
            request_id: r.request_id,
            error: r.error,
            ..StepRecord::default()
        }
    }
}

impl StepDriver for WebhookTestKind {
    type Spec = WebhookTestStep;
    type Found = ();
    type Write = ();
    type Follow = Infallible;
    type Record = WebhookTestRecord;

    async fn observe(cx: &StepCx<'_>, t: &WebhookTestStep) -> Result<Observed<()>, EngineError> {
        let trigger = t.event.trigger_type.as_str();
        let recorded = cx
            .journal_state()?
            .filter(|s| s.record.request_key.as_deref() == Some(trigger));
        Ok(match recorded {
            Some(s) if s.status == StepStatus::Done => Observed::of(
                Action::Unchanged,
                format!(
                    "the endpoint acknowledged a {trigger} test event in run {}",
                    s.run_id
                ),
            ),
            Some(s) if s.status == StepStatus::Failed => Observed::of(
                Action::Create,
                format!(
                    "send the {trigger} test event again; in run {}: {}",
                    s.run_id,
                    s.record.error.as_deref().unwrap_or("it failed")
                ),
            ),
            _ => Observed::of(
                Action::Create,
                format!(
                    "ask Nylas to send a {trigger} test event to the URL; the pair's clones wait for the endpoint to acknowledge it"
                ),
            ),
        })
    }

    async fn intend(
        _: &WriteCx<'_>,
        t: &WebhookTestStep,
        _: (),
        _: Action,
    ) -> Result<Intent<Self>, EngineError> {
        Ok(Intent::Write {
            record: WebhookTestRecord {
                trigger: t.event.trigger_type.as_str(),
                ..WebhookTestRecord::default()
            },
            write: (),
        })
    }

    /// Nylas keeps no record of a test: the journal's, for the plan's trigger, is the evidence.
    async fn verify(
        cx: &VerifyCx<'_>,
        t: &WebhookTestStep,
    ) -> Result<Vec<VerifyItem>, EngineError> {
        let trigger = t.event.trigger_type.as_str();
        let recorded = cx
            .recorded()?
            .filter(|s| s.record.request_key.as_deref() == Some(trigger));
        let (passed, evidence) = match recorded {
            Some(s) if s.status == StepStatus::Done => (
                true,
                format!(
                    "the endpoint acknowledged a {trigger} test event in run {}",
                    s.run_id
                ),
            ),
            Some(s) if s.status == StepStatus::Failed => (
                false,
                format!(
                    "not acknowledged in run {}: {}",
                    s.run_id,
                    s.record.error.as_deref().unwrap_or("it failed")
                ),
            ),
            _ => (false, format!("no {trigger} test event acknowledged yet")),
        };
        Ok(vec![VerifyItem::new(
            Check::WebhookTest,
            t.event.webhook_url.clone(),
            passed,
            evidence,
        )])
    }

    async fn write(
        cx: &WriteCx<'_>,
        t: &WebhookTestStep,
        _: (),
    ) -> Result<Sent<Self>, EngineError> {
        let trigger = t.event.trigger_type.as_str();
        let response = cx.app().send_test_event(&t.event).await?;
        let record = WebhookTestRecord {
            trigger,
            request_id: response.request_id.clone(),
            error: None,
        };
        Ok(match response.data {
            TestEventDelivery::Acknowledged => Sent::Done {
                record,
                outcome: Outcome::Changed(format!(
                    "the endpoint acknowledged a {trigger} test event"
                )),
            },
            TestEventDelivery::NotAcknowledged { detail } => {
                let message = not_acknowledged(t, &detail, response.request_id.as_deref());
                Sent::Failed {
                    record: WebhookTestRecord {
                        error: Some(message.clone()),
                        ..record
                    },
                    outcome: Outcome::Failed(message),
                }
            }
        })
    }
}

/// Why a test event failed, and what the endpoint must do.
fn not_acknowledged(t: &WebhookTestStep, detail: &str, request_id: Option<&str>) -> String {
    let request = request_id
        .map(|id| format!(", request_id {id}"))
        .unwrap_or_default();
    format!(
        "the endpoint did not acknowledge the {} test event (Nylas answered {:?}{request}): it must answer the test notification Nylas sends to {} with a success status (200). This pair's clones wait until it does: fix the endpoint, then run apply again",
        t.event.trigger_type, detail, t.event.webhook_url
    )
}
