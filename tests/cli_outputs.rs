//! Where outputs may go (issue 22, item 9): `report --out`, `translate --out`/`--errors` and
//! `plan --out` never replace the plan, a saved plan (but `plan --out` may replace its own) or
//! anything in the state folder, never follow a link planted at the output path (dangling or
//! not), and write whole files (a temporary file renamed, nothing left beside it).

#![cfg(unix)]

use std::path::Path;

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::stderr;

const PLAN: &str = r#"version: 1
name: outputs
pairs:
  - name: solo
    region: us
    v2: { app_id: outp2v2app000000000000001, client_secret: { env: O_V2 } }
    v3: { app_id: 4d4d4d4d-0000-4000-8000-000000000004, api_key: { env: O_V3 } }
    clone:
      batches:
        - { name: everyone, mode: all }
"#;

async fn applied() -> Rehearsal {
    let r = rehearsal::start(PLAN, 8, |_, _| {}).await;
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    r
}

/// Runs `args` (the plan's path is `{plan}`), expects exit 64 with `code`, and returns stderr.
async fn refused(r: &Rehearsal, args: &[&str], code: &str) -> String {
    let plan = r.plan_arg();
    let args: Vec<String> = args.iter().map(|a| a.replace("{plan}", &plan)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = r.run(&args).await;
    // Wrapped lines joined: miette wraps at the terminal's width.
    let err = stderr(&out)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
    assert!(err.contains(code), "{args:?}: `{code}` in {err}");
    assert!(err.contains("nothing was written"), "{args:?}: {err}");
    err
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_never_replace_the_plan_a_saved_plan_or_the_state() {
    let r = applied().await;
    let dir = r.dir.path();
    let plan_bytes = std::fs::read(&r.plan_path).unwrap();
    let journal = dir.join(".nylas-migrate/journal.sqlite");
    let journal_bytes = std::fs::read(&journal).unwrap();
    let saved = dir.join("saved.json");
    let saved_arg = saved.to_str().unwrap();
    let plan = r.plan_arg();
    let made = r.run(&["plan", &plan, "--out", saved_arg]).await;
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let saved_bytes = std::fs::read(&saved).unwrap();
    let ids = dir.join("ids.csv");
    let ids_arg = ids.to_str().unwrap();
    let journal_arg = journal.to_str().unwrap();
    let in_state = dir.join(".nylas-migrate/report.csv");

    for args in [
        vec!["report", "{plan}", "--out", "{plan}"],
        vec![
            "report",
            "{plan}",
            "--outcome",
            "migrated",
            "--out",
            "{plan}",
        ],
        vec![
            "translate",
            "{plan}",
            "--resource-types",
            "messages",
            "--restart",
            "--out",
            "{plan}",
        ],
        vec![
            "translate",
            "{plan}",
            "--resource-types",
            "messages",
            "--out",
            ids_arg,
            "--errors",
            "{plan}",
        ],
    ] {
        refused(&r, &args, "cli::out-is-plan").await;
    }
    for args in [
        vec!["report", "{plan}", "--out", journal_arg],
        vec!["report", "{plan}", "--out", in_state.to_str().unwrap()],
        vec![
            "translate",
            "{plan}",
            "--resource-types",
            "messages",
            "--out",
            journal_arg,
        ],
    ] {
        refused(&r, &args, "cli::out-in-state").await;
    }
    for args in [
        vec!["report", "{plan}", "--out", saved_arg],
        vec![
            "translate",
            "{plan}",
            "--resource-types",
            "messages",
            "--out",
            ids_arg,
            "--errors",
            saved_arg,
        ],
    ] {
        refused(&r, &args, "cli::out-is-saved-plan").await;
    }
    assert_eq!(std::fs::read(&r.plan_path).unwrap(), plan_bytes, "plan");
    assert_eq!(std::fs::read(&journal).unwrap(), journal_bytes, "journal");
    assert_eq!(std::fs::read(&saved).unwrap(), saved_bytes, "saved plan");
    assert!(!in_state.exists() && !ids.exists());

    // `plan --out` replaces its own saved plan.
    let again = r.run(&["plan", &plan, "--out", saved_arg]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));

    // An allowed output: written whole, private, nothing left beside it.
    let report = dir.join("report.csv");
    let before = files_in(dir);
    let out = r
        .run(&["report", &plan, "--out", report.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut expected = before.clone();
    expected.push("report.csv".into());
    expected.sort();
    assert_eq!(files_in(dir), expected, "no temporary file left");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&report).unwrap().lines().count() > 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_follows_a_planted_link() {
    let r = applied().await;
    let dir = r.dir.path();
    let target = dir.join("target.txt");
    std::fs::write(&target, "the link's target").unwrap();
    let dangling_target = dir.join("created-through-the-link.txt");
    let link = dir.join("out.csv");
    let dangling = dir.join("dangling.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    std::os::unix::fs::symlink(&dangling_target, &dangling).unwrap();
    let ids = dir.join("ids.csv");
    let ids_arg = ids.to_str().unwrap();

    for path in [&link, &dangling] {
        let path = path.to_str().unwrap();
        for args in [
            vec!["report", "{plan}", "--out", path],
            vec!["report", "{plan}", "--outcome", "migrated", "--out", path],
            vec!["plan", "{plan}", "--out", path],
            vec![
                "translate",
                "{plan}",
                "--resource-types",
                "messages",
                "--out",
                path,
            ],
            vec![
                "translate",
                "{plan}",
                "--resource-types",
                "messages",
                "--out",
                ids_arg,
                "--errors",
                path,
            ],
        ] {
            let err = refused(&r, &args, "cli::out-symlink").await;
            assert!(err.contains("readlink -f"), "{err}");
        }
    }
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the link's target"
    );
    assert!(!dangling_target.exists(), "nothing created through a link");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!ids.exists());
}
