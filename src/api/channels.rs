//! Pub/Sub and Amazon SNS notification channels on the wire: as the API returns them, and the
//! bodies that create and update them.

use serde::{Deserialize, Serialize};

use super::enums::{ChannelStatus, RequestedStatus, TriggerType};
use super::types::known_triggers;

/// The status a channel response carries; one Nylas may add later reads as absent rather than
/// failing the whole response.
fn known_status<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ChannelStatus>, D::Error> {
    let raw: Option<String> = Option::deserialize(deserializer)?;
    Ok(raw.as_deref().and_then(ChannelStatus::parse))
}

/// A Google Cloud Pub/Sub channel as create, list, get and update return it
/// (`create_pubsub_200`, `get_pubsub_200`, `get_pubsub_by_id_200`, `update_pubsub_200`). Only
/// get and update list the timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PubsubChannel {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Trigger types this contract version knows (see [`Webhook::trigger_types`]).
    #[serde(default, deserialize_with = "known_triggers")]
    pub trigger_types: Vec<TriggerType>,
    /// `projects/<project>/topics/<topic>`.
    pub topic: String,
    #[serde(
        default,
        deserialize_with = "known_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<ChannelStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// `pubsub_input_payload`: body of `create-pubsub-channel`.
///
/// The contract lists `webhook_url` as required here although it is not one of the schema's
/// properties, and does not require `topic` (a known defect): Nylas's own examples send the
/// topic, and so does this type; it has no `webhook_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePubsubChannel {
    pub trigger_types: Vec<TriggerType>,
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    /// Gzip the payloads (`content_encoding: gzip` message attribute); default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
}

/// Body of `put-pubsub-by-id`. Fields left out are kept; those sent replace the live values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UpdatePubsubChannel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_types: Option<Vec<TriggerType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestedStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
}

/// An Amazon SNS channel as create, list, get and update return it (`create_sns_200`,
/// `get_sns_200`, `get_sns_by_id_200`, `update_sns_200`). Only get and update list the
/// timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnsChannel {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "known_triggers")]
    pub trigger_types: Vec<TriggerType>,
    /// The topic ARN, `arn:aws:sns:<region>:<account-id>:<topic>`.
    pub topic: String,
    /// The IAM role Nylas assumes to publish, `arn:aws:iam::<account-id>:role/<role-name>`.
    pub role_arn: String,
    #[serde(
        default,
        deserialize_with = "known_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<ChannelStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// `amazon_sns_input_payload`: body of `create-sns-channel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateSnsChannel {
    pub trigger_types: Vec<TriggerType>,
    pub topic: String,
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    /// Gzip then base64 the payloads (`content_encoding: gzip+base64`); default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
}

/// Body of `put-sns-by-id`. Fields left out are kept; those sent replace the live values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UpdateSnsChannel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_types: Option<Vec<TriggerType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestedStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_email_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_delivery: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_statuses_read_in_both_spellings() {
        for (listed, expected) in [
            ("paused", Some(ChannelStatus::Paused)),
            ("pause", Some(ChannelStatus::Paused)),
            ("failing", Some(ChannelStatus::Failing)),
            ("sleeping", None),
        ] {
            let channel: PubsubChannel = serde_json::from_value(serde_json::json!({
                "id": "c", "topic": "projects/p/topics/t", "trigger_types": ["grant.created"],
                "status": listed
            }))
            .unwrap();
            assert_eq!(channel.status, expected, "{listed}");
        }
        let update = UpdateSnsChannel {
            status: Some(RequestedStatus::Pause),
            ..UpdateSnsChannel::default()
        };
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            serde_json::json!({"status": "pause"})
        );
    }
}
