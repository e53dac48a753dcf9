//! Pages for people (issue 25): the HTML report opened by a real headless Chromium, and the
//! markdown previews of `plan`, `status` and `verify`, against the simulator.

use std::sync::atomic::Ordering;

use crate::support::browser;
use crate::support::rehearsal::{self, Rehearsal};
use crate::support::snapshot::Redactions;
use crate::support::{counting_listener, root, stderr, stdout};

const PLAN: &str = r#"version: 1
name: pages
pairs:
  - name: main
    region: us
    v2: { app_id: page02v2app00000000000001, client_secret: { env: MAIN_V2_SECRET } }
    v3: { app_id: 0c0c0c0c-0000-4000-8000-00000000000c, api_key: { env: MAIN_V3_KEY } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZURE_ID }, client_secret: { env: AZURE_SECRET }, tenant: common }
    webhooks:
      - url: https://hooks.example.com/main
        triggers: [grant.created]
    clone:
      single: [page00account000000000001]
      batches:
        - { name: google, providers: [google], mode: only_new }
        - { name: everyone-else, mode: only_new }
  - name: side
    region: eu
    v2: { app_id: side02v2app00000000000009, client_secret: { env: SIDE_V2_SECRET } }
    v3: { app_id: 0d0d0d0d-0000-4000-8000-00000000000d, api_key: { env: SIDE_V3_KEY } }
    clone:
      batches:
        - { name: all, mode: only_new }
"#;

/// A rehearsal applied once: some of main's accounts cannot migrate (placeholders), three
/// have emails made to break a page (markup that would load from `leak`, a script), and
/// side's test account... has none: its pair has waves only.
async fn applied(leak: &str) -> Rehearsal {
    let hostile = [
        format!("<img src=\"{leak}/img\" onerror=\"fetch('{leak}/js')\">@evil.example"),
        format!("</td></tr></table><script src=\"{leak}/script\"></script>@evil.example"),
        "\u{1b}]0;owned\u{7}[x](https://evil.example)@evil.example".to_owned(),
    ];
    let r = rehearsal::start(PLAN, 80, |world, _| {
        let main = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "page02v2app00000000000001")
            .unwrap();
        for (n, account) in main.accounts.iter_mut().enumerate() {
            if n % 5 == 1 {
                account.migratable = false;
            }
        }
        for (account, email) in main.accounts.iter_mut().skip(1).step_by(5).zip(&hostile) {
            account.email = email.clone();
        }
    })
    .await;
    let applied = r.apply().await;
    assert!(
        matches!(applied.status.code(), Some(0 | 1)),
        "{}",
        stderr(&applied)
    );
    r
}

/// The numbers of a DOM's table rows (`<td class="n">`), per row whose first cells are given.
fn numbers(dom: &str, row_start: &str) -> Vec<u64> {
    let at = dom
        .find(row_start)
        .unwrap_or_else(|| panic!("no row {row_start:?} in the page"));
    let row = &dom[at..at + dom[at..].find("</tr>").unwrap()];
    regex::Regex::new(r#"<td class="n">([0-9]+)</td>"#)
        .unwrap()
        .captures_iter(row)
        .map(|c| c[1].parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_in_a_real_browser() {
    let Some(chromium) = browser::chromium() else {
        return;
    };
    let (leak, requests) = counting_listener();
    let r = applied(&leak).await;
    let plan = r.plan_arg();
    let page = r.dir.path().join("report.html");
    let out = r
        .run(&[
            "report",
            &plan,
            "--format",
            "html",
            "--out",
            page.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = stdout(&r.run(&["report", &plan]).await);
    let json: serde_json::Value = serde_json::from_str(&stdout(
        &r.run(&["report", &plan, "--format", "json"]).await,
    ))
    .unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    for (name, value) in &r.secrets {
        assert!(!html.contains(value.as_str()), "secret {name} in the page");
    }
    assert!(
        !html.contains("<img"),
        "an element from an email in the file"
    );

    let url = format!("file://{}", page.display());
    let loaded = browser::load(&chromium, &url);
    let dom = &loaded.dom;
    assert!(
        loaded.console.is_empty(),
        "the page logged (an error, a blocked load): {:#?}",
        loaded.console
    );
    assert!(dom.contains("data-ready=\"1\""), "its script did not run");
    // Hostile emails are text: no element of theirs, nothing fetched.
    assert_eq!(dom.matches("<img").count(), 0, "an element from an email");
    assert_eq!(dom.matches("<script").count(), 1, "a script from an email");
    assert!(dom.contains("&lt;img src="), "the email is shown as text");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        0,
        "the page made a request"
    );

    // Every pair's checklist, every wave with the report's counts.
    for pair in ["main", "side"] {
        assert!(dom.contains(&format!("<caption><b>{pair}</b>")), "{pair}");
    }
    let waves = json["waves"].as_array().unwrap();
    assert_eq!(waves.len(), 3, "{json:#}");
    assert_eq!(dom.matches("<tr class=\"wave\">").count(), waves.len());
    for wave in waves {
        let start = format!(
            "<tr class=\"wave\"><td>{}</td><td>{}</td>",
            wave["pair"].as_str().unwrap(),
            wave["wave"].as_str().unwrap()
        );
        let field = |f: &str| wave[f].as_u64().unwrap();
        assert_eq!(
            numbers(dom, &start),
            vec![
                field("count_all"),
                field("count_success"),
                field("count_warning"),
                field("count_failed"),
                wave["jobs"].as_array().unwrap().len() as u64,
            ],
            "{start}"
        );
        // Its job's start and end, as Nylas lists them.
        let row = &dom[dom.find(&start).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert_eq!(row.matches(" UTC</td>").count(), 2, "{row}");
    }
    // Outcomes by provider: the CSV's rows counted.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut by_provider = std::collections::BTreeMap::<String, [u64; 4]>::new();
    let mut must_sign_in = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let provider = if record[2].is_empty() {
            "(not known)"
        } else {
            &record[2]
        };
        let index = ["migrated", "placeholder", "failed", "pending"]
            .iter()
            .position(|o| *o == &record[6])
            .unwrap();
        by_provider.entry(provider.to_owned()).or_default()[index] += 1;
        must_sign_in += u64::from(index == 1 || index == 2);
    }
    assert!(must_sign_in >= 3, "placeholders expected: {csv}");
    for (provider, counts) in &by_provider {
        let mut expected = counts.to_vec();
        expected.push(counts.iter().sum());
        assert_eq!(
            numbers(dom, &format!("<tr><th scope=\"row\">{provider}</th>")),
            expected,
            "{provider}"
        );
    }
    let list = &dom[dom.find("<table id=\"signin\">").unwrap()..];
    let list = &list[..list.find("</table>").unwrap()];
    assert_eq!(list.matches("<tr>").count() as u64, must_sign_in + 1);
    assert!(dom.contains(&format!("{must_sign_in} of {must_sign_in} shown")));

    // The search box, asked by the link's fragment: only the matching rows stay shown.
    let searched = browser::load(&chromium, &format!("{url}#q=evil.example"));
    assert!(searched.console.is_empty(), "{:#?}", searched.console);
    assert!(
        searched.dom.contains(&format!("3 of {must_sign_in} shown")),
        "the search found the three hostile emails"
    );

    // For people to look at: target/report-html/report.png.
    let shots = root().join("target/report-html");
    std::fs::create_dir_all(&shots).unwrap();
    browser::screenshot(&chromium, &url, &shots.join("report.png"), 2400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_previews_of_plan_status_and_verify() {
    let (leak, _) = counting_listener();
    let r = applied(&leak).await;
    let plan = r.plan_arg();
    let world = r.sim.world();
    let redactions = Redactions::new().world(&world);
    for (name, args) in [
        ("plan.md", vec!["--output", "markdown", "plan", &plan]),
        (
            "plan-offline.md",
            vec!["--output", "markdown", "plan", &plan, "--offline"],
        ),
        ("status.md", vec!["--output", "markdown", "status", &plan]),
        ("verify.md", vec!["--output", "markdown", "verify", &plan]),
    ] {
        let out = r.run(&args).await;
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            stderr(&out)
        );
        let text = stdout(&out);
        for (secret, value) in &r.secrets {
            assert!(!text.contains(value.as_str()), "secret {secret} in {name}");
        }
        assert!(text.starts_with("### nylas-migrate "), "{name}: {text}");
        // One collapsible section per pair (the offline list is one table).
        assert_eq!(
            text.matches("<details").count(),
            if name.contains("offline") { 0 } else { 2 },
            "{name}: {text}"
        );
        redactions.bind(|| insta::assert_snapshot!(name, text));
    }
}
