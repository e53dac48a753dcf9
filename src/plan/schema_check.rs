//! Checks a plan's JSON form against the plan schema and turns each violation into a
//! diagnostic at the offending node, worded for a person writing YAML.

use hashbrown::{HashMap, HashSet};
use std::ops::Range;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, paths::Location};
use serde_json::Value as Json;

use super::diagnostic::PlanDiagnostic;
use super::lookup::Lookup;
use super::schema::{pair_validator, plan_schema, shell_validator, validator};
use super::suggest::did_you_mean;
use super::triggers::{self, V2Fate};
use super::words::either;
use crate::api::TriggerType;
use crate::code::Code;
use crate::yaml::{Node, Value};

/// The schema violations of a plan, found a part at a time: the plan without its pairs' contents
/// ([`SchemaCheck::shell`]), then each pair ([`SchemaCheck::pair`]), so that no JSON copy of the
/// whole plan is ever built. Violations at or under `skip` pointers (already reported more
/// precisely, such as inline secrets) are left out. Past `limit` diagnostics the check stops:
/// each costs a suggestion (an edit distance against every allowed value) and a lookup, and a
/// hostile plan can have hundreds of thousands (240,000 unknown triggers took 71 s when only the
/// printing was capped).
pub struct SchemaCheck<'a> {
    lookup: Lookup<'a>,
    skip: HashSet<&'a str>,
    limit: usize,
    out: Vec<PlanDiagnostic>,
    stopped: bool,
}

impl<'a> SchemaCheck<'a> {
    pub fn new(root: &'a Node, skip: &'a [String], limit: usize) -> Self {
        SchemaCheck {
            lookup: Lookup::new(root),
            skip: skip.iter().map(String::as_str).collect(),
            limit,
            out: Vec::new(),
            stopped: false,
        }
    }

    /// Checks the whole plan, `pairs` and all.
    pub fn whole(&mut self, instance: &Json) {
        self.run(validator(), "", instance);
    }

    /// Checks the plan with every item of `pairs` allowed: the items are checked by
    /// [`SchemaCheck::pair`].
    pub fn shell(&mut self, instance: &Json) {
        self.run(shell_validator(), "", instance);
    }

    /// Checks the pair at `/pairs/{index}`.
    pub fn pair(&mut self, index: usize, instance: &Json) {
        self.run(pair_validator(), &format!("/pairs/{index}"), instance);
    }

    fn run(&mut self, validator: &jsonschema::Validator, prefix: &str, instance: &Json) {
        if self.stopped {
            return;
        }
        let at = Place {
            lookup: &self.lookup,
            skip: &self.skip,
            prefix,
        };
        for error in validator.iter_errors(instance) {
            if self.out.len() >= self.limit {
                self.stopped = true;
                return;
            }
            report(&at, &error, &mut self.out);
        }
    }

    /// The diagnostics, and whether the check stopped at the limit before the end.
    pub fn finish(self) -> (Vec<PlanDiagnostic>, bool) {
        (self.out, self.stopped)
    }
}

/// Where a validator's errors are placed: the tree they are looked up in, the pointers left
/// out, and the pointer of the part validated (its errors' paths are relative to it).
struct Place<'l, 'a> {
    lookup: &'l Lookup<'a>,
    skip: &'l HashSet<&'a str>,
    prefix: &'l str,
}

impl Place<'_, '_> {
    /// The plan's pointer of an error's instance.
    fn pointer(&self, error: &ValidationError<'_>) -> String {
        format!("{}{}", self.prefix, error.instance_path().as_str())
    }
}

/// Whether `pointer` is one of `skip` or under one. Looked up per ancestor: comparing with
/// every skipped pointer made many errors × many inline secrets quadratic.
fn skipped(pointer: &str, skip: &HashSet<&str>) -> bool {
    !skip.is_empty()
        && (skip.contains(pointer)
            || pointer
                .match_indices('/')
                .any(|(i, _)| skip.contains(&pointer[..i])))
}

fn report(at: &Place<'_, '_>, error: &ValidationError<'_>, out: &mut Vec<PlanDiagnostic>) {
    let lookup = at.lookup;
    let pointer = at.pointer(error);
    if skipped(&pointer, at.skip) {
        return;
    }
    let (key_node, node) = locate(lookup, &pointer);
    let field = field_name(&pointer);
    let diagnostic = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            unknown_keys(error, node, &pointer, unexpected, out);
            return;
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            if let Some(options) = all_constants(context) {
                enum_diagnostic(lookup, node, &pointer, &field, &options)
            } else if let Some(keys) = reference_keys(error.schema_path())
                && !is_reference(node, &keys)
            {
                reference_diagnostic(node, &field, &keys)
            } else if let Some(branch) = best_branch(at, &pointer, context) {
                for inner in branch {
                    report(at, inner, out);
                }
                return;
            } else {
                PlanDiagnostic::new(
                    Code::PlanInvalidValue,
                    node.span.clone(),
                    format!("{}{} does not fit here", describe(node), in_field(&field)),
                )
                .label("unexpected value")
            }
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            enum_diagnostic(lookup, node, &pointer, &field, &options)
        }
        ValidationErrorKind::Required { property } => missing_key(
            key_node,
            node,
            &pointer,
            property.as_str().unwrap_or_default(),
        ),
        ValidationErrorKind::Type { kind } => PlanDiagnostic::new(
            Code::PlanWrongType,
            node.span.clone(),
            format!(
                "expected {}{}, found {}",
                type_words(&format!("{kind:?}")),
                in_field(&field),
                node.kind()
            ),
        )
        .label(format!("this is {}", node.kind())),
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            range_diagnostic(node, &field, format!("at least {limit}"))
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            let mut d = range_diagnostic(node, &field, format!("at most {limit}"));
            if field == "rate_limit" {
                d = d.help("Nylas allows at most 20 requests per second per application");
            }
            d
        }
        ValidationErrorKind::MinItems { limit } => PlanDiagnostic::new(
            Code::PlanTooFew,
            node.span.clone(),
            format!("`{field}` needs at least {limit} item{}", plural(*limit)),
        )
        .label("empty"),
        ValidationErrorKind::MinLength { limit } => PlanDiagnostic::new(
            Code::PlanTooShort,
            node.span.clone(),
            format!(
                "`{field}` must be at least {limit} character{} long",
                plural(*limit)
            ),
        )
        .label("too short"),
        ValidationErrorKind::MaxLength { limit } => PlanDiagnostic::new(
            Code::PlanTooLong,
            node.span.clone(),
            format!("`{field}` must be at most {limit} characters long"),
        )
        .label("too long"),
        ValidationErrorKind::Pattern { pattern } => PlanDiagnostic::new(
            Code::PlanBadFormat,
            node.span.clone(),
            format!(
                "{}{} is not in the expected format",
                describe(node),
                in_field(&field)
            ),
        )
        .label("wrong format")
        .help(pattern_help(&field, pattern)),
        _ => PlanDiagnostic::new(
            Code::PlanInvalidValue,
            node.span.clone(),
            format!("{}{}: {error}", describe(node), in_field(&field)),
        )
        .label("invalid value"),
    };
    out.push(diagnostic);
}

/// Each key the schema does not know at `pointer`, with the closest known one or the list.
fn unknown_keys(
    error: &ValidationError<'_>,
    node: &Node,
    pointer: &str,
    unexpected: &[String],
    out: &mut Vec<PlanDiagnostic>,
) {
    let allowed = allowed_properties(error.schema_path());
    // Looked up by name once: `Node::entry` is a linear search, and a mapping with
    // hundreds of thousands of unknown keys made that quadratic (minutes for 3 MB).
    let key_spans: HashMap<&str, &Range<usize>> = match &node.value {
        Value::Map(entries) => entries
            .iter()
            .rev()
            .filter_map(|(k, _)| Some((k.as_str()?, &k.span)))
            .collect(),
        _ => HashMap::new(),
    };
    for key in unexpected {
        let key_span = key_spans
            .get(key.as_str())
            .map_or(node.span.clone(), |&span| span.clone());
        let mut d = PlanDiagnostic::new(
            Code::PlanUnknownKey,
            key_span,
            format!("unknown key `{key}`{}", in_field(&readable_path(pointer))),
        )
        .label("not a known key here");
        d = match did_you_mean(key, allowed.iter().map(String::as_str)) {
            Some(close) => d.help(format!("did you mean `{close}`?")),
            None if !allowed.is_empty() => {
                d.help(format!("known keys here: {}", allowed.join(", ")))
            }
            None => d,
        };
        out.push(d);
    }
}

/// A required key that is missing, pointed at the key of the mapping that lacks it.
fn missing_key(key_node: Option<&Node>, node: &Node, pointer: &str, name: &str) -> PlanDiagnostic {
    let span = key_node.map_or(node.span.clone(), |k| k.span.clone());
    let mut d = PlanDiagnostic::new(
        Code::PlanMissingKey,
        span,
        format!(
            "missing required key `{name}`{}",
            in_field(&readable_path(pointer))
        ),
    )
    .label(format!("`{name}` is required here"));
    if let Some(help) = required_help(name) {
        d = d.help(help);
    }
    d
}

/// The node at `pointer`, falling back to the closest ancestor that exists.
fn locate<'a>(lookup: &Lookup<'a>, pointer: &str) -> (Option<&'a Node>, &'a Node) {
    let mut p = pointer;
    loop {
        if let Some(found) = lookup.pointer_entry(p) {
            return found;
        }
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => return (None, lookup.root()),
        }
    }
}

/// The last named segment of a pointer (`/pairs/0/v2/app_id` → `app_id`), skipping indexes.
fn field_name(pointer: &str) -> String {
    pointer
        .rsplit('/')
        .find(|s| !s.is_empty() && s.parse::<usize>().is_err())
        .unwrap_or("")
        .replace("~1", "/")
        .replace("~0", "~")
}

fn in_field(field: &str) -> String {
    if field.is_empty() {
        " at the top level".to_owned()
    } else {
        format!(" in `{field}`")
    }
}

/// A pointer as a person would write the path: `/pairs/0/v3/api_key` → `pairs[0].v3.api_key`.
fn readable_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

fn describe(node: &Node) -> String {
    match &node.value {
        crate::yaml::Value::String(s) if s.chars().count() <= 60 => format!("`{s}`"),
        _ => "this value".to_owned(),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn type_words(kind: &str) -> String {
    let lower = kind.to_lowercase();
    let words = |t: &str| match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        "null" => "nothing",
        _ => "another type",
    };
    ["object", "array", "string", "integer", "number", "boolean"]
        .iter()
        .filter(|t| lower.contains(*t))
        .map(|t| words(t))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn range_diagnostic(node: &Node, field: &str, bound: String) -> PlanDiagnostic {
    PlanDiagnostic::new(
        Code::PlanOutOfRange,
        node.span.clone(),
        format!("`{field}` must be {bound}"),
    )
    .label("out of range")
}

fn enum_diagnostic(
    lookup: &Lookup<'_>,
    node: &Node,
    pointer: &str,
    field: &str,
    options: &[String],
) -> PlanDiagnostic {
    let shown = match &node.value {
        crate::yaml::Value::String(s) => format!("`{s}`"),
        _ => node.kind().to_owned(),
    };
    if matches!(field, "triggers" | "test")
        && let Some(d) = trigger_diagnostic(lookup, node, pointer, field)
    {
        return d;
    }
    let what = match field {
        "region" => "region",
        "provider" | "providers" => "provider",
        "triggers" => trigger_kind(pointer),
        "test" => "test trigger",
        "platform" => "platform",
        "mode" => "mode",
        _ => "value",
    };
    let d = PlanDiagnostic::new(
        Code::PlanUnknownValue,
        node.span.clone(),
        format!("unknown {what} {shown}{}", in_field(field)),
    )
    .label(format!("not a known {what}"));
    let close = node
        .as_str()
        .and_then(|s| did_you_mean(s, options.iter().map(String::as_str)));
    let expected = if options.len() > 12 {
        format!(
            "see `nylas-migrate schema` for all {} values",
            options.len()
        )
    } else {
        format!("expected one of: {}", options.join(", "))
    };
    match close {
        Some(close) => d.help(format!("did you mean `{close}`? ({expected})")),
        None => d.help(expected),
    }
}

/// What kind of destination's trigger the item at `pointer` is.
fn trigger_kind(pointer: &str) -> &'static str {
    if pointer.contains("/pubsub/") {
        "Pub/Sub trigger"
    } else if pointer.contains("/sns/") {
        "SNS trigger"
    } else {
        "webhook trigger"
    }
}

/// A trigger name the contract's enum refuses but that says more than "unknown": a v2 trigger
/// (with its v3 replacement, or none), or a trigger Nylas cannot send a test event for.
fn trigger_diagnostic(
    lookup: &Lookup<'_>,
    node: &Node,
    pointer: &str,
    field: &str,
) -> Option<PlanDiagnostic> {
    let name = node.as_str()?;
    if let Some(fate) = triggers::v2_only(name) {
        let (message, label, help) = match fate {
            V2Fate::Replaced(with, why) => (
                format!(
                    "`{name}` is a Nylas v2 trigger; in v3 it is {}",
                    either(with)
                ),
                "v2 trigger",
                format!("write {} instead: {why}", either(with)),
            ),
            V2Fate::Gone(why) if field == "test" => (
                format!("`{name}` is a Nylas v2 trigger with no v3 equivalent"),
                "no v3 equivalent",
                format!("test another of the webhook's triggers: {why}"),
            ),
            V2Fate::Gone(why) => (
                format!("`{name}` is a Nylas v2 trigger with no v3 equivalent"),
                "no v3 equivalent",
                format!("remove it from `{field}`: {why}"),
            ),
            V2Fate::Same => return None,
        };
        return Some(
            PlanDiagnostic::new(Code::PlanV2Trigger, node.span.clone(), message)
                .label(label)
                .help(help),
        );
    }
    if field != "test" {
        return None;
    }
    TriggerType::parse(name)?;
    // A trigger v3 has, but not one `send_test_event` takes: say which of the webhook's own it
    // could test instead.
    let parent = pointer.strip_suffix("/test")?;
    let own: Vec<TriggerType> = match lookup
        .pointer(&format!("{parent}/triggers"))
        .map(|n| &n.value)
    {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|n| n.as_str().and_then(TriggerType::parse))
            .collect(),
        _ => Vec::new(),
    };
    let candidates = triggers::testable(&own);
    let help = if candidates.is_empty() {
        "none of this webhook's triggers can be sent as a test event: remove `test`, or subscribe the webhook to a trigger Nylas can test (such as `grant.created`)".to_owned()
    } else {
        format!(
            "test one of this webhook's triggers that Nylas can send as a test event: {}",
            either(candidates.iter())
        )
    };
    Some(
        PlanDiagnostic::new(
            Code::PlanUntestableTrigger,
            node.span.clone(),
            format!("Nylas cannot send a test event for `{name}`"),
        )
        .label("not a trigger send-test-event takes")
        .help(help),
    )
}

/// When every branch of a `oneOf`/`anyOf` is a `const` (an enum with documented values),
/// the values it allows.
fn all_constants(context: &[Vec<ValidationError<'_>>]) -> Option<Vec<String>> {
    let mut values = Vec::new();
    for branch in context {
        let [only] = branch.as_slice() else {
            return None;
        };
        let ValidationErrorKind::Constant { expected_value } = only.kind() else {
            return None;
        };
        values.push(expected_value.as_str()?.to_owned());
    }
    (!values.is_empty()).then_some(values)
}

/// The alternative the user most likely meant: not one rejected outright for being of another
/// type, and among those the one with the fewest complaints.
fn best_branch<'e, 'a>(
    at: &Place<'_, '_>,
    pointer: &str,
    context: &'e [Vec<ValidationError<'a>>],
) -> Option<&'e [ValidationError<'a>]> {
    let wrong_kind = |branch: &[ValidationError<'_>]| {
        branch.iter().any(|e| {
            at.pointer(e) == pointer && matches!(e.kind(), ValidationErrorKind::Type { .. })
        })
    };
    context
        .iter()
        .filter(|b| !b.is_empty() && !wrong_kind(b))
        .min_by_key(|b| b.len())
        .map(Vec::as_slice)
}

/// When the `oneOf` at `schema_path` is a secret reference (each branch an object with one
/// required key and nothing else), the keys it may have: `env`, `file`.
fn reference_keys(schema_path: &Location) -> Option<Vec<String>> {
    let branches = plan_schema().pointer(schema_path.as_str())?.as_array()?;
    branches
        .iter()
        .map(|branch| {
            let [key] = branch.get("required")?.as_array()?.as_slice() else {
                return None;
            };
            (branch.get("additionalProperties") == Some(&Json::Bool(false)))
                .then(|| key.as_str().map(str::to_owned))
                .flatten()
        })
        .collect::<Option<Vec<String>>>()
        .filter(|keys| keys.len() > 1)
}

/// Whether `node` is a mapping with exactly one of `keys`: a reference whose value the
/// branch's own errors describe best.
fn is_reference(node: &Node, keys: &[String]) -> bool {
    match &node.value {
        Value::Map(entries) => {
            entries.len() == 1
                && entries[0]
                    .0
                    .as_str()
                    .is_some_and(|k| keys.iter().any(|known| known == k))
        }
        _ => false,
    }
}

/// A value where a reference belongs that is not one: every form a reference takes.
fn reference_diagnostic(node: &Node, field: &str, keys: &[String]) -> PlanDiagnostic {
    let forms: Vec<String> = keys
        .iter()
        .map(|k| match k.as_str() {
            "env" => "`{ env: NAME }` (an environment variable)".to_owned(),
            "file" => "`{ file: PATH }` (a file, relative to the plan's folder)".to_owned(),
            other => format!("`{{ {other}: … }}`"),
        })
        .collect();
    PlanDiagnostic::new(
        Code::PlanWrongType,
        node.span.clone(),
        format!("{}{} is not a reference", describe(node), in_field(field)),
    )
    .label(format!("expected one key: {}", keys.join(" or ")))
    .help(format!(
        "a reference has exactly one key: {}",
        forms.join(" or ")
    ))
}

/// The property names the schema object at `schema_path` (ending in `additionalProperties`)
/// allows.
fn allowed_properties(schema_path: &Location) -> Vec<String> {
    let path = schema_path.as_str();
    let parent = path.strip_suffix("/additionalProperties").unwrap_or(path);
    plan_schema()
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(Json::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

fn required_help(name: &str) -> Option<String> {
    Some(match name {
        "client_secret" => {
            "reference the v2 client secret: `client_secret: { env: V2_SECRET_VAR }`".into()
        }
        "api_key" => "reference the v3 API key: `api_key: { env: V3_API_KEY_VAR }`".into(),
        "mode" => "a wave's `mode` is one of all, only_new, only_failed".into(),
        "version" => "this format is `version: 1`".into(),
        _ => return None,
    })
}

fn pattern_help(field: &str, pattern: &str) -> String {
    match field {
        "name" => "names use letters, digits, `.`, `_` and `-`, starting with a letter or digit".into(),
        "app_id" => "a v2 app ID is letters and digits (`9nsr7pjw1e1g6hgy9l1znjql7`); a v3 app ID is a UUID (`ad410018-d306-43f9-8361-fa5d7b2172e0`)".into(),
        "env" => "an environment variable name: letters, digits and `_`, not starting with a digit".into(),
        _ => format!("expected to match `{pattern}`"),
    }
}
