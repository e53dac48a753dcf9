//! What `verify` asks of a step kind: its checklist items ([`VerifyItem`]), each built by the
//! kind's `StepDriver::verify` from the same match of the live
//! object and the same comparison with the plan that its `observe` makes, so that `plan`,
//! `apply` and `verify` agree. What a pair's items read is read once per pair
//! ([`VerifyReads`]), whatever the number of steps of a kind.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use tokio::sync::OnceCell;

use crate::api::{Grant, PubsubChannel, RedirectUri, RequestedStatus, SnsChannel, Webhook};
use crate::client::AppClient;
use crate::engine::EngineError;
use crate::graph::{PairTarget, Step};
use crate::state::journal::{Journal, StepState};

pub use super::verify_item::{Check, VerifyItem};

/// What one pair's items read, each kind's listing made once, when its first step asks.
pub struct VerifyReads<'a> {
    pub(super) app: &'a AppClient,
    pub(super) journal: Option<&'a Journal>,
    /// The pair's steps, in graph order.
    pub(super) steps: &'a [&'a Step],
    /// Each test account of the pair (single clone) → its first grant, if any.
    pub(super) tests: &'a HashMap<String, Option<Grant>>,
    /// How many of the pair's grants (from v2 accounts) each provider has.
    pub(super) grant_providers: &'a BTreeMap<String, usize>,
    pub(super) webhooks: OnceCell<Vec<Webhook>>,
    pub(super) redirect_uris: OnceCell<Vec<RedirectUri>>,
    pub(super) pubsub: OnceCell<Vec<PubsubChannel>>,
    pub(super) sns: OnceCell<Vec<SnsChannel>>,
}

impl<'a> VerifyReads<'a> {
    /// `tests` and `grant_providers`: from the pair's grants, read by the caller a page at a
    /// time.
    pub fn new(
        app: &'a AppClient,
        journal: Option<&'a Journal>,
        steps: &'a [&'a Step],
        tests: &'a HashMap<String, Option<Grant>>,
        grant_providers: &'a BTreeMap<String, usize>,
    ) -> VerifyReads<'a> {
        VerifyReads {
            app,
            journal,
            steps,
            tests,
            grant_providers,
            webhooks: OnceCell::new(),
            redirect_uris: OnceCell::new(),
            pubsub: OnceCell::new(),
            sns: OnceCell::new(),
        }
    }

    /// A listing, read at the first call.
    pub(super) async fn listed<T, F, Fut>(
        cell: &OnceCell<Vec<T>>,
        list: F,
    ) -> Result<&[T], EngineError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, EngineError>>,
    {
        Ok(cell.get_or_try_init(list).await?.as_slice())
    }
}

/// What one step's items work with.
pub struct VerifyCx<'a> {
    pub(super) step: &'a Step,
    pub(super) pair: &'a PairTarget,
    pub(super) reads: &'a VerifyReads<'a>,
}

impl<'a> VerifyCx<'a> {
    pub fn new(step: &'a Step, pair: &'a PairTarget, reads: &'a VerifyReads<'a>) -> VerifyCx<'a> {
        VerifyCx { step, pair, reads }
    }

    pub(super) fn app(&self) -> &'a AppClient {
        self.reads.app
    }

    /// The journal's record of this step, if any.
    pub(super) fn recorded(&self) -> Result<Option<StepState>, EngineError> {
        Ok(self
            .reads
            .journal
            .map(|j| j.step(&self.step.id))
            .transpose()?
            .flatten())
    }
}

/// How many live objects a step's match found: the one match every use of a kind shares
/// (observe, the check after a create, the search after an unanswered create, verify).
pub(super) enum Match<'a, T> {
    Absent,
    One(&'a T),
    /// Several: which one the plan means cannot be told (or one was made twice).
    Several(Vec<&'a T>),
}

impl<'a, T> Match<'a, T> {
    pub fn of(mut found: Vec<&'a T>) -> Match<'a, T> {
        match found.len() {
            0 => Match::Absent,
            1 => Match::One(found.remove(0)),
            _ => Match::Several(found),
        }
    }
}

/// A notification destination's item: absent, several, or compared by `differences` (the
/// status among them: a plan wants its destinations `active` unless it says `pause`).
pub(super) fn settled(
    what: &str,
    id: &str,
    differences: &[&str],
    status: Option<&str>,
    wanted: RequestedStatus,
) -> (bool, String) {
    let status = status.unwrap_or("of no reported status");
    if differences.is_empty() {
        (true, format!("{what} {id} {status}, as the plan says"))
    } else if differences == ["status"] {
        (
            false,
            format!("{what} {id} is {status}, not {wanted} as the plan says"),
        )
    } else {
        (
            false,
            format!(
                "{what} {id} ({status}) differs from the plan in {}",
                differences.join(", ")
            ),
        )
    }
}
