//! `report`, `verify` and `status` over 100,000 and 1,000,000 accounts: peak RSS and time
//! against what the rate limit allows. The world is `nylas-migrate simulate --accounts N`
//! (two pairs, U.S. and E.U., accounts two to one, Nylas's 20 requests per second per
//! application), run as a process of its own so that its memory (about 200 MiB at a million
//! accounts) is not counted; its plan (`--write-plan`: a test account, then one wave of
//! everyone) is applied first, so that every migratable account has a grant. Each command is
//! then the real binary, as a user runs it; its peak RSS is the kernel's (`wait4`'s
//! `ru_maxrss`). Linux carries the spawning process's peak into a child's `ru_maxrss` across
//! `exec`, so this process stays small (it reads the CSV a line at a time and never fetches the
//! simulator's stats) and prints its own peak: each figure is at most the command's own peak,
//! or this process's, whichever is larger.
//!
//! The ideal time is the requests the command made at 20 per second: `report` reads the pairs
//! one after the other (its rows in plan order), so all its pages count; `verify` reads the
//! pairs side by side, so the larger application's pages count.
//!
//! `report --format html --out FILE` is measured the same way (it reads every pair's checklist
//! side by side, then the grants pair after pair), as it is (the users who must sign in again
//! listed) and with every account listed (`--outcome` with every outcome: the largest page),
//! with each page's size, and the time a headless
//! Chromium (`chromium` on the PATH, or `$CHROMIUM`) takes to load it and run its script
//! (`--dump-dom` of the page, less the same for an empty page: the browser's own start), the
//! median of three.
//!
//! Then `translate` (one resource type) over the same sizes, in a world of its own: its peak
//! RSS and its time against the ideal. It asks a page or more per account at 20/s per
//! application: about an hour at 100,000 accounts, nine at a million. `--limit N` raises the
//! simulated world's limit for translate to N per application (the simulator's
//! `--rate-limit`, and the client's through `NYLAS_MIGRATE_LOOPBACK_RATE_LIMIT`, which only a
//! world on loopback honours), so that a million accounts take minutes: memory is what is
//! measured there, the pace at 20/s on a world that fits.
//!
//! Run: `cargo bench --bench report_memory` (about fifteen minutes for the reports, mostly the
//! million accounts' 5,000 pages, read four times, then translate's hours);
//! `-- --accounts 100000` for one size, `-- --only report` or `-- --only translate`;
//! `-- --only translate --limit 1000 --accounts 100000,1000000` for translate at 1,000/s.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: u32 = 20;
/// Grants per page (the client's).
const PAGE: u64 = 200;

/// `nylas-migrate simulate` in a process of its own, with the plan and env it wrote.
struct Simulator {
    child: Child,
    env: HashMap<String, String>,
}

impl Simulator {
    fn start(accounts: usize, dir: &Path, limit: u32) -> Simulator {
        let plan = dir.join("plan.yaml");
        let mut child = Command::new(env!("CARGO_BIN_EXE_nylas-migrate"))
            .args(["simulate", "--listen", "127.0.0.1:0", "--seed", "7"])
            .args(["--accounts", &accounts.to_string()])
            .args(["--rate-limit", &limit.to_string()])
            // Batch jobs done in moments: what is measured is reading their grants.
            .args(["--speed", "100000", "--accounts-per-second", "1000"])
            .arg("--write-plan")
            .arg(&plan)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // The wave takes every account (a batch clone migrates 1,000 unless told otherwise).
        let wave = "{ name: everyone, mode: only_new }";
        let mut text = String::new();
        for _ in 0..600 {
            text = std::fs::read_to_string(&plan).unwrap_or_default();
            if text.contains(wave) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(text.contains(wave), "the written plan has its wave");
        let text = text.replace(
            wave,
            &format!("{{ name: everyone, mode: only_new, limit: {accounts} }}"),
        );
        std::fs::write(&plan, text).unwrap();
        let _: HashMap<String, String> =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("simulator said {line:?}: {e}"));
        // `export NAME='value'` lines.
        let env = std::fs::read_to_string(dir.join("plan.yaml.env"))
            .or_else(|_| std::fs::read_to_string(dir.join("plan.env")))
            .expect("the plan's env file")
            .lines()
            .filter_map(|l| {
                let (name, value) = l.strip_prefix("export ")?.split_once('=')?;
                Some((name.to_owned(), value.trim_matches('\'').to_owned()))
            })
            .collect();
        Simulator { child, env }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Run {
    elapsed: Duration,
    peak_kib: i64,
    code: Option<i32>,
}

/// Runs the binary, waits for it with `wait4` for its peak RSS.
fn run(args: &[&str], env: &HashMap<String, String>, stdout: Stdio) -> Run {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_nylas-migrate"))
        .args(args)
        .envs(env)
        .env("NO_COLOR", "1")
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .expect("run nylas-migrate");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid pointers to a status and an rusage.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(pid, &mut status, 0, &mut usage);
        usage
    };
    let elapsed = started.elapsed();
    std::mem::forget(child);
    Run {
        elapsed,
        peak_kib: usage.ru_maxrss,
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
    }
}

/// This process's peak RSS in KiB (`ru_maxrss` of RUSAGE_SELF).
fn own_peak_kib() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage.ru_maxrss
    }
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// Grant pages a pair of `rows` grants takes (a full last page is followed by an empty one).
fn pages(rows: u64) -> u64 {
    rows / PAGE + 1
}

fn measure(accounts: usize) {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(accounts, dir.path(), LIMIT);
    let plan = dir.path().join("plan.yaml").display().to_string();
    let state = dir.path().join("state").display().to_string();
    let started = Instant::now();
    let applied = run(
        &["apply", &plan, "--state", &state, "--yes", "--quiet"],
        &sim.env,
        Stdio::null(),
    );
    assert_eq!(applied.code, Some(0), "the world's plan applied");
    println!(
        "  {accounts} accounts: world migrated in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // report, CSV to a file: its rows say how many grants each pair has.
    let csv = dir.path().join("report.csv");
    let csv_arg = csv.display().to_string();
    let report = run(
        &["report", &plan, "--state", &state, "--out", &csv_arg],
        &sim.env,
        Stdio::null(),
    );
    assert_eq!(report.code, Some(0), "report");
    // Read a line at a time: this process stays small (see the module's note on ru_maxrss).
    let mut per_pair: HashMap<String, u64> = HashMap::new();
    let reader = BufReader::new(std::fs::File::open(&csv).unwrap());
    for line in reader.lines().skip(1) {
        let line = line.unwrap();
        *per_pair
            .entry(line.split(',').next().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let rows: u64 = per_pair.values().sum();
    let all_pages: u64 = per_pair.values().map(|&r| pages(r)).sum();
    let largest_pages = per_pair.values().map(|&r| pages(r)).max().unwrap_or(0);
    // Every grant page, and one job listing per pair (each has a wave).
    let requests = all_pages + per_pair.len() as u64;
    let ideal_report = requests as f64 / f64::from(LIMIT);
    let line = |what: &str, r: &Run, ideal: f64| {
        let ratio = ideal / r.elapsed.as_secs_f64();
        println!(
            "    {what}: peak RSS {:.1} MiB (target < 64: {}), {:.1} s against an ideal {:.1} s: {:.3} of the limit (target ≥ 0.95: {})",
            mib(r.peak_kib),
            if mib(r.peak_kib) < 64.0 {
                "met"
            } else {
                "MISSED"
            },
            r.elapsed.as_secs_f64(),
            ideal,
            ratio,
            if ratio >= 0.95 { "met" } else { "MISSED" },
        );
    };
    println!(
        "    {rows} rows over {} pairs, {all_pages} grant pages ({requests} requests in all); this process's own peak RSS {:.1} MiB",
        per_pair.len(),
        mib(own_peak_kib())
    );
    line("report --format csv --out FILE", &report, ideal_report);

    let json = run(
        &["report", &plan, "--state", &state, "--format", "json"],
        &sim.env,
        Stdio::null(),
    );
    assert_eq!(json.code, Some(0), "report --format json");
    line(
        "report --format json (stdout)",
        &json,
        requests as f64 / f64::from(LIMIT),
    );

    let verify = run(
        &["verify", &plan, "--state", &state, "--output", "json"],
        &sim.env,
        Stdio::null(),
    );
    assert!(verify.code.is_some_and(|c| c < 64), "verify");
    // Side by side: the larger application's pages, and a few other reads each.
    line(
        "verify --output json",
        &verify,
        largest_pages as f64 / f64::from(LIMIT),
    );

    let html = dir.path().join("report.html");
    let html_arg = html.display().to_string();
    let page = run(
        &[
            "report", &plan, "--state", &state, "--format", "html", "--out", &html_arg,
        ],
        &sim.env,
        Stdio::null(),
    );
    assert_eq!(page.code, Some(0), "report --format html");
    // The checklists side by side (the larger application's pages), then every grant page.
    line(
        "report --format html --out FILE",
        &page,
        (requests + largest_pages) as f64 / f64::from(LIMIT),
    );
    let size = std::fs::metadata(&html).unwrap().len();
    println!(
        "      the page: {:.1} MiB ({size} bytes)",
        size as f64 / 1024.0 / 1024.0
    );

    let status = run(
        &["status", &plan, "--state", &state],
        &sim.env,
        Stdio::null(),
    );
    assert_eq!(status.code, Some(0), "status");
    println!(
        "    status: peak RSS {:.1} MiB, {:.2} s (it reads the journal and each pair's jobs, no grant)",
        mib(status.peak_kib),
        status.elapsed.as_secs_f64()
    );
    // The largest page: every account in the list (`--outcome` with every outcome), as if
    // every user had to sign in again.
    let all = dir.path().join("report-all.html");
    let all_arg = all.display().to_string();
    let every = run(
        &[
            "report",
            &plan,
            "--state",
            &state,
            "--format",
            "html",
            "--outcome",
            "migrated,placeholder,failed,pending",
            "--out",
            &all_arg,
        ],
        &sim.env,
        Stdio::null(),
    );
    assert_eq!(every.code, Some(0), "report --format html --outcome (all)");
    line(
        "report --format html, every account listed",
        &every,
        (requests + largest_pages) as f64 / f64::from(LIMIT),
    );
    let size = std::fs::metadata(&all).unwrap().len();
    println!(
        "      the page: {:.1} MiB ({size} bytes)",
        size as f64 / 1024.0 / 1024.0
    );
    // Last: the browser's memory is not this process's, but its output is not read into it
    // either (to a file, then its first lines).
    browser_load(&html, dir.path());
    browser_load(&all, dir.path());
}

/// The browser: `$CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> Option<std::path::PathBuf> {
    std::env::var_os("CHROMIUM").map(Into::into).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    })
}

/// Seconds for a headless Chromium to load `page` and run its script (`--dump-dom` to a
/// file), and whether the script ran (the page's `data-ready`).
fn dump_dom(browser: &Path, page: &Path, dir: &Path) -> (f64, bool) {
    let profile = tempfile::tempdir().unwrap();
    let out_path = dir.join("dom.html");
    let out = std::fs::File::create(&out_path).unwrap();
    let started = Instant::now();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        cmd.arg("--no-sandbox");
    }
    let status = cmd
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(out)
        .stderr(Stdio::null())
        .status()
        .expect("run chromium");
    let elapsed = started.elapsed().as_secs_f64();
    assert!(status.success(), "chromium failed on {}", page.display());
    let mut head = String::new();
    let mut reader = BufReader::new(std::fs::File::open(&out_path).unwrap());
    for _ in 0..2 {
        let _ = reader.read_line(&mut head);
    }
    (elapsed, head.contains("data-ready=\"1\""))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn browser_load(page: &Path, dir: &Path) {
    let Some(browser) = chromium() else {
        println!("    browser load: not measured (no chromium: apt-get install chromium)");
        return;
    };
    let empty = dir.join("empty.html");
    std::fs::write(
        &empty,
        "<!DOCTYPE html><html><head><title>x</title></head><body></body></html>",
    )
    .unwrap();
    let base = median((0..3).map(|_| dump_dom(&browser, &empty, dir).0).collect());
    let runs: Vec<(f64, bool)> = (0..3).map(|_| dump_dom(&browser, page, dir)).collect();
    assert!(runs.iter().all(|r| r.1), "the page's script ran");
    let load = median(runs.iter().map(|r| r.0).collect());
    println!(
        "    browser load (headless Chromium, --dump-dom, median of 3): {load:.2} s, of which {base:.2} s is the browser's start (an empty page): the page itself {:.2} s",
        load - base
    );
}

/// `translate --resource-types folders` over every migrated account: peak RSS, and time
/// against the ideal, the larger application's requests (its translate calls and its grant
/// pages) at the limit. The client paces each application at the plan's `rate_limit`, at most
/// Nylas's 20/s, whatever the simulator allows, unless `limit` is raised (the loopback world's
/// `NYLAS_MIGRATE_LOOPBACK_RATE_LIMIT`): a page or more per account at 20/s per
/// application makes 100,000 accounts about an hour and a million about nine.
fn measure_translate(accounts: usize, limit: u32) {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(accounts, dir.path(), limit);
    let plan = dir.path().join("plan.yaml").display().to_string();
    let state = dir.path().join("state").display().to_string();
    let applied = run(
        &["apply", &plan, "--state", &state, "--yes", "--quiet"],
        &sim.env,
        Stdio::null(),
    );
    assert_eq!(applied.code, Some(0), "the world's plan applied");
    let out = dir.path().join("ids.csv").display().to_string();
    let summary = dir.path().join("events.jsonl");
    let events = std::fs::File::create(&summary).unwrap();
    let mut env = sim.env.clone();
    if limit != LIMIT {
        env.insert(
            "NYLAS_MIGRATE_LOOPBACK_RATE_LIMIT".into(),
            limit.to_string(),
        );
    }
    let translated = run(
        &[
            "translate",
            &plan,
            "--state",
            &state,
            "--resource-types",
            "folders",
            "--out",
            &out,
            "--output",
            "json",
        ],
        &env,
        Stdio::from(events),
    );
    assert!(translated.code.is_some_and(|c| c < 64), "translate");
    // The last line is the summary; read a line at a time (this process stays small).
    let mut last = String::new();
    for line in BufReader::new(std::fs::File::open(&summary).unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("\"translate_summary\"") {
            last = line;
        }
    }
    let summary: serde_json::Value = serde_json::from_str(&last).expect("a translate summary");
    let errors_rows = BufReader::new(
        std::fs::File::open(dir.path().join("ids.errors.csv")).expect("the errors file"),
    )
    .lines()
    .count()
    .saturating_sub(1);
    let per_pair: Vec<u64> = summary["throughput"]
        .as_array()
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|t| t["requests"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    // Each pair's translate calls and its grant pages (about one call an account).
    let largest = per_pair.iter().map(|&r| r + pages(r)).max().unwrap_or(0);
    let ideal = largest as f64 / f64::from(limit);
    let ratio = ideal / translated.elapsed.as_secs_f64();
    println!(
        "  {accounts} accounts, translate --resource-types folders at {limit}/s: {} accounts, {} rows, {} refused ({errors_rows} rows in the errors file); per pair {per_pair:?} calls",
        summary["accounts"], summary["rows"], summary["accounts_refused"],
    );
    println!(
        "    translate: peak RSS {:.1} MiB (target < 64: {}), {:.1} s against an ideal {:.1} s: {:.3} of the limit (target ≥ 0.95: {})",
        mib(translated.peak_kib),
        if mib(translated.peak_kib) < 64.0 {
            "met"
        } else {
            "MISSED"
        },
        translated.elapsed.as_secs_f64(),
        ideal,
        ratio,
        if ratio >= 0.95 { "met" } else { "MISSED" },
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let only = value("--only");
    let sizes: Vec<usize> = args
        .iter()
        .position(|a| a == "--accounts")
        .and_then(|i| args.get(i + 1))
        .map_or_else(
            || vec![100_000, 1_000_000],
            |list| {
                list.split(',')
                    .map(|n| n.trim().parse().expect("--accounts N,M"))
                    .collect()
            },
        );
    if only.as_deref() != Some("translate") {
        println!("report memory: limit {LIMIT}/s per application, grants {PAGE} a page");
        for &accounts in &sizes {
            measure(accounts);
        }
    }
    let limit: u32 = value("--limit").map_or(LIMIT, |l| l.parse().expect("--limit N"));
    if only.as_deref() != Some("report") {
        println!("translate memory: limit {limit}/s per application");
        for &accounts in &sizes {
            measure_translate(accounts, limit);
        }
    }
}
