//! Which accounts `translate` works on: every account of the plan's pairs that has a v3 grant
//! (observed 200 grants a call), or the accounts a file lists (one v2 account ID per line, or
//! the CSV `report` writes), each found in the pair whose v3 application has its grant. Each
//! pair's accounts come a page at a time ([`Source`]), as the run needs them.

use std::collections::HashSet;
use std::path::Path;

use crate::api::ResourceType;
use crate::client::{AppClient, GRANT_PAGE_SIZE, GrantFilter, GrantPager};

use super::{AccountError, TranslateError, TranslatePair};

/// An account to translate: its pair (index into the pairs) and its v3 grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub pair: usize,
    pub account_id: String,
    pub grant_id: String,
    /// The grant's provider (`google`, `microsoft`, `imap`, …).
    pub provider: String,
    pub email: String,
}

/// An account named in an accounts file, with the pair it belongs to when the file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedAccount {
    pub account_id: String,
    pub pair: Option<String>,
    /// Where it is named: `FILE:LINE`.
    pub at: String,
}

/// Reads an accounts file: the CSV `report` writes (a header with `account_id`, and `pair` if
/// present), or one v2 account ID per line (blank lines and `#` comments ignored).
pub fn read_accounts_file(path: &Path) -> Result<Vec<ListedAccount>, TranslateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TranslateError::Io {
        path: path.display().to_string(),
        what: "read the accounts file",
        source,
    })?;
    parse_accounts(&text, &path.display().to_string())
}

fn bad(file: &str, line: usize, message: String) -> TranslateError {
    TranslateError::AccountsFile {
        at: format!("{file}:{line}"),
        message,
    }
}

fn check_id(id: &str, file: &str, line: usize) -> Result<(), TranslateError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        let shown: String = id.chars().flat_map(char::escape_default).take(80).collect();
        return Err(bad(
            file,
            line,
            format!("`{shown}` is not a v2 account ID (1 to 64 letters and digits)"),
        ));
    }
    Ok(())
}

pub fn parse_accounts(text: &str, file: &str) -> Result<Vec<ListedAccount>, TranslateError> {
    let first = text.lines().next().unwrap_or_default();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    if first.split(',').any(|h| h.trim() == "account_id") {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| bad(file, 1, format!("unreadable CSV header: {e}")))?
            .clone();
        let column = |name: &str| headers.iter().position(|h| h.trim() == name);
        let account_col =
            column("account_id").ok_or_else(|| bad(file, 1, "no `account_id` column".into()))?;
        let pair_col = column("pair");
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                bad(file, line, format!("unreadable CSV row: {e}"))
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            let id = record.get(account_col).unwrap_or_default().trim();
            check_id(id, file, line)?;
            let pair = pair_col
                .and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned);
            if seen.insert((id.to_owned(), pair.clone())) {
                out.push(ListedAccount {
                    account_id: id.to_owned(),
                    pair,
                    at: format!("{file}:{line}"),
                });
            }
        }
    } else {
        for (n, line) in text.lines().enumerate() {
            let id = line.trim();
            if id.is_empty() || id.starts_with('#') {
                continue;
            }
            check_id(id, file, n + 1)?;
            if seen.insert((id.to_owned(), None)) {
                out.push(ListedAccount {
                    account_id: id.to_owned(),
                    pair: None,
                    at: format!("{file}:{}", n + 1),
                });
            }
        }
    }
    Ok(out)
}

fn account_from(pair: usize, grant: crate::api::Grant) -> Option<Account> {
    Some(Account {
        pair,
        account_id: grant.account_id?,
        grant_id: grant.id,
        provider: grant.provider,
        email: grant.email.unwrap_or_default(),
    })
}

/// Where one pair's accounts come from, a page at a time: its grants (200 a call), or the
/// accounts a file lists for it (200 a call with the `account_ids` filter). Only the page in
/// hand is held. An account listed twice is found so by the journal (`listing.rs`).
pub(super) enum Source {
    All {
        pager: GrantPager,
    },
    Listed {
        app: AppClient,
        ids: Vec<String>,
        next: usize,
    },
}

impl Source {
    /// The source of pair `index`: every account with a grant, or the listed ones that name
    /// this pair or no pair.
    pub(super) fn of(
        pairs: &[TranslatePair],
        index: usize,
        listed: Option<&[ListedAccount]>,
    ) -> Source {
        let app = pairs[index].app.clone();
        match listed {
            None => Source::All {
                pager: app.grant_pages(&GrantFilter::default()),
            },
            Some(listed) => Source::Listed {
                ids: listed
                    .iter()
                    .filter(|l| {
                        l.pair
                            .as_deref()
                            .is_none_or(|p| pairs.iter().position(|q| q.name == p) == Some(index))
                    })
                    .map(|l| l.account_id.clone())
                    .collect(),
                app,
                next: 0,
            },
        }
    }

    /// The next page of accounts of pair `index` (perhaps empty), or `None` after the last.
    pub(super) async fn next_batch(
        &mut self,
        index: usize,
    ) -> Result<Option<Vec<Account>>, TranslateError> {
        match self {
            Source::All { pager } => {
                let Some(page) = pager.next_page().await? else {
                    return Ok(None);
                };
                Ok(Some(
                    page.data
                        .into_iter()
                        .filter_map(|grant| account_from(index, grant))
                        .collect(),
                ))
            }
            Source::Listed { app, ids, next } => {
                if *next >= ids.len() {
                    return Ok(None);
                }
                let end = (*next + GRANT_PAGE_SIZE as usize).min(ids.len());
                let grants = app.grants_for_accounts(&ids[*next..end]).await?;
                *next = end;
                Ok(Some(
                    grants
                        .data
                        .into_iter()
                        .filter_map(|grant| account_from(index, grant))
                        .collect(),
                ))
            }
        }
    }
}

/// The listed accounts no pair has a grant for (`found`: the account IDs some pair had),
/// each refused for every resource type.
pub(super) fn not_found(
    pairs: &[TranslatePair],
    listed: &[ListedAccount],
    found: &HashSet<String>,
    resource_types: &[ResourceType],
) -> Vec<AccountError> {
    listed
        .iter()
        .filter(|l| !found.contains(&l.account_id))
        .map(|l| {
            let reason = match &l.pair {
                Some(p) if !pairs.iter().any(|q| &q.name == p) => {
                    format!("pair `{p}` ({}) is not a pair of this run", l.at)
                }
                Some(p) => format!("no v3 grant for this account in pair `{p}` ({})", l.at),
                None => format!(
                    "no v3 grant for this account in any pair of this run ({})",
                    l.at
                ),
            };
            AccountError {
                pair: l.pair.clone().unwrap_or_default(),
                account_id: l.account_id.clone(),
                email: String::new(),
                provider: String::new(),
                grant_id: String::new(),
                resource_types: resource_types.to_vec(),
                status: None,
                request_id: None,
                reason,
                refused: true,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_or_the_report_csv() {
        let listed = parse_accounts("# test accounts\nabc123\n\n  def456 \nabc123\n", "f").unwrap();
        let ids: Vec<_> = listed.iter().map(|l| l.account_id.as_str()).collect();
        assert_eq!(ids, ["abc123", "def456"]);
        assert_eq!(listed[1].at, "f:4");
        let csv = "pair,account_id,provider,email,grant_id,grant_status,outcome,error\n\
                   us,abc123,google,\"a, b\"@x.com,g1,valid,migrated,\n\
                   eu,def456,imap,c@x.com,g2,invalid,placeholder,\n";
        let listed = parse_accounts(csv, "r.csv").unwrap();
        assert_eq!(listed[0].pair.as_deref(), Some("us"));
        assert_eq!(listed[1].account_id, "def456");
        let err = parse_accounts("abc\nnot an id\n", "f").unwrap_err();
        assert!(err.to_string().contains("f:2"), "{err}");
    }
}
