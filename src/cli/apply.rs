//! `nylas-migrate apply PLAN`: converge the live state on the plan.

use super::output::{out, outln};
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;
use std::time::Duration;

use super::render::bars::StepBars;
use super::render::human::Lines;
use super::render::json::{self, JsonLines};
use super::setup;
use super::{CliError, CommandError, Finished, Output, Signal};
use crate::engine::{
    ApplyOptions, ApplySummary, Context, Outcome, OutcomeKind, QuietReporter, Reporter, apply,
    preview, unrecorded_history,
};
use crate::events::{Event, Interrupted, Notice, RunningWave, Summary};
use crate::run::{Opening, Run};
use crate::state::journal::StepStatus;
use crate::untrusted::esc;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file, or a saved plan written by `plan PLAN --out FILE` (told apart by its
    /// content): a saved plan is applied exactly, without asking, or refused before any write
    /// if its plan file or any step's action changed since.
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
    /// terminal; a saved plan is never asked about: it was reviewed).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long to follow one wave's jobs (such as 90s, 30m, 2h, 1h30m; 0s: look once). Past
    /// it the jobs keep running at Nylas, the run says so and exits 3, and the next apply
    /// follows them without starting anything twice.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub wait: Duration,
    #[command(flatten)]
    pub rerun: setup::RerunArgs,
    #[command(flatten)]
    pub pairs: setup::PairArgs,
}

pub fn run(args: Args, output: Output) -> Result<Finished, CliError> {
    if let Some(saved) = read_saved(&args.target.plan)? {
        return run_saved(&args, saved, output);
    }
    let (plan, graph) = setup::load(&args.target.plan)?;
    let interactive = std::io::stdin().is_terminal() && output == Output::Human;
    if !args.yes && !interactive {
        return Err(CommandError::ConfirmationRequired.into());
    }
    let mut run_options = args.rerun.options(&graph)?;
    run_options.pairs = args.pairs.checked(&graph)?;
    run_options.plan_file = Some(args.target.plan.display().to_string());
    let target = Target {
        plan: args.target.plan.clone(),
        state: args.target.state.clone(),
    };
    converge(
        &args,
        plan,
        graph,
        target,
        run_options,
        Ask::Unless(args.yes),
        output,
    )
}

/// The plan file and `--state` of a run.
struct Target {
    plan: std::path::PathBuf,
    state: Option<std::path::PathBuf>,
}

/// Whether to show the preview and ask, or compare it with a saved plan.
enum Ask {
    /// Ask unless `--yes`.
    Unless(bool),
    /// Never ask: refuse if the preview's actions differ from the saved plan's (its path).
    Saved(Box<crate::saved::SavedPlan>, String),
}

/// Converges the live state on the plan, under the state's lock.
fn converge(
    args: &Args,
    plan: crate::plan::Plan,
    graph: crate::graph::StepGraph,
    target: Target,
    run_options: crate::engine::RunOptions,
    ask: Ask,
    output: Output,
) -> Result<Finished, CliError> {
    let plan_args = setup::PlanArgs {
        plan: target.plan,
        state: target.state,
        trust: args.target.trust.clone(),
    };
    let state = plan_args.state(&plan)?;
    let opening = setup::opening(&plan_args, &plan, graph, state)?.with_options(run_options);
    setup::create_state(opening.state())?;
    setup::print_partial(opening.graph(), &opening.options().pairs, output, false);
    super::runtime()?.block_on(async move {
        let lock = opening.lock()?;
        print_notes(&opening, output).await?;
        // Every journal write of this run proves, as it is made, that the lock is still ours.
        let Run { context, lock } = opening.write(lock)?;
        let ctx = Arc::new(context);
        match ask {
            Ask::Unless(true) => {}
            Ask::Unless(false) => {
                if let Some(finished) = confirmed(&ctx).await? {
                    return Ok(finished);
                }
            }
            Ask::Saved(saved, path) => {
                if let Some(finished) = matches_saved(&ctx, &saved, &path, output).await? {
                    return Ok(finished);
                }
            }
        }
        let plan_arg = plan_args.plan.display().to_string();
        let result = execute(ctx, args, output, &plan_arg).await;
        if let Err(CliError::Engine(crate::engine::EngineError::LockLost { .. })) = &result {
            // Every step has ended: none of this run's writes is in flight any more. Saying so
            // spares the runner that holds the lock now the wait for them.
            lock.settle_after_loss();
        }
        result
    })
}

/// The saved plan at `path`, if the file is one (JSON with the saved-plan marker); `None` for a
/// YAML plan (or a file that cannot be read: the plan loader says why).
fn read_saved(path: &std::path::Path) -> Result<Option<crate::saved::SavedPlan>, CliError> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None);
    };
    match crate::saved::detect(&bytes) {
        None => Ok(None),
        Some(Ok(saved)) => Ok(Some(saved)),
        Some(Err(why)) => Err(CommandError::SavedPlanInvalid {
            path: path.display().to_string(),
            why,
        }
        .into()),
    }
}

/// `apply FILE` of a saved plan: its plan file unchanged (by digest), its targets and rerun
/// flags, no question; the actions are compared once the state is locked.
fn run_saved(
    args: &Args,
    saved: crate::saved::SavedPlan,
    output: Output,
) -> Result<Finished, CliError> {
    let path = args.target.plan.display().to_string();
    let invalid = |why: String| CommandError::SavedPlanInvalid {
        path: path.clone(),
        why,
    };
    let own_flags = !args.pairs.pairs.is_empty()
        || !args.rerun.rerun_wave.is_empty()
        || !args.rerun.rerun_clone.is_empty()
        || !args.rerun.rerun_link.is_empty()
        || args.rerun.adopt_existing_jobs;
    let refused = |refusal: crate::saved::Refusal| -> CliError {
        match refusal {
            crate::saved::Refusal::Invalid(why) => invalid(why).into(),
            crate::saved::Refusal::Changed(why) => CommandError::SavedPlanChanged {
                path: path.clone(),
                plan: saved.plan.path.clone(),
                why,
            }
            .into(),
            crate::saved::Refusal::NoSuchPair { pair, known } => {
                CommandError::NoSuchPair { value: pair, known }.into()
            }
        }
    };
    let bytes = saved.check_applicable(own_flags).map_err(&refused)?;
    let plan_path = std::path::PathBuf::from(&saved.plan.path);
    let (plan, graph, loaded) = setup::load_with_bytes(&plan_path)?;
    crate::saved::SavedPlan::same_bytes(&bytes, &loaded).map_err(&refused)?;
    let run_options = saved.run_options(&graph).map_err(&refused)?;
    let target = Target {
        plan: plan_path,
        state: args.target.state.clone(),
    };
    converge(
        args,
        plan,
        graph,
        target,
        run_options,
        Ask::Saved(Box::new(saved), path),
        output,
    )
}

/// Observes again and compares each step's action with the saved plan's. `Ok(Some(_))`:
/// nothing to do, said so; any step whose action differs is [`CommandError::SavedPlanStale`],
/// before any write.
async fn matches_saved(
    ctx: &Context,
    saved: &crate::saved::SavedPlan,
    path: &str,
    output: Output,
) -> Result<Option<Finished>, CliError> {
    let now = preview(ctx).await?;
    let changed = saved.stale(&now);
    if !changed.is_empty() {
        return Err(CommandError::SavedPlanStale {
            path: path.to_owned(),
            observed_at: saved.observed_at.clone(),
            changed: changed
                .iter()
                .map(|c| esc(&c.to_string()).to_string())
                .collect(),
        }
        .into());
    }
    if output == Output::Human {
        errln!(
            "note: applying saved plan {} (observed {}): every step's action is as saved",
            esc(path),
            esc(&saved.observed_at)
        );
    }
    if !now.has_changes() {
        return Ok(Some(nothing_to_do(&now, output)));
    }
    Ok(None)
}

/// A preview with no change this run can make: the live state matches the plan, or the
/// targeted pairs wait on pairs the run does not target (then it says so, and exits 1).
fn nothing_to_do(preview: &crate::engine::Preview, output: Output) -> Finished {
    match super::plan::waiting_line(preview) {
        None => {
            if output == Output::Human {
                outln!("Nothing to do: the live state matches the plan.");
            }
            Finished::Clean
        }
        Some(line) => {
            match output {
                Output::Human => outln!("Nothing this run can do: {line}"),
                Output::Json => {
                    json::print(&Event::notice(format!("nothing this run can do: {line}")))
                }
            }
            Finished::WithFailures
        }
    }
}

/// Whether pairs this state has no record of already have a past on their applications:
/// asked before the journal is created, then said plainly.
async fn print_notes(opening: &Opening, output: Output) -> Result<(), CliError> {
    let adopt = opening.options().adopt_existing_jobs;
    let probe = opening.read()?;
    for note in unrecorded_history(&probe).await? {
        let message = note.message(opening.state(), adopt);
        match output {
            Output::Json => json::print(&Event::Notice(Notice {
                pair: Some(note.pair.clone()),
                message,
            })),
            Output::Human => errln!("note: {}", esc(&message)),
        }
    }
    Ok(())
}

/// Shows the preview and asks. `Ok(Some(_))`: nothing to do, said so; an answer other than
/// `yes` is [`CommandError::Cancelled`].
async fn confirmed(ctx: &Context) -> Result<Option<Finished>, CliError> {
    let p = preview(ctx).await?;
    super::plan::print_preview(&p);
    if p.has_conflicts() {
        errln!("note: pairs in conflict make no write; the other pairs go on");
    }
    if !p.has_changes() {
        return Ok(Some(nothing_to_do(&p, Output::Human)));
    }
    if confirm() {
        Ok(None)
    } else {
        Err(CommandError::Cancelled.into())
    }
}

/// Walks the graph until it ends or a signal stops it, then says how it went.
async fn execute(
    ctx: Arc<Context>,
    args: &Args,
    output: Output,
    plan_arg: &str,
) -> Result<Finished, CliError> {
    let options = ApplyOptions {
        concurrency: usize::from(args.concurrency),
        fail_fast: args.fail_fast,
        max_poll: Duration::from_secs(5),
        max_follow: args.wait,
    };
    let reporter = step_reporter(output, ctx.graph().len() as u64);
    let tally = Arc::new(Tally::new(reporter));
    let run = apply(ctx.clone(), &options, tally.clone());
    tokio::select! {
        result = run => {
            let summary = result?;
            print_summary(&summary, output);
            if ctx.options().partial() && output == Output::Human && summary.all_done() {
                outln!(
                    "Partial run (--pair {}): only these pairs were read and written.",
                    esc(&ctx.options().pairs.join(", --pair "))
                );
            }
            Ok(finished(&summary))
        }
        // The walk is dropped here: its step tasks stop at their next await, as a killed
        // run would, and the journal's intents let the next run resume them.
        signal = interrupted() => {
            print_interrupted(&ctx, &tally, signal, output, plan_arg);
            Ok(Finished::Stopped(signal))
        }
    }
}

/// How a run that ended came out: waves left running at the `--wait` bound are exit 3 when
/// nothing else is wrong; any failure is 1.
fn finished(summary: &ApplySummary) -> Finished {
    if summary.only_running_left() {
        return Finished::JobsRunning;
    }
    Finished::clean_if(summary.all_done())
}

/// `90s`, `30m`, `2h`, `1h30m`, `0s`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("`{text}` is not a duration: write it like 90s, 30m, 2h or 1h30m (at most 30 days)")
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return (seconds <= 30 * 86_400)
            .then(|| Duration::from_secs(seconds))
            .ok_or_else(bad);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || total > 30 * 86_400 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// Resolves on Ctrl-C or SIGTERM. Listening replaces their default action (ending the process
/// at once, silently) for the rest of the run.
async fn interrupted() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            },
            // Without a handler the signals keep their default action: the wait never ends.
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}

/// Where a run's events go: JSON lines, nothing (`-q`), bars on a terminal, plain lines
/// otherwise.
pub(super) fn step_reporter(output: Output, total_steps: u64) -> Arc<dyn Reporter> {
    match output {
        Output::Json => Arc::new(JsonLines::new()),
        Output::Human if super::quiet() => Arc::new(QuietReporter),
        Output::Human if super::progress_bars() => Arc::new(StepBars::new(total_steps)),
        Output::Human => Arc::new(Lines::new()),
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
    finished: Vec<(String, OutcomeKind)>,
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
    fn report(&self, event: &Event) {
        match event {
            Event::StepStarted(s) => {
                self.seen().started.insert(s.step.to_string());
            }
            Event::StepFinished(e) | Event::StepSkipped(e) => {
                self.seen().finished.push((e.step.to_string(), e.outcome));
            }
            Event::JobProgress(job) => {
                self.seen()
                    .jobs
                    .insert(job.step.to_string(), (job.job_id.clone(), job.percent));
            }
            _ => {}
        }
        self.inner.report(event);
    }
}

/// What an interrupted run says: what finished, that started waves go on at Nylas, and that
/// `apply` again resumes. The journal's run is closed as `interrupted`.
fn print_interrupted(ctx: &Context, tally: &Tally, stop: Signal, output: Output, plan: &str) {
    let seen = tally.seen();
    let finished = seen.finished.len();
    let count = |kind: OutcomeKind| seen.finished.iter().filter(|(_, k)| *k == kind).count();
    let in_progress = seen
        .started
        .iter()
        .filter(|s| !seen.finished.iter().any(|(f, _)| f == *s))
        .count();
    // Waves whose job may exist at Nylas: running per the journal, or whose request was sent
    // (an intent) without a known outcome.
    let mut waves: Vec<(crate::graph::StepId, Option<(String, u64)>)> = Vec::new();
    if let Some(journal) = ctx.journal() {
        for step in ctx.graph().steps() {
            if !matches!(step.kind, crate::graph::StepKind::Batch(_)) {
                continue;
            }
            let open = journal
                .step(&step.id)
                .ok()
                .flatten()
                .is_some_and(|s| matches!(s.status, StepStatus::Running | StepStatus::Intent));
            if open {
                waves.push((step.id.clone(), seen.jobs.get(step.id.as_str()).cloned()));
            }
        }
        if let Ok(runs) = journal.runs()
            && let Some(run) = runs.iter().rev().find(|r| r.finished_at.is_none())
        {
            let _ = journal.finish_run(run.id, crate::state::journal::RunOutcome::Interrupted);
        }
    }
    let total = ctx.graph().len();
    if output == Output::Json {
        let running_waves = waves
            .iter()
            .map(|(step, job)| RunningWave {
                step: step.clone(),
                job_id: job.as_ref().map(|(id, _)| id.clone()),
                percent: job.as_ref().map(|(_, p)| *p),
            })
            .collect();
        json::print(&Event::Interrupted(Interrupted {
            signal: stop,
            steps: total,
            finished,
            changed: count(OutcomeKind::Changed),
            unchanged: count(OutcomeKind::Unchanged),
            failed: count(OutcomeKind::Failed),
            skipped: count(OutcomeKind::Skipped),
            in_progress,
            running_waves,
        }));
        return;
    }
    errln!(
        "\nInterrupted ({}): {finished} of {total} steps finished ({} changed, {} unchanged, {} failed, {} skipped); {in_progress} in progress were stopped.",
        stop.name(),
        count(OutcomeKind::Changed),
        count(OutcomeKind::Unchanged),
        count(OutcomeKind::Failed),
        count(OutcomeKind::Skipped),
    );
    if waves.is_empty() {
        errln!("No wave had started: nothing keeps running at Nylas.");
    } else {
        errln!(
            "Waves already started keep running at Nylas (stopping this run does not stop them):"
        );
        for (step, job) in &waves {
            match job {
                Some((id, percent)) => {
                    errln!("  {} (job {}, {percent}%)", esc(step.as_str()), esc(id))
                }
                None => errln!(
                    "  {} (its request was sent; the next run looks for its job)",
                    esc(step.as_str())
                ),
            }
        }
    }
    errln!(
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
    let running = summary.running();
    if output == Output::Json {
        json::print(&Event::Summary(Summary {
            run_id: summary.run_id,
            changed: counts[0].1,
            unchanged: counts[1].1,
            failed: counts[2].1,
            skipped: counts[3].1,
            // Only when there are some.
            running: (running > 0).then_some(running),
            done: summary.all_done(),
        }));
        return;
    }
    outln!("\nSummary of run {}", summary.run_id);
    outln!("  {:<10} {:>7}", "outcome", "steps");
    for (label, n) in counts {
        outln!("  {label:<10} {n:>7}");
    }
    // Only when there are some: the usual table stays as it was.
    if running > 0 {
        outln!("  {:<10} {running:>7}", "running");
    }
    let problems: Vec<_> = summary
        .results
        .iter()
        .filter(|(_, o)| {
            matches!(
                o,
                Outcome::Failed(_)
                    | Outcome::Settled(_)
                    | Outcome::Skipped(_)
                    | Outcome::Running(_)
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
    if running > 0 {
        why.push(format!(
            "{running} wave{} still running at Nylas: this run stopped following {} at its --wait bound, and stopping does not stop a job. Run apply again to follow {}: nothing is started twice.",
            if running == 1 { " is" } else { "s are" },
            if running == 1 { "it" } else { "them" },
            if running == 1 { "it" } else { "them" },
        ));
    }
    if settled > 0 {
        why.push(format!(
            "{settled} step{} ended in a failure that is recorded and not repeated on its own (a failed wave, a refused account): retry with a wave of mode only_failed, --rerun-wave or --rerun-clone, or change the plan; waves a gate holds wait for it.",
            if settled == 1 { "" } else { "s" }
        ));
    }
    if other_failures > 0 || (settled == 0 && running == 0) {
        why.push(
            "fix what failed and run apply again; finished steps are not repeated.".to_owned(),
        );
    }
    outln!("\nIncomplete: {}", why.join(" Also: "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_durations_read_as_people_write_them() {
        for (text, seconds) in [
            ("0s", 0),
            ("90s", 90),
            ("30m", 1800),
            ("2h", 7200),
            ("1h30m", 5400),
            ("1d", 86_400),
            ("45", 45),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(seconds)),
                "{text}"
            );
        }
        for bad in [
            "",
            "soon",
            "h",
            "10x",
            "1h30",
            "-5s",
            "31d",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
