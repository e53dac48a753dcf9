//! The end of `plan`: the steps only people can do, outside the Nylas API.

use super::output::outln;
use crate::plan::Plan;
use crate::report::manual::manual_steps;

/// Human: a numbered list per pair, after the preview.
pub fn print_human(plan: &Plan) {
    let steps = manual_steps(plan);
    if steps.is_empty() {
        return;
    }
    outln!("\nSteps only people can do (outside the Nylas API):");
    let mut pair = None;
    let mut n = 0;
    for step in &steps {
        if pair != Some(&step.pair) {
            pair = Some(&step.pair);
            n = 0;
            outln!("  {} ({})", step.pair, step.region);
        }
        n += 1;
        let prefix = format!("    {n}. ");
        for line in super::layout::paragraph(&prefix, &format!("{}: {}", step.place, step.text)) {
            outln!("{line}");
        }
    }
}

/// JSON: one `manual_step` event per step.
pub fn print_json(plan: &Plan) {
    for step in manual_steps(plan) {
        outln!(
            "{}",
            serde_json::json!({
                "v": 1,
                "event": "manual_step",
                "pair": step.pair,
                "region": step.region,
                "step": step.kind,
                "place": step.place,
                "value": step.value,
                "text": step.text,
            })
        );
    }
}
