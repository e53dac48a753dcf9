//! Fuzzing `validate` (issue 22, "Must show"): a few thousand plans mutated from every plan in
//! `examples/` (the corpus: `examples/*.yaml`, `examples/invalid/*.yaml`), each run, with
//! hostile bytes mixed into the mutations (terminal escapes, a lone carriage return, C1 and
//! bidirectional controls, invalid UTF-8). Each mutant goes through the library's validate entry
//! point in-process (`plan::load_bytes`) and what a person or a pipeline would be shown is
//! rendered as the CLI renders it (`cli::diagnostics::render` and `to_json`; the graph for a
//! plan that is valid). It asserts: no panic; no raw control byte in any output; output and
//! diagnostics bounded (a few hundred diagnostics, output within a multiple of the input). A
//! few batches go through the real binary too, whose peak memory (`ru_maxrss`) is bounded.
//!
//! Seeded and reproducible: `FUZZ_SEED` picks the seed (decimal or `0x…`; printed, and named in
//! every failure with the mutant's index and its mutations), `FUZZ_CASES` how many mutants
//! (default [`CASES`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use nylas_migrate::cli::diagnostics;
use nylas_migrate::graph::StepGraph;
use nylas_migrate::plan;
use nylas_migrate::untrusted::is_unsafe;

use crate::support::cli::BIN;
use crate::validate_hostile::{Rng, mutate};

/// Mutants per run by default: a few seconds in a debug build.
const CASES: usize = 2_000;
/// Mutants also run through the binary, in a few processes.
const BINARY_CASES: usize = 120;
const FILES_PER_RUN: usize = 40;
/// The most a `validate` process over [`FILES_PER_RUN`] small plans may hold at its peak.
const MAX_RSS_KIB: i64 = 256 * 1024;

/// Hostile text a mutation inserts, beside `validate_hostile`'s YAML-shaped bytes.
const HOSTILE: &[&[u8]] = &[
    b"\x1b]0;PWNED\x07",
    b"\x1b[2J\x1b[1A",
    b"\x07",
    b"\r",
    b"\r        - { name: hidden, mode: all }",
    b"\x00",
    b"\x7f",
    b"\x08\x08\x08",
    "\u{9b}31m".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{2066}".as_bytes(),
    "\u{2028}".as_bytes(),
    b"\"\\e[2J\"",
    b"\"\\u202E\"",
    b"\xff",
    b"\xc3\x28",
    b"client_secret: hunter2-fuzz ",
    b"https://user:pw@api.us.nylas.com",
];

/// The corpus, valid plans first, and how many of them are valid.
fn corpus() -> (Vec<(String, Vec<u8>)>, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [root.clone(), root.join("invalid")] {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(
        files.len() > 10,
        "the corpus is examples/ and examples/invalid/"
    );
    let mut corpus: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
                .unwrap_or(&path)
                .display()
                .to_string();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    let is_valid = |bytes: &[u8]| plan::load_bytes(Path::new("f.yaml"), "f.yaml", bytes).is_ok();
    corpus.sort_by_key(|(_, bytes)| !is_valid(bytes));
    let valid = corpus.iter().filter(|(_, b)| is_valid(b)).count();
    assert!(valid >= 3, "the valid examples");
    (corpus, valid)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .map(|s| {
            let s = s.trim();
            s.strip_prefix("0x")
                .map_or_else(|| s.parse(), |hex| u64::from_str_radix(hex, 16))
                .unwrap_or_else(|_| panic!("FUZZ_SEED must be a number, not `{s}`"))
        })
        .unwrap_or(0xf022_2026)
}

fn cases() -> usize {
    std::env::var("FUZZ_CASES")
        .ok()
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("FUZZ_CASES must be a number, not `{s}`"))
        })
        .unwrap_or(CASES)
}

/// One mutant: the source file (half the time one of the valid plans, which come first in the
/// corpus, so that valid mutants and the graph are exercised too) and 1–4 mutations, a third of
/// them hostile insertions.
fn mutant(rng: &mut Rng, corpus: &[(String, Vec<u8>)], valid: usize) -> (String, Vec<u8>) {
    let pick = if rng.below(2) == 0 {
        rng.below(valid)
    } else {
        rng.below(corpus.len())
    };
    let (name, source) = &corpus[pick];
    let mut bytes = source.clone();
    let mut steps = Vec::new();
    for _ in 0..=rng.below(4) {
        if rng.below(3) == 0 {
            let at = rng.below(bytes.len() + 1);
            let text = HOSTILE[rng.below(HOSTILE.len())];
            bytes.splice(at..at, text.iter().copied());
            steps.push(format!(
                "insert {:?} at {at}",
                String::from_utf8_lossy(text)
            ));
        } else {
            steps.push(mutate(rng, &mut bytes));
        }
    }
    (format!("{name}: {}", steps.join("; ")), bytes)
}

/// The characters of `text` no output may hold raw (line feeds are how outputs are made).
fn raw_unsafe(text: &str) -> Vec<String> {
    text.chars()
        .filter(|&c| c != '\n' && is_unsafe(c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect()
}

/// Validates `bytes` in-process and renders what `validate` would print, human and JSON; `Ok`
/// says whether the plan is valid, an error names what broke.
fn check_one(bytes: &[u8]) -> Result<bool, String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        plan::load_bytes(Path::new("fuzz.yaml"), "fuzz.yaml", bytes)
    }));
    let outputs: Vec<String> = match outcome {
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(format!("load_bytes panicked: {message}"));
        }
        Ok(Ok(ref loaded)) => {
            match catch_unwind(AssertUnwindSafe(|| StepGraph::build(&loaded.plan))) {
                Err(_) => return Err("StepGraph::build panicked on a valid plan".into()),
                Ok(Ok(graph)) => vec![
                    nylas_migrate::graph::to_dot(&graph),
                    nylas_migrate::graph::to_mermaid(&graph),
                ],
                Ok(Err(_)) => Vec::new(),
            }
        }
        Ok(Err(ref invalid)) => {
            if invalid.diagnostics.is_empty() {
                return Err("refused without a diagnostic".into());
            }
            if invalid.diagnostics.len() > plan::MAX_DIAGNOSTICS + 1 {
                return Err(format!("{} diagnostics", invalid.diagnostics.len()));
            }
            let rendered = catch_unwind(AssertUnwindSafe(|| {
                invalid
                    .diagnostics
                    .iter()
                    .flat_map(|d| {
                        [
                            diagnostics::render(d),
                            diagnostics::to_json(&invalid.name, d).to_string(),
                        ]
                    })
                    .collect::<Vec<_>>()
            }));
            match rendered {
                Ok(rendered) => rendered,
                Err(_) => return Err("rendering a diagnostic panicked".into()),
            }
        }
    };
    let valid = matches!(outcome, Ok(Ok(_)));
    let total: usize = outputs.iter().map(String::len).sum();
    // Snippets repeat a few lines around each problem: generous, and still far below what an
    // unbounded report (every problem, whole lines of megabytes) would print.
    if total > 64 * bytes.len() + (1 << 20) {
        return Err(format!(
            "{total} bytes of output for {} of input",
            bytes.len()
        ));
    }
    for output in &outputs {
        let raw = raw_unsafe(output);
        if !raw.is_empty() {
            return Err(format!(
                "raw {raw:?} in the output:\n{}",
                output.escape_debug()
            ));
        }
    }
    Ok(valid)
}

#[test]
fn mutated_example_plans_never_panic_nor_print_control_characters() {
    let seed = seed();
    let cases = cases();
    println!("fuzz: FUZZ_SEED={seed:#x} FUZZ_CASES={cases}");
    let (corpus, valid_sources) = corpus();
    let mut rng = Rng(seed);
    let mut valid = 0;
    let mut failures = Vec::new();
    let mut for_binary = Vec::new();
    for i in 0..cases {
        let (label, bytes) = mutant(&mut rng, &corpus, valid_sources);
        match check_one(&bytes) {
            Ok(is_valid) => valid += usize::from(is_valid),
            Err(why) => failures.push(format!("FUZZ_SEED={seed:#x} mutant #{i} ({label}): {why}")),
        }
        if i < BINARY_CASES {
            for_binary.push((i, label, bytes));
        }
        if failures.len() >= 5 {
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing mutants (rerun one with FUZZ_SEED={seed:#x}):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    println!(
        "fuzz: {cases} mutants of {} corpus files, {valid} still valid",
        corpus.len()
    );

    // A few runs of the binary over the first mutants: the same promises from the outside,
    // and the process's peak memory.
    let dir = tempfile::tempdir().unwrap();
    for batch in for_binary.chunks(FILES_PER_RUN) {
        let paths: Vec<PathBuf> = batch
            .iter()
            .map(|(i, _, bytes)| {
                let path = dir.path().join(format!("mutant-{i:04}.yaml"));
                std::fs::write(&path, bytes).unwrap();
                path
            })
            .collect();
        let label = format!(
            "FUZZ_SEED={seed:#x} mutants #{}..#{}",
            batch[0].0,
            batch[batch.len() - 1].0
        );
        for json in [false, true] {
            let mut args: Vec<std::ffi::OsString> = Vec::new();
            if json {
                args.extend(["--output".into(), "json".into()]);
            }
            args.push("validate".into());
            args.extend(paths.iter().map(|p| p.clone().into_os_string()));
            let (code, stdout, stderr, rss_kib) = run_measured(&args);
            assert!(
                code == Some(0) || code == Some(1),
                "{label}: exit {code:?}; stderr:\n{}",
                String::from_utf8_lossy(&stderr)
            );
            for (stream, bytes) in [("stdout", &stdout), ("stderr", &stderr)] {
                let text = String::from_utf8_lossy(bytes);
                let raw = raw_unsafe(&text);
                assert!(raw.is_empty(), "{label}: raw {raw:?} on {stream}");
            }
            assert!(
                rss_kib < MAX_RSS_KIB,
                "{label}: validate peaked at {rss_kib} KiB"
            );
        }
    }
}

/// Runs the binary (no colours, none of the developer's settings) and returns its exit code,
/// outputs and peak resident memory in KiB, read from `wait4` for this child alone (the child
/// is reaped there, which clippy cannot see).
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[std::ffi::OsString]) -> (Option<i32>, Vec<u8>, Vec<u8>, i64) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NYLAS_MIGRATE_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nylas-migrate");
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err.read_to_end(&mut bytes);
        bytes
    });
    let mut stdout = Vec::new();
    let _ = out.read_to_end(&mut stdout);
    let stderr = reader.join().unwrap_or_default();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain out-parameters; the child is ours and not yet reaped (std reaps only in
    // `wait`, which is never called on it).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, stdout, stderr, usage.ru_maxrss)
}
