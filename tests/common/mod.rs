//! Helpers for tests that drive the `nylas-migrate` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with `args` from the repository root, with no colour and no inherited
/// secrets.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nylas-migrate"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `.yaml` files directly inside `dir` (relative to the root), sorted.
pub mod rehearsal;

pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .expect("directory exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// `path` relative to the repository root, as a string for arguments.
pub fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The Nylas contract from `../shared`, or `NYLAS_OPENAPI`; `None` (and a note) when absent.
pub fn contract() -> Option<serde_json::Value> {
    let path = std::env::var_os("NYLAS_OPENAPI")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/nylas-openapi/nylas-v3-migration.openapi.yaml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(nylas_migrate::yaml::from_str(&text).expect("the contract parses")),
        Err(_) => {
            eprintln!("skipping contract checks: {} is absent", path.display());
            None
        }
    }
}

/// The versioned schema of `--output json` events, `docs/events.schema.json`.
pub fn events_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/events.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft7::new(&schema).unwrap()
}

/// Panics unless every line of `output` is a JSON event that fits the schema; returns them.
pub fn checked_events(output: &str) -> Vec<serde_json::Value> {
    let validator = events_schema();
    output
        .lines()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let errors: Vec<String> = validator
                .iter_errors(&event)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{line}\ndoes not fit the schema: {errors:?}"
            );
            event
        })
        .collect()
}
