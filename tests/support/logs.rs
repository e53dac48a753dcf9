//! Capturing what the library logs (`tracing`) during one test, in a binary whose tests share
//! one process.
//!
//! A test captures with a subscriber of its own for its thread (`set_default`), but `tracing`
//! caches, for the whole process, whether a log line is wanted at all. While only one subscriber
//! exists, that answer comes from whichever thread first reaches the line, and a test that logs
//! nothing would answer "never" for the capturing test too (tokio-rs/tracing#3611). So a
//! process-wide baseline subscriber, which wants nothing itself but answers "ask each time",
//! is installed first: from then on every line is asked of the subscriber of the thread that
//! logs it.

use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use tracing::subscriber::{DefaultGuard, Interest};
use tracing::{Event, Metadata, Subscriber, span};

/// What the subscriber of [`capture`] wrote.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Logs at `level` and above from this thread, as the fmt subscriber writes them without
/// colours, until the guard is dropped. Server tasks are logged only if they run on this thread
/// (a current-thread runtime).
pub fn capture(level: tracing::Level) -> (Logs, DefaultGuard) {
    static BASELINE: Once = Once::new();
    BASELINE.call_once(|| {
        tracing::subscriber::set_global_default(AskEachTime)
            .expect("no other test sets a global subscriber");
    });
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// The baseline: enables nothing, but never lets a call site's answer be cached.
struct AskEachTime;

impl Subscriber for AskEachTime {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        // Never called: `enabled` is false for every span.
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}
