//! `nylas-migrate apply PLAN`: converge the live state on the plan.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::setup::{self, report};
use super::{EXIT_FAILURE, EXIT_OK, Output};
use crate::engine::{
    ApplyOptions, ApplySummary, BarReporter, Context, JsonReporter, Outcome, PlainReporter,
    QuietReporter, Reporter, SecretSource, StateLock, apply, preview, unrecorded_history,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// Steps in flight at once per v3 application (each request also waits for the
    /// application's rate limit).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Stop starting new steps after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Apply without showing the preview and asking first (required when stdin is not a
    /// terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub rerun: setup::RerunArgs,
}

pub fn run(args: Args, output: Output) -> u8 {
    let Some((plan, graph)) = setup::load(&args.target.plan) else {
        return EXIT_FAILURE;
    };
    let interactive = std::io::stdin().is_terminal() && output == Output::Human;
    if !args.yes && !interactive {
        eprintln!(
            "error: apply changes production state and needs confirmation; stdin is not a terminal, so pass --yes (run `nylas-migrate plan` first to review)"
        );
        return EXIT_FAILURE;
    }
    let client = match setup::client(&plan) {
        Ok(c) => c,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let run_options = match args.rerun.options(&graph) {
        Ok(o) => o,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let adopt = run_options.adopt_existing_jobs;
    let state_dir = args.target.state_dir();
    let source = SecretSource::new(args.target.plan_dir());
    let options = ApplyOptions {
        concurrency: usize::from(args.concurrency),
        fail_fast: args.fail_fast,
        max_poll: Duration::from_secs(5),
    };
    super::runtime().block_on(async move {
        if let Err(e) = std::fs::create_dir_all(&state_dir) {
            report(miette::miette!(
                "cannot create state folder {}: {e}",
                state_dir.display()
            ));
            return EXIT_FAILURE;
        }
        let _lock = match StateLock::acquire(&state_dir) {
            Ok(lock) => lock,
            Err(e) => {
                report(e);
                return EXIT_FAILURE;
            }
        };
        // Whether pairs this state has no record of already have a past on their
        // applications: asked before the journal is created, then said plainly.
        let notes = match Context::new(graph.clone(), source.clone(), &client, &state_dir, false) {
            Ok(probe) => unrecorded_history(&probe).await,
            Err(e) => Err(e),
        };
        let notes = match notes {
            Ok(notes) => notes,
            Err(e) => {
                report(e);
                return EXIT_FAILURE;
            }
        };
        for note in &notes {
            let message = note.message(&state_dir, adopt);
            match output {
                Output::Json => println!(
                    "{}",
                    json!({"v": 1, "event": "notice", "pair": note.pair, "message": message})
                ),
                Output::Human => eprintln!("note: {message}"),
            }
        }
        let ctx = match Context::new(graph, source, &client, &state_dir, true) {
            Ok(mut ctx) => {
                ctx.options = run_options;
                Arc::new(ctx)
            }
            Err(e) => {
                report(e);
                return EXIT_FAILURE;
            }
        };
        if !args.yes {
            match preview(&ctx).await {
                Ok(p) => {
                    super::plan::print_preview(&p);
                    if p.has_conflicts() {
                        eprintln!("note: pairs in conflict make no write; the other pairs go on");
                    }
                    if !p.has_changes() {
                        println!("Nothing to do: the live state matches the plan.");
                        return EXIT_OK;
                    }
                }
                Err(e) => {
                    report(e);
                    return EXIT_FAILURE;
                }
            }
            if !confirm() {
                eprintln!("Cancelled: nothing was applied.");
                return EXIT_FAILURE;
            }
        }
        let reporter: Arc<dyn Reporter> = match output {
            Output::Json => Arc::new(JsonReporter),
            Output::Human if super::quiet() => Arc::new(QuietReporter),
            Output::Human if std::io::stderr().is_terminal() => {
                Arc::new(BarReporter::new(ctx.graph.len() as u64))
            }
            Output::Human => Arc::new(PlainReporter::new()),
        };
        match apply(ctx, &options, reporter).await {
            Ok(summary) => {
                print_summary(&summary, output);
                if summary.all_done() {
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
    })
}

fn confirm() -> bool {
    print!("\nApply these changes? Only `yes` is accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    answer.trim() == "yes"
}

/// The end-of-run table: counts, then every failure and skip with its reason.
pub fn print_summary(summary: &ApplySummary, output: Output) {
    let counts = [
        ("changed", summary.count("changed")),
        ("unchanged", summary.count("unchanged")),
        ("failed", summary.count("failed")),
        ("skipped", summary.count("skipped")),
    ];
    if output == Output::Json {
        println!(
            "{}",
            json!({
                "v": 1,
                "event": "summary",
                "run_id": summary.run_id,
                "changed": counts[0].1,
                "unchanged": counts[1].1,
                "failed": counts[2].1,
                "skipped": counts[3].1,
                "done": summary.all_done(),
            })
        );
        return;
    }
    println!("\nSummary of run {}", summary.run_id);
    println!("  {:<10} {:>7}", "outcome", "steps");
    for (label, n) in counts {
        println!("  {label:<10} {n:>7}");
    }
    let problems: Vec<_> = summary
        .results
        .iter()
        .filter(|(_, o)| {
            matches!(
                o,
                Outcome::Failed(_) | Outcome::Settled(_) | Outcome::Skipped(_)
            )
        })
        .collect();
    if !problems.is_empty() {
        println!();
        // Many steps skipped for one cause are one line, not thousands.
        let mut by_cause: Vec<(String, &str, Vec<&str>)> = Vec::new();
        for (step, outcome) in problems {
            let key = outcome.message().to_owned();
            match by_cause
                .iter_mut()
                .find(|(m, l, _)| *m == key && *l == outcome.label())
            {
                Some((_, _, steps)) => steps.push(step.id.as_str()),
                None => by_cause.push((key, outcome.label(), vec![step.id.as_str()])),
            }
        }
        for (message, label, steps) in by_cause {
            if steps.len() == 1 {
                println!("  {label} {}: {message}", steps[0]);
            } else {
                println!(
                    "  {label} {} steps ({} …): {message}",
                    steps.len(),
                    steps[0]
                );
            }
        }
    }
    for notice in &summary.notices {
        println!("  note {notice}");
    }
    let settled = summary
        .results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Settled(_)))
        .count();
    let other_failures = summary.count("failed") - settled;
    if summary.all_done() {
        println!("\nDone: the live state matches the plan.");
        return;
    }
    let mut why = Vec::new();
    if settled > 0 {
        why.push(format!(
            "{settled} step{} ended in a failure that is recorded and not repeated on its own (a failed wave, a refused account): retry with a wave of mode only_failed, --rerun-wave or --rerun-clone, or change the plan; waves a gate holds wait for it.",
            if settled == 1 { "" } else { "s" }
        ));
    }
    if other_failures > 0 || settled == 0 {
        why.push(
            "fix what failed and run apply again; finished steps are not repeated.".to_owned(),
        );
    }
    println!("\nIncomplete: {}", why.join(" Also: "));
}
