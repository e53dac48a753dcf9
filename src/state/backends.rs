//! Which backend keeps a plan's state: [`StateLocation::backend`], the one place a location is
//! matched to the backend that opens its journal and takes its lock (see
//! `journal::StateBackend`). Adding a backend is a variant of `StateLocation`, a folder beside
//! `folder/` and `postgres/` implementing the backend traits, and an arm here.

use std::time::Duration;

use crate::state::folder::FolderBackend;
use crate::state::journal::{StateBackend, StateLocation};
use crate::state::postgres::PostgresBackend;

/// The longest a write may be sent after its intent's fenced transaction began: past it the
/// write is not sent (its intent stays for a later run to resolve), so that a runner stalled
/// between its intent and its request cannot send it after its lock has long gone.
pub const SEND_WINDOW: Duration = Duration::from_secs(10);

/// How long a write of a runner that lost the lock can still be in flight after its last fenced
/// intent: the send window, then the client's bound on one call (no attempt starts after
/// `max_elapsed`, and one attempt lasts at most `request_timeout`), and a margin. A runner that
/// takes the lock from one that did not settle its epoch waits this long (from its own
/// acquisition, which is after the other's last intent) before it resolves an intent that runner
/// left, unless that runner settles sooner (see docs/architecture.md, "Fencing").
pub fn takeover_lease() -> Duration {
    let policy = crate::client::RetryPolicy::default();
    SEND_WINDOW + policy.max_elapsed + policy.request_timeout + Duration::from_secs(10)
}

impl StateLocation {
    /// The backend that keeps the state here: its journal and its lock.
    pub(crate) fn backend(&self) -> Box<dyn StateBackend> {
        match self {
            StateLocation::Folder(dir) => Box::new(FolderBackend { dir: dir.clone() }),
            StateLocation::Postgres(target) => Box::new(PostgresBackend {
                target: (**target).clone(),
                lease: takeover_lease(),
            }),
        }
    }
}
