use std::fmt;
use std::hash::BuildHasher;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::api::{
    BatchCloneRequest, ConnectorProvider, PlaceholderQuery, Region, RequestedStatus, SendTestEvent,
    TriggerType,
};
use crate::plan::{ConnectorSettings, Gate, PubsubSpec, RedirectUriSpec, SecretRef, SnsSpec};

/// What a step does, without its settings: the second part of its ID (`link`, `clone`, …).
/// Serialized as [`Kind::as_str`] writes it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
pub enum Kind {
    #[serde(rename = "link")]
    Link,
    #[serde(rename = "import")]
    Import,
    #[serde(rename = "connector")]
    Connector,
    #[serde(rename = "redirect-uri")]
    RedirectUri,
    #[serde(rename = "webhook")]
    Webhook,
    #[serde(rename = "webhook-test")]
    WebhookTest,
    #[serde(rename = "pubsub")]
    Pubsub,
    #[serde(rename = "sns")]
    Sns,
    #[serde(rename = "clone")]
    Clone,
    #[serde(rename = "batch")]
    Batch,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Link,
        Kind::Import,
        Kind::Connector,
        Kind::RedirectUri,
        Kind::Webhook,
        Kind::WebhookTest,
        Kind::Pubsub,
        Kind::Sns,
        Kind::Clone,
        Kind::Batch,
    ];

    /// The kind's name as step IDs, the journal and JSON events write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Link => "link",
            Kind::Import => "import",
            Kind::Connector => "connector",
            Kind::RedirectUri => "redirect-uri",
            Kind::Webhook => "webhook",
            Kind::WebhookTest => "webhook-test",
            Kind::Pubsub => "pubsub",
            Kind::Sns => "sns",
            Kind::Clone => "clone",
            Kind::Batch => "batch",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a pair has at most one step of this kind (its ID then has no subject).
    pub fn once_per_pair(self) -> bool {
        matches!(self, Kind::Link | Kind::Import)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A step's stable, readable identity: its pair, its kind and, when a pair can have several
/// steps of that kind, its subject. Displayed as `<pair>/<kind>[/<subject>]`, such as
/// `acme-prod/clone/df0yq6c9okc6t9j4ejd5nyrt7`: the journal keys its records by that text,
/// and [`StepId::parse`] reads it back.
#[derive(Debug, Clone)]
pub struct StepId {
    /// The displayed form, kept so that the journal and the reporters borrow it; the pair and
    /// the subject are slices of it (one allocation a step: a large plan has a step per test
    /// account, and its graph and its index hold an ID each).
    text: Box<str>,
    /// The pair's length in `text`: the pair is `text[..pair_len]`.
    pair_len: usize,
    kind: Kind,
}

impl StepId {
    pub fn new(pair: &str, kind: Kind, subject: Option<&str>) -> StepId {
        // Sized first: `format!` grows its string as it writes and the box then shrinks it, three
        // allocations where one will do (a large plan has a step per test account).
        let kind_text = kind.as_str();
        let mut text = String::with_capacity(
            pair.len() + 1 + kind_text.len() + subject.map_or(0, |s| 1 + s.len()),
        );
        text.push_str(pair);
        text.push('/');
        text.push_str(kind_text);
        if let Some(subject) = subject {
            text.push('/');
            text.push_str(subject);
        }
        StepId {
            text: text.into_boxed_str(),
            pair_len: pair.len(),
            kind,
        }
    }

    /// A step ID as written (`acme-prod/clone/df0yq6c9okc6t9j4ejd5nyrt7`): the pair up to the
    /// first `/` (pair names have none), a known kind, then the subject, which may hold `/`
    /// (a webhook's URL). `None` for text that is not a step ID (a journal row written by
    /// another version, a typo).
    pub fn parse(id: &str) -> Option<StepId> {
        let (pair, rest) = id.split_once('/')?;
        let (kind, subject) = match rest.split_once('/') {
            Some((kind, subject)) => (Kind::parse(kind)?, Some(subject)),
            None => (Kind::parse(rest)?, None),
        };
        if pair.is_empty()
            || kind.once_per_pair() != subject.is_none()
            || subject.is_some_and(str::is_empty)
        {
            return None;
        }
        Some(StepId::new(pair, kind, subject))
    }

    /// A step ID written as a literal (tests, examples).
    ///
    /// # Panics
    ///
    /// When `id` is not a step ID: use [`StepId::parse`] for text from outside.
    pub fn new_raw(id: impl AsRef<str>) -> StepId {
        let id = id.as_ref();
        StepId::parse(id).unwrap_or_else(|| panic!("`{id}` is not a step ID"))
    }

    pub fn pair(&self) -> &str {
        &self.text[..self.pair_len]
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// What follows `<pair>/<kind>/`, when the kind has a subject.
    pub fn subject(&self) -> Option<&str> {
        let after_kind = self.pair_len + 1 + self.kind.as_str().len();
        self.text.get(after_kind + 1..)
    }

    /// The ID within its pair, as the per-pair listings show it (`clone/df0yq…`, `link`).
    pub fn local(&self) -> &str {
        &self.text[self.pair_len + 1..]
    }

    /// The displayed form.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

// Equality, hashing and order are the displayed form's: the same as the journal's keys.
impl PartialEq for StepId {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for StepId {}

impl std::hash::Hash for StepId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for StepId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StepId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text)
    }
}

/// As its displayed form.
impl serde::Serialize for StepId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// A string: `<pair>/<kind>[/<subject>]`.
impl schemars::JsonSchema for StepId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StepId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A step's ID: `<pair>/<kind>[/<subject>]`, such as `acme-prod/clone/df0yq6c9okc6t9j4ejd5nyrt7`."
        })
    }
}

impl std::str::FromStr for StepId {
    type Err = String;

    fn from_str(s: &str) -> Result<StepId, String> {
        StepId::parse(s).ok_or_else(|| format!("`{s}` is not a step ID (PAIR/KIND[/SUBJECT])"))
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
    /// `active` unless the plan says `pause`.
    pub status: RequestedStatus,
}

/// Ask Nylas to deliver one test event to a webhook's URL (`send-test-event`), after the
/// webhook is subscribed and before any clone of its pair.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTestStep {
    /// The request: the trigger to test and the webhook's URL.
    pub event: SendTestEvent,
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
    Connector(Box<ConnectorStep>),
    /// One redirect (callback) URI of the v3 application, as the plan gives it.
    RedirectUri(Box<RedirectUriSpec>),
    Webhook(Box<WebhookStep>),
    WebhookTest(Box<WebhookTestStep>),
    /// One Google Cloud Pub/Sub channel, as the plan gives it.
    Pubsub(Box<PubsubSpec>),
    /// One Amazon SNS channel, as the plan gives it.
    Sns(Box<SnsSpec>),
    /// Inline, unlike the kinds above it: a large plan is mostly test accounts, and every
    /// step is as large as the largest variant kept inline (the graph holds its steps in one
    /// vector, which a large plan's validation walks more than once).
    Clone(CloneStep),
    Batch(Box<BatchStep>),
}

impl StepKind {
    /// The kind without its settings.
    pub fn kind(&self) -> Kind {
        match self {
            StepKind::Link => Kind::Link,
            StepKind::Import => Kind::Import,
            StepKind::Connector(_) => Kind::Connector,
            StepKind::RedirectUri(_) => Kind::RedirectUri,
            StepKind::Webhook(_) => Kind::Webhook,
            StepKind::WebhookTest(_) => Kind::WebhookTest,
            StepKind::Pubsub(_) => Kind::Pubsub,
            StepKind::Sns(_) => Kind::Sns,
            StepKind::Clone(_) => Kind::Clone,
            StepKind::Batch(_) => Kind::Batch,
        }
    }

    /// The kind's name as step IDs use it.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// What the step acts on within its pair, if more than one step of its kind can exist.
    pub fn subject(&self) -> Option<&str> {
        match self {
            StepKind::Link | StepKind::Import => None,
            StepKind::Connector(c) => Some(c.provider.as_str()),
            StepKind::RedirectUri(r) => Some(&r.url),
            StepKind::Webhook(w) => Some(&w.url),
            StepKind::WebhookTest(t) => Some(&t.event.webhook_url),
            StepKind::Pubsub(p) => Some(&p.topic),
            StepKind::Sns(s) => Some(&s.topic),
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

/// The graph's nodes by their steps' IDs: the table holds node indexes and compares the IDs the
/// graph holds, so that no ID is copied (a large plan has a step per test account).
#[derive(Debug, Clone, Default)]
pub(super) struct StepIndex {
    hasher: hashbrown::DefaultHashBuilder,
    table: hashbrown::HashTable<NodeIndex>,
}

impl StepIndex {
    /// Indexes every node of `graph`; the first of two equal IDs is the one found.
    pub(super) fn of(graph: &DiGraph<Step, ()>) -> StepIndex {
        let mut index = StepIndex {
            hasher: hashbrown::DefaultHashBuilder::default(),
            table: hashbrown::HashTable::with_capacity(graph.node_count()),
        };
        for node in graph.node_indices() {
            let id = &graph[node].id;
            let hash = index.hasher.hash_one(id);
            if let hashbrown::hash_table::Entry::Vacant(vacant) = index.table.entry(
                hash,
                |&n| graph[n].id == *id,
                |&n| index.hasher.hash_one(&graph[n].id),
            ) {
                vacant.insert(node);
            }
        }
        index
    }

    pub(super) fn get(&self, graph: &DiGraph<Step, ()>, id: &StepId) -> Option<NodeIndex> {
        let hash = self.hasher.hash_one(id);
        self.table.find(hash, |&n| graph[n].id == *id).copied()
    }
}

/// The steps of a plan and the order they must run in. An edge `a → b` means `b` waits for `a`.
#[derive(Debug, Clone)]
pub struct StepGraph {
    pub(super) plan_name: String,
    pub(super) pairs: Vec<PairTarget>,
    pub(super) graph: DiGraph<Step, ()>,
    pub(super) by_id: StepIndex,
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
        self.by_id.get(&self.graph, id).map(|n| &self.graph[n])
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
        let Some(node) = self.by_id.get(&self.graph, id) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_id_reads_back_from_its_displayed_form() {
        for (pair, kind, subject, text) in [
            ("acme-prod", Kind::Link, None, "acme-prod/link"),
            ("acme-prod", Kind::Import, None, "acme-prod/import"),
            (
                "p",
                Kind::Connector,
                Some("microsoft"),
                "p/connector/microsoft",
            ),
            (
                "p",
                Kind::Webhook,
                Some("https://hooks.example.com/a/b?c=d"),
                "p/webhook/https://hooks.example.com/a/b?c=d",
            ),
            (
                "p",
                Kind::WebhookTest,
                Some("http://127.0.0.1:8080/hook"),
                "p/webhook-test/http://127.0.0.1:8080/hook",
            ),
            (
                "p",
                Kind::Pubsub,
                Some("projects/acme-prod/topics/nylas-events"),
                "p/pubsub/projects/acme-prod/topics/nylas-events",
            ),
            (
                "p",
                Kind::Sns,
                Some("arn:aws:sns:us-east-1:123456789012:nylas-events"),
                "p/sns/arn:aws:sns:us-east-1:123456789012:nylas-events",
            ),
            (
                "p",
                Kind::RedirectUri,
                Some("https://app.acme.example/oauth/callback"),
                "p/redirect-uri/https://app.acme.example/oauth/callback",
            ),
            (
                "p.1",
                Kind::Clone,
                Some("df0yq6c9ok"),
                "p.1/clone/df0yq6c9ok",
            ),
            (
                "p_1",
                Kind::Batch,
                Some("everyone-else"),
                "p_1/batch/everyone-else",
            ),
        ] {
            let id = StepId::new(pair, kind, subject);
            assert_eq!(id.to_string(), text);
            assert_eq!(id.as_str(), text);
            let parsed = StepId::parse(text).unwrap();
            assert_eq!(parsed, id);
            assert_eq!(
                (parsed.pair(), parsed.kind(), parsed.subject()),
                (pair, kind, subject)
            );
            assert_eq!(parsed.local(), &text[pair.len() + 1..]);
        }
    }

    #[test]
    fn text_that_is_not_a_step_id_does_not_parse() {
        for text in [
            "",
            "p",
            "/link",
            "p/",
            "p/unknown",
            "p/link/extra",
            "p/import/x",
            "p/clone",
            "p/clone/",
            "p/webhooks/https://x",
        ] {
            assert_eq!(StepId::parse(text), None, "{text}");
        }
    }

    #[test]
    fn every_kind_reads_back_from_its_name_and_serializes_as_it() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
    }
}
