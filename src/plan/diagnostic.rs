//! A problem found in a plan, as a miette diagnostic pointing at the offending node.

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use miette::{
    Diagnostic, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

use super::display::DisplayText;
use crate::code::Code;
use crate::untrusted::escaped_lines;
use crate::yaml::LineIndex;

/// The most diagnostics reported for one file. A hostile or garbled file can have one problem
/// per node (up to the parser's 2,000,000): past a few hundred, more add nothing a person can
/// use, and reporting them all would take minutes and gigabytes of output.
pub const MAX_DIAGNOSTICS: usize = 500;

/// One problem in a plan file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PlanDiagnostic {
    /// A stable code, such as `plan::unknown-key`, for tests and pipelines.
    pub code: Code,
    pub message: String,
    /// The offending node and what to say at it.
    pub span: Range<usize>,
    pub label: String,
    /// Other places involved (the first of two duplicates, the rest of a cycle).
    pub related: Vec<(String, Range<usize>)>,
    pub help: Option<String>,
    /// 1-based line and column of `span`'s start.
    pub line: usize,
    pub column: usize,
    /// The file, shared by every diagnostic about it; `None` until attached, and when no
    /// snippet around `span` can be shown.
    source_code: Option<Arc<SharedSource>>,
    /// Set when the snippet is left out (its lines are too long to show): where the problem is,
    /// so the report still says.
    location_note: Option<String>,
}

impl PlanDiagnostic {
    /// A diagnostic at `span`. Its message, label, help and related labels may quote the plan:
    /// they are escaped here (see [`crate::untrusted`]), so that neither a terminal nor a
    /// pipeline's log ever gets a control character from a plan.
    pub fn new(code: Code, span: Range<usize>, message: impl Into<String>) -> Self {
        PlanDiagnostic {
            code,
            message: escaped_lines(message.into()),
            span,
            label: String::new(),
            related: Vec::new(),
            help: None,
            line: 0,
            column: 0,
            source_code: None,
            location_note: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = escaped_lines(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(escaped_lines(help.into()));
        self
    }

    pub fn related(mut self, label: impl Into<String>, span: Range<usize>) -> Self {
        self.related.push((escaped_lines(label.into()), span));
        self
    }

    /// Attaches the file the diagnostic is about. `display_text` is the source as it may be
    /// shown: secrets written inline are already masked in it.
    pub(crate) fn attach(self, file_name: &str, display_text: &str) -> Self {
        self.attach_shared(&SharedSource::new(file_name, display_text))
    }

    /// Attaches a file shared with the file's other diagnostics (see [`SharedSource`]).
    pub(crate) fn attach_shared(self, source: &Arc<SharedSource>) -> Self {
        let at = source.line_column(self.span.start);
        self.attach_at(source, at)
    }

    /// Attaches the shown form of a file whose masks moved offsets: `at` is the line and column
    /// in the file itself; spans are mapped onto the shown text.
    pub(crate) fn attach_shown(
        mut self,
        source: &Arc<SharedSource>,
        shown: &DisplayText,
        at: (usize, usize),
    ) -> Self {
        self.span = shown.map_span(&self.span);
        for (_, span) in &mut self.related {
            *span = shown.map_span(span);
        }
        self.attach_at(source, at)
    }

    fn attach_at(mut self, source: &Arc<SharedSource>, (line, column): (usize, usize)) -> Self {
        // miette's rendering time grows with the square of a report's labels: a cycle through
        // 8,000 pairs, each step a label, took minutes. The first few make the point.
        self.related.truncate(MAX_RELATED);
        self.line = line;
        self.column = column;
        let spans = std::iter::once(&self.span).chain(self.related.iter().map(|(_, s)| s));
        let showable = spans.clone().all(|span| source.can_show(span));
        if source.text.is_empty() {
            // Nothing to show (an empty or unreadable file): no empty snippet either.
            self.source_code = None;
        } else if showable {
            self.source_code = Some(Arc::clone(source));
        } else {
            // miette prints whole lines and panics on a label past column 65,535 ("Formatting
            // argument out of range"), so a snippet of a very long line is left out.
            self.source_code = None;
            self.location_note = Some(format!(
                "at {}:{line}:{column} (the line is too long to show)",
                source.name
            ));
        }
        self
    }
}

/// The longest line shown in a snippet, in bytes. Longer lines are not shown at all: a plan's
/// lines are short, and miette cannot place a label beyond column 65,535 (4,096 bytes stay
/// below it even with every byte a tab, which miette widens to 4 columns).
const MAX_SNIPPET_LINE: usize = 4_096;
/// The most source shown around one label, in bytes.
const MAX_SNIPPET_BYTES: usize = 64 * 1024;
/// The most related labels shown with one diagnostic.
const MAX_RELATED: usize = 16;
/// Context lines around a label, as `cli::diagnostics::render` asks for.
const CONTEXT_LINES: usize = 2;

/// A plan's displayable text, shared by all of its diagnostics, with the start of every line.
///
/// A hostile plan can have hundreds of thousands of problems: each diagnostic owning a copy of
/// a 30 MB file, or miette scanning the file from its start for each snippet (as its `str`
/// source does), made that cost time and memory proportional to size × problems (a 0.5 MB file
/// with 2,000 duplicate pairs ran for minutes and took gigabytes). Shared, with a line index,
/// a snippet costs only the lines it shows.
#[derive(Debug)]
pub(crate) struct SharedSource {
    name: String,
    text: String,
    /// Where its lines start; behind a lock because a lookup remembers where it was, so that
    /// diagnostics attached in source order count each line's characters once.
    lines: Mutex<LineIndex>,
}

impl SharedSource {
    pub(crate) fn new(name: &str, text: &str) -> Arc<SharedSource> {
        Arc::new(SharedSource {
            name: escaped_lines(name.to_owned()),
            text: text.to_owned(),
            lines: Mutex::new(LineIndex::new(text)),
        })
    }

    fn index(&self) -> MutexGuard<'_, LineIndex> {
        // The index is never left half-updated, so a poisoned lock is still usable.
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Byte range of lines `first..=last`, with the last one's line break.
    fn lines(index: &LineIndex, text_len: usize, first: usize, last: usize) -> Range<usize> {
        let end = if last + 1 < index.line_count() {
            index.line_start(last + 1)
        } else {
            text_len
        };
        index.line_start(first)..end
    }

    /// The lines (`first..=last`) a snippet around `start..end` shows, with `before`/`after`
    /// lines of context.
    fn window(
        index: &LineIndex,
        start: usize,
        end: usize,
        before: usize,
        after: usize,
    ) -> (usize, usize) {
        let first = index.line_of(start).saturating_sub(before);
        let last_line = index.line_of(end.saturating_sub(1).max(start));
        let last = (last_line + after).min(index.line_count() - 1);
        (first, last)
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        self.index().line_column(&self.text, offset)
    }

    /// Whether miette can show a snippet around `span`: inside the text, short lines, and not
    /// too much of it.
    fn can_show(&self, span: &Range<usize>) -> bool {
        if span.start > span.end || span.end > self.text.len() {
            return false;
        }
        let index = self.index();
        let len = self.text.len();
        let (first, last) =
            Self::window(&index, span.start, span.end, CONTEXT_LINES, CONTEXT_LINES);
        Self::lines(&index, len, first, last).len() <= MAX_SNIPPET_BYTES
            && (first..=last)
                .all(|line| Self::lines(&index, len, line, line).len() <= MAX_SNIPPET_LINE)
    }
}

impl SourceCode for SharedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let start = span.offset();
        let end = start.saturating_add(span.len());
        if end > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        // Read the snippet from its own lines only, then move it back to where they are.
        let (first, window) = {
            let index = self.index();
            let (first, last) = Self::window(
                &index,
                start,
                end,
                context_lines_before,
                context_lines_after,
            );
            (first, Self::lines(&index, self.text.len(), first, last))
        };
        let inner_span = SourceSpan::new((start - window.start).into(), span.len());
        let inner = self.text[window.clone()].read_span(
            &inner_span,
            context_lines_before,
            context_lines_after,
        )?;
        let contents = MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            SourceSpan::new(
                (inner.span().offset() + window.start).into(),
                inner.span().len(),
            ),
            inner.line() + first,
            inner.column(),
            inner.line_count(),
        )
        .with_language("yaml");
        Ok(Box::new(contents))
    }
}

impl Diagnostic for PlanDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let help = match (&self.help, &self.location_note) {
            (Some(help), Some(note)) => format!("{help}\n{note}"),
            (Some(help), None) => help.clone(),
            (None, Some(note)) => note.clone(),
            (None, None) => return None,
        };
        Some(Box::new(help))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source_code
            .as_ref()
            .map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(
            (!self.label.is_empty()).then(|| self.label.clone()),
            to_source_span(&self.span),
        );
        let related = self.related.iter().map(|(label, span)| {
            LabeledSpan::new_with_span(Some(label.clone()), to_source_span(span))
        });
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

fn to_source_span(span: &Range<usize>) -> SourceSpan {
    // An empty span still marks a place (the end of a file, a missing key's mapping).
    SourceSpan::new(span.start.into(), span.end.saturating_sub(span.start))
}
