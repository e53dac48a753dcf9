//! The command line as a user meets it, on a terminal and in a pipeline: how it ends (closed
//! pipes, Ctrl-C), what it prints for people (escaped, aligned, pluralised), shell completions,
//! the man page, and going from the simulator to a plan.

use crate::support;
use crate::support::cli::Test;

use std::process::Stdio;

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::{stderr, stdout};

/// One pair, two test accounts, two waves.
const ONE_PAIR: &str = r#"version: 1
name: terminal
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2_SECRET } }
    v3: { app_id: 0c0c0c0c-0000-4000-8000-000000000003, api_key: { env: SOLO_V3_KEY } }
    webhooks:
      - url: https://hooks.example.com/solo
        triggers: [grant.created]
    clone:
      single: [solo00account000000000001, solo00account000000000002]
      batches:
        - { name: google, providers: [google], mode: only_new }
        - { name: rest, mode: only_new }
"#;

async fn one_pair() -> Rehearsal {
    rehearsal::start(ONE_PAIR, 40, |_, _| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_server_is_an_error_not_a_silent_death() {
    let r = one_pair().await;
    // The simulator speaks plain http: a TLS handshake with it fails, and the client's writes
    // to the socket the server closed get EPIPE. That must be an error with a message.
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    std::fs::write(&r.plan_path, text.replace("http://", "https://")).unwrap();
    let plan = r.plan_arg();
    for args in [
        vec!["plan", plan.as_str()],
        vec!["apply", plan.as_str(), "--yes"],
    ] {
        let out = r.run(&args).await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} must exit 1 (a signal gives no code; 141 is SIGPIPE through a shell): {:?}\n{}",
            out.status,
            stderr(&out)
        );
        assert!(!stderr(&out).trim().is_empty(), "{args:?} said nothing");
    }
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    // Enough output that the writes cannot all fit in the pipe before its reader is gone.
    let mut plan = String::from(
        "version: 1\nname: big\npairs:\n  - name: big\n    region: us\n    v2: { app_id: big0v2, client_secret: { env: A } }\n    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: B } }\n    clone:\n      single:\n",
    );
    for i in 0..3000 {
        plan.push_str(&format!("        - acct{i:021}\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    std::fs::write(&path, plan).unwrap();
    let mut child = Test::new()
        .args(["graph", path.to_str().unwrap()])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "ends as Unix tools do on a closed pipe: {:?}",
            out.status
        );
    }
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a hostile or broken API (or a proxy in between) could answer: control sequences that
/// clear the screen and retitle the terminal, in every string the runner shows.
const HOSTILE: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[1Aforged";

/// A server that answers like the Nylas API, but with [`HOSTILE`] in its strings: the v3
/// application is linked to a v2 app whose ID is hostile, a running job's ID is hostile, a grant
/// has a hostile email, and every other request gets a 400 whose message is hostile.
async fn hostile_api() -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::get;
    use serde_json::json;
    let app = axum::Router::new()
        .route(
            "/v3/applications",
            get(|| async {
                axum::Json(json!({"request_id": HOSTILE, "data": {
                    "application_id": "0c0c0c0c-0000-4000-8000-000000000003",
                    "region": "us",
                    "v2_application_id": HOSTILE,
                }}))
            }),
        )
        .route(
            "/v3/migration-tools/jobs",
            get(|| async {
                axum::Json(json!({"request_id": "r", "data": [{
                    "job_id": HOSTILE, "type": "migration",
                    "public_application_id": "0c0c0c0c-0000-4000-8000-000000000003",
                    "status": "running", "count_all": 10, "count_success": 1,
                    "count_failed": 0, "count_warning": 0, "created_at": 1, "updated_at": 2,
                }]}))
            }),
        )
        .route(
            "/v3/grants",
            get(|| async {
                axum::Json(
                    json!({"request_id": "r", "limit": 200, "offset": 0, "data": [{
                        "id": HOSTILE, "provider": HOSTILE, "created_at": 1, "scope": [],
                        "account_id": HOSTILE, "email": HOSTILE,
                    }]}),
                )
            }),
        )
        .fallback(|| async {
            (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({"request_id": HOSTILE,
                    "error": {"type": HOSTILE, "message": HOSTILE}})),
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, server)
}

fn assert_no_raw_escape(what: &str, out: &std::process::Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !bytes.iter().any(|b| *b == 0x1b || *b == 0x07),
            "{what}: raw control character on {stream}:\n{}",
            text.escape_debug()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_human_output_passes_on_control_characters_from_the_api_or_the_journal() {
    let (url, server) = hostile_api().await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\nname: hostile\nregions:\n  us: {{ api_url: \"{url}\" }}\npairs:\n  - name: solo\n    region: us\n    v2: {{ app_id: solo02v2app00000000000001, client_secret: {{ env: SOLO_V2_SECRET }} }}\n    v3: {{ app_id: 0c0c0c0c-0000-4000-8000-000000000003, api_key: {{ env: SOLO_V3_KEY }} }}\n    clone:\n      batches:\n        - {{ name: everyone, mode: only_new }}\n"
        ),
    )
    .unwrap();
    let plan = plan.to_str().unwrap().to_owned();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap().to_owned();
    let run = |args: Vec<String>| {
        Test::new()
            .args(args)
            .env("SOLO_V2_SECRET", "v2-secret")
            .env("SOLO_V3_KEY", "v3-key")
            .run_async()
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // The preview quotes the hostile v2 app ID (a conflict) and the hostile job.
    let preview = run(args(&["plan", &plan, "--state", &state])).await;
    assert_eq!(preview.status.code(), Some(1), "{}", stderr(&preview));
    assert_no_raw_escape("plan", &preview);
    assert!(
        support::stdout(&preview).contains("\\u{1b}]0;owned"),
        "shown escaped:\n{}\n{}",
        support::stdout(&preview),
        stderr(&preview)
    );

    // Apply journals the conflict (with the hostile text) and shows it as it goes and in its
    // summary; every other request gets the hostile error message.
    let applied = run(args(&["apply", &plan, "--state", &state, "--yes"])).await;
    assert_eq!(applied.status.code(), Some(1), "{}", stderr(&applied));
    assert_no_raw_escape("apply", &applied);

    // A request the server refuses with a hostile error message (webhooks are not served).
    let with_webhook = dir.path().join("webhook.yaml");
    std::fs::write(
        &with_webhook,
        std::fs::read_to_string(&plan).unwrap().replace(
            "    clone:",
            "    webhooks:\n      - { url: https://hooks.example.com/solo, triggers: [grant.created] }\n    clone:",
        ),
    )
    .unwrap();
    let refused = run(args(&[
        "plan",
        with_webhook.to_str().unwrap(),
        "--state",
        &state,
    ]))
    .await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("HTTP 400"),
        "{}",
        stderr(&refused)
    );
    assert_no_raw_escape("a refused request", &refused);

    // The journal: what a tampered or corrupted state folder could hold, in every field the
    // outputs show. Status and the previews read it, online and offline.
    {
        use nylas_migrate::graph::StepId;
        use nylas_migrate::state::journal::{JobCounts, Phase, RunOutcome, StepRecord, StepStatus};
        let journal = nylas_migrate::state::Journal::open(std::path::Path::new(&state)).unwrap();
        let run_id = journal.start_run(HOSTILE, HOSTILE).unwrap();
        let hostile = StepRecord {
            app_id: Some("0c0c0c0c-0000-4000-8000-000000000003".into()),
            request_id: Some(HOSTILE.into()),
            object_id: Some(HOSTILE.into()),
            snapshot_job_id: Some(HOSTILE.into()),
            clone_job_id: Some(HOSTILE.into()),
            job_status: Some(nylas_migrate::api::JobStatus::Failed),
            counts: Some(JobCounts::default()),
            error: Some(HOSTILE.into()),
            ..StepRecord::default()
        };
        for (step, status) in [
            ("solo/import", StepStatus::Failed),
            ("solo/batch/everyone", StepStatus::Running),
        ] {
            journal
                .record(
                    run_id,
                    &StepId::new_raw(step),
                    Phase::Outcome,
                    status,
                    &hostile,
                )
                .unwrap();
        }
        journal.finish_run(run_id, RunOutcome::Interrupted).unwrap();
    }
    for (list, quotes_it) in [
        (
            vec!["status", plan.as_str(), "--state", state.as_str()],
            true,
        ),
        (vec!["status", &plan, "--state", &state, "--offline"], true),
        (vec!["plan", &plan, "--state", &state, "--offline"], false),
        (vec!["plan", plan.as_str(), "--state", state.as_str()], true),
        (vec!["apply", &plan, "--state", &state, "--yes"], true),
        (vec!["report", &plan, "--state", &state], true),
    ] {
        let out = run(args(&list)).await;
        assert_no_raw_escape(&list.join(" "), &out);
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !quotes_it || shown.contains("\\u{1b}]0;owned"),
            "{list:?} shows the hostile text, escaped:\n{shown}"
        );
    }
    // A typed value edited into something else (a run's outcome here) is an error that
    // quotes it, escaped: never read as some other value, never raw on the terminal.
    {
        let conn = rusqlite::Connection::open(std::path::Path::new(&state).join("journal.sqlite"))
            .unwrap();
        conn.execute("UPDATE runs SET outcome = ?1", [HOSTILE])
            .unwrap();
    }
    let out = run(args(&["status", &plan, "--state", &state])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_no_raw_escape("status of an edited journal", &out);
    assert!(
        stderr(&out).contains("state::journal-unknown-value")
            && stderr(&out).contains("run outcome")
            && stderr(&out).contains("\\u{1b}]0;owned"),
        "{}",
        stderr(&out)
    );
    server.abort();
}

#[test]
fn a_plan_with_an_escape_sequence_in_a_webhook_url_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "version: 1\nname: x\npairs:\n  - name: p\n    region: us\n    v2: { app_id: abc, client_secret: { env: A } }\n    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: B } }\n    webhooks:\n      - url: \"https://hooks.example.com/\\e[2K\\rlooks-fine\"\n        triggers: [grant.created]\n",
    )
    .unwrap();
    for output in ["human", "json"] {
        let out = Test::new()
            .args(["--output", output, "validate", plan.to_str().unwrap()])
            .status(1)
            .run();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains("plan::control-character"), "{all}");
        assert!(all.contains("U+001B (escape)"), "{all}");
        assert_no_raw_escape(output, &out);
    }
    // Human output points at the line and column.
    let out = Test::new().args(["validate", plan.to_str().unwrap()]).run();
    assert!(stderr(&out).contains("plan.yaml:9:14"), "{}", stderr(&out));
}

/// Whether `shell` can be run; if not, says so (the test is skipped, not passed silently).
fn shell_available(shell: &str) -> bool {
    let found = std::process::Command::new(shell)
        .arg("-c")
        .arg("exit 0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipping: {shell} is not installed here (Debian: apt-get install {shell})");
    }
    found
}

/// Runs `program args` with a deadline, killing it past that; its stdout.
fn run_shell(program: &str, args: &[&str], deadline: std::time::Duration) -> String {
    let mut child = std::process::Command::new(program)
        .args(args)
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + deadline;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The generated completion script for `shell`, written into a fresh folder as `name`.
fn completion_script(shell: &str, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let out = Test::new().args(["completions", shell]).status(0).run();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    (dir, path)
}

const SHELL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Every completion bash offers for the words typed so far (the last one being completed), as
/// the shell itself computes them: the script is sourced, and the function it registers for
/// `nylas-migrate` runs with `COMP_WORDS` and `COMP_CWORD` set as readline sets them.
fn bash_completions(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let previous = if cword > 0 { words[cword - 1] } else { "" };
    let program = format!(
        "source '{}'\n\
         fn=$(complete -p nylas-migrate | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\
         COMP_WORDS=({})\nCOMP_CWORD={cword}\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
         \"$fn\" nylas-migrate '{}' '{previous}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words[cword],
    );
    run_shell(
        "bash",
        &["--norc", "--noprofile", "-c", &program],
        SHELL_DEADLINE,
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn bash_completes_flags_and_values_past_the_first_word() {
    if !shell_available("bash") {
        return;
    }
    let (_dir, script) = completion_script("bash", "nylas-migrate.bash");
    let flags = bash_completions(&script, &["nylas-migrate", "apply", "--"]);
    for flag in ["--yes", "--concurrency", "--fail-fast", "--state"] {
        assert!(flags.iter().any(|f| f == flag), "{flag} in {flags:?}");
    }
    let values = bash_completions(
        &script,
        &["nylas-migrate", "graph", "p.yaml", "--format", ""],
    );
    assert_eq!(values, ["dot", "mermaid"]);
    let commands = bash_completions(&script, &["nylas-migrate", "ap"]);
    assert_eq!(commands, ["apply"]);
    let shells = bash_completions(&script, &["nylas-migrate", "completions", "f"]);
    assert_eq!(shells, ["fish"]);
}

/// Every completion zsh offers after typing `line` and Tab, in an interactive zsh on a pseudo
/// terminal (zpty) with the completion system loaded and the script on `fpath`: `compadd` is
/// wrapped to print each match, and the first completion ends the shell.
fn zsh_completions(dir: &std::path::Path, line: &str) -> Vec<String> {
    let driver = dir.join("drive.zsh");
    std::fs::write(
        &driver,
        r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits; builtin compadd -A __hits "$@"; local r=$?
  local h; for h in $__hits; do print -r -- "<""M>$h"; done
  return r
}'
zpty -w z 'finish () { print -r -- "<""END>"; exit }; comppostfuncs=(finish); bindkey "^I" complete-word'
zpty -w -n z "$2"$'\t'
while zpty -r z line; do
  [[ $line == *'<END>'* ]] && break
  [[ $line == *'<M>'* ]] && print -r -- "${line#*<M>}"
done
zpty -d z
"#,
    )
    .unwrap();
    run_shell(
        "zsh",
        &["-f", driver.to_str().unwrap(), dir.to_str().unwrap(), line],
        SHELL_DEADLINE,
    )
    .lines()
    .map(|l| l.trim().to_owned())
    .filter(|l| !l.is_empty())
    .collect()
}

#[test]
fn zsh_completes_flags_and_values_past_the_first_word() {
    if !shell_available("zsh") {
        return;
    }
    let (dir, _script) = completion_script("zsh", "_nylas-migrate");
    let flags = zsh_completions(dir.path(), "nylas-migrate apply --");
    for flag in ["--yes", "--concurrency", "--fail-fast", "--state"] {
        assert!(flags.iter().any(|f| f == flag), "{flag} in {flags:?}");
    }
    let values = zsh_completions(dir.path(), "nylas-migrate graph p.yaml --format ");
    assert!(
        values.contains(&"dot".to_owned()) && values.contains(&"mermaid".to_owned()),
        "{values:?}"
    );
}

/// What fish offers for `line` (`complete -C`, fish's own completion of a command line).
fn fish_completions(script: &std::path::Path, line: &str) -> Vec<String> {
    let program = format!("source '{}'; complete -C '{line}'", script.display());
    run_shell("fish", &["--no-config", "-c", &program], SHELL_DEADLINE)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn fish_completes_flags_and_values_past_the_first_word() {
    if !shell_available("fish") {
        return;
    }
    let (_dir, script) = completion_script("fish", "nylas-migrate.fish");
    let flags = fish_completions(&script, "nylas-migrate apply --");
    for flag in ["--yes", "--concurrency", "--fail-fast", "--state"] {
        assert!(flags.iter().any(|f| f == flag), "{flag} in {flags:?}");
    }
    let values = fish_completions(&script, "nylas-migrate graph p.yaml --format ");
    assert_eq!(values, ["dot", "mermaid"]);
}

#[test]
fn the_man_page_has_standard_sections_and_refers_only_to_pages_that_exist() {
    // One page on stdout: every command in it, nothing referred to elsewhere.
    let out = Test::new().arg("man").status(0).run();
    let page = stdout(&out);
    assert_eq!(page.matches(".TH ").count(), 1, "one page");
    assert!(!page.contains("EXTRA"), "no section named EXTRA");
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "COMMANDS",
        "\"EXIT STATUS\"",
        "ENVIRONMENT",
    ] {
        assert!(page.contains(&format!(".SH {section}")), "{section}");
    }
    assert!(!page.contains("(1)"), "no reference to another page");

    // A page per command: every reference names a page that was written.
    let dir = tempfile::tempdir().unwrap();
    Test::new()
        .args(["man", "--dir", dir.path().to_str().unwrap()])
        .status(0)
        .run();
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert!(pages.len() >= 12, "{pages:?}");
    for file in &pages {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert_eq!(text.matches(".TH ").count(), 1, "{file}");
        assert!(!text.contains("EXTRA"), "{file}");
        let plain = text.replace("\\-", "-");
        for (at, _) in plain.match_indices("(1)") {
            let start = plain[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |i| i + 1);
            let referred = format!("{}.1", &plain[start..at]);
            assert!(
                pages.contains(&referred),
                "{file} refers to {referred}, which was not written"
            );
        }
    }
}

/// Runs `cmd` with its stderr on a pseudo terminal (stdin and stdout not); what the terminal
/// received.
#[cfg(unix)]
fn stderr_on_a_terminal(mut cmd: std::process::Command) -> (std::process::ExitStatus, Vec<u8>) {
    use std::io::Read;
    let (master, slave) = crate::support::pseudo_terminal();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    // `cmd` holds a copy of the slave end until dropped; the reader sees EOF (EIO) only once
    // every copy is closed.
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::from(master);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let status = child.wait().unwrap();
    (status, reader.join().unwrap())
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_means_no_progress_bars_on_a_terminal() {
    let r = one_pair().await;
    let plan = r.plan_arg();
    let state = r.dir.path().join("with-bars");
    let state = state.to_str().unwrap().to_owned();
    // Control: on a terminal, without NO_COLOR, bars are drawn with escape sequences.
    let mut with_bars = r.command(&["apply", &plan, "--yes", "--state", &state]);
    with_bars.env_remove("NO_COLOR");
    let (status, terminal) = tokio::task::spawn_blocking(move || stderr_on_a_terminal(with_bars))
        .await
        .unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&terminal));
    assert!(
        terminal.contains(&0x1b),
        "bars on a terminal: {}",
        String::from_utf8_lossy(&terminal).escape_debug()
    );

    // NO_COLOR: plain lines, not one escape sequence (a world of its own, from the start).
    let r = one_pair().await;
    let plan = r.plan_arg();
    let state = r.dir.path().join("no-color");
    let state = state.to_str().unwrap().to_owned();
    let mut plain = r.command(&["apply", &plan, "--yes", "--state", &state]);
    plain.env("NO_COLOR", "1");
    let (status, terminal) = tokio::task::spawn_blocking(move || stderr_on_a_terminal(plain))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&terminal);
    assert!(status.success(), "{text}");
    assert!(!terminal.contains(&0x1b), "{}", text.escape_debug());
    assert!(
        text.contains("unchanged solo/link") || text.contains("solo/link"),
        "{text}"
    );
}

/// `nylas-migrate simulate ARGS` in the background, until its JSON line says it listens.
struct Simulate {
    child: std::process::Child,
    urls: serde_json::Value,
}

impl Simulate {
    fn start(args: &[&str]) -> Simulate {
        use std::io::BufRead;
        let mut child = Test::new()
            .arg("simulate")
            .args(args)
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        // A bound on a hang, not a wait for success: the line comes as soon as it listens.
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("simulate prints its URLs");
        let urls = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
        Simulate { child, urls }
    }
}

impl Drop for Simulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The variables of an env file written by `simulate --write-plan` (`export NAME='value'`).
fn read_env_file(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .map(|l| {
            let (name, value) = l.split_once('=').unwrap();
            (name.to_owned(), value.trim_matches('\'').to_owned())
        })
        .collect()
}

#[test]
fn simulate_writes_a_ready_plan_with_its_secrets_in_an_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("sim.yaml");
    let plan_arg = plan.to_str().unwrap();
    let sim = Simulate::start(&[
        "--accounts",
        "30",
        "--seed",
        "4",
        "--speed",
        "50",
        "--write-plan",
        plan_arg,
    ]);
    let env_path = dir.path().join("sim.env");
    let env = read_env_file(&env_path);
    assert!(env.len() >= 4, "{env:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the env file holds secrets");
    }
    let text = std::fs::read_to_string(&plan).unwrap();
    for (_, value) in &env {
        assert!(!text.contains(value.as_str()), "no secret in the plan");
    }
    assert!(text.contains(sim.urls["us"].as_str().unwrap()));
    assert!(text.contains(sim.urls["eu"].as_str().unwrap()));

    let with_env = |args: &[&str]| Test::new().args(args).envs(env.iter().cloned());
    with_env(&["validate", plan_arg]).status(0).run();
    // Changes pending.
    with_env(&["plan", plan_arg, "--detailed-exitcode"])
        .status(2)
        .run();
    with_env(&["apply", plan_arg, "--yes"]).status(0).run();
    // Converged.
    with_env(&["plan", plan_arg, "--detailed-exitcode"])
        .status(0)
        .run();
}

#[test]
fn simulate_keeps_its_ports_when_asked_so_a_written_plan_stays_valid() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("sim.yaml");
    let plan_arg = plan.to_str().unwrap();
    // Two free ports in a row (the E.U. region takes the next one).
    let port = (0..20)
        .find_map(|_| {
            let first = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
            let port = first.local_addr().ok()?.port();
            let _next = std::net::TcpListener::bind(("127.0.0.1", port.checked_add(1)?)).ok()?;
            Some(port)
        })
        .expect("two free ports");
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "--accounts",
        "20",
        "--write-plan",
        plan_arg,
        "--listen",
        listen.as_str(),
    ];
    let first = Simulate::start(&args);
    let written = std::fs::read_to_string(&plan).unwrap();
    assert!(
        written.contains(&format!("http://127.0.0.1:{port}\"")),
        "{written}"
    );
    assert!(
        written.contains(&format!("http://127.0.0.1:{}\"", port + 1)),
        "{written}"
    );
    drop(first);
    let _second = Simulate::start(&args);
    assert_eq!(
        std::fs::read_to_string(&plan).unwrap(),
        written,
        "the same plan, same ports"
    );
}

/// The figure cells of a Markdown file's tables, by the `cargo bench --bench NAME` command
/// that measures them.
fn bench_figures(file: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(support::root().join(file)).unwrap();
    text.lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let command = cells
                .iter()
                .find(|c| c.starts_with("`cargo bench --bench "))?;
            let figure = cells.iter().rev().find(|c| !c.is_empty())?;
            Some((command.to_string(), figure.to_string()))
        })
        .collect()
}

/// The numbers in a figure, in order (`18,597 requests/s, 0 failed` → 18597, 0).
fn numbers(figure: &str) -> Vec<u64> {
    figure
        .split(|c: char| !(c.is_ascii_digit() || c == ','))
        .map(|n| n.replace(',', ""))
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[test]
fn the_readme_and_the_simulator_docs_quote_the_same_figures() {
    let readme = bench_figures("README.md");
    let docs = bench_figures("docs/simulator.md");
    let mut compared = 0;
    for (command, figure) in &docs {
        if let Some((_, quoted)) = readme.iter().find(|(c, _)| c == command) {
            compared += 1;
            let (a, b) = (numbers(figure), numbers(quoted));
            assert_eq!(
                a.first(),
                b.first(),
                "{command}: docs/simulator.md says `{figure}`, README.md `{quoted}`"
            );
        }
    }
    assert!(compared >= 2, "both files quote the simulator benchmarks");
}

#[test]
fn the_demo_counts_in_words_and_ends_with_what_to_try_next() {
    let out = Test::new()
        .args(["demo", "--accounts", "60"])
        .status(0)
        .run();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    // This world has waves with exactly one placeholder grant.
    assert!(all.contains(" 1 placeholder,"), "{all}");
    assert!(!all.contains(" 1 placeholders"), "{all}");
    let text = stdout(&out);
    let next = text
        .split("What to try next")
        .nth(1)
        .unwrap_or_else(|| panic!("no `What to try next` at the end:\n{text}"));
    let commands: Vec<&str> = next
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("nylas-migrate "))
        .collect();
    assert!(commands.len() >= 3, "{next}");
    // Each suggestion is a command line that exists.
    use clap::Parser;
    for command in commands {
        let words = command.split_whitespace();
        assert!(
            nylas_migrate::cli::Cli::try_parse_from(words).is_ok(),
            "`{command}` is not a valid command line"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_preview_counts_what_will_run_and_keeps_its_columns() {
    let long_url = format!(
        "https://hooks.example.com/{}",
        "nylas/notifications/for/a/deployment/with/a/long/path/".repeat(2)
    );
    let plan = ONE_PAIR.replace("https://hooks.example.com/solo", &long_url);
    let r = rehearsal::start(&plan, 40, |_, _| {}).await;
    let out = r.run(&["plan", &r.plan_arg()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // link, import, webhook, 2 clones, 2 waves: one runs now, six after it.
    assert!(
        text.contains(
            "Plan: 7 changes (1 to create, 0 to update, 0 running to follow, 6 after those)"
        ),
        "{text}"
    );
    assert!(text.contains(". after     import"), "{text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 160,
            "wider than 160 columns: {line}"
        );
    }
    // Every step's text starts in one column, also under an ID too long for it.
    let steps_part = text.split("\nPlan: ").next().unwrap();
    let step_lines: Vec<&str> = steps_part
        .lines()
        .filter(|l| l.starts_with("  ") && l.chars().nth(2).is_some_and(|c| c != ' '))
        .collect();
    let column = |line: &str| {
        let after_id = 14 + line[14..].find(' ').unwrap();
        after_id + line[after_id..].find(|c: char| c != ' ').unwrap()
    };
    let short: Vec<usize> = step_lines
        .iter()
        .filter(|l| !l.contains(&long_url[..30]))
        .map(|l| column(l))
        .collect();
    assert!(short.windows(2).all(|w| w[0] == w[1]), "{short:?}\n{text}");
    let continued = steps_part
        .lines()
        .find(|l| l.starts_with("      "))
        .expect("the long webhook ID's text on the next line");
    assert_eq!(
        continued.len() - continued.trim_start().len(),
        short[0],
        "{text}"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_apply_says_what_finished_and_how_to_resume() {
    use nylas_migrate::api::Operation;
    use std::io::BufRead;
    // One wave, its job on a manual clock: it stays running until the test moves time.
    let plan = ONE_PAIR.replace("        - { name: rest, mode: only_new }\n", "");
    let r = rehearsal::start(&plan, 40, |_, config| {
        config.job_speed = nylas_migrate::simulator::JobSpeed::Manual;
    })
    .await;
    let plan = r.plan_arg();
    let mut cmd = r.command(&["apply", &plan, "--yes"]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr_pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Wait (bounded) until the first wave's job is being followed.
    let mut before = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the wave never started:\n{}", before.join("\n")));
        let started = line.starts_with("progress  solo/batch/google: job");
        before.push(line);
        if started {
            break;
        }
    }
    // A real SIGINT, as Ctrl-C sends it.
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let after: Vec<String> = rx.try_iter().collect();
    let said = after.join("\n");
    assert_eq!(status.code(), Some(130), "{status:?}\n{said}");
    assert!(said.contains("Interrupted (Ctrl-C): "), "{said}");
    assert!(said.contains("steps finished"), "{said}");
    assert!(
        said.contains("Waves already started keep running at Nylas")
            && said.contains("solo/batch/google (job "),
        "{said}"
    );
    assert!(
        said.contains(&format!("nylas-migrate apply {plan}` again to resume")),
        "{said}"
    );
    assert_eq!(r.sim.stats().op_total(Operation::SnapshotBatchClone), 1);

    // With --output json, the same as one event (described by docs/events.schema.json); and
    // SIGTERM (a cancelled CI job) exits 143 as SIGINT exits 130.
    let mut json = r.command(&["--output", "json", "apply", &plan, "--yes"]);
    json.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = json.spawn().unwrap();
    let stdout_pipe = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout_pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).expect("the wave is followed again");
        if line.contains("\"job_progress\"") {
            break;
        }
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(143));
    let last = rx.iter().last().expect("an event");
    let event: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(event["event"], "interrupted", "{last}");
    assert_eq!(event["signal"], "SIGTERM", "{last}");
    assert_eq!(
        event["running_waves"][0]["step"], "solo/batch/google",
        "{last}"
    );
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::root().join("docs/events.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    assert!(validator.is_valid(&event), "{last}");

    // The journal says so; apply again follows the running wave and starts no second job.
    let journal =
        nylas_migrate::state::Journal::open(&r.dir.path().join(".nylas-migrate")).unwrap();
    let runs = journal.runs().unwrap();
    assert_eq!(
        runs.last().unwrap().outcome,
        Some(nylas_migrate::state::journal::RunOutcome::Interrupted)
    );
    r.sim.advance(std::time::Duration::from_secs(3600));
    let out = r.apply().await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        r.sim.stats().op_total(Operation::SnapshotBatchClone),
        1,
        "the interrupted wave's job was followed, not started again"
    );
}
