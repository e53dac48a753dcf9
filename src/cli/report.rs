//! `nylas-migrate report PLAN`: accounts migrated, placeholder grants and failures, as CSV or
//! JSON, for every pair at once.

use super::output::out;
use std::path::PathBuf;

use clap::ValueEnum;

use super::setup;
use super::{CliError, Finished};
use crate::engine::Context;
use crate::report::{AccountOutcome, accounts_report, outcomes};

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
    if let Some(path) = &args.out {
        // Before any request: a refused output costs nothing.
        setup::check_output("out", path, &args.target, false)?;
    }
    let pairs = args.pairs.checked(&graph)?;
    setup::print_partial(&graph, &pairs, super::Output::Human, false);
    let client = setup::client(&plan)?;
    let state = args.target.state(&plan)?;
    let journal = setup::existing_journal(&state, &plan)?;
    let source = args.target.secret_source();
    let accounts = super::runtime()?.block_on(async {
        let mut ctx = Context::new(graph, source, &client, &state, false)?;
        ctx.set_options(crate::engine::RunOptions {
            pairs,
            ..Default::default()
        });
        accounts_report(&ctx, journal.as_ref()).await
    })?;
    let (text, rows) = if args.outcome.is_empty() {
        (render(&accounts, args.format), accounts.accounts.len())
    } else {
        let rows = outcomes::rows_with_outcomes(&accounts, &args.outcome);
        let text = match args.format {
            Format::Csv => outcomes::to_csv(&rows),
            Format::Json => {
                let list: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "email": r.email, "provider": r.provider, "pair": r.pair,
                            "account_id": r.account_id, "outcome": r.outcome,
                            "reason": outcomes::reason(r),
                        })
                    })
                    .collect();
                let mut t = serde_json::to_string_pretty(
                    &serde_json::json!({"plan": accounts.plan, "accounts": list}),
                )
                .unwrap_or_default();
                t.push('\n');
                t
            }
        };
        (text, rows.len())
    };
    // serde_json leaves DEL, the C1 controls and bidirectional controls raw inside strings
    // (emails and reasons come from the API): escaped, the document means the same.
    let text = match args.format {
        Format::Json => crate::untrusted::json_safe(text),
        Format::Csv => text,
    };
    match &args.out {
        Some(path) => {
            // Private (0600): the rows hold users' emails. Whole or not at all.
            setup::write_output(path, text.as_bytes())?;
            errln!("wrote {rows} rows to {}", path.display());
            let t = accounts.totals;
            if t.selected_by_jobs > 0 {
                errln!(
                    "batch jobs selected {} accounts: {} failed (counted per job; the contract lists no failed account of a batch job), the others are rows with a grant",
                    t.selected_by_jobs,
                    t.failed_in_jobs
                );
            }
        }
        None => out!("{text}"),
    }
    Ok(Finished::Clean)
}

fn render(accounts: &crate::report::AccountsReport, format: Format) -> String {
    match format {
        Format::Csv => accounts.to_csv(),
        Format::Json => {
            let mut t = serde_json::to_string_pretty(&accounts).unwrap_or_default();
            t.push('\n');
            t
        }
    }
}
