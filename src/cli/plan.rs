//! `nylas-migrate plan PLAN`: what `apply` would do, observed read-only.

use super::output::outln;

use super::layout;
use super::render::json;
use super::setup;
use super::{CliError, Finished, Output, OutputFlag};
use crate::engine::{
    Action, HistoryNote, Preview, PreviewStep, Unmanaged, Waits, preview, unrecorded_history,
};
use crate::events::{Event, Notice, PlanSeen, PlanStep, PlanSummary, UnmanagedFound};
use crate::graph::{StepGraph, StepKind};
use crate::report::StandingStatus;
use crate::state::journal::{StateLocation, StepStatus};
use crate::untrusted::esc;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// List the steps from the plan and the journal only: no network, no secrets.
    #[arg(long)]
    pub offline: bool,
    /// Exit 0 when there is nothing to do, 2 when changes are pending (and only then), 1 on
    /// an error, a conflict, or steps waiting on pairs the run does not target (`--pair`).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// What `apply` would do with the same flags.
    #[command(flatten)]
    pub rerun: setup::RerunArgs,
    #[command(flatten)]
    pub pairs: setup::PairArgs,
    /// Also write what the preview found to FILE (JSON, docs/saved-plan.schema.json), for
    /// `nylas-migrate apply FILE` to apply exactly that, or refuse if anything changed. Holds
    /// no secret.
    #[arg(long, value_name = "FILE", conflicts_with = "offline")]
    pub out: Option<std::path::PathBuf>,
}

pub fn run(args: Args, flag: OutputFlag) -> Result<Finished, CliError> {
    let output = flag.output();
    let markdown = flag == OutputFlag::Markdown;
    // The plan and the bytes it was loaded from, which a saved plan's digest covers.
    let (plan, graph, bytes) = setup::load_with_bytes(&args.target.plan)?;
    if let Some(out) = &args.out {
        // A saved plan may be replaced (that is what `plan --out` makes); the plan, the state
        // folder and a planted link may not.
        setup::check_output("out", out, &args.target, true)?;
    }
    let pairs = args.pairs.checked(&graph)?;
    let state = args.target.state(&plan)?;
    setup::check_state(&state)?;
    // Markdown is a document: the partial-run note goes to stderr.
    setup::print_partial(&graph, &pairs, output, !markdown);
    if args.offline {
        if output == Output::Json {
            super::manual_steps::print_json(&plan, &pairs);
        }
        let finished = offline(&graph, &plan, &state, flag, args.detailed_exitcode, &pairs)?;
        if output == Output::Human && !markdown {
            super::manual_steps::print_human(&plan, &pairs);
        }
        return Ok(finished);
    }
    let opening = setup::opening(&args.target, &plan, graph, state.clone())?;
    let mut options = args.rerun.options(opening.graph())?;
    options.pairs = pairs;
    options.plan_file = Some(args.target.plan.display().to_string());
    let opening = opening.with_options(options.clone());
    let observed = crate::state::journal::now();
    let (notes, preview) = super::runtime()?.block_on(async {
        let ctx = opening.read()?;
        let notes = unrecorded_history(&ctx).await?;
        Ok::<_, CliError>((notes, preview(&ctx).await?))
    })?;
    let adopt = args.rerun.adopt_existing_jobs;
    match output {
        _ if markdown => {
            let notes: Vec<String> = notes.iter().map(|n| n.message(&state, adopt)).collect();
            let mut text =
                super::render::markdown::plan(&plan.name, &summary(&preview), &notes, &preview);
            if let Some(line) = waiting_line(&preview) {
                text.push_str(&super::render::markdown::text(&line));
                text.push('\n');
            }
            super::output::out!("{text}");
        }
        Output::Human => {
            print_notes(&notes, &state, adopt);
            print_preview(&preview);
            super::manual_steps::print_human(&plan, &options.pairs);
        }
        Output::Json => {
            for note in &notes {
                json::print(&Event::Notice(Notice {
                    pair: Some(note.pair.clone()),
                    message: note.message(&state, adopt),
                }));
            }
            super::manual_steps::print_json(&plan, &options.pairs);
            print_json(&preview);
        }
    }
    if let Some(out) = &args.out {
        let saved = crate::saved::SavedPlan::new(
            &args.target.plan.display().to_string(),
            &plan.name,
            &bytes,
            &options,
            &preview,
            observed,
        );
        setup::write_output(out, saved.to_text().as_bytes())?;
        if output == Output::Human && !markdown {
            outln!(
                "\nSaved plan written to {}: `nylas-migrate apply {}` applies exactly this, or refuses if the plan file or any step's action changed.",
                esc(&out.display().to_string()),
                esc(&out.display().to_string())
            );
        }
    }
    // Steps waiting on pairs this run does not target: nothing this run does converges them,
    // so `plan` exits 1, as `apply` with the same targets does.
    Ok(if preview.has_conflicts() || preview.waiting() > 0 {
        Finished::WithFailures
    } else if args.detailed_exitcode && preview.has_changes() {
        Finished::ChangesPending
    } else {
        Finished::Clean
    })
}

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Unchanged => "=",
        Action::Create => "+",
        Action::Update => "~",
        Action::Attach => ">",
        Action::Blocked => ".",
        Action::Conflict => "!",
        Action::Held => "-",
        Action::Failed => "x",
    }
}

/// Pairs whose application has a past this state does not know, before anything else.
pub fn print_notes(notes: &[HistoryNote], state: &StateLocation, adopt: bool) {
    for note in notes {
        outln!("! note: {}", esc(&note.message(state, adopt)));
    }
}

/// Steps of one kind beyond this many, with the same action, are summarised in one line.
const SHOWN_PER_ACTION: usize = 5;

/// What a step's line calls its action: a blocked step that only waits on this run's own
/// changes is `after` them (a pending change too); one that waits on a pair the run does not
/// target is `waiting`; one held up by a conflict is `blocked`.
fn label(s: &PreviewStep) -> &'static str {
    match (s.observation.action, s.waits) {
        (Action::Blocked, Some(Waits::Changes)) => "after",
        (Action::Blocked, Some(Waits::UntargetedPairs)) => "waiting",
        (action, _) => action.as_str(),
    }
}

/// The steps of the preview that get a line of their own (many clones of one action are
/// summarised after the first few).
fn shown_steps(preview: &Preview) -> Vec<&PreviewStep> {
    let mut shown: std::collections::HashMap<(usize, &str, Action), usize> = Default::default();
    preview
        .steps
        .iter()
        .filter(|s| {
            let n = shown
                .entry((s.step.pair, s.step.kind.name(), s.observation.action))
                .or_default();
            *n += 1;
            !(matches!(s.step.kind, StepKind::Clone(_)) && *n > SHOWN_PER_ACTION)
        })
        .collect()
}

fn local_id(s: &PreviewStep) -> String {
    esc(s.step.id.local()).to_string()
}

/// Prints the preview grouped by pair, then its summary: columns aligned whatever the length
/// of the step IDs, no line longer than 160 characters.
pub fn print_preview(preview: &Preview) {
    let shown = shown_steps(preview);
    let width = layout::id_width(
        shown
            .iter()
            .map(|s| local_id(s))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    );
    let mut current_pair = None;
    let mut counted: std::collections::HashMap<(usize, &str, Action), usize> = Default::default();
    let mut current_name = None;
    for s in &preview.steps {
        if current_pair != Some(s.step.pair) {
            flush_hidden(&counted, current_pair);
            print_unmanaged(preview, current_name, width);
            counted.clear();
            current_pair = Some(s.step.pair);
            current_name = Some(s.step.id.pair());
            outln!("\n{}", esc(s.step.id.pair()));
        }
        let key = (s.step.pair, s.step.kind.name(), s.observation.action);
        let n = counted.entry(key).or_default();
        *n += 1;
        if matches!(s.step.kind, StepKind::Clone(_)) && *n > SHOWN_PER_ACTION {
            continue;
        }
        let prefix = format!("  {} {:<9} ", symbol(s.observation.action), label(s));
        let reason = esc(&s.observation.reason).to_string();
        for line in layout::row(&prefix, &local_id(s), width, &reason) {
            outln!("{line}");
        }
    }
    flush_hidden(&counted, current_pair);
    print_unmanaged(preview, current_name, width);
    outln!("\n{}", summary(preview));
    let unmanaged = preview.unmanaged_count();
    if unmanaged > 0 {
        outln!(
            "{unmanaged} destination{} or redirect URI{} found live {} not managed by this plan (? above): left as {}; add {} to the plan to manage {}",
            if unmanaged == 1 { "" } else { "s" },
            if unmanaged == 1 { "" } else { "s" },
            if unmanaged == 1 { "is" } else { "are" },
            if unmanaged == 1 { "it is" } else { "they are" },
            if unmanaged == 1 { "it" } else { "them" },
            if unmanaged == 1 { "it" } else { "them" },
        );
    }
    if let Some(line) = waiting_line(preview) {
        outln!("{line}");
    }
    let failed = preview.count(Action::Failed);
    if failed > 0 {
        outln!(
            "{failed} step{} ended in a recorded failure (x above): not a pending change and not repeated on its own; `apply` exits 1 while {}",
            if failed == 1 { "" } else { "s" },
            if failed == 1 {
                "it stands"
            } else {
                "they stand"
            }
        );
    }
}

/// What steps waiting on pairs the run does not target mean, when there are any.
pub fn waiting_line(preview: &Preview) -> Option<String> {
    let waiting = preview.waiting();
    if waiting == 0 {
        return None;
    }
    let pairs = preview.waiting_on.join(", ");
    let flags = preview
        .waiting_on
        .iter()
        .map(|p| format!("--pair {p}"))
        .collect::<Vec<_>>()
        .join(" ");
    Some(format!(
        "{waiting} step{} wait{} on pairs this run does not target ({}): not changes this run can make; apply {} first (`{}`), or target {} too. `plan` and `apply` exit 1 until then.",
        if waiting == 1 { "" } else { "s" },
        if waiting == 1 { "s" } else { "" },
        esc(&pairs),
        if preview.waiting_on.len() == 1 {
            "it"
        } else {
            "them"
        },
        esc(&flags),
        if preview.waiting_on.len() == 1 {
            "it"
        } else {
            "them"
        },
    ))
}

/// The summary line: the changes apply would make (those that run now and those after them),
/// then what it would leave alone, and what waits on pairs the run does not target.
pub fn summary(preview: &Preview) -> String {
    let changes = preview.changes();
    let waiting = match preview.waiting() {
        0 => String::new(),
        n => format!(", {n} waiting on pairs this run does not target"),
    };
    format!(
        "Plan: {changes} change{} ({} to create, {} to update, {} running to follow, {} after those); {} unchanged, {} conflict{}, {} blocked by a conflict, {} held by a gate{waiting}",
        if changes == 1 { "" } else { "s" },
        preview.count(Action::Create),
        preview.count(Action::Update),
        preview.count(Action::Attach),
        preview.after(),
        preview.count(Action::Unchanged),
        preview.count(Action::Conflict),
        if preview.count(Action::Conflict) == 1 {
            ""
        } else {
            "s"
        },
        preview.blocked_by_conflict(),
        preview.count(Action::Held),
    )
}

/// What a pair's application has live that no step names, after the pair's steps, in the
/// steps' columns.
fn print_unmanaged(preview: &Preview, pair: Option<&str>, width: usize) {
    let Some(pair) = pair.and_then(|p| preview.unmanaged_of(p)) else {
        return;
    };
    for u in &pair.found {
        let id = esc(&format!("{}/{}", u.kind, u.subject)).to_string();
        let text = esc(&unmanaged_reason(u)).to_string();
        for line in layout::row(&format!("  ? {:<9} ", "unmanaged"), &id, width, &text) {
            outln!("{line}");
        }
    }
    for why in &pair.unlisted {
        let text = format!(
            "could not list {} (what the plan does not manage is not all shown)",
            esc(why)
        );
        for line in layout::paragraph("  ! ", &text) {
            outln!("{line}");
        }
    }
}

fn unmanaged_reason(u: &Unmanaged) -> String {
    format!(
        "not managed by this plan, left as it is: {} ({})",
        u.id, u.detail
    )
}

fn flush_hidden(
    shown: &std::collections::HashMap<(usize, &str, Action), usize>,
    pair: Option<usize>,
) {
    let mut hidden: Vec<_> = shown
        .iter()
        .filter(|((p, kind, _), n)| Some(*p) == pair && *kind == "clone" && **n > SHOWN_PER_ACTION)
        .collect();
    hidden.sort_by_key(|((_, _, a), _)| *a);
    for ((_, _, action), n) in hidden {
        outln!(
            "  {} … and {} more clone steps: {}",
            symbol(*action),
            n - SHOWN_PER_ACTION,
            action.as_str()
        );
    }
}

fn print_json(preview: &Preview) {
    for s in &preview.steps {
        json::print(&Event::PlanStep(PlanStep {
            step: s.step.id.clone(),
            kind: s.step.kind.kind(),
            seen: PlanSeen::Observed {
                action: s.observation.action,
                reason: s.observation.reason.clone(),
                waits: s.waits,
            },
        }));
    }
    for pair in &preview.unmanaged {
        for why in &pair.unlisted {
            json::print(&Event::Notice(Notice {
                pair: Some(pair.pair.clone()),
                message: format!(
                    "could not list {why} (what the plan does not manage is not all shown)"
                ),
            }));
        }
        for u in &pair.found {
            json::print(&Event::Unmanaged(UnmanagedFound {
                pair: pair.pair.clone(),
                kind: u.kind,
                id: u.id.clone(),
                subject: u.subject.clone(),
                detail: u.detail.clone(),
                reason: unmanaged_reason(u),
            }));
        }
    }
    json::print(&Event::PlanSummary(PlanSummary {
        create: preview.count(Action::Create),
        update: preview.count(Action::Update),
        unchanged: preview.count(Action::Unchanged),
        conflict: preview.count(Action::Conflict),
        blocked: preview.count(Action::Blocked),
        after: preview.after(),
        waiting: preview.waiting(),
        changes: preview.changes(),
        attach: preview.count(Action::Attach),
        held: preview.count(Action::Held),
        failed: preview.count(Action::Failed),
        unmanaged: preview.unmanaged_count(),
        changes_pending: preview.has_changes(),
    }));
}

/// The steps and what the journal last recorded for each: no network, no secrets.
fn offline(
    graph: &StepGraph,
    plan: &crate::plan::Plan,
    state: &StateLocation,
    flag: OutputFlag,
    detailed: bool,
    pairs: &[String],
) -> Result<Finished, CliError> {
    let journal = setup::existing_journal(state, plan)?;
    let output = flag.output();
    let markdown = flag == OutputFlag::Markdown;
    let mut rows: Vec<(StandingStatus, &crate::graph::Step)> = Vec::new();
    let mut pending = 0;
    let mut listed = 0;
    let targeted =
        |s: &&crate::graph::Step| pairs.is_empty() || pairs.contains(&graph.pair_of(s).name);
    for step in graph.steps().filter(targeted) {
        listed += 1;
        let state = journal
            .as_ref()
            .and_then(|j| j.step(&step.id).ok().flatten());
        let status = StandingStatus::of(state.as_ref().map(|s| s.status));
        // A failed wave or a refused account is an outcome, not pending work.
        let settled = state.as_ref().is_some_and(|s| {
            s.status == StepStatus::Failed
                && (s.record.refused || crate::engine::finished_wave(s).is_some())
        });
        if status != StandingStatus::Done && !settled {
            pending += 1;
        }
        match output {
            _ if markdown => rows.push((status, step)),
            Output::Human => outln!("  {status:<11} {}", esc(step.id.as_str())),
            Output::Json => json::print(&Event::PlanStep(PlanStep {
                step: step.id.clone(),
                kind: step.kind.kind(),
                seen: PlanSeen::Recorded { journal: status },
            })),
        }
    }
    if markdown {
        let summary = format!(
            "Offline: {listed} steps, {pending} not recorded done in the journal (the live state was not observed)"
        );
        super::output::out!(
            "{}",
            super::render::markdown::plan_offline(&plan.name, &summary, &rows)
        );
    } else if output == Output::Human {
        outln!(
            "\nOffline: {} steps, {} not recorded done in the journal (the live state was not observed)",
            listed,
            pending
        );
    }
    Ok(if detailed && pending > 0 {
        Finished::ChangesPending
    } else {
        Finished::Clean
    })
}
