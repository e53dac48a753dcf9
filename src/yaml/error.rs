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
        YamlError {
            message: message.into(),
            span,
            line,
            column,
            related: None,
        }
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
