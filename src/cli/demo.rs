//! `nylas-migrate demo`: the main job on a machine with no Nylas account. Starts the simulator
//! in-process with a generated world shaped for the bundled plan (`examples/demo.yaml`), applies
//! the plan against it with live progress from a temporary state folder, applies it a second
//! time to show that nothing changes, and ends with what was migrated.

use super::output::outln;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{CliError, CommandError, Finished, Output};
use crate::api::{GrantStatus, Region};
use crate::engine::{ApplyOptions, apply};
use crate::plan::{self, Plan, RegionSettings};
use crate::secrets::SecretSource;
use crate::simulator::{self, JobSpeed, RunningSimulator, SimulatorConfig, World};

const DEMO_PLAN: &str = include_str!("../../examples/demo.yaml");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Connected v2 accounts in the simulated world (two thirds U.S., one third E.U.).
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = clap::value_parser!(u32).range(10..=100_000))]
    pub accounts: u32,
    /// Seed of the generated world.
    #[arg(long, value_name = "S", default_value_t = 7)]
    pub seed: u64,
}

pub fn run(args: Args, output: Output) -> Result<Finished, CliError> {
    // The bundled plan is one of the examples the test suite validates.
    let loaded = plan::load_str(
        Path::new("examples/demo.yaml"),
        "examples/demo.yaml",
        DEMO_PLAN,
    )?;
    let (world, overlay) = simulator::world_for_plan(
        &loaded.plan,
        World::generate(args.accounts as usize, args.seed),
    );
    super::runtime()?.block_on(async move {
        let config = SimulatorConfig {
            world,
            seed: args.seed,
            job_speed: JobSpeed::RealTime { factor: 40.0 },
            ..SimulatorConfig::default()
        };
        let sim = simulator::start(config, std::net::Ipv4Addr::LOCALHOST.into())
            .await
            .map_err(|e| CommandError::SimulatorListen {
                detail: e.to_string(),
            })?;
        let finished = demo(&sim, loaded.plan, overlay, output).await;
        sim.shutdown().await;
        finished
    })
}

async fn demo(
    sim: &RunningSimulator,
    mut plan: Plan,
    overlay: HashMap<String, String>,
    output: Output,
) -> Result<Finished, CliError> {
    plan.regions.us = Some(RegionSettings {
        api_url: sim.base_url(Region::Us),
    });
    plan.regions.eu = Some(RegionSettings {
        api_url: sim.base_url(Region::Eu),
    });
    let human = output == Output::Human;
    if human {
        outln!(
            "Simulated Nylas: U.S. {} · E.U. {}",
            sim.base_url(Region::Us),
            sim.base_url(Region::Eu)
        );
        let accounts: usize = plan.pairs.len();
        outln!(
            "Applying examples/demo.yaml ({accounts} pairs) to a generated world of v2 accounts…\n"
        );
    }
    let state = std::env::temp_dir().join(format!("nylas-migrate-demo-{}", std::process::id()));
    let finished = run_twice(sim, &plan, overlay, &state, output).await;
    let _ = std::fs::remove_dir_all(&state);
    if human {
        print_migrated(sim, &plan);
        print_next_steps();
    }
    finished
}

async fn run_twice(
    sim: &RunningSimulator,
    plan: &Plan,
    overlay: HashMap<String, String>,
    state: &Path,
    output: Output,
) -> Result<Finished, CliError> {
    let source = SecretSource::new(std::env::temp_dir()).with_overlay(overlay);
    let opening = crate::run::Opening::of_plan(
        plan,
        source,
        crate::state::StateLocation::Folder(state.to_path_buf()),
    )?;
    let options = ApplyOptions {
        max_poll: Duration::from_millis(500),
        ..ApplyOptions::default()
    };
    let mut finished = Finished::Clean;
    for round in ["first", "second"] {
        let steps = opening.graph().len() as u64;
        let ctx = Arc::new(opening.write_unlocked()?);
        let reporter = super::apply::step_reporter(output, steps);
        let writes_before = sim.stats().writes();
        let summary = apply(ctx, &options, reporter).await?;
        super::apply::print_summary(&summary, output);
        if output == Output::Human {
            outln!(
                "The {round} apply made {} writes to Nylas.{}",
                sim.stats().writes() - writes_before,
                if round == "first" {
                    " Applying the same plan again:\n"
                } else {
                    ""
                }
            );
        }
        if !summary.all_done() {
            finished = Finished::WithFailures;
        }
    }
    Ok(finished)
}

fn print_migrated(sim: &RunningSimulator, plan: &Plan) {
    let world = sim.world();
    outln!("\nWhat was migrated");
    outln!(
        "  {:<10} {:>9} {:>13} {:>15}",
        "pair",
        "v3 grants",
        "valid grants",
        "placeholders"
    );
    for pair in &plan.pairs {
        let Some(app) = world.app(&pair.v3.app_id) else {
            continue;
        };
        let invalid = app
            .grants
            .iter()
            .filter(|g| g.grant_status == Some(GrantStatus::Invalid))
            .count();
        outln!(
            "  {:<10} {:>9} {:>13} {:>15}",
            pair.name,
            app.grants.len(),
            app.grants.len() - invalid,
            invalid
        );
    }
    outln!("\nPlaceholder grants are accounts whose users must re-authenticate.");
}

/// What a new user can do next, each a command that works from the repository's folder.
pub const NEXT_STEPS: [(&str, &str); 5] = [
    (
        "nylas-migrate validate examples/production.yaml",
        "check a full plan: every rule, no network, no secrets",
    ),
    (
        "nylas-migrate graph examples/production.yaml --format mermaid",
        "see the steps it makes and their order",
    ),
    (
        "nylas-migrate simulate --accounts 1000 --listen 127.0.0.1:4010 --write-plan sim.yaml",
        "a simulator of your own, with a ready plan (secrets in sim.env)",
    ),
    (
        "nylas-migrate plan sim.yaml",
        "in another shell, after `. ./sim.env`: preview it, then `apply` it",
    ),
    (
        "nylas-migrate schema",
        "the plan's JSON Schema, for editors",
    ),
];

fn print_next_steps() {
    outln!("\nWhat to try next");
    for (command, what) in NEXT_STEPS {
        outln!("  {command}");
        outln!("      {what}");
    }
    outln!(
        "\nThen copy examples/production.yaml, put in your applications' IDs, export the \
         variables it names, and run `nylas-migrate plan` on it."
    );
}
