use std::fmt;

use serde::{Deserialize, Serialize};

/// A resource type `translate_v2id_to_provider_id` translates IDs of (the contract's enum).
/// Gmail's labels are `folders`: v3 consolidates folders and labels.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    Messages,
    Drafts,
    Threads,
    Contacts,
    Contactgroups,
    Events,
    Calendars,
    Folders,
}

impl ResourceType {
    /// Every type, in the contract's order.
    pub const ALL: [ResourceType; 8] = [
        ResourceType::Messages,
        ResourceType::Drafts,
        ResourceType::Threads,
        ResourceType::Contacts,
        ResourceType::Contactgroups,
        ResourceType::Events,
        ResourceType::Calendars,
        ResourceType::Folders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Messages => "messages",
            ResourceType::Drafts => "drafts",
            ResourceType::Threads => "threads",
            ResourceType::Contacts => "contacts",
            ResourceType::Contactgroups => "contactgroups",
            ResourceType::Events => "events",
            ResourceType::Calendars => "calendars",
            ResourceType::Folders => "folders",
        }
    }

    pub fn parse(s: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
