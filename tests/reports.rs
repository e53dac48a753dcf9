//! `status`, `report` and `plan` after an apply, against the simulator: snapshots of what people
//! read, the CSV parsed back against the simulator's grants, and no secret anywhere.

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::snapshot::Redactions;
use crate::support::{stderr, stdout};

const PLAN: &str = r#"version: 1
name: reports
pairs:
  - name: main
    region: us
    v2: { app_id: main02v2app00000000000001, client_secret: { env: MAIN_V2_SECRET } }
    v3: { app_id: 0a0a0a0a-0000-4000-8000-00000000000a, api_key: { env: MAIN_V3_KEY } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET }, tenant: common }
    webhooks:
      - url: https://hooks.example.com/main
        triggers: [grant.created]
    clone:
      single: [main00account000000000001, main00account000000000002]
      batches:
        - { name: everyone, mode: only_new }
  - name: side
    region: eu
    v2: { app_id: side02v2app00000000000001, client_secret: { env: SIDE_V2_SECRET } }
    v3: { app_id: 0b0b0b0b-0000-4000-8000-00000000000b, api_key: { env: SIDE_V3_KEY } }
    clone:
      single: [side00account000000000001]
"#;

fn assert_no_secret(r: &Rehearsal, output: &str) {
    for (name, value) in &r.secrets {
        assert!(
            !output.contains(value.as_str()),
            "secret {name} appears in:\n{output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_report_and_plan_after_an_apply() {
    // `side` has no Microsoft fix and its test account is a Microsoft one: its clone fails, and
    // the report says why.
    let r = rehearsal::start(PLAN, 60, |world, _| {
        let side = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "side02v2app00000000000001")
            .unwrap();
        side.accounts[0].provider = nylas_migrate::simulator::AccountProvider::Microsoft;
        side.accounts[0].migratable = true;
    })
    .await;
    let plan = r.plan_arg();
    let applied = r.apply().await;
    assert_eq!(
        applied.status.code(),
        Some(1),
        "the side clone fails: {}",
        stderr(&applied)
    );
    assert_no_secret(&r, &format!("{}{}", stdout(&applied), stderr(&applied)));
    let world = r.sim.world();

    // status, for people and for pipelines
    let status = r.run(&["status", &plan]).await;
    // The side clone was refused: status says so, and exits 1.
    assert_eq!(status.status.code(), Some(1), "{}", stderr(&status));
    assert_no_secret(&r, &stdout(&status));
    let redactions = Redactions::new().world(&world);
    redactions.bind(|| insta::assert_snapshot!("status.txt", stdout(&status)));

    let json = r.run(&["--output", "json", "status", &plan]).await;
    redactions.bind(|| insta::assert_snapshot!("status.json", stdout(&json)));
    let value: serde_json::Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    assert_eq!(value["v"], 1);
    let main = &value["status"]["pairs"][0];
    let wave = main["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "batch")
        .unwrap();
    assert_eq!(wave["status"], "done");
    assert_eq!(wave["job"]["percent"], 100);
    assert_no_secret(&r, &stdout(&json));

    // plan after apply: main unchanged, side still has its failed clone to do
    let preview = r.run(&["plan", &plan]).await;
    assert_no_secret(&r, &stdout(&preview));
    redactions.bind(|| insta::assert_snapshot!("plan-after-apply.txt", stdout(&preview)));
    let preview_json = r.run(&["--output", "json", "plan", &plan]).await;
    redactions.bind(|| insta::assert_snapshot!("plan-after-apply.jsonl", stdout(&preview_json)));

    // report: the CSV parsed back matches the simulator's grants, plus the failed clone
    let csv_path = r.dir.path().join("report.csv");
    let report = r
        .run(&["report", &plan, "--out", csv_path.to_str().unwrap()])
        .await;
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert_no_secret(&r, &csv);
    // Rows come in the order Nylas lists the grants (concurrent clones land in either order):
    // the snapshot holds them sorted, the header first.
    let sorted = {
        let mut lines: Vec<&str> = csv.lines().collect();
        lines[1..].sort_unstable();
        lines.join("\n") + "\n"
    };
    redactions.bind(|| insta::assert_snapshot!("report.csv", &sorted));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("pair,account_id,provider,email,grant_id,grant_status,outcome,error")
    );
    let rows: Vec<Vec<String>> = lines.map(parse_csv_line).collect();
    let mut expected = Vec::new();
    for (pair, app_id) in [
        ("main", "0a0a0a0a-0000-4000-8000-00000000000a"),
        ("side", "0b0b0b0b-0000-4000-8000-00000000000b"),
    ] {
        for grant in &world.app(app_id).unwrap().grants {
            let status = grant
                .grant_status
                .map(|s| s.to_string())
                .unwrap_or_default();
            let outcome = if status == "invalid" {
                "placeholder"
            } else {
                "migrated"
            };
            expected.push((
                pair.to_owned(),
                grant.account_id.clone().unwrap(),
                grant.id.clone(),
                status,
                outcome.to_owned(),
            ));
        }
    }
    let mut actual: Vec<_> = rows
        .iter()
        .filter(|r| r[6] != "failed")
        .map(|r| {
            (
                r[0].clone(),
                r[1].clone(),
                r[4].clone(),
                r[5].clone(),
                r[6].clone(),
            )
        })
        .collect();
    expected.sort();
    actual.sort();
    assert_eq!(actual, expected, "report rows are the simulator's grants");
    let failed: Vec<_> = rows.iter().filter(|r| r[6] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0][1], "side00account000000000001");
    assert!(!failed[0][7].is_empty(), "a failed row carries its error");

    let json_report = r.run(&["report", &plan, "--format", "json"]).await;
    let value: serde_json::Value = serde_json::from_str(&stdout(&json_report)).unwrap();
    assert_eq!(value["accounts"].as_array().unwrap().len(), rows.len());
    assert_eq!(value["waves"][0]["wave"], "everyone");
}

/// One CSV record (RFC 4180 quoting, no embedded newlines in these rows).
fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

const EXCHANGE_HEAVY: &str = r#"version: 1
name: exchange-heavy
pairs:
  - name: exch
    region: us
    v2: { app_id: exch02v2app00000000000001, client_secret: { env: EXCH_V2 } }
    v3: { app_id: 0e0e0e0e-0000-4000-8000-0000000000e1, api_key: { env: EXCH_V3 } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET }, tenant: common }
    clone:
      placeholders: { clone_exchange: false }
      batches:
        - { name: exchange, providers: [microsoft], mode: only_new, limit: 50 }
        - { name: rest, providers: [google, imap, icloud, ews], mode: only_new }
        - { name: retry, mode: only_failed }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_rows_and_counted_failures_add_up_on_an_exchange_heavy_world() {
    // Two thirds of the accounts are Microsoft, half of those personal ones that cannot be
    // migrated (and get no placeholder: clone_exchange is false); the second batch clone
    // fails outright.
    let r = rehearsal::start(EXCHANGE_HEAVY, 240, |world, config| {
        let v2 = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "exch02v2app00000000000001")
            .unwrap();
        for (n, account) in v2.accounts.iter_mut().enumerate() {
            if n % 3 != 0 {
                account.provider = nylas_migrate::simulator::AccountProvider::Microsoft;
                account.migratable = n % 2 == 0;
            }
        }
        config.failing_jobs = vec![nylas_migrate::simulator::FailingJob {
            application_id: "0e0e0e0e-0000-4000-8000-0000000000e1".into(),
            nth: 2,
        }];
    })
    .await;
    let plan = r.plan_arg();
    let first = r.apply().await;
    assert_eq!(first.status.code(), Some(1), "the `rest` wave failed");
    // The first wave, widened: its settings changed, so it runs again over the next accounts.
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    std::fs::write(
        &r.plan_path,
        text.replace("mode: only_new, limit: 50 }", "mode: only_new, limit: 80 }"),
    )
    .unwrap();
    r.apply().await;
    assert_eq!(
        r.sim
            .stats()
            .count(nylas_migrate::api::Operation::SnapshotBatchClone, 200),
        4
    );

    let out = r.run(&["report", &plan, "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let waves = report["waves"].as_array().unwrap();
    let sum = |field: &str| -> u64 { waves.iter().map(|w| w[field].as_u64().unwrap()).sum() };
    let rows = report["accounts"].as_array().unwrap().len() as u64;
    let exchange = waves.iter().find(|w| w["wave"] == "exchange").unwrap();
    let jobs = exchange["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{report:#}");
    assert_eq!(jobs[0]["count_all"], 50, "{report:#}");
    assert!(jobs[1]["count_all"].as_u64().unwrap() > 50, "{report:#}");
    assert_eq!(
        exchange["count_all"].as_u64().unwrap(),
        50 + jobs[1]["count_all"].as_u64().unwrap(),
        "every job of the wave counts: {report:#}"
    );
    let rest = waves.iter().find(|w| w["wave"] == "rest").unwrap();
    assert_eq!(rest["status"], "failed");
    assert_eq!(rest["count_failed"], rest["count_all"], "{report:#}");
    assert!(sum("count_failed") > 50, "{report:#}");
    // Every account a wave selected is a row (it has a grant) or a counted failure.
    assert_eq!(rows + sum("count_failed"), sum("count_all"), "{report:#}");
    assert_eq!(report["totals"]["selected_by_jobs"], sum("count_all"));
    assert_eq!(report["totals"]["failed_in_jobs"], sum("count_failed"));
    assert_eq!(report["totals"]["rows"], rows);
}
