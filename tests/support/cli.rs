//! [`Test`]: the one way the tests run the `nylas-migrate` binary, as a builder in the manner
//! of casey/just's tests.
//!
//! ```ignore
//! let out = Test::new()
//!     .args(["--output", "json", "validate", "examples/production.yaml"])
//!     .status(0)
//!     .stdout_regex(r#"\{"event":"validation",.*\n"#)
//!     .run();
//! ```
//!
//! It runs from the repository root, without colours (`NO_COLOR`), and with none of the
//! `NYLAS_MIGRATE_*` variables of the environment the tests run in: a developer's settings or a
//! failpoint never reach a test by accident, and what a test needs it passes with
//! [`Test::env`]. Nothing is set in the test process itself (its tests share it).
//!
//! The expectations set on the builder are checked by [`Test::run`], which panics with the
//! command line, the exit status and both outputs when one is not met, and returns the output
//! for further checks. Whole outputs are compared with snapshots (see `super::snapshot`).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;

use super::root;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_nylas-migrate");

#[must_use]
pub struct Test {
    args: Vec<OsString>,
    /// Set (`Some`) or removed (`None`), in order.
    env: Vec<(OsString, Option<OsString>)>,
    current_dir: PathBuf,
    stdin: Option<Vec<u8>>,
    cpu_limit: Option<Duration>,
    /// Start from an empty environment (then only `NO_COLOR` and what [`Test::env`] sets).
    env_clear: bool,
    status: Option<i32>,
    stdout: Option<Expected>,
    stderr: Option<Expected>,
}

enum Expected {
    Exactly(String),
    Matching(Regex),
}

impl Expected {
    fn check(&self, what: &str, actual: &str) -> Option<String> {
        match self {
            Expected::Exactly(want) if want != actual => Some(format!(
                "{what} is not\n{want}\n--- end of the expected {what}"
            )),
            Expected::Matching(re) if !re.is_match(actual) => {
                Some(format!("{what} does not match /{re}/"))
            }
            _ => None,
        }
    }
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Test {
        Test {
            args: Vec::new(),
            env: vec![("NO_COLOR".into(), Some("1".into()))],
            current_dir: root(),
            stdin: None,
            cpu_limit: None,
            env_clear: false,
            status: None,
            stdout: None,
            stderr: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Test {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I>(mut self, args: I) -> Test
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable of the run (the test process's own environment is untouched).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Test {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn envs<I, K, V>(self, vars: I) -> Test
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        vars.into_iter().fold(self, |test, (k, v)| test.env(k, v))
    }

    /// A variable the run must not see (one of the test process's environment, or one set on
    /// this builder before).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Test {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Nothing inherited from the test process's environment (no `PATH`, no `HOME`, no
    /// secret): only `NO_COLOR` and the variables set with [`Test::env`].
    pub fn env_clear(mut self) -> Test {
        self.env_clear = true;
        self
    }

    /// Where the binary runs (default: the repository root).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Test {
        self.current_dir = dir.as_ref().to_owned();
        self
    }

    /// What the binary reads on standard input (default: nothing, at once end of file).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Test {
        self.stdin = Some(input.into());
        self
    }

    /// The most processor time the binary may use (whole seconds, at least one): past it the
    /// kernel stops it (SIGXCPU, `RLIMIT_CPU`). Unlike a deadline on the clock, this does not
    /// depend on what else the machine runs, so it bounds work that must stay small.
    pub fn cpu_limit(mut self, limit: Duration) -> Test {
        self.cpu_limit = Some(limit);
        self
    }

    /// The exit code [`Test::run`] requires.
    pub fn status(mut self, code: i32) -> Test {
        self.status = Some(code);
        self
    }

    /// The whole standard output [`Test::run`] requires.
    pub fn stdout(mut self, expected: impl Into<String>) -> Test {
        self.stdout = Some(Expected::Exactly(expected.into()));
        self
    }

    /// The whole standard error [`Test::run`] requires.
    pub fn stderr(mut self, expected: impl Into<String>) -> Test {
        self.stderr = Some(Expected::Exactly(expected.into()));
        self
    }

    /// A pattern the whole standard output must match (anchored at both ends; `.` matches line
    /// ends too).
    pub fn stdout_regex(mut self, pattern: &str) -> Test {
        self.stdout = Some(Expected::Matching(whole(pattern)));
        self
    }

    /// A pattern the whole standard error must match (anchored, as [`Test::stdout_regex`]).
    pub fn stderr_regex(mut self, pattern: &str) -> Test {
        self.stderr = Some(Expected::Matching(whole(pattern)));
        self
    }

    /// The command, for a test that must watch or signal the process while it runs (a terminal,
    /// a kill); expectations set on the builder are not checked then.
    pub fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        if self.env_clear {
            command.env_clear();
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("NYLAS_MIGRATE_") {
                command.env_remove(key);
            }
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command.args(&self.args).current_dir(&self.current_dir);
        if let Some(limit) = self.cpu_limit {
            limit_cpu(&mut command, limit);
        }
        command
    }

    /// Runs the binary to its end and checks what was set; returns its output.
    #[track_caller]
    pub fn run(self) -> Output {
        let output = self.execute(None).expect("a run without a deadline ends");
        self.check(&output);
        output
    }

    /// [`Test::run`], killing the binary if it has not ended `within` that time: then `None`
    /// (a hang), and nothing is checked.
    #[track_caller]
    pub fn run_within(self, within: Duration) -> Option<Output> {
        let output = self.execute(Some(within))?;
        self.check(&output);
        Some(output)
    }

    /// [`Test::run`] off an async runtime's threads, so that servers on the runtime (a
    /// simulator) keep answering while the binary runs. The binary starts at once; the future
    /// waits for its end and checks it.
    #[track_caller]
    pub fn run_async(self) -> impl Future<Output = Output> {
        let caller = std::panic::Location::caller();
        let run = tokio::task::spawn_blocking(move || {
            let output = self.execute(None).expect("a run without a deadline ends");
            (self, output)
        });
        async move {
            let (test, output) = run.await.expect("the binary's run does not panic");
            test.check_from(&output, caller);
            output
        }
    }

    fn execute(&self, within: Option<Duration>) -> Option<Output> {
        let mut command = self.command();
        command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            let mut pipe = pipe.expect("the output is piped");
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
        if let Some(input) = self.stdin.clone() {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            // The binary may exit before reading everything: that is for the test to judge.
            std::thread::spawn(move || pipe.write_all(&input));
        }
        let status = match within {
            None => child.wait().expect("the binary's run ends"),
            Some(within) => {
                let deadline = Instant::now() + within;
                loop {
                    if let Some(status) = child.try_wait().expect("the binary can be waited for") {
                        break status;
                    }
                    if Instant::now() >= deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        return None;
                    }
                    // Only how often the deadline is looked at; nothing waits for it to pass.
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        };
        Some(Output {
            status,
            stdout: stdout.join().expect("stdout is read"),
            stderr: stderr.join().expect("stderr is read"),
        })
    }

    #[track_caller]
    fn check(&self, output: &Output) {
        self.check_from(output, std::panic::Location::caller());
    }

    fn check_from(&self, output: &Output, caller: &std::panic::Location<'_>) {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut failures = Vec::new();
        if let Some(code) = self.status
            && output.status.code() != Some(code)
        {
            failures.push(format!("exit status is not {code}"));
        }
        failures.extend(
            self.stdout
                .as_ref()
                .and_then(|e| e.check("stdout", &stdout)),
        );
        failures.extend(
            self.stderr
                .as_ref()
                .and_then(|e| e.check("stderr", &stderr)),
        );
        if !failures.is_empty() {
            panic!(
                "{caller}: `nylas-migrate {}` ({}): {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n---",
                self.args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                output.status,
                failures.join("; ")
            );
        }
    }
}

/// Sets `RLIMIT_CPU` in the child before it runs the binary.
#[cfg(unix)]
fn limit_cpu(command: &mut Command, limit: Duration) {
    use std::os::unix::process::CommandExt;
    let seconds = limit.as_secs().max(1) as libc::rlim_t;
    let rlimit = libc::rlimit {
        rlim_cur: seconds,
        // SIGKILL a second later, should SIGXCPU be caught.
        rlim_max: seconds + 1,
    };
    // SAFETY: runs in the forked child before exec, and calls only setrlimit, which is
    // async-signal-safe; it touches no memory of the parent's.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_CPU, &rlimit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// Elsewhere only the deadline of [`Test::run_within`] bounds a run.
#[cfg(not(unix))]
fn limit_cpu(_: &mut Command, _: Duration) {}

fn whole(pattern: &str) -> Regex {
    Regex::new(&format!("(?s)^(?:{pattern})$"))
        .unwrap_or_else(|e| panic!("bad pattern /{pattern}/: {e}"))
}
