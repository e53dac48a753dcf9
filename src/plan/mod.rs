//! The plan file: its model, loading with source spans, and validation.
//!
//! [`load_file`] reads a file, parses it with [`crate::yaml`] (keeping spans), checks it against
//! the JSON Schema generated from [`model::Plan`], then applies the semantic rules (unique names,
//! known references, no cycles, no inline secrets). Every problem is returned at once as a
//! [`PlanDiagnostic`] pointing at its line and column.

mod characters;
mod diagnostic;
mod display;
mod inline_secret;
mod load;
mod lookup;
pub mod model;
mod rules;
mod schema;
mod schema_check;
mod suggest;
mod triggers;
pub mod trust;
mod words;

pub use diagnostic::{MAX_DIAGNOSTICS, PlanDiagnostic};
pub use load::{
    InvalidPlan, LoadedPlan, MAX_PLAN_BYTES, PlanSource, load_bytes, load_bytes_with, load_file,
    load_file_with, load_str, load_str_with, read_file,
};
pub use model::*;
pub use schema::{plan_schema, plan_schema_text};
pub use trust::{ALLOW_API_HOSTS_VAR, ALLOW_SECRET_DIRS_VAR, ALLOW_STATE_HOSTS_VAR, Trust};
