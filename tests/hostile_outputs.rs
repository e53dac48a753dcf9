//! What the outputs do with text from a hostile or broken server (issue 22, items 4 and 6):
//! emails with control characters and spreadsheet formulas reach neither a terminal nor a
//! spreadsheet as they are, in any report; a message of megabytes is not kept whole in the
//! journal nor printed whole (or slowly) by every later command.

use crate::support::rehearsal;
use crate::support::{stderr, stdout};

const PLAN: &str = r#"version: 1
name: hostile-outputs
pairs:
  - name: us
    region: us
    v2: { app_id: hosus2v2app00000000000001, client_secret: { env: H_US_V2 } }
    v3: { app_id: 5e5e5e5e-0000-4000-8000-000000000001, api_key: { env: H_US_V3 } }
    clone:
      single: [hosus0account00000000001, hosus0account00000000002, hosus0account00000000003]
      placeholders: { allow_invalid_grant_creation: false }
"#;

/// Emails a hostile v2 application can hold: terminal escapes (retitle, clear, bell), a lone
/// carriage return, a bidirectional override, and cells a spreadsheet would run as formulas.
const EMAILS: [&str; 3] = [
    "=HYPERLINK(\"http://evil\")\u{1b}]0;owned\u{7}@evil.example",
    "\t-2+3\r\u{1b}[2J@evil.example",
    "\r@SUM(A1)\u{202e}\u{9b}31m\u{7f}@evil.example",
];

/// Bytes no output may hold raw: C0 controls but the line feed, DEL, and the UTF-8 of the C1
/// controls and the bidirectional overrides.
fn raw_controls(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.chars()
        .filter(|&c| c != '\n' && nylas_migrate::untrusted::is_unsafe(c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_escape_and_neutralise_every_cell_from_the_api() {
    let r = rehearsal::start(PLAN, 10, |world, _| {
        let app = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "hosus2v2app00000000000001")
            .unwrap();
        for (account, email) in app.accounts.iter_mut().zip(EMAILS) {
            account.email = email.to_owned();
        }
        // One fails, so its row is in `--outcome failed` with a reason.
        app.accounts[2].migratable = false;
    })
    .await;
    let applied = r.apply().await;
    assert_eq!(applied.status.code(), Some(1), "{}", stderr(&applied));
    let plan = r.plan_arg();
    let out_file = r.dir.path().join("accounts.csv");
    let out_arg = out_file.display().to_string();
    let commands: [&[&str]; 7] = [
        &["report", &plan, "--outcome", "migrated,failed"],
        &[
            "report",
            &plan,
            "--outcome",
            "migrated,failed",
            "--format",
            "json",
        ],
        &["report", &plan],
        &["report", &plan, "--format", "json"],
        &[
            "report",
            &plan,
            "--outcome",
            "migrated,failed",
            "--out",
            &out_arg,
        ],
        &["status", &plan],
        &["report", &plan, "--format", "html"],
    ];
    for args in commands {
        let out = r.run(args).await;
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(1),
            "{args:?}: {}",
            stderr(&out)
        );
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let raw = raw_controls(bytes);
            assert!(
                raw.is_empty(),
                "{args:?}: raw {raw:?} on {stream}:\n{}",
                String::from_utf8_lossy(bytes).escape_debug()
            );
        }
        let csv_text = if args.contains(&"--out") {
            let bytes = std::fs::read(&out_file).unwrap();
            let raw = raw_controls(&bytes);
            assert!(raw.is_empty(), "{args:?}: raw {raw:?} in the file");
            String::from_utf8(bytes).unwrap()
        } else if args[0] == "report" && !args.contains(&"json") && !args.contains(&"html") {
            stdout(&out)
        } else {
            continue;
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(csv_text.as_bytes());
        let mut emails = 0;
        for record in reader.records() {
            let record = record.unwrap_or_else(|e| panic!("{args:?}: not CSV: {e}\n{csv_text}"));
            for cell in record.iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{args:?}: a cell a spreadsheet runs: {cell:?}"
                );
                if cell.contains("evil.example") {
                    emails += 1;
                    assert!(cell.starts_with('\''), "{args:?}: {cell:?}");
                }
            }
        }
        // The failed account never got a grant: the report knows no email for it.
        assert_eq!(
            emails, 2,
            "{args:?}: every migrated hostile row:\n{csv_text}"
        );
    }
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_message_in_an_old_journal_is_printed_cut() {
    let r = rehearsal::start(PLAN, 10, |world, _| {
        let app = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "hosus2v2app00000000000001")
            .unwrap();
        app.accounts[2].migratable = false;
    })
    .await;
    let applied = r.apply().await;
    assert_eq!(applied.status.code(), Some(1), "{}", stderr(&applied));
    // What an older version kept: the refusal's message as the server sent it, one word of
    // 2 MiB (every later `status` took seconds to print it, quadratic in its length).
    let word = "W".repeat(2 * 1024 * 1024);
    {
        let journal = r.dir.path().join(".nylas-migrate").join("journal.sqlite");
        let conn = rusqlite::Connection::open(journal).unwrap();
        let changed = conn
            .execute(
                "UPDATE steps SET record = json_set(record, '$.error', ?1) WHERE status = 'failed'",
                [&word],
            )
            .unwrap();
        assert_eq!(changed, 1, "the failed clone's row");
    }
    let plan = r.plan_arg();
    for args in [
        &["status", &plan, "--offline"][..],
        &["status", &plan],
        &["plan", &plan],
        &["report", &plan, "--outcome", "failed"],
    ] {
        let out = r.run(args).await;
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            shown.len() < 64 * 1024,
            "{args:?} printed {} bytes of a 2 MiB message",
            shown.len()
        );
        assert!(
            shown.contains("WWWW") && shown.contains("more bytes not kept"),
            "{args:?} shows the start of the message and says it was cut:\n{}",
            &shown[..shown.len().min(4000)]
        );
    }
    r.sim.shutdown().await;
}

/// A server that answers like the Nylas API with nothing on the application, and refuses every
/// write with HTTP 400 and a message of one 1 MiB word.
async fn refusing_api(word: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::get;
    use serde_json::json;
    let app = axum::Router::new()
        .route(
            "/v3/applications",
            get(|| async {
                axum::Json(json!({"request_id": "r", "data": {
                    "application_id": "5e5e5e5e-0000-4000-8000-000000000001",
                    "region": "us",
                }}))
            }),
        )
        .route(
            "/v3/migration-tools/jobs",
            get(|| async { axum::Json(json!({"request_id": "r", "data": []})) }),
        )
        .route(
            "/v3/grants",
            get(|| async {
                axum::Json(json!({"request_id": "r", "limit": 200, "offset": 0, "data": []}))
            }),
        )
        .fallback(move || async move {
            (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({"request_id": "r-huge",
                    "error": {"type": "invalid_request_error", "message": word}})),
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_message_from_the_server_is_recorded_and_printed_cut() {
    let word: &'static str = Box::leak("M".repeat(1024 * 1024).into_boxed_str());
    let (url, server) = refusing_api(word).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\nname: huge\nregions:\n  us: {{ api_url: \"{url}\" }}\npairs:\n  - name: solo\n    region: us\n    v2: {{ app_id: hosus2v2app00000000000001, client_secret: {{ env: H_V2 }} }}\n    v3: {{ app_id: 5e5e5e5e-0000-4000-8000-000000000001, api_key: {{ env: H_V3 }} }}\n    clone:\n      batches:\n        - {{ name: everyone, mode: only_new }}\n"
        ),
    )
    .unwrap();
    let plan = plan.display().to_string();
    let run = |args: Vec<String>| {
        crate::support::cli::Test::new()
            .args(args)
            .env("H_V2", "v2-secret")
            .env("H_V3", "v3-key")
            .run_async()
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let applied = run(args(&["apply", &plan, "--yes"])).await;
    assert_eq!(applied.status.code(), Some(1), "{}", stderr(&applied));
    // The journal keeps a few KiB of it, saying it was cut.
    let journal = dir.path().join(".nylas-migrate").join("journal.sqlite");
    let conn = rusqlite::Connection::open(journal).unwrap();
    let longest: i64 = conn
        .query_row(
            "SELECT max(length(record)) FROM (SELECT record FROM steps UNION ALL SELECT record FROM events)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(longest < 8 * 1024, "a journal record of {longest} bytes");
    let cut: i64 = conn
        .query_row(
            "SELECT count(*) FROM steps WHERE record LIKE '%more bytes not kept%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(cut >= 1, "the refused step's record says it was cut");
    drop(conn);
    for list in [
        &["apply", &plan, "--yes"][..],
        &["status", &plan, "--offline"],
        &["plan", &plan],
    ] {
        let out = run(args(list)).await;
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            shown.len() < 64 * 1024,
            "{list:?} printed {} bytes of a 1 MiB message:\n{}",
            shown.len(),
            shown
                .lines()
                .filter(|l| !l.trim().chars().all(|c| c == 'M'))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            shown.contains("MMMM") && shown.contains("more bytes not kept"),
            "{list:?}:\n{}",
            &shown[..shown.len().min(4000)]
        );
    }
    server.abort();
}
