//! Grants: list with every filter and ordering the contract declares, and get by id.

use axum::http::StatusCode;

use super::{Ctx, Handled, Reply, query_bool, query_uint, query_value};
use crate::api::{GrantStatus, ListEnvelope};
use crate::simulator::error::ApiError;
use crate::simulator::state::{GrantFilter, State};

/// The contract's default page size for `get-all-grants`.
const DEFAULT_LIMIT: usize = 10;

/// A string filter: absent, or a value that is not empty (an empty filter matches nothing
/// anyone meant).
fn text_filter<'a>(ctx: &'a Ctx, name: &str) -> Result<Option<&'a str>, ApiError> {
    match query_value(ctx, name) {
        Some("") => Err(ApiError::bad_request(format!(
            "query parameter {name} is empty: leave it out or give a value"
        ))),
        other => Ok(other),
    }
}

/// A Unix time in seconds.
fn time_filter(ctx: &Ctx, name: &str) -> Result<Option<i64>, ApiError> {
    query_value(ctx, name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "query parameter {name} must be a Unix time in seconds, got {v:?}"
                ))
            })
        })
        .transpose()
}

pub fn list(state: &mut State, ctx: &Ctx) -> Handled {
    let mut account_ids: Option<Vec<String>> = text_filter(ctx, "account_ids")?.map(|ids| {
        ids.split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(String::from)
            .collect()
    });
    if let Some(one) = text_filter(ctx, "account_id")? {
        // Both filters given: a grant must match both.
        account_ids = Some(match account_ids {
            Some(ids) => ids.into_iter().filter(|id| id == one).collect(),
            None => vec![one.to_string()],
        });
    }
    let grant_status = query_value(ctx, "grant_status")
        .map(|s| {
            GrantStatus::parse(s)
                .ok_or_else(|| ApiError::bad_request("grant_status must be valid or invalid"))
        })
        .transpose()?;
    let ascending = match query_value(ctx, "order_by") {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(ApiError::bad_request("order_by must be asc or desc")),
    };
    // A simulated grant's updated_at is its created_at, so both orders are the same one.
    match query_value(ctx, "sort_by") {
        None | Some("created_at") | Some("updated_at") => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "sort_by must be created_at or updated_at",
            ));
        }
    }
    let filter = GrantFilter {
        account_ids,
        provider: text_filter(ctx, "provider")?.map(String::from),
        grant_status,
        email: text_filter(ctx, "email")?.map(String::from),
        since: time_filter(ctx, "since")?,
        before: time_filter(ctx, "before")?,
        ip: text_filter(ctx, "ip")?.map(String::from),
        workspace_id: text_filter(ctx, "workspace_id")?.map(String::from),
        limit: query_uint(ctx, "limit")?.unwrap_or(DEFAULT_LIMIT),
        offset: query_uint(ctx, "offset")?.unwrap_or(0),
        ascending,
    };
    let data = state.list_grants(ctx.app, &filter);
    Ok(Reply::json(
        StatusCode::OK,
        &ListEnvelope {
            request_id: Some(ctx.request_id.to_string()),
            data,
            limit: Some(filter.limit as u64),
            offset: Some(filter.offset as u64),
        },
    ))
}

pub fn get(state: &mut State, ctx: &Ctx) -> Handled {
    let expose_aliases = query_bool(ctx, "expose_aliases")?.unwrap_or(false);
    let id = ctx.param.unwrap_or_default();
    let record = state.apps[ctx.app]
        .grant(id)
        .ok_or_else(|| ApiError::not_found(format!("grant {id} not found")))?;
    Ok(Reply::ok(
        ctx.request_id,
        state.grant_wire(record, expose_aliases),
    ))
}
