//! Rehearsing a plan against an in-process simulator, driving the real binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nylas_migrate::api::Region;
use nylas_migrate::plan::{self, Plan};
use nylas_migrate::simulator::{
    self, JobSpeed, RunningSimulator, SimulatorConfig, World, world_for_plan,
};

/// A running simulator, a plan file pointing at it, the secrets the plan names, a state folder.
pub struct Rehearsal {
    pub sim: RunningSimulator,
    pub plan: Plan,
    pub plan_path: PathBuf,
    pub secrets: HashMap<String, String>,
    pub dir: tempfile::TempDir,
}

/// Loads `plan_text`, shapes a generated world of `accounts` for it, lets `adjust` change the
/// world and the simulator's configuration, starts the simulator with fast jobs, and writes the
/// plan with both regions pointing at it.
pub async fn start(
    plan_text: &str,
    accounts: usize,
    adjust: impl FnOnce(&mut World, &mut SimulatorConfig),
) -> Rehearsal {
    let (world, secrets) = world_for_plan(&parse(plan_text), World::generate(accounts, 11));
    start_with_world(plan_text, world, secrets, adjust).await
}

pub fn parse(plan_text: &str) -> Plan {
    plan::load_str(Path::new("plan.yaml"), "plan.yaml", plan_text)
        .unwrap_or_else(|e| panic!("test plan is invalid: {:?}", e.diagnostics))
        .plan
}

/// Like [`start`], with a world built by the test and the secrets the plan's references name.
pub async fn start_with_world(
    plan_text: &str,
    mut world: World,
    secrets: HashMap<String, String>,
    adjust: impl FnOnce(&mut World, &mut SimulatorConfig),
) -> Rehearsal {
    let plan = parse(plan_text);
    let mut config = SimulatorConfig {
        seed: 11,
        job_speed: JobSpeed::RealTime { factor: 200.0 },
        ..SimulatorConfig::default()
    };
    adjust(&mut world, &mut config);
    config.world = world;
    let sim = simulator::start(config, "127.0.0.1".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.yaml");
    let text = format!(
        "{plan_text}\nregions:\n  us: {{ api_url: \"{}\" }}\n  eu: {{ api_url: \"{}\" }}\n",
        sim.base_url(Region::Us),
        sim.base_url(Region::Eu)
    );
    std::fs::write(&plan_path, text).unwrap();
    Rehearsal {
        sim,
        plan,
        plan_path,
        secrets,
        dir,
    }
}

impl Rehearsal {
    /// The binary with the plan's secrets in its environment and nothing else of ours.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nylas-migrate"));
        cmd.args(args)
            .env("NO_COLOR", "1")
            .env_remove("NYLAS_MIGRATE_FAILPOINT")
            .envs(&self.secrets);
        cmd
    }

    pub fn plan_arg(&self) -> String {
        self.plan_path.display().to_string()
    }

    /// Runs a command to completion off the async runtime (the simulator keeps serving).
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("the binary runs"))
            .await
            .unwrap()
    }

    pub async fn apply(&self) -> Output {
        let plan = self.plan_arg();
        self.run(&["apply", &plan, "--yes"]).await
    }

    pub async fn plan_exit(&self) -> Option<i32> {
        let plan = self.plan_arg();
        self.run(&["plan", &plan, "--detailed-exitcode"])
            .await
            .status
            .code()
    }
}
