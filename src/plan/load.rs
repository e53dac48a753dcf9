//! Reading a plan: bytes → text → spanned YAML → schema check → typed plan → semantic rules.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::diagnostic::{MAX_DIAGNOSTICS, PlanDiagnostic, SharedSource};
use super::display::DisplayText;
use super::model::{Pair, Plan};
use super::schema::{pair_validator, shell_validator};
use super::schema_check::SchemaCheck;
use super::trust::Trust;
use super::{characters, inline_secret, rules};
use crate::code::Code;
use crate::untrusted::escaped;
use crate::yaml::{self, LineIndex, Node};

/// The largest plan file read. A plan with 500 pairs and 20,000 accounts is about 1 MiB.
pub const MAX_PLAN_BYTES: usize = 32 * 1024 * 1024;

/// A plan that passed validation, with the source it came from.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub plan: Plan,
    pub source: PlanSource,
}

/// Where a valid plan came from.
#[derive(Debug, Clone)]
pub struct PlanSource {
    /// The path the plan was read from (a test name when not from a file).
    pub path: PathBuf,
    /// The file's name as diagnostics show it.
    pub name: String,
}

/// A plan that did not pass: every problem found, in source order, with the file attached.
#[derive(Debug, Clone)]
pub struct InvalidPlan {
    pub name: String,
    pub diagnostics: Vec<PlanDiagnostic>,
}

/// Reads and validates the plan at `path`, with no opt-in (see [`Trust`]).
pub fn load_file(path: &Path) -> Result<LoadedPlan, InvalidPlan> {
    load_file_with(path, &Trust::default())
}

/// Reads and validates the plan at `path`, allowing what `trust` opts in to.
pub fn load_file_with(path: &Path, trust: &Trust) -> Result<LoadedPlan, InvalidPlan> {
    let (name, bytes) = read_file(path)?;
    load_bytes_with(path, &name, &bytes, trust)
}

/// A plan file's name as shown (escaped) and its bytes, or `plan::unreadable`.
pub fn read_file(path: &Path) -> Result<(String, Vec<u8>), InvalidPlan> {
    // A file name can come from a glob over a pull request's files: shown escaped.
    let name = escaped(&path.display().to_string()).into_owned();
    let bytes = std::fs::read(path).map_err(|err| InvalidPlan {
        name: name.clone(),
        diagnostics: vec![
            PlanDiagnostic::new(
                Code::PlanUnreadable,
                0..0,
                format!("cannot read {name}: {err}"),
            )
            .help(
                "PLAN is the path of a plan file, relative to the current folder; check that it exists and this user can read it",
            )
            .attach(&name, ""),
        ],
    })?;
    Ok((name, bytes))
}

/// Validates a plan given as bytes (the file's content), with no opt-in.
pub fn load_bytes(path: &Path, name: &str, bytes: &[u8]) -> Result<LoadedPlan, InvalidPlan> {
    load_bytes_with(path, name, bytes, &Trust::default())
}

/// Validates a plan given as bytes, allowing what `trust` opts in to.
pub fn load_bytes_with(
    path: &Path,
    name: &str,
    bytes: &[u8],
    trust: &Trust,
) -> Result<LoadedPlan, InvalidPlan> {
    let fail = |d: PlanDiagnostic, shown: &str| InvalidPlan {
        name: name.to_owned(),
        diagnostics: vec![d.attach(name, shown)],
    };
    if bytes.len() > MAX_PLAN_BYTES {
        return Err(fail(
            PlanDiagnostic::new(
                Code::PlanTooLarge,
                0..0,
                format!(
                    "{name} is {} MiB; plans are limited to {} MiB",
                    bytes.len() / (1024 * 1024),
                    MAX_PLAN_BYTES / (1024 * 1024)
                ),
            )
            .help("split the migration into several plans"),
            "",
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let at = err.valid_up_to();
            let lossy = String::from_utf8_lossy(bytes);
            // The lossy copy replaces the bad bytes, so the offset of the first one is still
            // the offset of a character boundary in it. It is shown as any plan is: its
            // secrets masked (found in the text, since it is not parsed) and its unsafe
            // characters replaced, so that no snippet drives the terminal.
            let shown = DisplayText::new(
                &lossy,
                &inline_secret::find_in_text(&lossy),
                &characters::raw_positions(&lossy),
            );
            let source = SharedSource::new(name, &shown.text);
            let line_column = LineIndex::new(&lossy).line_column(&lossy, at);
            let d = PlanDiagnostic::new(
                Code::PlanNotUtf8,
                at..at,
                format!("{name} is not valid UTF-8 (first bad byte at offset {at})"),
            )
            .label("invalid UTF-8 here")
            .help("save the plan as UTF-8");
            return Err(InvalidPlan {
                name: name.to_owned(),
                diagnostics: vec![d.attach_shown(&source, &shown, line_column)],
            });
        }
    };
    load_str_with(path, name, text, trust)
}

/// Validates a plan given as text, with no opt-in.
pub fn load_str(path: &Path, name: &str, text: &str) -> Result<LoadedPlan, InvalidPlan> {
    load_str_with(path, name, text, &Trust::default())
}

/// Validates a plan given as text, allowing what `trust` opts in to. `path` locates the plan's
/// folder, which `{ file: }` secrets are relative to.
pub fn load_str_with(
    path: &Path,
    name: &str,
    text: &str,
    trust: &Trust,
) -> Result<LoadedPlan, InvalidPlan> {
    let plan_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match read_lean(text, trust, plan_dir) {
        Some(plan) => Ok(LoadedPlan {
            plan,
            source: PlanSource {
                path: path.to_path_buf(),
                name: name.to_owned(),
            },
        }),
        None => read_full(path, name, text, trust, plan_dir),
    }
}

/// The plan read in full: every problem found and reported in place, or the plan.
fn read_full(
    path: &Path,
    name: &str,
    text: &str,
    trust: &Trust,
    plan_dir: &Path,
) -> Result<LoadedPlan, InvalidPlan> {
    let (root, yaml_errors) = yaml::parse_collecting(text);
    // Secrets and unsafe characters are found before anything is reported, so no snippet ever
    // shows a secret (or its length) or drives the terminal.
    let (secrets, mut masked) = root.as_ref().map(inline_secret::find).unwrap_or_default();
    if root.is_none() || !yaml_errors.is_empty() {
        // A file that did not parse (whole) has secrets no tree shows: found in its text.
        masked.extend(inline_secret::find_in_text(text));
    } else {
        masked.extend(inline_secret::userinfo_spans(text));
    }
    let raw_unsafe = characters::raw_positions(text);
    let mut diagnostics: Vec<PlanDiagnostic> =
        yaml_errors.into_iter().map(from_yaml_error).collect();
    diagnostics.extend(characters::check(text, root.as_ref(), &raw_unsafe));

    // Set when a stage stopped at the cap rather than find every problem.
    let mut stopped = false;
    let plan = match &root {
        Some(root) => {
            diagnostics.extend(secrets.iter().map(inline_secret::diagnostic));
            validate_tree(
                root,
                &secrets,
                trust,
                plan_dir,
                &mut diagnostics,
                &mut stopped,
            )
        }
        None => None,
    };

    match plan {
        Some(plan) if diagnostics.is_empty() => Ok(LoadedPlan {
            plan,
            source: PlanSource {
                path: path.to_path_buf(),
                name: name.to_owned(),
            },
        }),
        _ => {
            diagnostics.sort_by_key(|d| (d.span.start, d.code.as_str()));
            let total = diagnostics.len();
            if total > MAX_DIAGNOSTICS || stopped {
                diagnostics.truncate(MAX_DIAGNOSTICS);
                let end = text.len();
                let message = if stopped {
                    format!(
                        "validation stopped after {MAX_DIAGNOSTICS} problems; more are not shown"
                    )
                } else {
                    format!(
                        "{} more problems are not shown (only the first {MAX_DIAGNOSTICS} are)",
                        total - MAX_DIAGNOSTICS
                    )
                };
                diagnostics.push(
                    PlanDiagnostic::new(Code::PlanTooManyProblems, end..end, message)
                        .help("fix the problems above, then validate again"),
                );
            }
            let shown = DisplayText::new(text, &masked, &raw_unsafe);
            // One copy of the shown text for all of the file's diagnostics; lines and columns
            // are the file's own (diagnostics are in source order, so the index scans once).
            let source = SharedSource::new(name, &shown.text);
            let mut lines = LineIndex::new(text);
            Err(InvalidPlan {
                name: escaped(name).into_owned(),
                diagnostics: diagnostics
                    .into_iter()
                    .map(|d| {
                        let at = lines.line_column(text, d.span.start);
                        d.attach_shown(&source, &shown, at)
                    })
                    .collect(),
            })
        }
    }
}

/// A valid plan, read in one pass with each pair checked and read into the model as the parser
/// completes it, while its nodes are fresh in the processor's cache; or `None` at the first
/// sign of any problem, for [`load_str_with`] to read the plan again in full and report every
/// problem in place.
///
/// At 80,000 accounts each walk of the whole tree cost more per node than at 20,000, the tree
/// having outgrown the cache. Here the tree keeps a stand-in for each pair read (its span only),
/// so nothing walks the pairs' nodes again and the tree stays small. Every check of the full
/// reading is made, on the same parts: in each pair as it is read (secrets written inline,
/// characters, the schema, the model, the rules within a pair, and that it repeats no name, ID
/// or account of the pairs before it), in the rest of the tree after, then the rest of the rules
/// across pairs and of the whole plan, on the pairs read.
fn read_lean(text: &str, trust: &Trust, plan_dir: &Path) -> Option<Plan> {
    // An unsafe character written raw, or an escape sequence that may hide one in a pair.
    if !characters::raw_positions(text).is_empty() {
        return None;
    }
    let escapes = text.as_bytes().contains(&b'\\');
    let mut pairs: Vec<(usize, Pair)> = Vec::new();
    let mut distinct = rules::Distinct::default();
    let mut clean = true;
    let (root, yaml_errors) = yaml::parse_collecting_visiting(text, "pairs", &mut |i, node| {
        let read = (clean && i == pairs.len())
            .then(|| read_pair(i, &node, escapes))
            .flatten()
            .filter(|pair| rules::pair_passes(i, pair, trust, plan_dir) && distinct.add(pair));
        match read {
            Some(pair) => {
                pairs.push((i, pair));
                Node {
                    value: yaml::Value::Null,
                    span: node.span,
                }
            }
            None => {
                clean = false;
                node
            }
        }
    });
    let root = root.filter(|_| clean && yaml_errors.is_empty())?;
    let (mut instance, listed) = shell_json(&root);
    if listed.map(<[Node]>::len) != Some(pairs.len())
        || !inline_secret::find(&root).0.is_empty()
        || !characters::check(text, Some(&root), &[]).is_empty()
        || !shell_validator().is_valid(&instance)
    {
        return None;
    }
    if let Some(listed) = instance.get_mut("pairs") {
        *listed = serde_json::Value::Array(Vec::new());
    }
    let mut plan = serde_json::from_value::<Plan>(instance).ok()?;
    if !rules::check_read(&root, &pairs, trust, plan_dir).is_empty() {
        return None;
    }
    plan.pairs = pairs.into_iter().map(|(_, p)| p).collect();
    Some(plan)
}

/// The pair at `/pairs/{index}` read into the model, when it has no problem of its own: no
/// secret written inline, no unsafe character (looked for when the file has an escape
/// sequence), and it fits the schema.
fn read_pair(index: usize, node: &Node, escapes: bool) -> Option<Pair> {
    if !inline_secret::find_in_pair(index, node).0.is_empty()
        || (escapes && characters::holds_unsafe(node))
    {
        return None;
    }
    let json = node.to_json();
    if !pair_validator().is_valid(&json) {
        return None;
    }
    Pair::deserialize(&json).ok()
}

fn validate_tree(
    root: &Node,
    secrets: &[inline_secret::InlineSecret],
    trust: &Trust,
    plan_dir: &Path,
    diagnostics: &mut Vec<PlanDiagnostic>,
    stopped: &mut bool,
) -> Option<Plan> {
    if matches!(root.value, yaml::Value::Null) {
        diagnostics.push(
            PlanDiagnostic::new(Code::PlanEmpty, root.span.clone(), "the plan is empty")
                .help("start from one of the plans in examples/, or see `nylas-migrate schema`"),
        );
        return None;
    }
    let skip: Vec<String> = secrets.iter().map(|s| s.pointer.clone()).collect();
    // Enough to fill the report whatever the other stages found; past it the check stops.
    let mut check = SchemaCheck::new(root, &skip, MAX_DIAGNOSTICS + 1);
    // The pairs are the bulk of a large plan. Each is made JSON, checked and read on its own,
    // and its JSON dropped before the next: no JSON copy of the whole plan is ever built (at
    // 80,000 accounts it was a third of the peak heap, and building and freeing it made the
    // allocator's work grow faster than the plan).
    let (mut instance, pair_nodes) = shell_json(root);
    let mut valid_pairs: Vec<(usize, Pair)> = Vec::new();
    let mut misread = None;
    match pair_nodes {
        Some(nodes) => {
            check.shell(&instance);
            valid_pairs.reserve_exact(nodes.len());
            for (i, node) in nodes.iter().enumerate() {
                let json = node.to_json();
                check.pair(i, &json);
                match Pair::deserialize(&json) {
                    Ok(pair) => valid_pairs.push((i, pair)),
                    Err(err) => {
                        misread.get_or_insert(err);
                    }
                }
            }
        }
        None => check.whole(&instance),
    }
    let (schema_errors, schema_stopped) = check.finish();
    *stopped |= schema_stopped;
    diagnostics.extend(rules::check(root, &valid_pairs, trust, plan_dir));
    if !schema_errors.is_empty() || !secrets.is_empty() {
        diagnostics.extend(schema_errors);
        return None;
    }
    if let Some(err) = misread {
        diagnostics.push(model_mismatch(root, &err));
        return None;
    }
    if pair_nodes.is_some()
        && let Some(pairs) = instance.get_mut("pairs")
    {
        // Every pair is read: the plan is read without them, then given them.
        *pairs = serde_json::Value::Array(Vec::new());
    }
    match serde_json::from_value::<Plan>(instance) {
        Ok(mut plan) => {
            if pair_nodes.is_some() {
                plan.pairs = valid_pairs.into_iter().map(|(_, p)| p).collect();
            }
            Some(plan)
        }
        Err(err) => {
            diagnostics.push(model_mismatch(root, &err));
            None
        }
    }
}

/// The plan's JSON with each item of `pairs` a placeholder (`null`), and the pairs' nodes; or,
/// when the plan is not a mapping with a list of pairs, its whole JSON and no pairs.
fn shell_json(root: &Node) -> (serde_json::Value, Option<&[Node]>) {
    let yaml::Value::Map(entries) = &root.value else {
        return (root.to_json(), None);
    };
    let mut pairs = None;
    let mut map = serde_json::Map::new();
    for (key, value) in entries {
        let key = key.as_str().unwrap_or_default();
        let json = match &value.value {
            yaml::Value::Seq(items) if key == "pairs" => {
                pairs = Some(items.as_slice());
                serde_json::Value::Array(vec![serde_json::Value::Null; items.len()])
            }
            _ => {
                if key == "pairs" {
                    pairs = None;
                }
                value.to_json()
            }
        };
        map.insert(key.to_owned(), json);
    }
    (serde_json::Value::Object(map), pairs)
}

/// A plan the schema accepts and the model does not. The schema is generated from the same
/// types, so this means the two disagree: a bug in this program, reported rather than hidden.
fn model_mismatch(root: &Node, err: &serde_json::Error) -> PlanDiagnostic {
    PlanDiagnostic::new(
        Code::PlanInternal,
        root.span.clone(),
        format!("the plan fits the schema but not the model: {err}"),
    )
    .help("this is a bug in nylas-migrate; please report it with the plan")
}

fn from_yaml_error(err: yaml::YamlError) -> PlanDiagnostic {
    let code = if err.message.starts_with("duplicate key") {
        Code::PlanDuplicateKey
    } else {
        Code::PlanSyntax
    };
    let label = if code == Code::PlanDuplicateKey {
        "repeated here"
    } else {
        "here"
    };
    let mut d = PlanDiagnostic::new(code, err.span.clone(), err.message).label(label);
    if let Some((label, span)) = err.related {
        d = d.related(label, span);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan of `pairs`, each given as (name, v2 app ID, extra lines).
    fn plan_of(pairs: &[(&str, &str, &str)]) -> String {
        let mut text = String::from("version: 1\nname: t\npairs:\n");
        for (i, (name, v2, extra)) in pairs.iter().enumerate() {
            text.push_str(&format!(
                "  - name: {name}\n    region: us\n    v2: {{ app_id: {v2}, client_secret: {{ env: S{i} }} }}\n    v3: {{ app_id: ad410018-d306-43f9-8361-fa5d7b2172e{i}, api_key: {{ env: K{i} }} }}\n{extra}"
            ));
        }
        text
    }

    /// Each problem, as its code and the text its span covers.
    fn problems(text: &str) -> Vec<(Code, String)> {
        let Err(invalid) = load_str(Path::new("p.yaml"), "p.yaml", text) else {
            panic!("the plan is valid:\n{text}");
        };
        invalid
            .diagnostics
            .iter()
            // A plain scalar's span in a flow mapping ends after the space that follows it.
            .map(|d| (d.code, text[d.span.clone()].trim_end().to_owned()))
            .collect()
    }

    #[test]
    fn each_pair_is_checked_on_its_own_and_reported_in_place() {
        /// (case, the plan, each problem's code and the text it points at)
        type Case = (&'static str, String, Vec<(Code, &'static str)>);
        let cases: [Case; 5] = [
            (
                "problems in the second and third pairs",
                plan_of(&[
                    ("a", "v2a", ""),
                    ("b", "v2b", "    webhook: []\n"),
                    ("c", "v2c", "    rate_limit: fast\n"),
                ]),
                vec![
                    (Code::PlanUnknownKey, "webhook"),
                    (Code::PlanWrongType, "fast"),
                ],
            ),
            (
                "a secret written inline in the second pair is reported once, not also by the schema",
                plan_of(&[("a", "v2a", ""), ("b", "v2b", "")]).replace("{ env: S1 }", "hunter2"),
                vec![(Code::PlanInlineSecret, "hunter2")],
            ),
            (
                "pairs that are not a list",
                "version: 1\nname: t\npairs: nope\n".to_owned(),
                vec![(Code::PlanWrongType, "nope")],
            ),
            (
                "an empty list of pairs",
                "version: 1\nname: t\npairs: []\n".to_owned(),
                vec![(Code::PlanTooFew, "[]")],
            ),
            (
                "a pair that is not a mapping",
                plan_of(&[("a", "v2a", "  - just-a-name\n")]),
                vec![(Code::PlanWrongType, "just-a-name")],
            ),
        ];
        for (case, text, expected) in cases {
            let expected: Vec<(Code, String)> = expected
                .into_iter()
                .map(|(code, at)| (code, at.to_owned()))
                .collect();
            assert_eq!(problems(&text), expected, "{case}\n{text}");
        }
    }

    #[test]
    fn a_plan_read_a_pair_at_a_time_keeps_its_pairs_in_order() {
        let text = plan_of(&[("a", "v2a", ""), ("b", "v2b", ""), ("c", "v2c", "")]);
        let loaded = load_str(Path::new("p.yaml"), "p.yaml", &text).expect("valid");
        let names: Vec<&str> = loaded.plan.pairs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn the_lean_reading_reads_every_valid_plan_as_the_full_one_and_no_other() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut plans: Vec<PathBuf> = Vec::new();
        for folder in [dir.clone(), dir.join("invalid"), dir.join("ci")] {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    plans.push(path);
                }
            }
        }
        // And plans whose problems only the full reading's later stages find.
        let cases = [
            (
                "escaped",
                plan_of(&[("a", "v2a", "    description: \"\\e[2J\"\n")]),
            ),
            (
                "inline secret",
                plan_of(&[("a", "v2a", "")]).replace("{ env: S0 }", "hunter2"),
            ),
            (
                "repeated account",
                plan_of(&[("a", "v2a", "    clone: { single: [x, x] }\n")]),
            ),
            (
                "account in two pairs",
                plan_of(&[
                    ("a", "v2a", "    clone: { single: [x] }\n"),
                    ("b", "v2b", "    clone: { single: [x] }\n"),
                ]),
            ),
            (
                "repeated name",
                plan_of(&[("a", "v2a", ""), ("a", "v2b", "")]),
            ),
            (
                "repeated v2 application",
                plan_of(&[("a", "v2a", ""), ("b", "v2a", "")]),
            ),
            (
                "unknown pair",
                plan_of(&[("a", "v2a", "    after: [zz]\n")]),
            ),
            (
                "a cycle",
                plan_of(&[
                    ("a", "v2a", "    after: [b]\n"),
                    ("b", "v2b", "    after: [a]\n"),
                ]),
            ),
            (
                "root secret",
                plan_of(&[("a", "v2a", "")]).replace(
                    "name: t\n",
                    "name: t\nstate: { postgres: { url: postgres://u:p@h/d } }\n",
                ),
            ),
            (
                "valid",
                plan_of(&[("a", "v2a", ""), ("b", "v2b", "    after: [a]\n")]),
            ),
        ];
        assert!(plans.len() > 10, "{plans:?}");
        let mut valid = 0;
        let texts = plans
            .iter()
            .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
            .chain(
                cases
                    .into_iter()
                    .map(|(case, text)| (case.to_owned(), text)),
            );
        for (case, text) in texts {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
            let trust = Trust::default();
            let full = read_full(&dir.join("p.yaml"), "p.yaml", &text, &trust, &dir)
                .ok()
                .map(|l| l.plan);
            let lean = read_lean(&text, &trust, &dir);
            assert_eq!(lean, full, "{case}");
            if !case.ends_with(".yaml") {
                assert_eq!(full.is_some(), case == "valid", "{case}:\n{text}");
            }
            valid += usize::from(full.is_some());
        }
        assert!(valid > 3, "{valid} valid plans");
    }

    #[test]
    fn a_plan_the_model_rejects_is_reported_as_a_bug() {
        // No plan reaches it while the schema comes from the model: the diagnostic is built
        // from a model error directly.
        let (root, _) = yaml::parse_collecting("version: 1\n");
        let err = serde_json::from_str::<Plan>("{}").unwrap_err();
        let d = model_mismatch(&root.unwrap(), &err);
        assert_eq!(d.code, Code::PlanInternal);
        assert!(
            d.help
                .as_deref()
                .unwrap_or_default()
                .contains("this is a bug in nylas-migrate"),
            "{d:?}"
        );
    }
}
