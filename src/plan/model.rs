//! The plan's model. These types are the single source of truth for the plan format: serde reads
//! them, schemars turns them (and their doc comments) into `schemas/plan.schema.json`, and the
//! validator checks documents against that schema before the semantic rules run.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::{
    AddRedirectUri, AndroidSettings, BatchProvider, CloneMode, ConnectorProvider,
    CreatePubsubChannel, CreateSnsChannel, IosSettings, JsSettings, PlatformSettings,
    RedirectPlatform, Region, RequestedStatus, SendTestEvent, TestTriggerType, TriggerType,
    UpdatePubsubChannel, UpdateRedirectUri, UpdateSnsChannel,
};

/// A nylas-migrate plan: the Nylas v2 applications to move to v3, with their connected accounts,
/// connector fixes, notification destinations and redirect URIs. Applying a plan converges the live state on it; applying it
/// again changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "nylas-migrate plan")]
pub struct Plan {
    /// Version of the plan format. Always `1`.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// A name for this migration, shown in previews, the journal and reports.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// Where the journal and the lock live. Without it: a local SQLite folder (`--state DIR`,
    /// default `.nylas-migrate/` beside the plan). With it: a PostgreSQL database that every
    /// runner of the pipeline shares, keyed by the plan's `name`. `--state` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateSettings>,
    /// API base URL overrides per region. Without them, `us` is `https://api.us.nylas.com` and
    /// `eu` is `https://api.eu.nylas.com`.
    #[serde(default, skip_serializing_if = "RegionOverrides::is_empty")]
    pub regions: RegionOverrides,
    /// The v2 → v3 application pairs to migrate. Pairs run independently unless `after` joins
    /// them.
    #[schemars(length(min = 1))]
    pub pairs: Vec<Pair>,
}

/// A shared state backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// The journal and the lock in PostgreSQL, shared by every runner (several plans may share
    /// one database: each sees only its own state).
    pub postgres: PostgresState,
}

/// A PostgreSQL state database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresState {
    /// Where to read the connection URL, `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]`
    /// (a secret, as it may hold the password; without one, `PGPASSWORD` is used). `sslmode`:
    /// `disable`, `prefer` (the default), `require` or `verify-full`; a TLS connection's
    /// certificate is always verified. A host other than a loopback address needs
    /// `--allow-state-host HOST` from whoever runs the plan.
    pub url: SecretRef,
}

/// API base URL overrides, by region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionOverrides {
    /// Override for the U.S. region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us: Option<RegionSettings>,
    /// Override for the E.U. region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eu: Option<RegionSettings>,
}

impl RegionOverrides {
    pub fn is_empty(&self) -> bool {
        self.us.is_none() && self.eu.is_none()
    }

    pub fn get(&self, region: Region) -> Option<&RegionSettings> {
        match region {
            Region::Us => self.us.as_ref(),
            Region::Eu => self.eu.as_ref(),
        }
    }
}

/// Where to reach one region's API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionSettings {
    /// The API base URL, such as `https://api.us.nylas.com`. Plain `http` only for loopback
    /// addresses (a local simulator).
    #[schemars(length(min = 1))]
    pub api_url: String,
}

/// One v2 application and the v3 application it moves to, in the same region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    /// The pair's name, unique in the plan; it prefixes every step ID (`acme-prod/link`).
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    )]
    pub name: String,
    /// The data-centre region of both applications (`us` or `eu`). A v2 application can only be
    /// migrated to a v3 application in the same region.
    pub region: Region,
    /// The v2 application to migrate from.
    pub v2: V2App,
    /// The v3 application to migrate to.
    pub v3: V3App,
    /// Connector fixes applied after import (import creates connectors but does not set them
    /// up; Microsoft needs a new Azure auth app).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connectors: Vec<ConnectorFix>,
    /// Webhook destinations to subscribe before any account is cloned (import does not migrate
    /// webhooks), so that objects changing during the move are notified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookSpec>,
    /// Google Cloud Pub/Sub channels: notifications published to a Pub/Sub topic instead of (or
    /// beside) webhooks, subscribed before any account is cloned. Nylas allows at most five per
    /// v3 application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pubsub: Vec<PubsubSpec>,
    /// Amazon SNS channels: notifications published to an SNS topic through an IAM role that
    /// Nylas assumes, subscribed before any account is cloned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sns: Vec<SnsSpec>,
    /// The v3 application's redirect (callback) URIs for hosted authentication: the login page
    /// needs them once it moves to v3. Import copies the v2 application's; these are set after
    /// import.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<RedirectUriSpec>,
    /// Which accounts to clone, and how.
    #[serde(default, skip_serializing_if = "CloneSpec::is_empty")]
    pub clone: CloneSpec,
    /// Pairs that must finish before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Requests per second to this pair's v3 application. Nylas allows at most 20; lower it to
    /// leave room for other traffic to the same application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 20))]
    pub rate_limit: Option<u32>,
}

/// A Nylas v2 application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct V2App {
    /// The v2 application ID (client ID), such as `9nsr7pjw1e1g6hgy9l1znjql7`.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9]+$"))]
    pub app_id: String,
    /// Where to read the v2 application's client secret. Never the secret itself.
    pub client_secret: SecretRef,
}

/// A Nylas v3 application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct V3App {
    /// The v3 application ID, a UUID such as `ad410018-d306-43f9-8361-fa5d7b2172e0`.
    #[schemars(regex(
        pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    ))]
    pub app_id: String,
    /// Where to read the v3 application's API key. Never the key itself.
    pub api_key: SecretRef,
}

/// Where a secret comes from. Plans live in git, so a secret is never written in the plan: it is
/// read at run time from an environment variable or a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretRef {
    /// The name of an environment variable holding the secret.
    Env(#[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))] String),
    /// The path of a file holding the secret (trailing newline ignored); relative paths are
    /// relative to the plan file.
    File(#[schemars(length(min = 1))] PathBuf),
}

impl SecretRef {
    /// The environment variable's name, for an `{ env: NAME }` reference.
    pub fn env_name(&self) -> Option<&str> {
        match self {
            SecretRef::Env(name) => Some(name),
            SecretRef::File(_) => None,
        }
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "environment variable {name}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// A connector setting that may be written in the plan, or read like a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SettingValue {
    /// The value itself.
    Literal(String),
    /// A reference to where the value is read from.
    Secret(SecretRef),
}

/// Settings and scope a connector must have after import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorFix {
    /// The connector's provider.
    pub provider: ConnectorProvider,
    /// The provider auth app's credentials and settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ConnectorSettings>,
    /// The connector's default scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
}

/// A connector's provider auth-app settings, as the contract's `create_connector` defines them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    /// The auth app's client ID: written here, or `{ env: NAME }` / `{ file: PATH }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<SettingValue>,
    /// Where to read the auth app's client secret. Never the secret itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretRef>,
    /// Microsoft only: the tenant ID, or `common`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Google only: the Pub/Sub topic name, needed for email webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
}

/// A webhook destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// The URL Nylas sends notifications to; it identifies the destination, so it is unique in
    /// its pair.
    #[schemars(length(min = 1))]
    pub url: String,
    /// The notification triggers to subscribe to.
    #[schemars(length(min = 1))]
    pub triggers: Vec<TriggerType>,
    /// A human-readable description of the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Addresses Nylas notifies when the destination has been failing for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_emails: Option<Vec<String>>,
    /// `active` (the default) or `pause`. A declared destination delivers: one paused by hand,
    /// or failing or failed (Nylas pauses one whose deliveries keep failing), is made active
    /// again by `apply` (an update with `status: active`); `pause` keeps it, or makes it,
    /// paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestedStatus>,
    /// Before any account of the pair is cloned, ask Nylas to deliver a test event of this
    /// trigger to the URL (`send-test-event`); the pair's clones wait until the endpoint
    /// acknowledges it. One of this webhook's own `triggers` (`message.created.truncated` and
    /// `message.updated.truncated` test `message.created` and `message.updated`) that Nylas can
    /// send as a test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestTriggerType>,
}

impl WebhookSpec {
    /// The status the plan wants: `active` unless it says `pause`.
    pub fn wanted_status(&self) -> RequestedStatus {
        self.status.unwrap_or(RequestedStatus::Active)
    }

    /// The body that asks Nylas to deliver this webhook's test event (`send_test_event`), if it
    /// has one.
    pub fn test_request(&self) -> Option<SendTestEvent> {
        self.test.map(|trigger_type| SendTestEvent {
            trigger_type,
            webhook_url: self.url.clone(),
        })
    }
}

/// A Google Cloud Pub/Sub channel (`/v3/channels/pubsub`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PubsubSpec {
    /// The topic Nylas publishes to, `projects/<project>/topics/<topic>`; it identifies the
    /// channel, so it is unique in its pair. The topic must let Nylas publish to it (Google
    /// Cloud IAM, outside the Nylas API).
    #[schemars(length(min = 1))]
    pub topic: String,
    /// The notification triggers to subscribe to.
    #[schemars(length(min = 1))]
    pub triggers: Vec<TriggerType>,
    /// A human-readable description of the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Addresses Nylas notifies when delivery to the channel fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_emails: Option<Vec<String>>,
    /// Gzip the payloads (Nylas adds a `content_encoding: gzip` message attribute). Nylas's
    /// default is `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
    /// `active` (the default) or `pause`. A declared destination delivers: one paused by hand,
    /// or failing or failed (Nylas pauses one whose deliveries keep failing), is made active
    /// again by `apply` (an update with `status: active`); `pause` keeps it, or makes it,
    /// paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestedStatus>,
}

impl PubsubSpec {
    /// The status the plan wants: `active` unless it says `pause`.
    pub fn wanted_status(&self) -> RequestedStatus {
        self.status.unwrap_or(RequestedStatus::Active)
    }

    /// The body that creates this channel (`create-pubsub-channel`).
    pub fn create_request(&self) -> CreatePubsubChannel {
        CreatePubsubChannel {
            trigger_types: self.triggers.clone(),
            topic: self.topic.clone(),
            description: self.description.clone(),
            notification_email_addresses: self.notification_emails.clone(),
            compressed_delivery: self.compressed_delivery,
        }
    }

    /// The body that brings a live channel with this topic to the plan's settings
    /// (`put-pubsub-by-id`): the triggers, and each optional setting the plan gives (those it
    /// leaves out are kept as they are).
    pub fn update_request(&self) -> UpdatePubsubChannel {
        UpdatePubsubChannel {
            description: self.description.clone(),
            trigger_types: Some(self.triggers.clone()),
            topic: None,
            status: Some(self.wanted_status()),
            notification_email_addresses: self.notification_emails.clone(),
            compressed_delivery: self.compressed_delivery,
        }
    }
}

/// An Amazon SNS channel (`/v3/channels/sns`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnsSpec {
    /// The topic's ARN, `arn:aws:sns:<region>:<12-digit account ID>:<topic>`; it identifies the
    /// channel, so it is unique in its pair.
    #[schemars(length(min = 1))]
    pub topic: String,
    /// The IAM role Nylas assumes to publish to the topic,
    /// `arn:aws:iam::<12-digit account ID>:role/<role-name>`. Its trust policy must let Nylas
    /// assume it (AWS IAM, outside the Nylas API).
    #[schemars(length(min = 1))]
    pub role_arn: String,
    /// The notification triggers to subscribe to.
    #[schemars(length(min = 1))]
    pub triggers: Vec<TriggerType>,
    /// A human-readable description of the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Addresses Nylas notifies when delivery to the channel fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_emails: Option<Vec<String>>,
    /// Gzip then base64-encode the payloads (Nylas adds a `content_encoding: gzip+base64`
    /// message attribute). Nylas's default is `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
    /// `active` (the default) or `pause`. A declared destination delivers: one paused by hand,
    /// or failing or failed (Nylas pauses one whose deliveries keep failing), is made active
    /// again by `apply` (an update with `status: active`); `pause` keeps it, or makes it,
    /// paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestedStatus>,
}

impl SnsSpec {
    /// The status the plan wants: `active` unless it says `pause`.
    pub fn wanted_status(&self) -> RequestedStatus {
        self.status.unwrap_or(RequestedStatus::Active)
    }

    /// The body that creates this channel (`create-sns-channel`).
    pub fn create_request(&self) -> CreateSnsChannel {
        CreateSnsChannel {
            trigger_types: self.triggers.clone(),
            topic: self.topic.clone(),
            role_arn: self.role_arn.clone(),
            description: self.description.clone(),
            notification_email_addresses: self.notification_emails.clone(),
            compressed_delivery: self.compressed_delivery,
        }
    }

    /// The body that brings a live channel with this topic to the plan's settings
    /// (`put-sns-by-id`): the role, the triggers, and each optional setting the plan gives
    /// (those it leaves out are kept as they are).
    pub fn update_request(&self) -> UpdateSnsChannel {
        UpdateSnsChannel {
            description: self.description.clone(),
            trigger_types: Some(self.triggers.clone()),
            topic: None,
            role_arn: Some(self.role_arn.clone()),
            status: Some(self.wanted_status()),
            notification_email_addresses: self.notification_emails.clone(),
            compressed_delivery: self.compressed_delivery,
        }
    }
}

/// A redirect (callback) URI of the v3 application (`/v3/applications/redirect-uris`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectUriSpec {
    /// The callback URI; it identifies the redirect URI, so it is unique in its pair. https
    /// (plain http only for localhost); `ios` and `android` apps may also use a deep link,
    /// `<package-or-bundle-name>://<path>`.
    #[schemars(length(min = 1))]
    pub url: String,
    /// The kind of app that uses it: `web`, `desktop`, `js`, `ios` or `android`.
    pub platform: RedirectPlatform,
    /// The platform's settings: `origin` for `js`; `bundle_id` (and optionally `app_store_id`,
    /// `team_id`) for `ios`; `package_name` and `sha1_certificate_fingerprint` for `android`.
    /// `web` and `desktop` have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<RedirectUriSettings>,
}

impl RedirectUriSpec {
    /// The body that adds this redirect URI (`add_callback_uri`); Nylas chooses its ID.
    pub fn add_request(&self) -> AddRedirectUri {
        AddRedirectUri {
            id: None,
            url: self.url.clone(),
            platform: self.platform_settings(),
        }
    }

    /// The body that brings a live redirect URI with this URL to the plan's platform and
    /// settings (`update_callback_uri`, a PATCH that replaces them whole).
    pub fn update_request(&self) -> UpdateRedirectUri {
        UpdateRedirectUri {
            url: self.url.clone(),
            platform: self.platform_settings(),
        }
    }

    /// The platform with its settings, as the API sends them. For a plan that passed validation
    /// every setting belongs to the platform; settings of another platform are left out.
    pub fn platform_settings(&self) -> PlatformSettings {
        let s = self.settings.as_ref();
        match self.platform {
            RedirectPlatform::Web => PlatformSettings::Web,
            RedirectPlatform::Desktop => PlatformSettings::Desktop,
            RedirectPlatform::Js => PlatformSettings::Js {
                settings: s
                    .and_then(|s| s.origin.clone())
                    .map(|origin| JsSettings { origin }),
            },
            RedirectPlatform::Ios => PlatformSettings::Ios {
                settings: s.and_then(|s| {
                    Some(IosSettings {
                        bundle_id: s.bundle_id.clone()?,
                        app_store_id: s.app_store_id.clone(),
                        team_id: s.team_id.clone(),
                    })
                }),
            },
            RedirectPlatform::Android => PlatformSettings::Android {
                settings: s.and_then(|s| {
                    Some(AndroidSettings {
                        package_name: s.package_name.clone()?,
                        sha1_certificate_fingerprint: s.sha1_certificate_fingerprint.clone()?,
                    })
                }),
            },
        }
    }
}

/// A redirect URI's platform settings, as the contract's `RedirectURIObject` gives them per
/// platform. Each key belongs to one platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectUriSettings {
    /// `js` only, required: the base URL the app is served from, such as `app.acme.example`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub origin: Option<String>,
    /// `ios` only, required: the app's bundle identifier, such as `com.acme.app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub bundle_id: Option<String>,
    /// `ios` only: the app's App Store ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_store_id: Option<String>,
    /// `ios` only: the Apple developer team ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// `android` only, required: the app's package name, such as `com.acme.app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub package_name: Option<String>,
    /// `android` only, required: the SHA-1 fingerprint of the app's signing certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub sha1_certificate_fingerprint: Option<String>,
}

/// Which accounts to clone, and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneSpec {
    /// v2 account IDs cloned one by one before any batch wave: the test accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub single: Vec<String>,
    /// What happens to accounts that cannot be migrated.
    #[serde(default, skip_serializing_if = "Placeholders::is_default")]
    pub placeholders: Placeholders,
    /// Batch-clone waves, run in order, each after the previous one has finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<Wave>,
    /// Stops the next wave when a finished wave failed too much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

impl CloneSpec {
    pub fn is_empty(&self) -> bool {
        *self == CloneSpec::default()
    }
}

/// Whether accounts that cannot be migrated become invalid "placeholder" grants that their users
/// re-authenticate later. Nylas's default for both is `true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placeholders {
    /// `false`: no placeholder grants for any provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_invalid_grant_creation: Option<bool>,
    /// `false`: no placeholder grants for Microsoft accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_exchange: Option<bool>,
}

impl Placeholders {
    pub fn is_default(&self) -> bool {
        *self == Placeholders::default()
    }
}

/// One batch-clone wave: a snapshot job, then a migration job, over the accounts it selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Wave {
    /// The wave's name, unique in its pair (`acme-prod/batch/google`).
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    )]
    pub name: String,
    /// Only accounts of these providers. All supported providers when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub providers: Option<Vec<BatchProvider>>,
    /// Which accounts: `all`, `only_new` (never attempted) or `only_failed` (retry failures).
    pub mode: CloneMode,
    /// At most this many accounts (Nylas's default is 1000), ordered by import time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4_294_967_295u64))]
    pub limit: Option<u64>,
    /// Skip this many accounts first, ordered by import time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4_294_967_295u64))]
    pub offset: Option<u64>,
}

/// A threshold between waves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Stop the pair's next waves when a wave's `count_failed / count_all` exceeds this ratio
    /// (0 to 1).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_failed_ratio: f64,
}
