//! What the integration tests share, in one place:
//!
//! | module | for |
//! | --- | --- |
//! | this one | the repository's files, a run's output as text, a listener that counts connections |
//! | [`browser`] | a real headless Chromium: a page's DOM after its scripts, its console, a screenshot |
//! | [`cli`] | [`cli::Test`], the builder that runs the binary and checks its exit status and output |
//! | [`events`] | `--output json` events checked against `docs/events.schema.json` |
//! | [`sim`] | a simulator over a fixture world, driven over HTTP, every answer checked against the contract |
//! | [`client`] | the library's API client pointed at a simulator |
//! | [`rehearsal`] | a plan rehearsed against a simulator by the real binary, failpoints, end states |
//! | [`contract`] | the Nylas v3 contract as JSON Schema validators |
//! | [`receiver`] | a webhook endpoint on 127.0.0.1 |
//! | [`hostile`] | a raw HTTP server in front of the simulator: huge bodies, endless streams, trickles, broken pages |
//! | [`logs`] | what the library logs during one test |
//! | [`snapshot`] | whole-output snapshots and what is redacted from them |

pub mod browser;
pub mod cli;
pub mod client;
pub mod contract;
pub mod events;
pub mod hostile;
pub mod logs;
pub mod postgres;
pub mod proxy;
pub mod receiver;
pub mod rehearsal;
pub mod sim;
pub mod snapshot;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where every server of the tests listens, on an ephemeral port.
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `path` relative to the repository root, as a string for arguments.
pub fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The `.yaml` files directly inside `dir` (relative to the root), sorted.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .expect("directory exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A listener on 127.0.0.1 that accepts connections, counts them and closes them at once: its
/// `http://` URL and the count.
pub fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, count)
}

/// A pseudo terminal: its controlling side (what a person would type and read) and the side a
/// child process gets as its terminal.
#[cfg(unix)]
pub fn pseudo_terminal() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the given places; the rest may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned here only.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}
