//! Text from outside the program (a plan from a pull request, the Nylas API, the journal, a
//! file name) on its way to a person's terminal.
//!
//! A control character (ESC, CR, BS, …) or a bidirectional override in such text can erase
//! lines, forge others, retitle the terminal, or make a reviewer read something other than what
//! runs. One definition of those characters serves both defences: validation rejects them in a
//! plan ([`is_unsafe`]), and every human output escapes them in whatever it shows ([`esc`]).

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must never reach a terminal as it is: C0 and C1 control characters and DEL
/// (newline and tab included: in a one-line field they forge lines and columns), the Unicode
/// bidirectional controls (embeddings, overrides, isolates, marks), and the line and paragraph
/// separators some terminals treat as line breaks.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Whether `text` holds any character [`is_unsafe`] flags.
pub fn has_unsafe(text: &str) -> bool {
    text.chars().any(is_unsafe)
}

/// A name for an unsafe character in messages: `U+001B (escape)`.
pub fn describe(c: char) -> String {
    let name = match c {
        '\u{0}' => "NUL",
        '\u{7}' => "bell",
        '\u{8}' => "backspace",
        '\t' => "tab",
        '\n' => "line feed",
        '\r' => "carriage return",
        '\u{1B}' => "escape",
        '\u{7F}' => "delete",
        '\u{9B}' => "control sequence introducer",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => "bidirectional override",
        '\u{061C}' | '\u{200E}' | '\u{200F}' => "bidirectional mark",
        '\u{2028}' | '\u{2029}' => "line separator",
        _ => "control character",
    };
    format!("U+{:04X} ({name})", u32::from(c))
}

/// `text` for a terminal: every [`is_unsafe`] character written as an escape (`\n`, `\t`,
/// `\r`, `\u{1b}`), everything else as it is. Formats lazily: `println!("{}", esc(reason))`.
pub fn esc(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// See [`esc`].
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(&'a str);

impl Escaped<'_> {
    fn write_to(&self, f: &mut impl fmt::Write) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(is_unsafe) {
            f.write_str(&rest[..at])?;
            let Some(c) = rest[at..].chars().next() else {
                break;
            };
            match c {
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                '\r' => f.write_str("\\r")?,
                c => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_none() && f.precision().is_none() {
            return self.write_to(f);
        }
        // `{:<40}` and the like pad the escaped text.
        let mut text = String::with_capacity(self.0.len());
        self.write_to(&mut text)?;
        f.pad(&text)
    }
}

/// [`esc`] as a string, borrowed when there is nothing to escape.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if has_unsafe(text) {
        Cow::Owned(esc(text).to_string())
    } else {
        Cow::Borrowed(text)
    }
}

/// Like [`escaped`], for owned text; keeps line breaks (multi-line messages of this program
/// whose parts came from outside, such as a diagnostic's help).
pub fn escaped_lines(text: String) -> String {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return text;
    }
    text.split('\n')
        .map(|line| esc(line).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The most of one message from outside (a server's error, a reason kept in the journal) that
/// is kept or shown, in bytes: enough for any real error, and a bound on what a hostile or
/// broken server can make the journal store and every later command print.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// `text` cut to at most `max` bytes (at a character boundary), saying so at its end; as it is
/// when it fits. A cut text fits in `max` with its note, so cutting it again leaves it as it is.
pub fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    // The note's length with the largest count a usize can hold: the note always fits.
    let room = max.saturating_sub(NOTE_LEN);
    let mut cut = room.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(max);
    out.push_str(&text[..cut]);
    out.push_str(&format!(" [cut: {} more bytes not kept]", text.len() - cut));
    Cow::Owned(out)
}

/// The longest note [`bounded`] appends (20 digits for the count).
const NOTE_LEN: usize = " [cut:  more bytes not kept]".len() + 20;

/// [`bounded`] to [`MAX_MESSAGE_BYTES`], owned.
pub fn bounded_message(text: String) -> String {
    match bounded(&text, MAX_MESSAGE_BYTES) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cut) => cut,
    }
}

/// The one rule for a CSV cell written for people (a report, an errors file), wherever it goes
/// (a file a spreadsheet opens, a terminal): every [`is_unsafe`] character escaped as [`esc`]
/// writes it (so no cell holds a raw line break, tab or escape sequence); a cell that starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return prefixed with `'`, so a spreadsheet
/// does not run it as a formula; then quoted as RFC 4180 asks when it holds `,` or `"`.
pub fn csv_cell(field: &str) -> Cow<'_, str> {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let shown = escaped(field);
    let quote = shown.contains([',', '"']);
    if !formula && !quote {
        return shown;
    }
    let mut out = String::with_capacity(shown.len() + 3);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if quote {
        out.push_str(&shown.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&shown);
    }
    Cow::Owned(out)
}

/// JSON text made safe for a terminal without changing what it means: every [`is_unsafe`]
/// character serde_json leaves raw inside strings (DEL, the C1 controls, bidirectional
/// controls, line separators) written as a `\uXXXX` escape. Line breaks between values (of a
/// pretty-printed document) are kept; serde_json already escapes those inside strings.
pub fn json_safe(json: String) -> String {
    if !json.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c != '\n' && is_unsafe(c) {
            // Every unsafe character is in the Basic Multilingual Plane: one escape each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_and_the_rest_is_kept() {
        assert_eq!(
            esc("a\u{1b}[2Jb\u{202e}c\nd\té").to_string(),
            "a\\u{1b}[2Jb\\u{202e}c\\nd\\té"
        );
        assert_eq!(esc("plain/step-id").to_string(), "plain/step-id");
        assert_eq!(escaped("\u{9b}31m"), "\\u{9b}31m");
        assert!(matches!(escaped("fine"), Cow::Borrowed(_)));
        assert_eq!(format!("[{:<6}]", esc("a\u{7}")), "[a\\u{7}]");
        assert_eq!(format!("[{:<6}]", esc("ab")), "[ab    ]");
        assert_eq!(escaped_lines("x\u{7}\ny".into()), "x\\u{7}\ny");
    }

    #[test]
    fn descriptions_name_the_code_point() {
        assert_eq!(describe('\u{1b}'), "U+001B (escape)");
        assert_eq!(describe('\u{202e}'), "U+202E (bidirectional override)");
    }
    #[test]
    fn messages_are_cut_once_and_say_so() {
        let long = "é".repeat(10_000);
        let cut = bounded(&long, MAX_MESSAGE_BYTES);
        assert!(cut.len() <= MAX_MESSAGE_BYTES, "{}", cut.len());
        assert!(
            cut.ends_with("more bytes not kept]"),
            "{}",
            &cut[cut.len() - 40..]
        );
        assert_eq!(
            bounded(&cut, MAX_MESSAGE_BYTES),
            cut,
            "cutting again changes nothing"
        );
        assert!(matches!(bounded("short", 10), Cow::Borrowed("short")));
        assert_eq!(bounded_message("x".repeat(5)), "xxxxx");
    }

    #[test]
    fn csv_cells_are_escaped_neutralised_and_quoted() {
        assert_eq!(csv_cell("plain@acme.com"), "plain@acme.com");
        assert!(matches!(csv_cell("plain"), Cow::Borrowed(_)));
        for lead in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                csv_cell(lead).starts_with('\''),
                "{lead:?}: {}",
                csv_cell(lead)
            );
        }
        assert_eq!(csv_cell("\tx"), "'\\tx");
        assert_eq!(csv_cell("a\u{1b}[2Jb\u{7}"), "a\\u{1b}[2Jb\\u{7}");
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_cell("=a,b"), "\"'=a,b\"");
        assert_eq!(csv_cell("x\ny\r"), "x\\ny\\r");
        for cell in ["\u{1b}]0;t\u{7}", "\r\n", "\u{9b}", "\u{202e}x"] {
            assert!(!csv_cell(cell).chars().any(is_unsafe), "{cell:?}");
        }
    }

    #[test]
    fn json_keeps_its_meaning_without_raw_controls() {
        let value = serde_json::json!({ "e": "a\u{7f}b\u{9b}c\u{202e}d\u{1b}" });
        let text = json_safe(serde_json::to_string_pretty(&value).unwrap());
        assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
