//! `nylas-migrate schema`: the plan's JSON Schema, a saved plan's, or the JSON events'.

use super::output::out;
use super::render::json;
use super::{CliError, Finished, Output};
use crate::events::Event;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the JSON Schema of a saved plan (`plan --out FILE`) instead: the same as
    /// docs/saved-plan.schema.json.
    #[arg(long, conflicts_with = "events")]
    pub saved_plan: bool,
    /// Print the JSON Schema of the `--output json` events instead: the same as
    /// docs/events.schema.json.
    #[arg(long)]
    pub events: bool,
}

pub fn run(args: Args, output: Output) -> Result<Finished, CliError> {
    let (text, schema) = if args.saved_plan {
        let text = crate::saved::schema_text();
        let schema = serde_json::from_str(&text).unwrap_or_default();
        (text, schema)
    } else if args.events {
        (crate::events::schema_text(), crate::events::schema())
    } else {
        (
            crate::plan::plan_schema_text(),
            crate::plan::plan_schema().clone(),
        )
    };
    match output {
        Output::Human => out!("{text}"),
        // One line, like every event: the schema itself under `schema`.
        Output::Json => json::print(&Event::Schema { schema }),
    }
    Ok(Finished::Clean)
}
