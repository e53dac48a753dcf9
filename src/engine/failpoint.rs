//! Test-only crash points. With `NYLAS_MIGRATE_FAILPOINT=<step kind or step ID>@<phase>[#n]`,
//! the n-th (default first) time a step of that kind (or that exact step) reaches `phase`, the
//! process prints `failpoint reached: …` on stderr and stops making progress, so a test can
//! SIGKILL it at a precise point and check that the next run converges. Phases, in order:
//! `before-intent`, `after-intent` (journal says a write is coming), `after-write` (the write
//! was answered; its outcome is not yet journaled), `after-outcome`.
//!
//! With `NYLAS_MIGRATE_FAILPOINT_RESUME=<file>` as well, the process waits there until that
//! file exists, then goes on: two runs held at the same point and released together race
//! exactly as two pipelines would.
//!
//! Unset (always, outside the crash tests), this costs one environment lookup per process.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::graph::Step;

struct Failpoint {
    target: String,
    phase: String,
    nth: u32,
    hits: AtomicU32,
}

fn configured() -> Option<&'static Failpoint> {
    static FAILPOINT: OnceLock<Option<Failpoint>> = OnceLock::new();
    FAILPOINT
        .get_or_init(|| {
            let spec = std::env::var("NYLAS_MIGRATE_FAILPOINT").ok()?;
            let (spec, nth) = match spec.rsplit_once('#') {
                Some((s, n)) => (s.to_owned(), n.parse().ok()?),
                None => (spec, 1),
            };
            let (target, phase) = spec.rsplit_once('@')?;
            Some(Failpoint {
                target: target.to_owned(),
                phase: phase.to_owned(),
                nth,
                hits: AtomicU32::new(0),
            })
        })
        .as_ref()
}

/// Marks that `step` reached `phase`; blocks forever if that is the configured crash point.
pub async fn reached(step: &Step, phase: &str) {
    let Some(fp) = configured() else {
        return;
    };
    if fp.phase != phase || (fp.target != step.kind.name() && fp.target != step.id.as_str()) {
        return;
    }
    if fp.hits.fetch_add(1, Ordering::SeqCst) + 1 != fp.nth {
        return;
    }
    errln!("failpoint reached: {}@{phase}", step.id);
    match std::env::var_os("NYLAS_MIGRATE_FAILPOINT_RESUME") {
        Some(file) => {
            let file = std::path::PathBuf::from(file);
            while !file.exists() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        // Wait for the test's SIGKILL; never resume.
        None => std::future::pending::<()>().await,
    }
}
