//! The migration tools: link, import, single and batch clone, jobs, translate (whose objects
//! are in `simulator::objects`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::applications::application_wire;
use super::{Ctx, Handled, Reply, check_fields, json_body, optional_json_body, query_bool};
use crate::api::{
    BatchCloneJobs, BatchCloneRequest, CloneMode, JobStatus, JobType, TranslateRequest,
    TranslateResult, Translation,
};
use crate::simulator::error::ApiError;
use crate::simulator::objects::{AccountObjects, RESOURCE_TYPES, is_outlook};
use crate::simulator::state::{AccountRef, BatchSelection, CloneOutcome, PlaceholderFlags, State};

/// Nylas's default batch size.
const DEFAULT_BATCH_LIMIT: u64 = 1000;
/// Translate's page size.
const TRANSLATE_PAGE: usize = 3000;

/// The v2 app and secret in a `BasicV2` header: base64 of `ID:SECRET`, optionally after
/// `Basic `.
fn basic_v2(ctx: &Ctx) -> Result<(String, String), ApiError> {
    let header = ctx
        .headers
        .get("basicv2")
        .ok_or_else(|| ApiError::bad_request("the BasicV2 header is required"))?;
    let malformed =
        || ApiError::bad_request("the BasicV2 header must be base64 of V2_APP_ID:V2_APP_SECRET");
    let value = header.to_str().map_err(|_| malformed())?.trim();
    let value = value.strip_prefix("Basic ").unwrap_or(value);
    let decoded = STANDARD.decode(value).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok((id.to_string(), secret.to_string()))
}

pub fn link(state: &mut State, ctx: &Ctx) -> Handled {
    let (v2_id, secret) = basic_v2(ctx)?;
    let v2 = state
        .v2_index(&v2_id)
        .filter(|&v2| state.v2(v2).secret == secret)
        .ok_or_else(|| ApiError::unauthorized("invalid v2 application credentials in BasicV2"))?;
    let (v2_region, v3_region) = (state.v2(v2).region, state.v3(ctx.app).region);
    if v2_region != v3_region {
        return Err(ApiError::bad_request(format!(
            "v2 application {v2_id} is in region {v2_region} and this v3 application in region {v3_region}: applications can only be linked within one region"
        )));
    }
    match state.apps[ctx.app].linked_v2 {
        Some(linked) if linked == v2 => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "this v3 application is already linked to v2 application {}",
                state.v2(other).id
            )));
        }
        None => {
            if let Some(other) = state.linked_v3_of(v2) {
                return Err(ApiError::bad_request(format!(
                    "v2 application {v2_id} is already linked to v3 application {}",
                    state.v3(other).id
                )));
            }
            state.apps[ctx.app].linked_v2 = Some(v2);
        }
    }
    Ok(Reply::ok(ctx.request_id, application_wire(state, ctx.app)))
}

/// The linked v2 app, or the 400 every migration tool answers before a link.
fn linked(state: &State, ctx: &Ctx) -> Result<usize, ApiError> {
    state.apps[ctx.app].linked_v2.ok_or_else(|| {
        ApiError::bad_request(
            "no v2 application is linked to this v3 application: link one first (migration_link_v2v3_apps)",
        )
    })
}

pub fn import(state: &mut State, ctx: &Ctx) -> Handled {
    let v2 = linked(state, ctx)?;
    state.import(ctx.app, v2);
    Ok(Reply::ok(
        ctx.request_id,
        "V2 Application imported successfully to v3 Application: app settings, Connectors, redirect URIs, etc.",
    ))
}

fn placeholder_flags(ctx: &Ctx) -> Result<PlaceholderFlags, ApiError> {
    let defaults = PlaceholderFlags::default();
    Ok(PlaceholderFlags {
        allow_invalid_grant_creation: query_bool(ctx, "allow_invalid_grant_creation")?
            .unwrap_or(defaults.allow_invalid_grant_creation),
        clone_exchange: query_bool(ctx, "clone_exchange")?.unwrap_or(defaults.clone_exchange),
    })
}

/// An account of the linked v2 app, or a 400 naming it.
fn linked_account(state: &State, v2: usize, id: &str) -> Result<AccountRef, ApiError> {
    state
        .account_ref(id)
        .filter(|r| r.app as usize == v2)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "account {id} is not an account of the linked v2 application"
            ))
        })
}

pub fn clone_single(state: &mut State, ctx: &Ctx) -> Handled {
    let v2 = linked(state, ctx)?;
    let flags = placeholder_flags(ctx)?;
    let account = linked_account(state, v2, ctx.param.unwrap_or_default())?;
    match state.clone_account(ctx.app, account, flags, ctx.now_ms) {
        CloneOutcome::Existing(g) | CloneOutcome::Migrated(g) | CloneOutcome::Placeholder(g) => {
            let grant = state.grant_wire(&state.apps[ctx.app].grants[g as usize], false);
            Ok(Reply::ok(ctx.request_id, grant))
        }
        CloneOutcome::Failed(failure) => Err(ApiError::bad_request(failure.message())),
    }
}

pub fn batch_clone(state: &mut State, ctx: &Ctx) -> Handled {
    let v2 = linked(state, ctx)?;
    let flags = placeholder_flags(ctx)?;
    check_fields(ctx, &["limit", "offset", "providers", "mode"])?;
    let body: BatchCloneRequest = optional_json_body(ctx)?;
    let selection = BatchSelection {
        limit: body.limit.unwrap_or(DEFAULT_BATCH_LIMIT) as usize,
        offset: body.offset.unwrap_or(0) as usize,
        providers: body.providers.unwrap_or_default(),
        mode: body.mode.unwrap_or(CloneMode::All),
    };
    let index = state.start_batch(ctx.app, v2, &selection, flags, ctx.now_ms);
    let (snapshot_job, clone_job) = state.jobs[index].to_api(&state.v3(ctx.app).id, ctx.now_ms);
    Ok(Reply::ok(
        ctx.request_id,
        BatchCloneJobs {
            clone_job,
            snapshot_job,
        },
    ))
}

/// Values of an array query parameter, given repeated (`?status=a&status=b`) or
/// comma-separated (`?status=a,b`).
fn query_list<'a>(ctx: &'a Ctx, name: &str) -> Vec<&'a str> {
    ctx.query
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

pub fn jobs(state: &mut State, ctx: &Ctx) -> Handled {
    let statuses = query_list(ctx, "status")
        .into_iter()
        .map(|s| {
            JobStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status must be one of pending, running, completed, failed, partial; got {s:?}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let types = query_list(ctx, "type")
        .into_iter()
        .map(|t| {
            JobType::parse(t).ok_or_else(|| {
                ApiError::bad_request(format!("type must be snapshot or migration; got {t:?}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let by_completion = query_bool(ctx, "sort_by_completion")?.unwrap_or(false);
    let mut jobs: Vec<_> = state
        .jobs_of(ctx.app, ctx.now_ms)
        .into_iter()
        .filter(|(job, _)| statuses.is_empty() || statuses.contains(&job.status))
        .filter(|(job, _)| types.is_empty() || types.contains(&job.job_type))
        .collect();
    if by_completion {
        // Pending, then running, then finished jobs from the most recently completed.
        jobs.sort_by_key(|(job, completed)| {
            let rank = match job.status {
                JobStatus::Pending => 0,
                JobStatus::Running => 1,
                _ => 2,
            };
            (rank, std::cmp::Reverse(completed.unwrap_or(0)))
        });
    }
    let data: Vec<_> = jobs.into_iter().map(|(job, _)| job).collect();
    Ok(Reply::ok(ctx.request_id, data))
}

pub fn translate(state: &mut State, ctx: &Ctx) -> Handled {
    let v2 = linked(state, ctx)?;
    check_fields(
        ctx,
        &[
            "resource_type",
            "v2_account_id",
            "nylas_ids",
            "start_from_timestamp",
            "next_page_number",
        ],
    )?;
    let body: TranslateRequest = json_body(ctx)?;
    if !RESOURCE_TYPES.contains(&body.resource_type.as_str()) {
        return Err(ApiError::bad_request(format!(
            "resource_type must be one of {}",
            RESOURCE_TYPES.join(", ")
        )));
    }
    let account = linked_account(state, v2, &body.v2_account_id)?;
    let page = body.next_page_number.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::bad_request("next_page_number starts at 1"));
    }
    let account = state.account(account);
    if is_outlook(account) {
        return Err(ApiError::bad_request(format!(
            "translate does not support v2 accounts whose provider is Outlook: account {} ({})",
            account.id, account.provider
        )));
    }
    let objects = AccountObjects::new(account, &body.resource_type)
        .ok_or_else(|| ApiError::bad_request("unknown resource_type"))?;
    let skip = usize::try_from(page - 1)
        .unwrap_or(usize::MAX)
        .saturating_mul(TRANSLATE_PAGE);
    // The objects asked for, oldest first: the given IDs the account has (unknown IDs are left
    // out), or every object created after `start_from_timestamp`.
    let selected: Vec<usize> = match &body.nylas_ids {
        Some(ids) => ids.iter().filter_map(|id| objects.find(id)).collect(),
        None => Vec::new(),
    };
    let since = body.start_from_timestamp;
    let first = objects.first_after(since);
    let total = match &body.nylas_ids {
        Some(_) => selected.len(),
        None => objects.count() - first,
    };
    let indices = (skip.min(total)..total.min(skip.saturating_add(TRANSLATE_PAGE))).map(|n| {
        match &body.nylas_ids {
            Some(_) => selected[n],
            None => first + n,
        }
    });
    let mut ids = Vec::new();
    let mut translations = Vec::new();
    for i in indices {
        let v2_id = objects.v2_id(i);
        translations.push(Translation {
            v2_resource_id: Some(v2_id.clone()),
            v3_resource_id: Some(objects.v3_id(i)),
        });
        ids.push(v2_id);
    }
    let more = skip.saturating_add(TRANSLATE_PAGE) < total;
    Ok(Reply::ok(
        ctx.request_id,
        TranslateResult {
            v2_application_id: state.v2(v2).id.clone(),
            v2_account_id: account.id.clone(),
            resource_type: body.resource_type,
            ids,
            translations: Some(translations),
            next_page_number: page.checked_add(1).filter(|_| more),
        },
    ))
}
