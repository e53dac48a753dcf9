//! `webhook/<url>`: one notification destination, matched by its URL.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use crate::api::{CreateWebhook, UpdateWebhook, Webhook};
use crate::graph::WebhookStep;

use super::super::EngineError;
use super::super::journal::StepRecord;
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx};

/// Webhook: an update is repeatable; a create is not (a repeat makes a second destination,
/// which doubles every notification), so after an unanswered create the destinations are
/// listed again (for a while: lists can lag) and the create is never sent again in the same
/// run. After a create, the destinations are listed once more: another runner may have
/// created the same one at the same time. Nothing is ever deleted.
pub(super) struct WebhookKind;

/// What a webhook step journals: create or update, and the destination's ID. The
/// destination's signing secret, in the create's answer, is never journaled.
#[derive(Debug, Clone, Default)]
pub(super) struct WebhookRecord {
    pub created: bool,
    pub request_id: Option<String>,
    pub destination: Option<String>,
}

impl From<WebhookRecord> for StepRecord {
    fn from(r: WebhookRecord) -> StepRecord {
        StepRecord {
            action: Some(if r.created { "create" } else { "update" }.into()),
            request_id: r.request_id,
            object_id: r.destination,
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
        let webhooks = cx.app().list_webhooks().await?.data;
        let want_url = normalized_url(&w.url);
        let mut same_url: Vec<Webhook> = webhooks
            .into_iter()
            .filter(|h| normalized_url(&h.webhook_url) == want_url)
            .collect();
        if same_url.len() > 1 {
            return Ok(Observed::of(
                Action::Conflict,
                duplicate_webhooks(&w.url, &same_url, None),
            ));
        }
        let Some(live) = same_url.pop() else {
            return Ok(Observed::of(
                Action::Create,
                "no destination with this URL yet",
            ));
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
        let url = normalized_url(&w.url);
        let same_url: Vec<_> = cx
            .app()
            .list_webhooks()
            .await?
            .data
            .into_iter()
            .filter(|h| normalized_url(&h.webhook_url) == url)
            .collect();
        if same_url.len() > 1 {
            return Ok(Outcome::Failed(format!(
                "conflict: {}",
                duplicate_webhooks(&w.url, &same_url, record.destination.as_deref())
            )));
        }
        Ok(outcome)
    }
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
                status: None,
                compressed_delivery: None,
            },
        )
        .await?;
    Ok(Sent::Done {
        record: WebhookRecord {
            created: false,
            request_id: response.request_id,
            destination: Some(live.id.clone()),
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
        Ok(response) => (response.data.webhook.id, response.request_id),
        Err(err) if err.is_ambiguous() => {
            let mut found = find_created(cx, w).await?;
            if found.len() > 1 {
                // This run's create and another runner's both happened; which one is this
                // run's cannot be told. Nothing more is written.
                return Ok(Sent::Unresolved(Outcome::Failed(format!(
                    "conflict: {}",
                    duplicate_webhooks(&w.url, &found, None)
                ))));
            }
            match found.pop() {
                Some(h) => (h.id, None),
                None => {
                    return Err(EngineError::OutcomeUnknown {
                        step: cx.step.id.to_string(),
                        what: "webhook create".into(),
                    });
                }
            }
        }
        Err(err) => return Err(err.into()),
    };
    Ok(Sent::Done {
        outcome: Outcome::Changed(format!("created webhook destination {id}")),
        record: WebhookRecord {
            created: true,
            request_id,
            destination: Some(id),
        },
    })
}

/// After an unanswered create, which may have happened: the destinations with the plan's URL,
/// listed five times over about 15 seconds (lists can lag). The create is never
/// sent again in this run; a second destination would double every notification.
async fn find_created(cx: &WriteCx<'_>, w: &WebhookStep) -> Result<Vec<Webhook>, EngineError> {
    let url = normalized_url(&w.url);
    let mut wait = Duration::from_millis(500);
    let mut found = Vec::new();
    for _ in 0..5 {
        found = cx
            .app()
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
    Ok(found)
}

/// What differs between a live destination and the plan's, by name.
fn webhook_difference(live: &Webhook, w: &WebhookStep) -> Vec<&'static str> {
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
    differences
}

/// A URL as Nylas would store it (lower-case scheme and host, `/` for an empty path), so that
/// `https://Hooks.Example.com` and `https://hooks.example.com/` name one destination.
pub fn normalized_url(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.to_string())
}

/// Why several destinations with one URL are a problem, and what to do.
fn duplicate_webhooks(url: &str, hooks: &[Webhook], ours: Option<&str>) -> String {
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
