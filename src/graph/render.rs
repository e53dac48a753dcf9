//! The step graph as text: Graphviz DOT and Mermaid, grouped by pair.

use std::fmt::Write;

use super::step::{Step, StepGraph, StepKind};

/// A short label for a step within its pair's box.
fn label(step: &Step) -> String {
    match &step.kind {
        StepKind::Link => "link".to_owned(),
        StepKind::Import => "import".to_owned(),
        StepKind::Connector(c) => format!("connector: {}", c.provider),
        StepKind::RedirectUri(r) => format!("redirect URI: {} ({})", r.url, r.platform),
        StepKind::Webhook(w) => format!("webhook: {}", w.url),
        StepKind::WebhookTest(t) => format!(
            "webhook test: {} to {}",
            t.event.trigger_type, t.event.webhook_url
        ),
        StepKind::Pubsub(p) => format!("pubsub: {}", p.topic),
        StepKind::Sns(s) => format!("sns: {}", s.topic),
        StepKind::Clone(c) => format!("clone: {}", c.account_id),
        StepKind::Batch(b) => {
            let mode = b.request.mode.map_or("all", |m| m.as_str());
            format!("batch: {} ({mode})", b.wave)
        }
    }
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT: one cluster per pair; nodes are named by their step IDs.
pub fn to_dot(graph: &StepGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_quote(graph.plan_name()));
    out.push_str("  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (index, pair) in graph.pairs().iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph {} {{",
            dot_quote(&format!("cluster_{}", pair.name))
        );
        let _ = writeln!(
            out,
            "    label={};",
            dot_quote(&format!("{} ({})", pair.name, pair.region))
        );
        for step in graph.steps().filter(|s| s.pair == index) {
            let _ = writeln!(
                out,
                "    {} [label={}];",
                dot_quote(step.id.as_str()),
                dot_quote(&label(step))
            );
        }
        out.push_str("  }\n");
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(
            out,
            "  {} -> {};",
            dot_quote(from.id.as_str()),
            dot_quote(to.id.as_str())
        );
    }
    out.push_str("}\n");
    out
}

fn mermaid_text(s: &str) -> String {
    // Mermaid labels are quoted; quotes and angle brackets become entities.
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// Mermaid flowchart: one subgraph per pair. Node names are short (`s0`, `s1`, … in step
/// order, stable for a given plan) and labelled with the step ID.
pub fn to_mermaid(graph: &StepGraph) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut names = std::collections::HashMap::new();
    for (n, step) in graph.steps().enumerate() {
        names.insert(step.id.clone(), format!("s{n}"));
    }
    for (index, pair) in graph.pairs().iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph p{index}[\"{}\"]",
            mermaid_text(&format!("{} ({})", pair.name, pair.region))
        );
        for step in graph.steps().filter(|s| s.pair == index) {
            let _ = writeln!(
                out,
                "    {}[\"{}\"]",
                names[&step.id],
                mermaid_text(step.id.as_str())
            );
        }
        out.push_str("  end\n");
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(out, "  {} --> {}", names[&from.id], names[&to.id]);
    }
    out
}
