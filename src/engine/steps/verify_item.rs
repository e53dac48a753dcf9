//! A verify checklist's item ([`VerifyItem`]) and what it checks ([`Check`]): plain data that
//! the step kinds build (`checklist.rs`) and `report` and the events carry, so it imports
//! nothing of the engine.

use schemars::JsonSchema;
use serde::Serialize;

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
pub struct VerifyItem {
    pub check: Check,
    /// What it is about: a provider, a URL, an account, a wave; empty for the pair itself.
    pub subject: String,
    /// Whether the live state shows it done. A manual item is never `passed` until it is done.
    pub passed: bool,
    /// A step for a person that the plan cannot express (outside the Nylas API, such as the
    /// new Azure app): listed with what to do, and not counted as a failure while it is not
    /// done, since no apply of this plan could do it.
    pub manual: bool,
    /// What was observed, for a person to read.
    pub evidence: String,
}

impl VerifyItem {
    /// A check: passed or failed.
    pub fn new(
        check: Check,
        subject: impl Into<String>,
        passed: bool,
        evidence: impl Into<String>,
    ) -> VerifyItem {
        VerifyItem {
            check,
            subject: subject.into(),
            passed,
            manual: false,
            evidence: evidence.into(),
        }
    }

    /// A step for a person, not done yet (see [`VerifyItem::manual`]).
    pub fn manual(check: Check, subject: impl Into<String>, what: impl Into<String>) -> VerifyItem {
        VerifyItem {
            check,
            subject: subject.into(),
            passed: false,
            manual: true,
            evidence: what.into(),
        }
    }

    /// Whether it fails the pair: a check that did not pass (a manual step does not).
    pub fn fails(&self) -> bool {
        !self.passed && !self.manual
    }
}
