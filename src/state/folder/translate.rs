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

/// How far one (pair, account, resource type) got: its last recorded page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProgress {
    pub pair: String,
    pub account_id: String,
    pub resource_type: ResourceType,
    pub last_page: u64,
    /// `None`: the chain is complete.
    pub next_page: Option<u64>,
    /// Rows of every recorded page of the chain.
    pub rows: u64,
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

    /// The accounts of the session Nylas refused for good.
    pub fn translate_refusals(&self, session: i64) -> Result<Vec<TranslateRefusal>, JournalError> {
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

    /// Every chain's last recorded page, with the rows recorded for the chain.
    pub fn translate_progress(&self, session: i64) -> Result<Vec<ChainProgress>, JournalError> {
        self.store.with(|c| {
            let mut stmt = c.prepare(
                "SELECT p.pair, p.account_id, p.resource_type, p.page, p.next_page, t.rows
                 FROM translate_pages p
                 JOIN (SELECT pair, account_id, resource_type, MAX(page) AS page, SUM(rows) AS rows
                       FROM translate_pages WHERE session_id = ?1
                       GROUP BY pair, account_id, resource_type) t
                   ON p.pair = t.pair AND p.account_id = t.account_id
                  AND p.resource_type = t.resource_type AND p.page = t.page
                 WHERE p.session_id = ?1",
            )?;
            let rows = stmt.query_map(params![session], |r| {
                let kind: String = r.get(2)?;
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    kind,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (pair, account_id, kind, page, next, total) = row?;
                // Rows this version did not write (an unknown type) are not progress.
                let Some(resource_type) = ResourceType::parse(&kind) else {
                    continue;
                };
                out.push(ChainProgress {
                    pair,
                    account_id,
                    resource_type,
                    last_page: page.max(0) as u64,
                    next_page: next.map(|n| n.max(0) as u64),
                    rows: total.max(0) as u64,
                });
            }
            Ok(out)
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
        let progress = journal.translate_progress(s.id).unwrap();
        assert_eq!(progress.len(), 1);
        assert_eq!(
            (
                progress[0].last_page,
                progress[0].next_page,
                progress[0].rows
            ),
            (2, Some(3), 6)
        );
        // The file lost its last page: it is forgotten, and the file is cut after page 1.
        assert_eq!(journal.translate_trim(&s, 150).unwrap(), 100);
        assert_eq!(journal.translate_progress(s.id).unwrap()[0].last_page, 1);
        assert_eq!(journal.translate_trim(&s, 0).unwrap(), 10);
        assert!(journal.translate_progress(s.id).unwrap().is_empty());
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
}
