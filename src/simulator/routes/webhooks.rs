//! Webhook destinations: create, list, get, update and delete, and test events. The contract declares
//! only 400 for their errors, so an unknown destination id is a 400, as Nylas answers
//! (`destination.id.not.found`).
//!
//! Creating a destination, or moving one to another URL, sends the verification challenge to
//! the URL first (see `outbound`): an endpoint that does not echo it makes the request fail with
//! the contract's `create_400` (`unable.verify.webhook_url : status is not ok, got 404`), and
//! nothing is stored.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{Ctx, Handled, Reply, check_fields, json_body};
use crate::api::forms::check_webhook_url;
use crate::api::{TestTriggerType, TriggerType};
use crate::simulator::clock::secs;
use crate::simulator::error::ApiError;
use crate::simulator::ids;
use crate::simulator::outbound::{Delivery, Planned, Probe};
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

/// `send_test_event_input`.
#[derive(Debug, Deserialize)]
struct TestEventBody {
    trigger_type: TestTriggerType,
    webhook_url: String,
}

/// An `https` URL, or `http` on this machine (where tests run their receivers).
fn check_url(url: &str) -> Result<reqwest::Url, ApiError> {
    check_webhook_url(url).map_err(ApiError::bad_request)
}

/// The contract's error types (`create_400` and `update_400` examples) for a URL that failed
/// verification.
const CREATE_ERROR: &str = "70005";
const UPDATE_ERROR: &str = "70000";

/// The verification's outcome as the handler's answer: `Ok` when the URL echoed the challenge
/// (or needed no verification), else the contract's 400.
fn verified(ctx: &Ctx, kind: &'static str) -> Result<(), ApiError> {
    match ctx.delivery {
        Some(Delivery::Refused(why)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            kind,
            format!("unable.verify.webhook_url : {why}"),
        )),
        Some(Delivery::Accepted) | None => Ok(()),
    }
}

/// The challenge for `url`, sent as Nylas sends it.
fn challenge(state: &mut State, url: reqwest::Url) -> Planned {
    let challenge = ids::challenge(state.rng());
    Planned::for_probe(Probe::Challenge { url, challenge }, &state.world)
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

fn parse_create(ctx: &Ctx) -> Result<(CreateBody, reqwest::Url), ApiError> {
    check_fields(ctx, &CREATE_FIELDS)?;
    let body: CreateBody = json_body(ctx)?;
    let url = check_url(&body.webhook_url)?;
    if body.trigger_types.is_empty() {
        return Err(ApiError::bad_request("trigger_types must not be empty"));
    }
    Ok((body, url))
}

/// A create needs its URL verified.
pub fn create_delivery(state: &mut State, ctx: &Ctx) -> Option<Planned> {
    let (_, url) = parse_create(ctx).ok()?;
    Some(challenge(state, url))
}

pub fn create(state: &mut State, ctx: &Ctx) -> Handled {
    let (body, _) = parse_create(ctx)?;
    verified(ctx, CREATE_ERROR)?;
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

/// `destination_update_payload`'s properties.
const UPDATE_FIELDS: [&str; 6] = [
    "description",
    "trigger_types",
    "webhook_url",
    "status",
    "notification_email_addresses",
    "compressed_delivery",
];

fn parse_update(ctx: &Ctx) -> Result<(UpdateBody, Option<reqwest::Url>), ApiError> {
    check_fields(ctx, &UPDATE_FIELDS)?;
    let body: UpdateBody = json_body(ctx)?;
    let url = match body.webhook_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => Some(check_url(url)?),
        None => None,
    };
    Ok((body, url))
}

/// An update that moves a destination to another URL needs the new URL verified.
pub fn update_delivery(state: &mut State, ctx: &Ctx) -> Option<Planned> {
    let (body, url) = parse_update(ctx).ok()?;
    let url = url?;
    let current = state.apps[ctx.app].webhook(ctx.param.unwrap_or_default())?;
    if body.webhook_url.as_deref() == Some(current.webhook_url.as_str()) {
        return None;
    }
    Some(challenge(state, url))
}

pub fn update(state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    let (body, _) = parse_update(ctx)?;
    if state.apps[ctx.app].webhook(id).is_none() {
        return Err(not_found(id));
    }
    verified(ctx, UPDATE_ERROR)?;
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

/// `delete_200`: `{"data": {"status": "success"}}`.
#[derive(serde::Serialize)]
struct Deleted {
    status: &'static str,
}

/// `delete-webhook-by-id`: what a person does in the dashboard (the runner never deletes). An
/// unknown id is the contract's `delete_400` (`destination.id.not.found`).
pub fn delete(state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    if !state.delete_webhook(ctx.app, id) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            UPDATE_ERROR,
            format!("destination.id.not.found : webhook {id} not found"),
        ));
    }
    Ok(Reply::ok(ctx.request_id, Deleted { status: "success" }))
}

fn parse_test_event(ctx: &Ctx) -> Result<(TestEventBody, reqwest::Url), ApiError> {
    check_fields(ctx, &["trigger_type", "webhook_url"])?;
    let body: TestEventBody = json_body(ctx)?;
    let url = check_url(&body.webhook_url)?;
    Ok((body, url))
}

/// A test event is delivered: a notification shaped like Nylas's for its trigger.
pub fn test_event_delivery(state: &mut State, ctx: &Ctx) -> Option<Planned> {
    let (body, url) = parse_test_event(ctx).ok()?;
    let id = ids::uuid(state.rng());
    let notification = test_notification(
        body.trigger_type,
        &state.v3(ctx.app).id,
        &id,
        secs(ctx.now_ms),
    );
    let body = serde_json::to_vec(&notification).ok()?;
    Some(Planned::for_probe(
        Probe::TestEvent { url, body },
        &state.world,
    ))
}

/// `send_test_event`: `data` is `"success"` when the endpoint acknowledged the test
/// notification with a 200, otherwise `"failed: "` and why.
pub fn send_test_event(_state: &mut State, ctx: &Ctx) -> Handled {
    parse_test_event(ctx)?;
    let data = match ctx.delivery {
        Some(Delivery::Accepted) => "success".to_string(),
        Some(Delivery::Refused(why)) => format!("failed: {why}"),
        None => "failed: no test event was delivered".to_string(),
    };
    Ok(Reply::ok(ctx.request_id, data))
}

/// A test notification in Nylas's envelope (CloudEvents: `specversion`, `type`, `source`, `id`,
/// `time`, `webhook_delivery_attempt`, `data.application_id`, `data.object`), with a mock object
/// of the trigger's kind.
pub fn test_notification(
    trigger: TestTriggerType,
    application_id: &str,
    id: &str,
    now_s: i64,
) -> serde_json::Value {
    let name = trigger.as_str();
    let family = name.split('.').next().unwrap_or(name);
    let grant = "mock-grant-id";
    let (source, object) = match family {
        "grant" => (
            "/nylas/system",
            json!({"grant_id": grant, "integration_id": "mock-integration-id", "provider": "google"}),
        ),
        "calendar" => (
            "/google/calendars/incremental",
            json!({"id": "mock-calendar-id", "grant_id": grant, "object": "calendar", "name": "Test calendar"}),
        ),
        "event" => (
            "/google/events/incremental",
            json!({"id": "mock-event-id", "grant_id": grant, "calendar_id": "mock-calendar-id", "object": "event", "title": "Test event"}),
        ),
        "contact" => (
            "/google/contacts/incremental",
            json!({"id": "mock-contact-id", "grant_id": grant, "object": "contact"}),
        ),
        "folder" => (
            "/google/folders/incremental",
            json!({"id": "mock-folder-id", "grant_id": grant, "object": "folder", "name": "Test folder"}),
        ),
        _ if matches!(
            trigger,
            TestTriggerType::MessageOpened
                | TestTriggerType::MessageLinkClicked
                | TestTriggerType::ThreadReplied
        ) =>
        {
            (
                "/com/nylas/tracking",
                json!({"message_id": "mock-message-id", "grant_id": grant, "timestamp": now_s}),
            )
        }
        _ if matches!(
            trigger,
            TestTriggerType::MessageSendSuccess | TestTriggerType::MessageSendFailed
        ) =>
        {
            (
                "/nylas/send",
                json!({"id": "mock-message-id", "grant_id": grant, "object": "message"}),
            )
        }
        _ => (
            "/google/emails/realtime",
            json!({"id": "mock-message-id", "grant_id": grant, "object": "message", "subject": "Test message"}),
        ),
    };
    json!({
        "specversion": "1.0",
        "type": name,
        "source": source,
        "id": id,
        "time": now_s,
        "webhook_delivery_attempt": 1,
        "data": {"application_id": application_id, "object": object},
    })
}
