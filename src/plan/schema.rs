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
    VALIDATOR.get_or_init(|| {
        // The schema is generated from our own types; failing to compile it is a bug in this
        // program, caught by the test suite, never a user error.
        jsonschema::draft7::new(plan_schema()).expect("the generated plan schema compiles")
    })
}
