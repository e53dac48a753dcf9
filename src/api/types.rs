//! Request and response bodies, field for field as the contract defines them. Optional contract
//! fields are `Option` and are left out when `None`; required fields are plain.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::enums::{
    BatchProvider, CloneMode, ConnectorProvider, GrantStatus, JobStatus, JobType, RedirectPlatform,
    RequestedStatus, TestTriggerType, TriggerType,
};

/// The `{request_id, data}` envelope of a single-object response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub data: T,
}

/// The `{request_id, data, limit, offset}` envelope of a paged list (grants, connectors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListEnvelope<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub data: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// The contract's error body (schemas `400`, `401`, `404`; the webhook responses use the same
/// shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub request_id: String,
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<Map<String, Value>>,
}

/// `ApplicationObject`, as far as a migration reads it. Nylas sends every field, an empty
/// string where there is no value (`v2_application_id` before a link): that reads as `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Application {
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub application_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub organization_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<String>,
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub v2_application_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<Branding>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Branding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `ConnectorObject`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    pub name: String,
    pub provider: ConnectorProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// An empty string (no credential) reads as `None`.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub active_credential_id: Option<String>,
}

/// An optional string where the API sends `""` for "none".
fn empty_as_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(deserializer)?;
    Ok(value.filter(|s| !s.is_empty()))
}

/// Body of `create_connector`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateConnector {
    pub provider: ConnectorProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
}

/// Body of `update_connector_by_provider`. Nylas replaces the nested objects it is given.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UpdateConnector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_credential_id: Option<String>,
}

/// Connector settings as Debug shows them: a value under a key that names a secret (a client
/// secret, a password, a key, a token) is never printed.
struct RedactedSettings<'a>(&'a Option<Map<String, Value>>);

impl std::fmt::Debug for RedactedSettings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(settings) = self.0 else {
            return f.write_str("None");
        };
        let mut map = f.debug_map();
        for (key, value) in settings {
            let lower = key.to_ascii_lowercase();
            if ["secret", "password", "key", "token"]
                .iter()
                .any(|w| lower.contains(w))
            {
                map.entry(key, &"<redacted>");
            } else {
                map.entry(key, value);
            }
        }
        map.finish()
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("settings", &RedactedSettings(&self.settings))
            .field("scope", &self.scope)
            .field("active_credential_id", &self.active_credential_id)
            .finish()
    }
}

impl std::fmt::Debug for CreateConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateConnector")
            .field("provider", &self.provider)
            .field("settings", &RedactedSettings(&self.settings))
            .field("scope", &self.scope)
            .finish()
    }
}

impl std::fmt::Debug for UpdateConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateConnector")
            .field("settings", &RedactedSettings(&self.settings))
            .field("scope", &self.scope)
            .field("active_credential_id", &self.active_credential_id)
            .finish()
    }
}

/// `GrantObject`. The provider is kept as a string: the contract's grant providers are a
/// superset of the connector providers and Nylas may add more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub provider: String,
    pub created_at: i64,
    pub scope: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_status: Option<GrantStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
}

/// `MigrationJob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationJob {
    pub job_id: String,
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub public_application_id: String,
    pub status: JobStatus,
    pub count_all: u64,
    pub count_success: u64,
    pub count_failed: u64,
    pub count_warning: u64,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_job_id: Option<String>,
}

impl MigrationJob {
    /// How far the job is, 0–100: accounts processed (migrated, placeholder or failed) of all.
    pub fn percent_done(&self) -> u64 {
        let processed = self.count_success + self.count_failed + self.count_warning;
        match (processed * 100).checked_div(self.count_all) {
            Some(p) => p.min(100),
            None if self.status.is_finished() => 100,
            None => 0,
        }
    }
}

/// Body of `migration_snapshot_batch_clone`. Every field is optional; Nylas's defaults are
/// limit 1000, offset 0, every provider, mode `all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BatchCloneRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<BatchProvider>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<CloneMode>,
}

/// `data` of a `migration_snapshot_batch_clone` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchCloneJobs {
    pub clone_job: MigrationJob,
    pub snapshot_job: MigrationJob,
}

/// Query of `migration_clone_single_account` and `migration_snapshot_batch_clone`: whether
/// accounts that cannot be migrated become placeholder grants. Both default to `true` at Nylas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PlaceholderQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_invalid_grant_creation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_exchange: Option<bool>,
}

/// A webhook destination as the list, get, create and update responses return it.
/// `webhook_secret` is only present in the create response; it is a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Trigger types this contract version knows. Others (a destination created elsewhere with
    /// a newer trigger) are left out rather than failing the whole response.
    #[serde(default, deserialize_with = "known_triggers")]
    pub trigger_types: Vec<TriggerType>,
    pub webhook_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

pub(super) fn known_triggers<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<TriggerType>, D::Error> {
    let raw: Vec<String> = Vec::deserialize(deserializer)?;
    Ok(raw.iter().filter_map(|t| TriggerType::parse(t)).collect())
}

/// `destination_input_payload`: body of `post-webhook-destinations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateWebhook {
    pub trigger_types: Vec<TriggerType>,
    pub webhook_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    /// Gzip the notification payloads (`Content-Encoding: gzip`); Nylas's default is `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
}

/// `destination_update_payload`: body of `put-webhook-by-id`. Empty fields do not overwrite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UpdateWebhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_types: Option<Vec<TriggerType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    /// Pause the destination, or restart a paused or failing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestedStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
}

/// Body of `send_test_event` (`send_test_event_input`): Nylas sends a test notification of
/// `trigger_type` to `webhook_url` and reports whether the endpoint acknowledged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendTestEvent {
    pub trigger_type: TestTriggerType,
    pub webhook_url: String,
}

/// A redirect (callback) URI of the v3 application: `RedirectURIObject`, and the items of
/// `ApplicationObject.callback_uris`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedirectUri {
    /// A UUID.
    pub id: String,
    pub url: String,
    /// `platform` and, for `js`, `ios` and `android`, that platform's `settings`.
    #[serde(flatten)]
    pub platform: PlatformSettings,
}

/// A redirect URI's `platform` with the settings the contract gives that platform (the
/// `oneOf` of `RedirectURIObject`, discriminated by `platform`). `web` and `desktop` have none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "platform")]
pub enum PlatformSettings {
    #[serde(rename = "web")]
    Web,
    #[serde(rename = "desktop")]
    Desktop,
    #[serde(rename = "js")]
    Js {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        settings: Option<JsSettings>,
    },
    #[serde(rename = "ios")]
    Ios {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        settings: Option<IosSettings>,
    },
    #[serde(rename = "android")]
    Android {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        settings: Option<AndroidSettings>,
    },
}

impl PlatformSettings {
    pub fn platform(&self) -> RedirectPlatform {
        match self {
            PlatformSettings::Web => RedirectPlatform::Web,
            PlatformSettings::Desktop => RedirectPlatform::Desktop,
            PlatformSettings::Js { .. } => RedirectPlatform::Js,
            PlatformSettings::Ios { .. } => RedirectPlatform::Ios,
            PlatformSettings::Android { .. } => RedirectPlatform::Android,
        }
    }
}

/// `settings` of a `js` redirect URI: the origin the app is served from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsSettings {
    pub origin: String,
}

/// `settings` of an `ios` redirect URI. An empty `app_store_id` or `team_id` reads as absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IosSettings {
    pub bundle_id: String,
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_store_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub team_id: Option<String>,
}

/// `settings` of an `android` redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AndroidSettings {
    pub package_name: String,
    pub sha1_certificate_fingerprint: String,
}

/// Body of `add_callback_uri`. The platform is always sent: without it a body matches every
/// branch of the contract's `oneOf` (Nylas would default it to `web`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddRedirectUri {
    /// A UUID of the caller's choosing; Nylas makes one when it is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub url: String,
    #[serde(flatten)]
    pub platform: PlatformSettings,
}

/// Body of `update_callback_uri` (PATCH): `url` and `platform` are required; the settings sent
/// replace the live ones whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRedirectUri {
    pub url: String,
    #[serde(flatten)]
    pub platform: PlatformSettings,
}

/// Body of `translate_v2id_to_provider_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslateRequest {
    pub resource_type: String,
    pub v2_account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nylas_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_from_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_number: Option<u64>,
}

/// `translate_v2v3_id`: data of a translate response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslateResult {
    pub v2_application_id: String,
    pub v2_account_id: String,
    pub resource_type: String,
    /// Required by the contract's schema, which also forbids it (a defect of the published
    /// contract); a response without it still decodes.
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translations: Option<Vec<Translation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_number: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2_resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v3_resource_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: JobStatus, all: u64, success: u64, failed: u64, warning: u64) -> MigrationJob {
        MigrationJob {
            job_id: "j".into(),
            job_type: JobType::Migration,
            public_application_id: "a".into(),
            status,
            count_all: all,
            count_success: success,
            count_failed: failed,
            count_warning: warning,
            created_at: 0,
            updated_at: 0,
            linked_job_id: None,
        }
    }

    #[test]
    fn connector_debug_never_prints_a_secret() {
        let mut settings = Map::new();
        settings.insert("client_id".into(), "visible-id".into());
        settings.insert("client_secret".into(), "hunter2-secret".into());
        let create = CreateConnector {
            provider: ConnectorProvider::Microsoft,
            settings: Some(settings.clone()),
            scope: None,
        };
        let update = UpdateConnector {
            settings: Some(settings),
            ..UpdateConnector::default()
        };
        for shown in [format!("{create:?}"), format!("{update:#?}")] {
            assert!(
                shown.contains("visible-id") && shown.contains("<redacted>"),
                "{shown}"
            );
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn empty_strings_read_as_absent() {
        let app: Application = serde_json::from_value(serde_json::json!({
            "application_id": "a", "organization_id": "", "region": "us",
            "environment": "production", "v2_application_id": "",
            "branding": {"name": "", "icon_url": "", "website_url": "", "description": ""}
        }))
        .unwrap();
        assert_eq!(app.v2_application_id, None);
        assert_eq!(app.organization_id, None);
        assert_eq!(app.region.as_deref(), Some("us"));
        let connector: Connector = serde_json::from_value(serde_json::json!({
            "name": "Google Connector", "provider": "google", "settings": {}, "scope": [],
            "active_credential_id": ""
        }))
        .unwrap();
        assert_eq!(connector.active_credential_id, None);
    }

    #[test]
    fn a_webhook_with_a_newer_trigger_type_still_decodes() {
        let webhook: Webhook = serde_json::from_value(serde_json::json!({
            "id": "w1",
            "webhook_url": "https://hooks.example.com",
            "trigger_types": ["grant.created", "some.trigger_from_the_future"]
        }))
        .unwrap();
        assert_eq!(webhook.trigger_types, [TriggerType::GrantCreated]);
    }

    #[test]
    fn redirect_uris_carry_their_platform_settings() {
        let ios: RedirectUri = serde_json::from_value(serde_json::json!({
            "id": "0556d035-6cb6-4262-a035-6b77e11cf8fc", "url": "com.acme.app://oauth",
            "platform": "ios",
            "settings": {"bundle_id": "com.acme.app", "app_store_id": "", "team_id": "ABCDE12345"}
        }))
        .unwrap();
        assert_eq!(ios.platform.platform(), RedirectPlatform::Ios);
        let PlatformSettings::Ios {
            settings: Some(settings),
        } = &ios.platform
        else {
            panic!("{ios:?}")
        };
        assert_eq!(
            settings.app_store_id, None,
            "an empty string reads as absent"
        );
        assert_eq!(settings.team_id.as_deref(), Some("ABCDE12345"));
        // A web URI has no settings; one Nylas sends anyway is ignored.
        let web: RedirectUri = serde_json::from_value(serde_json::json!({
            "id": "i", "url": "https://app.example/cb", "platform": "web", "settings": {}
        }))
        .unwrap();
        assert_eq!(web.platform, PlatformSettings::Web);
        // Requests always name the platform, settings beside it.
        let add = AddRedirectUri {
            id: None,
            url: "https://app.example/cb".into(),
            platform: PlatformSettings::Js {
                settings: Some(JsSettings {
                    origin: "https://app.example".into(),
                }),
            },
        };
        assert_eq!(
            serde_json::to_value(&add).unwrap(),
            serde_json::json!({"url": "https://app.example/cb", "platform": "js", "settings": {"origin": "https://app.example"}})
        );
        let update = UpdateRedirectUri {
            url: "https://app.example/cb".into(),
            platform: PlatformSettings::Desktop,
        };
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            serde_json::json!({"url": "https://app.example/cb", "platform": "desktop"})
        );
    }

    #[test]
    fn percent_done_counts_every_processed_account() {
        assert_eq!(job(JobStatus::Pending, 10, 0, 0, 0).percent_done(), 0);
        assert_eq!(job(JobStatus::Running, 10, 3, 1, 1).percent_done(), 50);
        assert_eq!(job(JobStatus::Partial, 10, 8, 1, 1).percent_done(), 100);
        // An empty wave has nothing to do: done once finished, not before.
        assert_eq!(job(JobStatus::Pending, 0, 0, 0, 0).percent_done(), 0);
        assert_eq!(job(JobStatus::Completed, 0, 0, 0, 0).percent_done(), 100);
    }
}
