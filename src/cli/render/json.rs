//! JSON lines (`--output json`): one event per line on stdout, as `docs/events.schema.json`
//! describes them.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cli::output::outln;
use crate::events::{Event, Reporter};

/// Prints one event a command answers with (through `outln!`: a closed stdout ends the
/// command quietly).
pub fn print(event: &Event) {
    outln!("{}", event.to_line());
}

/// A run's events as they come, on stdout; `translate_progress` at most every two seconds.
pub struct JsonLines {
    last_progress: Mutex<Option<Instant>>,
}

impl JsonLines {
    pub fn new() -> JsonLines {
        JsonLines {
            last_progress: Mutex::new(None),
        }
    }
}

impl Default for JsonLines {
    fn default() -> Self {
        JsonLines::new()
    }
}

impl Reporter for JsonLines {
    fn report(&self, event: &Event) {
        if let Event::TranslateProgress(_) = event {
            let mut last = self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
                return;
            }
            *last = Some(Instant::now());
        }
        // While a run goes, a stdout that went away must not stop it half-way (the journal
        // keeps what happened; the summary's write ends the command as `outln!` does).
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", event.to_line());
    }
}
