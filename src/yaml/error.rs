use std::fmt;
use std::ops::Range;

/// A YAML document that could not be read: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    /// Byte range in the source.
    pub span: Range<usize>,
    /// 1-based line and column (column in characters) of the span's start.
    pub line: usize,
    pub column: usize,
    /// Another place the error refers to (the first definition of a duplicate key).
    pub related: Option<(String, Range<usize>)>,
}

impl YamlError {
    /// An error at a byte range of `text`; line and column are computed from it.
    pub fn at(text: &str, span: Range<usize>, message: impl Into<String>) -> YamlError {
        let (line, column) = line_column(text, span.start);
        YamlError::at_line(span, line, column, message)
    }

    /// [`YamlError::at`] for one of many errors in `text`, located through its index.
    pub fn at_indexed(
        index: &mut LineIndex,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> YamlError {
        let (line, column) = index.line_column(text, span.start);
        YamlError::at_line(span, line, column, message)
    }

    fn at_line(
        span: Range<usize>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> YamlError {
        YamlError {
            message: message.into(),
            span,
            line,
            column,
            related: None,
        }
    }
}

/// Line and column lookups for many offsets of one text, without rescanning it for each.
///
/// [`line_column`] scans the text up to the offset, which is fine once; a hostile document can
/// have hundreds of thousands of errors (a duplicate key on every line), and scanning for each
/// made that quadratic: minutes for a 1.5 MB file. This finds the line by binary search and
/// counts a column's characters from the previous lookup when it is further along the same
/// line (errors come in source order), so even a single 30 MB line costs one scan.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset where each line starts (lines end at `\n`, as in [`line_column`]).
    starts: Vec<usize>,
    /// The previous lookup: byte offset, 0-based line, 0-based column.
    last: (usize, usize, usize),
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            starts,
            last: (0, 0, 0),
        }
    }

    /// 1-based line and column (in characters) of a byte offset of `text`, the text this index
    /// was built from; the same as [`line_column`].
    pub fn line_column(&mut self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line_of(offset);
        let (last_offset, last_line, last_column) = self.last;
        let column = if last_line == line && last_offset <= offset {
            last_column + text[last_offset..offset].chars().count()
        } else {
            text[self.starts[line]..offset].chars().count()
        };
        self.last = (offset, line, column);
        (line + 1, column + 1)
    }

    /// The 0-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1)
    }

    /// Byte offset where 0-based line `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.starts[line]
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for YamlError {}
