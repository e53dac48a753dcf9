//! Which accounts `translate` works on: every account of the plan's pairs that has a v3 grant
//! (observed 200 grants a call), or the accounts a file lists (one v2 account ID per line, or
//! the CSV `report` writes), each found in the pair whose v3 application has its grant.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::client::GrantFilter;

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

/// The accounts to translate and the listed accounts that cannot be (no grant in any pair).
pub async fn discover(
    pairs: &[TranslatePair],
    listed: Option<&[ListedAccount]>,
) -> Result<(Vec<Account>, Vec<AccountError>), TranslateError> {
    let mut accounts = Vec::new();
    let mut errors = Vec::new();
    match listed {
        None => {
            for (index, pair) in pairs.iter().enumerate() {
                let grants = pair.app.list_all_grants(&GrantFilter::default()).await?;
                let mut seen = HashSet::new();
                for grant in grants.data {
                    if let Some(account) = account_from(index, grant)
                        && seen.insert(account.account_id.clone())
                    {
                        accounts.push(account);
                    }
                }
            }
        }
        Some(listed) => {
            let names: HashMap<&str, usize> = pairs
                .iter()
                .enumerate()
                .map(|(i, p)| (p.name.as_str(), i))
                .collect();
            let mut found: HashSet<&str> = HashSet::new();
            for (index, pair) in pairs.iter().enumerate() {
                let ids: Vec<&str> = listed
                    .iter()
                    .filter(|l| {
                        l.pair
                            .as_deref()
                            .is_none_or(|p| names.get(p) == Some(&index))
                    })
                    .map(|l| l.account_id.as_str())
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                let grants = pair.app.grants_for_accounts(&ids).await?;
                let mut seen = HashSet::new();
                for grant in grants.data {
                    if let Some(account) = account_from(index, grant)
                        && seen.insert(account.account_id.clone())
                    {
                        if let Some(id) = ids.iter().find(|id| **id == account.account_id) {
                            found.insert(id);
                        }
                        accounts.push(account);
                    }
                }
            }
            for l in listed {
                if found.contains(l.account_id.as_str()) {
                    continue;
                }
                let reason = match &l.pair {
                    Some(p) if !names.contains_key(p.as_str()) => {
                        format!("pair `{p}` ({}) is not a pair of this run", l.at)
                    }
                    Some(p) => format!("no v3 grant for this account in pair `{p}` ({})", l.at),
                    None => format!(
                        "no v3 grant for this account in any pair of this run ({})",
                        l.at
                    ),
                };
                errors.push(AccountError {
                    pair: l.pair.clone().unwrap_or_default(),
                    account_id: l.account_id.clone(),
                    email: String::new(),
                    provider: String::new(),
                    grant_id: String::new(),
                    resource_types: Vec::new(),
                    status: None,
                    request_id: None,
                    reason,
                    refused: true,
                });
            }
        }
    }
    Ok((accounts, errors))
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
