//! Rehearsing a plan against an in-process simulator, driving the real binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nylas_migrate::api::Region;
use nylas_migrate::plan::{self, Plan};
use nylas_migrate::simulator::{
    self, JobSpeed, RunningSimulator, SimulatorConfig, World, world_for_plan,
};

use super::LOCALHOST;
use super::cli::Test;

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
    let sim = simulator::start(config, LOCALHOST).await.unwrap();
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
    /// A run of the binary with the plan's secrets in its environment.
    pub fn test(&self) -> Test {
        Test::new().envs(&self.secrets)
    }

    /// The command of [`Rehearsal::test`] with `args`, for a run the test watches.
    pub fn command(&self, args: &[&str]) -> Command {
        self.test().args(args).command()
    }

    pub fn plan_arg(&self) -> String {
        self.plan_path.display().to_string()
    }

    /// Runs a command to completion off the async runtime (the simulator keeps serving).
    pub async fn run(&self, args: &[&str]) -> Output {
        self.test().args(args).run_async().await
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

impl Rehearsal {
    /// Keeps the plan's state in PostgreSQL: the plan gets `state.postgres.url` from
    /// `MIGRATE_STATE_URL`, which holds `url`; `env` (the password) joins the secrets.
    pub fn state_in_postgres(&mut self, url: &str, env: Vec<(String, String)>) {
        let mut text = std::fs::read_to_string(&self.plan_path).unwrap();
        text.push_str("state:\n  postgres: { url: { env: MIGRATE_STATE_URL } }\n");
        std::fs::write(&self.plan_path, text).unwrap();
        self.secrets.insert("MIGRATE_STATE_URL".into(), url.into());
        self.secrets.extend(env);
    }

    /// Runs `apply --yes` with `NYLAS_MIGRATE_FAILPOINT=failpoint`, waits (at most `deadline`)
    /// for the binary to report on stderr that it reached it, and SIGKILLs it there
    /// (`Child::kill` sends SIGKILL on Unix). An error says how it went wrong: the process
    /// exited first (with its stderr), or the deadline passed.
    pub async fn apply_until_failpoint(
        &self,
        failpoint: &str,
        deadline: std::time::Duration,
    ) -> Result<(), String> {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        use std::sync::mpsc;

        let plan = self.plan_arg();
        let mut cmd = self.command(&["apply", &plan, "--yes"]);
        cmd.env("NYLAS_MIGRATE_FAILPOINT", failpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let failpoint = failpoint.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
            let stderr = child.stderr.take().expect("stderr is piped");
            // Lines arrive on a channel so that the wait has a deadline even if the binary
            // hangs without writing anything.
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let until = std::time::Instant::now() + deadline;
            let mut seen = Vec::new();
            loop {
                let left = until.saturating_duration_since(std::time::Instant::now());
                match rx.recv_timeout(left) {
                    Ok(line) if line.starts_with("failpoint reached: ") => {
                        child.kill().map_err(|e| format!("kill: {e}"))?;
                        child.wait().map_err(|e| format!("wait: {e}"))?;
                        return Ok(());
                    }
                    Ok(line) => seen.push(line),
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        let status = child.wait().map_err(|e| format!("wait: {e}"))?;
                        return Err(format!(
                            "{failpoint}: the run ended ({status}) before reaching the failpoint; stderr:\n{}",
                            seen.join("\n")
                        ));
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(format!(
                            "{failpoint}: not reached within {deadline:?}; stderr:\n{}",
                            seen.join("\n")
                        ));
                    }
                }
            }
        })
        .await
        .unwrap()
    }
}

/// What a migration leaves behind, without what differs from run to run (IDs, timestamps,
/// secrets), so that two runs of one plan on one world can be compared with `==`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndState {
    /// By v3 application ID.
    pub apps: std::collections::BTreeMap<String, AppEnd>,
    /// v2 account ID → its migration status.
    pub accounts: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppEnd {
    pub linked_v2_app: Option<String>,
    pub imported: bool,
    /// provider → (settings without `client_secret`, sorted scope), sorted by provider; a
    /// duplicate connector would show as two entries.
    pub connectors: Vec<(String, String, Vec<String>)>,
    /// (URL, sorted triggers), sorted; a duplicate destination shows as two entries.
    pub webhooks: Vec<(String, Vec<String>)>,
    /// (topic, sorted triggers) of the Pub/Sub channels, sorted; a duplicate channel shows as
    /// two entries.
    pub pubsub: Vec<(String, Vec<String>)>,
    /// (topic, role, sorted triggers) of the SNS channels, sorted.
    pub sns: Vec<(String, String, Vec<String>)>,
    /// (URL, platform) of the redirect URIs, sorted; a duplicate shows as two entries.
    pub redirect_uris: Vec<(String, String)>,
    /// (account ID, grant status), sorted; a duplicate grant shows as two entries.
    pub grants: Vec<(String, String)>,
}

pub fn end_state(world: &simulator::WorldView) -> EndState {
    let apps = world
        .apps
        .iter()
        .map(|(id, app)| {
            let mut connectors: Vec<(String, String, Vec<String>)> = app
                .connectors
                .iter()
                .map(|c| {
                    let mut settings = c.settings.clone().unwrap_or_default();
                    settings.remove("client_secret");
                    let mut scope = c.scope.clone().unwrap_or_default();
                    scope.sort();
                    (
                        c.provider.as_str().to_owned(),
                        serde_json::Value::Object(settings).to_string(),
                        scope,
                    )
                })
                .collect();
            connectors.sort();
            let mut webhooks: Vec<(String, Vec<String>)> = app
                .webhooks
                .iter()
                .map(|w| {
                    let mut triggers: Vec<String> =
                        w.trigger_types.iter().map(|t| format!("{t:?}")).collect();
                    triggers.sort();
                    (w.webhook_url.clone(), triggers)
                })
                .collect();
            webhooks.sort();
            let sorted = |triggers: &[nylas_migrate::api::TriggerType]| {
                let mut t: Vec<String> = triggers.iter().map(|t| t.to_string()).collect();
                t.sort();
                t
            };
            let mut pubsub: Vec<(String, Vec<String>)> = app
                .pubsub_channels
                .iter()
                .map(|c| (c.topic.clone(), sorted(&c.trigger_types)))
                .collect();
            pubsub.sort();
            let mut sns: Vec<(String, String, Vec<String>)> = app
                .sns_channels
                .iter()
                .map(|c| {
                    (
                        c.topic.clone(),
                        c.role_arn.clone(),
                        sorted(&c.trigger_types),
                    )
                })
                .collect();
            sns.sort();
            let mut redirect_uris: Vec<(String, String)> = app
                .redirect_uris
                .iter()
                .map(|r| (r.url.clone(), r.platform.platform().to_string()))
                .collect();
            redirect_uris.sort();
            let mut grants: Vec<(String, String)> = app
                .grants
                .iter()
                .map(|g| {
                    (
                        g.account_id.clone().unwrap_or_default(),
                        format!("{:?}", g.grant_status),
                    )
                })
                .collect();
            grants.sort();
            (
                id.clone(),
                AppEnd {
                    linked_v2_app: app.application.v2_application_id.clone(),
                    imported: app.imported,
                    connectors,
                    webhooks,
                    pubsub,
                    sns,
                    redirect_uris,
                    grants,
                },
            )
        })
        .collect();
    let accounts = world
        .accounts
        .iter()
        .map(|(id, status)| (id.clone(), format!("{status:?}")))
        .collect();
    EndState { apps, accounts }
}

/// Every step kind: links, imports, connector fixes, redirect URIs, webhooks and a webhook
/// test, Pub/Sub and SNS channels, single clones and three waves, in two pairs joined by
/// `after`. The webhooks' host is not on this machine: the simulator answers for it (verified,
/// test events acknowledged).
pub const EVERY_STEP_KIND: &str = r#"version: 1
name: crash
pairs:
  - name: alpha
    region: us
    v2: { app_id: alpha2v2app00000000000001, client_secret: { env: ALPHA_V2_SECRET } }
    v3: { app_id: 0a0a0a0a-0000-4000-8000-000000000001, api_key: { env: ALPHA_V3_KEY } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET }, tenant: common }
        scope: [Mail.Read, User.Read, offline_access]
    redirect_uris:
      - { url: https://app.example.com/alpha/callback, platform: web }
      - { url: com.example.alpha://callback, platform: ios, settings: { bundle_id: com.example.alpha } }
    webhooks:
      - url: https://hooks.example.com/alpha
        triggers: [grant.created, grant.expired]
        test: grant.created
    pubsub:
      - { topic: projects/crash-test/topics/alpha-events, triggers: [message.created, grant.expired] }
    sns:
      - topic: arn:aws:sns:us-east-1:123456789012:alpha-events
        role_arn: arn:aws:iam::123456789012:role/nylas-publisher
        triggers: [grant.expired]
    clone:
      single: [alpha0account000000000001, alpha0account000000000002, alpha0account000000000003]
      batches:
        - { name: google, providers: [google], mode: only_new }
        - { name: rest, mode: only_new }
  - name: beta
    region: eu
    after: [alpha]
    v2: { app_id: beta02v2app00000000000001, client_secret: { env: BETA_V2_SECRET } }
    v3: { app_id: 0b0b0b0b-0000-4000-8000-000000000002, api_key: { env: BETA_V3_KEY } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET }, tenant: common }
    webhooks:
      - url: https://hooks.example.com/beta
        triggers: [grant.deleted]
    pubsub:
      - { topic: projects/crash-test/topics/beta-events, triggers: [grant.deleted] }
    clone:
      single: [beta00account000000000001, beta00account000000000002]
      batches:
        - { name: everyone, mode: only_new }
"#;

/// The batch waves of [`EVERY_STEP_KIND`].
pub const WAVES: u64 = 3;

/// One pair and three waves behind a 5% gate, with no Microsoft connector fix: import leaves
/// Microsoft without credentials, so the first wave's Microsoft accounts fail, far above the
/// gate, and the later waves are held.
pub const GATED: &str = r#"version: 1
name: gated
pairs:
  - name: gated
    region: us
    v2: { app_id: gated2v2app00000000000001, client_secret: { env: G_V2 } }
    v3: { app_id: 0f0f0f0f-0000-4000-8000-000000000001, api_key: { env: G_V3 } }
    clone:
      batches:
        - { name: first, mode: all }
        - { name: second, mode: only_failed }
        - { name: third, mode: only_new }
      gate: { max_failed_ratio: 0.05 }
"#;

/// A run of the binary held at a failpoint until a file exists (see `engine::failpoint`).
pub struct HeldRun {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: Vec<String>,
    stdout: std::thread::JoinHandle<Vec<u8>>,
}

impl Rehearsal {
    /// Starts `args` with `NYLAS_MIGRATE_FAILPOINT=failpoint`: the run stops there until
    /// `resume` exists, then goes on.
    pub fn spawn_held(&self, args: &[&str], failpoint: &str, resume: &Path) -> HeldRun {
        use std::io::{BufRead, BufReader, Read};
        use std::process::Stdio;
        let mut cmd = self.command(args);
        cmd.env("NYLAS_MIGRATE_FAILPOINT", failpoint)
            .env("NYLAS_MIGRATE_FAILPOINT_RESUME", resume)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the binary starts");
        let err = child.stderr.take().expect("stderr is piped");
        let mut out = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdout = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            buf
        });
        HeldRun {
            child,
            lines,
            stderr: Vec::new(),
            stdout,
        }
    }
}

impl HeldRun {
    /// Waits (at most `deadline`) until the run reports that it reached its failpoint.
    pub fn wait_reached(&mut self, deadline: std::time::Duration) -> Result<(), String> {
        let until = std::time::Instant::now() + deadline;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("failpoint reached: ") => return Ok(()),
                Ok(line) => self.stderr.push(line),
                Err(_) => {
                    return Err(format!(
                        "the failpoint was not reached; stderr:\n{}",
                        self.stderr.join("\n")
                    ));
                }
            }
        }
    }

    /// Waits (at most `deadline`) until the run writes a line containing `needle` on stderr.
    pub fn wait_line(&mut self, needle: &str, deadline: std::time::Duration) -> Result<(), String> {
        let until = std::time::Instant::now() + deadline;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.stderr.push(line);
                    if found {
                        return Ok(());
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "no line with {needle:?}; stderr:\n{}",
                        self.stderr.join("\n")
                    ));
                }
            }
        }
    }

    /// The run's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILLs the run and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the run to end: its exit code, stdout and stderr.
    pub fn finish(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().expect("the run ends");
        while let Ok(line) = self.lines.recv() {
            self.stderr.push(line);
        }
        let stdout = self.stdout.join().unwrap_or_default();
        (
            status.code(),
            String::from_utf8_lossy(&stdout).into_owned(),
            self.stderr.join("\n"),
        )
    }
}
