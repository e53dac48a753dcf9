//! Whole-output snapshots (insta, in `tests/snapshots/`) and the one list of what is redacted
//! from them: what changes from run to run becomes a `[placeholder]`, the rest is compared to
//! the letter.
//!
//! ```ignore
//! let out = Test::new().args(["validate", "examples/invalid/unknown-region.yaml"]).run();
//! Redactions::new().bind(|| insta::assert_snapshot!("unknown-region", stderr(&out)));
//! ```
//!
//! A snapshot that differs fails the test. Outside CI insta also writes the new output beside
//! the snapshot (`.snap.new`) for review; under CI (`CI` set, `INSTA_UPDATE=no` in `.ci/run`)
//! it writes nothing. To accept a change: `cargo insta review`, or without cargo-insta
//! `INSTA_UPDATE=always cargo test` and read `git diff tests/snapshots/` before committing.

use nylas_migrate::simulator::WorldView;

/// What every snapshot hides after the temporary folders (tempfile's `.tmpXXXXXX` in the
/// system's temp dir, `[tmp]`), in the order it is applied, as (pattern, placeholder).
const ALWAYS: [(&str, &str); 5] = [
    // Ephemeral ports on the loopback address.
    (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:[port]"),
    // Nylas's request IDs (UUIDs), in text (possibly wrapped onto the next line) and JSON.
    (
        r#"(request_id(?:":")?\s*)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#,
        "${1}[request-id]",
    ),
    // Unix times in JSON (`started_at`, `finished_at`, …).
    (r#"("[a-z_]+_at":)[0-9]+"#, "${1}[time]"),
    // Times for people: `2026-11-23 12:49:41 UTC`.
    (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC",
        "[time]",
    ),
    // Durations: `1.0s`, `250ms`.
    (r"\b[0-9]+(?:\.[0-9]+)?m?s\b", "[duration]"),
];

/// The redactions of one snapshot: temporary folders, [`ALWAYS`], plus the IDs a test knows (those a simulator
/// made).
pub struct Redactions {
    settings: insta::Settings,
}

impl Default for Redactions {
    fn default() -> Self {
        Self::new()
    }
}

impl Redactions {
    pub fn new() -> Redactions {
        let mut settings = insta::Settings::clone_current();
        settings.set_omit_expression(true);
        let temp = std::env::temp_dir();
        let temp = temp.to_string_lossy();
        settings.add_filter(
            &format!(
                r"{}/\.tmp[A-Za-z0-9]+",
                regex::escape(temp.trim_end_matches('/'))
            ),
            "[tmp]",
        );
        for (pattern, placeholder) in ALWAYS {
            settings.add_filter(pattern, placeholder);
        }
        Redactions { settings }
    }

    /// Every occurrence of `value` becomes `placeholder`.
    pub fn text(mut self, value: &str, placeholder: &str) -> Redactions {
        self.settings.add_filter(&regex::escape(value), placeholder);
        self
    }

    /// The IDs the simulator gave the grants, jobs and webhook destinations of `world`.
    pub fn world(self, world: &WorldView) -> Redactions {
        world.apps.values().fold(self, |r, app| {
            let r = app
                .grants
                .iter()
                .fold(r, |r, g| r.text(&g.id, "[grant-id]"));
            let r = app
                .jobs
                .iter()
                .fold(r, |r, j| r.text(&j.job_id, "[job-id]"));
            app.webhooks
                .iter()
                .fold(r, |r, w| r.text(&w.id, "[webhook-id]"))
        })
    }

    /// Runs `assert` (an `insta::assert_snapshot!` at the test's own line) with these
    /// redactions.
    pub fn bind<R>(&self, assert: impl FnOnce() -> R) -> R {
        self.settings.bind(assert)
    }
}
