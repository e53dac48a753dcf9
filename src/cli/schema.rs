//! `nylas-migrate schema`: the plan's JSON Schema.

use super::output::out;
use super::{CliError, Finished, Output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the JSON Schema of a saved plan (`plan --out FILE`) instead: the same as
    /// docs/saved-plan.schema.json.
    #[arg(long)]
    pub saved_plan: bool,
}

pub fn run(args: Args, output: Output) -> Result<Finished, CliError> {
    if args.saved_plan {
        let text = crate::saved::schema_text();
        match output {
            Output::Human => out!("{text}"),
            Output::Json => {
                let schema: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                out!(
                    "{}\n",
                    serde_json::json!({"v": 1, "event": "schema", "schema": schema})
                );
            }
        }
        return Ok(Finished::Clean);
    }
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
