//! Exit codes, with the real binary: 0 success, 1 every error, 2 only `plan
//! --detailed-exitcode` with changes pending, 64 usage errors, 130/143 a stopped `apply` (that
//! one in `cli_terminal`). Errors in setting up a command are user errors with a help line, and
//! a closed stderr never turns an error into a crash. The list is `ExitStatus`, and `--help`,
//! the man page, the README and the CI examples say the same.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::cli::Test;
use crate::support::{rehearsal, root, stderr, stdout};
use nylas_migrate::cli::ExitStatus;
use nylas_migrate::code::Code;

/// The binary with an empty environment but `NO_COLOR` and `vars` (no secret inherited).
fn run_with(args: &[&str], vars: &[(&str, &str)]) -> Output {
    Test::new()
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .run()
}

/// Panics unless `out` exited `code` with the diagnostic `expected` and a help line, and
/// nothing calls it a bug.
fn assert_user_error(what: &str, out: &Output, expected: Code) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(err.contains(expected.as_str()), "{what}: {err}");
    assert!(err.contains("help:"), "{what}: a help line\n{err}");
    assert!(!err.contains("bug"), "{what}: not a bug\n{err}");
}

const PLAN: &str = "examples/us-single-pair.yaml";

#[test]
fn plan_detailed_exitcode_with_an_unknown_flag_exits_64_not_2() {
    // 2 means "changes pending" and nothing else: a pipeline that treats 2 as "not a
    // failure" must never take a wrong command line for a preview.
    let out = Test::new()
        .args(["plan", PLAN, "--detailed-exitcode", "--no-such-flag"])
        .run();
    assert_ne!(out.status.code(), Some(2));
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("--no-such-flag"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_64_never_2() {
    let dir = tempfile::tempdir().unwrap();
    let same = dir.path().join("ids.csv");
    let same = same.to_str().unwrap();
    for (args, says) in [
        (
            vec!["plan", PLAN, "--detailed-exitcode", "--bogus"],
            "--bogus",
        ),
        (vec!["plan", "--detailed-exitcode"], "<PLAN>"),
        (vec!["no-such-command"], "no-such-command"),
        (vec![], "Usage:"),
        (vec!["apply", PLAN, "--concurrency", "0"], "--concurrency"),
        (vec!["graph", PLAN, "--format", "svg"], "--format"),
        (vec!["plan", PLAN, "--rerun-wave", "everyone"], "PAIR/NAME"),
        (
            vec!["--output", "json", "man"],
            Code::CliNoJsonOutput.as_str(),
        ),
        (
            vec!["--output", "markdown", "apply", PLAN],
            Code::CliNoMarkdownOutput.as_str(),
        ),
        // No terminal to ask on, and no --yes.
        (vec!["apply", PLAN], Code::CliConfirmationRequired.as_str()),
        (
            vec![
                "translate",
                PLAN,
                "--resource-types",
                "messages",
                "--out",
                same,
                "--errors",
                same,
            ],
            Code::CliSameFile.as_str(),
        ),
    ] {
        let out = run_with(&args, &[]);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    for args in [vec!["--help"], vec!["--version"], vec!["plan", "--help"]] {
        let out = Test::new().args(&args).run();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!stdout(&out).is_empty(), "{args:?}");
    }
}

#[test]
fn errors_exit_1_and_a_clean_run_0() {
    let out = Test::new().args(["validate", PLAN]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = Test::new()
        .args(["validate", "examples/invalid/unknown-region.yaml"])
        .run();
    assert_eq!(out.status.code(), Some(1));
    // Offline, every step is pending in a new state folder: changes, so 2 with the flag…
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let offline = ["plan", PLAN, "--offline", "--state", state];
    let out = Test::new()
        .args([&offline[..], &["--detailed-exitcode"]].concat())
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // …and 0 without it.
    assert_eq!(Test::new().args(offline).run().status.code(), Some(0));
}

const ONE_PAIR: &str = r#"version: 1
name: exit-codes
pairs:
  - name: solo
    region: us
    v2: { app_id: exit02v2app00000000000001, client_secret: { env: SOLO_V2_SECRET } }
    v3: { app_id: 0c0c0c0c-0000-4000-8000-0000000000e1, api_key: { env: SOLO_V3_KEY } }
    clone:
      batches:
        - { name: everyone, mode: only_new }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_detailed_exitcode_is_2_with_changes_and_0_once_applied() {
    let r = rehearsal::start(ONE_PAIR, 20, |_, _| {}).await;
    assert_eq!(r.plan_exit().await, Some(2), "changes pending");
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(r.plan_exit().await, Some(0), "nothing to do");
    // A plan step that cannot run is an error, never "changes pending".
    let plan = r.plan_arg();
    let out = r
        .run(&[
            "plan",
            &plan,
            "--detailed-exitcode",
            "--rerun-wave",
            "solo/nope",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    r.sim.shutdown().await;
}

#[test]
fn setup_errors_are_user_errors_with_a_help_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let file = file.to_str().unwrap();

    // An unreadable plan file, for every command that reads one.
    for command in ["validate", "plan", "status"] {
        let out = run_with(&[command, "no/such/plan.yaml"], &[]);
        assert_user_error(command, &out, Code::PlanUnreadable);
    }
    // --state names a file.
    let out = run_with(&["status", PLAN, "--state", file], &[]);
    assert_user_error("status --state FILE", &out, Code::StateNotAFolder);
    let out = run_with(&["plan", PLAN, "--offline", "--state", file], &[]);
    assert_user_error("plan --state FILE", &out, Code::StateNotAFolder);
    // A state folder that cannot be created (under a file).
    let under = format!("{file}/state");
    let out = run_with(&["apply", PLAN, "--yes", "--state", &under], &[]);
    assert_user_error("apply --state FILE/state", &out, Code::StateIo);
    // A journal that is not one.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("journal.sqlite"), "not a database, not at all").unwrap();
    let out = run_with(
        &[
            "status",
            PLAN,
            "--offline",
            "--state",
            state.to_str().unwrap(),
        ],
        &[],
    );
    assert_user_error("a broken journal", &out, Code::StateJournal);

    // Secrets: not set, empty, an unreadable file. Each is named; none needs the network.
    let fresh = dir.path().join("fresh");
    let fresh = fresh.to_str().unwrap();
    let out = run_with(&["plan", PLAN, "--state", fresh], &[]);
    assert_user_error("no secrets", &out, Code::SecretsUnresolved);
    assert!(stderr(&out).contains(Code::SecretsMissingEnv.as_str()));
    assert!(stderr(&out).contains("ACME_V3_API_KEY"), "{}", stderr(&out));
    let empty = [("ACME_V2_CLIENT_SECRET", ""), ("ACME_V3_API_KEY", "")];
    let out = run_with(&["plan", PLAN, "--state", fresh], &empty);
    assert_user_error("empty secrets", &out, Code::SecretsEmptyEnv);
    let text = std::fs::read_to_string(root().join(PLAN)).unwrap();
    let with_file = dir.path().join("plan.yaml");
    std::fs::write(
        &with_file,
        text.replace(
            "{ env: ACME_V2_CLIENT_SECRET }",
            "{ file: no-such-secret.txt }",
        ),
    )
    .unwrap();
    let out = run_with(
        &["plan", with_file.to_str().unwrap(), "--state", fresh],
        &[("ACME_V3_API_KEY", "k")],
    );
    assert_user_error("a secret file", &out, Code::SecretsUnreadableFile);
    assert!(!Path::new(fresh).exists(), "plan creates no state folder");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let out = Test::new()
            .args(["plan", PLAN, "--state", fresh])
            .env_clear()
            .env("ACME_V3_API_KEY", "k")
            .env(
                "ACME_V2_CLIENT_SECRET",
                std::ffi::OsStr::from_bytes(b"caf\xe9"),
            )
            .run();
        assert_user_error("a secret not UTF-8", &out, Code::SecretsNotUtf8Env);
    }

    // The state folder's lock: held by another apply (this process), or not a file.
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let held = nylas_migrate::state::StateLock::acquire(&locked).unwrap();
    let out = run_with(
        &["apply", PLAN, "--yes", "--state", locked.to_str().unwrap()],
        &[],
    );
    assert_user_error("a held lock", &out, Code::StateLocked);
    assert!(
        stderr(&out).contains(&format!("process {}", std::process::id())),
        "names the holder: {}",
        stderr(&out)
    );
    drop(held);
    let odd = dir.path().join("odd");
    std::fs::create_dir_all(odd.join("lock")).unwrap();
    let out = run_with(
        &["apply", PLAN, "--yes", "--state", odd.to_str().unwrap()],
        &[],
    );
    assert_user_error("a lock that is a folder", &out, Code::StateLockFailed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_is_not_the_contract_is_an_api_error() {
    // A server that answers 200 with something that is not a Nylas v3 application.
    let app = axum::Router::new().fallback(|| async {
        axum::Json(serde_json::json!({"request_id": "r1", "data": "not an application"}))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    let text = std::fs::read_to_string(root().join(PLAN)).unwrap();
    std::fs::write(
        &plan,
        format!("{text}\nregions:\n  us: {{ api_url: \"{url}\" }}\n"),
    )
    .unwrap();
    let plan = plan.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        run_with(
            &["plan", &plan],
            &[("ACME_V2_CLIENT_SECRET", "s"), ("ACME_V3_API_KEY", "k")],
        )
    })
    .await
    .unwrap();
    assert_user_error("a wrong answer", &out, Code::ApiDecode);
    server.abort();
}

#[test]
fn names_the_plan_does_not_have_exit_1() {
    // The form of a value is the command line's (64, above); a name the plan does not have
    // is an error like any other, with the names it does have.
    let out = run_with(&["verify", PLAN, "--pair", "acme-typo"], &[]);
    assert_user_error("verify --pair", &out, Code::CliNoSuchPair);
    assert!(stderr(&out).contains("acme-prod"), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("ids.csv");
    let out = run_with(
        &[
            "translate",
            PLAN,
            "--resource-types",
            "messages",
            "--out",
            out_file.to_str().unwrap(),
            "--pair",
            "acme-typo",
        ],
        &[],
    );
    assert_user_error("translate --pair", &out, Code::CliNoSuchPair);
    for (flag, value) in [
        ("--rerun-wave", "acme-prod/nope"),
        ("--rerun-clone", "acme-prod/nobody"),
        ("--rerun-link", "acme-typo"),
    ] {
        let out = run_with(&["plan", PLAN, flag, value], &[]);
        assert_user_error(flag, &out, Code::CliNoSuchStep);
    }
}

#[test]
fn output_files_that_cannot_be_written_are_user_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let under = file.join("pages");
    let out = run_with(&["man", "--dir", under.to_str().unwrap()], &[]);
    assert_user_error("man --dir", &out, Code::CliWriteFailed);
    let world = file.join("world.yaml");
    let out = run_with(
        &[
            "simulate",
            "--accounts",
            "10",
            "--write-world",
            world.to_str().unwrap(),
        ],
        &[],
    );
    assert_user_error("simulate --write-world", &out, Code::CliWriteFailed);
}

/// Runs the binary like [`run_with`], killing it if it runs longer than `limit` (a simulator
/// that started after all would serve until stopped).
fn run_for_at_most(args: &[&str], limit: std::time::Duration) -> Output {
    Test::new()
        .args(args)
        .env_clear()
        .run_within(limit)
        .unwrap_or_else(|| panic!("{args:?} still ran after {limit:?}"))
}

#[test]
fn simulate_errors_are_user_errors() {
    let limit = std::time::Duration::from_secs(60);
    let out = run_for_at_most(&["simulate", "--world", "no/such/world.yaml"], limit);
    assert_user_error("simulate --world", &out, Code::SimulatorWorld);
    // A port that is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let out = run_for_at_most(
        &["simulate", "--accounts", "10", "--listen", &listen],
        limit,
    );
    assert_user_error("simulate --listen", &out, Code::SimulatorListen);
    let out = run_with(&["simulate", "--speed", "0"], &[]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn a_stderr_whose_reader_is_gone_does_not_turn_an_error_into_a_crash() {
    // Rust ignores SIGPIPE: writing to a pipe nobody reads is an EPIPE error, on which
    // `eprintln!` panics (exit 101). Errors and notes must be lost quietly instead.
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("pages");
    for (args, expected) in [
        (vec!["validate", "no/such/plan.yaml"], 1),
        (vec!["apply", PLAN], 64),
        (vec!["man", "--dir", pages.to_str().unwrap()], 0),
        (vec!["--bogus"], 64),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Test::new()
            .args(&args)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(writer)
            .status()
            .unwrap();
        assert_eq!(out.code(), Some(expected), "{args:?}: {out:?}");
    }
    assert!(pages.join("nylas-migrate.1").exists());
}

/// The codes of the README's "Exit codes" table, in order.
fn readme_exit_codes() -> Vec<u8> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("### Exit codes\n")
        .nth(1)
        .expect("an Exit codes section");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cell = row.trim_start_matches('|').split('|').next().unwrap();
            cell.trim().parse().unwrap_or_else(|_| panic!("{row}"))
        })
        .collect()
}

#[test]
fn every_exit_status_is_documented_in_help_man_and_readme() {
    let codes: Vec<u8> = ExitStatus::ALL.iter().map(|s| s.code()).collect();
    assert_eq!(codes, [0, 1, 2, 3, 64, 130, 143]);
    assert_eq!(readme_exit_codes(), codes, "README.md, ### Exit codes");
    let help = stdout(&Test::new().args(["plan", "--help"]).run());
    let man = stdout(&Test::new().args(["man"]).run());
    let exit_status = man.split(".SH \"EXIT STATUS\"").nth(1).unwrap();
    let exit_status = exit_status.split(".SH ").next().unwrap();
    for status in ExitStatus::ALL {
        let code = status.code();
        assert!(
            help.contains(&format!("\n  {code:<3}  {}", status.meaning())),
            "--help: {code}\n{help}"
        );
        assert!(
            exit_status.contains(&format!("\\fB{code}\\fR")),
            "man: {code}\n{exit_status}"
        );
    }
}

/// The script of the preview step of each CI example.
fn preview_scripts() -> Vec<(&'static str, String)> {
    let load = |file: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        nylas_migrate::yaml::from_str(&text).unwrap()
    };
    let github = load("examples/ci/github-actions.yml");
    let step = github["jobs"]["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("--detailed-exitcode"))
        })
        .expect("a preview step");
    let gitlab = load("examples/ci/gitlab-ci.yml");
    let lines: Vec<&str> = gitlab["plan"]["script"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    vec![
        ("github", step["run"].as_str().unwrap().to_owned()),
        ("gitlab", lines.join("\n")),
    ]
}

#[cfg(unix)]
#[test]
fn the_ci_examples_pass_on_0_and_2_and_fail_on_every_other_code() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // A stand-in for the tool that exits with the code it is given.
    let fake = dir.path().join("nylas-migrate");
    std::fs::write(&fake, "#!/bin/sh\necho preview\nexit \"$FAKE_CODE\"\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (ci, script) in preview_scripts() {
        for status in ExitStatus::ALL {
            let code = status.code();
            // As both run their scripts: bash, stopping at the first failing command.
            let out = Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("FAKE_CODE", code.to_string())
                .env("PLAN", "plan.yaml")
                .env("STATE", "state")
                .env("GITHUB_STEP_SUMMARY", dir.path().join("summary.md"))
                .output()
                .unwrap();
            let passed = out.status.success();
            assert_eq!(
                passed,
                matches!(status, ExitStatus::Success | ExitStatus::ChangesPending),
                "{ci} with exit {code}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_not_confirmed_exits_1_and_writes_nothing() {
    use std::io::Write;
    let r = rehearsal::start(ONE_PAIR, 20, |_, _| {}).await;
    // stdin on a pseudo terminal, so that apply asks; the answer is already typed.
    let (master, slave) = crate::support::pseudo_terminal();
    let mut terminal = std::fs::File::from(master);
    terminal.write_all(b"no\n").unwrap();
    let plan = r.plan_arg();
    let mut cmd = r.command(&["apply", &plan]);
    cmd.stdin(Stdio::from(slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    drop(terminal);
    assert!(
        stdout(&out).contains("Apply these changes?"),
        "{}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(Code::CliCancelled.as_str()),
        "{}",
        stderr(&out)
    );
    assert_eq!(r.sim.stats().writes(), 0, "nothing was applied");
    r.sim.shutdown().await;
}
