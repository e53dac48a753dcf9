//! What `plan` shows beside the steps: the notification destinations (webhooks, Pub/Sub and SNS
//! channels) and redirect URIs found live on a pair's v3 application that no step of the plan
//! names. Nothing is ever deleted; listing them makes drift visible (a destination subscribed
//! by hand, a redirect URI import copied from v2).

use serde::Serialize;

use crate::graph::Kind;

/// One live object that the plan does not manage: left as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    /// The kind of step that would manage it (`webhook`, `pubsub`, `sns`, `redirect-uri`).
    pub kind: Kind,
    /// Its ID at Nylas.
    pub id: String,
    /// What identifies it, as a plan would name it: the URL or the topic.
    pub subject: String,
    /// Its settings, for a person to read (triggers and status, or platform).
    pub detail: String,
}

/// What one pair's application has live that no step of the plan names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairUnmanaged {
    pub pair: String,
    pub found: Vec<Unmanaged>,
    /// The kinds that could not be listed, each with why: what `plan` shows is not the whole
    /// drift then, but the steps' own observations still are.
    pub unlisted: Vec<String>,
}
