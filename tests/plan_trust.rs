//! A plan is untrusted input until merged: what it may not do. It may not show a secret written
//! in any shape, send the API keys to a host of its choosing, read secret files outside its
//! folder, or put control characters on a terminal. Also how secret files and variables are
//! read.

use crate::support;
use crate::support::cli::Test;

use crate::support::{counting_listener, stderr, stdout};

const V3_APP: &str = "ad410018-d306-43f9-8361-fa5d7b2172e0";

/// A one-pair plan whose v3 `api_key` is `api_key` (YAML, on one line or a block).
fn plan_with_api_key(api_key: &str) -> String {
    format!(
        "version: 1\nname: trust\npairs:\n  - name: p\n    region: us\n    v2: {{ app_id: abc, client_secret: {{ env: A }} }}\n    v3:\n      app_id: {V3_APP}\n      api_key: {api_key}\n"
    )
}

/// `validate` of `text` in human and JSON output, stdout and stderr together, with the file's
/// path replaced by `PLAN`.
fn validate_outputs(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.yaml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let mut outputs = Vec::new();
    for output in ["human", "json"] {
        let out = Test::new()
            .args(["--output", output, "validate", path])
            .status(1)
            .run();
        outputs.push(format!("{}{}", stdout(&out), stderr(&out)).replace(path, "PLAN"));
    }
    (outputs.remove(0), outputs.remove(0))
}

#[test]
fn a_secret_written_in_any_shape_is_reported_and_never_shown() {
    let secret = "nyk_v0_Canary5ecretValueNeverShown123";
    let shapes = [
        format!("{{ value: {secret} }}"),
        format!("[{secret}]"),
        format!("[{{ key: {secret} }}]"),
        format!("{{ {secret}: x }}"),
        format!("{{ env: OK_NAME, value: {secret} }}"),
        format!("|\n        {secret}\n        second-line-{secret}"),
        format!("\"{secret}\""),
        "12345678901234567890".to_owned(),
    ];
    for shape in &shapes {
        let (human, json) = validate_outputs(&plan_with_api_key(shape));
        for (name, all) in [("human", &human), ("json", &json)] {
            assert!(
                all.contains("plan::inline-secret"),
                "{shape}: {name} output reports it:\n{all}"
            );
            assert!(
                !all.contains("Canary5ecret") && !all.contains("1234567890"),
                "{shape}: the secret leaked in {name} output:\n{all}"
            );
        }
    }
}

#[test]
fn the_mask_does_not_tell_the_secret_s_length() {
    for (short, long) in [
        ("s3cr3t", "a-much-longer-secret-value-of-forty-chars"),
        (
            "{ value: s3cr3t }",
            "{ value: a-much-longer-secret-value-of-forty-chars }",
        ),
        ("[s3cr3t]", "[a-much-longer-secret-value-of-forty-chars]"),
    ] {
        let (short_human, short_json) = validate_outputs(&plan_with_api_key(short));
        let (long_human, long_json) = validate_outputs(&plan_with_api_key(long));
        assert_eq!(
            short_human, long_human,
            "the human report is the same whatever the secret's length"
        );
        assert_eq!(short_json, long_json);
        assert!(short_human.contains("********"), "{short_human}");
    }
}

#[test]
fn a_reference_of_the_wrong_shape_names_both_kinds_of_reference() {
    // (The JSON output, whose help lines are not wrapped.)
    let (_, json) = validate_outputs(&plan_with_api_key("{ env: A, file: b }"));
    assert!(json.contains("{ env: NAME }"), "{json}");
    assert!(json.contains("{ file: PATH }"), "{json}");
    // A connector's client_id may be written, or referenced in either way.
    let text = plan_with_api_key("{ env: B }").replace(
        "    v3:",
        "    connectors:\n      - provider: microsoft\n        settings: { client_id: { value: x }, client_secret: { env: C } }\n    v3:",
    );
    let (_, json) = validate_outputs(&text);
    assert!(
        json.contains("{ env: NAME }") && json.contains("{ file: PATH }"),
        "{json}"
    );
    assert!(json.contains("plan::wrong-type"), "{json}");
}

/// Runs the binary with `envs`, killed if it has not ended within `deadline` (then `None`).
fn run_within(
    args: &[&str],
    envs: &[(&str, &str)],
    deadline: std::time::Duration,
) -> Option<std::process::Output> {
    // `Test` leaves out the NYLAS_MIGRATE_ALLOW_* variables of the tests' environment.
    Test::new()
        .args(args)
        .envs(envs.iter().copied())
        .run_within(deadline)
}

/// A report's text with miette's line wrapping undone.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_start_matches([' ', '│']).trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

const WAIT: std::time::Duration = std::time::Duration::from_secs(60);

#[test]
fn a_region_on_a_foreign_host_needs_an_opt_in_from_outside_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.yaml");
    std::fs::write(
        &path,
        plan_with_api_key("{ env: B }").replace(
            "pairs:",
            "regions:\n  us: { api_url: \"https://nylas-proxy.example.com/v3-gateway\" }\npairs:",
        ),
    )
    .unwrap();
    let plan = path.to_str().unwrap();
    let (proxy, connections) = counting_listener();
    let env = [
        ("A", "v2-secret"),
        ("B", "production-key"),
        ("HTTPS_PROXY", proxy.as_str()),
        ("https_proxy", proxy.as_str()),
    ];
    for args in [
        vec!["validate", plan],
        vec!["plan", plan],
        vec!["apply", plan, "--yes"],
    ] {
        let out = run_within(&args, &env, WAIT).expect("ends");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("plan::api-host-not-allowed"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("--allow-api-host nylas-proxy.example.com")
                && err.contains("NYLAS_MIGRATE_ALLOW_API_HOSTS=nylas-proxy.example.com"),
            "{args:?} names the opt-in: {err}"
        );
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was sent anywhere"
    );

    // The opt-in names the host: the plan is valid, whether from the flag or the variable.
    let out = run_within(
        &[
            "validate",
            plan,
            "--allow-api-host",
            "nylas-proxy.example.com",
        ],
        &env,
        WAIT,
    )
    .expect("ends");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut with_var = env.to_vec();
    with_var.push((
        "NYLAS_MIGRATE_ALLOW_API_HOSTS",
        "other.example,nylas-proxy.example.com",
    ));
    let out = run_within(&["validate", plan], &with_var, WAIT).expect("ends");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Another host is not allowed by it.
    let out = run_within(
        &["validate", plan, "--allow-api-host", "other.example"],
        &env,
        WAIT,
    )
    .expect("ends");
    assert_eq!(out.status.code(), Some(1));
    // And with the opt-in, `plan` does try the host (through the proxy here): the check above
    // was not vacuous.
    let out = run_within(
        &["plan", plan, "--allow-api-host", "nylas-proxy.example.com"],
        &env,
        WAIT,
    )
    .expect("ends");
    assert_eq!(out.status.code(), Some(1));
    assert!(connections.load(std::sync::atomic::Ordering::SeqCst) > 0);
}

const FILE_PLAN: &str = r#"version: 1
name: files
pairs:
  - name: files
    region: us
    v2: { app_id: file02v2app00000000000001, client_secret: { env: FILES_V2_SECRET } }
    v3: { app_id: 0e0e0e0e-0000-4000-8000-000000000005, api_key: { env: FILES_V3_KEY } }
    clone:
      single: [file00account000000000001]
"#;

/// A rehearsal whose plan reads the v3 API key from `reference` (YAML) instead of the
/// environment; returns it with the key's value.
async fn file_rehearsal() -> (support::rehearsal::Rehearsal, String) {
    let r = support::rehearsal::start(FILE_PLAN, 20, |_, _| {}).await;
    let key = r.secrets["FILES_V3_KEY"].clone();
    (r, key)
}

/// Points the rehearsal's plan at `reference` for the v3 key, runs `plan` with `extra` args
/// (bounded in time) and returns its output.
fn plan_with_reference(
    r: &support::rehearsal::Rehearsal,
    reference: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> Option<std::process::Output> {
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    let start = text.find("api_key: ").unwrap() + "api_key: ".len();
    let end = start + text[start..].find(" }").unwrap() + 2;
    let other = r.dir.path().join("ref.yaml");
    std::fs::write(
        &other,
        format!("{}{reference}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let plan = other.to_str().unwrap().to_owned();
    let mut args = vec!["plan", plan.as_str()];
    args.extend_from_slice(extra);
    let v2 = r.secrets["FILES_V2_SECRET"].clone();
    let mut all = vec![("FILES_V2_SECRET", v2.as_str())];
    all.extend_from_slice(envs);
    run_within(&args, &all, WAIT)
}

#[cfg(unix)]
fn private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_files_are_read_carefully() {
    let (r, key) = file_rehearsal().await;
    let dir = r.dir.path();
    std::fs::create_dir(dir.join("secrets")).unwrap();
    let run = |reference: &str, extra: &[&str], envs: &[(&str, &str)]| {
        plan_with_reference(&r, reference, extra, envs).expect("ends within the deadline")
    };
    let expect_error = |out: &std::process::Output, what: &str, words: &[&str]| {
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(out));
        let text = flat(&stderr(out));
        for word in words {
            assert!(text.contains(word), "{what}: `{word}` in:\n{}", stderr(out));
        }
    };

    // A byte-order mark and a Windows line ending, as an editor saves them: the key works.
    let file = dir.join("secrets/v3");
    std::fs::write(&file, format!("\u{feff}{key}\r\n")).unwrap();
    private(&file);
    let out = run("{ file: secrets/v3 }", &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    // Readable by others: works, with a warning that says how to fix it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run("{ file: secrets/v3 }", &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("can be read by other users") && stderr(&out).contains("chmod 600"),
        "{}",
        stderr(&out)
    );

    // Empty, or only a mark and a line break: refused with a hint.
    std::fs::write(&file, "\u{feff}\n").unwrap();
    private(&file);
    let out = run("{ file: secrets/v3 }", &[], &[]);
    expect_error(&out, "empty file", &["empty", "first line"]);

    // Too large: refused without reading it all.
    std::fs::write(&file, vec![b'k'; 1024 * 1024]).unwrap();
    let out = run("{ file: secrets/v3 }", &[], &[]);
    expect_error(&out, "large file", &["more than 64 KiB"]);

    // A FIFO would block forever; a device such as /dev/zero never ends.
    let fifo = dir.join("secrets/fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let out = run("{ file: secrets/fifo }", &[], &[]);
    expect_error(&out, "fifo", &["not a regular file"]);
    let out = run("{ file: /dev/zero }", &["--allow-secret-dir", "/dev"], &[]);
    expect_error(&out, "/dev/zero", &["not a regular file"]);

    // Outside the plan's folder: refused by validation, unless allowed from outside the plan;
    // a link out of the folder is refused when read.
    let outside = tempfile::tempdir().unwrap();
    let outside_file = outside.path().join("v3");
    std::fs::write(&outside_file, &key).unwrap();
    private(&outside_file);
    let reference = format!("{{ file: \"{}\" }}", outside_file.display());
    let out = run(&reference, &[], &[]);
    expect_error(
        &out,
        "outside",
        &[
            "plan::secret-file-outside",
            "--allow-secret-dir",
            "NYLAS_MIGRATE_ALLOW_SECRET_DIRS",
        ],
    );
    let out = run(
        &reference,
        &[],
        &[(
            "NYLAS_MIGRATE_ALLOW_SECRET_DIRS",
            outside.path().to_str().unwrap(),
        )],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::os::unix::fs::symlink(&outside_file, dir.join("secrets/link")).unwrap();
    let out = run("{ file: secrets/link }", &[], &[]);
    expect_error(&out, "link out", &["outside the plan's folder"]);

    // An empty variable is explained.
    let out = run("{ env: FILES_V3_KEY }", &[], &[("FILES_V3_KEY", "")]);
    expect_error(
        &out,
        "empty variable",
        &["FILES_V3_KEY is empty", "empty string"],
    );
    // A variable holding a byte-order mark before the key works.
    let bom_key = format!("\u{feff}{key}");
    let out = run(
        "{ env: FILES_V3_KEY }",
        &[],
        &[("FILES_V3_KEY", bom_key.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_folder_and_reports_are_private_and_fingerprints_are_per_pair() {
    use std::os::unix::fs::PermissionsExt;
    let r = support::rehearsal::start(support::rehearsal::EVERY_STEP_KIND, 60, |_, _| {}).await;
    let state = r.dir.path().join("state");
    let state_arg = state.to_str().unwrap().to_owned();
    let plan = r.plan_arg();
    let out = r
        .run(&["apply", &plan, "--state", &state_arg, "--yes"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = r.dir.path().join("report.csv");
    let out = r
        .run(&[
            "report",
            &plan,
            "--state",
            &state_arg,
            "--out",
            report.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700, "state folder");
    let mut files = vec![report.clone()];
    for entry in std::fs::read_dir(&state).unwrap() {
        files.push(entry.unwrap().path());
    }
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["journal.sqlite", "lock", "fingerprint.key", "report.csv"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    // WAL and shared memory while a journal is open.
    let journal = nylas_migrate::state::Journal::open(&state).unwrap();
    for suffix in ["-wal", "-shm"] {
        let path = state.join(format!("journal.sqlite{suffix}"));
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }

    // Both pairs write the same Azure secret: the journal does not show it.
    let fingerprint = |step: &str| {
        let state = journal
            .step(&nylas_migrate::graph::StepId::new_raw(step))
            .unwrap()
            .unwrap();
        state.record.fingerprints.clone()
    };
    let alpha = fingerprint("alpha/connector/microsoft");
    let beta = fingerprint("beta/connector/microsoft");
    assert_eq!(alpha.len(), 1);
    assert_ne!(alpha, beta, "one secret, two pairs, two fingerprints");
}
