use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use super::step::{
    BatchStep, CloneStep, ConnectorStep, PairTarget, Step, StepGraph, StepId, StepKind, WebhookStep,
};
use crate::api::{BatchCloneRequest, PlaceholderQuery};
use crate::plan::{Pair, Plan};

/// Nylas's rate limit for the migration endpoints, per application, per second.
pub const NYLAS_RATE_LIMIT: u32 = 20;

/// A plan whose steps cannot be ordered. Validation rejects such plans first, so this only
/// guards the graph against a plan that skipped validation.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    #[error("`after` forms a cycle through pair `{0}`")]
    #[diagnostic(
        code("graph::cycle"),
        help("this is a bug in nylas-migrate: validation rejects such plans; please report it")
    )]
    Cycle(String),
    #[error("pair `{pair}` comes `after` `{missing}`, which is not in the plan")]
    #[diagnostic(
        code("graph::unknown-pair"),
        help("this is a bug in nylas-migrate: validation rejects such plans; please report it")
    )]
    UnknownPair { pair: String, missing: String },
}

impl StepGraph {
    /// The step graph of a validated plan.
    pub fn build(plan: &Plan) -> Result<StepGraph, GraphError> {
        let mut graph: DiGraph<Step, ()> = DiGraph::with_capacity(estimate(plan), estimate(plan));
        let mut pairs = Vec::with_capacity(plan.pairs.len());
        let mut firsts = Vec::with_capacity(plan.pairs.len());
        let mut lasts: Vec<Vec<NodeIndex>> = Vec::with_capacity(plan.pairs.len());
        for (index, pair) in plan.pairs.iter().enumerate() {
            pairs.push(target(plan, pair));
            let (first, last) = add_pair(&mut graph, index, pair);
            firsts.push(first);
            lasts.push(last);
        }
        let index_of: HashMap<&str, usize> = plan
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        for (i, pair) in plan.pairs.iter().enumerate() {
            for other in &pair.after {
                let Some(&o) = index_of.get(other.as_str()) else {
                    return Err(GraphError::UnknownPair {
                        pair: pair.name.clone(),
                        missing: other.clone(),
                    });
                };
                for &last in &lasts[o] {
                    graph.update_edge(last, firsts[i], ());
                }
            }
        }
        let order = stable_order(&graph)
            .map_err(|stuck| GraphError::Cycle(pairs[graph[stuck].pair].name.clone()))?;
        let by_id = graph
            .node_indices()
            .map(|n| (graph[n].id.clone(), n))
            .collect();
        Ok(StepGraph {
            plan_name: plan.name.clone(),
            pairs,
            graph,
            by_id,
            order,
        })
    }
}

fn estimate(plan: &Plan) -> usize {
    plan.pairs
        .iter()
        .map(|p| {
            2 + p.connectors.len() + p.webhooks.len() + p.clone.single.len() + p.clone.batches.len()
        })
        .sum()
}

fn target(plan: &Plan, pair: &Pair) -> PairTarget {
    let api_url = plan
        .regions
        .get(pair.region)
        .map_or(pair.region.default_api_url(), |r| r.api_url.as_str())
        .trim_end_matches('/')
        .to_owned();
    PairTarget {
        name: pair.name.clone(),
        region: pair.region,
        api_url,
        v2_app_id: pair.v2.app_id.clone(),
        v2_client_secret: pair.v2.client_secret.clone(),
        v3_app_id: pair.v3.app_id.clone(),
        v3_api_key: pair.v3.api_key.clone(),
        rate_limit: pair
            .rate_limit
            .unwrap_or(NYLAS_RATE_LIMIT)
            .min(NYLAS_RATE_LIMIT),
    }
}

/// Adds one pair's steps; returns its first step and its last ones (what `after` waits for).
fn add_pair(
    graph: &mut DiGraph<Step, ()>,
    pair_index: usize,
    pair: &Pair,
) -> (NodeIndex, Vec<NodeIndex>) {
    let mut add = |kind: StepKind| {
        let id = StepId::new(&pair.name, kind.kind(), kind.subject());
        graph.add_node(Step {
            id,
            pair: pair_index,
            kind,
        })
    };
    let placeholders = PlaceholderQuery {
        allow_invalid_grant_creation: pair.clone.placeholders.allow_invalid_grant_creation,
        clone_exchange: pair.clone.placeholders.clone_exchange,
    };
    let link = add(StepKind::Link);
    let import = add(StepKind::Import);
    let connectors: Vec<_> = pair
        .connectors
        .iter()
        .map(|c| {
            add(StepKind::Connector(ConnectorStep {
                provider: c.provider,
                settings: c.settings.clone(),
                scope: c.scope.clone(),
            }))
        })
        .collect();
    let webhooks: Vec<_> = pair
        .webhooks
        .iter()
        .map(|w| {
            add(StepKind::Webhook(WebhookStep {
                url: w.url.clone(),
                triggers: w.triggers.clone(),
                description: w.description.clone(),
                notification_emails: w.notification_emails.clone(),
            }))
        })
        .collect();
    let clones: Vec<_> = pair
        .clone
        .single
        .iter()
        .map(|account| {
            add(StepKind::Clone(CloneStep {
                account_id: account.clone(),
                placeholders,
            }))
        })
        .collect();
    let batches: Vec<_> = pair
        .clone
        .batches
        .iter()
        .enumerate()
        .map(|(index, wave)| {
            add(StepKind::Batch(BatchStep {
                wave: wave.name.clone(),
                index,
                request: BatchCloneRequest {
                    limit: wave.limit,
                    offset: wave.offset,
                    providers: wave.providers.clone(),
                    mode: Some(wave.mode),
                },
                placeholders,
                gate: pair.clone.gate,
            }))
        })
        .collect();

    // Each stage waits for every step of the stage before it; an empty stage is skipped.
    let mut previous = vec![link];
    for stage in [vec![import], connectors, webhooks, clones] {
        if stage.is_empty() {
            continue;
        }
        for &to in &stage {
            for &from in &previous {
                graph.add_edge(from, to, ());
            }
        }
        previous = stage;
    }
    // Waves run one after the other.
    for &wave in &batches {
        for &from in &previous {
            graph.add_edge(from, wave, ());
        }
        previous = vec![wave];
    }
    (link, previous)
}

/// A topological order that, among steps ready at the same time, keeps the order the plan
/// wrote them in, so output is stable from run to run. On a cycle, returns a step in it.
fn stable_order(graph: &DiGraph<Step, ()>) -> Result<Vec<NodeIndex>, NodeIndex> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut waiting: Vec<usize> = graph
        .node_indices()
        .map(|n| {
            graph
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: BinaryHeap<Reverse<NodeIndex>> = graph
        .node_indices()
        .filter(|n| waiting[n.index()] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(graph.node_count());
    while let Some(Reverse(node)) = ready.pop() {
        order.push(node);
        for next in graph.neighbors_directed(node, petgraph::Direction::Outgoing) {
            waiting[next.index()] -= 1;
            if waiting[next.index()] == 0 {
                ready.push(Reverse(next));
            }
        }
    }
    if order.len() == graph.node_count() {
        Ok(order)
    } else {
        Err(graph
            .node_indices()
            .find(|n| waiting[n.index()] > 0)
            .unwrap_or_default())
    }
}
