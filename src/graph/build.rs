use hashbrown::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use super::step::{
    BatchStep, CloneStep, ConnectorStep, PairTarget, Step, StepGraph, StepId, StepIndex, StepKind,
    WebhookStep, WebhookTestStep,
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
        let by_id = StepIndex::of(&graph);
        let order = stable_order(&graph)
            .map_err(|stuck| GraphError::Cycle(pairs[graph[stuck].pair].name.clone()))?;
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
            2 + p.connectors.len()
                + p.redirect_uris.len()
                + 2 * p.webhooks.len()
                + p.pubsub.len()
                + p.sns.len()
                + p.clone.single.len()
                + p.clone.batches.len()
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
            add(StepKind::Connector(Box::new(ConnectorStep {
                provider: c.provider,
                settings: c.settings.clone(),
                scope: c.scope.clone(),
            })))
        })
        .collect();
    let redirect_uris: Vec<_> = pair
        .redirect_uris
        .iter()
        .map(|r| add(StepKind::RedirectUri(Box::new(r.clone()))))
        .collect();
    // The notification destinations: webhooks, Pub/Sub and SNS channels, in plan order.
    let mut notifications = Vec::new();
    // Each webhook's test, with the webhook it waits for.
    let mut tests = Vec::new();
    for w in &pair.webhooks {
        let webhook = add(StepKind::Webhook(Box::new(WebhookStep {
            url: w.url.clone(),
            triggers: w.triggers.clone(),
            description: w.description.clone(),
            notification_emails: w.notification_emails.clone(),
            status: w.wanted_status(),
        })));
        notifications.push(webhook);
        if let Some(event) = w.test_request() {
            tests.push((
                webhook,
                add(StepKind::WebhookTest(Box::new(WebhookTestStep { event }))),
            ));
        }
    }
    notifications.extend(
        pair.pubsub
            .iter()
            .map(|p| add(StepKind::Pubsub(Box::new(p.clone())))),
    );
    notifications.extend(
        pair.sns
            .iter()
            .map(|s| add(StepKind::Sns(Box::new(s.clone())))),
    );
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
            add(StepKind::Batch(Box::new(BatchStep {
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
            })))
        })
        .collect();

    let steps = PairSteps {
        link,
        import,
        connectors,
        notifications,
        tests,
        clones,
        batches,
        redirect_uris,
    };
    (link, steps.connect(graph))
}

/// One pair's steps, by stage.
struct PairSteps {
    link: NodeIndex,
    import: NodeIndex,
    connectors: Vec<NodeIndex>,
    /// Webhooks, Pub/Sub and SNS channels, in plan order.
    notifications: Vec<NodeIndex>,
    /// Each webhook's test, with the webhook it waits for.
    tests: Vec<(NodeIndex, NodeIndex)>,
    clones: Vec<NodeIndex>,
    batches: Vec<NodeIndex>,
    redirect_uris: Vec<NodeIndex>,
}

impl PairSteps {
    /// Adds the pair's edges; returns its last steps (what `after` waits for).
    fn connect(self, graph: &mut DiGraph<Step, ()>) -> Vec<NodeIndex> {
        let PairSteps {
            link,
            import,
            connectors,
            notifications,
            tests,
            clones,
            batches,
            redirect_uris,
        } = self;
        // Each stage waits for every step of the stage before it; an empty stage is skipped. A
        // webhook's test waits for its webhook only, and the clones wait for every notification
        // step (destinations and tests): objects that change during the move are notified.
        let mut previous = vec![link];
        for stage in [vec![import], connectors, notifications] {
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
        for (webhook, test) in tests {
            graph.add_edge(webhook, test, ());
            previous.push(test);
        }
        if !clones.is_empty() {
            for &to in &clones {
                for &from in &previous {
                    graph.add_edge(from, to, ());
                }
            }
            previous = clones;
        }
        // Waves run one after the other.
        for &wave in &batches {
            for &from in &previous {
                graph.add_edge(from, wave, ());
            }
            previous = vec![wave];
        }
        // Redirect URIs wait for import (which copies the v2 application's) and nothing waits for
        // them in the pair: the login page needs them, not the clones. A pair `after` this one
        // waits for them too.
        for &uri in &redirect_uris {
            graph.add_edge(import, uri, ());
        }
        previous.extend(redirect_uris);
        previous
    }
}

/// A topological order that, among steps ready at the same time, keeps the order the plan
/// wrote them in, so output is stable from run to run. On a cycle, returns a step in it.
fn stable_order(graph: &DiGraph<Step, ()>) -> Result<Vec<NodeIndex>, NodeIndex> {
    // When every step comes after the steps it waits for (the usual plan, whose `after` names
    // pairs above it), plan order is the order: each step is ready when its turn comes, and it
    // is the first of those ready. Found in one pass, without the queue's log factor.
    if graph
        .raw_edges()
        .iter()
        .all(|e| e.source().index() < e.target().index())
    {
        return Ok(graph.node_indices().collect());
    }
    queued_order(graph)
}

/// [`stable_order`] for any graph: the ready steps in a queue, the first in plan order taken
/// each time.
fn queued_order(graph: &DiGraph<Step, ()>) -> Result<Vec<NodeIndex>, NodeIndex> {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const PLAN: &str = r#"version: 1
name: notifications
pairs:
  - name: p
    region: us
    v2: { app_id: pv2app, client_secret: { env: P_V2 } }
    v3: { app_id: 0a0a0a0a-0000-4000-8000-000000000001, api_key: { env: P_V3 } }
    connectors:
      - { provider: google }
    redirect_uris:
      - { url: https://app.acme.example/callback, platform: web }
    webhooks:
      - { url: https://hooks.acme.example/a, triggers: [grant.created], test: grant.created }
      - { url: https://hooks.acme.example/b, triggers: [grant.expired] }
    pubsub:
      - { topic: projects/acme/topics/events, triggers: [message.created] }
    sns:
      - topic: arn:aws:sns:us-east-1:123456789012:events
        role_arn: arn:aws:iam::123456789012:role/nylas
        triggers: [grant.expired]
    clone:
      single: [account1]
      batches:
        - { name: everyone, mode: only_new }
  - name: q
    region: eu
    after: [p]
    v2: { app_id: qv2app, client_secret: { env: Q_V2 } }
    v3: { app_id: 0b0b0b0b-0000-4000-8000-000000000002, api_key: { env: Q_V3 } }
"#;

    fn ids(steps: Vec<&Step>) -> Vec<String> {
        steps.into_iter().map(|s| s.id.to_string()).collect()
    }

    #[test]
    fn plan_order_is_taken_as_is_only_when_it_is_the_order() {
        // (case, the plan, whether every step comes after the steps it waits for)
        let backwards = PLAN.replace("    after: [p]\n", "").replace(
            "  - name: p\n    region: us\n",
            "  - name: p\n    region: us\n    after: [q]\n",
        );
        let cases = [
            ("`after` names a pair above", PLAN.to_owned(), true),
            ("`after` names a pair below", backwards, false),
        ];
        for (case, text, forward) in cases {
            let plan = crate::plan::load_str(Path::new("plan.yaml"), "plan.yaml", &text)
                .unwrap_or_else(|e| panic!("{case}: {:?}", e.diagnostics))
                .plan;
            let graph = StepGraph::build(&plan).unwrap();
            let in_plan_order: Vec<NodeIndex> = graph.graph.node_indices().collect();
            let queued = queued_order(&graph.graph).unwrap();
            assert_eq!(stable_order(&graph.graph).unwrap(), queued, "{case}");
            assert_eq!(queued == in_plan_order, forward, "{case}");
        }
    }

    #[test]
    fn notification_steps_come_before_every_clone_and_redirect_uris_after_import() {
        let plan = crate::plan::load_str(Path::new("plan.yaml"), "plan.yaml", PLAN)
            .unwrap_or_else(|e| panic!("{:?}", e.diagnostics))
            .plan;
        let graph = StepGraph::build(&plan).unwrap();
        let deps = |id: &str| ids(graph.dependencies(&StepId::new_raw(id)));
        let notifications = [
            "p/webhook/https://hooks.acme.example/a",
            "p/webhook/https://hooks.acme.example/b",
            "p/pubsub/projects/acme/topics/events",
            "p/sns/arn:aws:sns:us-east-1:123456789012:events",
        ];
        for n in notifications {
            assert_eq!(deps(n), ["p/connector/google"], "{n}");
        }
        // The test after its webhook only; the clones after every notification step.
        assert_eq!(
            deps("p/webhook-test/https://hooks.acme.example/a"),
            ["p/webhook/https://hooks.acme.example/a"]
        );
        let mut before_clone = notifications.to_vec();
        before_clone.push("p/webhook-test/https://hooks.acme.example/a");
        before_clone.sort();
        let mut clone_deps = deps("p/clone/account1");
        clone_deps.sort();
        assert_eq!(clone_deps, before_clone);
        assert_eq!(deps("p/batch/everyone"), ["p/clone/account1"]);
        // Redirect URIs after import, holding up nothing of their pair; a pair `after` this one
        // waits for them with the pair's last wave.
        let uri = "p/redirect-uri/https://app.acme.example/callback";
        assert_eq!(deps(uri), ["p/import"]);
        assert_eq!(ids(graph.dependents(&StepId::new_raw(uri))), ["q/link"]);
        assert_eq!(deps("q/link"), [uri, "p/batch/everyone"]);
        assert_eq!(graph.len(), 13);
    }
}
