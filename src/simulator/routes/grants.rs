//! Grants: list with the migration's filters, and get by id.

use axum::http::StatusCode;

use super::{Ctx, Handled, Reply, query_uint, query_value};
use crate::api::{GrantStatus, ListEnvelope};
use crate::simulator::error::ApiError;
use crate::simulator::state::{GrantFilter, State};

/// The contract's default page size for `get-all-grants`.
const DEFAULT_LIMIT: usize = 10;

pub fn list(state: &mut State, ctx: &Ctx) -> Handled {
    let mut account_ids: Option<Vec<String>> = query_value(ctx, "account_ids").map(|ids| {
        ids.split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(String::from)
            .collect()
    });
    if let Some(one) = query_value(ctx, "account_id") {
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
    let filter = GrantFilter {
        account_ids,
        provider: query_value(ctx, "provider").map(String::from),
        grant_status,
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
    let id = ctx.param.unwrap_or_default();
    let record = state.apps[ctx.app]
        .grant(id)
        .ok_or_else(|| ApiError::not_found(format!("grant {id} not found")))?;
    Ok(Reply::ok(ctx.request_id, state.grant_to_api(record)))
}
