//! Pairs observed side by side: the history check of `plan` and `apply`, `status` and `verify`
//! read every pair's application at once (each paced by its own limiter), not one pair after
//! the other. Measured by the simulator's peak of requests of one operation it was answering at
//! once (`Stats::peak_in_flight`), with latency on every answer so that requests sent together
//! overlap; one pair after the other never does. And `report` hands its rows out a page at a
//! time, as the pages arrive, rather than after reading every grant.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::stderr;
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::report::stream_accounts_report;
use nylas_migrate::run::Opening;
use nylas_migrate::secrets::SecretSource;
use nylas_migrate::simulator::{AccountProvider, V2Account, V2App, V3App, World};
use nylas_migrate::state::StateLocation;

const PAIRS: usize = 4;
const LATENCY: Duration = Duration::from_millis(100);

fn v2_id(p: usize) -> String {
    format!("side{p}v2app{:015}", p)
}

fn v3_id(p: usize) -> String {
    format!("{p:08x}-0000-4000-8000-00000051de00")
}

fn account(p: usize, n: usize) -> String {
    format!("side{p}acct{n:017}")
}

/// Four pairs over both regions, each of `accounts` Google accounts; the first is a test
/// account, and with `waves` the others go in a wave.
fn world(waves: bool, accounts: usize) -> (String, World, HashMap<String, String>) {
    let mut text = String::from("version: 1\nname: side-by-side\npairs:\n");
    let mut world = World::default();
    let mut secrets = HashMap::new();
    for p in 0..PAIRS {
        let region = if p.is_multiple_of(2) {
            Region::Us
        } else {
            Region::Eu
        };
        let _ = write!(
            text,
            "  - name: pair-{p}\n    region: {region}\n    v2: {{ app_id: {}, client_secret: {{ env: V2_{p} }} }}\n    v3: {{ app_id: {}, api_key: {{ env: V3_{p} }} }}\n    clone:\n      single: [{}]\n",
            v2_id(p),
            v3_id(p),
            account(p, 0)
        );
        if waves {
            text.push_str("      batches:\n        - { name: rest, mode: only_new }\n");
        }
        world.v2_apps.push(V2App {
            id: v2_id(p),
            secret: format!("side-v2-secret-{p}"),
            region,
            name: None,
            website_url: None,
            icon_url: None,
            integrations: vec![AccountProvider::Google],
            accounts: (0..accounts)
                .map(|n| V2Account {
                    id: account(p, n),
                    provider: AccountProvider::Google,
                    email: format!("user{n}@pair{p}.example.com"),
                    migratable: true,
                })
                .collect(),
            redirect_uris: Vec::new(),
        });
        world.v3_apps.push(V3App {
            id: v3_id(p),
            api_key: format!("side-v3-key-{p}"),
            region,
            organization_id: None,
            linked_v2_app: None,
            pubsub_channels: Vec::new(),
            sns_channels: Vec::new(),
            redirect_uris: Vec::new(),
        });
        secrets.insert(format!("V2_{p}"), format!("side-v2-secret-{p}"));
        secrets.insert(format!("V3_{p}"), format!("side-v3-key-{p}"));
    }
    (text, world, secrets)
}

async fn start(waves: bool) -> Rehearsal {
    let (text, world, secrets) = world(waves, 3);
    rehearsal::start_with_world(&text, world, secrets, |_, config| {
        config.latency = LATENCY;
    })
    .await
}

/// Runs a command and returns the simulator's peak of `op` requests answered at once during it.
async fn peak_during(r: &Rehearsal, args: &[&str], op: Operation) -> u64 {
    r.sim.reset_peaks();
    let out = r.run(args).await;
    assert!(
        out.status.code().is_some_and(|c| c < 64),
        "{args:?}: {}",
        stderr(&out)
    );
    r.sim.stats().peak_in_flight(op)
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_asks_every_new_pairs_history_at_once() {
    // No waves: the only job listings `plan` makes are the history check's (a state that knows
    // none of the pairs asks each application for its link and its jobs).
    let r = start(false).await;
    let state = r.dir.path().join("state");
    let (plan, state) = (r.plan_arg(), state.display().to_string());
    let peak = peak_during(&r, &["plan", &plan, "--state", &state], Operation::GetJobs).await;
    assert!(
        peak >= 2,
        "the {PAIRS} pairs' job listings went one after the other (peak {peak} at once)"
    );
    // The same check before `apply`'s writes.
    let peak = peak_during(
        &r,
        &["apply", &plan, "--state", &state, "--yes"],
        Operation::GetJobs,
    )
    .await;
    assert!(peak >= 2, "apply's history check: peak {peak} at once");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_verify_read_the_pairs_at_once() {
    let r = start(true).await;
    let plan = r.plan_arg();
    let state = r.dir.path().join("state").display().to_string();
    let out = r.run(&["apply", &plan, "--state", &state, "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Every pair started a wave: status lists each one's jobs.
    let peak = peak_during(
        &r,
        &["status", &plan, "--state", &state],
        Operation::GetJobs,
    )
    .await;
    assert!(
        peak >= 2,
        "status listed the pairs' jobs one after the other"
    );

    let r_out = r.run(&["verify", &plan, "--state", &state]).await;
    assert_eq!(r_out.status.code(), Some(0), "{}", stderr(&r_out));
    let peak = peak_during(
        &r,
        &["verify", &plan, "--state", &state],
        Operation::ListGrants,
    )
    .await;
    assert!(
        peak >= 2,
        "verify read the pairs' grants one after the other"
    );
    let peak = r.sim.stats().peak_in_flight(Operation::GetApplication);
    assert!(
        peak >= 2,
        "verify read the pairs' applications one after the other"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_hands_out_its_rows_a_page_at_a_time() {
    // 4 pairs × 450 accounts, each migrated (one test account, a wave for the rest): three
    // pages of grants per pair.
    let (text, world, secrets) = world(true, 450);
    let r = rehearsal::start_with_world(&text, world, secrets, |_, config| {
        config.rate_limit = 0;
    })
    .await;
    let plan_arg = r.plan_arg();
    let state = r.dir.path().join("state");
    let out = r
        .run(&[
            "apply",
            &plan_arg,
            "--state",
            &state.display().to_string(),
            "--yes",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let plan = rehearsal::parse(&std::fs::read_to_string(&r.plan_path).unwrap());
    // The plan's regions point at the simulator.
    let source = SecretSource::new(r.dir.path()).with_overlay(r.secrets.clone());
    let ctx = Opening::of_plan(&plan, source, StateLocation::Folder(state))
        .unwrap()
        .read()
        .unwrap();
    let before = r.sim.stats().op_total(Operation::ListGrants);
    // Per batch of rows handed out: its size, and the grant pages asked for by then.
    let mut batches = Vec::new();
    let tail = stream_accounts_report(&ctx, ctx.journal(), |rows| {
        let asked = r.sim.stats().op_total(Operation::ListGrants) - before;
        batches.push((rows.len(), asked));
        Ok(())
    })
    .await
    .unwrap();
    let pages = r.sim.stats().op_total(Operation::ListGrants) - before;
    assert_eq!(tail.totals.rows, (PAIRS * 450) as u64);
    assert_eq!(pages, (PAIRS * 3) as u64, "three pages per pair");
    assert_eq!(
        batches.len(),
        PAIRS * 3,
        "one batch of rows per page: {batches:?}"
    );
    assert!(
        batches.iter().all(|&(rows, _)| rows <= 200),
        "no batch is more than a page: {batches:?}"
    );
    // The first rows went out after the first page, not after every page was read.
    assert_eq!(batches[0].1, 1, "{batches:?}");
}
