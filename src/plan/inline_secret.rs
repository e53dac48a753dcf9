//! Secrets written into a plan. Plans live in git and are validated in CI logs, so a secret
//! written inline is an error, and its value is masked in every snippet shown for the file.

use std::ops::Range;

use super::diagnostic::PlanDiagnostic;
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

/// A secret written inline: where, and the JSON pointer of its value.
pub struct InlineSecret {
    pub pointer: String,
    pub key: String,
    pub value_span: Range<usize>,
}

/// Every scalar value stored under a secret-looking key, anywhere in the document.
pub fn find(root: &Node) -> Vec<InlineSecret> {
    let mut found = Vec::new();
    let mut stack: Vec<(String, &Node)> = vec![(String::new(), root)];
    while let Some((pointer, node)) = stack.pop() {
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    let name = key.as_str().unwrap_or_default();
                    let child = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
                    let scalar = matches!(
                        value.value,
                        Value::String(_) | Value::Int(_) | Value::Float(_)
                    );
                    if scalar && is_secret_key(name) {
                        found.push(InlineSecret {
                            pointer: child,
                            key: name.to_owned(),
                            value_span: value.span.clone(),
                        });
                    } else {
                        stack.push((child, value));
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
    found
}

/// The source with every inline secret replaced by `*` (byte for byte, so spans stay valid;
/// line breaks are kept so line numbers do too).
pub fn mask(text: &str, secrets: &[InlineSecret]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for secret in secrets {
        let end = secret.value_span.end.min(bytes.len());
        for b in &mut bytes[secret.value_span.start.min(end)..end] {
            if *b != b'\n' && *b != b'\r' {
                *b = b'*';
            }
        }
    }
    // Only whole UTF-8 sequences inside a scalar were replaced, and `*` is ASCII, so this holds;
    // fall back to a lossy copy rather than panic if a span ever split a character.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

pub fn diagnostic(secret: &InlineSecret) -> PlanDiagnostic {
    let example_var = match secret.key.as_str() {
        "client_secret" => "ACME_V2_CLIENT_SECRET",
        "api_key" => "ACME_V3_API_KEY",
        _ => "MY_SECRET",
    };
    PlanDiagnostic::new(
        "plan::inline-secret",
        secret.value_span.clone(),
        format!("`{}` is written inline in the plan", secret.key),
    )
    .label("secret value (hidden)")
    .help(format!(
        "plans live in git: never write a secret in one. Reference it instead, \
         `{key}: {{ env: {example_var} }}` or `{key}: {{ file: secrets/{key} }}`, \
         and rotate this one, since it has been written down",
        key = secret.key
    ))
}
