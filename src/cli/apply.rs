//! `nylas-migrate apply PLAN`: converge the live state on the plan.

use super::output::{out, outln};
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::setup::{self, report};
use super::{EXIT_FAILURE, EXIT_OK, Output};
use crate::engine::journal::StepStatus;
use crate::engine::{
    ApplyOptions, ApplySummary, BarReporter, Context, JsonReporter, Outcome, PlainReporter,
    QuietReporter, Reporter, StateLock, apply, preview, unrecorded_history,
};
use crate::untrusted::esc;

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
    let state = match args.target.state(&plan) {
        Ok(state) => state,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let plan_name = plan.name.clone();
    let source = args.target.secret_source();
    let options = ApplyOptions {
        concurrency: usize::from(args.concurrency),
        fail_fast: args.fail_fast,
        max_poll: Duration::from_secs(5),
    };
    super::runtime().block_on(async move {
        if let Some(dir) = state.folder()
            && let Err(e) = crate::engine::private::create_dir(dir)
        {
            report(miette::miette!(
                "cannot create state folder {}: {e}",
                dir.display()
            ));
            return EXIT_FAILURE;
        }
        let _lock = match StateLock::acquire_at(&state, &plan_name) {
            Ok(lock) => lock,
            Err(e) => {
                report(e);
                return EXIT_FAILURE;
            }
        };
        // Whether pairs this state has no record of already have a past on their
        // applications: asked before the journal is created, then said plainly.
        let notes = match Context::new(graph.clone(), source.clone(), &client, &state, false) {
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
            let message = note.message(&state, adopt);
            match output {
                Output::Json => outln!(
                    "{}",
                    json!({"v": 1, "event": "notice", "pair": note.pair, "message": message})
                ),
                Output::Human => eprintln!("note: {}", esc(&message)),
            }
        }
        let ctx = match Context::new(graph, source, &client, &state, true) {
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
                        outln!("Nothing to do: the live state matches the plan.");
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
            Output::Human if super::progress_bars() => {
                Arc::new(BarReporter::new(ctx.graph.len() as u64))
            }
            Output::Human => Arc::new(PlainReporter::new()),
        };
        let tally = Arc::new(Tally::new(reporter));
        let run = apply(ctx.clone(), &options, tally.clone());
        let stop = interrupted();
        tokio::select! {
            result = run => match result {
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
            },
            // The walk is dropped here: its step tasks stop at their next await, as a killed
            // run would, and the journal's intents let the next run resume them.
            signal = stop => {
                let plan_arg = args.target.plan.display().to_string();
                print_interrupted(&ctx, &tally, signal, output, &plan_arg);
                signal.exit_code()
            }
        }
    })
}

/// The signal that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (a CI job cancelled, a container stopped).
    Terminate,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "Ctrl-C",
            Stop::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as a shell reports a process the signal ended.
    fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM. Listening replaces their default action (ending the process
/// at once, silently) for the rest of the run.
async fn interrupted() -> Stop {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => Stop::Interrupt,
                _ = term.recv() => Stop::Terminate,
            },
            // Without a handler the signals keep their default action: the wait never ends.
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Stop::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}

/// A reporter that passes everything on and remembers what finished, what is in progress and
/// each wave's last known job, for what an interrupted run says.
struct Tally {
    inner: Arc<dyn Reporter>,
    seen: std::sync::Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    started: std::collections::HashSet<String>,
    finished: Vec<(String, &'static str)>,
    jobs: std::collections::HashMap<String, (String, u64)>,
}

impl Tally {
    fn new(inner: Arc<dyn Reporter>) -> Tally {
        Tally {
            inner,
            seen: Default::default(),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reporter for Tally {
    fn step_started(&self, step: &crate::graph::Step) {
        self.seen().started.insert(step.id.to_string());
        self.inner.step_started(step);
    }

    fn step_finished(&self, step: &crate::graph::Step, outcome: &Outcome) {
        self.seen()
            .finished
            .push((step.id.to_string(), outcome.label()));
        self.inner.step_finished(step, outcome);
    }

    fn job_progress(&self, step: &crate::graph::Step, job: &crate::api::MigrationJob) {
        self.seen().jobs.insert(
            step.id.to_string(),
            (job.job_id.clone(), job.percent_done()),
        );
        self.inner.job_progress(step, job);
    }

    fn notice(&self, message: &str) {
        self.inner.notice(message);
    }
}

/// What an interrupted run says: what finished, that started waves go on at Nylas, and that
/// `apply` again resumes. The journal's run is closed as `interrupted`.
fn print_interrupted(ctx: &Context, tally: &Tally, stop: Stop, output: Output, plan: &str) {
    let seen = tally.seen();
    let finished = seen.finished.len();
    let count = |label: &str| seen.finished.iter().filter(|(_, l)| *l == label).count();
    let in_progress = seen
        .started
        .iter()
        .filter(|s| !seen.finished.iter().any(|(f, _)| f == *s))
        .count();
    // Waves whose job may exist at Nylas: running per the journal, or whose request was sent
    // (an intent) without a known outcome.
    let mut waves: Vec<(String, Option<(String, u64)>)> = Vec::new();
    if let Some(journal) = &ctx.journal {
        for step in ctx.graph.steps() {
            if !matches!(step.kind, crate::graph::StepKind::Batch(_)) {
                continue;
            }
            let open = journal
                .step(&step.id)
                .ok()
                .flatten()
                .is_some_and(|s| matches!(s.status, StepStatus::Running | StepStatus::Intent));
            if open {
                waves.push((
                    step.id.to_string(),
                    seen.jobs.get(step.id.as_str()).cloned(),
                ));
            }
        }
        if let Ok(runs) = journal.runs()
            && let Some(run) = runs.iter().rev().find(|r| r.finished_at.is_none())
        {
            let _ = journal.finish_run(run.id, crate::engine::journal::RunOutcome::Interrupted);
        }
    }
    let total = ctx.graph.len();
    if output == Output::Json {
        let waves: Vec<serde_json::Value> = waves
            .iter()
            .map(|(step, job)| {
                json!({
                    "step": step,
                    "job_id": job.as_ref().map(|(id, _)| id),
                    "percent": job.as_ref().map(|(_, p)| p),
                })
            })
            .collect();
        outln!(
            "{}",
            json!({
                "v": 1,
                "event": "interrupted",
                "signal": stop.name(),
                "steps": total,
                "finished": finished,
                "changed": count("changed"),
                "unchanged": count("unchanged"),
                "failed": count("failed"),
                "skipped": count("skipped"),
                "in_progress": in_progress,
                "running_waves": waves,
            })
        );
        return;
    }
    eprintln!(
        "\nInterrupted ({}): {finished} of {total} steps finished ({} changed, {} unchanged, {} failed, {} skipped); {in_progress} in progress were stopped.",
        stop.name(),
        count("changed"),
        count("unchanged"),
        count("failed"),
        count("skipped"),
    );
    if waves.is_empty() {
        eprintln!("No wave had started: nothing keeps running at Nylas.");
    } else {
        eprintln!(
            "Waves already started keep running at Nylas (stopping this run does not stop them):"
        );
        for (step, job) in &waves {
            match job {
                Some((id, percent)) => eprintln!("  {} (job {}, {percent}%)", esc(step), esc(id)),
                None => eprintln!(
                    "  {} (its request was sent; the next run looks for its job)",
                    esc(step)
                ),
            }
        }
    }
    eprintln!(
        "Run `nylas-migrate apply {}` again to resume: finished steps are not repeated, and running waves are followed, never started twice.",
        esc(plan)
    );
}

fn confirm() -> bool {
    out!("\nApply these changes? Only `yes` is accepted: ");
    super::output::flush_stdout();
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
        outln!(
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
    outln!("\nSummary of run {}", summary.run_id);
    outln!("  {:<10} {:>7}", "outcome", "steps");
    for (label, n) in counts {
        outln!("  {label:<10} {n:>7}");
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
        outln!();
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
                outln!("  {label} {}: {}", esc(steps[0]), esc(&message));
            } else {
                outln!(
                    "  {label} {} steps ({} …): {}",
                    steps.len(),
                    esc(steps[0]),
                    esc(&message)
                );
            }
        }
    }
    for notice in &summary.notices {
        outln!("  note {}", esc(notice));
    }
    let settled = summary
        .results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Settled(_)))
        .count();
    let other_failures = summary.count("failed") - settled;
    if summary.all_done() {
        outln!("\nDone: the live state matches the plan.");
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
    outln!("\nIncomplete: {}", why.join(" Also: "));
}
