//! `webhook/<url>`: one notification destination, matched by its URL.

use std::convert::Infallible;
use std::time::Duration;

use crate::api::forms::normalized_url;
use crate::api::{ChannelStatus, CreateWebhook, RequestedStatus, UpdateWebhook, Webhook};
use crate::client::{AppClient, ClientError};
use crate::graph::{Kind, WebhookStep};

use super::channel::{self, Settings};
use super::checklist::{Check, Match, VerifyCx, VerifyItem, VerifyReads, settled};
use super::unmanaged::Unmanaged;
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx, api_message};
use crate::engine::EngineError;
use crate::state::journal::StepRecord;

/// Webhook: an update is repeatable; a create is not (a repeat makes a second destination,
/// which doubles every notification), so after an unanswered create the destinations are
/// listed again (for a while: lists can lag) and the create is never sent again in the same
/// run. After a create, the destinations are listed once more: another runner may have
/// created the same one at the same time. Nothing is ever deleted.
pub(super) struct WebhookKind;

/// What a webhook step journals: create or update, the destination's ID, and why a create
/// failed verification. The destination's signing secret (`webhook_secret`, in the create's
/// answer) is never journaled, printed or kept.
#[derive(Debug, Clone, Default)]
pub(super) struct WebhookRecord {
    pub created: bool,
    pub request_id: Option<String>,
    pub destination: Option<String>,
    pub error: Option<String>,
}

impl From<WebhookRecord> for StepRecord {
    fn from(r: WebhookRecord) -> StepRecord {
        StepRecord {
            action: Some(if r.created { "create" } else { "update" }.into()),
            request_id: r.request_id,
            object_id: r.destination,
            error: r.error,
            ..StepRecord::default()
        }
    }
}

impl StepDriver for WebhookKind {
    type Spec = WebhookStep;
    /// The live destination with the plan's URL.
    type Found = Option<Box<Webhook>>;
    type Write = Option<Box<Webhook>>;
    type Follow = Infallible;
    type Record = WebhookRecord;

    async fn observe(
        cx: &StepCx<'_>,
        w: &WebhookStep,
    ) -> Result<Observed<Option<Box<Webhook>>>, EngineError> {
        let listed = cx.app().list_webhooks().await?.data;
        let live = match find_live(w, &listed) {
            Match::Several(same_url) => {
                return Ok(Observed::of(
                    Action::Conflict,
                    duplicate_webhooks(&w.url, &same_url, None),
                ));
            }
            Match::Absent => {
                return Ok(Observed::of(
                    Action::Create,
                    "no destination with this URL yet",
                ));
            }
            Match::One(live) => live.clone(),
        };
        let differences = webhook_difference(&live, w);
        let (action, reason) = if differences.is_empty() {
            (
                Action::Unchanged,
                format!("destination {} has the plan's triggers", live.id),
            )
        } else {
            (
                Action::Update,
                format!(
                    "destination {} differs in {}",
                    live.id,
                    differences.join(", ")
                ),
            )
        };
        Ok(Observed::new(action, reason, Some(Box::new(live))))
    }

    async fn intend(
        _: &WriteCx<'_>,
        _: &WebhookStep,
        live: Option<Box<Webhook>>,
        _: Action,
    ) -> Result<Intent<Self>, EngineError> {
        Ok(Intent::Write {
            record: WebhookRecord {
                created: live.is_none(),
                ..WebhookRecord::default()
            },
            write: live,
        })
    }

    async fn write(
        cx: &WriteCx<'_>,
        w: &WebhookStep,
        live: Option<Box<Webhook>>,
    ) -> Result<Sent<Self>, EngineError> {
        match live {
            Some(live) => update(cx, w, &live).await,
            None => create(cx, w).await,
        }
    }

    /// Another runner may have created the same destination at the same time: look again,
    /// and say so rather than leave every notification doubled without a word.
    async fn confirm(
        cx: &WriteCx<'_>,
        w: &WebhookStep,
        record: &WebhookRecord,
        outcome: Outcome,
    ) -> Result<Outcome, EngineError> {
        if !record.created {
            return Ok(outcome);
        }
        let listed = cx.app().list_webhooks().await?.data;
        if let Match::Several(same_url) = find_live(w, &listed) {
            return Ok(Outcome::Failed(format!(
                "conflict: {}",
                duplicate_webhooks(&w.url, &same_url, record.destination.as_deref())
            )));
        }
        Ok(outcome)
    }

    async fn verify(cx: &VerifyCx<'_>, w: &WebhookStep) -> Result<Vec<VerifyItem>, EngineError> {
        let listed = VerifyReads::listed(&cx.reads.webhooks, || async {
            Ok(cx.app().list_webhooks().await?.data)
        })
        .await?;
        let (passed, evidence) = match find_live(w, listed) {
            Match::Absent => (
                false,
                format!(
                    "absent: no destination with this URL among {} destinations",
                    listed.len()
                ),
            ),
            Match::Several(same_url) => (false, duplicate_webhooks(&w.url, &same_url, None)),
            Match::One(h) => settled(
                "destination",
                &h.id,
                &webhook_difference(h, w),
                h.status.as_deref(),
                w.status,
            ),
        };
        Ok(vec![VerifyItem::new(
            Check::Webhook,
            w.url.clone(),
            passed,
            evidence,
        )])
    }
}

/// Whether a live destination is the step's: the one match every use of the kind shares
/// (observe, the look after a create, the search after an unanswered one, verify, and what
/// `plan` lists as not managed): the plan's URL, as Nylas normalizes it.
fn is_match(w: &WebhookStep, live: &Webhook) -> bool {
    normalized_url(&live.webhook_url) == normalized_url(&w.url)
}

/// The live destinations with the step's URL (see [`is_match`]).
fn find_live<'a>(w: &WebhookStep, listed: &'a [Webhook]) -> Match<'a, Webhook> {
    Match::of(listed.iter().filter(|h| is_match(w, h)).collect())
}

async fn update(
    cx: &WriteCx<'_>,
    w: &WebhookStep,
    live: &Webhook,
) -> Result<Sent<WebhookKind>, EngineError> {
    let response = cx
        .app()
        .update_webhook(
            &live.id,
            &UpdateWebhook {
                trigger_types: Some(w.triggers.clone()),
                webhook_url: None,
                description: w.description.clone(),
                notification_email_addresses: w.notification_emails.clone(),
                status: Some(w.status),
                compressed_delivery: None,
            },
        )
        .await?;
    Ok(Sent::Done {
        record: WebhookRecord {
            created: false,
            request_id: response.request_id,
            destination: Some(live.id.clone()),
            error: None,
        },
        outcome: Outcome::Changed(format!("updated webhook destination {}", live.id)),
    })
}

async fn create(cx: &WriteCx<'_>, w: &WebhookStep) -> Result<Sent<WebhookKind>, EngineError> {
    let body = CreateWebhook {
        trigger_types: w.triggers.clone(),
        webhook_url: w.url.clone(),
        description: w.description.clone(),
        notification_email_addresses: w.notification_emails.clone(),
        compressed_delivery: None,
    };
    let (id, request_id) = match cx.app().create_webhook(&body).await {
        // The signing secret in the answer is dropped here, unread.
        Ok(response) => (response.data.webhook.id, response.request_id),
        Err(err) if is_unverified(&err) => {
            let message = unverified(w, &err);
            return Ok(Sent::Failed {
                record: WebhookRecord {
                    created: true,
                    request_id: err.request_id().map(str::to_owned),
                    destination: None,
                    error: Some(message.clone()),
                },
                outcome: Outcome::Failed(message),
            });
        }
        Err(err) if err.is_ambiguous() => {
            let listed = find_created(cx, w).await?;
            match find_live(w, &listed) {
                // This run's create and another runner's both happened; which one is this
                // run's cannot be told. Nothing more is written.
                Match::Several(found) => {
                    return Ok(Sent::Unresolved(Outcome::Failed(format!(
                        "conflict: {}",
                        duplicate_webhooks(&w.url, &found, None)
                    ))));
                }
                Match::One(h) => (h.id.clone(), None),
                Match::Absent => {
                    return Err(EngineError::OutcomeUnknown {
                        step: cx.step.id.to_string(),
                        what: "webhook create".into(),
                    });
                }
            }
        }
        Err(err) => return Err(err.into()),
    };
    // A create takes no status (every new destination is active): a plan that wants it paused
    // pauses it at once, so that one apply is enough.
    if w.status == RequestedStatus::Pause {
        cx.app()
            .update_webhook(
                &id,
                &UpdateWebhook {
                    status: Some(RequestedStatus::Pause),
                    ..UpdateWebhook::default()
                },
            )
            .await?;
    }
    Ok(Sent::Done {
        outcome: Outcome::Changed(format!("created webhook destination {id}")),
        record: WebhookRecord {
            created: true,
            request_id,
            destination: Some(id),
            error: None,
        },
    })
}

/// After an unanswered create, which may have happened: the destinations, listed until one
/// has the plan's URL, five times over about 15 seconds (lists can lag). The create is never
/// sent again in this run; a second destination would double every notification.
async fn find_created(cx: &WriteCx<'_>, w: &WebhookStep) -> Result<Vec<Webhook>, EngineError> {
    let mut wait = Duration::from_millis(500);
    let mut listed = Vec::new();
    for _ in 0..5 {
        listed = cx.app().list_webhooks().await?.data;
        if !matches!(find_live(w, &listed), Match::Absent) {
            break;
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    Ok(listed)
}

/// What differs between a live webhook destination and the plan's, by name (empty: as
/// planned): the triggers, and the description and notification emails where the plan gives
/// them.
fn webhook_difference(live: &Webhook, w: &WebhookStep) -> Vec<&'static str> {
    channel::differences(
        Settings {
            triggers: &live.trigger_types,
            description: live.description.as_deref(),
            emails: live.notification_email_addresses.as_deref(),
            compressed_delivery: None,
            status: live.status.as_deref().and_then(ChannelStatus::parse),
        },
        Settings {
            triggers: &w.triggers,
            description: w.description.as_deref(),
            emails: w.notification_emails.as_deref(),
            compressed_delivery: None,
            status: Some(w.status.into()),
        },
    )
}

/// Whether a create failed because Nylas could not verify the URL: the contract's `create_400`
/// (`unable.verify.webhook_url : status is not ok, got 404`).
fn is_unverified(err: &ClientError) -> bool {
    matches!(err, ClientError::Api { status: 400, message, .. } if message.contains("unable.verify.webhook_url"))
}

/// Why the create failed verification, and what the endpoint must do.
fn unverified(w: &WebhookStep, err: &ClientError) -> String {
    format!(
        "Nylas could not verify the URL: {}. Creating a webhook destination makes Nylas send the URL a verification request with a `challenge` (GET {}?challenge=<value>): the endpoint must answer it with status 200 and the challenge's value as the body. No destination was made; this pair's clones wait for it: fix the endpoint, then run apply again",
        api_message(err),
        w.url
    )
}

/// The live destinations whose URL no step of the plan names.
pub(super) async fn unmanaged(
    app: &AppClient,
    planned: &[&WebhookStep],
) -> Result<Vec<Unmanaged>, EngineError> {
    Ok(app
        .list_webhooks()
        .await?
        .data
        .into_iter()
        .filter(|h| !planned.iter().any(|w| is_match(w, h)))
        .map(|h| Unmanaged {
            kind: Kind::Webhook,
            detail: format!(
                "{}, triggers {}",
                h.status.as_deref().unwrap_or("status unknown"),
                channel::trigger_list(&h.trigger_types)
            ),
            id: h.id,
            subject: h.webhook_url,
        })
        .collect())
}

/// Why several destinations with one URL are a problem, and what to do.
fn duplicate_webhooks(url: &str, hooks: &[&Webhook], ours: Option<&str>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TriggerType::{GrantCreated, GrantExpired};

    /// A live destination as Nylas lists it: every field present, empty where unset.
    fn live(status: Option<&str>, description: &str, emails: &[&str]) -> Webhook {
        Webhook {
            id: "w1".into(),
            description: Some(description.into()),
            trigger_types: vec![GrantCreated, GrantExpired],
            webhook_url: "https://hooks.acme.example/nylas".into(),
            status: status.map(str::to_owned),
            notification_email_addresses: Some(emails.iter().map(|e| e.to_string()).collect()),
            compressed_delivery: Some(false),
            webhook_secret: None,
            status_updated_at: None,
            created_at: None,
            updated_at: None,
        }
    }

    fn planned(status: RequestedStatus, description: Option<&str>) -> WebhookStep {
        WebhookStep {
            url: "https://hooks.acme.example/nylas".into(),
            triggers: vec![GrantExpired, GrantCreated],
            description: description.map(str::to_owned),
            notification_emails: None,
            status,
        }
    }

    #[test]
    fn a_destination_differs_in_what_the_plan_gives_and_in_its_status() {
        use RequestedStatus::{Active, Pause};
        for (case, live, want, expected) in [
            (
                "active, settings left out by the plan: as planned",
                live(Some("active"), "by hand", &["ops@acme.example"]),
                planned(Active, None),
                vec![],
            ),
            (
                "no description live (listed as \"\"), one planned",
                live(Some("active"), "", &[]),
                planned(Active, Some("notifications")),
                vec!["description"],
            ),
            (
                "paused by hand (`pause`, as get and update write it)",
                live(Some("pause"), "", &[]),
                planned(Active, None),
                vec!["status"],
            ),
            (
                "`paused`, as lists write it, and the plan says pause",
                live(Some("paused"), "", &[]),
                planned(Pause, None),
                vec![],
            ),
            (
                "failing",
                live(Some("failing"), "", &[]),
                planned(Active, None),
                vec!["status"],
            ),
            (
                "failed",
                live(Some("failed"), "", &[]),
                planned(Active, None),
                vec!["status"],
            ),
            (
                "a status this build does not know: not known to be active",
                live(Some("suspended"), "", &[]),
                planned(Active, None),
                vec!["status"],
            ),
            (
                "no status reported",
                live(None, "", &[]),
                planned(Active, None),
                vec!["status"],
            ),
        ] {
            assert_eq!(webhook_difference(&live, &want), expected, "{case}");
        }
    }
}
