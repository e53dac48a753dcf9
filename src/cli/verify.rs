//! `nylas-migrate verify PLAN`: per pair, a checklist with evidence; exit 0 only when every
//! item passes.

use super::output::outln;
use std::sync::Arc;

use super::setup;
use super::{CliError, Finished, Output, OutputFlag};
use crate::report::{Verification, verify};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// Only this pair (repeatable).
    #[arg(long, value_name = "NAME")]
    pub pair: Vec<String>,
}

pub fn run(args: Args, flag: OutputFlag) -> Result<Finished, CliError> {
    let (plan, graph) = setup::load(&args.target.plan)?;
    setup::check_pairs(&graph, &args.pair)?;
    let client = setup::client(&plan)?;
    // Verify reads with each pair's v3 API key; no other secret is needed.
    let source = args.target.secret_source();
    let apps = setup::app_clients(&graph, &client, &source, |p| {
        args.pair.is_empty() || args.pair.contains(&p.name)
    })?;
    let journal = setup::existing_journal(&args.target.state(&plan)?, &plan)?.map(Arc::new);
    let verification = super::runtime()?.block_on(verify(&graph, &apps, journal.as_deref()))?;
    match flag.output() {
        _ if flag == OutputFlag::Markdown => {
            super::output::out!("{}", super::render::markdown::verify(&verification));
        }
        Output::Json => super::render::json::print(&crate::events::Event::Verify {
            verify: verification.clone(),
        }),
        Output::Human => print_human(&verification),
    }
    Ok(Finished::clean_if(verification.passed))
}

/// Text from the API and the journal with its control characters escaped.
fn shown(text: &str) -> String {
    // Text from the API and the journal: control and bidi characters escaped, as everywhere.
    crate::untrusted::esc(text).to_string()
}

fn print_human(v: &Verification) {
    outln!("verify {}", shown(&v.plan));
    for pair in &v.pairs {
        outln!(
            "\n{} ({}): {}",
            pair.pair,
            pair.region,
            if pair.passed { "PASS" } else { "FAIL" }
        );
        for item in &pair.items {
            let subject = if item.subject.is_empty() {
                String::new()
            } else {
                format!(" {}", shown(&item.subject))
            };
            outln!(
                "  {} {}{}: {}",
                match (item.passed, item.manual) {
                    (true, _) => "ok  ",
                    (false, true) => "todo",
                    (false, false) => "FAIL",
                },
                item.check.as_str(),
                subject,
                shown(&item.evidence)
            );
        }
    }
    let items: usize = v.pairs.iter().map(|p| p.items.len()).sum();
    let manual = v.todo();
    let failures: Vec<_> = v.failures().collect();
    if failures.is_empty() && manual == 0 {
        outln!(
            "\nVerified: all {items} items of {} pairs pass.",
            v.pairs.len()
        );
    } else if failures.is_empty() {
        outln!(
            "\nVerified: every check of {} pairs passes; {manual} of {items} items are steps for a person (todo), outside what this plan can do.",
            v.pairs.len()
        );
    } else {
        outln!(
            "\nNot verified: {} of {items} items failed:",
            failures.len()
        );
        for (pair, item) in failures {
            let subject = if item.subject.is_empty() {
                String::new()
            } else {
                format!(" {}", shown(&item.subject))
            };
            outln!("  {pair} {}{subject}", item.check.as_str());
        }
    }
}
