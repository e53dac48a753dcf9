//! Targeted runs (`--pair`) against the simulator: a run reads and prints nothing of a pair it
//! does not target (but the partial-run note), and a targeted pair that waits on an untargeted
//! `after` pair is counted and worded as waiting, with exit codes that agree with the counts.

use std::sync::atomic::Ordering;

use crate::support::events::{checked_with, events_schema};
use crate::support::rehearsal::{self, Rehearsal};
use crate::support::{counting_listener, stderr, stdout};
use nylas_migrate::api::Region;
use serde_json::Value;

/// Two pairs, `acme-us` (us) with a webhook, a Microsoft connector (manual steps) and a clone,
/// and `acme-eu` (eu); `acme-eu` waits for `acme-us` only when `after` is set.
fn plan_text(after: bool) -> String {
    format!(
        r#"version: 1
name: targets
pairs:
  - name: acme-us
    region: us
    v2: {{ app_id: acmeusv2app00000000000001, client_secret: {{ env: US_V2_SECRET }} }}
    v3: {{ app_id: 0a0a0a0a-0000-4000-8000-0000000000a1, api_key: {{ env: US_V3_KEY }} }}
    connectors:
      - provider: microsoft
        settings: {{ client_id: {{ env: AZURE_ID }}, client_secret: {{ env: AZURE_SECRET }}, tenant: common }}
    webhooks:
      - url: https://hooks.example.com/us
        triggers: [grant.created]
    clone:
      single: [acmeus0account00000000001]
  - name: acme-eu
    region: eu
{}    v2: {{ app_id: acmeeuv2app00000000000001, client_secret: {{ env: EU_V2_SECRET }} }}
    v3: {{ app_id: 0b0b0b0b-0000-4000-8000-0000000000b2, api_key: {{ env: EU_V3_KEY }} }}
    connectors:
      - provider: google
        settings: {{ client_id: {{ env: GOOGLE_ID }}, client_secret: {{ env: GOOGLE_SECRET }} }}
    webhooks:
      - url: https://hooks.example.com/eu
        triggers: [grant.created]
    clone:
      single: [acmeeu0account00000000001]
"#,
        if after { "    after: [acme-us]\n" } else { "" }
    )
}

/// Points region `region` of the rehearsal's plan at `url` instead of the simulator.
fn point_region_at(r: &Rehearsal, region: Region, url: &str) {
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    let sim = r.sim.base_url(region);
    let key = match region {
        Region::Us => "us",
        Region::Eu => "eu",
    };
    let from = format!("  {key}: {{ api_url: \"{sim}\" }}");
    assert!(text.contains(&from), "{text}");
    let to = format!("  {key}: {{ api_url: \"{url}\" }}");
    std::fs::write(&r.plan_path, text.replace(&from, &to)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_targeted_run_reads_and_prints_nothing_of_the_other_pairs() {
    let r = rehearsal::start(&plan_text(false), 30, |_, _| {}).await;
    // acme-us's application is reached only through this listener: any request to it is a
    // connection counted here.
    let (elsewhere, connections) = counting_listener();
    point_region_at(&r, Region::Us, &elsewhere);
    let plan = r.plan_arg();

    let human = r.run(&["plan", &plan, "--pair", "acme-eu"]).await;
    assert_eq!(human.status.code(), Some(0), "{}", stderr(&human));
    let text = stdout(&human);
    assert!(
        text.contains("! note: partial run (--pair): only acme-eu; not read or written: acme-us"),
        "{text}"
    );
    // acme-eu's own manual steps are there; nothing of acme-us is, but the note.
    assert!(text.contains("acme-eu (eu)"), "{text}");
    let mentions: Vec<&str> = text.lines().filter(|l| l.contains("acme-us")).collect();
    assert_eq!(mentions.len(), 1, "{mentions:?}\n{text}");
    assert!(!text.contains("not managed by this plan"), "{text}");
    assert!(!text.contains("could not list"), "{text}");

    let json = r
        .run(&["--output", "json", "plan", &plan, "--pair", "acme-eu"])
        .await;
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let events = checked_with(&events_schema(), &stdout(&json));
    let other: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] != "partial" && e.to_string().contains("acme-us"))
        .collect();
    assert!(other.is_empty(), "{other:?}");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "manual_step" && e["pair"] == "acme-eu"),
        "{events:?}"
    );

    let applied = r.run(&["apply", &plan, "--yes", "--pair", "acme-eu"]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert!(
        !stdout(&applied).contains("acme-us/"),
        "{}",
        stdout(&applied)
    );

    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no request reached acme-us's application"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_targeted_pair_waiting_on_an_untargeted_pair_is_counted_as_waiting() {
    let r = rehearsal::start(&plan_text(true), 30, |_, _| {}).await;
    let plan = r.plan_arg();

    let human = r
        .run(&["plan", &plan, "--pair", "acme-eu", "--detailed-exitcode"])
        .await;
    let text = stdout(&human);
    assert!(
        text.contains(
            "Plan: 0 changes (0 to create, 0 to update, 0 running to follow, 0 after those); 0 unchanged, 0 conflicts, 0 blocked by a conflict, 0 held by a gate, 5 waiting on pairs this run does not target"
        ),
        "{text}"
    );
    assert!(
        text.contains("5 steps wait on pairs this run does not target (acme-us)"),
        "{text}"
    );
    // Nothing this run can do converges the pair: as `apply --pair acme-eu` exits 1, so does
    // plan, whatever --detailed-exitcode (which exits 2 only when there are changes to make).
    assert_eq!(human.status.code(), Some(1), "{text}\n{}", stderr(&human));

    let json = r
        .run(&["--output", "json", "plan", &plan, "--pair", "acme-eu"])
        .await;
    assert_eq!(json.status.code(), Some(1), "{}", stderr(&json));
    let events = checked_with(&events_schema(), &stdout(&json));
    let summary = events
        .iter()
        .find(|e| e["event"] == "plan_summary")
        .unwrap();
    assert_eq!(summary["changes"], 0, "{summary}");
    assert_eq!(summary["waiting"], 5, "{summary}");
    assert_eq!(summary["changes_pending"], false, "{summary}");
    let waiting: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "plan_step")
        .map(|e| (e["action"].as_str().unwrap(), e["waits"].as_str().unwrap()))
        .collect();
    assert_eq!(waiting, [("blocked", "untargeted_pairs"); 5], "{events:?}");

    let applied = r.run(&["apply", &plan, "--yes", "--pair", "acme-eu"]).await;
    assert_eq!(applied.status.code(), Some(1), "{}", stdout(&applied));
    assert_eq!(r.sim.stats().writes(), 0);

    // Once acme-us is done, acme-eu's steps are changes like any other.
    let us = r.run(&["apply", &plan, "--yes", "--pair", "acme-us"]).await;
    assert_eq!(us.status.code(), Some(0), "{}", stdout(&us));
    let now = r
        .run(&["plan", &plan, "--pair", "acme-eu", "--detailed-exitcode"])
        .await;
    assert_eq!(now.status.code(), Some(2), "{}", stdout(&now));
    assert!(
        !stdout(&now).contains("waiting on pairs"),
        "{}",
        stdout(&now)
    );
}
