//! A problem found in a plan, as a miette diagnostic pointing at the offending node.

use std::ops::Range;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};

/// One problem in a plan file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PlanDiagnostic {
    /// A stable code, such as `plan::unknown-key`, for tests and pipelines.
    pub code: &'static str,
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
    source_code: Option<NamedSource<String>>,
}

impl PlanDiagnostic {
    pub fn new(code: &'static str, span: Range<usize>, message: impl Into<String>) -> Self {
        PlanDiagnostic {
            code,
            message: message.into(),
            span,
            label: String::new(),
            related: Vec::new(),
            help: None,
            line: 0,
            column: 0,
            source_code: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn related(mut self, label: impl Into<String>, span: Range<usize>) -> Self {
        self.related.push((label.into(), span));
        self
    }

    /// Attaches the file the diagnostic is about. `display_text` is the source as it may be
    /// shown: secrets written inline are already masked in it.
    pub(crate) fn attach(mut self, file_name: &str, display_text: &str) -> Self {
        let (line, column) = crate::yaml::line_column(display_text, self.span.start);
        self.line = line;
        self.column = column;
        self.source_code =
            Some(NamedSource::new(file_name, display_text.to_owned()).with_language("yaml"));
        self
    }
}

impl Diagnostic for PlanDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
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
