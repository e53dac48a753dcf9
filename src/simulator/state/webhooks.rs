//! Webhook destinations of a v3 application.

use super::{AppState, State};
use crate::api::{TriggerType, Webhook};
use crate::simulator::clock::secs;
use crate::simulator::ids;

#[derive(Debug, Clone)]
pub struct WebhookState {
    pub id: String,
    pub description: Option<String>,
    pub trigger_types: Vec<TriggerType>,
    pub webhook_url: String,
    pub status: String,
    pub notification_email_addresses: Option<Vec<String>>,
    pub compressed_delivery: bool,
    /// Signs notifications. A secret: only the create response carries it, never a log.
    pub secret: String,
    pub created_s: i64,
    pub updated_s: i64,
    pub status_updated_s: i64,
}

/// The fields `put-webhook-by-id` may change; `None` (or empty) leaves a field as it is, but
/// for an empty `description` or `notification_email_addresses` when the simulator is told to
/// clear them ([`EmptyFields`](crate::simulator::EmptyFields)).
#[derive(Debug, Default, Clone)]
pub struct WebhookChanges {
    pub description: Option<String>,
    pub trigger_types: Option<Vec<TriggerType>>,
    pub webhook_url: Option<String>,
    pub status: Option<String>,
    pub notification_email_addresses: Option<Vec<String>>,
    pub compressed_delivery: Option<bool>,
}

impl WebhookState {
    /// The destination as list, get and update return it: without its secret, every other
    /// field present (empty when unset).
    pub fn to_api(&self) -> Webhook {
        Webhook {
            id: self.id.clone(),
            description: Some(self.description.clone().unwrap_or_default()),
            trigger_types: self.trigger_types.clone(),
            webhook_url: self.webhook_url.clone(),
            status: Some(self.status.clone()),
            notification_email_addresses: Some(
                self.notification_email_addresses
                    .clone()
                    .unwrap_or_default(),
            ),
            compressed_delivery: Some(self.compressed_delivery),
            webhook_secret: None,
            status_updated_at: Some(self.status_updated_s),
            created_at: Some(self.created_s),
            updated_at: Some(self.updated_s),
        }
    }
}

impl AppState {
    pub fn webhook(&self, id: &str) -> Option<&WebhookState> {
        self.webhooks.iter().find(|w| w.id == id)
    }
}

impl State {
    /// Creates a destination; the returned webhook carries its secret, once.
    pub fn create_webhook(&mut self, app: usize, changes: WebhookChanges, now_ms: u64) -> Webhook {
        let id = ids::webhook_id(self.rng());
        let secret = ids::webhook_secret(self.rng());
        let now = secs(now_ms);
        let webhook = WebhookState {
            id,
            description: changes.description,
            trigger_types: changes.trigger_types.unwrap_or_default(),
            webhook_url: changes.webhook_url.unwrap_or_default(),
            status: "active".into(),
            notification_email_addresses: changes.notification_email_addresses,
            compressed_delivery: changes.compressed_delivery.unwrap_or(false),
            secret,
            created_s: now,
            updated_s: now,
            status_updated_s: now,
        };
        let mut out = webhook.to_api();
        out.webhook_secret = Some(webhook.secret.clone());
        self.apps[app].webhooks.push(webhook);
        out
    }

    /// Applies `changes` to destination `id`; `None` if there is none.
    pub fn update_webhook(
        &mut self,
        app: usize,
        id: &str,
        changes: WebhookChanges,
        now_ms: u64,
    ) -> Option<Webhook> {
        let now = secs(now_ms);
        let clears = self.empty_fields.clears_webhooks();
        let webhook = self.apps[app].webhooks.iter_mut().find(|w| w.id == id)?;
        match changes.description {
            Some(d) if !d.is_empty() => webhook.description = Some(d),
            Some(_) if clears => webhook.description = None,
            _ => {}
        }
        if let Some(t) = changes.trigger_types.filter(|t| !t.is_empty()) {
            webhook.trigger_types = t;
        }
        if let Some(u) = changes.webhook_url.filter(|u| !u.is_empty()) {
            webhook.webhook_url = u;
        }
        if let Some(s) = changes.status.filter(|s| !s.is_empty()) {
            if s != webhook.status {
                webhook.status_updated_s = now;
            }
            webhook.status = s;
        }
        match changes.notification_email_addresses {
            Some(n) if !n.is_empty() => webhook.notification_email_addresses = Some(n),
            Some(_) if clears => webhook.notification_email_addresses = None,
            _ => {}
        }
        if let Some(c) = changes.compressed_delivery {
            webhook.compressed_delivery = c;
        }
        webhook.updated_s = now;
        Some(webhook.to_api())
    }

    /// Removes destination `id`; false when there is none.
    pub fn delete_webhook(&mut self, app: usize, id: &str) -> bool {
        let webhooks = &mut self.apps[app].webhooks;
        let before = webhooks.len();
        webhooks.retain(|w| w.id != id);
        webhooks.len() != before
    }
}
