//! Operations that take several calls: grants by limit/offset, connectors by limit/offset,
//! translations by `next_page_number`.

use crate::api::{Connector, Grant, Operation, TranslateRequest, TranslateResult};

use super::operations::GrantFilter;
use super::transport::Call;
use super::{AppClient, ClientError, Pages, Response};

/// Grants per page, and account IDs per `account_ids` query: observing N accounts takes about
/// N / 200 calls.
pub const GRANT_PAGE_SIZE: u64 = 200;

/// Connectors per page. An application has at most one connector per provider (nine), so one
/// page is the usual answer.
const CONNECTOR_PAGE_SIZE: u64 = 50;

use super::bounds::{MAX_CONNECTOR_PAGES, MAX_LISTED_GRANTS, MAX_PAGES_PER_ACCOUNT_CHUNK};

/// Checks one page of an offset listing against the contract: no more items than `limit`, and
/// not only the items of the page before (a server that ignores `offset` sends the same page
/// again and again). `previous` is the IDs of the page before; it becomes this page's.
fn check_page<T>(
    client: &AppClient,
    operation: Operation,
    page: &[T],
    limit: u64,
    id: impl Fn(&T) -> &str,
    previous: &mut Vec<String>,
) -> Result<(), ClientError> {
    if page.len() as u64 > limit {
        return Err(client.paging_error(
            operation,
            format!(
                "a page holds {} items, more than the {limit} asked for",
                page.len()
            ),
        ));
    }
    let ids: Vec<String> = page.iter().map(|item| id(item).to_owned()).collect();
    if !ids.is_empty() && ids.iter().all(|id| previous.contains(id)) {
        return Err(client.paging_error(
            operation,
            "the next page repeats the page before it: the server ignores `offset`, and paging would never end".into(),
        ));
    }
    *previous = ids;
    Ok(())
}

impl AppClient {
    /// The error of pages that break the contract.
    pub(super) fn paging_error(&self, operation: Operation, detail: String) -> ClientError {
        tracing::warn!(operation = %operation, app_id = %self.app_id, detail = %detail, "paging stopped");
        ClientError::Paging {
            operation,
            detail,
            help: format!(
                "Nylas pages by limit and offset and never sends more than asked: check that region {}'s api_url ({}) points at Nylas, not at a proxy or another service; nothing was written because of these pages",
                self.region, self.base_url
            ),
        }
    }

    /// `get-all-grants`, every page of `filter` (its `limit`/`offset` are the starting point;
    /// pages of [`GRANT_PAGE_SIZE`] by default). Holds every grant: where the grants are only
    /// counted or written out, [`AppClient::grant_pages`] keeps one page at a time.
    pub async fn list_all_grants(&self, filter: &GrantFilter) -> Result<Pages<Grant>, ClientError> {
        let mut pager = self.grant_pages(filter);
        let mut pages = Pages {
            data: Vec::new(),
            request_ids: Vec::new(),
        };
        while let Some(Response { data, request_id }) = pager.next_page().await? {
            pages.request_ids.extend(request_id);
            pages.data.extend(data);
        }
        Ok(pages)
    }

    /// A pager over every page of `get-all-grants` for `filter`, fetched one by one (its
    /// `limit`/`offset` are the starting point; pages of [`GRANT_PAGE_SIZE`] by default).
    pub fn grant_pages(&self, filter: &GrantFilter) -> GrantPager {
        let limit = filter.limit.unwrap_or(GRANT_PAGE_SIZE).max(1);
        let mut page = filter.clone();
        page.limit = Some(limit);
        page.offset = Some(filter.offset.unwrap_or(0));
        GrantPager {
            client: self.clone(),
            next: Some(page),
            limit,
            listed: 0,
            previous: Vec::new(),
        }
    }

    /// The grants cloned from any of `account_ids`, observed [`GRANT_PAGE_SIZE`] accounts per
    /// call with the `account_ids` filter (comma-separated), so observing N accounts costs
    /// ceil(N / 200) calls instead of N: at least one grant of every account that has one
    /// (which is what "is this account migrated?" needs).
    pub async fn grants_for_accounts<S: AsRef<str>>(
        &self,
        account_ids: &[S],
    ) -> Result<Pages<Grant>, ClientError> {
        let mut pages = Pages {
            data: Vec::new(),
            request_ids: Vec::new(),
        };
        for chunk in account_ids.chunks(GRANT_PAGE_SIZE as usize) {
            let mut filter = GrantFilter {
                account_ids: chunk.iter().map(|id| id.as_ref().to_owned()).collect(),
                limit: Some(GRANT_PAGE_SIZE),
                offset: Some(0),
                ..GrantFilter::default()
            };
            let wanted: std::collections::HashSet<&str> =
                chunk.iter().map(|id| id.as_ref()).collect();
            let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
            let mut previous = Vec::new();
            for asked in 1.. {
                // An account has one grant per application: a chunk of accounts is answered in
                // a page or two, whatever a server says.
                if asked > MAX_PAGES_PER_ACCOUNT_CHUNK {
                    return Err(self.paging_error(
                        Operation::ListGrants,
                        format!(
                            "{MAX_PAGES_PER_ACCOUNT_CHUNK} full pages of grants for {} accounts, and more announced: an account has one grant per application",
                            chunk.len()
                        ),
                    ));
                }
                let Response { data, request_id } = self.list_grants(&filter).await?;
                check_page(
                    self,
                    Operation::ListGrants,
                    &data,
                    GRANT_PAGE_SIZE,
                    |g| &g.id,
                    &mut previous,
                )?;
                pages.request_ids.extend(request_id);
                let full = data.len() as u64 >= GRANT_PAGE_SIZE;
                filter.offset = Some(filter.offset.unwrap_or(0) + data.len() as u64);
                seen.extend(data.iter().filter_map(|g| g.account_id.clone()));
                pages.data.extend(data);
                // A full page usually means "every account of the chunk is migrated" (an
                // account has one grant per application), not "more to come": once every
                // account has shown a grant, a further page could only repeat one, so it is
                // not asked for. Without this, observing N migrated accounts cost 2N / 200
                // calls (each full page followed by an empty one).
                if !full || wanted.iter().all(|id| seen.contains(*id)) {
                    break;
                }
            }
        }
        Ok(pages)
    }

    /// `get_connector_all`, every page.
    pub async fn list_connectors(&self) -> Result<Pages<Connector>, ClientError> {
        let mut pages = Pages {
            data: Vec::new(),
            request_ids: Vec::new(),
        };
        let mut offset = 0u64;
        let mut previous = Vec::new();
        for asked in 1.. {
            if asked > MAX_CONNECTOR_PAGES {
                return Err(self.paging_error(
                    Operation::ListConnectors,
                    format!(
                        "{MAX_CONNECTOR_PAGES} full pages of connectors, and more announced: an application has at most one connector per provider"
                    ),
                ));
            }
            let mut call = Call::new(Operation::ListConnectors);
            call.query = vec![
                ("limit", CONNECTOR_PAGE_SIZE.to_string()),
                ("offset", offset.to_string()),
            ];
            let Response { data, request_id } = self.call::<Vec<Connector>>(call).await?;
            check_page(
                self,
                Operation::ListConnectors,
                &data,
                CONNECTOR_PAGE_SIZE,
                |c| c.provider.as_str(),
                &mut previous,
            )?;
            pages.request_ids.extend(request_id);
            let full = data.len() as u64 >= CONNECTOR_PAGE_SIZE;
            offset += data.len() as u64;
            pages.data.extend(data);
            if !full {
                break;
            }
        }
        Ok(pages)
    }

    /// A pager over every page of a translation, following `next_page_number`.
    pub fn translate_pages(&self, request: TranslateRequest) -> TranslatePager {
        TranslatePager {
            client: self.clone(),
            next: Some(request),
        }
    }
}

/// Pages of `get-all-grants` by limit/offset, fetched one by one: memory is one page, however
/// many grants the application has.
#[derive(Debug, Clone)]
pub struct GrantPager {
    client: AppClient,
    /// The next page's filter; `None` after the last page (one that was not full).
    next: Option<GrantFilter>,
    limit: u64,
    /// Grants listed so far, bounded by [`MAX_LISTED_GRANTS`].
    listed: u64,
    /// The IDs of the page before (see `check_page`).
    previous: Vec<String>,
}

impl GrantPager {
    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Response<Vec<Grant>>>, ClientError> {
        let Some(mut filter) = self.next.take() else {
            return Ok(None);
        };
        let response = self.client.list_grants(&filter).await?;
        check_page(
            &self.client,
            Operation::ListGrants,
            &response.data,
            self.limit,
            |g| &g.id,
            &mut self.previous,
        )?;
        self.listed += response.data.len() as u64;
        if self.listed > MAX_LISTED_GRANTS {
            return Err(self.client.paging_error(
                Operation::ListGrants,
                format!(
                    "the listing passed {MAX_LISTED_GRANTS} grants, more than any application has"
                ),
            ));
        }
        if response.data.len() as u64 >= self.limit {
            filter.offset = Some(filter.offset.unwrap_or(0) + response.data.len() as u64);
            self.next = Some(filter);
        }
        Ok(Some(response))
    }
}

/// Pages of `translate_v2id_to_provider_id`, fetched one by one.
#[derive(Debug, Clone)]
pub struct TranslatePager {
    client: AppClient,
    next: Option<TranslateRequest>,
}

impl TranslatePager {
    /// The next page, or `None` after the last one (the one without `next_page_number`).
    pub async fn next_page(&mut self) -> Result<Option<Response<TranslateResult>>, ClientError> {
        let Some(request) = self.next.take() else {
            return Ok(None);
        };
        let response = self.client.translate(&request).await?;
        // A page that points at itself or backwards would loop forever.
        let advances = match (request.next_page_number, response.data.next_page_number) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(current), Some(next)) => next > current,
        };
        if advances {
            self.next = Some(TranslateRequest {
                next_page_number: response.data.next_page_number,
                ..request
            });
        }
        Ok(Some(response))
    }

    /// Every remaining page.
    pub async fn collect_all(mut self) -> Result<Pages<TranslateResult>, ClientError> {
        let mut pages = Pages {
            data: Vec::new(),
            request_ids: Vec::new(),
        };
        while let Some(page) = self.next_page().await? {
            pages.request_ids.extend(page.request_id);
            pages.data.push(page.data);
        }
        Ok(pages)
    }
}
