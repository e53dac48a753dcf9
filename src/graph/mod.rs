//! The step graph: what applying a plan means, step by step, and in what order.
//!
//! Per pair: `link → import → connector/<provider> (each) → webhook/<url>, pubsub/<topic>,
//! sns/<topic> (each; a webhook's `webhook-test/<url>` after it) → clone/<account> (each) →
//! batch/<wave> (in order)`, and `import → redirect-uri/<url>` (each); `after` makes a pair's
//! link wait for the last steps of the pairs it names. `plan` walks this graph read-only and `apply` walks it for
//! real, so both always agree on what the plan means.

mod build;
mod render;
mod step;

pub use build::GraphError;
pub use render::{to_dot, to_mermaid};
pub use step::{
    BatchStep, CloneStep, ConnectorStep, Kind, PairTarget, Step, StepGraph, StepId, StepKind,
    WebhookStep, WebhookTestStep,
};
