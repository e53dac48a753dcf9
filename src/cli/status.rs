//! `nylas-migrate status PLAN`: where the migration stands, per pair and step.

use super::layout;
use super::output::outln;
use super::setup;
use super::{CliError, Finished, Output, OutputFlag};
use crate::graph::Kind;
use crate::report::{Standing, StandingStatus, standing};
use crate::untrusted::esc;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// The journal only: no network, no secrets (waves show their last recorded counts).
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub pairs: setup::PairArgs,
}

pub fn run(args: Args, flag: OutputFlag) -> Result<Finished, CliError> {
    let output = flag.output();
    let (plan, graph) = setup::load(&args.target.plan)?;
    let pairs = args.pairs.checked(&graph)?;
    let state = args.target.state(&plan)?;
    let journal = setup::existing_journal(&state, &plan)?;
    let online = !args.offline && journal.is_some();
    let opening = online
        .then(|| setup::opening(&args.target, &plan, graph.clone(), state.clone()))
        .transpose()?;
    let standing = super::runtime()?.block_on(async {
        let Some(opening) = opening else {
            return Ok(standing(&graph, journal.as_ref(), None, &pairs).await?);
        };
        let ctx = opening.read()?;
        Ok::<_, CliError>(standing(ctx.graph(), journal.as_ref(), Some(&ctx), &pairs).await?)
    })?;
    // Markdown is a document: the partial-run note goes to stderr.
    let markdown = flag == OutputFlag::Markdown;
    setup::print_partial(&graph, &pairs, output, !markdown);
    match output {
        _ if markdown => super::output::out!("{}", super::render::markdown::status(&standing)),
        Output::Json => {
            super::render::json::print(&crate::events::Event::Status {
                status: standing.clone(),
            });
        }
        Output::Human => print_human(&standing, journal.is_some(), &state),
    }
    // A failed wave, a refused account or a failed step: the plan is not where it should be,
    // and a pipeline that reads only exit codes must notice.
    let failed = standing
        .pairs
        .iter()
        .flat_map(|p| &p.steps)
        .filter(|s| s.status == StandingStatus::Failed)
        .count();
    if failed > 0 && output == Output::Human && !markdown {
        outln!(
            "\n{failed} step{} failed (see above); exit status 1",
            if failed == 1 { "" } else { "s" }
        );
    }
    Ok(Finished::clean_if(failed == 0))
}

fn when(unix: i64) -> String {
    crate::state::journal::format_utc(unix)
}

fn print_human(standing: &Standing, has_journal: bool, state: &crate::state::StateLocation) {
    match &standing.last_run {
        Some(run) => outln!(
            "{} · state {} · last run {} started {}, {}",
            esc(&standing.plan),
            esc(&state.to_string()),
            run.run_id,
            when(run.started_at),
            match (&run.outcome, run.finished_at) {
                (Some(outcome), Some(at)) => format!("{outcome} at {}", when(at)),
                _ => "did not finish (interrupted, or still running)".to_owned(),
            }
        ),
        None if has_journal => outln!(
            "{} · state {} · no run yet",
            esc(&standing.plan),
            esc(&state.to_string())
        ),
        None => outln!(
            "{} · no journal in {}: nothing has been applied from this state{}",
            esc(&standing.plan),
            esc(&state.to_string()),
            if state.folder().is_some() {
                " folder"
            } else {
                ""
            }
        ),
    }
    for pair in &standing.pairs {
        outln!("\n{} ({})", esc(&pair.pair), pair.region.as_str());
        let clones: Vec<_> = pair
            .steps
            .iter()
            .filter(|s| s.kind == Kind::Clone)
            .collect();
        let shown: Vec<_> = pair
            .steps
            .iter()
            .filter(|s| s.kind != Kind::Clone || clones.len() <= 5)
            .map(|step| (step, esc(step.step.local()).to_string()))
            .collect();
        let width = layout::id_width(shown.iter().map(|(_, local)| local.as_str()));
        for (step, local) in &shown {
            let text = if let Some(job) = &step.job {
                format!(
                    "job {} {} {}%: {}",
                    esc(&job.job_id),
                    esc(job.status.as_str()),
                    job.percent,
                    job.tally().out_of_all()
                )
            } else if let Some(detail) = &step.detail {
                esc(detail).to_string()
            } else {
                String::new()
            };
            let prefix = format!("  {:<11} ", step.status);
            for line in layout::row(&prefix, local, width, &text) {
                outln!("{line}");
            }
        }
        if clones.len() > 5 {
            let count = |status| clones.iter().filter(|s| s.status == status).count();
            outln!(
                "  {:<11} {:<width$} {} done, {} failed, {} pending, {} interrupted",
                "clones",
                format!("{} test accounts", clones.len()),
                count(StandingStatus::Done),
                count(StandingStatus::Failed),
                count(StandingStatus::Pending),
                count(StandingStatus::Interrupted)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(super::when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::when(1_795_300_000), "2026-11-21 22:26:40 UTC");
        assert_eq!(super::when(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
