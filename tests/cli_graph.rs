//! `nylas-migrate graph` and the step graph it prints.

use crate::support;
use crate::support::cli::Test;

use crate::support::{stderr, stdout};
use nylas_migrate::graph::{StepGraph, StepId, StepKind};
use nylas_migrate::plan;

fn graph_of(example: &str) -> StepGraph {
    let loaded = plan::load_file(&support::root().join(example)).unwrap();
    StepGraph::build(&loaded.plan).unwrap()
}

fn deps(graph: &StepGraph, id: &str) -> Vec<String> {
    graph
        .dependencies(&StepId::new_raw(id))
        .iter()
        .map(|s| s.id.to_string())
        .collect()
}

#[test]
fn a_pair_runs_link_import_connectors_webhooks_clones_then_waves_in_order() {
    let g = graph_of("examples/production.yaml");
    let ids: Vec<String> = g.steps().map(|s| s.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "acme-prod/link",
            "acme-prod/import",
            "acme-prod/connector/microsoft",
            "acme-prod/connector/google",
            "acme-prod/redirect-uri/https://app.acme.example/oauth/callback",
            "acme-prod/redirect-uri/com.acme.app://oauth/callback",
            "acme-prod/webhook/https://hooks.acme.example/nylas",
            "acme-prod/webhook-test/https://hooks.acme.example/nylas",
            "acme-prod/pubsub/projects/acme-prod/topics/nylas-events",
            "acme-prod/clone/df0yq6c9okc6t9j4ejd5nyrt7",
            "acme-prod/clone/8mzk3v1q7w2x9c4b6n0p5l3jd",
            "acme-prod/batch/google",
            "acme-prod/batch/everyone-else",
            "acme-prod/batch/retry-failed",
        ]
    );
    assert_eq!(deps(&g, "acme-prod/import"), ["acme-prod/link"]);
    assert_eq!(deps(&g, "acme-prod/connector/google"), ["acme-prod/import"]);
    assert_eq!(
        deps(&g, "acme-prod/webhook/https://hooks.acme.example/nylas"),
        [
            "acme-prod/connector/microsoft",
            "acme-prod/connector/google"
        ]
    );
    // Every notification step (the webhook, its test, the Pub/Sub channel) before any clone;
    // the test after its webhook; redirect URIs after import, before nothing of the pair.
    assert_eq!(
        deps(&g, "acme-prod/clone/8mzk3v1q7w2x9c4b6n0p5l3jd"),
        [
            "acme-prod/webhook/https://hooks.acme.example/nylas",
            "acme-prod/webhook-test/https://hooks.acme.example/nylas",
            "acme-prod/pubsub/projects/acme-prod/topics/nylas-events",
        ]
    );
    assert_eq!(
        deps(
            &g,
            "acme-prod/webhook-test/https://hooks.acme.example/nylas"
        ),
        ["acme-prod/webhook/https://hooks.acme.example/nylas"]
    );
    assert_eq!(
        deps(&g, "acme-prod/redirect-uri/com.acme.app://oauth/callback"),
        ["acme-prod/import"]
    );
    assert!(
        g.dependents(&StepId::new_raw(
            "acme-prod/redirect-uri/com.acme.app://oauth/callback"
        ))
        .is_empty()
    );
    assert_eq!(
        deps(&g, "acme-prod/batch/google"),
        [
            "acme-prod/clone/df0yq6c9okc6t9j4ejd5nyrt7",
            "acme-prod/clone/8mzk3v1q7w2x9c4b6n0p5l3jd"
        ]
    );
    assert_eq!(
        deps(&g, "acme-prod/batch/retry-failed"),
        ["acme-prod/batch/everyone-else"]
    );
}

#[test]
fn steps_carry_what_they_need_but_no_secret() {
    let g = graph_of("examples/production.yaml");
    let pair = &g.pairs()[0];
    assert_eq!(pair.rate_limit, 15);
    assert_eq!(pair.api_url, "https://api.us.nylas.com");
    assert_eq!(
        pair.v3_api_key.to_string(),
        "environment variable ACME_V3_API_KEY"
    );
    let wave = g
        .get(&StepId::new_raw("acme-prod/batch/everyone-else"))
        .unwrap();
    let StepKind::Batch(batch) = &wave.kind else {
        panic!("a batch step");
    };
    assert_eq!(batch.request.limit, Some(5000));
    assert_eq!(batch.index, 1);
    assert_eq!(batch.gate.unwrap().max_failed_ratio, 0.05);
    assert_eq!(batch.placeholders.clone_exchange, Some(true));
}

#[test]
fn after_makes_a_pair_wait_for_the_last_step_of_another() {
    let g = graph_of("examples/us-and-eu.yaml");
    assert_eq!(deps(&g, "acme-eu/link"), ["acme-us/batch/everyone"]);
    assert!(deps(&g, "acme-us/link").is_empty());
}

#[test]
fn dot_output_names_steps_by_id_and_draws_every_edge() {
    let out = Test::new()
        .args(["graph", "examples/us-and-eu.yaml", "--format", "dot"])
        .status(0)
        .stderr("")
        .run();
    let dot = stdout(&out);
    assert!(dot.starts_with("digraph \"acme-us-then-eu\" {"));
    assert!(dot.contains("subgraph \"cluster_acme-eu\""));
    assert!(dot.contains(
        "\"acme-us/clone/df0yq6c9okc6t9j4ejd5nyrt7\" [label=\"clone: df0yq6c9okc6t9j4ejd5nyrt7\"];"
    ));
    assert!(dot.contains("\"acme-us/batch/everyone\" -> \"acme-eu/link\";"));
    let g = graph_of("examples/us-and-eu.yaml");
    assert_eq!(dot.matches(" -> ").count(), g.edge_count());
}

#[test]
fn mermaid_output_is_a_flowchart_and_stable() {
    let first = stdout(
        &Test::new()
            .args(["graph", "examples/production.yaml", "--format", "mermaid"])
            .run(),
    );
    let second = stdout(
        &Test::new()
            .args(["graph", "examples/production.yaml", "--format", "mermaid"])
            .run(),
    );
    assert_eq!(first, second);
    assert!(first.starts_with("flowchart LR\n"));
    assert!(first.contains("s0[\"acme-prod/link\"]"));
    assert!(first.contains("s0 --> s1"));
    assert!(first.contains("subgraph p0[\"acme-prod (us)\"]"));
}

#[test]
fn graph_of_an_invalid_plan_reports_diagnostics() {
    let out = Test::new()
        .args(["graph", "examples/invalid/after-cycle.yaml"])
        .status(1)
        .stdout("")
        .run();
    assert!(stderr(&out).contains("plan::after-cycle"));
}
