//! How the binary behaves on a terminal and in a pipeline: how it ends (closed pipes, Ctrl-C),
//! what it prints for people (escaped, aligned, pluralised), shell completions and the man page.

mod common;

use std::process::Stdio;

use common::rehearsal::{self, Rehearsal};
use common::stderr;

/// One pair, two test accounts, two waves.
const ONE_PAIR: &str = r#"version: 1
name: terminal
pairs:
  - name: solo
    region: us
    v2: { app_id: solo02v2app00000000000001, client_secret: { env: SOLO_V2_SECRET } }
    v3: { app_id: 0c0c0c0c-0000-4000-8000-000000000003, api_key: { env: SOLO_V3_KEY } }
    webhooks:
      - url: https://hooks.example.com/solo
        triggers: [grant.created]
    clone:
      single: [solo00account000000000001, solo00account000000000002]
      batches:
        - { name: google, providers: [google], mode: only_new }
        - { name: rest, mode: only_new }
"#;

async fn one_pair() -> Rehearsal {
    rehearsal::start(ONE_PAIR, 40, |_, _| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_server_is_an_error_not_a_silent_death() {
    let r = one_pair().await;
    // The simulator speaks plain http: a TLS handshake with it fails, and the client's writes
    // to the socket the server closed get EPIPE. That must be an error with a message.
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    std::fs::write(&r.plan_path, text.replace("http://", "https://")).unwrap();
    let plan = r.plan_arg();
    for args in [
        vec!["plan", plan.as_str()],
        vec!["apply", plan.as_str(), "--yes"],
    ] {
        let out = r.run(&args).await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} must exit 1 (a signal gives no code; 141 is SIGPIPE through a shell): {:?}\n{}",
            out.status,
            stderr(&out)
        );
        assert!(!stderr(&out).trim().is_empty(), "{args:?} said nothing");
    }
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    // Enough output that the writes cannot all fit in the pipe before its reader is gone.
    let mut plan = String::from(
        "version: 1\nname: big\npairs:\n  - name: big\n    region: us\n    v2: { app_id: big0v2, client_secret: { env: A } }\n    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: B } }\n    clone:\n      single:\n",
    );
    for i in 0..3000 {
        plan.push_str(&format!("        - acct{i:021}\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    std::fs::write(&path, plan).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nylas-migrate"))
        .args(["graph", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "ends as Unix tools do on a closed pipe: {:?}",
            out.status
        );
    }
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
