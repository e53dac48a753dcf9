//! Control characters and bidirectional overrides in a plan. A plan comes from a pull request:
//! such a character in a pair name, a webhook URL or a comment could erase or forge lines of the
//! preview a reviewer reads, retitle their terminal, or make the diff read otherwise than what
//! runs. They are rejected wherever they are: written raw anywhere in the file (comments
//! included), or as an escape sequence (`"\e"`, `"\u202E"`) inside a string or a key.

use std::ops::Range;

use super::diagnostic::MAX_DIAGNOSTICS;
use super::diagnostic::PlanDiagnostic;
use crate::code::Code;
use crate::untrusted::{describe, has_unsafe, is_unsafe};
use crate::yaml::{Node, Value};

/// Whether `c` is refused when written raw in the file: every unsafe character except the
/// line breaks and tabs YAML itself is made of. A carriage return is one of those only as part
/// of a CRLF line break (see [`raw_positions`]).
fn is_unsafe_raw(c: char) -> bool {
    is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t')
}

/// Byte ranges of the unsafe characters written raw in `text`, in order, a lone carriage return
/// (one not followed by a line feed) included: YAML reads it as a line break, a terminal as a
/// return to the start of the line, so what `cat` shows of the plan is not what runs (a second
/// wave hidden on the line of the first). Diagnostic snippets show the file with these replaced
/// (see `display`).
pub fn raw_positions(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        // A byte at a time through ASCII, the bulk of a plan; a character at a time otherwise.
        let (c, len) = if b.is_ascii() {
            if (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t' {
                i += 1;
                continue;
            }
            (char::from(b), 1)
        } else {
            match text.get(i..).and_then(|rest| rest.chars().next()) {
                Some(c) => (c, c.len_utf8()),
                None => break,
            }
        };
        if is_unsafe_raw(c) || (c == '\r' && bytes.get(i + 1) != Some(&b'\n')) {
            found.push(i..i + len);
        }
        i += len;
    }
    found
}

/// One diagnostic per unsafe character written raw (at most a screenful more than the report
/// shows), and one per string or key that holds one only through an escape sequence.
pub fn check(text: &str, root: Option<&Node>, raw: &[Range<usize>]) -> Vec<PlanDiagnostic> {
    let mut out = Vec::new();
    for span in raw.iter().take(MAX_DIAGNOSTICS + 1) {
        let Some(c) = text[span.clone()].chars().next() else {
            continue;
        };
        let d = if c == '\r' {
            PlanDiagnostic::new(
                Code::PlanControlCharacter,
                span.clone(),
                format!(
                    "the plan contains {} not followed by a line feed",
                    describe(c)
                ),
            )
            .label("a line break for YAML, invisible in a terminal")
            .help(LONE_CR_HELP)
        } else {
            PlanDiagnostic::new(
                Code::PlanControlCharacter,
                span.clone(),
                format!("the plan contains {}", describe(c)),
            )
            .label("invisible or terminal-controlling character here")
            .help(HELP)
        };
        out.push(d);
    }
    // A string holds a character not written raw only through a double-quoted escape
    // sequence (`"\e"`): with no backslash in the file there is no such string to look for.
    let Some(root) = root.filter(|_| text.as_bytes().contains(&b'\\')) else {
        return out;
    };
    // Strings that got an unsafe character from an escape sequence; those written raw are
    // already reported above, at the character itself.
    let raw_inside = |span: &Range<usize>| {
        let first = raw.partition_point(|r| r.start < span.start);
        raw.get(first).is_some_and(|r| r.start < span.end)
    };
    for string in strings(root) {
        let Some(text) = string.as_str() else {
            continue;
        };
        if let Some(c) = text.chars().find(|c| is_unsafe(*c))
            && !raw_inside(&string.span)
        {
            out.push(
                PlanDiagnostic::new(
                    Code::PlanControlCharacter,
                    string.span.clone(),
                    format!("this string contains {}", describe(c)),
                )
                .label(format!("holds {} through an escape sequence", describe(c)))
                .help(HELP),
            );
            if out.len() > MAX_DIAGNOSTICS {
                return out;
            }
        }
    }
    out
}

/// Whether a key or string value under `node` holds an unsafe character (see [`check`], which
/// reports them).
pub fn holds_unsafe(node: &Node) -> bool {
    strings(node).any(|s| s.as_str().is_some_and(has_unsafe))
}

/// The keys and string values under `root`, found in one walk with one stack (no list per
/// node: a large plan has hundreds of thousands of nodes).
fn strings(root: &Node) -> impl Iterator<Item = &Node> {
    let mut stack = vec![root];
    std::iter::from_fn(move || {
        while let Some(node) = stack.pop() {
            match &node.value {
                Value::String(_) => return Some(node),
                Value::Seq(items) => stack.extend(items.iter()),
                Value::Map(entries) => {
                    for (key, value) in entries {
                        stack.push(value);
                        if matches!(key.value, Value::String(_)) {
                            stack.push(key);
                        }
                    }
                }
                _ => {}
            }
        }
        None
    })
}

const HELP: &str = "plans are reviewed in terminals and diffs, where control characters and \
    bidirectional overrides can hide or forge text: remove it (names, IDs, URLs and paths never \
    need one)";

const LONE_CR_HELP: &str = "YAML reads a lone carriage return as a line break while a terminal or \
    `cat` shows the two lines as one, so a reviewer does not see what runs: end lines with a \
    line feed (LF) or CRLF, never a carriage return alone";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_carriage_return_is_found_and_crlf_is_not() {
        let text = "a: 1\r\nb: 2\r  c: 3\n\r";
        let raw = raw_positions(text);
        assert_eq!(raw, [10..11, 18..19], "{raw:?}");
        let found = check(text, None, &raw);
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("U+000D (carriage return)"));
    }

    #[test]
    fn the_byte_scan_finds_what_a_character_scan_finds() {
        let by_character = |text: &str| -> Vec<Range<usize>> {
            let bytes = text.as_bytes();
            text.char_indices()
                .filter(|&(i, c)| {
                    is_unsafe_raw(c) || (c == '\r' && bytes.get(i + 1) != Some(&b'\n'))
                })
                .map(|(i, c)| i..i + c.len_utf8())
                .collect()
        };
        for text in [
            "name: acme\n\tkey: value\r\n",
            "a\u{7f}b\u{1b}[31mc\u{0}",
            "lone\rreturn and a last one\r",
            "é€ \u{202E}reversed\u{2066} \u{85} 🦀 \u{2028}",
            "\u{200E}",
            "",
        ] {
            assert_eq!(raw_positions(text), by_character(text), "{text:?}");
        }
    }

    #[test]
    fn raw_and_escaped_characters_are_found_once_each() {
        let text = "a: \"x\\e[2J\"\nb: y\u{1b}z\n# \u{202e}comment\nc: \"\\t\"\n";
        let (root, errors) = crate::yaml::parse_collecting(text);
        assert!(errors.is_empty(), "{errors:?}");
        let raw = raw_positions(text);
        assert_eq!(
            raw.len(),
            2,
            "the raw ESC and the bidi override in the comment"
        );
        let found = check(text, root.as_ref(), &raw);
        let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(found.len(), 4, "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("U+0009 (tab)")));
        assert!(
            messages
                .iter()
                .any(|m| m.contains("this string contains U+001B"))
        );
    }
}
