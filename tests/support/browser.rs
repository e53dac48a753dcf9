//! A real headless Chromium (Debian's `chromium`) opening a page from a file: the DOM after
//! its scripts ran, what it logged to its console, and a screenshot.
//!
//! Found as `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH. Without one a test
//! says so in one line and passes; under CI (`CI` set) that is a failure, as with PostgreSQL.
//! The browser resolves no host name (`--host-resolver-rules`), so nothing can reach the
//! internet whatever a page asks for; a page's requests to 127.0.0.1 are the test's to count.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The browser, or `None` (with a line saying why) when this machine has none.
pub fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| {
        ["chromium", "chromium-browser"].iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
    });
    if found.is_none() {
        let line =
            "no chromium here (apt-get install chromium, or set CHROMIUM): browser test skipped";
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("under CI every browser test must run: {line}");
        }
        eprintln!("{line}");
    }
    found
}

/// What the browser made of a page.
pub struct Loaded {
    /// The DOM once the page loaded and its scripts ran, serialised.
    pub dom: String,
    /// Every line the page wrote to the console (errors, CSP violations, logs).
    pub console: Vec<String>,
}

/// The flags every run shares: headless, no first-run work, no background requests, no name
/// resolution (127.0.0.1 still reachable), a profile of its own.
fn command(browser: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    // Root (a CI container) cannot use Chromium's sandbox.
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        cmd.arg("--no-sandbox");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` to its end, or kills it after `limit` (a browser that hangs fails the test).
fn run(mut cmd: Command, limit: Duration) -> std::process::Output {
    let child = cmd.spawn().expect("the browser starts");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("the browser's output"),
        Err(_) => {
            // SAFETY: kill on the pid of the child this function started.
            unsafe { libc::kill(id as i32, libc::SIGKILL) };
            panic!("the browser did not finish within {limit:?}");
        }
    }
}

/// Opens `url` (a `file://` URL, perhaps with a fragment) and returns the DOM after its
/// scripts ran and what it logged.
pub fn load(browser: &Path, url: &str) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = command(browser, profile.path());
    cmd.args(["--dump-dom", url]);
    let out = run(cmd, Duration::from_secs(180));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser failed on {url}: {stderr}"
    );
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_owned)
            .collect(),
    }
}

/// Takes a screenshot of `url` at 1280 pixels wide into `png`.
pub fn screenshot(browser: &Path, url: &str, png: &Path, height: u32) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = command(browser, profile.path());
    cmd.arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size=1280,{height}"))
        .arg(url);
    let out = run(cmd, Duration::from_secs(180));
    assert!(
        out.status.success() && png.is_file(),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
