//! Bounded answers and deadlines (issue 22, items 7 and 8), driving the real binary against a
//! hostile server in front of the simulator (`support::hostile`): a body beyond the operation's
//! bound stops there, whether announced, close-delimited or an endless chunked stream, with
//! the process's memory flat; pages with more items than asked or that ignore `offset` are
//! errors after a page or two; a trickling server cannot hold a call past its deadline
//! (`NYLAS_MIGRATE_REQUEST_DEADLINE`, short here); a Retry-After beyond the cap is not waited.
//!
//! Each run has a watchdog (a generous bound, killed past it), so that a build without these
//! bounds fails instead of hanging; nothing here waits on the clock to pass.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nylas_migrate::api::Region;

use crate::support::hostile::{Head, Hostile, Reply};
use crate::support::rehearsal::{self, Rehearsal};

const PLAN: &str = r#"version: 1
name: bounds
pairs:
  - name: solo
    region: us
    v2: { app_id: bnds2v2app000000000000001, client_secret: { env: B_V2 } }
    v3: { app_id: 5e5e5e5e-0000-4000-8000-000000000005, api_key: { env: B_V3 } }
    clone:
      single: [bnds00account000000000001]
      batches:
        - { name: everyone, mode: all }
"#;

/// A rehearsal whose U.S. region goes through a hostile server answering by `rule`.
async fn behind(
    rule: impl Fn(&Head) -> Option<Reply> + Send + Sync + 'static,
) -> (Rehearsal, Hostile) {
    let r = rehearsal::start(PLAN, 6, |_, _| {}).await;
    let hostile = Hostile::start(Some(r.sim.addr(Region::Us)), rule);
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    let text = text.replace(&r.sim.base_url(Region::Us), &hostile.url());
    std::fs::write(&r.plan_path, text).unwrap();
    (r, hostile)
}

/// How a run ended: exit code, stderr (wrapped lines joined), its peak memory in MiB.
struct Ended {
    code: Option<i32>,
    stderr: String,
    max_rss_mib: u64,
}

/// Runs the binary with `args` and `env`, killed if it runs past `watchdog`.
async fn run(r: &Rehearsal, args: &[&str], env: &[(&str, &str)], watchdog: Duration) -> Ended {
    let mut command = r.command(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let err_file = tempfile::NamedTempFile::new().unwrap();
    command
        .stdout(Stdio::null())
        .stderr(err_file.reopen().unwrap());
    let child = command.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let shown = format!("{args:?}");
    let (status, rusage) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        loop {
            let mut status = 0;
            // SAFETY: an all-zero rusage is valid; wait4 fills it for this child only.
            let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: `pid` is this test's own child, not yet waited for.
            let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut rusage) };
            if done == pid {
                return (std::process::ExitStatus::from_raw(status), rusage);
            }
            if started.elapsed() > watchdog {
                // SAFETY: as above; the child is killed, then reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::wait4(pid, &mut status, 0, &mut rusage);
                }
                panic!("the run did not end within {watchdog:?}: {shown}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .map_err(|e| e.into_panic())
    .unwrap_or_else(|p| std::panic::resume_unwind(p));
    drop(child);
    let stderr = std::fs::read_to_string(err_file.path())
        .unwrap()
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Ended {
        code: status.code(),
        stderr,
        max_rss_mib: rusage.ru_maxrss as u64 / 1024,
    }
}

fn args_of<'a>(r: &'a Rehearsal, command: &'a str) -> Vec<String> {
    vec![command.to_owned(), r.plan_arg()]
}

const JOBS: &str = "/v3/migration-tools/jobs";
const PREFIX: &str = r#"{"request_id":"hostile","data":["#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_beyond_the_bound_stops_there() {
    for (what, reply) in [
        (
            "1 GiB, not announced",
            (|| Reply::Huge {
                prefix: PREFIX.into(),
                bytes: 1 << 30,
                announce: false,
            }) as fn() -> Reply,
        ),
        ("1 GiB, announced", || Reply::Huge {
            prefix: PREFIX.into(),
            bytes: 1 << 30,
            announce: true,
        }),
        ("an endless chunked stream", || Reply::EndlessChunked {
            prefix: PREFIX.into(),
        }),
    ] {
        let (r, hostile) =
            behind(move |head: &Head| (head.method == "GET" && head.path == JOBS).then(reply))
                .await;
        let args = args_of(&r, "plan");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ended = run(&r, &args, &[], Duration::from_secs(60)).await;
        assert_eq!(ended.code, Some(1), "{what}: {}", ended.stderr);
        assert!(
            ended.stderr.contains("api::too-large") && ended.stderr.contains("4 MiB"),
            "{what}: {}",
            ended.stderr
        );
        assert!(hostile.answered.load(Ordering::SeqCst) >= 1, "{what}");
        // Reading stopped at the bound: what the server got out is the bound plus the
        // kernel's buffers, not the body.
        let sent = hostile.sent.load(Ordering::SeqCst);
        assert!(sent < 64 << 20, "{what}: {sent} bytes sent");
        eprintln!("{what}: peak {} MiB, {sent} bytes sent", ended.max_rss_mib);
        // And the process never held the body: its peak is the bound and the program.
        assert!(
            ended.max_rss_mib < 160,
            "{what}: peak {} MiB",
            ended.max_rss_mib
        );
    }

    // An error body is read up to 64 KiB and no further; its size is not even reported past it.
    let (r, hostile) = behind(|head: &Head| {
        (head.path == JOBS).then(|| Reply::Json {
            status: 400,
            headers: Vec::new(),
            body: format!("{{\"junk\":\"{}\"}}", "x".repeat(8 << 20)),
        })
    })
    .await;
    let args = args_of(&r, "plan");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ended = run(&r, &args, &[], Duration::from_secs(60)).await;
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert!(
        ended
            .stderr
            .contains("an error body longer than 65536 bytes, not kept"),
        "{}",
        ended.stderr
    );
    assert!(hostile.answered.load(Ordering::SeqCst) >= 1);
}

fn grant(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","provider":"google","created_at":1,"scope":[],"account_id":"acct-{id}"}}"#
    )
}

fn page(ids: impl Iterator<Item = String>) -> Reply {
    let grants: Vec<String> = ids.map(|id| grant(&id)).collect();
    Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: format!(
            r#"{{"request_id":"hostile","data":[{}]}}"#,
            grants.join(",")
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_break_the_contract_are_errors() {
    // A server that ignores `offset`: the same full page for ever.
    let (r, hostile) = behind(|head: &Head| {
        (head.path == "/v3/grants" && head.query("account_ids").is_none()).then(|| {
            let limit: usize = head
                .query("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(10);
            page((0..limit).map(|i| format!("same-{i}")))
        })
    })
    .await;
    let args = args_of(&r, "report");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ended = run(&r, &args, &[], Duration::from_secs(60)).await;
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("api::paging") && ended.stderr.contains("ignores `offset`"),
        "{}",
        ended.stderr
    );
    assert!(hostile.answered.load(Ordering::SeqCst) <= 2, "asked again");

    // A page with more grants than asked for.
    let (r, _hostile) = behind(|head: &Head| {
        (head.path == "/v3/grants" && head.query("account_ids").is_none()).then(|| {
            let limit: usize = head
                .query("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(10);
            page((0..=limit).map(|i| format!("extra-{i}")))
        })
    })
    .await;
    let ended = run(
        &r,
        &args_of(&r, "report")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &[],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("api::paging")
            && ended.stderr.contains("more than the 200 asked for"),
        "{}",
        ended.stderr
    );

    // Pages that advance but never end, for the accounts a clone step asks about: the number
    // of pages is bounded by the accounts asked about (one grant each per application).
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on = armed.clone();
    let (r, hostile) = behind(move |head: &Head| {
        (on.load(Ordering::SeqCst)
            && head.path == "/v3/grants"
            && head.query("account_ids").is_some())
        .then(|| {
            let offset: usize = head
                .query("offset")
                .and_then(|o| o.parse().ok())
                .unwrap_or(0);
            page((offset..offset + 200).map(|i| format!("fresh-{i}")))
        })
    })
    .await;
    let out = r.apply().await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::support::stderr(&out)
    );
    armed.store(true, Ordering::SeqCst);
    let args = args_of(&r, "plan");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ended = run(&r, &args, &[], Duration::from_secs(60)).await;
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("api::paging")
            && ended
                .stderr
                .contains("an account has one grant per application"),
        "{}",
        ended.stderr
    );
    assert!(hostile.answered.load(Ordering::SeqCst) <= 5, "pages asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_server_cannot_hold_a_call_past_its_deadline() {
    // One byte every 50 ms of 10,000: over 8 minutes for one answer.
    let (r, hostile) = behind(|head: &Head| {
        (head.path == "/v3/applications").then(|| Reply::Trickle {
            bytes: 10_000,
            every: Duration::from_millis(50),
        })
    })
    .await;
    let args = args_of(&r, "plan");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ended = run(
        &r,
        &args,
        &[("NYLAS_MIGRATE_REQUEST_DEADLINE", "1")],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("api::deadline")
            && ended.stderr.contains("within the request deadline of 1 s")
            && ended.stderr.contains("NYLAS_MIGRATE_REQUEST_DEADLINE"),
        "{}",
        ended.stderr
    );
    assert!(hostile.answered.load(Ordering::SeqCst) >= 1);

    // A deadline that is not one is refused, saying what to give.
    let ended = run(
        &r,
        &args,
        &[("NYLAS_MIGRATE_REQUEST_DEADLINE", "soon")],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("api::setting") && ended.stderr.contains("in seconds"),
        "{}",
        ended.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_cap_is_not_waited_and_says_so() {
    let (r, hostile) = behind(|head: &Head| {
        (head.path == "/v3/applications").then(|| Reply::Json {
            status: 429,
            headers: vec![("retry-after".into(), "119".into())],
            body: r#"{"request_id":"hostile","error":{"type":"rate_limit_error","message":"slow down"}}"#
                .into(),
        })
    })
    .await;
    let args = args_of(&r, "plan");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ended = run(&r, &args, &[], Duration::from_secs(30)).await;
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("HTTP 429")
            && ended.stderr.contains("asked to wait 119 s")
            && ended.stderr.contains("more than the 60 s"),
        "{}",
        ended.stderr
    );
    // `plan` reads the application twice (its history and its preview), neither resent.
    assert!(hostile.answered.load(Ordering::SeqCst) <= 2, "not resent");
}
