//! Fencing the shared state: a runner writes to Nylas only while the database proves it holds
//! the plan's lock. Each scenario holds runner A at a failpoint, takes its lock away (a server
//! restart with a fast shutdown, `pg_terminate_backend` of its lock session, a proxy that cuts
//! every connection as a failover does), starts a second runner during the outage and another
//! after it, then lets A go on. The simulator's counters must show one batch clone for the
//! wave, at most one clone attempt per account and one destination per webhook URL; A exits 1
//! with `state::lock-lost`, the runner after the outage finishes the plan, and a third run
//! writes nothing.
//!
//! Restart scenarios use a PostgreSQL server of their own (restarting the shared one would cut
//! the other tests' sessions).

use std::process::Output;
use std::time::Duration;

use crate::support::postgres::{self as pg, TestDb};
use crate::support::proxy::Proxy;
use crate::support::rehearsal::{self, HeldRun, Rehearsal};
use crate::support::{stderr, stdout};
use nylas_migrate::api::Operation;
use nylas_migrate::simulator::AccountProvider;

const PLAN: &str = r#"version: 1
name: fencing
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2 } }
    v3: { app_id: 0f0f0f0f-0000-4000-8000-0000000000f1, api_key: { env: SOLO_V3 } }
    webhooks:
      - url: https://hooks.example.com/fence
        triggers: [grant.created]
    clone:
      batches:
        - { name: w1, mode: only_new, limit: 6 }
"#;

const APP: &str = "0f0f0f0f-0000-4000-8000-0000000000f1";
const HOOK: &str = "https://hooks.example.com/fence";

const WAIT: Duration = Duration::from_secs(60);

async fn rehearse(db: &TestDb) -> Rehearsal {
    let mut r = rehearsal::start(PLAN, 20, |world, _| {
        for account in world.v2_apps.iter_mut().flat_map(|a| &mut a.accounts) {
            account.provider = AccountProvider::Google;
            account.migratable = true;
        }
    })
    .await;
    r.state_in_postgres(&db.url(), db.env());
    r
}

/// A server of the test's own (it is restarted), or `None` where there is none (see
/// `support::postgres`).
async fn own_server() -> Option<pg::Server> {
    // The shared server decides whether PostgreSQL tests run here at all (and says why not).
    pg::server()?;
    Some(
        tokio::task::spawn_blocking(|| pg::start(true))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("a PostgreSQL server of the test's own: {e}")),
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn text(out: &Output) -> String {
    format!("{}\n{}", stdout(out), stderr(out))
}

/// `apply --yes`, not held anywhere (a failpoint no step reaches), watched line by line.
fn spawn_apply(r: &Rehearsal) -> HeldRun {
    let plan = r.plan_arg();
    let never = r.dir.path().join("never");
    r.spawn_held(&["apply", &plan, "--yes"], "no-such-step@never", &never)
}

fn held_apply(r: &Rehearsal, point: &str) -> HeldRun {
    let plan = r.plan_arg();
    let go = r.dir.path().join("go");
    r.spawn_held(&["apply", &plan, "--yes"], point, &go)
}

fn release(r: &Rehearsal) {
    std::fs::write(r.dir.path().join("go"), b"").unwrap();
}

/// Starts B once A's session is gone at the server (until then B is refused with
/// `state::locked`, which is right), and returns it once it waits for A's in-flight write.
fn b_waiting_for_a(r: &Rehearsal) -> HeldRun {
    for _ in 0..100 {
        let mut b = spawn_apply(r);
        if b.wait_line("waiting up to", WAIT).is_ok() {
            return b;
        }
        let (code, out, err) = b.finish();
        assert_eq!(code, Some(1), "{out}\n{err}");
        assert!(err.contains("state::locked"), "{out}\n{err}");
    }
    panic!("the lock was never released");
}

/// Lets A go on (it finds its lock lost), then waits for both.
async fn finish_both(r: &Rehearsal, a: HeldRun, b: HeldRun) {
    release(r);
    let (a_out, b_out) = blocking(move || (a.finish(), b.finish())).await;
    let f = figures(r, a_out.0, b_out.0);
    check_end(
        r,
        &f,
        &format!("{}\n{}", a_out.1, a_out.2),
        &format!("{}\n{}", b_out.1, b_out.2),
    )
    .await;
}

async fn held_at(r: &Rehearsal, point: &str) -> HeldRun {
    let a = held_apply(r, point);
    blocking(move || {
        let mut a = a;
        a.wait_reached(WAIT).map(|_| a)
    })
    .await
    .unwrap()
}

/// What the simulator saw, as the scenario's figures.
#[derive(Debug)]
struct Figures {
    batch_clones: u64,
    max_clones_per_account: u64,
    destinations_of_hook: usize,
    exit_a: Option<i32>,
    exit_b: Option<i32>,
}

fn figures(r: &Rehearsal, a: Option<i32>, b: Option<i32>) -> Figures {
    let stats = r.sim.stats();
    let world = r.sim.world();
    Figures {
        batch_clones: stats.op_total(Operation::SnapshotBatchClone),
        max_clones_per_account: stats.max_clones(),
        destinations_of_hook: world.apps[APP]
            .webhooks
            .iter()
            .filter(|w| w.webhook_url == HOOK)
            .count(),
        exit_a: a,
        exit_b: b,
    }
}

/// The end every scenario must reach, then a third run that writes nothing.
async fn check_end(r: &Rehearsal, f: &Figures, a: &str, b: &str) {
    eprintln!("figures: {f:?}\n--- A (lost the lock):\n{a}\n--- B:\n{b}");
    assert_eq!(
        f.batch_clones, 1,
        "one batch clone for the wave: {f:?}\nA:\n{a}\nB:\n{b}"
    );
    assert!(f.max_clones_per_account <= 1, "{f:?}");
    assert_eq!(f.destinations_of_hook, 1, "{f:?}");
    assert_eq!(
        f.exit_b,
        Some(0),
        "the runner after the outage finishes:\n{b}"
    );
    assert_eq!(
        f.exit_a,
        Some(1),
        "the runner that lost the lock exits 1:\n{a}"
    );
    assert!(a.contains("state::lock-lost"), "{a}");
    let writes = r.sim.stats().writes();
    let third = r.apply().await;
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    assert_eq!(r.sim.stats().writes(), writes, "the third run wrote");
}

/// A second apply while A holds the lock is refused.
async fn second_is_refused(r: &Rehearsal) {
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("state::locked"), "{}", text(&out));
}

/// A restart (fast shutdown, then start) while A waits at `point`; a runner started during the
/// outage fails without a write; B, after it, converges; then A goes on.
/// Returns A's output (`None` where PostgreSQL tests do not run).
async fn restart_at(point: &str, hold_clock: bool) -> Option<String> {
    let server = own_server().await?;
    let server = std::sync::Arc::new(server);
    let db = {
        let server = server.clone();
        blocking(move || server.database()).await
    };
    let r = rehearse(&db).await;
    if hold_clock {
        r.sim.hold_clock_after_batch_clones(1);
    }
    let a = held_apply(&r, point);
    let a = blocking(move || {
        let mut a = a;
        a.wait_reached(WAIT).map(|_| a)
    })
    .await
    .unwrap();
    second_is_refused(&r).await;

    {
        let server = server.clone();
        blocking(move || server.stop()).await;
    }
    let writes = r.sim.stats().writes();
    let during = r.apply().await;
    assert_eq!(during.status.code(), Some(1), "{}", text(&during));
    assert!(
        text(&during).contains("state::postgres"),
        "{}",
        text(&during)
    );
    assert_eq!(
        r.sim.stats().writes(),
        writes,
        "a run during the outage wrote"
    );
    {
        let server = server.clone();
        blocking(move || server.start_again()).await;
    }
    r.sim.release_clock();

    let waits_for_a = point.ends_with("after-intent");
    let mut b = spawn_apply(&r);
    let (a_out, b_out) = blocking({
        let go = r.dir.path().join("go");
        move || {
            if waits_for_a {
                // B finds A's intent and waits for A's writes to end before it observes.
                b.wait_line("waiting up to", WAIT).unwrap();
            }
            if waits_for_a {
                std::fs::write(&go, b"").unwrap();
                let a_out = a.finish();
                (a_out, b.finish())
            } else {
                let b_out = b.finish();
                std::fs::write(&go, b"").unwrap();
                (a.finish(), b_out)
            }
        }
    })
    .await;
    let f = figures(&r, a_out.0, b_out.0);
    let a_text = format!("{}\n{}", a_out.1, a_out.2);
    check_end(&r, &f, &a_text, &format!("{}\n{}", b_out.1, b_out.2)).await;
    r.sim.shutdown().await;
    Some(a_text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_a_runner_waits_before_its_intent_lets_one_runner_through() {
    if let Some(a) = restart_at("solo/batch/w1@before-intent", false).await {
        assert!(a.contains("state::lock-lost"), "{a}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_an_intent_and_its_write_sends_the_write_once() {
    restart_at("solo/batch/w1@after-intent", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_a_wave_runs_lets_the_new_holder_follow_it() {
    restart_at("solo/batch/w1@polling", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_the_lock_session_between_an_intent_and_its_write_sends_the_write_once() {
    let Some(db) = pg::database() else { return };
    let r = rehearse(&db).await;
    let a = held_at(&r, "solo/batch/w1@after-intent").await;
    second_is_refused(&r).await;
    assert_eq!(db.end_lock_sessions(), 1, "one lock session");
    let b = tokio::task::block_in_place(|| b_waiting_for_a(&r));
    finish_both(&r, a, b).await;
    r.sim.shutdown().await;
}

/// A write answered after the lock was lost: its outcome (a wave's jobs) is still journaled,
/// on the journal's own connection, because no other runner recorded the step since; the run
/// still stops with `state::lock-lost`, and the next holder follows the wave it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_answered_after_the_lock_was_lost_keeps_its_outcome() {
    let Some(db) = pg::database() else { return };
    let r = rehearse(&db).await;
    let a = held_at(&r, "solo/batch/w1@after-write").await;
    db.end_lock_sessions();
    let b = tokio::task::block_in_place(|| b_waiting_for_a(&r));
    finish_both(&r, a, b).await;
    let started_by_a: i64 = db.with(|c| {
        c.query_one(
            "SELECT count(*) FROM nylas_migrate.events
             WHERE run_id = 1 AND step_id = 'solo/batch/w1' AND phase = 'started'",
            &[],
        )
        .unwrap()
        .get(0)
    });
    assert_eq!(
        started_by_a, 1,
        "A journaled the wave's jobs after losing the lock"
    );
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_cut_between_an_intent_and_its_write_sends_the_write_once() {
    let Some(server) = pg::server() else { return };
    let db = blocking(move || server.database()).await;
    let proxy = Proxy::start((std::net::Ipv4Addr::LOCALHOST, server.port()).into()).await;
    let through = db.via_port(proxy.port());
    let r = rehearse(&through).await;
    let a = held_at(&r, "solo/batch/w1@after-intent").await;
    second_is_refused(&r).await;
    let before = proxy.accepted();
    // Every connection of A (its lock's session, its journal's) ends, as in a failover.
    proxy.cut();
    let b = tokio::task::block_in_place(|| b_waiting_for_a(&r));
    assert!(proxy.accepted() > before, "B went through the proxy");
    finish_both(&r, a, b).await;
    r.sim.shutdown().await;
}

// ---- Defence in depth, on both backends: an edited or damaged journal never starts a wave
// ---- a second time, and a value it does not know fails `plan` as it fails `apply`.

/// Where a defence-in-depth scenario keeps its state.
enum Backend {
    Folder,
    Postgres(TestDb),
}

/// Runs `sql` on the state's journal (`TABLE` stands for the steps table's name).
fn edit(r: &Rehearsal, backend: &Backend, sql: &str) -> usize {
    match backend {
        Backend::Folder => {
            let path = r.dir.path().join(".nylas-migrate/journal.sqlite");
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute(&sql.replace("TABLE", "steps"), []).unwrap()
        }
        Backend::Postgres(db) => {
            let sql = sql.replace("TABLE", "nylas_migrate.steps");
            db.with(move |c| c.execute(&sql, &[]).unwrap() as usize)
        }
    }
}

/// A finished migration of [`PLAN`] on `backend`, or `None` where PostgreSQL tests do not run.
async fn finished(postgres: bool) -> Option<(Rehearsal, Backend)> {
    let backend = if postgres {
        let db = pg::database()?;
        Backend::Postgres(db)
    } else {
        Backend::Folder
    };
    let mut r = rehearsal::start(PLAN, 20, |world, _| {
        for account in world.v2_apps.iter_mut().flat_map(|a| &mut a.accounts) {
            account.provider = AccountProvider::Google;
            account.migratable = true;
        }
    })
    .await;
    if let Backend::Postgres(db) = &backend {
        r.state_in_postgres(&db.url(), db.env());
    }
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r.sim.stats().op_total(Operation::SnapshotBatchClone), 1);
    Some((r, backend))
}

/// After `sql`, `plan` and `apply` both show a conflict for the wave, and nothing is written.
async fn edited_wave_is_a_conflict(postgres: bool, sql: &str) {
    let Some((r, backend)) = finished(postgres).await else {
        return;
    };
    assert_eq!(edit(&r, &backend, sql), 1, "{sql}");
    let plan = r.plan_arg();
    let preview = r.run(&["plan", &plan]).await;
    assert!(
        text(&preview).contains("conflict") && text(&preview).contains("nothing is started"),
        "{}",
        text(&preview)
    );
    let writes = r.sim.stats().writes();
    let out = r.apply().await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing is started"), "{}", text(&out));
    assert_eq!(r.sim.stats().op_total(Operation::SnapshotBatchClone), 1);
    assert_eq!(r.sim.stats().writes(), writes, "{}", text(&out));
    r.sim.shutdown().await;
}

const DELETE_WAVE: &str = "DELETE FROM TABLE WHERE step_id = 'solo/batch/w1'";
const WAVE_BACK_TO_INTENT: &str =
    "UPDATE TABLE SET status = 'intent' WHERE step_id = 'solo/batch/w1'";
const WAVE_OF_ANOTHER_APP: &str = "UPDATE TABLE SET record = replace(record, '0f0f0f0f-0000-4000-8000-0000000000f1', 'aaaaaaaa-0000-4000-8000-00000000000a') WHERE step_id = 'solo/batch/w1'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_whose_step_row_was_deleted_is_not_started_again() {
    edited_wave_is_a_conflict(false, DELETE_WAVE).await;
    edited_wave_is_a_conflict(true, DELETE_WAVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_wave_set_back_to_intent_is_not_started_again() {
    edited_wave_is_a_conflict(false, WAVE_BACK_TO_INTENT).await;
    edited_wave_is_a_conflict(true, WAVE_BACK_TO_INTENT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_record_of_another_application_is_a_conflict() {
    edited_wave_is_a_conflict(false, WAVE_OF_ANOTHER_APP).await;
    edited_wave_is_a_conflict(true, WAVE_OF_ANOTHER_APP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_status_the_journal_does_not_know_fails_plan_as_it_fails_apply() {
    for postgres in [false, true] {
        let Some((r, backend)) = finished(postgres).await else {
            return;
        };
        let sql = "UPDATE TABLE SET status = 'paused' WHERE step_id = 'solo/link'";
        assert_eq!(edit(&r, &backend, sql), 1);
        let plan = r.plan_arg();
        let writes = r.sim.stats().writes();
        for out in [r.run(&["plan", &plan]).await, r.apply().await] {
            assert_eq!(out.status.code(), Some(1), "{}", text(&out));
            assert!(
                text(&out).contains("state::journal-unknown-value")
                    && text(&out).contains("\"paused\""),
                "{}",
                text(&out)
            );
        }
        assert_eq!(r.sim.stats().writes(), writes);
        r.sim.shutdown().await;
    }
}

/// A state folder's lock file removed by hand while a run holds it: a second run can lock the
/// new file, but the first one notices at its next write and stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_file_removed_by_hand_stops_the_run_that_held_it() {
    let r = rehearsal::start(PLAN, 20, |world, _| {
        for account in world.v2_apps.iter_mut().flat_map(|a| &mut a.accounts) {
            account.provider = AccountProvider::Google;
            account.migratable = true;
        }
    })
    .await;
    let a = held_at(&r, "solo/batch/w1@before-intent").await;
    second_is_refused(&r).await;
    std::fs::remove_file(r.dir.path().join(".nylas-migrate/lock")).unwrap();
    let b = r.apply().await;
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    release(&r);
    let (code, out, err) = blocking(move || a.finish()).await;
    let a_text = format!("{out}\n{err}");
    assert_eq!(code, Some(1), "{a_text}");
    assert!(
        a_text.contains("state::lock-lost") && a_text.contains("lock file"),
        "{a_text}"
    );
    assert_eq!(r.sim.stats().op_total(Operation::SnapshotBatchClone), 1);
    assert!(r.sim.stats().max_clones() <= 1);
    r.sim.shutdown().await;
}
