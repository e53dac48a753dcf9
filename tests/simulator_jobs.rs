//! Batch clones over real HTTP: snapshot then migration jobs advancing on the simulated clock,
//! modes, provider filters, limit and offset, counts, failing jobs, the jobs filters.

use std::time::Duration;

use crate::support::sim::*;
use nylas_migrate::simulator::{FailingJob, JobTiming, MigrationStatus, SimulatorConfig};
use serde_json::{Value, json};

const BATCH: &str = "/v3/migration-tools/snapshot-batch-clone";
const JOBS: &str = "/v3/migration-tools/jobs";

/// Two accounts per simulated second, so a test can watch a job run.
fn slow_config() -> SimulatorConfig {
    SimulatorConfig {
        job_timing: JobTiming {
            snapshot_pending: Duration::from_secs(1),
            snapshot_running: Duration::from_secs(2),
            accounts_per_second: 2,
        },
        ..fixture_config()
    }
}

async fn batch(t: &TestSim, body: Value) -> (Value, Value) {
    let r = t.post(US_V3_KEY, BATCH, Some(body)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (
        r.data()["snapshot_job"].clone(),
        r.data()["clone_job"].clone(),
    )
}

async fn job(t: &TestSim, id: &Value) -> Value {
    let jobs = t.get(US_V3_KEY, JOBS).await;
    assert_eq!(jobs.status, 200);
    jobs.data()
        .as_array()
        .unwrap()
        .iter()
        .find(|j| &j["job_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("job {id} not listed"))
}

fn counts(job: &Value) -> [u64; 4] {
    [
        "count_all",
        "count_success",
        "count_failed",
        "count_warning",
    ]
    .map(|k| job[k].as_u64().unwrap())
}

#[tokio::test]
async fn a_batch_clone_runs_snapshot_then_migration_as_time_passes() {
    let t = TestSim::start(slow_config()).await;
    t.link_and_import_us().await;
    let (snapshot, clone) = batch(&t, json!({})).await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(clone["type"], "migration");
    assert_eq!(snapshot["status"], "pending");
    assert_eq!(clone["status"], "pending");
    assert_eq!(clone["linked_job_id"], snapshot["job_id"]);
    assert_eq!(snapshot["linked_job_id"], clone["job_id"]);
    assert_eq!(clone["public_application_id"], US_V3);
    assert_eq!(counts(&clone), [9, 0, 0, 0]);

    t.sim.advance(Duration::from_secs(1));
    assert_eq!(job(&t, &snapshot["job_id"]).await["status"], "running");
    assert_eq!(job(&t, &clone["job_id"]).await["status"], "pending");
    t.sim.advance(Duration::from_secs(2));
    assert_eq!(job(&t, &snapshot["job_id"]).await["status"], "completed");
    assert_eq!(job(&t, &clone["job_id"]).await["status"], "running");
    t.sim.advance(Duration::from_secs(2));
    let running = job(&t, &clone["job_id"]).await;
    assert_eq!(running["status"], "running");
    let [all, ok, failed, warning] = counts(&running);
    assert_eq!((all, ok + failed + warning), (9, 4));

    t.sim.advance(Duration::from_secs(10));
    let done = job(&t, &clone["job_id"]).await;
    // Google, IMAP, iCloud, EWS migrate; the stuck Google account becomes a placeholder; every
    // Microsoft account fails, its connector having no credentials yet.
    assert_eq!(done["status"], "partial");
    assert_eq!(counts(&done), [9, 5, 3, 1]);
    assert!(done["updated_at"].as_i64().unwrap() >= done["created_at"].as_i64().unwrap());
    let world = t.sim.world();
    assert_eq!(world.app(US_V3).unwrap().grants.len(), 6);
    assert_eq!(
        world.status_of(US_ACCOUNTS[2].0),
        Some(MigrationStatus::Failed)
    );

    // After the connector is fixed, only_failed retries exactly the Microsoft accounts.
    t.fix_microsoft().await;
    let (_, retry) = batch(&t, json!({"mode": "only_failed"})).await;
    assert_eq!(retry["count_all"], 3);
    t.sim.advance(Duration::from_secs(10));
    let retry = job(&t, &retry["job_id"]).await;
    assert_eq!(retry["status"], "partial");
    assert_eq!(counts(&retry), [3, 2, 0, 1]);

    // Nothing is new any more.
    let (_, none) = batch(&t, json!({"mode": "only_new"})).await;
    assert_eq!(none["count_all"], 0);
    t.sim.advance(Duration::from_secs(3));
    assert_eq!(job(&t, &none["job_id"]).await["status"], "completed");

    // Accounts that already have a grant get it back: no new grant, counted by its status.
    let (_, again) = batch(&t, json!({"mode": "all", "providers": ["google"]})).await;
    t.sim.advance(Duration::from_secs(10));
    let again = job(&t, &again["job_id"]).await;
    assert_eq!(counts(&again), [3, 2, 0, 1]);
    assert_eq!(t.sim.world().app(US_V3).unwrap().grants.len(), 9);
    assert_eq!(t.sim.stats().clones_of(US_ACCOUNTS[0].0), 2);
    assert_eq!(t.sim.stats().clones_of(US_ACCOUNTS[2].0), 2);
    t.finish().await;
}

#[tokio::test]
async fn providers_limit_and_offset_select_in_import_order() {
    let t = TestSim::fixture().await;
    t.link_and_import_us().await;
    t.fix_microsoft().await;
    // Microsoft accounts in import order: m..a, m..b, m..c; skip one, take two.
    let (_, clone) = batch(
        &t,
        json!({"providers": ["microsoft"], "limit": 2, "offset": 1}),
    )
    .await;
    assert_eq!(clone["count_all"], 2);
    t.sim.advance(Duration::from_secs(60));
    let done = job(&t, &clone["job_id"]).await;
    assert_eq!(counts(&done), [2, 1, 0, 1]);
    let world = t.sim.world();
    assert!(world.grant_for(US_ACCOUNTS[2].0).is_none());
    assert_eq!(
        world
            .grant_for(US_ACCOUNTS[4].0)
            .unwrap()
            .grant_status
            .map(|s| s.as_str()),
        Some("invalid")
    );
    assert!(world.grant_for(US_ACCOUNTS[8].0).is_some());

    // `graph` is v2's Microsoft Graph: it selects Microsoft accounts too.
    let (_, graph) = batch(&t, json!({"providers": ["graph"], "mode": "only_new"})).await;
    assert_eq!(graph["count_all"], 1);
    // Several providers, placeholders refused by the query.
    let r = t
        .post(
            US_V3_KEY,
            &format!("{BATCH}?allow_invalid_grant_creation=false"),
            Some(json!({"providers": ["imap", "icloud", "ews", "google"], "mode": "only_new"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let clone = r.data()["clone_job"].clone();
    assert_eq!(clone["count_all"], 6);
    t.sim.advance(Duration::from_secs(60));
    let done = job(&t, &clone["job_id"]).await;
    assert_eq!(counts(&done), [6, 5, 1, 0]);
    assert_eq!(done["status"], "partial");
    t.finish().await;
}

#[tokio::test]
async fn a_chosen_batch_job_fails_and_only_failed_retries_it() {
    let mut config = fixture_config();
    config.failing_jobs = vec![FailingJob {
        application_id: US_V3.into(),
        nth: 2,
    }];
    let t = TestSim::start(config).await;
    t.link_and_import_us().await;
    let (_, first) = batch(&t, json!({"providers": ["google"], "limit": 1})).await;
    let (_, second) = batch(&t, json!({"providers": ["imap", "icloud"]})).await;
    t.sim.advance(Duration::from_secs(60));
    assert_eq!(job(&t, &first["job_id"]).await["status"], "completed");
    let failed = job(&t, &second["job_id"]).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(counts(&failed), [2, 0, 2, 0]);
    let world = t.sim.world();
    assert!(world.grant_for(US_ACCOUNTS[5].0).is_none());
    assert_eq!(
        world.status_of(US_ACCOUNTS[5].0),
        Some(MigrationStatus::Failed)
    );

    let (_, retry) = batch(&t, json!({"mode": "only_failed"})).await;
    t.sim.advance(Duration::from_secs(60));
    let retry = job(&t, &retry["job_id"]).await;
    assert_eq!(
        (retry["status"].as_str(), counts(&retry)),
        (Some("completed"), [2, 2, 0, 0])
    );
    t.finish().await;
}

#[tokio::test]
async fn jobs_filter_by_status_and_type_and_sort_by_completion() {
    let t = TestSim::start(slow_config()).await;
    t.link_and_import_us().await;
    let (_, first) = batch(&t, json!({"providers": ["imap"]})).await;
    t.sim.advance(Duration::from_secs(30));
    let (_, second) = batch(&t, json!({"providers": ["icloud"]})).await;

    let all = t.get(US_V3_KEY, JOBS).await;
    assert_eq!(all.data().as_array().unwrap().len(), 4);
    let migrations = t.get(US_V3_KEY, &format!("{JOBS}?type=migration")).await;
    let ids: Vec<&Value> = migrations
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["job_id"])
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&&first["job_id"]) && ids.contains(&&second["job_id"]));
    let pending = t.get(US_V3_KEY, &format!("{JOBS}?status=pending")).await;
    assert_eq!(pending.data().as_array().unwrap().len(), 2);
    let both = t
        .get(
            US_V3_KEY,
            &format!("{JOBS}?status=pending,completed&type=snapshot"),
        )
        .await;
    assert_eq!(both.data().as_array().unwrap().len(), 2);
    let repeated = t
        .get(
            US_V3_KEY,
            &format!("{JOBS}?status=pending&status=completed"),
        )
        .await;
    assert_eq!(repeated.data().as_array().unwrap().len(), 4);
    let sorted = t
        .get(US_V3_KEY, &format!("{JOBS}?sort_by_completion=true"))
        .await;
    let statuses: Vec<&str> = sorted
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "pending", "completed", "completed"]);
    let bad = t.get(US_V3_KEY, &format!("{JOBS}?status=finished")).await;
    assert_eq!(bad.status, 400);
    // Another application sees none of these jobs.
    let other = t.get(US_V3_OTHER_KEY, JOBS).await;
    assert_eq!(other.data().as_array().unwrap().len(), 0);
    t.finish().await;
}

#[tokio::test]
async fn batch_clone_requires_a_link_and_a_valid_body() {
    let t = TestSim::fixture().await;
    let unlinked = t.post(US_V3_KEY, BATCH, Some(json!({}))).await;
    assert_eq!(unlinked.status, 400);
    t.link_and_import_us().await;
    for body in [
        json!({"mode": "sometimes"}),
        json!({"limit": -1}),
        json!({"providers": ["aol"]}),
        json!([1, 2]),
    ] {
        let r = t.post(US_V3_KEY, BATCH, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}");
    }
    // No body at all takes Nylas's defaults.
    let r = t.post(US_V3_KEY, BATCH, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["clone_job"]["count_all"], 9);
    assert_eq!(t.sim.world().app(US_V3).unwrap().jobs.len(), 2);
    t.finish().await;
}

#[tokio::test]
async fn in_real_time_mode_jobs_follow_wall_time_times_the_speed() {
    // A million simulated seconds per second: the microseconds a round trip takes are enough
    // for the whole job (3 s of snapshot and 0.09 s of migration in simulated time).
    let t = TestSim::start(SimulatorConfig {
        job_speed: nylas_migrate::simulator::JobSpeed::RealTime { factor: 1e6 },
        ..fixture_config()
    })
    .await;
    t.link_and_import_us().await;
    let (snapshot, clone) = batch(&t, json!({})).await;
    assert_eq!(job(&t, &snapshot["job_id"]).await["status"], "completed");
    assert_eq!(job(&t, &clone["job_id"]).await["status"], "partial");
    t.finish().await;
}
