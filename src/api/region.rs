use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Nylas data-centre region. A v2 application can only be linked to and imported into a v3
/// application in the same region.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// The U.S. data centre, `https://api.us.nylas.com`.
    Us,
    /// The E.U. data centre, `https://api.eu.nylas.com`.
    Eu,
}

impl Region {
    pub const ALL: [Region; 2] = [Region::Us, Region::Eu];

    /// The region's identifier as Nylas writes it (`us`, `eu`), also the value of an
    /// application's `region` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }

    /// Nylas's public API host for the region.
    pub fn default_api_url(self) -> &'static str {
        match self {
            Region::Us => "https://api.us.nylas.com",
            Region::Eu => "https://api.eu.nylas.com",
        }
    }

    pub fn parse(s: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
