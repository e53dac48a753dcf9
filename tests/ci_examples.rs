//! The CI examples parse, and every `nylas-migrate` command in them exists with those flags.

use crate::support;
use crate::support::cli::Test;

use crate::support::root;
use clap::Parser;
use nylas_migrate::cli::Cli;
use serde_json::Value;

/// The scripts of a workflow: values of GitHub's `run` and GitLab's `script`,
/// `before_script` and `after_script` (a string or a list of strings).
fn scripts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| scripts(v, out)),
        Value::Object(map) => {
            for (key, v) in map {
                if ["run", "script", "before_script", "after_script"].contains(&key.as_str()) {
                    match v {
                        Value::String(s) => out.push(s.clone()),
                        Value::Array(lines) => {
                            out.extend(lines.iter().filter_map(|l| l.as_str().map(str::to_owned)))
                        }
                        _ => {}
                    }
                } else {
                    scripts(v, out);
                }
            }
        }
        _ => {}
    }
}

/// The `nylas-migrate …` invocations in a script, split into words (quotes removed, shell
/// variables kept as placeholders, everything after a redirection or pipe dropped).
fn invocations(script: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for line in script.lines() {
        for part in line.split([';', '|', '&']) {
            let words: Vec<String> = part
                .split_whitespace()
                .take_while(|w| !w.starts_with('>') && !w.starts_with('<'))
                .map(|w| w.trim_matches('"').trim_matches('\'').to_owned())
                .collect();
            // A command that starts with the tool (not `cargo install … nylas-migrate`).
            if words.first().is_some_and(|w| w == "nylas-migrate") {
                found.push(words);
            }
        }
    }
    found
}

fn check(file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let doc: Value = nylas_migrate::yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut found = Vec::new();
    scripts(&doc, &mut found);
    let calls: Vec<Vec<String>> = found.iter().flat_map(|s| invocations(s)).collect();
    for call in &calls {
        if let Err(err) = Cli::try_parse_from(call) {
            panic!(
                "{file}: `{}` is not a valid command line:\n{err}",
                call.join(" ")
            );
        }
    }
    calls
}

#[test]
fn github_workflow_uses_only_real_commands_and_flags() {
    let calls = check("examples/ci/github-actions.yml");
    let commands: Vec<&str> = calls
        .iter()
        .map(|c| {
            c.iter()
                .skip(1)
                .find(|w| !w.starts_with('-') && *w != "json" && *w != "markdown")
                .map_or("", String::as_str)
        })
        .collect();
    for expected in ["validate", "plan", "apply", "status", "report"] {
        assert!(
            commands.contains(&expected),
            "no `{expected}` in {commands:?}"
        );
    }
    assert!(
        calls
            .iter()
            .any(|c| c.contains(&"--detailed-exitcode".to_owned()))
    );
    assert!(calls.iter().any(|c| c.contains(&"--yes".to_owned())));
}

#[test]
fn gitlab_pipeline_uses_only_real_commands_and_flags() {
    let calls = check("examples/ci/gitlab-ci.yml");
    assert!(calls.len() >= 5, "{calls:?}");
}

#[test]
fn a_wrong_flag_would_be_caught() {
    // The check itself must be able to fail.
    assert!(Cli::try_parse_from(["nylas-migrate", "apply", "p.yaml", "--yess"]).is_err());
    assert_eq!(
        invocations("x; nylas-migrate plan \"$PLAN\" > out.txt"),
        [["nylas-migrate", "plan", "$PLAN"]]
    );
}

#[test]
fn completions_and_man_page_cover_every_command() {
    let bash = support::stdout(
        &Test::new()
            .args(["completions", "bash"])
            .status(0)
            .stderr("")
            .run(),
    );
    let man = support::stdout(&Test::new().arg("man").status(0).stderr("").run());
    for command in [
        "validate", "schema", "graph", "plan", "apply", "status", "report", "simulate", "demo",
    ] {
        assert!(bash.contains(command), "bash completions miss {command}");
        assert!(
            man.contains(&format!(".SS \"nylas-migrate {command}\"")),
            "man page misses {command}"
        );
    }
    for shell in ["zsh", "fish", "powershell"] {
        let out = Test::new()
            .args(["completions", shell])
            .status(0)
            .stderr("")
            .run();
        assert!(!out.stdout.is_empty());
    }
}

fn load(file: &str) -> Value {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    nylas_migrate::yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn production_secrets_never_reach_a_plan_from_a_fork() {
    // GitHub: no trigger that runs a fork's code with the repository's secrets, and every job
    // with secrets runs on a push, or on a pull request from a branch of the repository.
    let github = load("examples/ci/github-actions.yml");
    let triggers = github["on"].to_string();
    assert!(!triggers.contains("pull_request_target"), "{triggers}");
    let jobs = github["jobs"].as_object().unwrap();
    let mut with_secrets = 0;
    for (name, job) in jobs {
        if !job["env"].to_string().contains("secrets.") {
            continue;
        }
        with_secrets += 1;
        let condition = job["if"].as_str().unwrap_or_default();
        assert!(
            condition == "github.event_name == 'push'"
                || condition
                    .contains("github.event.pull_request.head.repo.full_name == github.repository"),
            "job `{name}` gets secrets under `{condition}`"
        );
    }
    assert!(with_secrets >= 2, "plan and apply use secrets");

    // GitLab: forks' merge requests run in the fork without this project's variables, unless
    // the project runs them itself; the `plan` job refuses them either way.
    let gitlab = load("examples/ci/gitlab-ci.yml");
    for (name, job) in gitlab.as_object().unwrap() {
        let Some(rules) = job["rules"].as_array() else {
            continue;
        };
        let runs_nylas_migrate_with_network =
            job["script"].to_string().contains("nylas-migrate plan");
        for rule in rules {
            let condition = rule["if"].as_str().unwrap_or_default();
            if runs_nylas_migrate_with_network && condition.contains("merge_request_event") {
                assert!(
                    condition.contains("$CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID"),
                    "job `{name}` runs for forks' merge requests: {condition}"
                );
            }
        }
    }
}

#[test]
fn the_examples_never_run_two_applies_at_once() {
    // Runs must not overlap (README, "In a pipeline"): each example serialises its apply.
    let load = |file: &str| -> Value {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        nylas_migrate::yaml::from_str(&text).unwrap()
    };
    let github = load("examples/ci/github-actions.yml");
    let group = &github["jobs"]["apply"]["concurrency"];
    let name = group["group"].as_str().unwrap_or_default();
    assert!(
        !name.is_empty() && !name.contains("${{"),
        "the apply job needs one fixed concurrency group: {group}"
    );
    assert_eq!(group["cancel-in-progress"], Value::Bool(false));
    let gitlab = load("examples/ci/gitlab-ci.yml");
    assert!(
        gitlab["apply"]["resource_group"]
            .as_str()
            .is_some_and(|g| !g.is_empty()),
        "the apply job needs a resource_group"
    );
}

#[test]
fn the_examples_save_the_plan_and_apply_the_saved_file_with_the_shared_state() {
    for file in [
        "examples/ci/github-actions.yml",
        "examples/ci/gitlab-ci.yml",
    ] {
        let calls = check(file);
        let has = |command: &str, word: &str| {
            calls
                .iter()
                .any(|c| c.iter().any(|w| w == command) && c.iter().any(|w| w == word))
        };
        assert!(has("plan", "--out"), "{file}: no `plan --out`");
        assert!(
            has("apply", "saved-plan.json"),
            "{file}: no `apply saved-plan.json`"
        );
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(
            !text.contains("--state"),
            "{file}: the state is the plan's (PostgreSQL)"
        );
        for secret in ["MIGRATE_STATE_URL", "PGPASSWORD"] {
            assert!(text.contains(secret), "{file}: no {secret}");
        }
    }
}

/// Every script of `job` in a workflow, joined.
fn job_scripts(job: &Value) -> String {
    let mut found = Vec::new();
    scripts(job, &mut found);
    found.join("\n")
}

#[test]
fn the_tool_is_built_once_per_version_and_cached() {
    // GitHub: one `cargo install`, in the tool job, only on a cache miss, into the folder the
    // cache keeps under a key naming the version; every job that runs the tool restores it.
    let github = load("examples/ci/github-actions.yml");
    let jobs = github["jobs"].as_object().unwrap();
    let key = "nylas-migrate-${{ runner.os }}-${{ env.NYLAS_MIGRATE_VERSION }}";
    for (name, job) in jobs {
        let text = job_scripts(job);
        let steps = job["steps"].as_array().unwrap();
        if name == "tool" {
            let cache = steps
                .iter()
                .find(|s| {
                    s["uses"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("actions/cache@"))
                })
                .expect("the tool job caches");
            assert_eq!(cache["with"]["key"], key);
            let install = steps
                .iter()
                .find(|s| {
                    s["run"]
                        .as_str()
                        .is_some_and(|r| r.contains("cargo install"))
                })
                .unwrap();
            assert_eq!(install["if"], "steps.cache.outputs.cache-hit != 'true'");
            assert!(
                install["run"]
                    .as_str()
                    .unwrap()
                    .contains("--tag \"$NYLAS_MIGRATE_VERSION\"")
            );
            continue;
        }
        assert!(
            !text.contains("cargo install"),
            "job `{name}` compiles the tool"
        );
        assert!(
            !job.to_string().contains("rust-toolchain"),
            "job `{name}` installs Rust"
        );
        if text.contains("nylas-migrate ") {
            assert!(
                steps.iter().any(|s| s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/cache/restore@"))
                    && s["with"]["key"] == key
                    && s["with"]["fail-on-cache-miss"] == Value::Bool(true)),
                "job `{name}` runs the tool without restoring it"
            );
        }
    }
    // GitLab: the same, with the cache keyed on the version, pulled by default.
    let gitlab = load("examples/ci/gitlab-ci.yml");
    let jobs = gitlab.as_object().unwrap();
    let mut installs = 0;
    for (name, job) in jobs {
        let text = job_scripts(job);
        if text.contains("cargo install") {
            installs += 1;
            assert_eq!(name, "tool");
            assert!(text.contains("test -x .nylas-migrate-tool/bin/nylas-migrate ||"));
            assert_eq!(job["cache"]["policy"], "pull-push");
        }
    }
    assert_eq!(installs, 1);
    assert_eq!(
        gitlab["default"]["cache"]["key"],
        "nylas-migrate-$NYLAS_MIGRATE_VERSION"
    );
    assert_eq!(gitlab["default"]["cache"]["policy"], "pull");
    assert_eq!(
        gitlab["tool"]["cache"]["key"],
        gitlab["default"]["cache"]["key"]
    );
}

#[test]
fn the_preview_is_markdown_in_the_job_summary_and_one_comment_updated_in_place() {
    let github = load("examples/ci/github-actions.yml");
    let plan = job_scripts(&github["jobs"]["plan"]);
    assert!(
        plan.contains("nylas-migrate --output markdown plan"),
        "{plan}"
    );
    assert!(
        plan.contains("cat preview.md >> \"$GITHUB_STEP_SUMMARY\""),
        "{plan}"
    );
    // The comment: found by its marker among the bot's, edited (PATCH) or else created.
    assert!(
        plan.contains("marker='<!-- nylas-migrate-plan -->'"),
        "{plan}"
    );
    assert!(plan.contains("github-actions[bot]"), "{plan}");
    assert!(plan.contains("--method PATCH \"repos/$GITHUB_REPOSITORY/issues/comments/$id\""));
    assert_eq!(
        github["jobs"]["plan"]["permissions"]["pull-requests"],
        "write"
    );
    let apply = job_scripts(&github["jobs"]["apply"]);
    assert!(apply.contains("--output markdown status"), "{apply}");
    assert!(apply.contains("--output markdown verify"), "{apply}");
    assert!(apply.contains("report \"$PLAN\" --format html --out migration-report.html"));

    let gitlab = load("examples/ci/gitlab-ci.yml");
    let plan = job_scripts(&gitlab["plan"]);
    assert!(
        plan.contains("nylas-migrate --output markdown plan"),
        "{plan}"
    );
    assert!(
        plan.contains("marker='<!-- nylas-migrate-plan -->'"),
        "{plan}"
    );
    assert!(
        plan.contains("curl -fsS -X PUT"),
        "the note is edited in place: {plan}"
    );
    assert!(
        plan.contains("merge_requests/$CI_MERGE_REQUEST_IID/notes"),
        "{plan}"
    );
    assert!(job_scripts(&gitlab["apply"]).contains("--format html --out migration-report.html"));
}
