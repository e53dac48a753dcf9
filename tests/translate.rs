//! `translate` against the simulator, driving the binary: every row the simulator has for every
//! migrated account and type, once; Outlook accounts in the errors file; `--since`, IMAP folder
//! IDs, an accounts file; a run killed with SIGKILL resumes without asking a recorded page again
//! and ends with the same rows; an existing file is not overwritten.

use crate::support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::{stderr, stdout};
use base64::Engine;
use nylas_migrate::api::Operation;
use nylas_migrate::code::Code;
use nylas_migrate::simulator::{AccountObjects, V2Account, World, is_outlook, world_for_plan};
use serde_json::Value;

/// Two pairs (both regions), every account cloned by one wave; Microsoft fixed so that its
/// business accounts migrate, and consumer (Outlook) accounts become placeholders.
const PLAN: &str = r#"version: 1
name: translate
pairs:
  - name: us
    region: us
    v2: { app_id: trus2v2app000000000000001, client_secret: { env: US_V2 } }
    v3: { app_id: 1a1a1a1a-0000-4000-8000-000000000001, api_key: { env: US_V3 } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZ_ID }, client_secret: { env: AZ_SECRET }, tenant: common }
    clone:
      batches:
        - { name: everyone, mode: all }
  - name: eu
    region: eu
    v2: { app_id: treu2v2app000000000000001, client_secret: { env: EU_V2 } }
    v3: { app_id: 2b2b2b2b-0000-4000-8000-000000000002, api_key: { env: EU_V3 } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZ_ID }, client_secret: { env: AZ_SECRET }, tenant: common }
    clone:
      batches:
        - { name: everyone, mode: all }
"#;

const SEED: u64 = 11;

/// The world `rehearsal::start` builds for `r`'s plan.
fn world_of(r: &Rehearsal, accounts: usize) -> World {
    world_for_plan(&r.plan, World::generate(accounts, SEED)).0
}

fn world(accounts: usize) -> World {
    world_for_plan(&rehearsal::parse(PLAN), World::generate(accounts, SEED)).0
}

/// A migrated world of `accounts` v2 accounts.
async fn migrated(accounts: usize) -> Rehearsal {
    let r = rehearsal::start(PLAN, accounts, |_, _| {}).await;
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    r
}

/// (pair, account, grant, type, v2 id, v3 id) as the output must hold them, and the accounts
/// translate must refuse.
type Row = (String, String, String, String, String, String);

fn expected(
    r: &Rehearsal,
    accounts: usize,
    types: &[&str],
    since: Option<i64>,
) -> (Vec<Row>, Vec<String>) {
    let world = world_of(r, accounts);
    let by_id: HashMap<&str, &V2Account> = world
        .v2_apps
        .iter()
        .flat_map(|a| &a.accounts)
        .map(|a| (a.id.as_str(), a))
        .collect();
    let view = r.sim.world();
    let mut rows = Vec::new();
    let mut refused = Vec::new();
    for pair in &r.plan.pairs {
        let app = view.app(&pair.v3.app_id).unwrap();
        for grant in &app.grants {
            let account = by_id[grant.account_id.as_deref().unwrap()];
            if is_outlook(account) {
                refused.push(account.id.clone());
                continue;
            }
            for t in types {
                let objects = AccountObjects::new(account, t).unwrap();
                for i in objects.first_after(since)..objects.count() {
                    let v3 = objects.v3_id(i);
                    let v3 = if grant.provider == "imap" && *t == "folders" {
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("v0:{}:{v3}", grant.id))
                    } else {
                        v3
                    };
                    rows.push((
                        pair.name.clone(),
                        account.id.clone(),
                        grant.id.clone(),
                        t.to_string(),
                        objects.v2_id(i),
                        v3,
                    ));
                }
            }
        }
    }
    rows.sort();
    refused.sort();
    (rows, refused)
}

fn read_csv(path: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "pair",
            "v2_account_id",
            "grant_id",
            "resource_type",
            "v2_id",
            "v3_id"
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].to_owned(),
                r[1].to_owned(),
                r[2].to_owned(),
                r[3].to_owned(),
                r[4].to_owned(),
                r[5].to_owned(),
            )
        })
        .collect()
}

fn sorted_without_duplicates(mut rows: Vec<Row>) -> Vec<Row> {
    let n = rows.len();
    rows.sort();
    rows.dedup();
    assert_eq!(rows.len(), n, "the output holds duplicate rows");
    rows
}

/// The run's JSON events, each checked against `docs/events.schema.json`.
fn events(out: &std::process::Output) -> Vec<Value> {
    support::events::checked_events(&stdout(out))
}

fn summary(out: &std::process::Output) -> Value {
    events(out)
        .into_iter()
        .find(|e| e["event"] == "translate_summary")
        .unwrap_or_else(|| panic!("no summary: {}", support::stderr(out)))
}

fn translate_requests(r: &Rehearsal) -> u64 {
    let stats = r.sim.stats();
    [200, 400]
        .iter()
        .map(|s| stats.count(Operation::Translate, *s))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_once_and_outlook_accounts_in_the_errors_file() {
    let r = migrated(90).await;
    let types = ["messages", "folders"];
    let (want, refused) = expected(&r, 90, &types, None);
    assert!(
        !refused.is_empty(),
        "the world has no Outlook account to refuse"
    );
    assert!(
        want.iter()
            .any(|row| row.3 == "folders" && row.5.len() > 20),
        "no IMAP folder"
    );
    let out_path = r.dir.path().join("ids.csv");
    let plan = r.plan_arg();
    let out = r
        .run(&[
            "--output",
            "json",
            "translate",
            &plan,
            "--resource-types",
            "messages,folders",
            "--out",
            out_path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert_eq!(sorted_without_duplicates(read_csv(&out_path)), want);
    // The errors file: one row per refused account, with what a person needs.
    let mut errors = csv::Reader::from_path(r.dir.path().join("ids.errors.csv")).unwrap();
    let mut refused_rows: Vec<String> = Vec::new();
    for row in errors.records() {
        let row = row.unwrap();
        assert_eq!(&row[3], "microsoft");
        assert!(row[2].contains('@'), "{row:?}");
        assert_eq!(&row[5], "messages;folders");
        assert_eq!(&row[6], "400");
        assert!(row[8].contains("Outlook"), "{row:?}");
        refused_rows.push(row[1].to_owned());
    }
    refused_rows.sort();
    assert_eq!(refused_rows, refused);
    // No secret in what translate writes or prints.
    let errors_text = std::fs::read_to_string(r.dir.path().join("ids.errors.csv")).unwrap();
    let rows_text = std::fs::read_to_string(&out_path).unwrap();
    for (name, value) in &r.secrets {
        for (what, text) in [
            ("stdout", stdout(&out)),
            ("stderr", support::stderr(&out)),
            ("errors file", errors_text.clone()),
            ("output", rows_text.clone()),
        ] {
            assert!(
                !text.contains(value.as_str()),
                "secret {name} appears in the {what}"
            );
        }
    }
    let s = summary(&out);
    assert_eq!(s["rows"], want.len());
    assert_eq!(s["accounts_refused"], refused.len());
    assert_eq!(s["complete"], true);
    // No 429: the client paced itself.
    assert_eq!(r.sim.stats().count(Operation::Translate, 429), 0);

    // A second run finds every page and every refusal recorded and asks for none: the refused
    // accounts are in the errors file again, from the record.
    let errors_before = std::fs::read_to_string(r.dir.path().join("ids.errors.csv")).unwrap();
    let before = translate_requests(&r);
    let again = r
        .run(&[
            "--output",
            "json",
            "translate",
            &plan,
            "--resource-types",
            "messages,folders",
            "--out",
            out_path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", support::stderr(&again));
    assert_eq!(summary(&again)["pages_this_run"], 0);
    assert_eq!(
        translate_requests(&r) - before,
        0,
        "a finished output asks nothing"
    );
    assert_eq!(summary(&again)["accounts_refused"], refused.len());
    assert_eq!(summary(&again)["complete"], true);
    assert_eq!(
        std::fs::read_to_string(r.dir.path().join("ids.errors.csv")).unwrap(),
        errors_before
    );
    assert_eq!(sorted_without_duplicates(read_csv(&out_path)), want);

    // --restart forgets the record and asks again, refused accounts included (one type only,
    // to keep the test short: the refusal comes on an account's first request).
    let before = r.sim.stats().count(Operation::Translate, 400);
    let restarted = r
        .run(&[
            "--output",
            "json",
            "translate",
            &plan,
            "--resource-types",
            "folders",
            "--out",
            out_path.to_str().unwrap(),
            "--restart",
        ])
        .await;
    assert_eq!(restarted.status.code(), Some(0), "{}", stderr(&restarted));
    assert_eq!(
        r.sim.stats().count(Operation::Translate, 400) - before,
        refused.len() as u64
    );
    assert_eq!(summary(&restarted)["accounts_refused"], refused.len());
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_an_accounts_file_and_json_lines() {
    let r = migrated(40).await;
    // Two accounts of the U.S. pair, as `report` lists them (with a pair column).
    let report = r.run(&["report", &r.plan_arg()]).await;
    assert_eq!(report.status.code(), Some(0));
    let report_csv = stdout(&report);
    let chosen: Vec<&str> = report_csv
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("us,") && l.contains(",google,"))
        .take(2)
        .collect();
    assert_eq!(chosen.len(), 2);
    let file = r.dir.path().join("accounts.csv");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            report_csv.lines().next().unwrap(),
            chosen.join("\n")
        ),
    )
    .unwrap();
    let since = nylas_migrate::simulator::AccountObjects::created_at(1500);
    let out_path = r.dir.path().join("ids.jsonl");
    let out = r
        .run(&[
            "translate",
            &r.plan_arg(),
            "--resource-types",
            "threads",
            "--since",
            &since.to_string(),
            "--accounts",
            file.to_str().unwrap(),
            "--format",
            "jsonl",
            "--out",
            out_path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let ids: Vec<&str> = chosen
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    let (want, _) = expected(&r, 40, &["threads"], Some(since));
    let want: Vec<Row> = want
        .into_iter()
        .filter(|row| ids.contains(&row.1.as_str()))
        .collect();
    let got: Vec<Row> = std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let f = |k: &str| v[k].as_str().unwrap().to_owned();
            (
                f("pair"),
                f("v2_account_id"),
                f("grant_id"),
                f("resource_type"),
                f("v2_id"),
                f("v3_id"),
            )
        })
        .collect();
    assert_eq!(sorted_without_duplicates(got), want);
    assert!(stdout(&out).contains("Translated"), "{}", stdout(&out));

    // The same output with other options is refused, and an unrelated file is not overwritten.
    let other = r
        .run(&[
            "translate",
            &r.plan_arg(),
            "--resource-types",
            "threads",
            "--format",
            "jsonl",
            "--accounts",
            file.to_str().unwrap(),
            "--out",
            out_path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(other.status.code(), Some(1));
    assert!(
        support::stderr(&other).contains("--since"),
        "{}",
        support::stderr(&other)
    );
    assert!(stderr(&other).contains(Code::TranslateOptionsChanged.as_str()));
    let unrelated = r.dir.path().join("notes.csv");
    std::fs::write(&unrelated, "keep me\n").unwrap();
    let refused = r
        .run(&[
            "translate",
            &r.plan_arg(),
            "--resource-types",
            "threads",
            "--out",
            unrelated.to_str().unwrap(),
        ])
        .await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        support::stderr(&refused).contains("already exists"),
        "{}",
        support::stderr(&refused)
    );
    assert!(stderr(&refused).contains(Code::TranslateOutputExists.as_str()));
    assert_eq!(std::fs::read_to_string(&unrelated).unwrap(), "keep me\n");
    // `--restart` overwrites it, and a second `--restart` of the same output starts it again.
    for _ in 0..2 {
        let restarted = r
            .run(&[
                "--output",
                "json",
                "translate",
                &r.plan_arg(),
                "--resource-types",
                "threads",
                "--accounts",
                file.to_str().unwrap(),
                "--out",
                unrelated.to_str().unwrap(),
                "--restart",
            ])
            .await;
        assert_eq!(
            restarted.status.code(),
            Some(0),
            "{}",
            support::stderr(&restarted)
        );
        assert_eq!(summary(&restarted)["pages_resumed"], 0);
        let (all, _) = expected(&r, 40, &["threads"], None);
        let all: Vec<Row> = all
            .into_iter()
            .filter(|row| ids.contains(&row.1.as_str()))
            .collect();
        assert_eq!(sorted_without_duplicates(read_csv(&unrelated)), all);
    }
    // A bad accounts file names its line.
    std::fs::write(&file, "abc\nnot an id\n").unwrap();
    let bad = r
        .run(&[
            "translate",
            &r.plan_arg(),
            "--resource-types",
            "threads",
            "--accounts",
            file.to_str().unwrap(),
            "--out",
            r.dir.path().join("x.csv").to_str().unwrap(),
        ])
        .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        support::stderr(&bad).contains("accounts.csv:2"),
        "{}",
        support::stderr(&bad)
    );
    assert!(stderr(&bad).contains(Code::TranslateAccountsFile.as_str()));
    r.sim.shutdown().await;
}

/// Translations the simulator answered, once requests a killed process left in flight are
/// answered too (the count stops moving; polled, at most ten seconds).
async fn settled_translations(r: &Rehearsal) -> u64 {
    let mut last = r.sim.stats().count(Operation::Translate, 200);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = r.sim.stats().count(Operation::Translate, 200);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the simulator kept answering translations after the run was killed");
}

/// Starts translate, SIGKILLs it once `out` has grown past `bytes`.
async fn translate_killed(r: &Rehearsal, args: Vec<String>, out: &Path, bytes: u64) {
    let mut cmd = r.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let out = out.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::fs::metadata(&out).is_ok_and(|m| m.len() > bytes) {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                return;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("translate ended ({status}) before it could be killed");
            }
            assert!(Instant::now() < deadline, "the output did not grow");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_with_every_row_once() {
    let r = migrated(60).await;
    let types = ["messages", "threads"];
    let (want, _) = expected(&r, 60, &types, None);
    let out_path = r.dir.path().join("killed.csv");
    let args: Vec<String> = [
        "--output",
        "json",
        "translate",
        &r.plan_arg(),
        "--resource-types",
        "messages,threads",
        "--out",
        out_path.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Killed twice, each time later in the run.
    translate_killed(&r, args.clone(), &out_path, 1_000_000).await;
    let first = read_csv(&out_path).len();
    translate_killed(&r, args.clone(), &out_path, 3_000_000).await;
    let before = settled_translations(&r).await;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let done = r.run(&args).await;
    assert_eq!(done.status.code(), Some(0), "{}", support::stderr(&done));
    let s = summary(&done);
    let pages_total: u64 = {
        let world = world(60);
        let accounts: BTreeMap<&str, &V2Account> = world
            .v2_apps
            .iter()
            .flat_map(|a| &a.accounts)
            .map(|a| (a.id.as_str(), a))
            .collect();
        let view = r.sim.world();
        r.plan
            .pairs
            .iter()
            .flat_map(|p| view.app(&p.v3.app_id).unwrap().grants.clone())
            .filter_map(|g| {
                let a = accounts[g.account_id.as_deref().unwrap()];
                (!is_outlook(a)).then(|| {
                    types
                        .iter()
                        .map(|t| {
                            (AccountObjects::new(a, t).unwrap().count().max(1) as u64)
                                .div_ceil(3000)
                        })
                        .sum::<u64>()
                })
            })
            .sum()
    };
    // The last run asked only for the pages no earlier run recorded.
    assert!(s["pages_resumed"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(
        s["pages_resumed"].as_u64().unwrap() + s["pages_this_run"].as_u64().unwrap(),
        pages_total,
        "{s}"
    );
    assert_eq!(
        r.sim.stats().count(Operation::Translate, 200) - before,
        s["pages_this_run"].as_u64().unwrap()
    );
    assert!(first > 0);
    assert_eq!(sorted_without_duplicates(read_csv(&out_path)), want);
    assert_eq!(r.sim.stats().count(Operation::Translate, 429), 0);
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_world_translates() {
    let demo = std::fs::read_to_string(support::root().join("examples/demo.yaml")).unwrap();
    let r = rehearsal::start(&demo, 60, |_, _| {}).await;
    let applied = r.apply().await;
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}",
        support::stderr(&applied)
    );
    let (want, refused) = expected(&r, 60, &["folders", "calendars"], None);
    let out_path = r.dir.path().join("demo.csv");
    let out = r
        .run(&[
            "--output",
            "json",
            "translate",
            &r.plan_arg(),
            "--resource-types",
            "folders,calendars",
            "--out",
            out_path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert_eq!(sorted_without_duplicates(read_csv(&out_path)), want);
    let s = summary(&out);
    assert_eq!(s["accounts_refused"], refused.len());
    assert_eq!(r.sim.stats().count(Operation::Translate, 429), 0);
    r.sim.shutdown().await;
}
