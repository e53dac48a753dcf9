//! `nylas-migrate report PLAN`: accounts migrated, placeholder grants and failures, as CSV or
//! JSON, for every pair at once.

use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::setup;
use super::{CliError, CommandError, Finished};
use crate::engine::Context;
use crate::output_file::WholeFile;
use crate::report::{AccountOutcome, AccountRow, ReportTail, outcomes, stream_accounts_report};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// CSV (one row per account) or JSON (rows, plus each wave's counts).
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only accounts with these outcomes (comma-separated: migrated, placeholder, failed,
    /// pending), with the columns a mail merge needs: email, provider, pair, account_id,
    /// outcome, reason. `--outcome placeholder,failed` lists the users who must sign in again.
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
}

pub fn run(args: Args) -> Result<Finished, CliError> {
    let (plan, graph) = setup::load(&args.target.plan)?;
    let pairs = args.pairs.checked(&graph)?;
    setup::print_partial(&graph, &pairs, super::Output::Human, false);
    let client = setup::client(&plan)?;
    let state = args.target.state(&plan)?;
    let journal = setup::existing_journal(&state, &plan)?;
    let source = args.target.secret_source();
    if let Some(path) = &args.out {
        // Before any request: a refused output costs nothing.
        setup::check_output("out", path, &args.target, false)?;
    }
    let mut sink = Sink::open(args.out.as_deref())?;
    let mut render = Render::new(args.format, &args.outcome, &plan.name);
    // The rows go out as their pages arrive: memory is a page per pair, not the report.
    let mut failed_write: Option<std::io::Error> = None;
    let result = super::runtime()?.block_on(async {
        let mut ctx = Context::new(graph, source, &client, &state, false)?;
        ctx.set_options(crate::engine::RunOptions {
            pairs,
            ..Default::default()
        });
        let head = render.head();
        if let Err(err) = sink.write(&head) {
            failed_write = Some(err);
            return Err(stopped());
        }
        stream_accounts_report(&ctx, journal.as_ref(), |rows| {
            let text = render.rows(rows);
            sink.write(&text).map_err(|err| {
                failed_write = Some(err);
                stopped()
            })
        })
        .await
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
    let tail = result?;
    let end = render.tail(&tail);
    sink.write(&end).map_err(write_error)?;
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
            Format::Csv => text,
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
            (Format::Csv, _) => String::new(),
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

    fn write(&mut self, text: &str) -> std::io::Result<()> {
        match self {
            Sink::Stdout => {
                super::output::write_stdout_bytes(text.as_bytes());
                Ok(())
            }
            Sink::File { file, .. } => std::io::Write::write_all(file, text.as_bytes()),
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
