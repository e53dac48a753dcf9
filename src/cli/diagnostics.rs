//! Printing plan diagnostics the way people and pipelines read them.

use std::io::{IsTerminal, Write};

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde_json::json;

use crate::plan::{InvalidPlan, PlanDiagnostic};

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

/// One diagnostic as a JSON object for `--output json`.
pub fn to_json(file: &str, d: &PlanDiagnostic) -> serde_json::Value {
    json!({
        "file": file,
        "line": d.line,
        "column": d.column,
        "code": d.code,
        "message": d.message,
        "label": d.label,
        "help": d.help,
    })
}
