//! Columns for the human tables of `plan` and `status`: an ID column as wide as the IDs it
//! holds (within bounds), and text wrapped under its column so that no line passes
//! [`MAX_LINE`] characters, however long a webhook URL or a reason is.

/// The longest line the tables print.
pub const MAX_LINE: usize = 160;
/// The ID column is at least this wide (short IDs line up as they always did)…
const MIN_ID: usize = 40;
/// …and at most this wide: a longer ID gets its own line, its text the next ones.
const MAX_ID: usize = 64;

fn width_of(text: &str) -> usize {
    text.chars().count()
}

/// The ID column's width for these IDs (as shown, escaped): as wide as the widest that fits
/// in [`MAX_ID`]; wider ones get a line of their own instead of widening every row.
pub fn id_width<'a>(ids: impl IntoIterator<Item = &'a str>) -> usize {
    ids.into_iter()
        .map(width_of)
        .filter(|w| *w <= MAX_ID)
        .max()
        .unwrap_or(0)
        .max(MIN_ID)
}

/// The lines of one row: `prefix`, `id` padded to `width`, then `text`, wrapped under its
/// column; an ID wider than the column is alone on its line and the text starts below it.
pub fn row(prefix: &str, id: &str, width: usize, text: &str) -> Vec<String> {
    let indent = width_of(prefix) + width + 1;
    let room = MAX_LINE.saturating_sub(indent).max(20);
    let mut chunks = wrap(text, room).into_iter();
    let mut lines = Vec::new();
    if width_of(id) > width {
        lines.push(format!("{prefix}{id}").trim_end().to_owned());
    } else {
        let first = chunks.next().unwrap_or_default();
        lines.push(
            format!("{prefix}{id:<width$} {first}")
                .trim_end()
                .to_owned(),
        );
    }
    for chunk in chunks {
        lines.push(format!("{:indent$}{chunk}", ""));
    }
    lines
}

/// A paragraph with a hanging indent: `prefix` then `text`, its next lines indented to where
/// the text started, none longer than [`MAX_LINE`].
pub fn paragraph(prefix: &str, text: &str) -> Vec<String> {
    let indent = width_of(prefix);
    let room = MAX_LINE.saturating_sub(indent).max(20);
    wrap(text, room)
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                format!("{prefix}{line}")
            } else {
                format!("{:indent$}{line}", "")
            }
        })
        .collect()
}

/// `text` in lines of at most `room` characters, broken between words (a word longer than a
/// line is cut). Linear in the text: a word is cut where it is, never copied for each line (a
/// server's message can be one word of megabytes).
fn wrap(text: &str, room: usize) -> Vec<String> {
    let room = room.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    // Characters in `line`.
    let mut used = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word;
        let mut len = width_of(word);
        loop {
            let sep = usize::from(used > 0);
            if used + sep + len <= room {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(word);
                used += sep + len;
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
                continue;
            }
            // A word longer than a whole line: its first `room` characters make a line.
            let cut = word.char_indices().nth(room).map_or(word.len(), |(i, _)| i);
            lines.push(word[..cut].to_owned());
            word = &word[cut..];
            len -= room;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stay_within_the_line_and_under_their_column() {
        let long_id = format!("webhook/https://hooks.example.com/{}", "p".repeat(80));
        let medium = "w".repeat(50);
        let width = id_width(["link", long_id.as_str(), medium.as_str()]);
        assert_eq!(width, 50, "as wide as the widest that fits");
        let text = "word ".repeat(60);
        for id in ["link", long_id.as_str()] {
            let lines = row("  + create    ", id, width, &text);
            for line in &lines {
                assert!(line.chars().count() <= MAX_LINE, "{line}");
            }
            for line in &lines[1..] {
                assert!(line.starts_with(&" ".repeat(14 + width + 1)), "{line:?}");
                assert!(line.chars().nth(14 + width + 1) != Some(' '), "{line:?}");
            }
        }
        assert_eq!(id_width(["link"]), MIN_ID);
        assert_eq!(wrap(&"x".repeat(45), 20).len(), 3);
        assert_eq!(wrap("ab cdéfghij k", 4), ["ab", "cdéf", "ghij", "k"]);
    }

    #[test]
    fn one_long_word_wraps_in_linear_time() {
        // Quadratic wrapping took seconds for 1 MB (copying the rest of the word at each
        // line); this many characters would take minutes that way.
        let word = "é".repeat(4_000_000);
        let lines = wrap(&word, 100);
        assert_eq!(lines.len(), 40_000);
        assert!(lines.iter().all(|l| l.chars().count() == 100));
    }
}
