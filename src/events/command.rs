//! The events of the commands that print one answer: `validate`, `plan`'s manual steps and
//! `graph` (`status`, `verify` and `schema` carry their payload in [`super::Event`] itself).

use schemars::JsonSchema;
use serde::Serialize;

use crate::api::Region;
use crate::code::Code;
use crate::graph::{Kind, StepGraph, StepId};
use crate::plan::PlanDiagnostic;
use crate::report::manual::{ManualKind, ManualStep};

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Validation {
    pub file: String,
    pub valid: bool,
    /// A valid plan's pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairs: Option<usize>,
    /// A valid plan's steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    pub diagnostics: Vec<Diagnostic>,
}

/// One problem of a plan, where it is and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    #[schemars(with = "String", regex(pattern = r"^plan::"))]
    pub code: Code,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn of(file: &str, d: &PlanDiagnostic) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: d.line,
            column: d.column,
            code: d.code,
            message: d.message.clone(),
            label: d.label.clone(),
            help: d.help.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ManualStepEvent {
    pub pair: String,
    pub region: Region,
    pub step: ManualKind,
    pub place: String,
    /// The exact value to enter: a callback URI, a topic, a v3 application ID.
    pub value: String,
    pub text: String,
}

impl From<&ManualStep> for ManualStepEvent {
    fn from(step: &ManualStep) -> ManualStepEvent {
        ManualStepEvent {
            pair: step.pair.clone(),
            region: step.region,
            step: step.kind,
            place: step.place.to_owned(),
            value: step.value.clone(),
            text: step.text.clone(),
        }
    }
}

/// One step of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct GraphStep {
    pub id: StepId,
    pub kind: Kind,
    pub pair: String,
}

impl super::Event {
    /// The `graph` event: every step in order, and every edge.
    pub fn graph(graph: &StepGraph) -> super::Event {
        super::Event::Graph {
            plan: graph.plan_name().to_owned(),
            steps: graph
                .steps()
                .map(|s| GraphStep {
                    id: s.id.clone(),
                    kind: s.kind.kind(),
                    pair: graph.pair_of(s).name.clone(),
                })
                .collect(),
            edges: graph
                .edges()
                .map(|(from, to)| [from.id.clone(), to.id.clone()])
                .collect(),
        }
    }
}
