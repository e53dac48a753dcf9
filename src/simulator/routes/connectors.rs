//! Connectors: list, create, get and update by provider.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::{Ctx, Handled, Reply, check_fields, json_body, query_uint};
use crate::api::{ConnectorProvider, CreateConnector, ListEnvelope, UpdateConnector};
use crate::simulator::error::ApiError;
use crate::simulator::state::{ConnectorState, State};

/// The page size when `limit` is left out. The contract gives none; an application has at
/// most one connector per provider (nine), so this page always holds them all.
const DEFAULT_LIMIT: usize = 10;

pub fn list(state: &mut State, ctx: &Ctx) -> Handled {
    let limit = query_uint(ctx, "limit")?.unwrap_or(DEFAULT_LIMIT);
    let offset = query_uint(ctx, "offset")?.unwrap_or(0);
    let data = state.apps[ctx.app]
        .connectors
        .iter()
        .skip(offset)
        .take(limit)
        .map(ConnectorState::to_api)
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        &ListEnvelope {
            request_id: Some(ctx.request_id.to_string()),
            data,
            limit: Some(limit as u64),
            offset: Some(offset as u64),
        },
    ))
}

/// Checks what the contract's per-provider request schemas require of `settings`.
fn check_settings(
    provider: ConnectorProvider,
    settings: Option<&Map<String, Value>>,
) -> Result<(), ApiError> {
    if provider == ConnectorProvider::Ews && settings.is_none() {
        return Err(ApiError::bad_request("an ews connector requires settings"));
    }
    if let (true, Some(settings)) = (provider.needs_credentials(), settings) {
        for key in ["client_id", "client_secret"] {
            if !settings.get(key).is_some_and(Value::is_string) {
                return Err(ApiError::bad_request(format!(
                    "settings.{key} is required (a string) for a {provider} connector"
                )));
            }
        }
    }
    Ok(())
}

/// The EWS variant of `create_connector` names its scope `scopes`, one value of this list.
const EWS_SCOPES: [&str; 3] = ["ews.messages", "ews.calendar", "ews.contacts"];

pub fn create(state: &mut State, ctx: &Ctx) -> Handled {
    check_fields(ctx, &["provider", "settings", "scope", "scopes"])?;
    let ews_scopes: Option<Value> = json_body::<Map<String, Value>>(ctx)?.remove("scopes");
    let mut body: CreateConnector = json_body(ctx)?;
    check_settings(body.provider, body.settings.as_ref())?;
    if let Some(scopes) = ews_scopes {
        let scopes = scopes
            .as_str()
            .filter(|s| EWS_SCOPES.contains(s) && body.provider == ConnectorProvider::Ews)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "scopes is for ews connectors only, one of {}; other connectors take scope, a list",
                    EWS_SCOPES.join(", ")
                ))
            })?;
        let mut scope = body.scope.take().unwrap_or_default();
        if !scope.iter().any(|s| s == scopes) {
            scope.push(scopes.to_string());
        }
        body.scope = Some(scope);
    }
    let app = &mut state.apps[ctx.app];
    if app.connector(body.provider).is_some() {
        return Err(ApiError::bad_request(format!(
            "a {} connector already exists; update it instead",
            body.provider
        )));
    }
    let connector = ConnectorState::new(body.provider, body.settings, body.scope);
    let data = connector.to_api();
    app.connectors.push(connector);
    Ok(Reply::data(StatusCode::CREATED, ctx.request_id, data))
}

fn provider(ctx: &Ctx) -> Result<ConnectorProvider, ApiError> {
    let name = ctx.param.unwrap_or_default();
    ConnectorProvider::parse(name)
        .ok_or_else(|| ApiError::not_found(format!("no connector for provider {name:?}")))
}

pub fn get(state: &mut State, ctx: &Ctx) -> Handled {
    let provider = provider(ctx)?;
    let connector = state.apps[ctx.app]
        .connector(provider)
        .ok_or_else(|| ApiError::not_found(format!("no {provider} connector")))?;
    Ok(Reply::ok(ctx.request_id, connector.to_api()))
}

/// Nylas replaces each nested object it is given: `settings` and `scope` wholesale.
pub fn update(state: &mut State, ctx: &Ctx) -> Handled {
    let provider = provider(ctx)?;
    check_fields(ctx, &["settings", "scope", "active_credential_id"])?;
    let body: UpdateConnector = json_body(ctx)?;
    let connector = state.apps[ctx.app]
        .connector_mut(provider)
        .ok_or_else(|| ApiError::not_found(format!("no {provider} connector")))?;
    if let Some(settings) = body.settings {
        connector.settings = Some(settings);
    }
    if let Some(scope) = body.scope {
        connector.scope = Some(scope.into());
    }
    if let Some(credential) = body.active_credential_id {
        connector.active_credential_id = Some(credential);
    }
    Ok(Reply::ok(ctx.request_id, connector.to_api()))
}
