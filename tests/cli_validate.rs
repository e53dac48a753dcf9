//! `nylas-migrate validate`: examples validate, each invalid example reports exactly the
//! diagnostics it declares, secrets never show, and exit codes follow the README.

use crate::support::cli::Test;
use crate::support::snapshot::Redactions;
use crate::support::{rel, stderr, stdout, yaml_files};
use serde_json::Value;

#[test]
fn every_example_plan_is_valid() {
    let examples = yaml_files("examples");
    assert!(examples.len() >= 3, "at least three example plans");
    for path in examples {
        Test::new()
            .args(["validate", &rel(&path)])
            .status(0)
            .stdout_regex(&format!(
                "ok: {} is valid: [^\n]+\n",
                regex::escape(&rel(&path))
            ))
            .stderr("")
            .run();
    }
}

#[test]
fn every_example_names_the_schema_for_editors() {
    let all = yaml_files("examples")
        .into_iter()
        .chain(yaml_files("examples/invalid"));
    for path in all {
        let text = std::fs::read_to_string(&path).unwrap();
        if path.parent().is_some_and(|p| p.ends_with("invalid")) {
            continue;
        }
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/plan.schema.json\n"),
            "{} must start with the yaml-language-server comment",
            path.display()
        );
    }
}

/// `# expect: CODE at LINE:COLUMN: MESSAGE` lines of an invalid example.
fn expectations(text: &str) -> Vec<(String, usize, usize, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|rest| {
            let (code, rest) = rest.split_once(" at ").expect("`CODE at L:C: MESSAGE`");
            let (position, message) = rest.split_once(": ").expect("`L:C: MESSAGE`");
            let (line, column) = position.split_once(':').expect("`L:C`");
            (
                code.to_owned(),
                line.parse().unwrap(),
                column.parse().unwrap(),
                message.to_owned(),
            )
        })
        .collect()
}

#[test]
fn each_invalid_example_reports_its_rule_at_its_line_and_column() {
    let files = yaml_files("examples/invalid");
    assert!(files.len() >= 20, "one invalid example per rule");
    for path in files {
        let name = rel(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = expectations(&text);
        assert!(!expected.is_empty(), "{name} declares what it expects");

        let out = Test::new()
            .args(["--output", "json", "validate", &name])
            .run();
        assert_eq!(out.status.code(), Some(1), "{name} is invalid");
        let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        let actual: Vec<(String, usize, usize, String)> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["code"].as_str().unwrap().to_owned(),
                    d["line"].as_u64().unwrap() as usize,
                    d["column"].as_u64().unwrap() as usize,
                    d["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(actual, expected, "{name}");

        // People see the same thing with file:line:column and a snippet.
        let human = Test::new().args(["validate", &name]).status(1).run();
        let err = stderr(&human);
        for (code, line, column, message) in &expected {
            assert!(err.contains(code), "{name}: {err}");
            assert!(err.contains(message), "{name}: {err}");
            assert!(
                err.contains(&format!("{name}:{line}:{column}")),
                "{name}: {err}"
            );
        }
        assert!(err.contains(" is invalid: "), "{name}: {err}");
    }
}

/// What people read, whole: each invalid example's diagnostics as `validate` prints them
/// (`tests/snapshots/*cli_validate__diagnostics@*.snap`).
#[test]
fn each_invalid_example_reads_as_its_snapshot() {
    insta::glob!("../examples/invalid", "*.yaml", |path| {
        let out = Test::new()
            .args(["validate", &rel(path)])
            .status(1)
            .stdout("")
            .run();
        Redactions::new().bind(|| insta::assert_snapshot!("diagnostics", stderr(&out)));
    });
}

#[test]
fn an_inline_secret_is_reported_but_never_shown() {
    let secret = "nyk_v0_SuperSecretApiKeyValue1234567890";
    for output in ["human", "json"] {
        let out = Test::new()
            .args([
                "--output",
                output,
                "validate",
                "examples/invalid/inline-secret.yaml",
            ])
            .status(1)
            .run();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains("plan::inline-secret"), "{all}");
        assert!(
            !all.contains(secret),
            "the secret leaked in {output} output:\n{all}"
        );
        assert!(
            !all.contains("SuperSecret"),
            "part of the secret leaked:\n{all}"
        );
    }
}

#[test]
fn secrets_under_unknown_keys_are_masked_in_every_snippet() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "version: 1\nname: x\npairs:\n  - name: p\n    region: us\n    password: hunter2hunter2\n    v2: { app_id: abc, client_secret: { env: A } }\n    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: B } }\n",
    )
    .unwrap();
    let out = Test::new()
        .args(["validate", plan.to_str().unwrap()])
        .status(1)
        .run();
    let err = stderr(&out);
    assert!(err.contains("plan::inline-secret"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn all_problems_of_a_plan_are_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        r#"version: 1
name: many-problems
pairs:
  - name: acme-prod
    region: uss
    v2: { app_id: 9nsr7pjw1e1g6hgy9l1znjql7, client_secret: { env: A } }
    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: B } }
    conectors: []
    after: [nobody]
  - name: acme-prod
    region: eu
    v2: { app_id: 9nsr7pjw1e1g6hgy9l1znjql7, client_secret: { env: C } }
    v3: { app_id: bd410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: D } }
    rate_limit: 21
"#,
    )
    .unwrap();
    let out = Test::new()
        .args(["--output", "json", "validate", plan.to_str().unwrap()])
        .status(1)
        .run();
    let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    for code in [
        "plan::unknown-value",
        "plan::unknown-key",
        "plan::unknown-pair",
        "plan::duplicate-pair-name",
        "plan::duplicate-v2-app",
        "plan::out-of-range",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
}

#[test]
fn several_files_are_checked_in_one_run() {
    let out = Test::new()
        .args([
            "validate",
            "examples/us-single-pair.yaml",
            "examples/invalid/unknown-region.yaml",
            "examples/production.yaml",
        ])
        .run();
    assert_eq!(out.status.code(), Some(1), "one invalid file fails the run");
    assert_eq!(stdout(&out).matches("is valid").count(), 2);
    assert!(stderr(&out).contains("unknown-region.yaml is invalid"));
}

#[test]
fn a_missing_file_is_an_error_not_a_crash() {
    Test::new()
        .args(["validate", "no/such/plan.yaml"])
        .status(1)
        .stdout("")
        .stderr_regex(r".*cannot read no/such/plan\.yaml: .*")
        .run();
}

#[test]
fn paths_are_read_from_where_the_command_runs_and_shown_as_given() {
    Test::new()
        .current_dir(crate::support::root().join("examples"))
        .args(["validate", "invalid/unknown-region.yaml"])
        .status(1)
        .stderr_regex(r".*\[invalid/unknown-region\.yaml:7:13\].*")
        .run();
}

#[test]
fn usage_errors_exit_64() {
    Test::new().arg("validate").status(64).run();
    Test::new()
        .args(["validate", "--no-such-flag", "x.yaml"])
        .status(64)
        .run();
    Test::new().arg("no-such-command").status(64).run();
    Test::new().arg("--help").status(0).run();
}

#[test]
fn help_documents_exit_codes() {
    let out = Test::new().args(["validate", "--help"]).run();
    let help = stdout(&out);
    assert!(
        help.contains("Exit codes:") && help.contains("usage error"),
        "{help}"
    );
}

/// The runner's opt-ins are flags of the commands that load a plan, and of no other: `schema`,
/// `completions`, `man`, `simulate` and `demo` do not list flags that would mean nothing there.
/// Whole `--help` of a command without them, and of one with them, are snapshots.
#[test]
fn trust_opt_ins_are_flags_of_the_commands_that_load_a_plan() {
    let opt_ins = [
        "--allow-api-host",
        "--allow-secret-dir",
        "--allow-state-host",
    ];
    for (command, has) in [
        ("validate", true),
        ("graph", true),
        ("plan", true),
        ("apply", true),
        ("status", true),
        ("report", true),
        ("translate", true),
        ("verify", true),
        ("schema", false),
        ("simulate", false),
        ("demo", false),
        ("completions", false),
        ("man", false),
    ] {
        let help = stdout(&Test::new().args([command, "--help"]).run());
        for flag in opt_ins {
            assert_eq!(
                help.contains(flag),
                has,
                "{command} --help and {flag}:\n{help}"
            );
        }
    }
    let top = stdout(&Test::new().arg("--help").run());
    for flag in opt_ins {
        assert!(!top.contains(flag), "not global: {top}");
    }
    // Given to a command that takes none, an opt-in is a usage error, not silently ignored.
    Test::new()
        .args(["schema", "--allow-api-host", "example.com"])
        .status(64)
        .run();
    for command in ["schema", "verify"] {
        let help = stdout(&Test::new().args([command, "--help"]).run());
        insta::assert_snapshot!(format!("help-{command}"), help);
    }
}

#[test]
fn numbers_the_schema_accepts_are_read_as_such() {
    // `1.0` is an integer to JSON Schema, and a number too large for any count is out of range:
    // neither may reach the user as an internal error.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    let body = |limit: &str| {
        format!(
            "version: 1.0\nname: x\npairs:\n  - name: p\n    region: us\n    v2: {{ app_id: abc, client_secret: {{ env: A }} }}\n    v3: {{ app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: {{ env: B }} }}\n    clone:\n      batches:\n        - {{ name: w, mode: all, limit: {limit} }}\n"
        )
    };
    std::fs::write(&plan, body("100.0")).unwrap();
    Test::new()
        .args(["validate", plan.to_str().unwrap()])
        .status(0)
        .run();

    std::fs::write(&plan, body("99999999999999999999")).unwrap();
    let out = Test::new()
        .args(["validate", plan.to_str().unwrap()])
        .status(1)
        .run();
    let err = stderr(&out);
    assert!(
        err.contains("plan::out-of-range") && !err.contains("plan::internal"),
        "{err}"
    );
}
