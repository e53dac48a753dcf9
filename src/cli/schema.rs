//! `nylas-migrate schema`: the plan's JSON Schema.

use super::output::out;
use super::{CliError, Finished, Output};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, output: Output) -> Result<Finished, CliError> {
    match output {
        Output::Human => out!("{}", crate::plan::plan_schema_text()),
        // One line, like every event: the schema itself under `schema`.
        Output::Json => out!(
            "{}\n",
            serde_json::json!({"v": 1, "event": "schema", "schema": crate::plan::plan_schema()})
        ),
    }
    Ok(Finished::Clean)
}
