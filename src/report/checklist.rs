//! What `verify` says, as data: per pair, the checklist's items with their evidence (its JSON
//! is the `verify` event's payload, see `src/events/`).

use schemars::JsonSchema;
use serde::Serialize;

/// The version of verify's JSON; a field is never removed or changed in meaning without a new
/// one.
pub const VERIFY_VERSION: u32 = 1;

/// What an item checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    Link,
    Region,
    Connector,
    MicrosoftCredentials,
    RedirectUri,
    Webhook,
    WebhookTest,
    Pubsub,
    Sns,
    TestAccount,
    Wave,
    Grants,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Link => "link",
            Check::Region => "region",
            Check::Connector => "connector",
            Check::MicrosoftCredentials => "microsoft-credentials",
            Check::RedirectUri => "redirect-uri",
            Check::Webhook => "webhook",
            Check::WebhookTest => "webhook-test",
            Check::Pubsub => "pubsub",
            Check::Sns => "sns",
            Check::TestAccount => "test-account",
            Check::Wave => "wave",
            Check::Grants => "grants",
        }
    }
}

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Item {
    pub check: Check,
    /// What it is about: a provider, a URL, an account, a wave; empty for the pair itself.
    pub subject: String,
    pub passed: bool,
    /// What was observed, for a person to read.
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PairVerification {
    pub pair: String,
    pub region: crate::api::Region,
    pub passed: bool,
    pub items: Vec<Item>,
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
    /// Every failed item, with its pair.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Item)> {
        self.pairs.iter().flat_map(|p| {
            p.items
                .iter()
                .filter(|i| !i.passed)
                .map(move |i| (p.pair.as_str(), i))
        })
    }
}
