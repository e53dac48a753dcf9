//! The output file: its rows (CSV or JSON lines), streamed page by page, and how a session
//! resumes it (cut back to what the journal recorded) or starts it.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::api::ResourceType;
use tokio::sync::mpsc;

use crate::state::{FolderJournal, TranslateSession};

use crate::state::FinishedPage;

use super::{
    AccountError, ERROR_SAMPLE, PageRows, Shared, TranslateError, TranslateOptions, Written,
};

/// The output files' format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row; values verbatim (IDs are data for code, so nothing is
    /// prefixed against spreadsheet formulas).
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// The output's columns, in order.
pub const COLUMNS: [&str; 6] = [
    "pair",
    "v2_account_id",
    "grant_id",
    "resource_type",
    "v2_id",
    "v3_id",
];

/// The errors file's columns, in order.
pub const ERROR_COLUMNS: [&str; 9] = [
    "pair",
    "v2_account_id",
    "email",
    "provider",
    "grant_id",
    "resource_types",
    "status",
    "request_id",
    "reason",
];

/// One output row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row<'a> {
    pub pair: &'a str,
    pub v2_account_id: &'a str,
    pub grant_id: &'a str,
    pub resource_type: ResourceType,
    pub v2_id: &'a str,
    pub v3_id: &'a str,
}

/// The v3 ID of an IMAP folder that translate returned by name: base64 of
/// `v0:<GRANT_ID>:<FOLDER_NAME>` (Nylas's migration guide).
pub fn imap_folder_id(grant_id: &str, name: &str) -> String {
    STANDARD.encode(format!("v0:{grant_id}:{name}"))
}

fn csv_line(fields: &[&str], out: &mut Vec<u8>) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(field.as_bytes());
        }
    }
    out.push(b'\n');
}

/// A CSV line people read (the errors file: emails and reasons from the API), each cell by the
/// one rule for such cells, [`crate::untrusted::csv_cell`]: escaped, neutralised against
/// spreadsheet formulas, quoted.
fn csv_line_for_people(fields: &[&str], out: &mut Vec<u8>) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(crate::untrusted::csv_cell(field).as_bytes());
    }
    out.push(b'\n');
}

impl Format {
    /// The header written once at the start of a file (CSV only).
    pub fn header(self, columns: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        if self == Format::Csv {
            csv_line(columns, &mut out);
        }
        out
    }

    pub fn row(self, row: &Row<'_>, out: &mut Vec<u8>) {
        match self {
            Format::Csv => csv_line(
                &[
                    row.pair,
                    row.v2_account_id,
                    row.grant_id,
                    row.resource_type.as_str(),
                    row.v2_id,
                    row.v3_id,
                ],
                out,
            ),
            Format::Jsonl => {
                // A struct of strings always serializes.
                let _ = serde_json::to_writer(&mut *out, row);
                out.push(b'\n');
            }
        }
    }

    pub fn error_row(self, e: &AccountError, out: &mut Vec<u8>) {
        let types = e
            .resource_types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let status = e.status.map(|s| s.to_string()).unwrap_or_default();
        match self {
            Format::Csv => csv_line_for_people(
                &[
                    &e.pair,
                    &e.account_id,
                    &e.email,
                    &e.provider,
                    &e.grant_id,
                    &types,
                    &status,
                    e.request_id.as_deref().unwrap_or_default(),
                    &e.reason,
                ],
                out,
            ),
            Format::Jsonl => {
                let value = serde_json::json!({
                    "pair": e.pair,
                    "v2_account_id": e.account_id,
                    "email": e.email,
                    "provider": e.provider,
                    "grant_id": e.grant_id,
                    "resource_types": e.resource_types,
                    "status": e.status,
                    "request_id": e.request_id,
                    "reason": e.reason,
                });
                let _ = serde_json::to_writer(&mut *out, &value);
                out.push(b'\n');
            }
        }
    }
}

fn io<'a>(
    path: &'a Path,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> TranslateError + 'a {
    move |source| TranslateError::Io {
        path: path.display().to_string(),
        what,
        source,
    }
}

/// `options` that refuse to open a symbolic link at the path's last component (the command
/// line refuses one first; this closes the gap between that check and the open).
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o600);
    }
    options
}

/// The output file, open for appending after what the journal recorded.
pub struct Opened {
    pub session: TranslateSession,
    pub file: File,
    /// The file's length: where the next page's rows go.
    pub offset: u64,
    /// Whether an earlier session's pages were kept (a resumed run).
    pub resumed: bool,
    /// Bytes cut from the end of the file: rows written but not recorded before a crash.
    pub cut: u64,
}

/// Opens `path` for a run: resumes its session if the journal has one with the same options
/// (cutting the file back to the last recorded page), otherwise starts a new one. A file that
/// exists without a session is not overwritten unless `restart`.
pub fn open(
    journal: &FolderJournal,
    path: &Path,
    format: Format,
    since: Option<i64>,
    restart: bool,
) -> Result<Opened, TranslateError> {
    let key = path.display().to_string();
    let existing = journal.translate_session(&key)?;
    let len = match std::fs::metadata(path) {
        Ok(meta) => Some(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(path, "inspect the output file")(e)),
    };
    if !restart {
        match &existing {
            Some(session) => {
                if session.format != format.as_str() {
                    return Err(TranslateError::SessionMismatch {
                        path: key,
                        what: format!(
                            "was started as {}, this run asks for {}",
                            session.format,
                            format.as_str()
                        ),
                    });
                }
                if session.since != since {
                    let show = |s: Option<i64>| {
                        s.map_or("no --since".to_owned(), |s| format!("--since {s}"))
                    };
                    return Err(TranslateError::SessionMismatch {
                        path: key,
                        what: format!(
                            "was started with {}, this run asks for {}",
                            show(session.since),
                            show(since)
                        ),
                    });
                }
                let file_len = len.unwrap_or(0);
                if file_len >= session.header_end {
                    let keep = journal.translate_trim(session, file_len)?;
                    let mut file = no_follow(OpenOptions::new().write(true))
                        .open(path)
                        .map_err(io(path, "open the output file"))?;
                    file.set_len(keep).map_err(io(
                        path,
                        "cut the output file back to its last recorded page",
                    ))?;
                    file.seek(SeekFrom::Start(keep))
                        .map_err(io(path, "seek in the output file"))?;
                    return Ok(Opened {
                        session: session.clone(),
                        file,
                        offset: keep,
                        resumed: keep > session.header_end,
                        cut: file_len - keep,
                    });
                }
                // The file is gone or shorter than its header: nothing in it can be trusted,
                // start again below.
            }
            None if len.is_some() => {
                return Err(TranslateError::OutputExists { path: key });
            }
            None => {}
        }
    }
    let header = format.header(&COLUMNS);
    let mut file = no_follow(OpenOptions::new().write(true).create(true).truncate(true))
        .open(path)
        .map_err(io(path, "create the output file"))?;
    file.write_all(&header)
        .map_err(io(path, "write the output file"))?;
    let session =
        journal.start_translate_session(&key, format.as_str(), since, header.len() as u64)?;
    Ok(Opened {
        session,
        file,
        offset: header.len() as u64,
        resumed: false,
        cut: 0,
    })
}

/// The writer: a blocking thread, so file writes and journal commits never stall requests.
/// Streams each page's rows to the output, then records the page and the file's length.
pub(super) fn spawn_writer(
    shared: &Arc<Shared>,
    journal: &Arc<FolderJournal>,
    opened: &Opened,
    options: &TranslateOptions,
    mut rx: mpsc::Receiver<Written>,
) -> tokio::task::JoinHandle<Result<(), TranslateError>> {
    let shared = Arc::clone(shared);
    let journal = Arc::clone(journal);
    let format = options.format;
    let session = opened.session.id;
    let file = opened.file.try_clone();
    let mut offset = opened.offset;
    let path = options.output.clone();
    tokio::task::spawn_blocking(move || -> Result<(), TranslateError> {
        let mut file = file.map_err(io(&path, "open the output file"))?;
        let mut buf = Vec::with_capacity(1 << 20);
        while let Some(written) = rx.blocking_recv() {
            let page = match written {
                Written::Page(page) => page,
                Written::Refused(refusal) => {
                    journal.translate_refused(session, &refusal)?;
                    continue;
                }
                Written::Failed(error) => {
                    journal.translate_failed(session, &error)?;
                    continue;
                }
            };
            buf.clear();
            let account = &page.target.account;
            let pair = &shared.pairs[account.pair].name;
            let rows = page_rows(format, pair, &page, &mut buf);
            file.write_all(&buf)
                .map_err(io(&path, "write the output file"))?;
            offset += buf.len() as u64;
            journal.translate_page_done(
                session,
                &FinishedPage {
                    pair,
                    account_id: &account.account_id,
                    resource_type: page.resource_type,
                    page: page.page,
                    next_page: page.next_page,
                    rows,
                    end_offset: offset,
                    request_id: page.request_id.as_deref(),
                },
            )?;
            shared.progress.page_written(rows, page.next_page.is_none());
        }
        Ok(())
    })
}

/// A page's rows into `buf`; how many.
fn page_rows(format: Format, pair: &str, page: &PageRows, buf: &mut Vec<u8>) -> u64 {
    let account = &page.target.account;
    let imap_folders = account.provider == "imap" && page.resource_type == ResourceType::Folders;
    let mut rows = 0u64;
    for t in &page.translations {
        let Some(v2_id) = t.v2_resource_id.as_deref() else {
            continue;
        };
        let v3 = t.v3_resource_id.as_deref().unwrap_or_default();
        let folder_id;
        let v3_id = if imap_folders && !v3.is_empty() {
            folder_id = imap_folder_id(&account.grant_id, v3);
            folder_id.as_str()
        } else {
            v3
        };
        format.row(
            &Row {
                pair,
                v2_account_id: &account.account_id,
                grant_id: &account.grant_id,
                resource_type: page.resource_type,
                v2_id,
                v3_id,
            },
            buf,
        );
        rows += 1;
    }
    rows
}

/// Errors-file rows read from the journal at a time.
const ERRORS_PAGE: usize = 500;

/// Writes the errors file from the journal's record of this run's failures, a page at a time
/// (replaced on every run: it lists this run's errors), in (pair, account) order. Returns the
/// first [`ERROR_SAMPLE`] rows, for the summary.
pub fn write_errors(
    path: &Path,
    format: Format,
    journal: &FolderJournal,
    session: i64,
) -> Result<Vec<AccountError>, TranslateError> {
    // Whole or not at all, private (0600): the rows hold users' emails.
    let mut file =
        crate::output_file::WholeFile::create(path).map_err(io(path, "write the errors file"))?;
    file.write_all(&format.header(&ERROR_COLUMNS))
        .map_err(io(path, "write the errors file"))?;
    let mut sample = Vec::new();
    let mut after: Option<(String, String)> = None;
    let mut out = Vec::new();
    loop {
        let page = journal.translate_failures(
            session,
            after.as_ref().map(|(p, a)| (p.as_str(), a.as_str())),
            ERRORS_PAGE,
        )?;
        out.clear();
        for e in &page {
            format.error_row(e, &mut out);
        }
        file.write_all(&out)
            .map_err(io(path, "write the errors file"))?;
        let full = page.len() == ERRORS_PAGE;
        after = page.last().map(|e| (e.pair.clone(), e.account_id.clone()));
        let room = ERROR_SAMPLE.saturating_sub(sample.len());
        sample.extend(page.into_iter().take(room));
        if !full {
            break;
        }
    }
    file.commit().map_err(io(path, "write the errors file"))?;
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_nothing_else() {
        let mut out = Vec::new();
        Format::Csv.row(
            &Row {
                pair: "us",
                v2_account_id: "a1",
                grant_id: "g1",
                resource_type: ResourceType::Folders,
                v2_id: "f1",
                v3_id: "Clients, \"VIP\"",
            },
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "us,a1,g1,folders,f1,\"Clients, \"\"VIP\"\"\"\n"
        );
        let mut errors = Vec::new();
        Format::Csv.error_row(
            &AccountError {
                pair: "us".into(),
                account_id: "a1".into(),
                email: "=HYPERLINK(\"x\")".into(),
                provider: "-1".into(),
                grant_id: "\tg".into(),
                resource_types: Vec::new(),
                status: None,
                request_id: None,
                reason: "bad\u{1b}[2J".into(),
                refused: true,
            },
            &mut errors,
        );
        assert_eq!(
            String::from_utf8(errors).unwrap(),
            "us,a1,\"'=HYPERLINK(\"\"x\"\")\",'-1,'\\tg,,,,bad\\u{1b}[2J\n"
        );
        assert_eq!(
            imap_folder_id("g1", "INBOX"),
            STANDARD.encode("v0:g1:INBOX")
        );
    }
}
