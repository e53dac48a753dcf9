//! Pub/Sub and Amazon SNS notification channels: create, list, get, update (PUT) and delete.
//! Both families share everything but their target: a Pub/Sub channel publishes to a Google
//! Cloud topic, an SNS channel to a topic ARN with an IAM role Nylas assumes.
//!
//! Errors are 400s in the contract's shape with its example types: `70005` for a create,
//! `70001` for a get, `70000` for an update or delete; an unknown channel id is
//! `destination.id.not.found`. An application has at most five Pub/Sub channels.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{Ctx, Handled, Reply, check_fields, json_body};
use crate::api::forms::{check_iam_role_arn, check_pubsub_topic, check_sns_topic_arn};
use crate::api::{RequestedStatus, TriggerType};
use crate::simulator::error::ApiError;
use crate::simulator::state::{
    ChannelChanges, ChannelKind, ChannelState, MAX_PUBSUB_CHANNELS, State,
};

const CREATE_ERROR: &str = "70005";
const GET_ERROR: &str = "70001";
const UPDATE_ERROR: &str = "70000";

fn error(kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, kind, message)
}

fn invalid(kind: &'static str, why: impl std::fmt::Display) -> ApiError {
    error(kind, format!("invalid.input.format : {why}"))
}

fn not_found(kind: &'static str, channel: ChannelKind, id: &str) -> ApiError {
    error(
        kind,
        format!(
            "destination.id.not.found : {} channel {id} not found",
            channel.label()
        ),
    )
}

/// The body fields of a create (`pubsub_input_payload`, `amazon_sns_input_payload`). The
/// contract also names `webhook_url` as required for Pub/Sub, but it is not a property of the
/// schema (a known defect): it is refused like any other unknown field.
fn create_fields(kind: ChannelKind) -> &'static [&'static str] {
    match kind {
        ChannelKind::Pubsub => &[
            "description",
            "trigger_types",
            "topic",
            "notification_email_addresses",
            "compressed_delivery",
        ],
        ChannelKind::Sns => &[
            "description",
            "trigger_types",
            "topic",
            "role_arn",
            "notification_email_addresses",
            "compressed_delivery",
        ],
    }
}

fn update_fields(kind: ChannelKind) -> &'static [&'static str] {
    match kind {
        ChannelKind::Pubsub => &[
            "description",
            "trigger_types",
            "topic",
            "status",
            "notification_email_addresses",
            "compressed_delivery",
        ],
        ChannelKind::Sns => &[
            "description",
            "trigger_types",
            "topic",
            "role_arn",
            "status",
            "notification_email_addresses",
            "compressed_delivery",
        ],
    }
}

/// A create or update body: every field optional here, the create's required ones checked
/// below.
#[derive(Debug, Default, Deserialize)]
struct Body {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    trigger_types: Option<Vec<TriggerType>>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    status: Option<RequestedStatus>,
    #[serde(default)]
    notification_email_addresses: Option<Vec<String>>,
    #[serde(default)]
    compressed_delivery: Option<bool>,
}

fn parse(ctx: &Ctx, allowed: &[&str], kind: &'static str) -> Result<Body, ApiError> {
    check_fields(ctx, allowed).map_err(|e| invalid(kind, e.message))?;
    json_body(ctx).map_err(|e: ApiError| invalid(kind, e.message))
}

/// The topic (and role) forms of `body`, where it has them.
fn check_forms(channel: ChannelKind, body: &Body, kind: &'static str) -> Result<(), ApiError> {
    if let Some(topic) = &body.topic {
        match channel {
            ChannelKind::Pubsub => check_pubsub_topic(topic),
            ChannelKind::Sns => check_sns_topic_arn(topic),
        }
        .map_err(|why| invalid(kind, why))?;
    }
    if let Some(role) = &body.role_arn {
        check_iam_role_arn(role).map_err(|why| invalid(kind, why))?;
    }
    if body.trigger_types.as_ref().is_some_and(Vec::is_empty) {
        return Err(invalid(kind, "trigger_types must not be empty"));
    }
    Ok(())
}

fn changes(body: Body) -> ChannelChanges {
    ChannelChanges {
        description: body.description,
        trigger_types: body.trigger_types,
        topic: body.topic,
        role_arn: body.role_arn,
        status: body.status.map(Into::into),
        notification_email_addresses: body.notification_email_addresses,
        compressed_delivery: body.compressed_delivery,
    }
}

/// A channel as get, create and update return it.
fn wire(channel: ChannelKind, state: &ChannelState) -> serde_json::Value {
    let value = match channel {
        ChannelKind::Pubsub => serde_json::to_value(state.to_pubsub()),
        ChannelKind::Sns => serde_json::to_value(state.to_sns()),
    };
    value.unwrap_or_default()
}

/// A channel as a list returns it: the list schemas spell a paused channel `paused` where every
/// other schema says `pause` (a known defect of the contract); each answer follows its own.
#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    channel: serde_json::Value,
    status: &'static str,
}

pub fn create(channel: ChannelKind, state: &mut State, ctx: &Ctx) -> Handled {
    let body = parse(ctx, create_fields(channel), CREATE_ERROR)?;
    if body.topic.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(CREATE_ERROR, "topic is required"));
    }
    if body.trigger_types.is_none() {
        return Err(invalid(CREATE_ERROR, "trigger_types is required"));
    }
    if channel == ChannelKind::Sns && body.role_arn.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(CREATE_ERROR, "role_arn is required"));
    }
    check_forms(channel, &body, CREATE_ERROR)?;
    let count = state.apps[ctx.app].channels(channel).len();
    if channel == ChannelKind::Pubsub && count >= MAX_PUBSUB_CHANNELS {
        return Err(error(
            CREATE_ERROR,
            format!(
                "pubsub.channel.limit.reached : an application can have at most {MAX_PUBSUB_CHANNELS} Pub/Sub channels, and this one has {count}; delete or reuse one"
            ),
        ));
    }
    let created = state.create_channel(ctx.app, channel, changes(body), ctx.now_ms);
    Ok(Reply::ok(ctx.request_id, wire(channel, created)))
}

pub fn list(channel: ChannelKind, state: &mut State, ctx: &Ctx) -> Handled {
    let data: Vec<Listed> = state.apps[ctx.app]
        .channels(channel)
        .iter()
        .map(|c| {
            let mut value = wire(channel, c);
            if let Some(object) = value.as_object_mut() {
                object.remove("status");
            }
            Listed {
                channel: value,
                status: c.status.as_listed(),
            }
        })
        .collect();
    Ok(Reply::ok(ctx.request_id, data))
}

pub fn get(channel: ChannelKind, state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    let found = state.apps[ctx.app]
        .channel(channel, id)
        .ok_or_else(|| not_found(GET_ERROR, channel, id))?;
    Ok(Reply::ok(ctx.request_id, wire(channel, found)))
}

pub fn update(channel: ChannelKind, state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    let body = parse(ctx, update_fields(channel), UPDATE_ERROR)?;
    check_forms(channel, &body, UPDATE_ERROR)?;
    let updated = state
        .update_channel(ctx.app, channel, id, changes(body), ctx.now_ms)
        .ok_or_else(|| not_found(UPDATE_ERROR, channel, id))?;
    Ok(Reply::ok(ctx.request_id, wire(channel, updated)))
}

/// `delete_200`: `{"data": {"status": "success"}}`.
#[derive(Serialize)]
struct Deleted {
    status: &'static str,
}

pub fn delete(channel: ChannelKind, state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    if !state.delete_channel(ctx.app, channel, id) {
        return Err(not_found(UPDATE_ERROR, channel, id));
    }
    Ok(Reply::ok(ctx.request_id, Deleted { status: "success" }))
}
