//! The contract's operations, one file per resource. `match_operation` maps a request line to an
//! operation; each handler is a synchronous function of the locked state and the request.

mod applications;
pub use applications::application_object;
mod channels;
mod connectors;
mod grants;
mod migration;
mod redirect_uris;
mod webhooks;

use axum::http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::outbound::{Delivery, Planned};
use super::state::{ChannelKind, State};
use crate::api::{Envelope, Operation};

/// What a handler sees of a request.
pub struct Ctx<'a> {
    pub request_id: &'a str,
    /// The v3 application the API key belongs to.
    pub app: usize,
    pub now_ms: u64,
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
    pub headers: &'a HeaderMap,
    /// The path parameter (`account_id`, `provider`, `grantId` or `id`), decoded.
    pub param: Option<&'a str>,
    /// How the delivery `plan_delivery` asked for went (webhook verification, test event).
    pub delivery: Option<&'a Delivery>,
}

/// A successful answer: a status and a JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    /// `{"request_id", "data"}` with `status`.
    pub fn data<T: Serialize>(status: StatusCode, request_id: &str, data: T) -> Reply {
        let envelope = Envelope {
            request_id: Some(request_id.to_string()),
            data,
        };
        Reply {
            status,
            body: serde_json::to_vec(&envelope).unwrap_or_default(),
        }
    }

    pub fn ok<T: Serialize>(request_id: &str, data: T) -> Reply {
        Reply::data(StatusCode::OK, request_id, data)
    }

    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }
}

pub type Handled = Result<Reply, ApiError>;

/// Why a request line names no operation the simulator serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrouted {
    /// No such path in the contract.
    NotFound,
    /// The contract has the path but not this method: the methods it has, for `Allow`.
    MethodNotAllowed(Vec<&'static str>),
}

/// The operation a method and path name, with its path parameter, decoded. `HEAD` is `GET`
/// without the body (hyper leaves it out), so it names the path's `GET` operation.
pub fn match_operation(
    method: &Method,
    path: &str,
) -> Result<(Operation, Option<String>), Unrouted> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let (candidates, param): (&[Operation], Option<&str>) = match segments.as_slice() {
        ["", "v3", "migration-tools", "link-v2v3-apps"] => (&[Operation::LinkV2V3Apps], None),
        ["", "v3", "migration-tools", "import-v2-app"] => (&[Operation::ImportV2App], None),
        ["", "v3", "migration-tools", "grants", id, "clone"] if !id.is_empty() => {
            (&[Operation::CloneSingleAccount], Some(*id))
        }
        ["", "v3", "migration-tools", "snapshot-batch-clone"] => {
            (&[Operation::SnapshotBatchClone], None)
        }
        ["", "v3", "migration-tools", "jobs"] => (&[Operation::GetJobs], None),
        ["", "v3", "migration-tools", "translate"] => (&[Operation::Translate], None),
        ["", "v3", "applications"] => (&[Operation::GetApplication], None),
        ["", "v3", "applications", "redirect-uris"] => (
            &[Operation::ListRedirectUris, Operation::AddRedirectUri],
            None,
        ),
        ["", "v3", "applications", "redirect-uris", id] if !id.is_empty() => (
            &[
                Operation::GetRedirectUri,
                Operation::UpdateRedirectUri,
                Operation::DeleteRedirectUri,
            ],
            Some(*id),
        ),
        ["", "v3", "connectors"] => (
            &[Operation::ListConnectors, Operation::CreateConnector],
            None,
        ),
        ["", "v3", "connectors", p] if !p.is_empty() => (
            &[Operation::GetConnector, Operation::UpdateConnector],
            Some(*p),
        ),
        ["", "v3", "grants"] => (&[Operation::ListGrants], None),
        ["", "v3", "grants", id] if !id.is_empty() => (&[Operation::GetGrant], Some(*id)),
        ["", "v3", "webhooks"] => (&[Operation::ListWebhooks, Operation::CreateWebhook], None),
        // A fixed path wins over the template `/v3/webhooks/{id}`, as OpenAPI matches them.
        ["", "v3", "webhooks", "send-test-event"] => (&[Operation::SendTestEvent], None),
        ["", "v3", "webhooks", id] if !id.is_empty() => (
            &[
                Operation::GetWebhook,
                Operation::UpdateWebhook,
                Operation::DeleteWebhook,
            ],
            Some(*id),
        ),
        ["", "v3", "channels", "pubsub"] => (
            &[
                Operation::ListPubsubChannels,
                Operation::CreatePubsubChannel,
            ],
            None,
        ),
        ["", "v3", "channels", "pubsub", id] if !id.is_empty() => (
            &[
                Operation::GetPubsubChannel,
                Operation::UpdatePubsubChannel,
                Operation::DeletePubsubChannel,
            ],
            Some(*id),
        ),
        ["", "v3", "channels", "sns"] => (
            &[Operation::ListSnsChannels, Operation::CreateSnsChannel],
            None,
        ),
        ["", "v3", "channels", "sns", id] if !id.is_empty() => (
            &[
                Operation::GetSnsChannel,
                Operation::UpdateSnsChannel,
                Operation::DeleteSnsChannel,
            ],
            Some(*id),
        ),
        _ => return Err(Unrouted::NotFound),
    };
    let wanted = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let Some(found) = candidates.iter().find(|c| c.method() == wanted) else {
        return Err(Unrouted::MethodNotAllowed(allowed_methods(candidates)));
    };
    let op = *found;
    let param = match param {
        Some(p) => Some(percent_decode(p).ok_or(Unrouted::NotFound)?),
        None => None,
    };
    Ok((op, param))
}

/// The methods of a path, `HEAD` beside `GET`, for an `Allow` header.
fn allowed_methods(candidates: &[Operation]) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = candidates.iter().map(|c| c.method()).collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.sort_unstable();
    methods
}

/// Whether a query parameter may be repeated (the contract's `type: array` parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Once,
    Many,
}

/// The query parameters the contract declares for `op`, every one of which its handler
/// honours. Anything else is refused, never ignored: a filter the simulator dropped silently
/// would answer more than was asked for.
fn query_params(op: Operation) -> &'static [(&'static str, Repeat)] {
    use Repeat::{Many, Once};
    match op {
        Operation::CloneSingleAccount | Operation::SnapshotBatchClone => &[
            ("allow_invalid_grant_creation", Once),
            ("clone_exchange", Once),
        ],
        Operation::GetJobs => &[
            ("status", Many),
            ("type", Many),
            ("sort_by_completion", Once),
        ],
        Operation::ListConnectors => &[("limit", Once), ("offset", Once)],
        Operation::ListGrants => &[
            ("account_id", Once),
            ("account_ids", Once),
            ("before", Once),
            ("email", Once),
            ("grant_status", Once),
            ("ip", Once),
            ("limit", Once),
            ("offset", Once),
            ("order_by", Once),
            ("provider", Once),
            ("since", Once),
            ("sort_by", Once),
            ("workspace_id", Once),
        ],
        Operation::GetGrant => &[("expose_aliases", Once)],
        _ => &[],
    }
}

/// Refuses a query parameter `op` does not declare, and a single-valued one given twice.
fn check_query(op: Operation, query: &[(String, String)]) -> Result<(), ApiError> {
    let declared = query_params(op);
    for (name, _) in query {
        let Some((_, repeat)) = declared.iter().find(|(n, _)| n == name) else {
            let takes = if declared.is_empty() {
                "none".to_string()
            } else {
                declared
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ApiError::bad_request(format!(
                "unknown query parameter {name:?}: {op} takes {takes}"
            )));
        };
        if *repeat == Repeat::Once && query.iter().filter(|(n, _)| n == name).count() > 1 {
            return Err(ApiError::bad_request(format!(
                "query parameter {name} is given more than once; give it once"
            )));
        }
    }
    Ok(())
}

/// Runs `op`'s handler, once its query parameters are known to be the contract's.
pub fn dispatch(op: Operation, state: &mut State, ctx: &Ctx) -> Handled {
    check_query(op, ctx.query)?;
    match op {
        Operation::LinkV2V3Apps => migration::link(state, ctx),
        Operation::ImportV2App => migration::import(state, ctx),
        Operation::CloneSingleAccount => migration::clone_single(state, ctx),
        Operation::SnapshotBatchClone => migration::batch_clone(state, ctx),
        Operation::GetJobs => migration::jobs(state, ctx),
        Operation::Translate => migration::translate(state, ctx),
        Operation::GetApplication => applications::get(state, ctx),
        Operation::CreateConnector => connectors::create(state, ctx),
        Operation::ListConnectors => connectors::list(state, ctx),
        Operation::GetConnector => connectors::get(state, ctx),
        Operation::UpdateConnector => connectors::update(state, ctx),
        Operation::ListGrants => grants::list(state, ctx),
        Operation::GetGrant => grants::get(state, ctx),
        Operation::CreateWebhook => webhooks::create(state, ctx),
        Operation::ListWebhooks => webhooks::list(state, ctx),
        Operation::GetWebhook => webhooks::get(state, ctx),
        Operation::UpdateWebhook => webhooks::update(state, ctx),
        Operation::DeleteWebhook => webhooks::delete(state, ctx),
        Operation::SendTestEvent => webhooks::send_test_event(state, ctx),
        Operation::CreatePubsubChannel => channels::create(ChannelKind::Pubsub, state, ctx),
        Operation::ListPubsubChannels => channels::list(ChannelKind::Pubsub, state, ctx),
        Operation::GetPubsubChannel => channels::get(ChannelKind::Pubsub, state, ctx),
        Operation::UpdatePubsubChannel => channels::update(ChannelKind::Pubsub, state, ctx),
        Operation::DeletePubsubChannel => channels::delete(ChannelKind::Pubsub, state, ctx),
        Operation::CreateSnsChannel => channels::create(ChannelKind::Sns, state, ctx),
        Operation::ListSnsChannels => channels::list(ChannelKind::Sns, state, ctx),
        Operation::GetSnsChannel => channels::get(ChannelKind::Sns, state, ctx),
        Operation::UpdateSnsChannel => channels::update(ChannelKind::Sns, state, ctx),
        Operation::DeleteSnsChannel => channels::delete(ChannelKind::Sns, state, ctx),
        Operation::ListRedirectUris => redirect_uris::list(state, ctx),
        Operation::AddRedirectUri => redirect_uris::add(state, ctx),
        Operation::GetRedirectUri => redirect_uris::get(state, ctx),
        Operation::UpdateRedirectUri => redirect_uris::update(state, ctx),
        Operation::DeleteRedirectUri => redirect_uris::delete(state, ctx),
    }
}

/// Whether `op` may need a delivery (`plan_delivery`): the other operations skip it, and the
/// extra turn of the state's lock it takes.
pub fn needs_delivery(op: Operation) -> bool {
    matches!(
        op,
        Operation::CreateWebhook | Operation::UpdateWebhook | Operation::SendTestEvent
    )
}

/// The delivery a request needs before its handler can answer, if any: the verification
/// challenge of a webhook create (or of an update that moves its URL), the notification of a
/// test event. A request its handler will refuse anyway (a bad body) needs none. Runs under the
/// state's lock; the delivery itself is made without it.
pub fn plan_delivery(op: Operation, state: &mut State, ctx: &Ctx) -> Option<Planned> {
    if !needs_delivery(op) || check_query(op, ctx.query).is_err() {
        return None;
    }
    match op {
        Operation::CreateWebhook => webhooks::create_delivery(state, ctx),
        Operation::UpdateWebhook => webhooks::update_delivery(state, ctx),
        Operation::SendTestEvent => webhooks::test_event_delivery(state, ctx),
        _ => None,
    }
}

/// Decodes `%XX` escapes and `+` (in queries); `None` on a bad escape or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A query string as decoded pairs, repeated keys kept in order.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode(&s.replace('+', " "))
                    .ok_or_else(|| ApiError::bad_request("malformed query string"))
            };
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The last value of query parameter `name`.
pub fn query_value<'a>(ctx: &'a Ctx, name: &str) -> Option<&'a str> {
    ctx.query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn query_bool(ctx: &Ctx, name: &str) -> Result<Option<bool>, ApiError> {
    match query_value(ctx, name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_request(format!(
            "query parameter {name} must be true or false"
        ))),
    }
}

pub fn query_uint(ctx: &Ctx, name: &str) -> Result<Option<usize>, ApiError> {
    query_value(ctx, name)
        .map(|v| {
            v.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!(
                    "query parameter {name} must be a non-negative integer"
                ))
            })
        })
        .transpose()
}

/// Refuses a body field the contract does not declare for the operation (`allowed`): a
/// misspelt filter such as `provider` for `providers` would otherwise be dropped silently and
/// the request would do more than was asked. An empty body passes (the handler decides).
pub fn check_fields(ctx: &Ctx, allowed: &[&str]) -> Result<(), ApiError> {
    if ctx.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(ctx.body) else {
        // Not an object: the handler's own parse says why.
        return Ok(());
    };
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(ApiError::bad_request(format!(
            "unknown field {unknown:?} in the request body; this operation takes {}",
            allowed.join(", ")
        ))),
    }
}

/// The JSON object body as `T`; a precise 400 otherwise. (serde would also take an array for
/// a struct; the contract's bodies are objects.)
pub fn json_body<T: DeserializeOwned>(ctx: &Ctx) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(ctx.body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// Like `json_body`, but an empty body means `T::default()`.
pub fn optional_json_body<T: DeserializeOwned + Default>(ctx: &Ctx) -> Result<T, ApiError> {
    if ctx.body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        json_body(ctx)
    }
}
