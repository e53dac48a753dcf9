//! What the program says, as types: every JSON event `--output json` prints, and what a run
//! (`apply`, `translate`) reports while it goes.
//!
//! The engine and translate emit [`Event`]s through one [`Reporter`]; they know nothing of how
//! an event is shown. Rendering (human lines, progress bars, JSON lines) is the CLI's
//! (`cli/render/`), which knows nothing of scheduling. The commands build the same type for
//! what they print once (a plan's validation, the graph, the status...), so that every JSON
//! line comes from here, and `docs/events.schema.json` is generated from it ([`schema_text`],
//! printed by `nylas-migrate schema --events`).

mod command;
mod run;
mod translate;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;

pub use command::{Diagnostic, GraphStep, ManualStepEvent, Validation};
pub use run::{
    Interrupted, JobProgress, Notice, Partial, PlanSeen, PlanStep, PlanSummary, RunningWave,
    Signal, StepEnded, StepStarted, Summary, UnmanagedFound,
};
pub use translate::{
    AccountFailed, Throughput, TranslateEnded, TranslateProgress, TranslateStarted,
};

/// The version of the JSON events (`v` on every line). New fields may be added within a
/// version; a field is never removed or changed in meaning without a new one.
pub const EVENTS_VERSION: u8 = 1;

/// One event. Serialized as one JSON object with `event` naming the variant (see
/// [`Event::to_line`] for the line, with its version).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// validate: one per plan file.
    Validation(Validation),
    /// plan and apply: something to know before the steps, such as a pair this state folder
    /// has no record of whose application already has migration jobs; apply: jobs adopted as
    /// history.
    Notice(Notice),
    /// plan, apply, status: the run is limited to some pairs (--pair); the others are neither
    /// read nor written.
    Partial(Partial),
    /// plan: one per step. Online: the observed action and its reason. --offline: what the
    /// journal recorded.
    PlanStep(PlanStep),
    /// plan (online): a notification destination or redirect URI found live on a pair's v3
    /// application that no step of the plan names. It is left as it is (nothing is ever
    /// deleted); listed so that drift is visible. After the steps, before plan_summary.
    Unmanaged(UnmanagedFound),
    /// plan: the counts, last.
    PlanSummary(PlanSummary),
    /// apply: a step starts (after its dependencies succeeded).
    StepStarted(StepStarted),
    /// apply: a step ended, with why.
    StepFinished(StepEnded),
    /// apply: a step was not attempted, with why.
    StepSkipped(StepEnded),
    /// apply: a wave's migration job, as polled.
    JobProgress(JobProgress),
    /// apply: the run's counts, last. done: everything the plan asks is done.
    Summary(Summary),
    /// status: the whole standing in one object.
    Status {
        status: crate::report::standing_model::Standing,
    },
    /// plan: a step only people can do, outside the Nylas API (before the plan's steps; with
    /// --offline too).
    ManualStep(ManualStepEvent),
    /// translate: what the run will do. A chain is one (account, resource type).
    TranslateStarted(TranslateStarted),
    /// translate: progress, at most every two seconds and once at the end.
    TranslateProgress(TranslateProgress),
    /// translate: an account could not be translated; its row goes to the errors file.
    TranslateAccountFailed(AccountFailed),
    /// translate: the run's counts, last. complete: every chain done but those of accounts
    /// Nylas refused.
    TranslateSummary(TranslateEnded),
    /// verify: the whole checklist in one object, with its own version (verify.v).
    Verify {
        verify: crate::report::checklist::Verification,
    },
    /// graph: the step graph in one object: every step in order, and every edge (from, to).
    Graph {
        plan: String,
        steps: Vec<GraphStep>,
        edges: Vec<[crate::graph::StepId; 2]>,
    },
    /// schema: a JSON Schema (the plan's, as schemas/plan.schema.json, or a saved plan's) in
    /// one line.
    Schema {
        #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
        schema: serde_json::Value,
    },
    /// apply: the run was stopped by Ctrl-C (exit code 130) or SIGTERM (143): what finished,
    /// and the waves that keep running at Nylas. apply again resumes.
    Interrupted(Interrupted),
}

/// An event as one line of `--output json`: its version, then the event's own fields.
#[derive(Serialize, JsonSchema)]
#[schemars(
    title = "nylas-migrate JSON events, version 1",
    description = "With --output json, every command prints one JSON object per line on stdout. Each has `v` (the schema version, 1) and `event`. New fields may be added within a version; a field is never removed or changed in meaning without a new `v`.",
    extend("$id" = "https://github.com/nylas-migrate/nylas-migrate/docs/events.schema.json")
)]
struct EventLine<'a> {
    /// Schema version.
    #[schemars(extend("const" = 1))]
    v: u8,
    #[serde(flatten)]
    event: &'a Event,
}

impl Event {
    /// The event as one line of JSON (without its newline): `v`, `event` and the fields, each
    /// object's keys in alphabetical order (as every version-1 line has been written).
    pub fn to_line(&self) -> String {
        let line = EventLine {
            v: EVENTS_VERSION,
            event: self,
        };
        // Through a `Value`, whose objects keep their keys sorted. Serializing these types
        // cannot fail: every map key is a string and no `Serialize` here returns an error.
        serde_json::to_value(&line)
            .map(|value| value.to_string())
            .unwrap_or_default()
    }

    /// `step_finished`, or `step_skipped` for a step that was not attempted.
    pub fn step_ended(
        step: &crate::graph::Step,
        outcome: &crate::engine::outcome::Outcome,
    ) -> Event {
        let ended = StepEnded::of(step, outcome);
        match outcome {
            crate::engine::outcome::Outcome::Skipped(_) => Event::StepSkipped(ended),
            _ => Event::StepFinished(ended),
        }
    }

    /// A note besides the steps, about no pair in particular.
    pub fn notice(message: impl Into<String>) -> Event {
        Event::Notice(Notice {
            pair: None,
            message: message.into(),
        })
    }
}

/// Where a run's events go: a renderer (human lines, bars, JSON lines) or nowhere.
pub trait Reporter: Send + Sync {
    fn report(&self, event: &Event);
}

/// Nothing while the run goes (`-q`, the benchmarks): only what the caller prints at the end.
pub struct QuietReporter;

impl Reporter for QuietReporter {
    fn report(&self, _event: &Event) {}
}

/// The JSON Schema of the events' lines, generated from [`Event`] (draft-07, as the plan's).
pub fn schema() -> serde_json::Value {
    SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<EventLine<'static>>()
        .to_value()
}

/// The schema as `nylas-migrate schema --events` prints it and `docs/events.schema.json`
/// stores it.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::outcome::{Action, OutcomeKind, Waits};
    use crate::graph::{Kind, StepId};

    fn id(text: &str) -> StepId {
        text.parse().expect("a step ID")
    }

    /// The lines as version 1 has always written them: keys in alphabetical order, optional
    /// fields absent (not null) where they were absent.
    #[test]
    fn lines_keep_their_bytes() {
        let ended = StepEnded {
            step: id("acme/link"),
            kind: Kind::Link,
            outcome: OutcomeKind::Changed,
            message: "linked".into(),
        };
        for (event, line) in [
            (
                Event::StepFinished(ended.clone()),
                r#"{"event":"step_finished","kind":"link","message":"linked","outcome":"changed","step":"acme/link","v":1}"#,
            ),
            (
                Event::StepSkipped(StepEnded {
                    outcome: OutcomeKind::Skipped,
                    ..ended
                }),
                r#"{"event":"step_skipped","kind":"link","message":"linked","outcome":"skipped","step":"acme/link","v":1}"#,
            ),
            (
                Event::notice("adopted"),
                r#"{"event":"notice","message":"adopted","v":1}"#,
            ),
            (
                Event::Summary(Summary {
                    run_id: 3,
                    changed: 1,
                    unchanged: 2,
                    failed: 0,
                    skipped: 0,
                    running: None,
                    done: true,
                }),
                r#"{"changed":1,"done":true,"event":"summary","failed":0,"run_id":3,"skipped":0,"unchanged":2,"v":1}"#,
            ),
            (
                Event::PlanStep(PlanStep {
                    step: id("acme/link"),
                    kind: Kind::Link,
                    seen: PlanSeen::Observed {
                        action: Action::Blocked,
                        reason: "after acme/import".into(),
                        waits: Some(Waits::UntargetedPairs),
                    },
                }),
                r#"{"action":"blocked","event":"plan_step","kind":"link","reason":"after acme/import","step":"acme/link","v":1,"waits":"untargeted_pairs"}"#,
            ),
            (
                Event::TranslateProgress(TranslateProgress {
                    rows: 10,
                    pages: 2,
                    chains_done: 1,
                    chains_failed: 0,
                    chains_total: 4,
                    pages_per_second: 1.23456,
                    eta_seconds: None,
                }),
                r#"{"chains_done":1,"chains_failed":0,"chains_total":4,"eta_seconds":null,"event":"translate_progress","pages":2,"pages_per_second":1.23,"rows":10,"v":1}"#,
            ),
            (
                Event::Interrupted(Interrupted {
                    signal: Signal::Terminate,
                    steps: 2,
                    finished: 1,
                    changed: 1,
                    unchanged: 0,
                    failed: 0,
                    skipped: 0,
                    in_progress: 1,
                    running_waves: vec![RunningWave {
                        step: id("acme/batch/all"),
                        job_id: None,
                        percent: None,
                    }],
                }),
                r#"{"changed":1,"event":"interrupted","failed":0,"finished":1,"in_progress":1,"running_waves":[{"job_id":null,"percent":null,"step":"acme/batch/all"}],"signal":"SIGTERM","skipped":0,"steps":2,"unchanged":0,"v":1}"#,
            ),
        ] {
            assert_eq!(event.to_line(), line);
        }
    }

    #[test]
    fn the_schema_is_draft_07_and_compiles() {
        let schema = schema();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert!(jsonschema::draft7::new(&schema).is_ok());
    }
}
