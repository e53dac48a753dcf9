//! Saved plans: what `plan PLAN --out FILE` found, for `apply FILE` to apply exactly that.
//!
//! A saved plan is JSON (its JSON Schema, generated from [`SavedPlan`], is
//! `docs/saved-plan.schema.json`): the plan file's path, name and SHA-256 digest, the pairs
//! targeted and the rerun flags, the tool version, when the live state was observed, and every
//! step's action with its evidence. It holds no secret: actions and reasons are what `plan`
//! prints, and secrets stay references in the plan file.
//!
//! `apply FILE` re-observes with the same targets and flags and compares each step's action as
//! the preview shows it ([`differences`]): a step `after` earlier changes is compared as
//! `after` (its own action is known only once those changes are written), so a saved plan whose
//! link is `create` and whose clones are `after` it still applies, while a webhook saved as
//! `create` that someone has since created by hand (now `update` or `unchanged`) is refused.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{Action, Preview, PreviewStep, RunOptions};
use crate::graph::{StepGraph, StepId};

/// The version of the saved-plan format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The marker `apply FILE` recognises a saved plan by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Format {
    #[serde(rename = "nylas-migrate/saved-plan")]
    SavedPlan,
}

/// What `plan PLAN --out FILE` found: everything `apply FILE` checks before its first write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "nylas-migrate saved plan")]
pub struct SavedPlan {
    /// Always `nylas-migrate/saved-plan`: how `apply` tells a saved plan from a YAML plan.
    pub format: Format,
    /// The format's version (this build reads and writes 1).
    pub version: u32,
    /// The nylas-migrate version that observed it; `apply` refuses a saved plan of another.
    pub tool_version: String,
    /// When the live state was observed, in UTC (RFC 3339).
    pub observed_at: String,
    /// The plan file it was made from.
    pub plan: SavedPlanFile,
    /// The pairs the run was limited to (`--pair`); empty: every pair.
    pub targets: Vec<String>,
    /// The rerun flags it was made with; `apply` uses the same.
    pub options: SavedOptions,
    /// Steps `apply` would run (creates, updates, running waves to follow, steps after them).
    pub changes: usize,
    /// Every step of the targeted pairs, in graph order, with its action and evidence.
    pub steps: Vec<SavedStep>,
}

/// The plan file a saved plan was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedPlanFile {
    /// The path given to `plan` (a relative one is read from the folder `apply` runs in).
    pub path: String,
    /// The plan's `name`.
    pub name: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// The rerun flags of the `plan` that made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedOptions {
    /// `--rerun-wave`, as step IDs.
    pub rerun_waves: Vec<String>,
    /// `--rerun-clone`, as step IDs.
    pub rerun_clones: Vec<String>,
    /// `--rerun-link`, as step IDs.
    pub rerun_links: Vec<String>,
    /// `--adopt-existing-jobs`.
    pub adopt_existing_jobs: bool,
}

/// One step as the preview found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedStep {
    /// The step's ID (`pair/kind/subject`).
    pub id: String,
    /// Its action, as `plan` shows it.
    pub action: SavedAction,
    /// The evidence or reason `plan` showed.
    pub reason: String,
}

/// A step's action as `plan` shows it: `after` is a step that runs after earlier changes of
/// the same apply, `blocked` one stopped by a conflict or by a pair the run does not target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SavedAction {
    Unchanged,
    Create,
    Update,
    Attach,
    After,
    Blocked,
    Conflict,
    Held,
    Failed,
}

impl SavedAction {
    /// The action of a step of a preview, as `plan` labels it.
    pub fn of(step: &PreviewStep) -> SavedAction {
        match step.observation.action {
            Action::Unchanged => SavedAction::Unchanged,
            Action::Create => SavedAction::Create,
            Action::Update => SavedAction::Update,
            Action::Attach => SavedAction::Attach,
            Action::Blocked if step.after_changes() => SavedAction::After,
            Action::Blocked => SavedAction::Blocked,
            Action::Conflict => SavedAction::Conflict,
            Action::Held => SavedAction::Held,
            Action::Failed => SavedAction::Failed,
        }
    }

    /// Whether `apply` counts it among its changes ([`Preview::changes`]).
    pub fn is_change(self) -> bool {
        matches!(
            self,
            SavedAction::Create | SavedAction::Update | SavedAction::Attach | SavedAction::After
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SavedAction::Unchanged => "unchanged",
            SavedAction::Create => "create",
            SavedAction::Update => "update",
            SavedAction::Attach => "attach",
            SavedAction::After => "after",
            SavedAction::Blocked => "blocked",
            SavedAction::Conflict => "conflict",
            SavedAction::Held => "held",
            SavedAction::Failed => "failed",
        }
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SavedPlan {
    /// The saved plan of `preview`, made from the plan file at `path` (its `bytes`) with
    /// `options`, observed at `observed_unix` (seconds since the epoch).
    pub fn new(
        path: &str,
        name: &str,
        bytes: &[u8],
        options: &RunOptions,
        preview: &Preview,
        observed_unix: i64,
    ) -> SavedPlan {
        let ids = |v: &[crate::graph::StepId]| v.iter().map(|s| s.to_string()).collect();
        SavedPlan {
            format: Format::SavedPlan,
            version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            observed_at: rfc3339(observed_unix),
            plan: SavedPlanFile {
                path: path.to_owned(),
                name: name.to_owned(),
                sha256: digest(bytes),
            },
            targets: options.pairs.clone(),
            options: SavedOptions {
                rerun_waves: ids(&options.rerun_waves),
                rerun_clones: ids(&options.rerun_clones),
                rerun_links: ids(&options.rerun_links),
                adopt_existing_jobs: options.adopt_existing_jobs,
            },
            changes: preview.changes(),
            steps: preview
                .steps
                .iter()
                .map(|s| SavedStep {
                    id: s.step.id.to_string(),
                    action: SavedAction::of(s),
                    reason: s.observation.reason.clone(),
                })
                .collect(),
        }
    }

    /// The file's text: pretty JSON, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// `2026-11-23T14:16:00Z`.
fn rfc3339(unix: i64) -> String {
    crate::state::journal::format_utc(unix)
        .replacen(' ', "T", 1)
        .replace(" UTC", "Z")
}

/// Whether `bytes` are a saved plan: `None` when they are not JSON with the saved-plan marker
/// (a YAML plan, then); otherwise the saved plan, or why it cannot be used.
pub fn detect(bytes: &[u8]) -> Option<Result<SavedPlan, String>> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let marker = serde_json::to_value(Format::SavedPlan).ok()?;
    if value.get("format") != Some(&marker) {
        return None;
    }
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Some(Err(format!(
            "its format version is {}, and this build of nylas-migrate reads version {FORMAT_VERSION}",
            version.map_or_else(|| "missing".to_owned(), |v| v.to_string())
        )));
    }
    Some(
        serde_json::from_value::<SavedPlan>(value)
            .map_err(|e| format!("it does not match the saved-plan format: {e}"))
            .and_then(|saved| saved.check().map(|()| saved)),
    )
}

impl SavedPlan {
    /// Whether the saved plan agrees with itself, as `plan --out` writes it: each step listed
    /// once, and `changes` the number of steps that are changes (`create`, `update`, `attach`,
    /// `after`). A file that does not (edited by hand, or by a tool) could make `apply` act
    /// on an entry nobody reviewed, so it is refused before anything is observed or written.
    pub fn check(&self) -> Result<(), String> {
        let mut seen: std::collections::HashMap<&str, usize> = Default::default();
        for step in &self.steps {
            *seen.entry(step.id.as_str()).or_default() += 1;
        }
        if let Some(repeated) = self.steps.iter().find(|s| seen[s.id.as_str()] > 1) {
            return Err(format!(
                "step {} is listed {} times (a saved plan lists each step once)",
                repeated.id,
                seen[repeated.id.as_str()]
            ));
        }
        let changes = self.steps.iter().filter(|s| s.action.is_change()).count();
        if changes != self.changes {
            return Err(format!(
                "its `changes` is {}, but {changes} of its steps are changes (create, update, attach or after)",
                self.changes
            ));
        }
        Ok(())
    }
}

/// Why `apply FILE` refuses a saved plan before anything else: the saved plan itself cannot be
/// applied (`Invalid`), its plan file is not the one it was made from (`Changed`), or it
/// targets a pair the plan does not have (`NoSuchPair`: as `--pair` would be refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Invalid(String),
    Changed(String),
    NoSuchPair { pair: String, known: Vec<String> },
}

impl SavedPlan {
    /// The checks `apply FILE` makes before it loads anything: made by this version of the tool,
    /// given no flag of its own (`own_flags`: `--pair` or a rerun flag; a saved plan's are the
    /// ones given to `plan --out`), and its plan file unchanged (by digest). The plan file's
    /// bytes, to be loaded and compared once more ([`SavedPlan::same_bytes`]).
    pub fn check_applicable(&self, own_flags: bool) -> Result<Vec<u8>, Refusal> {
        let version = env!("CARGO_PKG_VERSION");
        if self.tool_version != version {
            return Err(Refusal::Invalid(format!(
                "it was made by nylas-migrate {}, and this is {version}",
                self.tool_version
            )));
        }
        if own_flags {
            return Err(Refusal::Invalid(
                "--pair and the rerun flags of a saved plan are the ones given to `plan --out`; apply it without them".into(),
            ));
        }
        let bytes = std::fs::read(&self.plan.path)
            .map_err(|e| Refusal::Changed(format!("cannot be read: {e}")))?;
        let digest = digest(&bytes);
        if digest != self.plan.sha256 {
            return Err(Refusal::Changed(format!(
                "changed since the saved plan was made (SHA-256 {digest}, saved {})",
                self.plan.sha256
            )));
        }
        Ok(bytes)
    }

    /// The run's options: the saved plan's rerun flags and targets, each checked against the
    /// plan's `graph` (a step or pair it does not have is refused), the targets in the plan's
    /// order. What to run next is said of the plan file (a saved plan takes no flags).
    pub fn run_options(&self, graph: &StepGraph) -> Result<RunOptions, Refusal> {
        let steps = |ids: &[String]| -> Result<Vec<StepId>, Refusal> {
            ids.iter()
                .map(|id| {
                    StepId::parse(id)
                        .filter(|s| graph.get(s).is_some())
                        .ok_or_else(|| {
                            Refusal::Invalid(format!(
                                "its rerun flag names {id}, which the plan does not have"
                            ))
                        })
                })
                .collect()
        };
        let rerun_waves = steps(&self.options.rerun_waves)?;
        let rerun_clones = steps(&self.options.rerun_clones)?;
        let rerun_links = steps(&self.options.rerun_links)?;
        let known: Vec<String> = graph.pairs().iter().map(|p| p.name.clone()).collect();
        if let Some(unknown) = self.targets.iter().find(|t| !known.contains(t)) {
            return Err(Refusal::NoSuchPair {
                pair: unknown.clone(),
                known,
            });
        }
        Ok(RunOptions {
            rerun_waves,
            rerun_clones,
            rerun_links,
            adopt_existing_jobs: self.options.adopt_existing_jobs,
            pairs: known
                .into_iter()
                .filter(|p| self.targets.contains(p))
                .collect(),
            plan_file: Some(self.plan.path.clone()),
        })
    }

    /// The plan was loaded from the bytes [`SavedPlan::check_applicable`] read: not changed in between.
    pub fn same_bytes(checked: &[u8], loaded: &[u8]) -> Result<(), Refusal> {
        if checked == loaded {
            Ok(())
        } else {
            Err(Refusal::Changed("changed while it was read".into()))
        }
    }

    /// The steps whose action differs between this saved plan and a new preview (see
    /// [`differences`]): any is a reason to refuse it before any write.
    pub fn stale(&self, now: &Preview) -> Vec<Changed> {
        let now_steps: Vec<SavedStep> = now
            .steps
            .iter()
            .map(|s| SavedStep {
                id: s.step.id.to_string(),
                action: SavedAction::of(s),
                reason: s.observation.reason.clone(),
            })
            .collect();
        differences(&self.steps, &now_steps)
    }
}

/// A step whose action differs between the saved plan and now (`None`: not in that one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub step: String,
    pub saved: Option<SavedAction>,
    pub now: Option<SavedAction>,
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |a: Option<SavedAction>| a.map_or("(not in the plan)", SavedAction::as_str);
        write!(
            f,
            "{}: {} → {}",
            self.step,
            name(self.saved),
            name(self.now)
        )
    }
}

/// The steps whose action (as `plan` shows it) differs between `saved` and `now`, in `now`'s
/// order, then the saved steps no longer there. Reasons are evidence, not compared: a count
/// or an ID in them may change without changing what `apply` does.
pub fn differences(saved: &[SavedStep], now: &[SavedStep]) -> Vec<Changed> {
    let before: std::collections::HashMap<&str, SavedAction> =
        saved.iter().map(|s| (s.id.as_str(), s.action)).collect();
    let mut changed: Vec<Changed> = now
        .iter()
        .filter(|s| before.get(s.id.as_str()) != Some(&s.action))
        .map(|s| Changed {
            step: s.id.clone(),
            saved: before.get(s.id.as_str()).copied(),
            now: Some(s.action),
        })
        .collect();
    let current: std::collections::HashSet<&str> = now.iter().map(|s| s.id.as_str()).collect();
    changed.extend(
        saved
            .iter()
            .filter(|s| !current.contains(s.id.as_str()))
            .map(|s| Changed {
                step: s.id.clone(),
                saved: Some(s.action),
                now: None,
            }),
    );
    changed
}

/// The saved plan's JSON Schema (draft-07), as `docs/saved-plan.schema.json` stores it.
pub fn schema_text() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<SavedPlan>();
    let mut text = serde_json::to_string_pretty(&schema.to_value()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, action: SavedAction) -> SavedStep {
        SavedStep {
            id: id.into(),
            action,
            reason: "r".into(),
        }
    }

    #[test]
    fn only_actions_are_compared_and_after_stays_after() {
        use SavedAction::*;
        let saved = [
            step("p/link", Create),
            step("p/webhook/u", Create),
            step("p/clone/a", After),
            step("p/gone", Create),
        ];
        let mut now = vec![
            step("p/link", Create),
            step("p/webhook/u", Update),
            step("p/clone/a", After),
            step("p/new", Create),
        ];
        now[0].reason = "other evidence".into();
        let shown: Vec<String> = differences(&saved, &now)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "p/webhook/u: create → update",
                "p/new: (not in the plan) → create",
                "p/gone: create → (not in the plan)",
            ]
        );
        assert!(differences(&saved, &saved).is_empty());
    }

    #[test]
    fn a_saved_plan_must_list_each_step_once_and_count_its_changes() {
        use SavedAction::*;
        let plan = |steps: Vec<SavedStep>, changes: usize| SavedPlan {
            format: Format::SavedPlan,
            version: FORMAT_VERSION,
            tool_version: "0".into(),
            observed_at: rfc3339(0),
            plan: SavedPlanFile {
                path: "plan.yaml".into(),
                name: "p".into(),
                sha256: digest(b""),
            },
            targets: vec![],
            options: SavedOptions::default(),
            changes,
            steps,
        };
        let cases = [
            (vec![], 0, Ok(())),
            (
                vec![
                    step("p/link", Create),
                    step("p/import", After),
                    step("p/webhook/u", Unchanged),
                    step("p/batch/w", Attach),
                    step("p/clone/a", Update),
                    step("p/clone/b", Blocked),
                    step("p/clone/c", Held),
                    step("p/clone/d", Failed),
                    step("p/clone/e", Conflict),
                ],
                4,
                Ok(()),
            ),
            (
                vec![step("p/link", Create), step("p/import", After)],
                1,
                Err(
                    "its `changes` is 1, but 2 of its steps are changes (create, update, attach or after)",
                ),
            ),
            (
                vec![
                    step("p/webhook/u", Unchanged),
                    step("p/link", Create),
                    step("p/webhook/u", Create),
                ],
                2,
                Err("step p/webhook/u is listed 2 times (a saved plan lists each step once)"),
            ),
        ];
        for (steps, changes, expected) in cases {
            let shown = format!("{steps:?} {changes}");
            assert_eq!(
                plan(steps, changes).check(),
                expected.map_err(str::to_owned),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_saved_plan_is_told_from_a_yaml_plan_by_its_marker() {
        assert!(detect(b"version: 1\nname: x\n").is_none());
        assert!(detect(br#"{"version": 1, "name": "x"}"#).is_none());
        let wrong = detect(br#"{"format": "nylas-migrate/saved-plan", "version": 9}"#);
        assert!(matches!(wrong, Some(Err(e)) if e.contains("version is 9")));
        assert!(matches!(
            detect(br#"{"format": "nylas-migrate/saved-plan", "version": 1}"#),
            Some(Err(_))
        ));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    /// A saved plan's targets and rerun flags, checked against the plan as `apply FILE` does.
    #[test]
    fn a_saved_plans_options_are_checked_against_the_plan() {
        let text = include_str!("../examples/us-and-eu.yaml");
        let plan = crate::plan::load_str(std::path::Path::new("plan.yaml"), "plan.yaml", text)
            .unwrap_or_else(|e| panic!("{:?}", e.diagnostics))
            .plan;
        let graph = StepGraph::build(&plan).unwrap();
        let saved = |targets: &[&str], waves: &[&str]| SavedPlan {
            format: Format::SavedPlan,
            version: FORMAT_VERSION,
            tool_version: "0".into(),
            observed_at: rfc3339(0),
            plan: SavedPlanFile {
                path: "plans/us-and-eu.yaml".into(),
                name: plan.name.clone(),
                sha256: digest(b""),
            },
            targets: targets.iter().map(|t| t.to_string()).collect(),
            options: SavedOptions {
                rerun_waves: waves.iter().map(|w| w.to_string()).collect(),
                adopt_existing_jobs: true,
                ..SavedOptions::default()
            },
            changes: 0,
            steps: vec![],
        };
        let wave = "acme-us/batch/everyone";
        let known = || vec!["acme-us".to_owned(), "acme-eu".to_owned()];
        // (targets, rerun waves) → the pairs run (in the plan's order), or the refusal.
        type Case<'a> = (&'a [&'a str], &'a [&'a str], Result<Vec<&'a str>, Refusal>);
        let cases: [Case; 5] = [
            (&[], &[], Ok(vec![])),
            (
                &["acme-eu", "acme-us"],
                &[wave],
                Ok(vec!["acme-us", "acme-eu"]),
            ),
            (&["acme-eu", "acme-eu"], &[], Ok(vec!["acme-eu"])),
            (
                &["acme-us"],
                &["acme-us/batch/nobody"],
                Err(Refusal::Invalid(
                    "its rerun flag names acme-us/batch/nobody, which the plan does not have"
                        .into(),
                )),
            ),
            (
                &["acme-us", "acme-ap"],
                &[wave],
                Err(Refusal::NoSuchPair {
                    pair: "acme-ap".into(),
                    known: known(),
                }),
            ),
        ];
        for (targets, waves, expected) in cases {
            let got = saved(targets, waves).run_options(&graph);
            match expected {
                Ok(pairs) => {
                    let options = got.unwrap_or_else(|r| panic!("{targets:?}: {r:?}"));
                    assert_eq!(options.pairs, pairs, "{targets:?}");
                    assert_eq!(options.rerun_waves.len(), waves.len(), "{waves:?}");
                    assert!(options.rerun_waves.iter().all(|w| w.as_str() == wave));
                    assert!(options.adopt_existing_jobs);
                    assert_eq!(options.plan_file.as_deref(), Some("plans/us-and-eu.yaml"));
                }
                Err(refusal) => assert_eq!(got.unwrap_err(), refusal, "{targets:?} {waves:?}"),
            }
        }
    }
}
