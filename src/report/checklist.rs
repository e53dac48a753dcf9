//! What `verify` says, as data: per pair, the checklist's items with their evidence (its JSON
//! is the `verify` event's payload, see `src/events/`).

use schemars::JsonSchema;
use serde::Serialize;

/// The version of verify's JSON; a field is never removed or changed in meaning without a new
/// one.
pub const VERIFY_VERSION: u32 = 1;

pub use crate::engine::{Check, VerifyItem};

/// One checklist item (its former name).
pub type Item = VerifyItem;

/// One pair's checklist: the items of its steps' kinds in graph order (link and region, the
/// import's connectors, redirect URIs, destinations and their tests, channels, test
/// accounts), then its waves and its grants. `passed` when no item fails (a manual item,
/// a step for a person, does not).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PairVerification {
    pub pair: String,
    pub region: crate::api::Region,
    pub passed: bool,
    pub items: Vec<VerifyItem>,
}

/// The whole checklist (serialized as verify's JSON, version [`VERIFY_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Verification {
    #[schemars(extend("const" = 1))]
    pub v: u32,
    pub plan: String,
    pub passed: bool,
    pub pairs: Vec<PairVerification>,
}

impl Verification {
    /// How many items are steps for a person not done yet (listed as `todo`, not failures).
    pub fn todo(&self) -> usize {
        self.pairs
            .iter()
            .flat_map(|p| &p.items)
            .filter(|i| i.manual && !i.passed)
            .count()
    }

    /// Every failed item, with its pair (a manual item is not a failure).
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Item)> {
        self.pairs.iter().flat_map(|p| {
            p.items
                .iter()
                .filter(|i| i.fails())
                .map(move |i| (p.pair.as_str(), i))
        })
    }
}
