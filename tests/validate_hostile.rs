//! Hostile input for `nylas-migrate validate` (issue 2, "Must show": no input makes it panic or
//! hang). Every input here is fed to the real binary, each run bounded by a timeout, and must
//! end with exit 0 (valid) or 1 (invalid, with a diagnostic): never a panic (exit 101), a signal
//! (a stack overflow aborts with SIGSEGV/SIGABRT), or a hang.
//!
//! The random mutations use a fixed default seed so CI is reproducible; set `HOSTILE_SEED` to
//! explore others. A failing mutation is named by seed and index.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::cli::Test;

/// Most work any single run may do before it counts as a hang: processor time, which does not
/// grow when other tests or builds share the machine. Generous for a debug build; the slowest
/// input here takes a few seconds.
const TIMEOUT: Duration = Duration::from_secs(20);

/// How long a run may take on the clock, for a hang that does no work (a deadlock): the
/// processor time above, with room for a busy two-core machine.
const WALL: Duration = Duration::from_secs(60);

const EXAMPLES: [&str; 3] = [
    "examples/us-single-pair.yaml",
    "examples/us-and-eu.yaml",
    "examples/production.yaml",
];

fn example(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// What one `validate` run produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `nylas-migrate validate` on `plans`, stopping it past [`TIMEOUT`] of processor time
/// (the kernel's SIGXCPU) or [`WALL`] on the clock.
fn validate(label: &str, plans: &[PathBuf]) -> Run {
    let Some(output) = Test::new()
        .arg("validate")
        .args(plans)
        .env_remove("RUST_BACKTRACE")
        .cpu_limit(TIMEOUT)
        .run_within(WALL)
    else {
        panic!("{label}: `validate` did not finish within {WALL:?} (a hang)");
    };
    let status = output.status;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let Some(code) = status.code() else {
        // No exit code: killed by a signal, which is how a stack overflow ends, and how the
        // kernel stops a run past its processor time (SIGXCPU, a hang).
        panic!(
            "{label}: `validate` was killed by a signal ({status}; SIGXCPU: more than {TIMEOUT:?} of processor time, a hang); stderr:\n{stderr}"
        );
    };
    assert_ne!(code, 101, "{label}: `validate` panicked; stderr:\n{stderr}");
    assert!(
        code == 0 || code == 1,
        "{label}: exit code {code}, expected 0 or 1; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "{label}: stderr mentions a panic:\n{stderr}"
    );
    if code == 1 {
        assert!(
            stderr.contains("plan::") && stderr.contains("is invalid"),
            "{label}: exit 1 without a diagnostic; stderr:\n{}",
            head(&stderr)
        );
    }
    Run {
        code,
        stdout,
        stderr,
    }
}

/// The start of a long text, for failure messages that stay readable.
fn head(text: &str) -> &str {
    let mut end = text.len().min(4000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Writes `bytes` to a fresh file named after the case and validates it alone.
fn validate_bytes(dir: &TempDir, label: &str, bytes: &[u8]) -> Run {
    let file_name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = dir.path().join(format!("{file_name}.yaml"));
    std::fs::write(&path, bytes).expect("write plan");
    validate(label, &[path])
}

fn assert_invalid(label: &str, run: &Run, expected: &[&str]) {
    assert_eq!(
        run.code, 1,
        "{label}: expected exit 1; stdout:\n{}",
        run.stdout
    );
    for needle in expected {
        assert!(
            run.stderr.contains(needle),
            "{label}: the diagnostic does not mention `{needle}`:\n{}",
            head(&run.stderr)
        );
    }
}

/// Checks `bytes` in-process: `load_bytes` must return, and a refusal must say why. `Ok(true)`
/// when the plan is valid.
fn load_in_process(label: &str, bytes: &[u8]) -> Result<bool, String> {
    let path = Path::new("hostile.yaml");
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        nylas_migrate::plan::load_bytes(path, "hostile.yaml", bytes)
    }));
    match outcome {
        Ok(Ok(_)) => Ok(true),
        Ok(Err(invalid)) if !invalid.diagnostics.is_empty() => Ok(false),
        Ok(Err(_)) => Err(format!("{label}: refused without any diagnostic")),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("{label}: load_bytes panicked: {message}"))
        }
    }
}

fn with_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[test]
fn malformed_yaml_is_refused_with_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let single = example(EXAMPLES[0]);
    let single_text = String::from_utf8(single.clone()).unwrap();
    let long_value = "x".repeat(2_000_000);
    let long_key = "k".repeat(200_000);
    let mut mid_bom = single.clone();
    mid_bom.splice(single.len() / 2..single.len() / 2, "\u{feff}".bytes());

    // (case, document). Each must be refused: these are not plans.
    let invalid: Vec<(&str, Vec<u8>)> = vec![
        (
            "unclosed flow sequence",
            b"version: 1\npairs: [a, b\n".to_vec(),
        ),
        (
            "unclosed flow mapping",
            b"version: 1\nname: {a: 1, b: 2\n".to_vec(),
        ),
        ("unclosed nested flow", b"a: [b, {c: d]\n".to_vec()),
        ("stray closing bracket", b"]\n".to_vec()),
        ("stray closing brace", b"a: b}\n".to_vec()),
        (
            "bad indentation",
            b"version: 1\nname: x\n  pairs:\n - a\n   - b\n".to_vec(),
        ),
        (
            "tab indentation",
            b"version: 1\npairs:\n\t- name: x\n".to_vec(),
        ),
        ("tab after key", b"version:\t1\nname:\tx\n\t\n".to_vec()),
        ("stray colons", b": : :\n".to_vec()),
        ("colon in plain value", b"version: 1\nname: x: y\n".to_vec()),
        ("stray dash", b"version: 1\n-\nname: x\n".to_vec()),
        ("lone dash", b"-\n".to_vec()),
        (
            "unterminated double quote",
            b"name: \"acme\nversion: 1\n".to_vec(),
        ),
        ("unterminated single quote", b"name: 'acme\n".to_vec()),
        ("bad escape", b"name: \"\\q\"\n".to_vec()),
        ("lone surrogate escape", b"name: \"\\uD800\"\n".to_vec()),
        ("escape beyond unicode", b"name: \"\\U0011FFFF\"\n".to_vec()),
        ("two documents", b"version: 1\n---\nversion: 1\n".to_vec()),
        ("only document markers", b"---\n---\n...\n".to_vec()),
        // saphyr-parser once looped forever, filling memory, on these (its issue #13).
        ("flow mapping then document start", b"{---".to_vec()),
        ("flow sequence then document end", b"[...".to_vec()),
        (
            "plain scalar starting with a document end",
            b"...x\n".to_vec(),
        ),
        (
            "document markers inside flow",
            b"[a, ---]\n{a: ...}\n".to_vec(),
        ),
        ("lone alias", b"*a\n".to_vec()),
        ("undefined alias", b"version: 1\nname: *missing\n".to_vec()),
        ("alias as key", b"*a : 1\n".to_vec()),
        ("alias to a null anchor", b"a: &x\nb: *x\n".to_vec()),
        ("redefined anchor", b"a: &x 1\nb: &x [2]\nc: *x\n".to_vec()),
        ("merge key", b"a: &a {x: 1}\nb: {<<: *a}\n".to_vec()),
        ("complex block key", b"? [a]\n: b\n".to_vec()),
        ("complex flow key", b"{[a]: b}\n".to_vec()),
        ("mapping as key", b"? {a: 1}\n: b\n".to_vec()),
        (
            "mapping key inside pairs",
            b"version: 1\nname: x\npairs:\n  - {[a]: b}\n".to_vec(),
        ),
        (
            "duplicate keys",
            b"version: 1\nversion: 1\nname: a\nname: b\n".to_vec(),
        ),
        ("NUL byte", b"version: 1\x00\nname: x\n".to_vec()),
        ("only a NUL", b"\x00".to_vec()),
        (
            "control characters",
            b"name: \x07\x1b[31m\nversion: 1\n".to_vec(),
        ),
        (
            "unicode line breaks",
            "name: a\u{2028}b\nversion: 1\u{85}\n".into(),
        ),
        ("BOM in the middle", mid_bom),
        ("empty file", Vec::new()),
        ("only whitespace", b"  \n\n   \n".to_vec()),
        (
            "only comments",
            b"# a plan\n# with nothing in it\n".to_vec(),
        ),
        ("scalar root", b"hello\n".to_vec()),
        ("number root", b"42\n".to_vec()),
        ("null root", b"~\n".to_vec()),
        ("list root", b"- a\n- b\n".to_vec()),
        ("flow list root", b"[version, 1]\n".to_vec()),
        ("directive", b"%YAML 1.2\n---\nversion: 1\n".to_vec()),
        ("unknown directive", b"%FOO bar\n---\nversion: 1\n".to_vec()),
        ("bad YAML version", b"%YAML 9.9\n---\nversion: 1\n".to_vec()),
        (
            "tags",
            b"version: !!str 1\nname: !custom x\npairs: !!map {}\n".to_vec(),
        ),
        ("bad block scalar header", b"name: |-9x\n  a\n".to_vec()),
        (
            "block scalar less indented",
            b"name: |\n    a\n  b\nversion: 1\n".to_vec(),
        ),
        (
            "very long line",
            format!("version: 1\nname: {long_value}\n").into_bytes(),
        ),
        ("very long key", format!("{long_key}: 1\n").into_bytes()),
        (
            "very long quoted line",
            format!("name: \"{long_value}").into_bytes(),
        ),
    ];
    for (case, bytes) in &invalid {
        let run = validate_bytes(&dir, case, bytes);
        assert_invalid(case, &run, &[]);
        load_in_process(case, bytes).unwrap_or_else(|e| panic!("{e}"));
    }

    // Encodings of a valid plan that YAML allows: they must still be valid.
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend_from_slice(&single);
    let valid: Vec<(&str, Vec<u8>)> = vec![
        ("CRLF line endings", with_crlf(&single)),
        ("BOM at the start", bom),
        (
            "document markers",
            format!("---\n{single_text}...\n").into_bytes(),
        ),
    ];
    for (case, bytes) in &valid {
        let run = validate_bytes(&dir, case, bytes);
        assert_eq!(
            run.code, 0,
            "{case}: expected a valid plan:\n{}",
            run.stderr
        );
    }
    // Lines ended by a carriage return alone read as one line in a terminal (each overwriting
    // the last) and as many to YAML: refused like any control character (issue 22, item 2).
    let case = "lone CR line endings";
    let run = validate_bytes(&dir, case, single_text.replace('\n', "\r").as_bytes());
    assert_invalid(case, &run, &["plan::control-character"]);
}

#[test]
fn invalid_utf8_is_refused_naming_the_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let plan = example(EXAMPLES[2]);
    let text = String::from_utf8(plan.clone()).unwrap();
    // Places worth breaking: the start, inside a key, inside a quoted-free value, inside a
    // comment, mid-file and the very end.
    let places = [
        ("start", 0),
        ("in a key", text.find("version").unwrap() + 3),
        ("in a value", text.find("acme-v2-to-v3").unwrap() + 4),
        ("in a comment", text.find("# A production").unwrap() + 5),
        ("middle", plan.len() / 2),
        ("end", plan.len()),
    ];
    let bad: [(&str, &[u8]); 5] = [
        ("0xff", &[0xff]),
        ("0xc3 0x28", &[0xc3, 0x28]),
        ("lone continuation", &[0x80]),
        ("truncated 3-byte sequence", &[0xe2, 0x82]),
        ("encoded surrogate", &[0xed, 0xa0, 0x80]),
    ];
    for (place, at) in places {
        for (what, bytes) in bad {
            let case = format!("{what} at {place}");
            let mut broken = plan.clone();
            broken.splice(at..at, bytes.iter().copied());
            let run = validate_bytes(&dir, &case, &broken);
            assert_invalid(&case, &run, &["plan::not-utf8", "UTF-8"]);
        }
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 10_000;
    let flow = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let flow_maps = format!("{}{}", "{a: ".repeat(depth), "}".repeat(depth));
    let block_maps: String = (0..5_000)
        .map(|i| format!("{}a:\n", "  ".repeat(i)))
        .collect();
    let block_lists: String = (0..5_000)
        .map(|i| format!("{}-\n", "  ".repeat(i)))
        .collect();
    let compact_lists = format!("{}x\n", "- ".repeat(depth));
    let deep_in_plan = format!(
        "version: 1\nname: deep\npairs:\n  - name: p\n    clone:\n      single: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    for (case, text) in [
        ("10,000 nested flow lists", flow),
        ("10,000 nested flow mappings", flow_maps),
        ("5,000 nested block mappings", block_maps),
        ("5,000 nested block lists", block_lists),
        ("10,000 nested compact lists", compact_lists),
        ("deep nesting inside a plan", deep_in_plan),
    ] {
        let run = validate_bytes(&dir, case, text.as_bytes());
        assert_invalid(case, &run, &["plan::syntax"]);
        // Block nesting reaches the tree builder's limit; flow nesting is stopped earlier by
        // the scanner's own limit, which it checks while reading ahead.
        assert!(
            run.stderr.contains("nesting is deeper than 64 levels")
                || run.stderr.contains("recursion limit exceeded"),
            "{case}: the diagnostic does not say the nesting is too deep:\n{}",
            head(&run.stderr)
        );
    }
}

/// A valid plan of about `target` bytes: a few pairs, each with many test accounts.
fn large_valid_plan(target: usize) -> String {
    let mut plan = String::from("version: 1\nname: very-large\npairs:\n");
    let mut pair = 0;
    while plan.len() < target {
        plan.push_str(&format!(
            "  - name: pair-{pair}\n    region: us\n    v2:\n      app_id: app{pair}\n      \
             client_secret: {{ env: V2_SECRET_{pair} }}\n    v3:\n      \
             app_id: ad410018-d306-43f9-8361-{pair:012x}\n      api_key: {{ env: V3_KEY_{pair} }}\n    \
             clone:\n      single:\n"
        ));
        for account in 0..5_000 {
            // Long IDs keep the node count (what a debug build pays for) moderate at this size:
            // about 80,000 nodes.
            plan.push_str(&format!(
                "        - account-{pair:04}-{account:06}-{:0>232}\n",
                account * 7919
            ));
        }
        pair += 1;
    }
    plan
}

#[test]
fn very_large_documents_finish_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let large = large_valid_plan(20 * 1024 * 1024);
    let run = validate_bytes(&dir, "20 MB valid plan", large.as_bytes());
    assert_eq!(run.code, 0, "20 MB valid plan:\n{}", head(&run.stderr));

    // Above the 32 MiB limit: refused before it is parsed.
    let mut huge = example(EXAMPLES[0]);
    huge.extend(b"# padding\n".iter().cycle().take(40 * 1024 * 1024));
    let run = validate_bytes(&dir, "40 MB plan", &huge);
    assert_invalid(
        "40 MB plan",
        &run,
        &["plan::too-large", "limited to 32 MiB"],
    );
}

/// The "billion laughs": ten levels, each referring ten times to the one before.
fn billion_laughs_flow() -> String {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text
}

fn billion_laughs_block() -> String {
    let mut text = String::from("a0: &a0\n");
    text.push_str(&"  - lol\n".repeat(10));
    for i in 1..10 {
        text.push_str(&format!("a{i}: &a{i}\n"));
        text.push_str(&format!("  - *a{}\n", i - 1).repeat(10));
    }
    text
}

#[test]
fn alias_bombs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let in_plan = format!(
        "version: 1\nname: bomb\n{}pairs:\n  - name: p\n    clone:\n      single: *a9\n",
        billion_laughs_flow()
    );
    // Mappings rather than lists: every level doubles the keys too.
    let mut maps = String::from("m0: &m0 {a: lol, b: lol, c: lol, d: lol, e: lol}\n");
    for i in 1..12 {
        let p = i - 1;
        maps.push_str(&format!(
            "m{i}: &m{i} {{a: *m{p}, b: *m{p}, c: *m{p}, d: *m{p}}}\n"
        ));
    }
    // One long string and a million aliases: few nodes, but a terabyte of copies (found by
    // this test: a long string counted as one node however long it was).
    let long_string = format!(
        "a: &a {}\nb: &b [*a, *a]\nc: [{}]\n",
        "x".repeat(1_000_000),
        vec!["*b"; 1_000_000].join(", ")
    );
    for (case, text) in [
        ("long string repeated by aliases", long_string),
        ("billion laughs, flow", billion_laughs_flow()),
        ("billion laughs, block", billion_laughs_block()),
        ("billion laughs inside a plan", in_plan),
        ("mapping bomb", maps),
    ] {
        let run = validate_bytes(&dir, case, text.as_bytes());
        assert_invalid(case, &run, &["alias", "nodes"]);
    }
}

/// splitmix64: a tiny, well-mixed PRNG, so the test needs no dependency and a seed reproduces
/// a run exactly.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A range of at most `max` bytes inside `0..len`.
    fn range(&mut self, len: usize, max: usize) -> (usize, usize) {
        let start = self.below(len + 1);
        let end = (start + self.below(max + 1)).min(len);
        (start, end)
    }
}

/// Bytes YAML gives meaning to, plus line breaks, multi-byte characters (spans are counted in
/// characters by the parser and in bytes by the diagnostics) and bytes that break UTF-8.
const INTERESTING: &[&[u8]] = &[
    b":",
    b"-",
    b"[",
    b"]",
    b"{",
    b"}",
    b"&",
    b"*",
    b"!",
    b"|",
    b">",
    b"'",
    b"\"",
    b"#",
    b"?",
    b",",
    b"%",
    b"@",
    b"`",
    b"\n",
    b"\t",
    b"\r",
    b" ",
    b"\\",
    b"---\n",
    b"...\n",
    b"&a ",
    b"*a",
    b"!!str ",
    b"<<: ",
    b"\0",
    b"0x",
    b"~",
    b".inf",
    b"1e999",
    b"99999999999999999999",
    "é".as_bytes(),
    "€".as_bytes(),
    "😀".as_bytes(),
    "\u{feff}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{85}".as_bytes(),
    &[0xff],
    &[0xc3],
    &[0x80],
    &[0xe2, 0x82],
];

/// Applies one random mutation to `bytes` and says which.
pub(crate) fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) -> String {
    let len = bytes.len();
    match rng.below(9) {
        0 => {
            let (a, b) = rng.range(len, 64);
            bytes.drain(a..b);
            format!("delete {a}..{b}")
        }
        1 => {
            let (a, b) = rng.range(len, 256);
            let copy = bytes[a..b].to_vec();
            let at = rng.below(len + 1);
            bytes.splice(at..at, copy);
            format!("copy {a}..{b} to {at}")
        }
        2 => {
            // Swap two ranges of the same length that do not overlap.
            let n = rng.below(32) + 1;
            if len < 2 * n {
                return "swap skipped".to_owned();
            }
            let a = rng.below(len - 2 * n + 1);
            let b = a + n + rng.below(len - a - 2 * n + 1);
            for i in 0..n {
                bytes.swap(a + i, b + i);
            }
            format!("swap {a}..{} with {b}..{}", a + n, b + n)
        }
        3 => {
            let at = rng.below(len + 1);
            let mut inserted = Vec::new();
            for _ in 0..=rng.below(4) {
                if rng.below(4) == 0 {
                    inserted.push(rng.next() as u8);
                } else {
                    inserted.extend_from_slice(INTERESTING[rng.below(INTERESTING.len())]);
                }
            }
            let shown = format!("insert {inserted:?} at {at}");
            bytes.splice(at..at, inserted);
            shown
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let bit = rng.below(8);
            bytes[at] ^= 1 << bit;
            format!("flip bit {bit} of byte {at}")
        }
        5 => {
            let at = rng.below(len + 1);
            bytes.truncate(at);
            format!("truncate at {at}")
        }
        6 | 7 => {
            let lines = line_starts(bytes);
            let line = rng.below(lines.len());
            let start = lines[line];
            let end = lines.get(line + 1).copied().unwrap_or(len);
            if rng.below(2) == 0 {
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
                format!("duplicate line {}", line + 1)
            } else {
                // Change indentation: the commonest way a hand-edited plan breaks.
                let indent = bytes[start..end].iter().take_while(|&&b| b == b' ').count();
                let remove = rng.below(indent + 1);
                let add = if remove == 0 { rng.below(5) + 1 } else { 0 };
                bytes.drain(start..start + remove);
                bytes.splice(start..start, std::iter::repeat_n(b' ', add));
                format!("indent line {} by {}", line + 1, add as i64 - remove as i64)
            }
        }
        _ => {
            let at = rng.below(len + 1);
            let b = rng.next() as u8;
            if at < len {
                bytes[at] = b;
            } else {
                bytes.push(b);
            }
            format!("set byte {at} to {b:#04x}")
        }
    }
}

fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

const MUTATIONS: usize = 320;
const FILES_PER_RUN: usize = 40;

#[test]
fn random_mutations_of_the_examples_never_panic_or_hang() {
    let seed = std::env::var("HOSTILE_SEED")
        .ok()
        .map(|s| {
            let s = s.trim();
            s.strip_prefix("0x")
                .map_or_else(|| s.parse(), |hex| u64::from_str_radix(hex, 16))
                .unwrap_or_else(|_| panic!("HOSTILE_SEED must be a number, not `{s}`"))
        })
        .unwrap_or(0x5eed_2026);
    println!("random mutations: HOSTILE_SEED={seed}");
    let mut rng = Rng(seed);
    let examples: Vec<Vec<u8>> = EXAMPLES.iter().map(|p| example(p)).collect();

    let mut mutants: Vec<(String, Vec<u8>)> = Vec::with_capacity(MUTATIONS);
    for i in 0..MUTATIONS {
        let source = rng.below(examples.len());
        let mut bytes = examples[source].clone();
        let mut steps = Vec::new();
        for _ in 0..=rng.below(3) {
            steps.push(mutate(&mut rng, &mut bytes));
        }
        let label = format!(
            "HOSTILE_SEED={seed} mutation #{i} of {}: {}",
            EXAMPLES[source],
            steps.join("; ")
        );
        mutants.push((label, bytes));
    }

    // In-process first, so a panic names the exact mutation. A worker thread does the loading
    // so that a hang is reported (by the mutation it stopped at) instead of stalling the test.
    let (tx, rx) = mpsc::channel();
    let work = mutants.clone();
    std::thread::spawn(move || {
        for (label, bytes) in &work {
            if tx.send(load_in_process(label, bytes)).is_err() {
                return;
            }
        }
    });
    let mut failures = Vec::new();
    let mut valid = 0;
    for (label, _) in &mutants {
        match rx.recv_timeout(TIMEOUT) {
            Ok(Ok(true)) => valid += 1,
            Ok(Ok(false)) => {}
            Ok(Err(failure)) => failures.push(failure),
            Err(_) => panic!("{label}: load_bytes did not return within {TIMEOUT:?}"),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Then through the binary, many files per run to keep process start-ups few.
    let dir = tempfile::tempdir().unwrap();
    let mut reported_invalid = 0;
    let mut reported_valid = 0;
    for (batch_no, batch) in mutants.chunks(FILES_PER_RUN).enumerate() {
        let paths: Vec<PathBuf> = batch
            .iter()
            .enumerate()
            .map(|(k, (_, bytes))| {
                let path = dir
                    .path()
                    .join(format!("mutant-{:03}.yaml", batch_no * FILES_PER_RUN + k));
                std::fs::write(&path, bytes).unwrap();
                path
            })
            .collect();
        let first = batch_no * FILES_PER_RUN;
        let label = format!(
            "HOSTILE_SEED={seed} mutations #{first}..#{}",
            first + batch.len() - 1
        );
        let run = validate(&label, &paths);
        reported_invalid += run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: ") && l.contains(" is invalid: "))
            .count();
        reported_valid += run.stdout.lines().filter(|l| l.starts_with("ok: ")).count();
    }
    // The binary must agree with the library, file for file: none skipped, none reported twice.
    assert_eq!(reported_valid, valid, "HOSTILE_SEED={seed}: valid mutants");
    assert_eq!(
        reported_invalid,
        MUTATIONS - valid,
        "HOSTILE_SEED={seed}: invalid mutants"
    );
    println!(
        "random mutations: {MUTATIONS} mutants, {valid} still valid, {} refused",
        MUTATIONS - valid
    );
}

/// Inputs that made `validate` panic or run for minutes before this test found them; each
/// names the cause, fixed in the source.
#[test]
fn inputs_that_used_to_break_validate() {
    let dir = tempfile::tempdir().unwrap();

    // miette panics ("Formatting argument out of range") placing a label past column 65,535;
    // snippets of such long lines are now left out, the location given in words instead.
    let long_line = format!("[{}]]\n", "lol, ".repeat(30_000));
    for (case, text) in [
        ("error past column 65,535", long_line),
        ("very long key", format!("{}: 1\n", "k".repeat(200_000))),
    ] {
        let run = validate_bytes(&dir, case, text.as_bytes());
        assert_invalid(
            case,
            &run,
            &["plan::syntax", "the line is too long to show"],
        );
    }

    // Every diagnostic held its own copy of the file and miette scanned the file from its
    // start for each snippet: 2,000 identical pairs (0.5 MB) ran for minutes in 5 GB.
    let pair = "  - name: same\n    region: us\n    v2:\n      app_id: abc\n      \
                client_secret: { env: S }\n    v3:\n      \
                app_id: ad410018-d306-43f9-8361-fa5d7b2172e0\n      api_key: { env: K }\n    \
                clone:\n      single: [x, x]\n";
    let same_pairs = format!("version: 1\nname: same\npairs:\n{}", pair.repeat(2_000));
    let run = validate_bytes(&dir, "2,000 identical pairs", same_pairs.as_bytes());
    assert_invalid(
        "2,000 identical pairs",
        &run,
        &["plan::duplicate-pair-name", "plan::too-many-problems"],
    );

    // Each duplicate key's line was found by scanning the text from its start: quadratic.
    let duplicate_keys = "a: 1\n".repeat(60_000);
    let run = validate_bytes(&dir, "60,000 duplicate keys", duplicate_keys.as_bytes());
    assert_invalid(
        "60,000 duplicate keys",
        &run,
        &["plan::duplicate-key", "plan::too-many-problems"],
    );

    // Pair names are compared for "did you mean" even when invalid: two 20,000-character
    // names cost 400 million steps of edit distance.
    let long_names = format!(
        "version: 1\nname: x\npairs:\n  - name: {}\n    region: us\n  - name: {}\n    \
         region: us\n    after: [{}]\n",
        "a".repeat(20_000),
        "b".repeat(20_000),
        "c".repeat(20_000)
    );
    let run = validate_bytes(&dir, "20,000-character pair names", long_names.as_bytes());
    assert_invalid(
        "20,000-character pair names",
        &run,
        &["plan::unknown-pair", "the line is too long to show"],
    );

    // Every unknown name in `after` was searched for, and suggested from, among all pairs.
    let unknown_after: String = (0..5_000)
        .map(|i| format!("  - name: p{i}\n    region: us\n    after: [nope{i}]\n"))
        .collect();
    let unknown_after = format!("version: 1\nname: x\npairs:\n{unknown_after}");
    let run = validate_bytes(
        &dir,
        "5,000 unknown `after` names",
        unknown_after.as_bytes(),
    );
    assert_invalid(
        "5,000 unknown `after` names",
        &run,
        &["plan::unknown-pair", "plan::too-many-problems"],
    );

    // A cycle through every pair: one label per step, and miette's rendering is quadratic in
    // labels (8,000 pairs: minutes); its walk also searched the cycle's members linearly.
    let n = 8_000;
    let cycle: String = (0..n)
        .map(|i| {
            format!(
                "  - name: p{i}\n    region: us\n    after: [p{}]\n",
                (i + 1) % n
            )
        })
        .collect();
    let cycle = format!("version: 1\nname: x\npairs:\n{cycle}");
    let run = validate_bytes(&dir, "cycle through 8,000 pairs", cycle.as_bytes());
    assert_invalid(
        "cycle through 8,000 pairs",
        &run,
        &["plan::after-cycle", "(7990 more)"],
    );

    // Every diagnostic located its node by pointer, searching each mapping on the way
    // linearly: junk keys beside the plan's keys made that quadratic (over 40 s here).
    let junk = "junk: 1\n".repeat(100_000);
    let broken_pairs: String = (0..10_000).map(|i| format!("  - name: p{i}\n")).collect();
    let junk_beside_pairs = format!("{junk}version: 1\nname: x\npairs:\n{broken_pairs}");
    let run = validate_bytes(&dir, "junk keys beside pairs", junk_beside_pairs.as_bytes());
    assert_invalid(
        "junk keys beside pairs",
        &run,
        &["plan::duplicate-key", "plan::too-many-problems"],
    );

    // Each schema error was compared with every inline secret's pointer.
    let secrets: String = (0..10_000).map(|i| format!("  - token: t{i}\n")).collect();
    let secrets = format!("version: 1\nname: x\npairs:\n{secrets}");
    let run = validate_bytes(&dir, "10,000 inline secrets", secrets.as_bytes());
    assert_invalid(
        "10,000 inline secrets",
        &run,
        &["plan::inline-secret", "plan::too-many-problems"],
    );
    assert!(
        !run.stderr.contains("t9999"),
        "an inline secret was shown:\n{}",
        head(&run.stderr)
    );

    // Each unknown key was looked up by a linear search of its mapping: quadratic.
    let unknown_keys: String = (0..40_000).map(|i| format!("k{i}: 1\n")).collect();
    let run = validate_bytes(&dir, "40,000 unknown keys", unknown_keys.as_bytes());
    assert_invalid(
        "40,000 unknown keys",
        &run,
        &["plan::unknown-key", "plan::too-many-problems"],
    );
}

/// Characters no diagnostic may print raw: C0 controls but the line feed, DEL, C1 controls and
/// the bidirectional controls (see `nylas_migrate::untrusted::is_unsafe`).
fn raw_unsafe(text: &str) -> Vec<String> {
    text.chars()
        .filter(|&c| c != '\n' && nylas_migrate::untrusted::is_unsafe(c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect()
}

fn assert_no_raw_unsafe(label: &str, run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        let raw = raw_unsafe(text);
        assert!(
            raw.is_empty(),
            "{label}: raw {raw:?} on {stream}:\n{}",
            head(text).escape_debug()
        );
    }
}

/// Issue 22, item 1: the snippet of a file that is not UTF-8 quoted its control characters raw.
#[test]
fn a_plan_that_is_not_utf8_shows_no_control_character() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"\xff\n# \x1b]0;PWNED\x07\x1b[2J".to_vec();
    bytes.extend_from_slice("\u{202e}\r\n".as_bytes());
    // And where the bad byte is late in a plan that holds a secret inline.
    let mut late =
        b"version: 1\npairs:\n  - v2: { client_secret: hunter2-inline }\n# \x1b[2J".to_vec();
    late.extend_from_slice(b"\xc3\x28\n");
    for (case, bytes) in [("not utf-8 at the start", bytes), ("not utf-8 late", late)] {
        let run = validate_bytes(&dir, case, &bytes);
        assert_invalid(case, &run, &["plan::not-utf8"]);
        assert_no_raw_unsafe(case, &run);
        assert!(!run.stderr.contains("hunter2"), "{case}:\n{}", run.stderr);
    }
}

/// Issue 22, item 2: a carriage return not followed by a line feed is a line break for YAML and
/// none for `cat`: a second wave hidden on the line of the first.
#[test]
fn a_lone_carriage_return_is_a_control_character() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(example(EXAMPLES[0])).unwrap();
    let hidden = text.replace(
        "        - { name: everyone, mode: only_new }",
        "        - { name: x, mode: all }\r        - { name: everyone, mode: only_new }",
    );
    assert_ne!(hidden, text);
    let run = validate_bytes(&dir, "lone CR", hidden.as_bytes());
    assert_invalid(
        "lone CR",
        &run,
        &["plan::control-character", "U+000D (carriage return)"],
    );
    assert_no_raw_unsafe("lone CR", &run);
    // CRLF line breaks stay valid.
    let crlf = validate_bytes(&dir, "crlf", &with_crlf(text.as_bytes()));
    assert_eq!(crlf.code, 0, "{}", crlf.stderr);
}

/// Issue 22, item 3: a file with a syntax error has no tree to find its secrets in; they are
/// masked all the same.
#[test]
fn secrets_are_masked_in_syntax_error_snippets() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "flow mapping",
            "version: 1\npairs:\n  - name: a\n    v2: { app_id: 9nsr7pjw1e1g6hgy9l1znjql7, client_secret: hunter2-inline }\n   oops: 1\n",
        ),
        (
            "block value",
            "version: 1\npairs:\n  - name: a\n    v3:\n      api_key: hunter2-inline\n     oops: [\n",
        ),
        (
            "quoted, unclosed",
            "version: 1\npairs:\n  - name: a\n    v3:\n      api_key: \"hunter2-inline\n",
        ),
        (
            "state URL password",
            "version: 1\nstate:\n  postgres: { url: \"postgres://admin:hunter2-inline@db/x\" }\n oops: 1\n",
        ),
    ];
    for (case, text) in cases {
        let run = validate_bytes(&dir, case, text.as_bytes());
        assert_invalid(case, &run, &["plan::"]);
        assert!(
            !run.stderr.contains("hunter2"),
            "{case}: the secret is shown:\n{}",
            run.stderr
        );
    }
}

/// Issue 22, item 5: past the cap, validation stops making diagnostics. 40,000 unknown trigger
/// values took minutes of processor time in a debug build (a suggestion computed for each), far
/// past [`TIMEOUT`]; now the schema check stops after the first few hundred.
#[test]
fn many_problems_stop_the_work_not_only_the_printing() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(example(EXAMPLES[0])).unwrap();
    let triggers: Vec<String> = (0..40_000)
        .map(|i| format!("t{i:012}{}", "x".repeat(101)))
        .collect();
    let hostile = text.replace(
        "    clone:",
        &format!(
            "    webhooks:\n      - url: https://hooks.example.com/x\n        triggers: [{}]\n    clone:",
            triggers.join(",")
        ),
    );
    let run = validate_bytes(&dir, "40,000 unknown triggers", hostile.as_bytes());
    assert_invalid(
        "40,000 unknown triggers",
        &run,
        &[
            "plan::unknown-value",
            "plan::too-many-problems",
            "validation stopped after 500 problems",
        ],
    );
}

/// Issue 22, item 11: `plan` refused an API URL with credentials in it (`api::endpoint`) that
/// `validate` accepted; `validate` refuses it too, and masks the password in its snippet.
#[test]
fn an_api_url_with_credentials_is_refused_by_validate() {
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(example(EXAMPLES[0])).unwrap();
    for (case, url) in [
        (
            "user and password",
            "https://user:hunter2pw@api.us.nylas.com",
        ),
        ("user alone", "https://user@api.us.nylas.com"),
    ] {
        let with_url = format!("{text}regions:\n  us: {{ api_url: \"{url}\" }}\n");
        let run = validate_bytes(&dir, case, with_url.as_bytes());
        assert_invalid(case, &run, &["plan::bad-url", "user name or password"]);
        assert!(!run.stderr.contains("hunter2pw"), "{case}:\n{}", run.stderr);
    }
}
