//! Printing plan diagnostics the way people and pipelines read them.

use std::io::{IsTerminal, Write};

use crate::events::Diagnostic;
use crate::plan::{InvalidPlan, PlanDiagnostic};
use crate::untrusted::{bounded_message, escaped_lines};
use miette::{GraphicalReportHandler, GraphicalTheme};

/// Whether stderr gets colours: a terminal, and `NO_COLOR` unset.
fn colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Renders one diagnostic as miette's graphical report: message, code, file:line:column, the
/// snippet with its labels, and the help line.
pub fn render(diagnostic: &PlanDiagnostic) -> String {
    let theme = if colours() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_context_lines(2)
        .with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = format!("{diagnostic}\n");
    }
    out
}

/// Prints an invalid plan's diagnostics to stderr, then a one-line count.
pub fn print_invalid(invalid: &InvalidPlan) {
    let mut stderr = std::io::stderr().lock();
    for diagnostic in &invalid.diagnostics {
        let _ = writeln!(stderr, "{}", render(diagnostic));
    }
    let n = invalid.diagnostics.len();
    let _ = writeln!(
        stderr,
        "error: {} is invalid: {n} problem{}",
        invalid.name,
        if n == 1 { "" } else { "s" }
    );
}

/// One diagnostic as the JSON object a `validation` event lists.
pub fn to_json(file: &str, d: &PlanDiagnostic) -> serde_json::Value {
    serde_json::to_value(Diagnostic::of(file, d)).unwrap_or_default()
}

/// An error as it may be shown: the same report, with every text it carries (message, help,
/// causes, related errors) escaped, and its message and causes cut to a few KiB, since errors
/// quote the API (an error body's message), the journal and files (see [`crate::untrusted`]).
#[derive(Debug)]
pub struct Shown {
    message: String,
    code: Option<String>,
    help: Option<String>,
    url: Option<String>,
    severity: Option<miette::Severity>,
    cause: Option<Box<Shown>>,
    related: Vec<Shown>,
}

impl Shown {
    pub fn new(diagnostic: &dyn miette::Diagnostic) -> Shown {
        Shown {
            message: escaped_lines(bounded_message(diagnostic.to_string())),
            code: diagnostic.code().map(|c| escaped_lines(c.to_string())),
            help: diagnostic.help().map(|h| escaped_lines(h.to_string())),
            url: diagnostic.url().map(|u| escaped_lines(u.to_string())),
            severity: diagnostic.severity(),
            cause: std::error::Error::source(diagnostic).map(|e| Box::new(Shown::cause(e))),
            related: diagnostic
                .related()
                .map(|r| r.map(Shown::new).collect())
                .unwrap_or_default(),
        }
    }

    fn cause(error: &(dyn std::error::Error + 'static)) -> Shown {
        Shown {
            message: escaped_lines(bounded_message(error.to_string())),
            code: None,
            help: None,
            url: None,
            severity: None,
            cause: error.source().map(|e| Box::new(Shown::cause(e))),
            related: Vec::new(),
        }
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

impl miette::Diagnostic for Shown {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn std::fmt::Display>)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn url<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.url
            .as_ref()
            .map(|u| Box::new(u) as Box<dyn std::fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.severity
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}
