//! What `translate` keeps in the journal: one session per output file, and every finished page
//! of every (pair, account, resource type) with the output file's length once its rows were
//! written. A killed run resumes from it: the output is cut back to the last recorded length
//! (dropping rows of pages that were written but not recorded), and no recorded page is asked
//! for again.
//!
//! They stay in a local state folder even when the plan's state is in PostgreSQL: they describe
//! an output file on this machine (its length after each page), so they mean nothing without
//! it, and two runners writing the same path on two machines must not share them (each would
//! cut the other's file back to lengths it never had). `translate` opens a [`FolderJournal`],
//! the only type that has them.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::sqlite::SqliteStore;
use crate::api::ResourceType;
use crate::state::journal::{Journal, JournalError, now};

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS translate_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    output TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    since INTEGER,
    header_end INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS translate_pages (
    session_id INTEGER NOT NULL,
    pair TEXT NOT NULL,
    account_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    page INTEGER NOT NULL,
    next_page INTEGER,
    rows INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    request_id TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (session_id, pair, account_id, resource_type, page)
);
CREATE TABLE IF NOT EXISTS translate_refusals (
    session_id INTEGER NOT NULL,
    pair TEXT NOT NULL,
    account_id TEXT NOT NULL,
    status INTEGER,
    request_id TEXT,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (session_id, pair, account_id)
);
CREATE TABLE IF NOT EXISTS translate_listed (
    session_id INTEGER NOT NULL,
    pair TEXT NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (session_id, pair, account_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS translate_failures (
    session_id INTEGER NOT NULL,
    pair TEXT NOT NULL,
    account_id TEXT NOT NULL,
    email TEXT NOT NULL,
    provider TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    types INTEGER NOT NULL,
    status INTEGER,
    request_id TEXT,
    reason TEXT NOT NULL,
    refused INTEGER NOT NULL,
    PRIMARY KEY (session_id, pair, account_id)
);";

/// One output file being written by `translate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateSession {
    pub id: i64,
    /// The output file's absolute path: the session's identity.
    pub output: String,
    /// `csv` or `jsonl`.
    pub format: String,
    /// `start_from_timestamp`, if the translation started from one.
    pub since: Option<i64>,
    /// The output's length after its header (0 without one).
    pub header_end: u64,
}

/// A page whose rows are in the output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedPage<'a> {
    pub pair: &'a str,
    pub account_id: &'a str,
    pub resource_type: ResourceType,
    /// 1 for the first page.
    pub page: u64,
    /// The page after it, or `None` when it was the last.
    pub next_page: Option<u64>,
    pub rows: u64,
    /// The output file's length once this page's rows were written.
    pub end_offset: u64,
    pub request_id: Option<&'a str>,
}

/// An account Nylas refused for good (a 4xx answer): an outcome like a finished chain, so that
/// a rerun of the same output asks nothing more of it (`--restart` asks again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateRefusal {
    pub pair: String,
    pub account_id: String,
    /// The HTTP status of the refusal.
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub reason: String,
}

/// An account this run could not translate: a row of the errors file. Kept in the journal
/// while the run lasts (the run holds none of them), one row per account whose resource types
/// grow as its other chains stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateFailure {
    pub pair: String,
    pub account_id: String,
    pub email: String,
    pub provider: String,
    pub grant_id: String,
    /// The resource types left untranslated, in [`ResourceType::ALL`]'s order.
    pub resource_types: Vec<ResourceType>,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub reason: String,
    /// Refused for good: running again will not change it.
    pub refused: bool,
}

/// This run's failures, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCounts {
    pub accounts: u64,
    pub refused: u64,
    /// Resource types of the accounts refused for good.
    pub refused_chains: u64,
}

/// What the journal says of an account as a run lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedAccountRecord {
    /// Listed before by this run (a grant listed twice): nothing more to do with it.
    pub again: bool,
    /// What earlier runs recorded of its chains: the next page, `None` when complete.
    pub chains: Vec<(ResourceType, Option<u64>)>,
    /// Refused for good by an earlier run.
    pub refusal: Option<TranslateRefusal>,
}

fn type_bits(types: &[ResourceType]) -> i64 {
    types.iter().fold(0, |bits, t| {
        bits | ResourceType::ALL
            .iter()
            .position(|a| a == t)
            .map_or(0, |i| 1 << i)
    })
}

fn bits_types(bits: i64) -> Vec<ResourceType> {
    ResourceType::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, t)| t)
        .collect()
}

/// A state folder's journal: everything a [`Journal`] is (it derefs to one), and translate's
/// checkpoints, which only a state folder keeps. A plan's journal that may be in PostgreSQL is a
/// [`Journal`], which has no checkpoints, so asking one for them does not compile:
///
/// ```compile_fail
/// fn resume(journal: &nylas_migrate::state::Journal) {
///     let _ = journal.translate_session("ids.csv");
/// }
/// ```
#[derive(Debug)]
pub struct FolderJournal {
    journal: Journal,
    store: Arc<SqliteStore>,
}

impl std::ops::Deref for FolderJournal {
    type Target = Journal;

    fn deref(&self) -> &Journal {
        &self.journal
    }
}

impl FolderJournal {
    /// Opens (creating if needed) the journal in the state folder `state_dir`.
    pub fn open(state_dir: &Path) -> Result<FolderJournal, JournalError> {
        let store = Arc::new(SqliteStore::open(state_dir)?);
        Ok(FolderJournal {
            journal: Journal::of(store.clone()),
            store,
        })
    }

    /// The session writing `output`, if any.
    pub fn translate_session(
        &self,
        output: &str,
    ) -> Result<Option<TranslateSession>, JournalError> {
        self.store.with(|c| {
            c.execute_batch(TABLES)?;
            c.query_row(
                "SELECT id, output, format, since, header_end FROM translate_sessions WHERE output = ?1",
                params![output],
                |r| {
                    Ok(TranslateSession {
                        id: r.get(0)?,
                        output: r.get(1)?,
                        format: r.get(2)?,
                        since: r.get(3)?,
                        header_end: r.get::<_, i64>(4)?.max(0) as u64,
                    })
                },
            )
            .optional()
        })
    }

    /// Starts a new session for `output`, forgetting any earlier one and its pages.
    pub fn start_translate_session(
        &self,
        output: &str,
        format: &str,
        since: Option<i64>,
        header_end: u64,
    ) -> Result<TranslateSession, JournalError> {
        self.store.with(|c| {
            c.execute_batch(TABLES)?;
            let tx = c.unchecked_transaction()?;
            tx.execute(
                "DELETE FROM translate_pages WHERE session_id IN (SELECT id FROM translate_sessions WHERE output = ?1)",
                params![output],
            )?;
            tx.execute(
                "DELETE FROM translate_refusals WHERE session_id IN (SELECT id FROM translate_sessions WHERE output = ?1)",
                params![output],
            )?;
            for table in ["translate_listed", "translate_failures"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE session_id IN (SELECT id FROM translate_sessions WHERE output = ?1)"),
                    params![output],
                )?;
            }
            tx.execute(
                "DELETE FROM translate_sessions WHERE output = ?1",
                params![output],
            )?;
            tx.execute(
                "INSERT INTO translate_sessions (output, format, since, header_end, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![output, format, since, header_end as i64, now()],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(TranslateSession {
                id,
                output: output.to_owned(),
                format: format.to_owned(),
                since,
                header_end,
            })
        })
    }

    /// Records a page whose rows are in the output file, up to `end_offset`.
    pub fn translate_page_done(
        &self,
        session: i64,
        page: &FinishedPage<'_>,
    ) -> Result<(), JournalError> {
        self.store.with(|c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO translate_pages
                 (session_id, pair, account_id, resource_type, page, next_page, rows, end_offset, request_id, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                session,
                page.pair,
                page.account_id,
                page.resource_type.as_str(),
                page.page as i64,
                page.next_page.map(|n| n as i64),
                page.rows as i64,
                page.end_offset as i64,
                page.request_id,
                now()
            ])?;
            Ok(())
        })
    }

    /// Records that Nylas refused an account for good (the first refusal stands).
    pub fn translate_refused(
        &self,
        session: i64,
        refusal: &TranslateRefusal,
    ) -> Result<(), JournalError> {
        self.store.with(|c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO translate_refusals
                 (session_id, pair, account_id, status, request_id, reason, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                session,
                refusal.pair,
                refusal.account_id,
                refusal.status,
                refusal.request_id,
                refusal.reason,
                now()
            ])?;
            Ok(())
        })
    }

    /// The accounts of the session Nylas refused for good, all at once: for the tests only (a
    /// run reads them a page of accounts at a time, with [`translate_listing`](Self::translate_listing)).
    #[cfg(test)]
    fn translate_refusals(&self, session: i64) -> Result<Vec<TranslateRefusal>, JournalError> {
        self.store.with(|c| {
            let mut stmt = c.prepare(
                "SELECT pair, account_id, status, request_id, reason FROM translate_refusals
                 WHERE session_id = ?1 ORDER BY pair, account_id",
            )?;
            let rows = stmt.query_map(params![session], |r| {
                Ok(TranslateRefusal {
                    pair: r.get(0)?,
                    account_id: r.get(1)?,
                    status: r
                        .get::<_, Option<i64>>(2)?
                        .and_then(|s| u16::try_from(s).ok()),
                    request_id: r.get(3)?,
                    reason: r.get(4)?,
                })
            })?;
            rows.collect::<Result<_, _>>()
        })
    }

    /// Forgets the pages whose rows end beyond `file_len` (written after the output file was
    /// last seen whole, or lost with it), and returns the length the output must be cut back
    /// to: the end of the last page still recorded, or of the header.
    pub fn translate_trim(
        &self,
        session: &TranslateSession,
        file_len: u64,
    ) -> Result<u64, JournalError> {
        self.store.with(|c| {
            c.execute(
                "DELETE FROM translate_pages WHERE session_id = ?1 AND end_offset > ?2",
                params![session.id, file_len as i64],
            )?;
            let end: Option<i64> = c.query_row(
                "SELECT MAX(end_offset) FROM translate_pages WHERE session_id = ?1",
                params![session.id],
                |r| r.get(0),
            )?;
            Ok(end.map_or(session.header_end, |e| {
                (e.max(0) as u64).max(session.header_end)
            }))
        })
    }
}

/// A run's own records: the accounts it listed (each translated once however often it is
/// listed) and the accounts it could not translate, in the journal rather than in memory, so
/// that a run's memory does not grow with the accounts. Each run starts them afresh.
impl FolderJournal {
    /// Starts a run of `session`: forgets an earlier run's listing and failures.
    pub fn translate_begin_run(&self, session: i64) -> Result<(), JournalError> {
        self.store.with(|c| {
            c.execute_batch(TABLES)?;
            c.execute(
                "DELETE FROM translate_listed WHERE session_id = ?1",
                params![session],
            )?;
            c.execute(
                "DELETE FROM translate_failures WHERE session_id = ?1",
                params![session],
            )?;
            Ok(())
        })
    }

    /// Ends a run: its listing is no longer needed (its failures stay until the next run).
    pub fn translate_end_run(&self, session: i64) -> Result<(), JournalError> {
        self.store.with(|c| {
            c.execute(
                "DELETE FROM translate_listed WHERE session_id = ?1",
                params![session],
            )?;
            Ok(())
        })
    }

    /// Notes a page of accounts listed for `pair` and says, for each, whether this run listed
    /// it before and what earlier runs recorded of it (its chains' next pages, its refusal).
    pub fn translate_listing(
        &self,
        session: i64,
        pair: &str,
        account_ids: &[&str],
    ) -> Result<Vec<ListedAccountRecord>, JournalError> {
        self.store.with(|c| {
            let tx = c.unchecked_transaction()?;
            let mut out = Vec::with_capacity(account_ids.len());
            for &id in account_ids {
                let inserted = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO translate_listed (session_id, pair, account_id) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![session, pair, id])?;
                if inserted == 0 {
                    out.push(ListedAccountRecord {
                        again: true,
                        ..ListedAccountRecord::default()
                    });
                    continue;
                }
                // One max() aggregate: the bare `next_page` is the last page's.
                let mut stmt = tx.prepare_cached(
                    "SELECT resource_type, MAX(page), next_page FROM translate_pages
                     WHERE session_id = ?1 AND pair = ?2 AND account_id = ?3 GROUP BY resource_type",
                )?;
                let chains = stmt
                    .query_map(params![session, pair, id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(2)?))
                    })?
                    .filter_map(|row| match row {
                        Ok((kind, next)) => ResourceType::parse(&kind)
                            .map(|t| Ok((t, next.map(|n| n.max(0) as u64)))),
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let refusal = tx
                    .prepare_cached(
                        "SELECT status, request_id, reason FROM translate_refusals
                         WHERE session_id = ?1 AND pair = ?2 AND account_id = ?3",
                    )?
                    .query_row(params![session, pair, id], |r| {
                        Ok(TranslateRefusal {
                            pair: pair.to_owned(),
                            account_id: id.to_owned(),
                            status: r
                                .get::<_, Option<i64>>(0)?
                                .and_then(|s| u16::try_from(s).ok()),
                            request_id: r.get(1)?,
                            reason: r.get(2)?,
                        })
                    })
                    .optional()?;
                out.push(ListedAccountRecord {
                    again: false,
                    chains,
                    refusal,
                });
            }
            tx.commit()?;
            Ok(out)
        })
    }

    /// The rows and pages earlier runs recorded (the last page of each chain counts its
    /// pages), without reading the chains into memory.
    pub fn translate_resumed_totals(&self, session: i64) -> Result<(u64, u64), JournalError> {
        let known = ResourceType::ALL
            .iter()
            .map(|t| format!("'{}'", t.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        self.store.with(|c| {
            c.query_row(
                &format!(
                    "SELECT COALESCE(SUM(rows), 0), COALESCE(SUM(last), 0) FROM
                     (SELECT SUM(rows) AS rows, MAX(page) AS last FROM translate_pages
                      WHERE session_id = ?1 AND resource_type IN ({known})
                      GROUP BY pair, account_id, resource_type)"
                ),
                params![session],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?.max(0) as u64,
                        r.get::<_, i64>(1)?.max(0) as u64,
                    ))
                },
            )
        })
    }

    /// Records that an account could not be translated, or adds resource types to its row
    /// (the first failure's reason stands).
    pub fn translate_failed(
        &self,
        session: i64,
        failure: &TranslateFailure,
    ) -> Result<(), JournalError> {
        self.store.with(|c| {
            c.prepare_cached(
                "INSERT INTO translate_failures
                 (session_id, pair, account_id, email, provider, grant_id, types, status, request_id, reason, refused)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (session_id, pair, account_id) DO UPDATE SET types = types | excluded.types",
            )?
            .execute(params![
                session,
                failure.pair,
                failure.account_id,
                failure.email,
                failure.provider,
                failure.grant_id,
                type_bits(&failure.resource_types),
                failure.status,
                failure.request_id,
                failure.reason,
                failure.refused,
            ])?;
            Ok(())
        })
    }

    /// This run's failures, counted.
    pub fn translate_failure_counts(&self, session: i64) -> Result<FailureCounts, JournalError> {
        let bits = (0..ResourceType::ALL.len())
            .map(|i| format!("((types >> {i}) & 1)"))
            .collect::<Vec<_>>()
            .join(" + ");
        self.store.with(|c| {
            c.query_row(
                &format!(
                    "SELECT COUNT(*), COALESCE(SUM(refused), 0),
                            COALESCE(SUM(CASE WHEN refused THEN {bits} ELSE 0 END), 0)
                     FROM translate_failures WHERE session_id = ?1"
                ),
                params![session],
                |r| {
                    Ok(FailureCounts {
                        accounts: r.get::<_, i64>(0)?.max(0) as u64,
                        refused: r.get::<_, i64>(1)?.max(0) as u64,
                        refused_chains: r.get::<_, i64>(2)?.max(0) as u64,
                    })
                },
            )
        })
    }

    /// Up to `limit` of this run's failures in (pair, account) order, after `after`'s: the
    /// errors file is written a page at a time.
    pub fn translate_failures(
        &self,
        session: i64,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<TranslateFailure>, JournalError> {
        let (pair, account) = after.unwrap_or(("", ""));
        self.store.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT pair, account_id, email, provider, grant_id, types, status, request_id, reason, refused
                 FROM translate_failures WHERE session_id = ?1 AND (?2 = 0 OR (pair, account_id) > (?3, ?4))
                 ORDER BY pair, account_id LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![session, after.is_some(), pair, account, limit as i64],
                |r| {
                    Ok(TranslateFailure {
                        pair: r.get(0)?,
                        account_id: r.get(1)?,
                        email: r.get(2)?,
                        provider: r.get(3)?,
                        grant_id: r.get(4)?,
                        resource_types: bits_types(r.get(5)?),
                        status: r
                            .get::<_, Option<i64>>(6)?
                            .and_then(|s| u16::try_from(s).ok()),
                        request_id: r.get(7)?,
                        reason: r.get(8)?,
                        refused: r.get(9)?,
                    })
                },
            )?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_resume_and_trim_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let journal = FolderJournal::open(dir.path()).unwrap();
        assert_eq!(journal.translate_session("/tmp/out.csv").unwrap(), None);
        let s = journal
            .start_translate_session("/tmp/out.csv", "csv", Some(5), 10)
            .unwrap();
        let page = |n: u64, next: Option<u64>, end: u64| FinishedPage {
            pair: "p",
            account_id: "a",
            resource_type: ResourceType::Messages,
            page: n,
            next_page: next,
            rows: 3,
            end_offset: end,
            request_id: None,
        };
        journal
            .translate_page_done(s.id, &page(1, Some(2), 100))
            .unwrap();
        journal
            .translate_page_done(s.id, &page(2, Some(3), 200))
            .unwrap();
        let chains = |journal: &FolderJournal| {
            journal.translate_begin_run(s.id).unwrap();
            journal.translate_listing(s.id, "p", &["a"]).unwrap()[0]
                .chains
                .clone()
        };
        assert_eq!(chains(&journal), [(ResourceType::Messages, Some(3))]);
        assert_eq!(journal.translate_resumed_totals(s.id).unwrap(), (6, 2));
        // The file lost its last page: it is forgotten, and the file is cut after page 1.
        assert_eq!(journal.translate_trim(&s, 150).unwrap(), 100);
        assert_eq!(chains(&journal), [(ResourceType::Messages, Some(2))]);
        assert_eq!(journal.translate_trim(&s, 0).unwrap(), 10);
        assert!(chains(&journal).is_empty());
        assert_eq!(journal.translate_session("/tmp/out.csv").unwrap(), Some(s));
    }

    #[test]
    fn a_refusal_is_recorded_once_and_forgotten_with_its_session() {
        let dir = tempfile::tempdir().unwrap();
        let journal = FolderJournal::open(dir.path()).unwrap();
        let s = journal
            .start_translate_session("/tmp/out.csv", "csv", None, 0)
            .unwrap();
        let refusal = |reason: &str| TranslateRefusal {
            pair: "p".into(),
            account_id: "a".into(),
            status: Some(400),
            request_id: Some("r1".into()),
            reason: reason.into(),
        };
        journal.translate_refused(s.id, &refusal("first")).unwrap();
        journal.translate_refused(s.id, &refusal("second")).unwrap();
        assert_eq!(
            journal.translate_refusals(s.id).unwrap(),
            [refusal("first")]
        );
        // --restart: a new session of the same output forgets them.
        let again = journal
            .start_translate_session("/tmp/out.csv", "csv", None, 0)
            .unwrap();
        assert!(journal.translate_refusals(again.id).unwrap().is_empty());
        assert!(journal.translate_refusals(s.id).unwrap().is_empty());
    }

    #[test]
    fn a_run_lists_each_account_once_and_keeps_its_failures_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let journal = FolderJournal::open(dir.path()).unwrap();
        let s = journal
            .start_translate_session("/tmp/out.csv", "csv", None, 0)
            .unwrap();
        let page = FinishedPage {
            pair: "p",
            account_id: "a",
            resource_type: ResourceType::Folders,
            page: 2,
            next_page: Some(3),
            rows: 4,
            end_offset: 10,
            request_id: None,
        };
        journal.translate_page_done(s.id, &page).unwrap();
        journal
            .translate_page_done(
                s.id,
                &FinishedPage {
                    resource_type: ResourceType::Messages,
                    page: 1,
                    next_page: None,
                    ..page
                },
            )
            .unwrap();
        assert_eq!(journal.translate_resumed_totals(s.id).unwrap(), (8, 3));
        journal.translate_begin_run(s.id).unwrap();
        let listed = journal
            .translate_listing(s.id, "p", &["a", "b", "a"])
            .unwrap();
        assert!(!listed[0].again && !listed[1].again && listed[2].again);
        let mut chains = listed[0].chains.clone();
        chains.sort();
        assert_eq!(
            chains,
            [
                (ResourceType::Messages, None),
                (ResourceType::Folders, Some(3))
            ]
        );
        assert_eq!(listed[1], ListedAccountRecord::default());
        // Listed again by the same run: skipped; by the next run: listed afresh.
        assert!(journal.translate_listing(s.id, "p", &["b"]).unwrap()[0].again);
        assert!(!journal.translate_listing(s.id, "q", &["b"]).unwrap()[0].again);
        let failure =
            |account: &str, t: ResourceType, refused: bool, reason: &str| TranslateFailure {
                pair: "p".into(),
                account_id: account.into(),
                email: String::new(),
                provider: "imap".into(),
                grant_id: "g".into(),
                resource_types: vec![t],
                status: Some(400),
                request_id: None,
                reason: reason.into(),
                refused,
            };
        for f in [
            failure("b", ResourceType::Folders, true, "first"),
            failure("b", ResourceType::Messages, true, "second"),
            failure("a", ResourceType::Events, false, "later"),
        ] {
            journal.translate_failed(s.id, &f).unwrap();
        }
        assert_eq!(
            journal.translate_failure_counts(s.id).unwrap(),
            FailureCounts {
                accounts: 2,
                refused: 1,
                refused_chains: 2
            }
        );
        let first = journal.translate_failures(s.id, None, 1).unwrap();
        assert_eq!(first, [failure("a", ResourceType::Events, false, "later")]);
        let rest = journal
            .translate_failures(s.id, Some(("p", "a")), 10)
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(
            rest[0].resource_types,
            [ResourceType::Messages, ResourceType::Folders]
        );
        assert_eq!(rest[0].reason, "first");
        journal.translate_begin_run(s.id).unwrap();
        assert!(
            journal
                .translate_failures(s.id, None, 10)
                .unwrap()
                .is_empty()
        );
        assert!(!journal.translate_listing(s.id, "p", &["a"]).unwrap()[0].again);
    }
}
