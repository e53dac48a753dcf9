//! `nylas-migrate translate PLAN`: v2 object IDs to v3 provider IDs for every migrated account,
//! streamed to a CSV or JSON-lines file, paced by each application's rate limit, resumable.

use super::output::outln;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;

use super::render::{bars::TranslateBar, human::Lines, json::JsonLines};
use super::setup;
use super::{CliError, CommandError, Finished, Output};
use crate::api::ResourceType;
use crate::events::{QuietReporter, Reporter};
use crate::state::FolderJournal;
use crate::translate::{
    Format, TranslateError, TranslateOptions, TranslatePair, TranslateSummary, read_accounts_file,
    translate,
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

pub fn run(args: Args, output: Output) -> Result<Finished, CliError> {
    let (plan, graph) = setup::load(&args.target.plan)?;
    setup::check_pairs(&graph, &args.pair)?;
    let options = options(&args)?;
    // Before any request: neither file may be the plan, a saved plan, inside the state folder
    // or a link.
    setup::check_output("out", &options.output, &args.target, false)?;
    setup::check_output("errors", &options.errors, &args.target, false)?;
    let listed = args
        .accounts
        .as_deref()
        .map(read_accounts_file)
        .transpose()?;
    let client = setup::client(&plan)?;
    // Translate needs only each pair's v3 API key.
    let source = args.target.secret_source();
    let pairs: Vec<TranslatePair> = setup::app_clients(&graph, &client, &source, |p| {
        args.pair.is_empty() || args.pair.contains(&p.name)
    })?
    .into_iter()
    .map(|(index, app)| TranslatePair {
        name: graph.pairs()[index].name.clone(),
        app,
    })
    .collect();
    // Translate's checkpoints describe a file on this machine: they stay in a local state
    // folder whatever the plan's state (see state/journal/translate.rs).
    let state_dir = args.target.local_state_dir();
    setup::create_state(&crate::state::StateLocation::Folder(state_dir.clone()))?;
    let journal = Arc::new(FolderJournal::open(&state_dir)?);
    let _lock = lock_output(&state_dir, &options.output)?;
    let reporter: Arc<dyn Reporter> = match output {
        Output::Json => Arc::new(JsonLines::new()),
        Output::Human if super::quiet() => Arc::new(QuietReporter),
        Output::Human if std::io::stderr().is_terminal() => Arc::new(TranslateBar::new()),
        Output::Human => Arc::new(Lines::new()),
    };
    let summary =
        super::runtime()?.block_on(translate(pairs, listed, journal, &options, reporter))?;
    if output == Output::Human {
        print_summary(&summary);
    }
    Ok(Finished::clean_if(summary.complete()))
}

/// The run's options from the flags; `--errors` and `--out` naming one file is a usage error.
fn options(args: &Args) -> Result<TranslateOptions, CommandError> {
    let output = absolute(&args.out);
    let errors = absolute(
        &args
            .errors
            .clone()
            .unwrap_or_else(|| default_errors_path(&args.out)),
    );
    if errors == output {
        return Err(CommandError::SameFile {
            first: "errors",
            second: "out",
            path: output.display().to_string(),
        });
    }
    Ok(TranslateOptions {
        resource_types: resource_types(&args.resource_types),
        since: args.since,
        errors,
        output,
        format: match args.format {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::Jsonl,
        },
        concurrency: usize::from(args.concurrency),
        restart: args.restart,
    })
}

/// One translate per output file at a time: an exclusive lock on a file of the state folder
/// named after the output, released by the OS however the process ends.
fn lock_output(state_dir: &Path, out: &Path) -> Result<std::fs::File, CliError> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(out.display().to_string().as_bytes());
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let path = state_dir.join(format!("translate-{name}.lock"));
    let io = |what: &'static str| {
        let path = path.display().to_string();
        move |source| TranslateError::Io { path, what, source }
    };
    // Private (0600) whatever the umask, like every file of the state folder.
    let file = crate::state::private::open(
        &path,
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true),
    )
    .map_err(io("create the lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(CommandError::TranslateLocked {
            out: out.display().to_string(),
        }
        .into()),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock")(e).into()),
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
    let failed = s.failures.accounts;
    if failed == 0 {
        outln!("\nNo account failed.");
    } else {
        outln!(
            "\n{} could not be translated ({} refused by Nylas, {} to retry), listed in {}:",
            plural(failed as usize, "account"),
            s.refused(),
            failed - s.refused(),
            s.errors_file.display()
        );
        for e in &s.sample {
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
        if failed > s.sample.len() as u64 {
            outln!("  … and {} more", failed - s.sample.len() as u64);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;
    use miette::Diagnostic;

    fn code(err: &CliError) -> String {
        err.code().map(|c| c.to_string()).unwrap_or_default()
    }

    #[test]
    fn a_second_translate_of_one_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ids.csv");
        let _first = lock_output(dir.path(), &out).unwrap();
        // A second open of the lock file, as a second process makes it.
        let err = lock_output(dir.path(), &out).unwrap_err();
        assert_eq!(code(&err), Code::TranslateLocked.as_str());
        assert!(err.to_string().contains("ids.csv"), "{err}");
        // Another output file is another lock.
        assert!(lock_output(dir.path(), &dir.path().join("other.csv")).is_ok());
        // A state folder that is not there: the lock file cannot be made.
        let err = lock_output(&dir.path().join("absent"), &out).unwrap_err();
        assert_eq!(code(&err), Code::TranslateIo.as_str());
        assert!(err.help().is_some());
    }
}
