//! The world the simulator starts from: v2 applications with their integrations and connected
//! accounts, and v3 applications with their API keys. Loaded from a YAML world file (see
//! `docs/simulator.md`) or generated (`generate.rs`).

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::api::{BatchProvider, ConnectorProvider, Region};

/// Everything the simulator knows before the first request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub v2_apps: Vec<V2App>,
    #[serde(default)]
    pub v3_apps: Vec<V3App>,
}

/// A Nylas v2 application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V2App {
    pub id: String,
    /// The client secret; with `id` it makes the `BasicV2` header. A secret: never logged.
    pub secret: String,
    pub region: Region,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// The providers the app has integrations for; import turns each into a v3 connector.
    #[serde(default)]
    pub integrations: Vec<AccountProvider>,
    #[serde(default)]
    pub accounts: Vec<V2Account>,
}

/// A connected account of a v2 application. Its position in `accounts` is its import order, the
/// order batch clones page through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V2Account {
    pub id: String,
    pub provider: AccountProvider,
    pub email: String,
    /// False for accounts Nylas cannot migrate (mostly Microsoft personal accounts): they become
    /// placeholder grants or failures.
    #[serde(default = "yes")]
    pub migratable: bool,
}

fn yes() -> bool {
    true
}

/// A Nylas v3 application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V3App {
    pub id: String,
    /// The API key the simulator accepts as `Authorization: Bearer`. A secret: never logged.
    pub api_key: String,
    pub region: Region,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The v2 application this app is already linked to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_v2_app: Option<String>,
}

/// The provider of a v2 account or integration, named by its v3 connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountProvider {
    Google,
    Microsoft,
    Imap,
    Icloud,
    Ews,
}

impl AccountProvider {
    pub const ALL: [AccountProvider; 5] = [
        AccountProvider::Google,
        AccountProvider::Microsoft,
        AccountProvider::Imap,
        AccountProvider::Icloud,
        AccountProvider::Ews,
    ];

    /// The v3 connector (and grant provider) for this provider.
    pub fn connector(self) -> ConnectorProvider {
        match self {
            AccountProvider::Google => ConnectorProvider::Google,
            AccountProvider::Microsoft => ConnectorProvider::Microsoft,
            AccountProvider::Imap => ConnectorProvider::Imap,
            AccountProvider::Icloud => ConnectorProvider::Icloud,
            AccountProvider::Ews => ConnectorProvider::Ews,
        }
    }

    /// Whether a batch clone's `providers` filter takes this account. `graph` is v2's name for
    /// Microsoft Graph accounts, so it selects Microsoft accounts like `microsoft` does.
    pub fn matches(self, filter: BatchProvider) -> bool {
        matches!(
            (self, filter),
            (AccountProvider::Google, BatchProvider::Google)
                | (AccountProvider::Microsoft, BatchProvider::Microsoft)
                | (AccountProvider::Microsoft, BatchProvider::Graph)
                | (AccountProvider::Imap, BatchProvider::Imap)
                | (AccountProvider::Icloud, BatchProvider::Icloud)
                | (AccountProvider::Ews, BatchProvider::Ews)
        )
    }

    pub fn as_str(self) -> &'static str {
        self.connector().as_str()
    }
}

impl fmt::Display for AccountProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A world file that cannot be used. Messages name ids, never secrets.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot read world file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid world file: {0}")]
    Parse(String),
    #[error("invalid world: {0}")]
    Invalid(String),
}

/// The most YAML nodes a world file may have (about five million accounts).
const MAX_WORLD_NODES: usize = 50_000_000;

impl World {
    /// Parses a world file's text and checks it (`check`).
    pub fn from_yaml_str(text: &str) -> Result<World, WorldError> {
        // A generated world of a million accounts has some ten million nodes: more than the
        // default limit meant for plans, still bounded against alias bombs.
        let limits = crate::yaml::Limits {
            max_nodes: MAX_WORLD_NODES,
            ..crate::yaml::Limits::default()
        };
        let root = crate::yaml::parse_with_limits(text, limits).map_err(|errors| {
            WorldError::Parse(
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let world: World =
            serde_json::from_value(root.to_json()).map_err(|e| WorldError::Parse(e.to_string()))?;
        world.check()?;
        Ok(world)
    }

    /// Reads and parses a world file.
    pub fn load(path: &Path) -> Result<World, WorldError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
            path: path.display().to_string(),
            source,
        })?;
        World::from_yaml_str(&text)
    }

    /// Checks what serde cannot: unique ids and API keys, links to known v2 apps in the same
    /// region, non-empty secrets.
    pub fn check(&self) -> Result<(), WorldError> {
        let mut v2_ids = HashSet::new();
        let mut account_ids = HashSet::new();
        for app in &self.v2_apps {
            if app.id.is_empty() || app.secret.is_empty() {
                return Err(WorldError::Invalid(
                    "every v2 app needs a non-empty id and secret".into(),
                ));
            }
            if !v2_ids.insert(app.id.as_str()) {
                return Err(WorldError::Invalid(format!(
                    "v2 app id {} appears twice",
                    app.id
                )));
            }
            for account in &app.accounts {
                if account.id.is_empty() {
                    return Err(WorldError::Invalid(format!(
                        "v2 app {} has an account with an empty id",
                        app.id
                    )));
                }
                if !account_ids.insert(account.id.as_str()) {
                    return Err(WorldError::Invalid(format!(
                        "account id {} appears twice",
                        account.id
                    )));
                }
            }
        }
        let mut v3_ids = HashSet::new();
        let mut keys = HashSet::new();
        let mut linked = HashSet::new();
        for app in &self.v3_apps {
            if app.id.is_empty() || app.api_key.is_empty() {
                return Err(WorldError::Invalid(
                    "every v3 app needs a non-empty id and api_key".into(),
                ));
            }
            if !v3_ids.insert(app.id.as_str()) {
                return Err(WorldError::Invalid(format!(
                    "v3 app id {} appears twice",
                    app.id
                )));
            }
            if !keys.insert(app.api_key.as_str()) {
                return Err(WorldError::Invalid(format!(
                    "v3 app {} shares its api_key with another v3 app",
                    app.id
                )));
            }
            if let Some(v2) = &app.linked_v2_app {
                let Some(v2_app) = self.v2_apps.iter().find(|a| &a.id == v2) else {
                    return Err(WorldError::Invalid(format!(
                        "v3 app {} is linked to unknown v2 app {v2}",
                        app.id
                    )));
                };
                if v2_app.region != app.region {
                    return Err(WorldError::Invalid(format!(
                        "v3 app {} ({}) is linked to v2 app {v2} in another region ({})",
                        app.id, app.region, v2_app.region
                    )));
                }
                if !linked.insert(v2.as_str()) {
                    return Err(WorldError::Invalid(format!(
                        "v2 app {v2} is linked to two v3 apps"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Number of v2 accounts across every v2 app.
    pub fn account_count(&self) -> usize {
        self.v2_apps.iter().map(|a| a.accounts.len()).sum()
    }
}
