//! `nylas-migrate verify PLAN`: per pair, a checklist with evidence; exit 0 only when every
//! item passes.

use super::output::outln;
use std::sync::Arc;

use super::setup::{self, report};
use super::{EXIT_FAILURE, EXIT_OK, Output};
use crate::report::{Verification, verify};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// Only this pair (repeatable).
    #[arg(long, value_name = "NAME")]
    pub pair: Vec<String>,
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
    let client = match setup::client(&plan) {
        Ok(c) => c,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    // Verify reads with each pair's v3 API key; no other secret is needed.
    let source = args.target.secret_source();
    let apps = match setup::app_clients(&graph, &client, &source, |p| {
        args.pair.is_empty() || args.pair.contains(&p.name)
    }) {
        Ok(apps) => apps,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let state = match args.target.state(&plan) {
        Ok(state) => state,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let journal = match setup::existing_journal(&state, &plan) {
        Ok(j) => j.map(Arc::new),
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let result = super::runtime().block_on(verify(&graph, &apps, journal.as_deref()));
    let verification = match result {
        Ok(v) => v,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    match output {
        Output::Json => outln!(
            "{}",
            serde_json::json!({"v": 1, "event": "verify", "verify": verification})
        ),
        Output::Human => print_human(&verification),
    }
    if verification.passed {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
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
                if item.passed { "ok  " } else { "FAIL" },
                item.check.as_str(),
                subject,
                shown(&item.evidence)
            );
        }
    }
    let items: usize = v.pairs.iter().map(|p| p.items.len()).sum();
    let failures: Vec<_> = v.failures().collect();
    if failures.is_empty() {
        outln!(
            "\nVerified: all {items} items of {} pairs pass.",
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
