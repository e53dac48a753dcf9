//! The world the simulator starts from: v2 applications with their integrations, redirect URIs
//! and connected accounts; v3 applications with their API keys and any notification channels
//! and redirect URIs they already have; and which webhook hosts are unreachable. Loaded from a
//! YAML world file (see `docs/simulator.md`) or generated (`generate.rs`).

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::api::forms::{
    check_iam_role_arn, check_pubsub_topic, check_redirect_uri, check_sns_topic_arn,
};
use crate::api::{
    BatchProvider, ChannelStatus, ConnectorProvider, RedirectPlatform, Region, TriggerType,
};

/// Everything the simulator knows before the first request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub v2_apps: Vec<V2App>,
    #[serde(default)]
    pub v3_apps: Vec<V3App>,
    /// Hosts that webhook verification and test events cannot reach. The simulator sends real
    /// requests only to loopback URLs; any other host is never contacted, and counts as
    /// reachable (it echoes the challenge, acknowledges test events) unless it is listed here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable_hosts: Vec<String>,
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
    /// The app's OAuth redirect URIs; import copies each to the v3 app as a `web` redirect URI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
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
    /// Pub/Sub channels the app already has (at most five).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pubsub_channels: Vec<SeededChannel>,
    /// Amazon SNS channels the app already has (each with a `role_arn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sns_channels: Vec<SeededChannel>,
    /// Redirect URIs the app already has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<SeededRedirectUri>,
}

/// A Pub/Sub or SNS channel a v3 app starts with, as if created by hand before the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeededChannel {
    /// The channel id; derived from the app and topic when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub topic: String,
    /// SNS only: the IAM role Nylas assumes to publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    pub trigger_types: Vec<TriggerType>,
    /// `active` (the default), `paused` (or `pause`), `failing` or `failed`.
    #[serde(default = "active", skip_serializing_if = "is_active")]
    pub status: ChannelStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_email_addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compressed_delivery: bool,
}

fn active() -> ChannelStatus {
    ChannelStatus::Active
}

fn is_active(status: &ChannelStatus) -> bool {
    *status == ChannelStatus::Active
}

/// A redirect URI a v3 app starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeededRedirectUri {
    /// A UUID; derived from the app and URL when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub url: String,
    /// `web` (the default), `desktop`, `js`, `ios` or `android`.
    #[serde(default = "web", skip_serializing_if = "is_web")]
    pub platform: RedirectPlatform,
    /// The platform's settings, as the contract names them: `origin` (js); `bundle_id`,
    /// `app_store_id`, `team_id` (ios); `package_name`, `sha1_certificate_fingerprint`
    /// (android).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

fn web() -> RedirectPlatform {
    RedirectPlatform::Web
}

fn is_web(platform: &RedirectPlatform) -> bool {
    *platform == RedirectPlatform::Web
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
            app.check_seeds()?;
        }
        for app in &self.v2_apps {
            for url in &app.redirect_uris {
                check_redirect_uri(url, RedirectPlatform::Web)
                    .map_err(|e| WorldError::Invalid(format!("v2 app {}: {e}", app.id)))?;
            }
        }
        if self.unreachable_hosts.iter().any(|h| h.trim().is_empty()) {
            return Err(WorldError::Invalid(
                "unreachable_hosts has an empty host name".into(),
            ));
        }
        Ok(())
    }

    /// Whether webhook deliveries to `host` (not on loopback) fail.
    pub fn is_unreachable(&self, host: &str) -> bool {
        self.unreachable_hosts
            .iter()
            .any(|h| h.trim().eq_ignore_ascii_case(host))
    }

    /// Number of v2 accounts across every v2 app.
    pub fn account_count(&self) -> usize {
        self.v2_apps.iter().map(|a| a.accounts.len()).sum()
    }
}

impl V3App {
    /// The seeded channels and redirect URIs follow the rules the simulator's operations
    /// enforce: topic and ARN forms, at most five Pub/Sub channels, trigger types given, each
    /// platform's settings, unique ids.
    fn check_seeds(&self) -> Result<(), WorldError> {
        let invalid = |what: String| WorldError::Invalid(format!("v3 app {}: {what}", self.id));
        if self.pubsub_channels.len() > crate::simulator::rules::MAX_PUBSUB_CHANNELS {
            return Err(invalid(format!(
                "{} Pub/Sub channels; an application can have at most {}",
                self.pubsub_channels.len(),
                crate::simulator::rules::MAX_PUBSUB_CHANNELS
            )));
        }
        let mut ids = HashSet::new();
        for (kind, channels) in [
            ("Pub/Sub", &self.pubsub_channels),
            ("SNS", &self.sns_channels),
        ] {
            for channel in channels {
                let sns = kind == "SNS";
                let form = if sns {
                    check_sns_topic_arn(&channel.topic)
                } else {
                    check_pubsub_topic(&channel.topic)
                };
                form.map_err(|e| invalid(format!("{kind} channel: {e}")))?;
                match (&channel.role_arn, sns) {
                    (Some(role), true) => check_iam_role_arn(role)
                        .map_err(|e| invalid(format!("SNS channel {}: {e}", channel.topic)))?,
                    (None, true) => {
                        return Err(invalid(format!(
                            "SNS channel {} needs a role_arn",
                            channel.topic
                        )));
                    }
                    (Some(_), false) => {
                        return Err(invalid(format!(
                            "Pub/Sub channel {} has a role_arn; only SNS channels take one",
                            channel.topic
                        )));
                    }
                    (None, false) => {}
                }
                if channel.trigger_types.is_empty() {
                    return Err(invalid(format!(
                        "{kind} channel {} has no trigger_types",
                        channel.topic
                    )));
                }
                if let Some(id) = &channel.id
                    && !ids.insert(id.as_str())
                {
                    return Err(invalid(format!("channel id {id} appears twice")));
                }
            }
        }
        let mut uris = HashSet::new();
        for uri in &self.redirect_uris {
            crate::simulator::rules::platform_settings(uri.platform, uri.settings.as_ref())
                .and_then(|_| check_redirect_uri(&uri.url, uri.platform))
                .map_err(|e| invalid(format!("redirect URI {}: {e}", uri.url)))?;
            if let Some(id) = &uri.id {
                if uuid::Uuid::parse_str(id).is_err() {
                    return Err(invalid(format!("redirect URI id {id} is not a UUID")));
                }
                if !ids.insert(id.as_str()) {
                    return Err(invalid(format!("redirect URI id {id} appears twice")));
                }
            }
            if !uris.insert((uri.url.as_str(), uri.platform)) {
                return Err(invalid(format!(
                    "redirect URI {} ({}) appears twice",
                    uri.url, uri.platform
                )));
            }
        }
        Ok(())
    }
}
