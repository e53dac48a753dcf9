//! The state folder is private whatever it was found like (issue 22, item 10): in a folder that
//! already existed with 0755 and files 0644, `apply` makes the folder 0700 and every file it
//! keeps 0600 (`fingerprint.key` included) and says what it changed; translate's lock files are
//! 0600 whatever the umask.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::stderr;

const PLAN: &str = r#"version: 1
name: private
pairs:
  - name: solo
    region: us
    v2: { app_id: priv2v2app000000000000001, client_secret: { env: P_V2 } }
    v3: { app_id: 3c3c3c3c-0000-4000-8000-000000000003, api_key: { env: P_V3 } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZ_ID }, client_secret: { env: AZ_SECRET }, tenant: common }
    clone:
      batches:
        - { name: everyone, mode: all }
"#;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn applied(r: &Rehearsal, state: &Path) {
    let plan = r.plan_arg();
    let out = r
        .run(&["apply", &plan, "--state", state.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_state_folder_is_made_private_and_the_warning_says_what_changed() {
    let r = rehearsal::start(PLAN, 12, |_, _| {}).await;
    let state = r.dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    chmod(&state, 0o755);
    applied(&r, &state).await;
    assert_eq!(mode(&state), 0o700, "the folder, once apply has run in it");

    // As a copy, an unpack or a careless chmod leaves it: the folder 0755, every file 0644.
    let files: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["journal.sqlite", "lock", "fingerprint.key"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for file in &files {
        chmod(file, 0o644);
    }
    chmod(&state, 0o755);
    // A file of the user's own in the folder keeps its mode.
    let own = state.join("notes.txt");
    std::fs::write(&own, "the user's").unwrap();
    chmod(&own, 0o644);
    // A link in the folder is never followed: its target keeps its mode.
    let outside = r.dir.path().join("outside.txt");
    std::fs::write(&outside, "not the tool's").unwrap();
    chmod(&outside, 0o644);
    std::os::unix::fs::symlink(&outside, state.join("planted")).unwrap();

    let plan = r.plan_arg();
    let out = r
        .run(&["apply", &plan, "--state", state.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(mode(&state), 0o700, "folder");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&outside), 0o644, "a link's target is not the tool's");
    assert_eq!(mode(&own), 0o644, "a file the tool does not keep");
    // The warning says the truth: what was found, what it is now.
    let err = stderr(&out).replace('\n', " ");
    assert!(err.contains("was mode 0755; made it 0700"), "{err}");
    assert!(err.contains("fingerprint.key (was 0644)"), "{err}");
    assert!(err.contains("journal.sqlite (was 0644)"), "{err}");
    assert!(!err.contains("consider: chmod"), "{err}");

    // Nothing to change: nothing said.
    let out = r
        .run(&["apply", &plan, "--state", state.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("made it"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translate_lock_files_are_private_whatever_the_umask() {
    let r = rehearsal::start(PLAN, 6, |_, _| {}).await;
    let state = r.dir.path().join("state");
    applied(&r, &state).await;
    let out_path = r.dir.path().join("ids.csv");
    let plan = r.plan_arg();
    let mut command = r.command(&[
        "translate",
        &plan,
        "--state",
        state.to_str().unwrap(),
        "--resource-types",
        "messages",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    // SAFETY: umask is async-signal-safe and only changes the child's mask.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let locks: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("translate-") && name.ends_with(".lock")
        })
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(mode(&locks[0]), 0o600, "{}", locks[0].display());
}
