//! `nylas-migrate schema` and `schemas/plan.schema.json`: generated from the Rust types,
//! committed, documented, and using exactly the contract's enums.

use crate::support::cli::Test;
use crate::support::contract::Contract;
use crate::support::{root, stdout};
use serde_json::Value;

#[test]
fn committed_schema_is_what_the_binary_prints() {
    let out = Test::new().arg("schema").status(0).stderr("").run();
    let committed = std::fs::read_to_string(root().join("schemas/plan.schema.json")).unwrap();
    assert!(
        stdout(&out) == committed,
        "schemas/plan.schema.json is out of date: run `cargo run -- schema > schemas/plan.schema.json`"
    );
}

fn schema() -> Value {
    serde_json::from_str(&stdout(&Test::new().arg("schema").run())).unwrap()
}

#[test]
fn every_field_and_type_has_a_description() {
    let schema = schema();
    let mut missing = Vec::new();
    let definitions = schema["definitions"].as_object().unwrap();
    let mut objects: Vec<(String, &Value)> = vec![("(root)".into(), &schema)];
    objects.extend(definitions.iter().map(|(k, v)| (k.clone(), v)));
    for (name, object) in objects {
        if object.get("description").is_none() {
            missing.push(name.clone());
        }
        if let Some(properties) = object.get("properties").and_then(Value::as_object) {
            for (field, spec) in properties {
                if spec.get("description").is_none() {
                    missing.push(format!("{name}.{field}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}

/// The values a schema definition allows: `enum`, or `oneOf` of `const`s.
fn allowed(definition: &Value) -> Vec<String> {
    if let Some(values) = definition.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
    }
    definition["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["const"].as_str().unwrap().to_owned())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn enums_are_the_contracts() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let spec = contract.spec();
    let schema = schema();
    let defs = &schema["definitions"];
    let components = &spec["components"]["schemas"];
    let batch = &spec["paths"]["/v3/migration-tools/snapshot-batch-clone"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["properties"];
    assert_eq!(
        allowed(&defs["ConnectorProvider"]),
        strings(&components["ConnectorObject"]["properties"]["provider"]["enum"])
    );
    assert_eq!(
        allowed(&defs["TriggerType"]),
        strings(&components["trigger_types"]["items"]["enum"])
    );
    assert_eq!(allowed(&defs["CloneMode"]), strings(&batch["mode"]["enum"]));
    assert_eq!(
        allowed(&defs["TestTriggerType"]),
        strings(&components["send_test_event_input"]["properties"]["trigger_type"]["enum"])
    );
    let platforms: Vec<String> = components["RedirectURIObject"]["discriminator"]["mapping"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut ours = allowed(&defs["RedirectPlatform"]);
    ours.sort();
    let mut theirs = platforms;
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(
        allowed(&defs["BatchProvider"]),
        strings(&batch["providers"]["items"]["enum"])
    );
}

#[test]
fn rate_limit_cannot_exceed_nylas_limit() {
    let schema = schema();
    let rate = &schema["definitions"]["Pair"]["properties"]["rate_limit"];
    assert_eq!(rate["maximum"], 20);
    assert_eq!(rate["minimum"], 1);
}
