use std::collections::HashMap;
use std::fmt;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::api::{BatchCloneRequest, ConnectorProvider, PlaceholderQuery, Region, TriggerType};
use crate::plan::{ConnectorSettings, Gate, SecretRef};

/// A step's stable, readable identity: `<pair>/<kind>[/<subject>]`, such as
/// `acme-prod/clone/df0yq6c9okc6t9j4ejd5nyrt7`. The journal keys its records by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepId(String);

impl StepId {
    pub fn new(pair: &str, kind: &str, subject: Option<&str>) -> StepId {
        match subject {
            Some(subject) => StepId(format!("{pair}/{kind}/{subject}")),
            None => StepId(format!("{pair}/{kind}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one pair's steps act on: its applications, where to reach them, and where their
/// secrets are read from (never the secrets themselves).
#[derive(Debug, Clone, PartialEq)]
pub struct PairTarget {
    pub name: String,
    pub region: Region,
    /// The region's API base URL: the plan's override, or Nylas's host for the region.
    pub api_url: String,
    pub v2_app_id: String,
    pub v2_client_secret: SecretRef,
    pub v3_app_id: String,
    pub v3_api_key: SecretRef,
    /// Requests per second to the v3 application.
    pub rate_limit: u32,
}

/// Fix one connector's settings and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorStep {
    pub provider: ConnectorProvider,
    pub settings: Option<ConnectorSettings>,
    pub scope: Option<Vec<String>>,
}

/// Subscribe one webhook destination.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookStep {
    pub url: String,
    pub triggers: Vec<TriggerType>,
    pub description: Option<String>,
    pub notification_emails: Option<Vec<String>>,
}

/// Clone one v2 account.
#[derive(Debug, Clone, PartialEq)]
pub struct CloneStep {
    pub account_id: String,
    pub placeholders: PlaceholderQuery,
}

/// Run one batch-clone wave.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStep {
    pub wave: String,
    /// Position of the wave in its pair (0 for the first).
    pub index: usize,
    pub request: BatchCloneRequest,
    pub placeholders: PlaceholderQuery,
    /// The gate the wave's result must pass for the pair's next wave to run.
    pub gate: Option<Gate>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Link,
    Import,
    Connector(ConnectorStep),
    Webhook(WebhookStep),
    Clone(CloneStep),
    Batch(BatchStep),
}

impl StepKind {
    /// The kind's name as step IDs use it.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Link => "link",
            StepKind::Import => "import",
            StepKind::Connector(_) => "connector",
            StepKind::Webhook(_) => "webhook",
            StepKind::Clone(_) => "clone",
            StepKind::Batch(_) => "batch",
        }
    }

    /// What the step acts on within its pair, if more than one step of its kind can exist.
    pub fn subject(&self) -> Option<&str> {
        match self {
            StepKind::Link | StepKind::Import => None,
            StepKind::Connector(c) => Some(c.provider.as_str()),
            StepKind::Webhook(w) => Some(&w.url),
            StepKind::Clone(c) => Some(&c.account_id),
            StepKind::Batch(b) => Some(&b.wave),
        }
    }
}

/// One unit of work: observed before it is executed, journaled when it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: StepId,
    /// Index of the step's pair in [`StepGraph::pairs`].
    pub pair: usize,
    pub kind: StepKind,
}

/// The steps of a plan and the order they must run in. An edge `a → b` means `b` waits for `a`.
#[derive(Debug, Clone)]
pub struct StepGraph {
    pub(super) plan_name: String,
    pub(super) pairs: Vec<PairTarget>,
    pub(super) graph: DiGraph<Step, ()>,
    pub(super) by_id: HashMap<StepId, NodeIndex>,
    /// Every node, dependencies before dependents; ties keep plan order.
    pub(super) order: Vec<NodeIndex>,
}

impl StepGraph {
    pub fn plan_name(&self) -> &str {
        &self.plan_name
    }

    pub fn pairs(&self) -> &[PairTarget] {
        &self.pairs
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Every step, each after all the steps it waits for.
    pub fn steps(&self) -> impl Iterator<Item = &Step> + '_ {
        self.order.iter().map(|&n| &self.graph[n])
    }

    pub fn get(&self, id: &StepId) -> Option<&Step> {
        self.by_id.get(id).map(|&n| &self.graph[n])
    }

    pub fn pair_of(&self, step: &Step) -> &PairTarget {
        &self.pairs[step.pair]
    }

    /// The steps `id` waits for directly.
    pub fn dependencies(&self, id: &StepId) -> Vec<&Step> {
        self.neighbors(id, Direction::Incoming)
    }

    /// The steps that wait for `id` directly.
    pub fn dependents(&self, id: &StepId) -> Vec<&Step> {
        self.neighbors(id, Direction::Outgoing)
    }

    fn neighbors(&self, id: &StepId, direction: Direction) -> Vec<&Step> {
        let Some(&node) = self.by_id.get(id) else {
            return Vec::new();
        };
        let mut steps: Vec<(NodeIndex, &Step)> = self
            .graph
            .neighbors_directed(node, direction)
            .map(|n| (n, &self.graph[n]))
            .collect();
        steps.sort_by_key(|(n, _)| *n);
        steps.into_iter().map(|(_, s)| s).collect()
    }

    /// Every edge as (from, to): `to` waits for `from`.
    pub fn edges(&self) -> impl Iterator<Item = (&Step, &Step)> + '_ {
        self.graph
            .raw_edges()
            .iter()
            .map(|e| (&self.graph[e.source()], &self.graph[e.target()]))
    }
}
