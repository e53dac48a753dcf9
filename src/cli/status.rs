//! `nylas-migrate status PLAN`: where the migration stands, per pair and step.

use super::setup::{self, report};
use super::{EXIT_FAILURE, EXIT_OK, Output};
use crate::engine::{Context, SecretSource};
use crate::report::{Standing, standing};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: setup::PlanArgs,
    /// The journal only: no network, no secrets (waves show their last recorded counts).
    #[arg(long)]
    pub offline: bool,
}

pub fn run(args: Args, output: Output) -> u8 {
    let Some((plan, graph)) = setup::load(&args.target.plan) else {
        return EXIT_FAILURE;
    };
    let state_dir = args.target.state_dir();
    let journal = match setup::existing_journal(&state_dir) {
        Ok(j) => j,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    let result = super::runtime().block_on(async {
        if args.offline || journal.is_none() {
            return standing(&graph, journal.as_ref(), None).await;
        }
        let client = setup::client(&plan)
            .map_err(|e| crate::engine::EngineError::Internal(e.to_string()))?;
        let source = SecretSource::new(args.target.plan_dir());
        let ctx = Context::new(graph.clone(), source, &client, &state_dir, false)?;
        standing(&ctx.graph, journal.as_ref(), Some(&ctx)).await
    });
    let standing = match result {
        Ok(s) => s,
        Err(e) => {
            report(e);
            return EXIT_FAILURE;
        }
    };
    match output {
        Output::Json => {
            println!(
                "{}",
                serde_json::json!({"v": 1, "event": "status", "status": standing})
            );
        }
        Output::Human => print_human(&standing, journal.is_some(), &state_dir),
    }
    // A failed wave, a refused account or a failed step: the plan is not where it should be,
    // and a pipeline that reads only exit codes must notice.
    let failed = standing
        .pairs
        .iter()
        .flat_map(|p| &p.steps)
        .filter(|s| s.status == "failed")
        .count();
    if failed > 0 {
        if output == Output::Human {
            println!(
                "\n{failed} step{} failed (see above); exit status 1",
                if failed == 1 { "" } else { "s" }
            );
        }
        EXIT_FAILURE
    } else {
        EXIT_OK
    }
}

fn when(unix: i64) -> String {
    // Days since the epoch to a civil date (Howard Hinnant's algorithm), to print UTC times
    // without a date library.
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn print_human(standing: &Standing, has_journal: bool, state_dir: &std::path::Path) {
    match &standing.last_run {
        Some(run) => println!(
            "{} · state {} · last run {} started {}, {}",
            standing.plan,
            state_dir.display(),
            run.run_id,
            when(run.started_at),
            match (&run.outcome, run.finished_at) {
                (Some(outcome), Some(at)) => format!("{outcome} at {}", when(at)),
                _ => "did not finish (interrupted, or still running)".to_owned(),
            }
        ),
        None if has_journal => println!(
            "{} · state {} · no run yet",
            standing.plan,
            state_dir.display()
        ),
        None => println!(
            "{} · no journal in {}: nothing has been applied from this state folder",
            standing.plan,
            state_dir.display()
        ),
    }
    for pair in &standing.pairs {
        println!("\n{} ({})", pair.pair, pair.region);
        let clones: Vec<_> = pair.steps.iter().filter(|s| s.kind == "clone").collect();
        for step in pair
            .steps
            .iter()
            .filter(|s| s.kind != "clone" || clones.len() <= 5)
        {
            let local = step
                .step
                .split_once('/')
                .map_or(step.step.as_str(), |(_, r)| r);
            let mut line = format!("  {:<11} {:<40}", step.status, local);
            if let Some(job) = &step.job {
                line.push_str(&format!(
                    " job {} {} {}%: {} migrated, {} placeholders, {} failed of {}",
                    job.job_id,
                    job.status,
                    job.percent,
                    job.count_success,
                    job.count_warning,
                    job.count_failed,
                    job.count_all
                ));
            } else if let Some(detail) = &step.detail {
                line.push_str(&format!(" {detail}"));
            }
            println!("{}", line.trim_end());
        }
        if clones.len() > 5 {
            let count = |status: &str| clones.iter().filter(|s| s.status == status).count();
            println!(
                "  {:<11} {:<40} {} done, {} failed, {} pending, {} interrupted",
                "clones",
                format!("{} test accounts", clones.len()),
                count("done"),
                count("failed"),
                count("pending"),
                count("interrupted")
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
