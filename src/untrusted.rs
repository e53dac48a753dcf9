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
}
