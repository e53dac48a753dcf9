//! `nylas-migrate simulate`: run the local Nylas v3 simulator until Ctrl-C. Once both regions
//! listen it prints one JSON line on stdout, `{"us": URL, "eu": URL, "stats": URL}`; request
//! logs go to stderr. See docs/simulator.md.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{CliError, CommandError, Finished, simulate_plan};
use crate::api::Region;
use crate::simulator::{
    self, EmptyFields, FailingJob, JobSpeed, JobTiming, ReadTimeouts, SimulatorConfig, World,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the U.S. region listens; the E.U. region takes the next port (both ephemeral with
    /// port 0).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// A world file (YAML, see docs/simulator.md). Without it a world is generated.
    #[arg(long, conflicts_with = "accounts")]
    pub world: Option<PathBuf>,
    /// Generate a world with this many v2 accounts.
    #[arg(long)]
    pub accounts: Option<usize>,
    /// Seeds the generated world, the fault injection and the ids the simulator creates.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Save the world (generated or loaded) to this YAML file (it holds the simulated apps'
    /// secrets; written 0600).
    #[arg(long)]
    pub write_world: Option<PathBuf>,
    /// Write a ready plan for the world, pointing at this simulator, once it listens. Its
    /// secrets go to an env file beside it (see --write-env). To keep its URLs valid across
    /// restarts, give --listen a fixed port.
    #[arg(long, value_name = "FILE")]
    pub write_plan: Option<PathBuf>,
    /// Where --write-plan puts the secrets its plan names (`export NAME='value'` lines, 0600);
    /// default: the plan's path with `.env`.
    #[arg(long, value_name = "FILE", requires = "write_plan")]
    pub write_env: Option<PathBuf>,
    /// Requests per second per v3 application (0: no limit).
    #[arg(long, default_value_t = 20)]
    pub rate_limit: u32,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered 502/503/504 (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    pub fault_rate: f64,
    /// Share of connections dropped without an answer (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    pub drop_rate: f64,
    /// Make the Nth batch clone of a v3 application fail: APP_ID:N (repeatable).
    #[arg(long = "fail-job", value_name = "APP_ID:N")]
    pub fail_jobs: Vec<FailingJob>,
    /// Simulated seconds per wall-clock second for batch jobs (a positive number).
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub speed: f64,
    /// Accounts a migration job processes per simulated second.
    #[arg(long, default_value_t = JobTiming::default().accounts_per_second)]
    pub accounts_per_second: u32,
    /// Close a connection whose request headers are not complete this long after it opened,
    /// or after their first byte, in milliseconds.
    #[arg(long, default_value_t = millis(ReadTimeouts::default().headers), value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// Answer 408 and close when a request body pauses this long, in milliseconds.
    #[arg(long, default_value_t = millis(ReadTimeouts::default().body), value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,
    /// Close a kept-alive connection that sends no new request for this long, in milliseconds.
    #[arg(long, default_value_t = millis(ReadTimeouts::default().idle), value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// What an update of a webhook or channel does with a field sent empty (`""`, `[]`):
    /// `as-documented` (webhooks keep it, as the contract says; channels clear it), `keep` or
    /// `clear` (every destination). Nylas's behaviour is not documented for every case: rehearse
    /// both.
    #[arg(long, value_enum, default_value_t = EmptyFieldsArg::AsDocumented)]
    pub empty_fields: EmptyFieldsArg,
}

/// `--empty-fields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmptyFieldsArg {
    AsDocumented,
    Keep,
    Clear,
}

impl From<EmptyFieldsArg> for EmptyFields {
    fn from(arg: EmptyFieldsArg) -> EmptyFields {
        match arg {
            EmptyFieldsArg::AsDocumented => EmptyFields::AsDocumented,
            EmptyFieldsArg::Keep => EmptyFields::Keep,
            EmptyFieldsArg::Clear => EmptyFields::Clear,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

fn positive(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a positive number"))
    }
}

/// Accounts in a generated world when neither `--world` nor `--accounts` is given.
const DEFAULT_ACCOUNTS: usize = 100;

pub fn run(args: Args) -> Result<Finished, CliError> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let mut world = match &args.world {
        Some(path) => World::load(path).map_err(|err| CommandError::SimulatorWorld {
            detail: err.to_string(),
        })?,
        None => World::generate(args.accounts.unwrap_or(DEFAULT_ACCOUNTS), args.seed),
    };
    if let Some(path) = &args.write_world {
        // Private (0600): it holds the simulated apps' secrets and keys.
        crate::state::private::write(path, world.to_yaml().as_bytes()).map_err(|source| {
            CommandError::Write {
                path: path.display().to_string(),
                cause: source,
            }
        })?;
    }
    // What a plan needs of the world (its apps, and each app's first account), kept before the
    // world moves into the simulator: a generated world can hold a million accounts.
    let plan_world = args.write_plan.as_ref().map(|plan| {
        // Without its accounts (moved out and back), the world is cheap to clone.
        let mut apps = std::mem::take(&mut world.v2_apps);
        let mut light = world.clone();
        light.v2_apps = apps
            .iter_mut()
            .map(|app| {
                let accounts = std::mem::take(&mut app.accounts);
                let mut copy = app.clone();
                copy.accounts = accounts.iter().take(1).cloned().collect();
                app.accounts = accounts;
                copy
            })
            .collect();
        world.v2_apps = apps;
        PlanOutput {
            world: light,
            plan: plan.clone(),
            env: args
                .write_env
                .clone()
                .unwrap_or_else(|| simulate_plan::default_env_path(plan)),
        }
    });
    let config = SimulatorConfig {
        world,
        rate_limit: args.rate_limit,
        latency: Duration::from_millis(args.latency_ms),
        fault_rate: args.fault_rate,
        drop_rate: args.drop_rate,
        seed: args.seed,
        failing_jobs: args.fail_jobs,
        job_speed: JobSpeed::RealTime { factor: args.speed },
        job_timing: JobTiming {
            accounts_per_second: args.accounts_per_second.max(1),
            ..JobTiming::default()
        },
        record_responses: false,
        read_timeouts: ReadTimeouts {
            headers: Duration::from_millis(args.header_timeout_ms),
            body: Duration::from_millis(args.body_timeout_ms),
            idle: Duration::from_millis(args.idle_timeout_ms),
        },
        empty_fields: args.empty_fields.into(),
    };
    super::runtime()?.block_on(serve(config, args.listen, plan_world))
}

/// What --write-plan writes, and where.
struct PlanOutput {
    world: World,
    plan: PathBuf,
    env: PathBuf,
}

/// Writes the plan and its env file for the simulator listening at `us` and `eu`.
fn write_plan(output: &PlanOutput, us: &str, eu: &str) -> Result<(), CommandError> {
    let written = simulate_plan::plan_for_world(&output.world, us, eu, &shown_path(&output.env));
    // The plan is checked as `validate` would check it before it is handed to anyone.
    if let Err(invalid) = crate::plan::load_str(&output.plan, "the written plan", &written.text) {
        let first = invalid
            .diagnostics
            .first()
            .map(|d| d.message.clone())
            .unwrap_or_default();
        return Err(CommandError::Internal {
            what: format!("the plan written for this world does not validate ({first})"),
        });
    }
    let failed = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| CommandError::Write {
            path,
            cause: source,
        }
    };
    std::fs::write(&output.plan, &written.text).map_err(failed(&output.plan))?;
    crate::state::private::write(
        &output.env,
        simulate_plan::env_file(&written.env).as_bytes(),
    )
    .map_err(failed(&output.env))?;
    errln!(
        "wrote {} ({} pair{}) and its secrets to {}: run `. {}` then `nylas-migrate plan {}`",
        output.plan.display(),
        written.pairs,
        if written.pairs == 1 { "" } else { "s" },
        output.env.display(),
        shown_path(&output.env),
        output.plan.display()
    );
    Ok(())
}

/// A path as a shell sources it: `./x.env` for a bare file name.
fn shown_path(path: &std::path::Path) -> String {
    if path.components().count() == 1 {
        format!("./{}", path.display())
    } else {
        path.display().to_string()
    }
}

async fn serve(
    config: SimulatorConfig,
    listen: SocketAddr,
    plan: Option<PlanOutput>,
) -> Result<Finished, CliError> {
    let eu = if listen.port() == 0 {
        listen
    } else {
        SocketAddr::new(listen.ip(), listen.port().wrapping_add(1))
    };
    let sim = simulator::start_on(config, listen, eu)
        .await
        .map_err(|err| CommandError::SimulatorListen {
            detail: err.to_string(),
        })?;
    // Listen for Ctrl-C before announcing the URLs, so that an interrupt sent as soon as the
    // line is read is handled, not fatal.
    let ready = interrupt_listener()
        .map_err(|source| CommandError::Runtime {
            what: "listening for Ctrl-C",
            cause: source,
        })
        .and_then(|interrupted| {
            if let Some(plan) = &plan {
                write_plan(plan, &sim.base_url(Region::Us), &sim.base_url(Region::Eu))?;
            }
            Ok(interrupted)
        });
    let interrupted = match ready {
        Ok(interrupted) => interrupted,
        Err(err) => {
            sim.shutdown().await;
            return Err(err.into());
        }
    };
    let line = serde_json::json!({
        "us": sim.base_url(Region::Us),
        "eu": sim.base_url(Region::Eu),
        "stats": sim.stats_url(),
    });
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
    drop(stdout);
    interrupted.await;
    sim.shutdown().await;
    Ok(Finished::Clean)
}

/// A future that resolves on Ctrl-C (SIGINT), registered before it is returned.
#[cfg(unix)]
fn interrupt_listener() -> std::io::Result<impl Future<Output = ()>> {
    let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        signal.recv().await;
    })
}

#[cfg(not(unix))]
fn interrupt_listener() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
