//! The plan as diagnostics may show it: every inline secret replaced by a mask of fixed length
//! (so a snippet tells neither the secret nor its length), and every unsafe character written
//! raw replaced by `?` (so a snippet cannot drive the terminal). Masks change the text's length,
//! so spans found in the file are mapped onto the shown text with [`DisplayText::map_span`].

use std::ops::Range;

/// What stands for a secret in every snippet, whatever the secret's length.
pub const MASK: &str = "********";

/// One replaced range: where it was in the file, where its replacement is in the shown text.
#[derive(Debug, Clone)]
struct Edit {
    from: Range<usize>,
    to: Range<usize>,
}

/// The shown text and how to find a file offset in it.
#[derive(Debug, Clone)]
pub struct DisplayText {
    pub text: String,
    edits: Vec<Edit>,
}

impl DisplayText {
    /// `original` with each of `masked` (byte ranges of secrets, any order, overlapping ones
    /// merged) replaced by [`MASK`] plus the line breaks it spanned (so line numbers stay those
    /// of the file), and each of `unsafe_chars` (byte ranges) replaced by `?` per byte.
    pub fn new(original: &str, masked: &[Range<usize>], unsafe_chars: &[Range<usize>]) -> Self {
        let mut spans: Vec<Range<usize>> = masked
            .iter()
            .filter(|s| s.start < s.end && s.end <= original.len())
            .cloned()
            .collect();
        spans.sort_by_key(|s| (s.start, s.end));
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
        for span in spans {
            match merged.last_mut() {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => merged.push(span),
            }
        }

        let mut bytes = original.as_bytes().to_vec();
        for span in unsafe_chars {
            if span.end <= bytes.len() {
                bytes[span.clone()].fill(b'?');
            }
        }
        // Whole characters were replaced by ASCII, so this holds; never panic on it.
        let shown = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());

        let mut text = String::with_capacity(shown.len());
        let mut edits = Vec::with_capacity(merged.len());
        let mut at = 0;
        for span in merged {
            // Secrets are whole scalars, so their ends are character boundaries; skip any that
            // is not rather than panic.
            if !shown.is_char_boundary(span.start) || !shown.is_char_boundary(span.end) {
                continue;
            }
            text.push_str(&shown[at..span.start]);
            let start = text.len();
            text.push_str(MASK);
            for _ in original[span.clone()].matches('\n') {
                text.push('\n');
            }
            edits.push(Edit {
                from: span.clone(),
                to: start..text.len(),
            });
            at = span.end;
        }
        text.push_str(&shown[at..]);
        DisplayText { text, edits }
    }

    /// Where byte `offset` of the file is in the shown text; an offset inside a secret lands in
    /// its mask.
    pub fn map(&self, offset: usize) -> usize {
        let after = self.edits.partition_point(|e| e.from.start <= offset);
        let Some(edit) = after.checked_sub(1).map(|i| &self.edits[i]) else {
            return offset;
        };
        if offset < edit.from.end {
            edit.to.start + (offset - edit.from.start).min(MASK.len())
        } else {
            offset - edit.from.end + edit.to.end
        }
    }

    pub fn map_span(&self, span: &Range<usize>) -> Range<usize> {
        let start = self.map(span.start);
        start..self.map(span.end).max(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_hide_length_and_spans_follow() {
        let text = "a: short\nb: a-much-longer-secret-value\nc: \u{1b}x\n";
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            start..start + needle.len()
        };
        let short = at("short");
        let long = at("a-much-longer-secret-value");
        let esc = at("\u{1b}");
        let shown = DisplayText::new(
            text,
            &[long.clone(), short.clone()],
            std::slice::from_ref(&esc),
        );
        assert_eq!(shown.text, "a: ********\nb: ********\nc: ?x\n");
        assert_eq!(&shown.text[shown.map_span(&long)], MASK);
        assert_eq!(&shown.text[shown.map_span(&short)], MASK);
        // After both masks, the `c` line is where it should be.
        let c = text.find("c:").unwrap();
        assert_eq!(&shown.text[shown.map(c)..shown.map(c) + 2], "c:");
    }

    #[test]
    fn line_breaks_inside_a_secret_are_kept() {
        let text = "k: |\n  line one\n  line two\nnext: 1\n";
        let secret = 3..text.find("next").unwrap();
        let shown = DisplayText::new(text, &[secret], &[]);
        assert_eq!(shown.text.matches('\n').count(), text.matches('\n').count());
        assert!(shown.text.ends_with("next: 1\n"));
    }
}
