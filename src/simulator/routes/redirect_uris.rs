//! The application's redirect (callback) URIs: list, add, get, update (PATCH) and delete. Each
//! has a platform (`web` when a create names none) and that platform's settings; `https` URLs,
//! `http` only on localhost, and deep links for `ios` and `android`. An unknown id is a 404, as
//! the contract declares for these operations.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Ctx, Handled, Reply, check_fields, json_body};
use crate::api::{RedirectPlatform, RedirectUri};
use crate::simulator::error::ApiError;
use crate::simulator::state::{RedirectRefusal, State, platform_settings, redirect_uri_wire};

/// The request properties of every branch of the contract's `oneOf` (`webDesktopCallbackNoSettings`,
/// `JsCallbackwSettings`, `iosCallbackwSettings`, `AndroidCallbackwSettings`).
const FIELDS: [&str; 4] = ["id", "url", "platform", "settings"];

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    platform: Option<RedirectPlatform>,
    #[serde(default)]
    settings: Option<Map<String, Value>>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("redirect URI {id} not found"))
}

fn refused(refusal: RedirectRefusal, id: &str) -> ApiError {
    match refusal {
        RedirectRefusal::Invalid(why) => ApiError::bad_request(why),
        RedirectRefusal::NotFound => not_found(id),
    }
}

/// `get_all_callback_uris`' answer: `success` beside the list.
#[derive(Serialize)]
struct Listed<'a> {
    request_id: &'a str,
    success: bool,
    data: Vec<RedirectUri>,
}

pub fn list(state: &mut State, ctx: &Ctx) -> Handled {
    let data = state.apps[ctx.app]
        .redirect_uris
        .iter()
        .map(redirect_uri_wire)
        .collect();
    Ok(Reply::json(
        axum::http::StatusCode::OK,
        &Listed {
            request_id: ctx.request_id,
            success: true,
            data,
        },
    ))
}

pub fn add(state: &mut State, ctx: &Ctx) -> Handled {
    check_fields(ctx, &FIELDS)?;
    let body: Body = json_body(ctx)?;
    let url = body
        .url
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::bad_request("url is required"))?;
    // "If you don't specify a platform, Nylas defaults to web."
    let platform = body.platform.unwrap_or(RedirectPlatform::Web);
    let platform =
        platform_settings(platform, body.settings.as_ref()).map_err(ApiError::bad_request)?;
    let added = state
        .add_redirect_uri(ctx.app, body.id, url, platform)
        .map_err(|r| refused(r, ""))?;
    Ok(Reply::ok(ctx.request_id, redirect_uri_wire(&added)))
}

pub fn get(state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    let found = state.apps[ctx.app]
        .redirect_uris
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| not_found(id))?;
    Ok(Reply::ok(ctx.request_id, redirect_uri_wire(found)))
}

pub fn update(state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    check_fields(ctx, &FIELDS)?;
    let body: Body = json_body(ctx)?;
    if !state.apps[ctx.app].redirect_uris.iter().any(|r| r.id == id) {
        return Err(not_found(id));
    }
    // The contract requires both; settings sent replace the live ones whole.
    let (Some(url), Some(platform)) = (body.url.filter(|u| !u.is_empty()), body.platform) else {
        return Err(ApiError::bad_request(
            "url and platform are required to update a redirect URI",
        ));
    };
    if body.id.as_deref().is_some_and(|given| given != id) {
        return Err(ApiError::bad_request(format!(
            "the body's id is not {id}: a redirect URI's id cannot change"
        )));
    }
    let platform =
        platform_settings(platform, body.settings.as_ref()).map_err(ApiError::bad_request)?;
    let updated = state
        .update_redirect_uri(ctx.app, id, url, platform)
        .map_err(|r| refused(r, id))?;
    Ok(Reply::ok(ctx.request_id, redirect_uri_wire(&updated)))
}

/// `200-delete`: the request id only.
#[derive(Serialize)]
struct Deleted<'a> {
    request_id: &'a str,
}

pub fn delete(state: &mut State, ctx: &Ctx) -> Handled {
    let id = ctx.param.unwrap_or_default();
    if !state.delete_redirect_uri(ctx.app, id) {
        return Err(not_found(id));
    }
    Ok(Reply::json(
        axum::http::StatusCode::OK,
        &Deleted {
            request_id: ctx.request_id,
        },
    ))
}
