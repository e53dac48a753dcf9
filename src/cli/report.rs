//! `nylas-migrate report PLAN`: accounts migrated, placeholder grants and failures, as CSV or
//! JSON, for every pair at once, or one self-contained HTML page for people
//! (`render/html.rs`).

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::render::html;
use super::setup;
use super::{CliError, CommandError, Finished};
use crate::engine::Context;
use crate::output_file::WholeFile;
use crate::report::{
    AccountOutcome, AccountRow, ReportTail, Verification, outcomes, stream_accounts_report, verify,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// CSV (one row per account), JSON (rows, plus each wave's counts), or HTML (one
    /// self-contained page: each pair's checklist, the waves, outcomes by provider, failure
    /// reasons, and the searchable list of users who must sign in again).
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only accounts with these outcomes (comma-separated: migrated, placeholder, failed,
    /// pending), with the columns a mail merge needs: email, provider, pair, account_id,
    /// outcome, reason. `--outcome placeholder,failed` lists the users who must sign in again
    /// (with `--format html`: the outcomes its list shows; by default placeholder and failed).
    #[arg(long, value_name = "OUTCOMES", value_delimiter = ',', value_parser = parse_outcome)]
    pub outcome: Vec<AccountOutcome>,
    #[command(flatten)]
    pub pairs: setup::PairArgs,
}

fn parse_outcome(s: &str) -> Result<AccountOutcome, String> {
    [
        AccountOutcome::Migrated,
        AccountOutcome::Placeholder,
        AccountOutcome::Failed,
        AccountOutcome::Pending,
    ]
    .into_iter()
    .find(|o| o.as_str() == s.trim())
    .ok_or_else(|| {
        format!("unknown outcome `{s}`; expected migrated, placeholder, failed or pending")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Html,
}

pub fn run(args: Args) -> Result<Finished, CliError> {
    let (plan, graph) = setup::load(&args.target.plan)?;
    let pairs = args.pairs.checked(&graph)?;
    setup::print_partial(&graph, &pairs, super::Output::Human, false);
    let state = args.target.state(&plan)?;
    let opening = setup::opening(&args.target, &plan, graph, state.clone())?;
    let journal = setup::existing_journal(&state, &plan)?;
    if let Some(path) = &args.out {
        // Before any request: a refused output costs nothing.
        setup::check_output("out", path, &args.target, false)?;
    }
    let mut sink = Sink::open(args.out.as_deref())?;
    let mut render = Render::new(args.format, &args.outcome, &plan.name);
    let mut page = match args.format {
        Format::Html => {
            Some(
                HtmlPage::new(&args.outcome).map_err(|cause| CommandError::Write {
                    path: "a temporary file for the report's list".to_owned(),
                    cause,
                })?,
            )
        }
        _ => None,
    };
    // The rows go out as their pages arrive: memory is a page per pair, not the report (the
    // HTML page's list waits in a temporary file until the summary above it is known).
    let mut failed_write: Option<std::io::Error> = None;
    let result = super::runtime()?.block_on(async {
        let ctx = opening
            .with_options(crate::engine::RunOptions {
                pairs,
                ..Default::default()
            })
            .read()?;
        let checked = match &page {
            Some(_) => Some(checklists(&ctx, journal.as_ref()).await?),
            None => None,
        };
        let head = render.head();
        if let Err(err) = sink.write(head.as_bytes()) {
            failed_write = Some(err);
            return Err(stopped());
        }
        let tail = stream_accounts_report(&ctx, journal.as_ref(), |rows| {
            let written = match &mut page {
                Some(page) => page.rows(rows),
                None => sink.write(render.rows(rows).as_bytes()),
            };
            written.map_err(|err| {
                failed_write = Some(err);
                stopped()
            })
        })
        .await?;
        Ok((tail, checked))
    });
    let write_error = |cause| CommandError::Write {
        path: args
            .out
            .as_ref()
            .map_or_else(|| "stdout".to_owned(), |p| p.display().to_string()),
        cause,
    };
    if let Some(cause) = failed_write {
        return Err(write_error(cause).into());
    }
    let (tail, checked) = result?;
    match (page, checked) {
        (Some(page), Some(checked)) => {
            let rows_written = page.tallies.listed;
            page.finish(&plan.name, &checked, &tail, &mut sink)
                .map_err(write_error)?;
            render.rows_written = rows_written;
        }
        _ => {
            let end = render.tail(&tail);
            sink.write(end.as_bytes()).map_err(write_error)?;
        }
    }
    let written = sink.finish().map_err(write_error)?;
    if let Some(path) = written {
        errln!("wrote {} rows to {}", render.rows_written, path.display());
        let t = tail.totals;
        if t.selected_by_jobs > 0 {
            errln!(
                "batch jobs selected {} accounts: {} failed (counted per job; the contract lists no failed account of a batch job), the others are rows with a grant",
                t.selected_by_jobs,
                t.failed_in_jobs
            );
        }
    }
    Ok(Finished::Clean)
}

/// What stops the report when its output cannot be written (the I/O error is kept aside).
fn stopped() -> crate::engine::EngineError {
    crate::engine::EngineError::Internal("the report's output could not be written".into())
}

/// The report's text, a piece at a time: the head, each page of rows, the tail.
struct Render<'a> {
    format: Format,
    /// `--outcome`: only these rows, with the mail-merge columns.
    outcomes: &'a [AccountOutcome],
    plan: &'a str,
    rows_written: u64,
}

impl<'a> Render<'a> {
    fn new(format: Format, outcomes: &'a [AccountOutcome], plan: &'a str) -> Render<'a> {
        Render {
            format,
            outcomes,
            plan,
            rows_written: 0,
        }
    }

    /// serde_json leaves DEL, the C1 controls and bidirectional controls raw inside strings
    /// (emails and reasons come from the API): escaped, the document means the same.
    fn safe(&self, text: String) -> String {
        match self.format {
            Format::Json => crate::untrusted::json_safe(text),
            Format::Csv | Format::Html => text,
        }
    }

    fn head(&self) -> String {
        let text = self.head_text();
        self.safe(text)
    }

    fn head_text(&self) -> String {
        match (self.format, self.outcomes.is_empty()) {
            (Format::Csv, true) => crate::report::CSV_HEADER.to_owned(),
            (Format::Csv, false) => {
                let mut out = String::new();
                outcomes::csv_header(&mut out);
                out
            }
            (Format::Json, _) => format!(
                "{{\n  \"plan\": {},\n  \"accounts\": [",
                serde_json::Value::from(self.plan)
            ),
            // The page is written whole at the end (HtmlPage).
            (Format::Html, _) => String::new(),
        }
    }

    fn rows(&mut self, rows: &[AccountRow]) -> String {
        let text = self.rows_text(rows);
        self.safe(text)
    }

    fn rows_text(&mut self, rows: &[AccountRow]) -> String {
        let mut out = String::new();
        for row in rows {
            if !self.outcomes.is_empty() && !outcomes::keeps(self.outcomes, row) {
                continue;
            }
            match (self.format, self.outcomes.is_empty()) {
                (Format::Csv, true) => crate::report::csv_row(row, &mut out),
                (Format::Csv, false) => outcomes::csv_row(row, &mut out),
                (Format::Html, _) => {}
                (Format::Json, full) => {
                    let value = if full {
                        serde_json::to_value(row).unwrap_or_default()
                    } else {
                        outcomes::json_row(row)
                    };
                    if self.rows_written > 0 {
                        out.push(',');
                    }
                    out.push_str("\n    ");
                    out.push_str(&value.to_string());
                }
            }
            self.rows_written += 1;
        }
        out
    }

    fn tail(&self, tail: &ReportTail) -> String {
        let text = self.tail_text(tail);
        self.safe(text)
    }

    fn tail_text(&self, tail: &ReportTail) -> String {
        let close = if self.rows_written > 0 { "\n  ]" } else { "]" };
        match (self.format, self.outcomes.is_empty()) {
            (Format::Csv | Format::Html, _) => String::new(),
            (Format::Json, false) => format!("{close}\n}}\n"),
            (Format::Json, true) => {
                let field = |v: serde_json::Value| {
                    serde_json::to_string_pretty(&v)
                        .unwrap_or_default()
                        .replace('\n', "\n  ")
                };
                format!(
                    "{close},\n  \"waves\": {},\n  \"adopted_jobs\": {},\n  \"totals\": {}\n}}\n",
                    field(serde_json::to_value(&tail.waves).unwrap_or_default()),
                    field(serde_json::to_value(&tail.adopted_jobs).unwrap_or_default()),
                    field(serde_json::to_value(tail.totals).unwrap_or_default()),
                )
            }
        }
    }
}

/// Where the report goes: stdout as it is made, or a private file (0600: the rows hold users'
/// emails) written whole or not at all ([`WholeFile`]: the path was checked first, and a report
/// that fails leaves it as it was).
enum Sink {
    Stdout,
    File { path: PathBuf, file: WholeFile },
}

impl Sink {
    fn open(out: Option<&Path>) -> Result<Sink, CliError> {
        let Some(path) = out else {
            return Ok(Sink::Stdout);
        };
        let file = WholeFile::create(path).map_err(|cause| CommandError::Write {
            path: path.display().to_string(),
            cause,
        })?;
        Ok(Sink::File {
            path: path.to_path_buf(),
            file,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Stdout => {
                super::output::write_stdout_bytes(bytes);
                Ok(())
            }
            Sink::File { file, .. } => file.write_all(bytes),
        }
    }

    /// Completes the output: the file, written whole, takes its place (its path is returned).
    fn finish(self) -> std::io::Result<Option<PathBuf>> {
        match self {
            Sink::Stdout => Ok(None),
            Sink::File { path, file } => {
                file.commit()?;
                Ok(Some(path))
            }
        }
    }
}

/// Each targeted pair's checklist, as `verify` gives it (the HTML page's first section).
async fn checklists(
    ctx: &Context,
    journal: Option<&crate::state::journal::Journal>,
) -> Result<Verification, crate::engine::EngineError> {
    let apps: Vec<(usize, crate::client::AppClient)> = (0..ctx.graph().pairs().len())
        .filter(|&index| ctx.targets_pair(index))
        .map(|index| (index, ctx.pair_app(index).clone()))
        .collect();
    verify(ctx.graph(), &apps, journal).await
}

/// `--format html`: the counts kept as rows stream by, and the sign-in list's rows kept aside
/// in a private temporary file (removed from its folder as soon as it is open, so it goes
/// away with the process whatever happens) until the summary that comes first is known.
struct HtmlPage {
    listed: Vec<AccountOutcome>,
    tallies: html::Tallies,
    spool: std::io::BufWriter<std::fs::File>,
}

impl HtmlPage {
    fn new(outcomes: &[AccountOutcome]) -> std::io::Result<HtmlPage> {
        let listed = if outcomes.is_empty() {
            vec![AccountOutcome::Placeholder, AccountOutcome::Failed]
        } else {
            outcomes.to_vec()
        };
        let path = std::env::temp_dir().join(format!(
            ".nylas-migrate-report.{}.{}.tmp",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = crate::state::private::open(
            &path,
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true),
        )?;
        std::fs::remove_file(&path)?;
        Ok(HtmlPage {
            listed,
            tallies: html::Tallies::default(),
            spool: std::io::BufWriter::new(file),
        })
    }

    fn rows(&mut self, rows: &[AccountRow]) -> std::io::Result<()> {
        for row in rows {
            if self.tallies.add(row, &self.listed) {
                self.spool.write_all(html::row(row).as_bytes())?;
            }
        }
        Ok(())
    }

    /// Writes the whole page to `sink`: the summary, the list's rows, the end.
    fn finish(
        self,
        plan: &str,
        checked: &Verification,
        tail: &ReportTail,
        sink: &mut Sink,
    ) -> std::io::Result<()> {
        let page = html::Page {
            plan,
            generated_at: crate::state::journal::now(),
            listed: &self.listed,
        };
        sink.write(html::top(&page, checked, tail, &self.tallies).as_bytes())?;
        let mut file = self.spool.into_inner().map_err(|e| e.into_error())?;
        file.seek(std::io::SeekFrom::Start(0))?;
        let mut buffer = vec![0; 256 * 1024];
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            sink.write(&buffer[..n])?;
        }
        sink.write(html::bottom().as_bytes())
    }
}
