//! Secrets written into a plan. Plans live in git and are validated in CI logs, so a secret
//! written inline is an error, and its value is masked in every snippet shown for the file
//! (by a mask of fixed length, see `display`).

use std::ops::Range;

use super::diagnostic::PlanDiagnostic;
use crate::code::Code;
use crate::yaml::{Node, Value};

/// Keys whose scalar values are treated as secrets wherever they appear.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "api_key",
        "apikey",
        "password",
        "passwd",
        "token",
        "private_key",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// The PostgreSQL state URL's pointer.
const STATE_URL: &str = "/state/postgres/url";

/// A secret written inline: the field, its value's span, and what shape the value has.
pub struct InlineSecret {
    /// JSON pointer of the field's value; the schema check reports nothing at or under it.
    pub pointer: String,
    pub key: String,
    pub value_span: Range<usize>,
    /// How the secret was written when not as a plain value: `a list`, `a mapping …`.
    pub shape: &'static str,
}

/// Every secret written inline, and the spans of every scalar to mask in snippets.
///
/// A field with a secret-looking name holds a secret unless its value is a reference: a
/// mapping whose keys are only `env` and `file` (a malformed reference is the schema's to
/// report). Anything else under it, whatever its shape (a scalar, a list, `{ value: … }`, the
/// secret written as a mapping key), is an inline secret, and every scalar in it, keys
/// included, is masked.
pub fn find(root: &Node) -> (Vec<InlineSecret>, Vec<Range<usize>>) {
    let mut found = Vec::new();
    let mut masked = Vec::new();
    let mut stack: Vec<(String, &Node)> = vec![(String::new(), root)];
    while let Some((pointer, node)) = stack.pop() {
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    let name = key.as_str().unwrap_or_default();
                    let child = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
                    // The state URL may hold the database's password: a secret by place.
                    let shape = if is_secret_key(name) || child == STATE_URL {
                        inline_shape(value)
                    } else {
                        None
                    };
                    match shape {
                        Some(shape) => {
                            secret_spans(value, &mut masked);
                            found.push(InlineSecret {
                                pointer: child,
                                key: name.to_owned(),
                                value_span: value.span.clone(),
                                shape,
                            });
                        }
                        None => stack.push((child, value)),
                    }
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((format!("{pointer}/{i}"), item));
                }
            }
            _ => {}
        }
    }
    found.sort_by_key(|s| s.value_span.start);
    (found, masked)
}

/// The keys a reference is made of.
const REFERENCE_KEYS: [&str; 2] = ["env", "file"];

/// How a secret field's value holds an inline secret, or `None` when it holds none (a
/// reference, well formed or not; `null` or a boolean, which are no secret).
fn inline_shape(value: &Node) -> Option<&'static str> {
    match &value.value {
        Value::Null | Value::Bool(_) => None,
        Value::String(_) | Value::Int(_) | Value::Float(_) => Some(""),
        Value::Seq(_) => Some("a list"),
        Value::Map(entries) => entries
            .iter()
            .any(|(k, _)| !k.as_str().is_some_and(|k| REFERENCE_KEYS.contains(&k)))
            .then_some("a mapping, not a reference"),
    }
}

/// The spans of every scalar under an inline secret, keys included, except a reference key's
/// name (`env`, `file`) and its own value, which are no secret.
fn secret_spans(value: &Node, out: &mut Vec<Range<usize>>) {
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match &node.value {
            Value::Null | Value::Bool(_) => {}
            Value::String(_) | Value::Int(_) | Value::Float(_) => out.push(node.span.clone()),
            Value::Seq(items) => stack.extend(items.iter()),
            Value::Map(entries) => {
                for (key, item) in entries {
                    let reference = node.span == value.span
                        && key.as_str().is_some_and(|k| REFERENCE_KEYS.contains(&k))
                        && matches!(item.value, Value::String(_));
                    if !reference {
                        out.push(key.span.clone());
                        stack.push(item);
                    }
                }
            }
        }
    }
}

pub fn diagnostic(secret: &InlineSecret) -> PlanDiagnostic {
    let example_var = match secret.key.as_str() {
        "client_secret" => "ACME_V2_CLIENT_SECRET",
        "api_key" => "ACME_V3_API_KEY",
        _ => "MY_SECRET",
    };
    PlanDiagnostic::new(
        Code::PlanInlineSecret,
        secret.value_span.clone(),
        if secret.shape.is_empty() {
            format!("`{}` is written inline in the plan", secret.key)
        } else {
            format!(
                "`{}` is written inline in the plan (as {})",
                secret.key, secret.shape
            )
        },
    )
    .label("secret value (hidden)")
    .help(format!(
        "plans live in git: never write a secret in one. Reference it instead, \
         `{key}: {{ env: {example_var} }}` or `{key}: {{ file: secrets/{key} }}`, \
         and rotate this one, since it has been written down",
        key = secret.key
    ))
}
