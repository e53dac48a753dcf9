//! The plan's state on both backends: the SQLite folder and PostgreSQL (a throwaway server, see
//! `support::postgres`). The journal behaves the same on both; PostgreSQL keeps plans apart,
//! versions its schema, stores no secret, and its lock lets one `apply` run at a time per plan,
//! naming the holder and released when the holder is killed.

use std::path::PathBuf;

use crate::support::cli::Test;
use crate::support::postgres::{self as pg, TestDb};
use crate::support::rehearsal::{self, EVERY_STEP_KIND, Rehearsal, WAVES};
use crate::support::{stderr, stdout};
use nylas_migrate::api::Operation;
use nylas_migrate::graph::StepId;
use nylas_migrate::state::journal::{
    JobCounts, JobOrigin, Phase, RunOutcome, StepRecord, StepStatus,
};
use nylas_migrate::state::{Journal, JournalError, StateLocation};

/// A diagnostic as one line: miette wraps it to the terminal's width.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.trim().trim_start_matches(['│', '×']).trim())
        .collect::<Vec<_>>()
        .join(" ")
}

fn postgres_state(db: &TestDb) -> StateLocation {
    // The plan's secret may hold the password.
    StateLocation::Postgres(Box::new(
        nylas_migrate::state::journal::PostgresTarget::from_secret(
            &nylas_migrate::client::Secret::new(db.url_with_password()),
            &nylas_migrate::plan::Trust::default(),
        )
        .unwrap(),
    ))
}

/// What a journal reads back after the same writes, without what differs between two runs
/// (times).
fn exercise(journal: &Journal) -> String {
    let run = journal.start_run("plan", "apply").unwrap();
    let link = StepId::new_raw("p/link");
    let wave = StepId::new_raw("p/batch/w");
    let app = StepRecord {
        app_id: Some("app".into()),
        ..StepRecord::default()
    };
    journal
        .record(run, &link, Phase::Intent, StepStatus::Intent, &app)
        .unwrap();
    journal
        .record(run, &link, Phase::Outcome, StepStatus::Done, &app)
        .unwrap();
    let mut record = StepRecord {
        app_id: Some("app".into()),
        snapshot_job_id: Some("s1".into()),
        clone_job_id: Some("m1".into()),
        jobs_before: vec!["old".into()],
        ..StepRecord::default()
    };
    journal
        .record(run, &wave, Phase::Started, StepStatus::Running, &record)
        .unwrap();
    journal
        .note(
            run,
            &wave,
            &StepRecord {
                error: Some("a network error while polling".into()),
                ..record.clone()
            },
        )
        .unwrap();
    record.job_status = Some(nylas_migrate::api::JobStatus::Partial);
    record.counts = Some(JobCounts {
        all: 10,
        success: 7,
        failed: 2,
        warning: 1,
    });
    journal
        .record(run, &wave, Phase::Outcome, StepStatus::Done, &record)
        .unwrap();
    let listed: nylas_migrate::api::MigrationJob = serde_json::from_value(serde_json::json!({
        "job_id": "other", "type": "migration", "public_application_id": "app",
        "status": "completed", "count_all": 5, "count_success": 5, "count_failed": 0,
        "count_warning": 0, "created_at": 0, "updated_at": 0
    }))
    .unwrap();
    assert_eq!(
        journal
            .adopt_jobs(run, "app", std::slice::from_ref(&listed))
            .unwrap(),
        1
    );
    assert_eq!(journal.adopt_jobs(run, "app", &[listed]).unwrap(), 0);
    journal.finish_run(run, RunOutcome::Incomplete).unwrap();
    let second = journal.start_run("plan", "apply").unwrap();

    let mut claimed: Vec<String> = journal.claimed_jobs().unwrap().into_iter().collect();
    claimed.sort();
    let steps: Vec<String> = journal
        .steps()
        .unwrap()
        .into_iter()
        .map(|(id, s)| format!("{id} {} {:?} run {}", s.status, s.record, s.run_id))
        .collect();
    let runs: Vec<String> = journal
        .runs()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?} {}",
                r.id,
                r.plan_name,
                r.outcome,
                r.finished_at.is_some()
            )
        })
        .collect();
    let events: Vec<String> = journal
        .events()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {:?} {}",
                e.run_id, e.step_id, e.phase, e.status, e.record
            )
        })
        .collect();
    let known: Vec<String> = journal
        .known_jobs()
        .unwrap()
        .iter()
        .map(|k| format!("{k:?}"))
        .collect();
    format!(
        "second run {second}\nstep {:?}\nknows p {} q {}, at once {:?}\nclaimed {claimed:?}\nsteps {steps:#?}\nruns {runs:#?}\nevents {events:#?}\nknown {known:#?}\norigins {:?}",
        journal.step(&link).unwrap().map(|s| s.status),
        journal.knows_pair("p").unwrap(),
        journal.knows_pair("q").unwrap(),
        journal.knows_pairs(&["q", "p", "pp", "p"]).unwrap(),
        journal
            .known_jobs()
            .unwrap()
            .iter()
            .map(|k| k.origin)
            .collect::<Vec<JobOrigin>>(),
    )
}

#[test]
fn the_journal_reads_back_the_same_on_both_backends() {
    let Some(db) = pg::database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = StateLocation::Folder(dir.path().to_path_buf());
    let postgres = postgres_state(&db);
    let sqlite = exercise(&Journal::open_at(&folder, "plan").unwrap());
    let shared = exercise(&Journal::open_at(&postgres, "plan").unwrap());
    assert_eq!(shared, sqlite);
    // The same writes fenced by the lock, as `apply` makes them (in batches on its session).
    let Some(other) = pg::database() else { return };
    let locked = postgres_state(&other);
    let lock = nylas_migrate::state::StateLock::acquire_at(&locked, "plan").unwrap();
    let mut fenced = Journal::open_at(&locked, "plan").unwrap();
    fenced.set_fence(lock.fence());
    assert_eq!(exercise(&fenced), sqlite);
    assert!(sqlite.contains("second run 2"), "{sqlite}");
    assert!(
        sqlite.contains("knows p true q false, at once [false, true, false, true]"),
        "{sqlite}"
    );
    // Opened again, the same state; the fingerprint key is the plan's, kept.
    let again = Journal::existing(&postgres, "plan").unwrap().unwrap();
    assert_eq!(again.runs().unwrap().len(), 2);
    let secret = nylas_migrate::client::Secret::new("azure".into());
    assert_eq!(
        again.fingerprinter().unwrap().fingerprint("p", &secret),
        Journal::open_at(&postgres, "plan")
            .unwrap()
            .fingerprinter()
            .unwrap()
            .fingerprint("p", &secret)
    );
}

#[test]
fn two_plans_in_one_database_do_not_see_each_others_state() {
    let Some(db) = pg::database() else { return };
    let state = postgres_state(&db);
    let alpha = Journal::open_at(&state, "alpha").unwrap();
    let beta = Journal::open_at(&state, "beta").unwrap();
    // The same step IDs and job IDs in both plans.
    for (journal, app) in [(&alpha, "app-a"), (&beta, "app-b")] {
        let run = journal.start_run("x", "apply").unwrap();
        assert_eq!(run, 1, "each plan numbers its own runs");
        let record = StepRecord {
            app_id: Some(app.into()),
            snapshot_job_id: Some("s1".into()),
            clone_job_id: Some("m1".into()),
            ..StepRecord::default()
        };
        journal
            .record(
                run,
                &StepId::new_raw("shared/batch/w"),
                Phase::Started,
                StepStatus::Running,
                &record,
            )
            .unwrap();
    }
    alpha
        .record(
            1,
            &StepId::new_raw("only-alpha/link"),
            Phase::Outcome,
            StepStatus::Done,
            &StepRecord::default(),
        )
        .unwrap();
    let steps = |j: &Journal| -> Vec<(String, Option<String>)> {
        j.steps()
            .unwrap()
            .into_iter()
            .map(|(id, s)| (id, s.record.app_id))
            .collect()
    };
    assert_eq!(
        steps(&alpha),
        [
            ("only-alpha/link".to_owned(), None),
            ("shared/batch/w".to_owned(), Some("app-a".to_owned()))
        ]
    );
    assert_eq!(
        steps(&beta),
        [("shared/batch/w".to_owned(), Some("app-b".to_owned()))]
    );
    assert!(alpha.knows_pair("only-alpha").unwrap());
    assert!(!beta.knows_pair("only-alpha").unwrap());
    assert_eq!(alpha.events().unwrap().len(), 2);
    assert_eq!(beta.events().unwrap().len(), 1);
    assert!(
        beta.known_jobs()
            .unwrap()
            .iter()
            .all(|k| k.app_id.as_deref() == Some("app-b"))
    );
    assert_eq!(beta.known_jobs().unwrap().len(), 2);
    let secret = nylas_migrate::client::Secret::new("azure".into());
    assert_ne!(
        alpha.fingerprinter().unwrap().fingerprint("p", &secret),
        beta.fingerprinter().unwrap().fingerprint("p", &secret),
        "each plan has its own key"
    );
    // A plan never applied has no journal there, and looking creates nothing.
    assert!(Journal::existing(&state, "gamma").unwrap().is_none());
    let plans: i64 = db.with(|c| {
        c.query_one("SELECT count(*) FROM nylas_migrate.plans", &[])
            .unwrap()
            .get(0)
    });
    assert_eq!(plans, 2);
}

#[test]
fn the_schema_is_made_on_first_use_and_versioned() {
    let Some(db) = pg::database() else { return };
    let state = postgres_state(&db);
    // Reads create nothing.
    assert!(Journal::existing(&state, "p").unwrap().is_none());
    let schema = |db: &TestDb| -> bool {
        db.with(|c| {
            c.query_one(
                "SELECT to_regclass('nylas_migrate.schema_version') IS NOT NULL",
                &[],
            )
            .unwrap()
            .get(0)
        })
    };
    assert!(!schema(&db));
    // Two first uses at once: one creates the schema, the other waits for it.
    std::thread::scope(|s| {
        let a = s.spawn(|| Journal::open_at(&state, "a").map(|_| ()));
        let b = s.spawn(|| Journal::open_at(&state, "b").map(|_| ()));
        a.join().unwrap().unwrap();
        b.join().unwrap().unwrap();
    });
    let versions: Vec<i32> = db.with(|c| {
        c.query("SELECT version FROM nylas_migrate.schema_version", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    assert_eq!(versions, [1, 2]);
    // A schema a newer version made is refused, not misread.
    db.with(|c| {
        c.execute(
            "INSERT INTO nylas_migrate.schema_version VALUES (99, 0, '9.9.9')",
            &[],
        )
        .unwrap()
    });
    match Journal::open_at(&state, "a") {
        Err(err @ JournalError::NewerSchema { found: 99, .. }) => assert_eq!(
            miette::Diagnostic::code(&err).map(|c| c.to_string()),
            Some("state::schema-newer".to_owned())
        ),
        other => panic!("expected a newer-schema error, got {other:?}"),
    }
}

#[test]
fn a_value_this_version_does_not_know_is_an_error_on_postgres_too() {
    let Some(db) = pg::database() else { return };
    let state = postgres_state(&db);
    let journal = Journal::open_at(&state, "p").unwrap();
    let run = journal.start_run("p", "apply").unwrap();
    let step = StepId::new_raw("p/link");
    journal
        .record(
            run,
            &step,
            Phase::Intent,
            StepStatus::Intent,
            &StepRecord::default(),
        )
        .unwrap();
    let edit = |sql: &str| db.with(|c| c.batch_execute(sql).unwrap());
    fn unknown<T: std::fmt::Debug>(result: Result<T, JournalError>) -> String {
        match result {
            Err(JournalError::Unknown { what, value, .. }) => format!("{what} {value}"),
            other => panic!("expected an unknown-value error, got {other:?}"),
        }
    }
    edit("UPDATE nylas_migrate.steps SET status = 'superseded'");
    assert_eq!(unknown(journal.step(&step)), "step status \"superseded\"");
    assert!(journal.steps().is_err());
    edit("UPDATE nylas_migrate.steps SET status = 'done', record = '{\"job_status\":\"paused\"}'");
    assert!(unknown(journal.step(&step)).starts_with("step record ("));
    edit("UPDATE nylas_migrate.events SET phase = 'rolled-back'");
    assert_eq!(unknown(journal.events()), "event phase \"rolled-back\"");
    edit("UPDATE nylas_migrate.runs SET outcome = 'aborted'");
    assert_eq!(unknown(journal.runs()), "run outcome \"aborted\"");
    edit(
        "INSERT INTO nylas_migrate.jobs (plan_id, job_id, origin, run_id)
         SELECT id, 'j', 'borrowed', 1 FROM nylas_migrate.plans",
    );
    assert_eq!(unknown(journal.known_jobs()), "job origin \"borrowed\"");
}

/// The crash test's plan, with its state in a fresh PostgreSQL database.
async fn on_postgres(db: &TestDb) -> Rehearsal {
    let mut r = rehearsal::start(EVERY_STEP_KIND, 30, |_, _| {}).await;
    r.state_in_postgres(&db.url(), db.env());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_postgres_state_or_the_output() {
    let Some(db) = pg::database() else { return };
    let mut r = rehearsal::start(EVERY_STEP_KIND, 30, |_, _| {}).await;
    // The password inside the URL this time (the plan's secret), not in PGPASSWORD.
    r.state_in_postgres(&db.url_with_password(), Vec::new());
    let first = r.apply().await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let plan = r.plan_arg();
    let status = r.run(&["status", &plan]).await;
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let shown = stdout(&status);
    assert!(
        shown.contains("state postgres://nylas:***@127.0.0.1:"),
        "the state is shown with its password masked: {shown}"
    );
    let printed = format!(
        "{}{}{}{}",
        stdout(&first),
        stderr(&first),
        shown,
        stderr(&status)
    );
    let dump = db.dump();
    assert!(dump.contains("== steps") && dump.len() > 4096, "{dump}");
    assert!(
        dump.contains("hmac-sha256:"),
        "connector secrets are fingerprinted"
    );
    let mut canaries: Vec<(String, String)> = r
        .secrets
        .iter()
        .filter(|(name, _)| *name != "MIGRATE_STATE_URL")
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    canaries.push(("the database password".into(), db.password().to_owned()));
    for (name, value) in &canaries {
        assert!(!printed.contains(value.as_str()), "{name} was printed");
        assert!(!dump.contains(value.as_str()), "{name} is stored");
    }
    // The journal is the plan's, and a second apply writes nothing.
    let writes = r.sim.stats().writes();
    let second = r.apply().await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(r.sim.stats().writes(), writes, "the second apply wrote");
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_is_refused_at_once_and_a_killed_holder_releases_the_lock() {
    let Some(db) = pg::database() else { return };
    let r = on_postgres(&db).await;
    let plan = r.plan_arg();
    let resume = r.dir.path().join("never");
    // The holder: stopped right after its first clone, lock held.
    let mut holder = r.spawn_held(&["apply", &plan, "--yes"], "clone@after-write", &resume);
    holder
        .wait_reached(std::time::Duration::from_secs(60))
        .unwrap();
    let holder_pid = holder.pid();

    let started = std::time::Instant::now();
    let second = r.apply().await;
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "refused at once, not after waiting"
    );
    let err = flat(&stderr(&second));
    assert!(
        err.contains("another `nylas-migrate apply` is running on PostgreSQL state"),
        "{err}"
    );
    assert!(
        err.replace(' ', "").contains(&db.url().replace(' ', "")),
        "names the state (no password in its URL): {err}"
    );
    assert!(err.contains("for plan `crash`"), "{err}");
    assert!(
        err.contains(&format!("(process {holder_pid} of user ")),
        "names the holder's process and user: {err}"
    );
    assert!(
        err.contains(" on host ") && err.contains(", since 20"),
        "{err}"
    );

    // Reads take no lock.
    let status = r.run(&["status", &plan]).await;
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let preview = r.run(&["plan", &plan]).await;
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));

    // SIGKILL: the server ends the holder's session, and with it the lock.
    holder.kill();
    let third = r.apply().await;
    assert_eq!(
        third.status.code(),
        Some(0),
        "{}{}",
        stdout(&third),
        stderr(&third)
    );
    let stats = r.sim.stats();
    assert_eq!(
        stats.count(Operation::SnapshotBatchClone, 200),
        WAVES,
        "one job per wave"
    );
    assert_eq!(stats.max_clones(), 1);
    r.sim.shutdown().await;
}

#[test]
fn a_password_on_the_command_line_is_refused_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "version: 1\nname: p\npairs:\n  - name: a\n    region: us\n    v2: { app_id: abc, client_secret: { env: V2 } }\n    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: V3 } }\n",
    )
    .unwrap();
    let plan = plan.display().to_string();
    for command in ["plan", "apply", "status", "report"] {
        let mut args = vec![
            command,
            plan.as_str(),
            "--state",
            "postgres://ci:canary-pw-4242@127.0.0.1:1/state",
        ];
        if command == "apply" {
            args.push("--yes");
        }
        let out = Test::new().args(&args).run();
        let all = flat(&format!("{}{}", stdout(&out), stderr(&out)));
        assert_eq!(out.status.code(), Some(1), "{command}: {all}");
        assert!(!all.contains("canary-pw-4242"), "{command}: {all}");
        assert!(
            all.contains("the --state URL postgres://ci:***@127.0.0.1:1/state holds a password"),
            "{command}: {all}"
        );
        assert!(all.contains("PGPASSWORD"), "{command}: {all}");
        assert!(
            all.contains("state::password-on-command-line"),
            "{command}: {all}"
        );
    }
}

#[test]
fn a_plans_state_host_needs_an_opt_in_from_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    let plan: PathBuf = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "version: 1\nname: p\nstate:\n  postgres: { url: { env: STATE_URL } }\npairs:\n  - name: a\n    region: us\n    v2: { app_id: abc, client_secret: { env: V2 } }\n    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: V3 } }\n",
    )
    .unwrap();
    let plan = plan.display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["status", plan.as_str(), "--offline"];
        args.extend_from_slice(extra);
        Test::new()
            .args(&args)
            .env(
                "STATE_URL",
                "postgres://ci:canary-pw-4242@db.attacker.invalid/state",
            )
            .run()
    };
    let out = run(&[]);
    let err = flat(&stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("points at `db.attacker.invalid`, not a loopback address"),
        "{err}"
    );
    assert!(
        err.contains("--allow-state-host db.attacker.invalid"),
        "{err}"
    );
    assert!(err.contains("state::host-not-allowed"), "{err}");
    assert!(!err.contains("canary-pw-4242"), "{err}");
    // An opt-in for API hosts is not one for state hosts.
    let out = run(&["--allow-api-host", "db.attacker.invalid"]);
    assert!(flat(&stderr(&out)).contains("not a loopback address"));
}

#[test]
fn tls_is_rustls_verified_against_the_clients_roots() {
    let Some(server) = pg::server() else { return };
    // A server that speaks TLS with a certificate a test CA signed (the throwaway one).
    let Some(ca) = server.tls_ca.clone() else {
        return;
    };
    let db = server.database();
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "version: 1\nname: p\npairs:\n  - name: a\n    region: us\n    v2: { app_id: abc, client_secret: { env: V2 } }\n    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: V3 } }\n",
    )
    .unwrap();
    let status = |sslmode: &str, ca: Option<&std::path::Path>| {
        let url = format!("{}?sslmode={sslmode}", db.url_without_sslmode());
        let test = Test::new()
            .args([
                "status",
                plan.to_str().unwrap(),
                "--offline",
                "--state",
                &url,
            ])
            .envs(db.env());
        let out = match ca {
            Some(ca) => test.env("NYLAS_MIGRATE_CA_FILE", ca),
            None => test,
        }
        .run();
        (
            out.status.code(),
            flat(&format!("{}{}", stdout(&out), stderr(&out))),
        )
    };
    // The test CA is not among the system's or the bundled roots: refused, with what to do,
    // whether TLS is required or only preferred (no silent fallback to an unchecked server).
    for mode in ["require", "verify-full", "prefer"] {
        let (code, out) = status(mode, None);
        assert_eq!(code, Some(1), "{mode}: {out}");
        assert!(
            out.contains("certificate") || out.contains("UnknownIssuer"),
            "{mode}: {out}"
        );
        assert!(out.contains("NYLAS_MIGRATE_CA_FILE"), "{mode}: {out}");
    }
    // With the CA the API client would trust too: connected and verified.
    for mode in ["verify-full", "prefer"] {
        let (code, out) = status(mode, Some(&ca));
        assert_eq!(code, Some(0), "{mode}: {out}");
        assert!(out.contains("no journal in postgres://"), "{mode}: {out}");
    }
    let (code, out) = status("disable", None);
    assert_eq!(code, Some(0), "disable: {out}");
    // A certificate was presented and checked: the failures above were TLS's, not plain
    // connections refused.
}

#[test]
fn state_locations_that_cannot_be_used_say_why_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    let pairs = "pairs:\n  - name: a\n    region: us\n    v2: { app_id: abc, client_secret: { env: V2 } }\n    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: V3 } }\n";
    std::fs::write(&plan, format!("version: 1\nname: p\n{pairs}")).unwrap();
    let with_state = dir.path().join("with-state.yaml");
    std::fs::write(
        &with_state,
        format!(
            "version: 1\nname: p\nstate:\n  postgres: {{ url: {{ env: STATE_URL }} }}\n{pairs}"
        ),
    )
    .unwrap();
    let no_pem = dir.path().join("no-certificate.pem");
    std::fs::write(&no_pem, "not a certificate\n").unwrap();
    let plan = plan.to_str().unwrap();
    let with_state = with_state.to_str().unwrap();
    let no_pem = no_pem.to_str().unwrap();
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    for (args, env, code, what) in [
        (
            vec![
                "status",
                plan,
                "--offline",
                "--state",
                "postgres://localhost/state",
            ],
            vec![],
            "state::invalid-url",
            "a URL without a user",
        ),
        (
            vec![
                "status",
                plan,
                "--offline",
                "--state",
                "postgres://ci@127.0.0.1:1/state?sslmode=allow",
            ],
            vec![],
            "state::sslmode",
            "an sslmode that could send the password unverified",
        ),
        (
            vec!["status", with_state, "--offline"],
            vec![],
            "state::url-unreadable",
            "a plan whose state URL variable is not set",
        ),
        (
            vec![
                "status",
                plan,
                "--offline",
                "--state",
                "postgres://ci@127.0.0.1:1/state?sslmode=disable",
            ],
            vec![],
            "state::postgres",
            "a server that does not answer",
        ),
        (
            vec![
                "status",
                plan,
                "--offline",
                "--state",
                "postgres://ci@127.0.0.1:1/state?sslmode=require",
            ],
            vec![("NYLAS_MIGRATE_CA_FILE", no_pem)],
            "holds no PEM certificate",
            "a CA file with no certificate (state::postgres, saying why TLS cannot be set up)",
        ),
    ] {
        let out = Test::new().args(&args).envs(env).status(1).run();
        let err = flat(&stderr(&out));
        assert!(err.contains(code), "{what}: expected {code}: {err}");
        assert!(!err.contains("this is a bug"), "{what}: {err}");
    }
}

/// Writes `n` intents (steps `{prefix}0/link`…) from as many threads at once while another session
/// holds the journal's tables: the first batch waits on them, so every other intent queues
/// behind it. That session commits once the batch waits; with `stale`, it first records a
/// newer epoch of the lock, as a runner that took the lock over would. Answers every write.
fn intents_at_once(
    journal: &Journal,
    db: &TestDb,
    run: i64,
    prefix: &str,
    n: usize,
    stale: bool,
) -> Vec<Result<(), JournalError>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let connect = || postgres::Client::connect(&db.url_with_password(), postgres::NoTls).unwrap();
    let (mut blocker, mut watcher) = (connect(), connect());
    let mut hold = blocker.transaction().unwrap();
    hold.batch_execute("LOCK TABLE nylas_migrate.steps, nylas_migrate.events IN EXCLUSIVE MODE")
        .unwrap();
    if stale {
        hold.batch_execute(
            "INSERT INTO nylas_migrate.lock_epochs (plan_id, epoch, backend_pid, acquired_at)
             SELECT plan_id, MAX(epoch) + 1, 0, 0 FROM nylas_migrate.lock_epochs GROUP BY plan_id",
        )
        .unwrap();
    }
    let started = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..n)
            .map(|i| {
                let started = &started;
                s.spawn(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    journal.record(
                        run,
                        &StepId::new_raw(format!("{prefix}{i}/link")),
                        Phase::Intent,
                        StepStatus::Intent,
                        &StepRecord::default(),
                    )
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < n {
            std::thread::yield_now();
        }
        // A condition, not a delay: the lock's session is waiting for the tables (or a write
        // already ended, which the caller's checks then catch).
        while !writers.iter().any(|w| w.is_finished())
            && watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = 'nylas-migrate lock' AND wait_event_type = 'Lock'",
                    &[],
                )
                .unwrap()
                .get::<_, i64>(0)
                == 0
        {
            std::thread::yield_now();
        }
        hold.commit().unwrap();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    })
}

/// Rows of steps `{prefix}…/link`, and how many transactions wrote them (rows a transaction writes
/// share its `xmin`).
fn written(db: &TestDb, prefix: &str) -> (i64, i64, i64) {
    let pattern = format!("{prefix}%/link");
    db.with(|c| {
        let steps = c
            .query_one(
                "SELECT count(*), count(DISTINCT xmin::text) FROM nylas_migrate.steps
                 WHERE step_id LIKE $1",
                &[&pattern],
            )
            .unwrap();
        let events: i64 = c
            .query_one(
                "SELECT count(*) FROM nylas_migrate.events WHERE step_id LIKE $1",
                &[&pattern],
            )
            .unwrap()
            .get(0);
        (steps.get(0), events, steps.get(1))
    })
}

#[test]
fn concurrent_fenced_writes_are_committed_in_batches_and_a_stale_epoch_writes_none() {
    let Some(db) = pg::database() else { return };
    let state = postgres_state(&db);
    let lock = nylas_migrate::state::StateLock::acquire_at(&state, "plan").unwrap();
    let mut journal = Journal::open_at(&state, "plan").unwrap();
    journal.set_fence(lock.fence());
    let run = journal.start_run("plan", "apply").unwrap();
    const N: usize = 64;

    let answers = intents_at_once(&journal, &db, run, "fresh", N, false);
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let (steps, events, transactions) = written(&db, "fresh");
    assert_eq!((steps, events), (N as i64, N as i64));
    assert!(
        transactions < N as i64 / 2,
        "{N} concurrent intents took {transactions} transactions"
    );
    assert_eq!(journal.open_steps().len(), N);

    // Another runner's newer epoch commits while the batch waits: the batch's fence fails, and
    // none of its intents is written; each is refused as a lost lock.
    let answers = intents_at_once(&journal, &db, run, "stale", N, true);
    for answer in &answers {
        assert!(
            matches!(answer, Err(JournalError::LockLost { .. })),
            "{answer:?}"
        );
    }
    assert_eq!(written(&db, "stale"), (0, 0, 0));
    assert_eq!(
        journal.open_steps().len(),
        N,
        "no stale intent counts as open"
    );
    assert!(journal.lock_lost().is_some());
}

/// A step's row as a test compares it: without its time (a kept row's is this machine's).
fn row(journal: &Journal, step: &StepId) -> Option<(StepStatus, StepRecord, i64)> {
    journal
        .step(step)
        .unwrap()
        .map(|s| (s.status, s.record, s.run_id))
}

/// While `apply` holds the lock, the steps' rows it read when it took the lock, and then wrote,
/// read as the database holds them; a holder that takes the lock from one that did not settle
/// reads the database, which that one may still write (the outcome of a write it had in
/// flight).
#[test]
fn the_rows_a_holder_keeps_read_as_the_database_holds_them() {
    let Some(db) = pg::database() else { return };
    let state = postgres_state(&db);
    let (link, import) = (StepId::new_raw("p/link"), StepId::new_raw("p/import"));
    let earlier = Journal::open_at(&state, "plan").unwrap();
    let run = earlier.start_run("plan", "apply").unwrap();
    let failed = StepRecord {
        error: Some("e".repeat(nylas_migrate::untrusted::MAX_MESSAGE_BYTES * 2)),
        ..StepRecord::default()
    };
    earlier
        .record(run, &link, Phase::Outcome, StepStatus::Failed, &failed)
        .unwrap();

    let lock = nylas_migrate::state::StateLock::acquire_at(&state, "plan").unwrap();
    let mut a = Journal::open_at(&state, "plan").unwrap();
    a.set_fence(lock.fence());
    let database = Journal::existing(&state, "plan").unwrap().unwrap();
    assert_eq!(row(&a, &link), row(&database, &link), "read when locked");
    let run = a.start_run("plan", "apply").unwrap();
    let intent = StepRecord {
        app_id: Some("app".into()),
        ..StepRecord::default()
    };
    a.record(run, &import, Phase::Intent, StepStatus::Intent, &intent)
        .unwrap();
    a.record(run, &link, Phase::Outcome, StepStatus::Done, &intent)
        .unwrap();
    for step in [&link, &import, &StepId::new_raw("p/clone/x")] {
        assert_eq!(row(&a, step), row(&database, step), "{step}");
    }
    assert_eq!(row(&a, &import).map(|r| r.0), Some(StepStatus::Intent));

    // A's lock session ends with its intent in flight; B takes the lock over, and A records
    // its write's outcome afterwards, on its journal's own connection.
    db.end_lock_sessions();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let lock_b = loop {
        match nylas_migrate::state::StateLock::acquire_at(&state, "plan") {
            Ok(lock) => break lock,
            // The server releases the advisory lock once it has ended A's session.
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "{e:?}");
                std::thread::yield_now();
            }
        }
    };
    let mut b = Journal::open_at(&state, "plan").unwrap();
    b.set_fence(lock_b.fence());
    assert_eq!(row(&b, &import).map(|r| r.0), Some(StepStatus::Intent));
    let outcome = a.record(run, &import, Phase::Outcome, StepStatus::Done, &intent);
    assert!(
        matches!(outcome, Err(JournalError::LockLost { .. })),
        "{outcome:?}"
    );
    assert_eq!(
        row(&b, &import).map(|r| r.0),
        Some(StepStatus::Done),
        "B reads what A recorded after B took the lock"
    );
    assert_eq!(row(&a, &import), row(&database, &import));
}
