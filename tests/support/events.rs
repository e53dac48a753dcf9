//! `--output json` events, each line checked against the versioned schema
//! `docs/events.schema.json`.

use serde_json::Value;

use super::root;

/// The schema of `--output json` events.
pub fn events_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/events.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft7::new(&schema).unwrap()
}

/// Panics unless every line of `output` is a JSON event that fits the schema; returns them.
pub fn checked_events(output: &str) -> Vec<Value> {
    checked_with(&events_schema(), output)
}

/// [`checked_events`] with a validator built once by the caller.
pub fn checked_with(validator: &jsonschema::Validator, output: &str) -> Vec<Value> {
    output
        .lines()
        .map(|line| {
            let event: Value =
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
