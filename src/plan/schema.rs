//! The plan's JSON Schema, generated from [`super::model::Plan`].

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;

use super::model::Plan;

/// The schema as a JSON value. Draft-07, the draft editors' YAML language servers know best.
pub fn plan_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = SchemaSettings::draft07()
            .into_generator()
            .into_root_schema_for::<Plan>();
        schema.to_value()
    })
}

/// The schema as `nylas-migrate schema` prints it and `schemas/plan.schema.json` stores it.
pub fn plan_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(plan_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The compiled validator for [`plan_schema`].
pub(super) fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| compile(plan_schema()))
}

/// The validator for a plan whose pairs are checked one at a time by [`pair_validator`]: the
/// plan schema with any item allowed in `pairs` (the list itself is still checked: its type and
/// its length).
pub(super) fn shell_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let mut schema = plan_schema().clone();
        if let Some(items) = schema.pointer_mut("/properties/pairs/items") {
            *items = serde_json::Value::Bool(true);
        }
        compile(&schema)
    })
}

/// The validator for one item of `pairs`: the plan schema with its root replaced by a
/// reference to the pair's definition, so that the schema paths of its errors
/// (`/definitions/Pair/…`) are the plan schema's own.
pub(super) fn pair_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let mut root = serde_json::Map::new();
        if let Some(all) = plan_schema().as_object() {
            for key in ["$schema", "definitions"] {
                if let Some(value) = all.get(key) {
                    root.insert(key.to_owned(), value.clone());
                }
            }
        }
        let pair = plan_schema()
            .pointer("/properties/pairs/items/$ref")
            .cloned()
            .unwrap_or_else(|| serde_json::Value::String("#/definitions/Pair".to_owned()));
        root.insert("$ref".to_owned(), pair);
        compile(&serde_json::Value::Object(root))
    })
}

fn compile(schema: &serde_json::Value) -> jsonschema::Validator {
    // The schema is generated from our own types; failing to compile it is a bug in this
    // program, caught by the test suite, never a user error.
    jsonschema::draft7::new(schema).expect("the generated plan schema compiles")
}
