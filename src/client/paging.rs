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

/// A server that ignores `offset` would send the same full page forever; no real listing here
/// comes near this many pages.
const MAX_PAGES: usize = 100_000;

impl AppClient {
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
            pages: 0,
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
            for _ in 0..MAX_PAGES {
                let Response { data, request_id } = self.list_grants(&filter).await?;
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
        for _ in 0..MAX_PAGES {
            let mut call = Call::new(Operation::ListConnectors);
            call.query = vec![
                ("limit", CONNECTOR_PAGE_SIZE.to_string()),
                ("offset", offset.to_string()),
            ];
            let Response { data, request_id } = self.call::<Vec<Connector>>(call).await?;
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
    pages: usize,
}

impl GrantPager {
    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Response<Vec<Grant>>>, ClientError> {
        let Some(mut filter) = self.next.take() else {
            return Ok(None);
        };
        let response = self.client.list_grants(&filter).await?;
        self.pages += 1;
        // A server that ignores `offset` would send the same full page forever.
        if response.data.len() as u64 >= self.limit && self.pages < MAX_PAGES {
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
