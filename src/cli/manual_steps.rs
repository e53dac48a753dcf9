//! The end of `plan`: the steps only people can do, outside the Nylas API.

use super::output::outln;
use crate::plan::Plan;
use crate::report::manual::{ManualStep, manual_steps};

/// The manual steps of the pairs a run targets (`pairs`; empty: every pair), in plan order.
fn targeted(plan: &Plan, pairs: &[String]) -> Vec<ManualStep> {
    manual_steps(plan)
        .into_iter()
        .filter(|s| pairs.is_empty() || pairs.contains(&s.pair))
        .collect()
}

/// Human: a numbered list per targeted pair (`pairs`; empty: every pair), after the preview.
pub fn print_human(plan: &Plan, pairs: &[String]) {
    let steps = targeted(plan, pairs);
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

/// JSON: one `manual_step` event per step of a targeted pair (`pairs`; empty: every pair).
pub fn print_json(plan: &Plan, pairs: &[String]) {
    for step in targeted(plan, pairs) {
        super::render::json::print(&crate::events::Event::ManualStep((&step).into()));
    }
}
