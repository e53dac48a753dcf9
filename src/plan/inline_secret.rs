//! Secrets written into a plan. Plans live in git and are validated in CI logs, so a secret
//! written inline is an error, and its value is masked in every snippet shown for the file
//! (by a mask of fixed length, see `display`).

use std::ops::Range;

use super::diagnostic::PlanDiagnostic;
use crate::code::Code;
use crate::yaml::{Node, Value};

/// Keys whose scalar values are treated as secrets wherever they appear.
fn is_secret_key(key: &str) -> bool {
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
    .any(|word| contains_ignoring_case(key, word))
}

/// Whether `text` contains `word` (lower case ASCII) in any case, without a lower-cased copy:
/// every key of a plan is asked.
fn contains_ignoring_case(text: &str, word: &str) -> bool {
    text.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

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
    walk(Vec::new(), Segment::Root, root)
}

/// The secrets written inline in the pair at `/pairs/{index}`, as [`find`] finds them there.
pub fn find_in_pair(index: usize, pair: &Node) -> (Vec<InlineSecret>, Vec<Range<usize>>) {
    walk(
        vec![Segment::Root, Segment::Key("pairs")],
        Segment::Index(index),
        pair,
    )
}

/// Searches `node`, at the path `base` then `at`.
fn walk<'a>(
    base: Vec<Segment<'a>>,
    at: Segment<'a>,
    node: &'a Node,
) -> (Vec<InlineSecret>, Vec<Range<usize>>) {
    let mut found = Vec::new();
    let mut masked = Vec::new();
    // A depth-first walk that keeps only the path to the node it is at (a path kept for every
    // node grew with the plan, 32 bytes a node); a pointer is written only for a secret.
    let mut path = base;
    let mut stack: Vec<(usize, Segment<'_>, &Node)> = vec![(path.len(), at, node)];
    while let Some((depth, segment, node)) = stack.pop() {
        path.truncate(depth);
        path.push(segment);
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    let name = key.as_str().unwrap_or_default();
                    // The state URL may hold the database's password: a secret by place.
                    let shape = if is_secret_key(name) || is_state_url(&path, name) {
                        inline_shape(value)
                    } else {
                        None
                    };
                    match shape {
                        Some(shape) => {
                            secret_spans(value, &mut masked);
                            found.push(InlineSecret {
                                pointer: pointer(&path, Segment::Key(name)),
                                key: name.to_owned(),
                                value_span: value.span.clone(),
                                shape,
                            });
                        }
                        None => stack.push((depth + 1, Segment::Key(name), value)),
                    }
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((depth + 1, Segment::Index(i), item));
                }
            }
            _ => {}
        }
    }
    found.sort_by_key(|s| s.value_span.start);
    (found, masked)
}

/// One step of a node's path (see [`walk`]).
#[derive(Clone, Copy)]
enum Segment<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

/// The JSON pointer of the child `last` of the node at `path`.
fn pointer(path: &[Segment<'_>], last: Segment<'_>) -> String {
    let mut out = String::new();
    for segment in path.iter().chain([&last]) {
        match segment {
            Segment::Key(name) => {
                out.push('/');
                out.push_str(&name.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Index(i) => {
                out.push('/');
                out.push_str(&i.to_string());
            }
            Segment::Root => {}
        }
    }
    out
}

/// Whether the key `name` of the node at `path` is the PostgreSQL state URL,
/// `/state/postgres/url`.
fn is_state_url(path: &[Segment<'_>], name: &str) -> bool {
    name == "url"
        && matches!(
            path,
            [
                Segment::Root,
                Segment::Key("state"),
                Segment::Key("postgres")
            ]
        )
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

/// The longest key [`find_in_text`] looks at: secret keys are short names.
const MAX_KEY: usize = 64;
/// How far past `://` [`find_in_text`] looks for a URL's `user:password@`.
const MAX_USERINFO: usize = 1024;

/// What to mask in the text of a file that did not parse (or is not UTF-8): no tree tells
/// where its secrets are, so this finds them as a person reading it would, erring on the side
/// of masking more. The value after every key with a secret-looking name (`client_secret:
/// hunter2`, quoted or not, in a flow mapping or not, a block scalar and any more-indented
/// lines after an empty value), and every `user:password@` of a URL. Linear in the text.
pub fn find_in_text(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = userinfo_spans(text);
    // Flow collections open at this point ({ and [ outside quotes and comments), for where a
    // plain value ends.
    let mut depth: usize = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'\r') => {
                i = line_end(bytes, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' | b'\'' => {
                // A quoted scalar (a key or a value no secret key introduced): skip it whole.
                i = quoted_end(bytes, i);
                continue;
            }
            b':' if bytes
                .get(i + 1)
                .is_none_or(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b',' | b'}' | b']')) =>
            {
                if let Some(key) = key_before(text, i)
                    && is_secret_key(key)
                {
                    let value = value_after(bytes, i + 1, depth);
                    if value.start < value.end && !is_reference_text(&text[value.clone()]) {
                        i = value.end;
                        out.push(value);
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Whether a value's text is a reference (`{ env: NAME }`, `{ file: path }`, or the same as a
/// block mapping): a name, not a secret, left as it is.
fn is_reference_text(value: &str) -> bool {
    let inner = value.trim();
    let inner = inner
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or(inner);
    let mut entries = 0;
    for entry in inner.split([',', '\n', '\r']) {
        let entry = entry.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let Some((key, name)) = entry.split_once(':') else {
            return false;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        let name = name.trim();
        if !REFERENCE_KEYS.contains(&key)
            || name.is_empty()
            || name.contains(['{', '[', '}', ']', ':', '#', '|', '>'])
        {
            return false;
        }
        entries += 1;
    }
    entries > 0
}

/// The key written just before the `:` at `colon`, quotes removed; `None` when there is none or
/// it is too long to be a secret's name.
fn key_before(text: &str, colon: usize) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut end = colon;
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let (start, end) = match end.checked_sub(1).map(|e| bytes[e]) {
        Some(q @ (b'"' | b'\'')) => {
            let close = end - 1;
            let from = close.saturating_sub(MAX_KEY);
            let open = bytes[from..close].iter().rposition(|&b| b == q)? + from;
            (open + 1, close)
        }
        _ => {
            let from = end.saturating_sub(MAX_KEY + 1);
            let start = bytes[from..end]
                .iter()
                .rposition(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'[' | b','))
                .map_or(from, |p| p + from + 1);
            (start, end)
        }
    };
    if end - start > MAX_KEY {
        return None;
    }
    text.get(start..end).filter(|k| !k.is_empty())
}

/// The span of the value that starts after `from` (past spaces), as far as it can be told
/// without a parser: a quoted scalar to its closing quote, a flow collection to its closing
/// bracket, a plain scalar to the end of its line (or of its flow entry), and for an empty value
/// or a block scalar the more-indented lines that follow.
fn value_after(bytes: &[u8], from: usize, depth: usize) -> Range<usize> {
    let mut start = from;
    while start < bytes.len() && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    let end = match bytes.get(start) {
        None => return start..start,
        Some(b'"' | b'\'') => quoted_end(bytes, start),
        Some(b'{' | b'[') => bracket_end(bytes, start),
        Some(b'|' | b'>' | b'\n' | b'\r' | b'#') => {
            let line = line_end(bytes, start);
            return start..indented_block_end(bytes, line, indent_of_line(bytes, from));
        }
        Some(_) => {
            let mut end = start;
            while end < bytes.len() {
                match bytes[end] {
                    b'\n' | b'\r' => break,
                    b',' | b'}' | b']' if depth > 0 => break,
                    b'#' if matches!(bytes[end - 1], b' ' | b'\t') => break,
                    _ => end += 1,
                }
            }
            while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
                end -= 1;
            }
            end
        }
    };
    start..end
}

/// Where the line holding `at` ends (its line break, or the end of the text).
fn line_end(bytes: &[u8], at: usize) -> usize {
    bytes[at..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(bytes.len(), |p| p + at)
}

/// The indentation of the line holding `at`.
fn indent_of_line(bytes: &[u8], at: usize) -> usize {
    let start = bytes[..at.min(bytes.len())]
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r')
        .map_or(0, |p| p + 1);
    bytes[start..].iter().take_while(|&&b| b == b' ').count()
}

/// The end of the lines after `line_end` indented more than `indent` (blank lines included).
fn indented_block_end(bytes: &[u8], line_end_at: usize, indent: usize) -> usize {
    let mut end = line_end_at;
    let mut at = line_end_at;
    while at < bytes.len() {
        // Past the line break.
        let start = at + 1;
        let next_end = line_end(bytes, start.min(bytes.len()));
        let line = &bytes[start.min(bytes.len())..next_end];
        let spaces = line.iter().take_while(|&&b| b == b' ').count();
        if spaces < line.len() && spaces <= indent {
            break;
        }
        end = next_end;
        at = next_end;
    }
    end
}

/// Just past the quote closing the quoted scalar that opens at `open` (the end of the text when
/// it is never closed: everything after it is masked).
fn quoted_end(bytes: &[u8], open: usize) -> usize {
    let quote = bytes[open];
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Just past the bracket closing the flow collection that opens at `open` (quoted scalars
/// skipped); the end of the text when it is never closed.
fn bracket_end(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b'"' | b'\'' => {
                i = quoted_end(bytes, i);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Every `user:password@` after a `://` (the password of a URL: a database's, or one written
/// into an API URL), to mask wherever it is, in a valid file or not.
pub fn userinfo_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (at, _) in text.match_indices("://") {
        let start = at + 3;
        let limit = (start + MAX_USERINFO).min(bytes.len());
        let Some(stop) = bytes[start..limit].iter().position(|b| {
            matches!(
                b,
                b'@' | b'/'
                    | b'?'
                    | b'#'
                    | b' '
                    | b'\t'
                    | b'\n'
                    | b'\r'
                    | b'"'
                    | b'\''
                    | b','
                    | b'}'
                    | b']'
            )
        }) else {
            continue;
        };
        let end = start + stop;
        if bytes[end] == b'@' && bytes[start..end].contains(&b':') {
            out.push(start..end);
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> String {
        let shown = crate::plan::display::DisplayText::new(text, &find_in_text(text), &[]);
        shown.text
    }

    #[test]
    fn secrets_in_a_file_that_does_not_parse_are_masked() {
        let text = "pairs:\n  - v2: { app_id: 9nsr7pjw1e1g6hgy9l1znjql7, client_secret: hunter2-inline }\n   oops: 1\n";
        assert_eq!(
            masked(text),
            "pairs:\n  - v2: { app_id: 9nsr7pjw1e1g6hgy9l1znjql7, client_secret: ******** }\n   oops: 1\n"
        );
        for (text, hidden) in [
            ("api_key: plain-value # note\n", "plain-value"),
            (
                "\"api_key\": \"quoted, with: colon\"\nx: 1\n",
                "quoted, with",
            ),
            ("token: 'it''s'\n", "it''s"),
            ("secret: |\n  line one\n  line two\nnext: 1\n", "line two"),
            ("client_secret:\n  - listed\nnext: 1\n", "listed"),
            ("password: { value: inner, more: [a, b] }\n", "inner"),
            (
                "url: postgres://admin:pw-in-url@db.example/x\n",
                "pw-in-url",
            ),
            ("api_url: https://user:pw@api.us.nylas.com\n", "pw"),
            ("client_secret: \"never closed\n  at: all\n", "at: all"),
        ] {
            let shown = masked(text);
            assert!(
                !shown.contains(hidden),
                "{text:?} shows {hidden:?}: {shown:?}"
            );
            assert!(shown.contains(MASK_FOR_TESTS), "{shown:?}");
        }
        // References are names, not secrets.
        for text in [
            "v2: { client_secret: { env: ACME_V2_SECRET } }\n",
            "client_secret:\n  file: secrets/v2\n",
            "api_key: { \"env\": K }\n",
        ] {
            assert_eq!(masked(text), text);
        }
        // What follows a masked value stays as it is.
        assert!(masked("secret: |\n  a\nnext: 1\n").ends_with("next: 1\n"));
        assert!(masked("url: https://db.example/x\n").contains("db.example"));
    }

    #[test]
    fn secrets_are_found_with_their_pointers() {
        let text = "state:\n  postgres: { url: \"postgres://a:b@h/d\" }\npairs:\n  - v2: { client_secret: x }\n    a/b~: { token: [y] }\nurl: fine\n";
        let (root, errors) = crate::yaml::parse_collecting(text);
        assert!(errors.is_empty(), "{errors:?}");
        let (found, masked) = find(&root.unwrap());
        let pointers: Vec<&str> = found.iter().map(|s| s.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/state/postgres/url",
                "/pairs/0/v2/client_secret",
                "/pairs/0/a~1b~0/token"
            ]
        );
        assert_eq!(masked.len(), 3);
    }

    #[test]
    fn the_text_scan_is_linear() {
        // Every kind of start a secret has, repeated: each is looked at once.
        let text = "secret:\n".repeat(20_000)
            + &"a: { token: x, ".repeat(20_000)
            + &"://a:".repeat(20_000)
            + &format!("{}: 1\n", "k".repeat(1_000_000));
        let spans = find_in_text(&text);
        assert!(!spans.is_empty());
    }

    const MASK_FOR_TESTS: &str = crate::plan::display::MASK;
}
