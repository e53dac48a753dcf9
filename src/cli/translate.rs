//! `nylas-migrate translate PLAN`: v2 object IDs to v3 provider IDs for every migrated account,
//! streamed to a CSV or JSON-lines file, paced by each application's rate limit, resumable.

use super::output::outln;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;

use super::setup::{self, report};
use super::{EXIT_FAILURE, EXIT_OK, Output};
use crate::api::ResourceType;
use crate::engine::journal::Journal;
use crate::engine::translate::{
    BarTranslateReporter, Format, JsonTranslateReporter, PlainTranslateReporter,
    QuietTranslateReporter, TranslateOptions, TranslatePair, TranslateReporter, TranslateSummary,
    read_accounts_file, translate,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// Resource types to translate, comma-separated: messages, drafts, threads, contacts,
    /// contactgroups, events, calendars, folders, or `all`.
    #[arg(long, value_name = "TYPES", value_delimiter = ',', required = true, value_parser = parse_type)]
    pub resource_types: Vec<TypeArg>,
    /// Only these v2 accounts: one ID per line, or the CSV `report` writes (its `account_id`
    /// and `pair` columns). Default: every account with a v3 grant in the plan's pairs.
    #[arg(long, value_name = "FILE")]
    pub accounts: Option<PathBuf>,
    /// Only objects created after this Unix time (`start_from_timestamp`).
    #[arg(long, value_name = "UNIX_TIME", value_parser = clap::value_parser!(i64).range(0..))]
    pub since: Option<i64>,
    /// Only this pair (repeatable).
    #[arg(long, value_name = "NAME")]
    pub pair: Vec<String>,
    /// The output file: one row per ID (pair, v2_account_id, grant_id, resource_type, v2_id,
    /// v3_id). A run killed or failed resumes it where it stopped.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Where accounts that could not be translated go; default: beside --out, `.errors`
    /// before its extension.
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
    /// CSV (RFC 4180, with a header row) or JSON lines.
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    pub format: FormatArg,
    /// Account-types in flight at once per v3 application (every request also waits for the
    /// application's rate limit).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Start the output file again, forgetting what an earlier run of it recorded.
    #[arg(long)]
    pub restart: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
}

/// A `--resource-types` value: one type, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeArg {
    One(ResourceType),
    All,
}

fn parse_type(s: &str) -> Result<TypeArg, String> {
    let s = s.trim();
    if s == "all" {
        return Ok(TypeArg::All);
    }
    ResourceType::parse(s).map(TypeArg::One).ok_or_else(|| {
        let known: Vec<_> = ResourceType::ALL.iter().map(|t| t.as_str()).collect();
        format!(
            "unknown resource type `{s}`; expected one of {}, or all",
            known.join(", ")
        )
    })
}

fn resource_types(args: &[TypeArg]) -> Vec<ResourceType> {
    let mut types: Vec<ResourceType> = if args.contains(&TypeArg::All) {
        ResourceType::ALL.to_vec()
    } else {
        args.iter()
            .filter_map(|t| match t {
                TypeArg::One(t) => Some(*t),
                TypeArg::All => None,
            })
            .collect()
    };
    types.sort();
    types.dedup();
    types
}

/// `ids.csv` → `ids.errors.csv`; `ids` → `ids.errors`.
fn default_errors_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match out.extension() {
        Some(ext) => format!("{stem}.errors.{}", ext.to_string_lossy()),
        None => format!("{stem}.errors"),
    };
    out.with_file_name(name)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

pub fn run(args: Args, output: Output) -> u8 {
    let Some((plan, graph)) = setup::load(&args.target.plan) else {
        return EXIT_FAILURE;
    };
    let known: Vec<&str> = graph.pairs().iter().map(|p| p.name.as_str()).collect();
    if let Some(unknown) = args.pair.iter().find(|p| !known.contains(&p.as_str())) {
        report(miette::miette!(
            help = format!("the plan's pairs: {}", known.join(", ")),
            "--pair {unknown}: no such pair in the plan"
        ));
        return EXIT_FAILURE;
    }
    let listed = match &args.accounts {
        Some(path) => match read_accounts_file(path) {
            Ok(listed) => Some(listed),
            Err(e) => {
                report(e);
                return EXIT_FAILURE;
            }
        },
        None => None,
    };
    let client = match setup::client(&plan) {
        Ok(c) => c,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    // Translate needs only each pair's v3 API key.
    let source = args.target.secret_source();
    let pairs: Vec<TranslatePair> = match setup::app_clients(&graph, &client, &source, |p| {
        args.pair.is_empty() || args.pair.contains(&p.name)
    }) {
        Ok(apps) => apps
            .into_iter()
            .map(|(index, app)| TranslatePair {
                name: graph.pairs()[index].name.clone(),
                app,
            })
            .collect(),
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    // Translate's checkpoints describe a file on this machine: they stay in a local state
    // folder whatever the plan's state (see engine/journal/translate.rs).
    let state_dir = args.target.local_state_dir();
    if let Err(e) = std::fs::create_dir_all(&state_dir) {
        report(miette::miette!(
            "cannot create state folder {}: {e}",
            state_dir.display()
        ));
        return EXIT_FAILURE;
    }
    let journal = match Journal::open(&state_dir) {
        Ok(j) => Arc::new(j),
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let out = absolute(&args.out);
    let options = TranslateOptions {
        resource_types: resource_types(&args.resource_types),
        since: args.since,
        errors: absolute(
            &args
                .errors
                .clone()
                .unwrap_or_else(|| default_errors_path(&args.out)),
        ),
        output: out.clone(),
        format: match args.format {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::Jsonl,
        },
        concurrency: usize::from(args.concurrency),
        restart: args.restart,
    };
    if options.errors == options.output {
        report(miette::miette!("--errors and --out name the same file"));
        return EXIT_FAILURE;
    }
    let _lock = match lock_output(&state_dir, &out) {
        Ok(lock) => lock,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let reporter: Arc<dyn TranslateReporter> = match output {
        Output::Json => Arc::new(JsonTranslateReporter::new()),
        Output::Human if super::quiet() => Arc::new(QuietTranslateReporter),
        Output::Human if std::io::stderr().is_terminal() => Arc::new(BarTranslateReporter::new()),
        Output::Human => Arc::new(PlainTranslateReporter::new()),
    };
    let result = super::runtime().block_on(translate(pairs, listed, journal, &options, reporter));
    match result {
        Ok(summary) => {
            if output == Output::Human {
                print_summary(&summary);
            }
            if summary.complete() {
                EXIT_OK
            } else {
                EXIT_FAILURE
            }
        }
        Err(e) => {
            report(e);
            EXIT_FAILURE
        }
    }
}

/// One translate per output file at a time: an exclusive lock on a file of the state folder
/// named after the output, released by the OS however the process ends.
fn lock_output(state_dir: &Path, out: &Path) -> Result<std::fs::File, miette::Report> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(out.display().to_string().as_bytes());
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let path = state_dir.join(format!("translate-{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| miette::miette!("cannot create lock {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(miette::miette!(
            help = "wait for it to finish, or write to another --out",
            "another translate is writing {} with this state folder",
            out.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(miette::miette!("cannot lock {}: {e}", path.display()))
        }
    }
}

fn shown(text: &str) -> String {
    // Text from the API and the journal: control and bidi characters escaped, as everywhere.
    crate::untrusted::esc(text).to_string()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn print_summary(s: &TranslateSummary) {
    outln!(
        "Translated {} rows into {} ({} this run: {} pages requested, {} pages from earlier runs not requested again)",
        s.rows,
        s.output.display(),
        s.rows_this_run,
        s.pages_this_run,
        s.pages_resumed
    );
    if s.cut_bytes > 0 {
        outln!(
            "  resumed: {} bytes written after the last recorded page were cut and their pages asked again",
            s.cut_bytes
        );
    }
    outln!(
        "  {}, {} of {} account-types done",
        plural(s.accounts as usize, "account"),
        s.chains_complete,
        s.chains
    );
    outln!(
        "\n  {:<20} {:>9} {:>7} {:>9}",
        "pair",
        "requests",
        "limit",
        "of limit"
    );
    for t in &s.throughput {
        outln!(
            "  {:<20} {:>9} {:>5}/s {:>9}",
            t.pair,
            t.requests,
            t.rate_limit,
            t.ratio()
                .map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
        );
    }
    if s.errors.is_empty() {
        outln!("\nNo account failed.");
    } else {
        outln!(
            "\n{} could not be translated ({} refused by Nylas, {} to retry), listed in {}:",
            plural(s.errors.len(), "account"),
            s.refused(),
            s.errors.len() - s.refused(),
            s.errors_file.display()
        );
        for e in s.errors.iter().take(10) {
            let types: Vec<_> = e.resource_types.iter().map(|t| t.as_str()).collect();
            outln!(
                "  {}/{} {} {}: {} ({})",
                e.pair,
                e.account_id,
                e.provider,
                shown(&e.email),
                shown(&e.reason),
                types.join(", ")
            );
        }
        if s.errors.len() > 10 {
            outln!("  … and {} more", s.errors.len() - 10);
        }
    }
    if s.complete() {
        outln!("\nDone in {:.1}s.", s.elapsed.as_secs_f64());
    } else {
        outln!(
            "\nIncomplete: run the same command again to resume; finished pages are not requested again."
        );
    }
}
