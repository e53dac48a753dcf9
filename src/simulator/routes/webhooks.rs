//! Webhook destinations: create, list, get and update. The contract declares only 400 for
//! their errors, so an unknown destination id is a 400, as Nylas answers
//! (`destination.id.not.found`).

use serde::Deserialize;

use super::{Ctx, Handled, Reply, check_fields, json_body};
use crate::api::TriggerType;
use crate::simulator::error::ApiError;
use crate::simulator::state::{State, WebhookChanges};

/// `destination_input_payload`.
#[derive(Debug, Deserialize)]
struct CreateBody {
    trigger_types: Vec<TriggerType>,
    webhook_url: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    notification_email_addresses: Option<Vec<String>>,
    #[serde(default)]
    compressed_delivery: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum UpdateStatus {
    Active,
    Pause,
}

/// `destination_update_payload`.
#[derive(Debug, Default, Deserialize)]
struct UpdateBody {
    #[serde(default)]
    trigger_types: Option<Vec<TriggerType>>,
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    status: Option<UpdateStatus>,
    #[serde(default)]
    notification_email_addresses: Option<Vec<String>>,
    #[serde(default)]
    compressed_delivery: Option<bool>,
}

fn check_url(url: &str) -> Result<(), ApiError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "webhook_url must be an http or https URL",
        ))
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::bad_request(format!("destination.id.not.found : webhook {id} not found"))
}

/// `destination_input_payload`'s properties.
const CREATE_FIELDS: [&str; 5] = [
    "description",
    "trigger_types",
    "webhook_url",
    "notification_email_addresses",
    "compressed_delivery",
];

pub fn create(state: &mut State, ctx: &Ctx) -> Handled {
    check_fields(ctx, &CREATE_FIELDS)?;
    let body: CreateBody = json_body(ctx)?;
    check_url(&body.webhook_url)?;
    if body.trigger_types.is_empty() {
        return Err(ApiError::bad_request("trigger_types must not be empty"));
    }
    let webhook = state.create_webhook(
        ctx.app,
        WebhookChanges {
            description: body.description,
            trigger_types: Some(body.trigger_types),
            webhook_url: Some(body.webhook_url),
            status: None,
            notification_email_addresses: body.notification_email_addresses,
            compressed_delivery: body.compressed_delivery,
        },
        ctx.now_ms,
    );
    Ok(Reply::ok(ctx.request_id, webhook))
}

pub fn list(state: &mut State, ctx: &Ctx) -> Handled {
    let data: Vec<_> = state.apps[ctx.app]
        .webhooks
        .iter()
        .map(|w| w.to_api())
        .collect();
    Ok(Reply::ok(ctx.request_id, data))
}

pub fn get(state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    let webhook = state.apps[ctx.app]
        .webhook(id)
        .ok_or_else(|| not_found(id))?;
    Ok(Reply::ok(ctx.request_id, webhook.to_api()))
}

pub fn update(state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    check_fields(
        ctx,
        &[
            "description",
            "trigger_types",
            "webhook_url",
            "status",
            "notification_email_addresses",
            "compressed_delivery",
        ],
    )?;
    let body: UpdateBody = json_body(ctx)?;
    if let Some(url) = body.webhook_url.as_deref().filter(|u| !u.is_empty()) {
        check_url(url)?;
    }
    let changes = WebhookChanges {
        description: body.description,
        trigger_types: body.trigger_types,
        webhook_url: body.webhook_url,
        status: body.status.map(|s| match s {
            UpdateStatus::Active => "active".to_string(),
            UpdateStatus::Pause => "pause".to_string(),
        }),
        notification_email_addresses: body.notification_email_addresses,
        compressed_delivery: body.compressed_delivery,
    };
    let webhook = state
        .update_webhook(ctx.app, id, changes, ctx.now_ms)
        .ok_or_else(|| not_found(id))?;
    Ok(Reply::ok(ctx.request_id, webhook))
}
