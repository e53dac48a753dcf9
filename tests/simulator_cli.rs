//! `nylas-migrate simulate` as a user runs it: one JSON line once listening, serves until
//! Ctrl-C (SIGINT), exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nylas_migrate::simulator::World;

use crate::support::cli::Test;

#[tokio::test]
async fn simulate_prints_its_urls_serves_and_exits_0_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let world_file = dir.path().join("world.yaml");
    let mut child = Test::new()
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--accounts",
            "40",
            "--seed",
            "5",
        ])
        .arg("--write-world")
        .arg(&world_file)
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    // A bound on a hang, not a wait for success: the line comes as soon as it listens.
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("no JSON line on stdout");
    let urls: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let us = urls["us"].as_str().unwrap();
    let eu = urls["eu"].as_str().unwrap();
    assert!(us.starts_with("http://127.0.0.1:") && eu.starts_with("http://127.0.0.1:"));
    assert_ne!(us, eu);
    assert_eq!(urls["stats"], format!("{us}/_sim/stats"));

    let world = World::load(&world_file).unwrap();
    assert_eq!(world, World::generate(40, 5));
    let http = reqwest::Client::new();
    for (base, app) in [(us, &world.v3_apps[0]), (eu, &world.v3_apps[1])] {
        let r = http
            .get(format!("{base}/v3/applications"))
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let stats: serde_json::Value = http
        .get(urls["stats"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"]["get_application"]["200"], 2);

    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn simulate_refuses_a_bad_world_file() {
    let dir = tempfile::tempdir().unwrap();
    let world_file = dir.path().join("bad.yaml");
    std::fs::write(&world_file, "v2_apps: [{id: a}]").unwrap();
    let out = Test::new()
        .args(["simulate", "--world"])
        .arg(&world_file)
        .status(1)
        .stdout("")
        .run();
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid world file"));
}
