//! How much the client takes from a server: every response body, page and list is bounded, so
//! that a broken or hostile server (or a proxy in between) cannot make a run hold gigabytes or
//! page for hours.
//!
//! | what | bound | why this much |
//! | --- | --- | --- |
//! | a page of translations (`POST /v3/migration-tools/translate`) | 16 MiB | the contract's page is 3,000 records; a record is two IDs (a provider's message ID can be a few hundred bytes), about 1–2 MiB a page |
//! | a page of grants (`GET /v3/grants`) | 4 MiB | 200 grants of 1–2 KiB a page (the client asks for 200) |
//! | the jobs of an application (`GET /v3/migration-tools/jobs`, not paged) | 4 MiB | about 8,000 jobs of 500 bytes |
//! | any other answer (one object, the short lists of connectors, webhooks, channels, redirect URIs) | 1 MiB | one object is a few KiB |
//! | an error answer (any status but 2xx) | 64 KiB, the rest not read | only its `request_id`, type and message are used |
//!
//! A body is read as it arrives and the read stops at the bound (the connection is dropped), so
//! memory never holds more than the bound; the error says which bound was hit. Pages:
//! a page with more items than asked is an error, a page that only repeats the page before it
//! (a server that ignores `offset`) is an error, and the number of pages is bounded by what was
//! asked (see `paging`).

use crate::api::Operation;

const MIB: usize = 1024 * 1024;

/// The largest 2xx body read for `operation`.
pub fn max_body(operation: Operation) -> usize {
    match operation {
        Operation::Translate => 16 * MIB,
        Operation::ListGrants | Operation::GetJobs => 4 * MIB,
        _ => MIB,
    }
}

/// The most of an error body read (the rest is not read).
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// Records in a page of translations: the contract's page size.
pub const TRANSLATE_PAGE_SIZE: usize = 3000;

/// The highest `next_page_number` followed: 10,000 pages of 3,000 records is 30 million
/// objects of one type in one account, beyond any mailbox.
pub const MAX_TRANSLATE_PAGE: u64 = 10_000;

/// The most grants one listing of every grant of an application gathers (50,000 pages of 200):
/// beyond the accounts of any application.
pub const MAX_LISTED_GRANTS: u64 = 10_000_000;

/// The pages one call of `grants_for_accounts` may ask per chunk of up to 200 accounts: an
/// account has one grant per application, so one page answers it; a few more allow for
/// placeholder and real grants of one account.
pub const MAX_PAGES_PER_ACCOUNT_CHUNK: usize = 5;

/// The pages of connectors asked: an application has at most one connector per provider.
pub const MAX_CONNECTOR_PAGES: usize = 4;

/// `n` bytes in words: `16 MiB`, `64 KiB`.
pub fn bytes(n: usize) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}
