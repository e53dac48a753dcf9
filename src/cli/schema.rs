//! `nylas-migrate schema`: the plan's JSON Schema.

use super::EXIT_OK;
use super::output::out;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    out!("{}", crate::plan::plan_schema_text());
    EXIT_OK
}
