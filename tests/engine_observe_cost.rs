//! The cost of observing: `plan` for 10,000 test accounts makes ceil(10,000 / 200) grant calls
//! and a few others, not one call per account, whether none or all of them are migrated.

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::stderr;
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::simulator::AccountProvider;

const ACCOUNTS: usize = 10_000;
/// Account IDs per `get-all-grants` call (the client's page size).
const PAGE: usize = 200;
/// Calls besides the grant pages that one pair's observation may make (application,
/// connectors, webhooks, jobs, and the like).
const PER_PAIR: u64 = 10;

const V2_APP: &str = "costv2app0000000000000001";
const V3_APP: &str = "0c0c0c0c-0000-4000-8000-000000000001";

fn account(n: usize) -> String {
    format!("cost{n:021}")
}

/// One pair whose 10,000 test accounts are single clones.
fn singles_plan() -> String {
    let ids: Vec<String> = (0..ACCOUNTS).map(account).collect();
    format!(
        "version: 1\nname: observe-cost\npairs:\n  - name: cost\n    region: us\n    \
         v2: {{ app_id: {V2_APP}, client_secret: {{ env: COST_V2 }} }}\n    \
         v3: {{ app_id: {V3_APP}, api_key: {{ env: COST_V3 }} }}\n    \
         clone:\n      single: [{}]\n",
        ids.join(", ")
    )
}

/// The same pair, migrated with one batch wave: a quick way to give every account a grant.
fn batch_plan(r: &Rehearsal) -> String {
    format!(
        "version: 1\nname: observe-cost-setup\npairs:\n  - name: cost\n    region: us\n    \
         v2: {{ app_id: {V2_APP}, client_secret: {{ env: COST_V2 }} }}\n    \
         v3: {{ app_id: {V3_APP}, api_key: {{ env: COST_V3 }} }}\n    \
         clone:\n      batches:\n        - {{ name: everyone, mode: all, limit: 10000 }}\n\
         regions:\n  us: {{ api_url: \"{}\" }}\n  eu: {{ api_url: \"{}\" }}\n",
        r.sim.base_url(Region::Us),
        r.sim.base_url(Region::Eu)
    )
}

/// Runs `plan` and returns the requests it made, with the `get-all-grants` ones.
async fn plan_requests(r: &Rehearsal, state: &str) -> (u64, u64) {
    let before = r.sim.stats();
    let plan = r.plan_arg();
    let out = r.run(&["plan", &plan, "--state", state]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = r.sim.stats();
    (
        after.total - before.total,
        after.op_total(Operation::ListGrants) - before.op_total(Operation::ListGrants),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_for_ten_thousand_accounts_observes_grants_in_pages() {
    let text = singles_plan();
    // 15,000 generated accounts: 10,000 in the U.S. application, the plan's pair.
    let r = rehearsal::start(&text, ACCOUNTS * 3 / 2, |world, config| {
        // Counting requests, not pacing them: no rate limit keeps the test fast.
        config.rate_limit = 0;
        // Every account migratable with the imported Google connector, so that after the
        // batch wave every account has a grant and every page of grants is full.
        let us = world
            .v2_apps
            .iter_mut()
            .find(|a| a.region == Region::Us)
            .unwrap();
        assert_eq!(us.accounts.len(), ACCOUNTS);
        if !us.integrations.contains(&AccountProvider::Google) {
            us.integrations.push(AccountProvider::Google);
        }
        for a in &mut us.accounts {
            a.provider = AccountProvider::Google;
            a.migratable = true;
        }
    })
    .await;
    let state = r.dir.path().join("state").display().to_string();
    let pages = ACCOUNTS.div_ceil(PAGE) as u64;

    // Nothing migrated yet: no account has a grant.
    let (total, grants) = plan_requests(&r, &state).await;
    eprintln!("before migrating: {total} requests, {grants} get-all-grants");
    assert_eq!(grants, pages, "get-all-grants calls before migrating");
    assert!(
        total <= pages + PER_PAIR,
        "plan made {total} requests for {ACCOUNTS} accounts before migrating"
    );

    // Every account migrated: every page of grants comes back full.
    let setup = r.dir.path().join("setup.yaml");
    std::fs::write(&setup, batch_plan(&r)).unwrap();
    let setup = setup.display().to_string();
    let out = r.run(&["apply", &setup, "--yes", "--state", &state]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let world = r.sim.world();
    let migrated = (0..ACCOUNTS)
        .filter(|&n| world.grant_for(&account(n)).is_some())
        .count();
    assert_eq!(migrated, ACCOUNTS, "the setup wave migrated every account");

    let (total, grants) = plan_requests(&r, &state).await;
    eprintln!("after migrating: {total} requests, {grants} get-all-grants");
    assert_eq!(grants, pages, "get-all-grants calls after migrating");
    assert!(
        total <= pages + PER_PAIR,
        "plan made {total} requests for {ACCOUNTS} accounts after migrating"
    );
}
