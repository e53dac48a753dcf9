//! Pub/Sub and Amazon SNS notification channels of a v3 application.

use super::{AppState, State};
use crate::api::{ChannelStatus, PubsubChannel, SnsChannel, TriggerType};
use crate::simulator::clock::secs;
use crate::simulator::ids;
use crate::simulator::world::SeededChannel;

/// Which of the two channel families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Pubsub,
    Sns,
}

impl ChannelKind {
    /// As messages name it.
    pub fn label(self) -> &'static str {
        match self {
            ChannelKind::Pubsub => "Pub/Sub",
            ChannelKind::Sns => "SNS",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChannelState {
    pub id: String,
    pub description: Option<String>,
    pub trigger_types: Vec<TriggerType>,
    pub topic: String,
    /// SNS only.
    pub role_arn: Option<String>,
    pub status: ChannelStatus,
    pub notification_email_addresses: Vec<String>,
    pub compressed_delivery: bool,
    pub created_s: i64,
    pub updated_s: i64,
    pub status_updated_s: i64,
}

/// What a create sets, or an update changes: `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ChannelChanges {
    pub description: Option<String>,
    pub trigger_types: Option<Vec<TriggerType>>,
    pub topic: Option<String>,
    pub role_arn: Option<String>,
    pub status: Option<ChannelStatus>,
    pub notification_email_addresses: Option<Vec<String>>,
    pub compressed_delivery: Option<bool>,
}

impl ChannelState {
    /// A channel the world file gives the app, created when the simulator starts.
    pub fn seeded(app_id: &str, index: usize, seed: &SeededChannel, now_s: i64) -> ChannelState {
        ChannelState {
            id: seed.id.clone().unwrap_or_else(|| {
                ids::alnum_from_name(&format!("channel:{app_id}:{index}:{}", seed.topic), 26)
            }),
            description: seed.description.clone(),
            trigger_types: seed.trigger_types.clone(),
            topic: seed.topic.clone(),
            role_arn: seed.role_arn.clone(),
            status: seed.status,
            notification_email_addresses: seed.notification_email_addresses.clone(),
            compressed_delivery: seed.compressed_delivery,
            created_s: now_s,
            updated_s: now_s,
            status_updated_s: now_s,
        }
    }

    /// As every Pub/Sub response carries it: every field, empty where unset. `status` is the
    /// get/update spelling; a list writes its own (see `routes::channels`).
    pub fn to_pubsub(&self) -> PubsubChannel {
        PubsubChannel {
            id: self.id.clone(),
            description: Some(self.description.clone().unwrap_or_default()),
            trigger_types: self.trigger_types.clone(),
            topic: self.topic.clone(),
            status: Some(self.status),
            notification_email_addresses: Some(self.notification_email_addresses.clone()),
            compressed_delivery: Some(self.compressed_delivery),
            status_updated_at: Some(self.status_updated_s),
            created_at: Some(self.created_s),
            updated_at: Some(self.updated_s),
        }
    }

    pub fn to_sns(&self) -> SnsChannel {
        let PubsubChannel {
            id,
            description,
            trigger_types,
            topic,
            status,
            notification_email_addresses,
            compressed_delivery,
            status_updated_at,
            created_at,
            updated_at,
        } = self.to_pubsub();
        SnsChannel {
            id,
            description,
            trigger_types,
            topic,
            role_arn: self.role_arn.clone().unwrap_or_default(),
            status,
            notification_email_addresses,
            compressed_delivery,
            status_updated_at,
            created_at,
            updated_at,
        }
    }
}

impl AppState {
    pub fn channels(&self, kind: ChannelKind) -> &Vec<ChannelState> {
        match kind {
            ChannelKind::Pubsub => &self.pubsub,
            ChannelKind::Sns => &self.sns,
        }
    }

    fn channels_mut(&mut self, kind: ChannelKind) -> &mut Vec<ChannelState> {
        match kind {
            ChannelKind::Pubsub => &mut self.pubsub,
            ChannelKind::Sns => &mut self.sns,
        }
    }

    pub fn channel(&self, kind: ChannelKind, id: &str) -> Option<&ChannelState> {
        self.channels(kind).iter().find(|c| c.id == id)
    }
}

impl State {
    /// Creates a channel, `active`, from a create body the route has checked.
    pub fn create_channel(
        &mut self,
        app: usize,
        kind: ChannelKind,
        fields: ChannelChanges,
        now_ms: u64,
    ) -> &ChannelState {
        let id = ids::webhook_id(self.rng());
        let now = secs(now_ms);
        let channel = ChannelState {
            id,
            description: fields.description,
            trigger_types: fields.trigger_types.unwrap_or_default(),
            topic: fields.topic.unwrap_or_default(),
            role_arn: fields.role_arn,
            status: ChannelStatus::Active,
            notification_email_addresses: fields.notification_email_addresses.unwrap_or_default(),
            compressed_delivery: fields.compressed_delivery.unwrap_or(false),
            created_s: now,
            updated_s: now,
            status_updated_s: now,
        };
        let channels = self.apps[app].channels_mut(kind);
        channels.push(channel);
        &channels[channels.len() - 1]
    }

    /// Applies `changes` to channel `id`: each field sent replaces the live one (an empty
    /// `description` or `notification_email_addresses` only when the simulator clears empty
    /// fields, [`EmptyFields`](crate::simulator::EmptyFields)). `None` when the app has no
    /// such channel.
    pub fn update_channel(
        &mut self,
        app: usize,
        kind: ChannelKind,
        id: &str,
        changes: ChannelChanges,
        now_ms: u64,
    ) -> Option<&ChannelState> {
        let now = secs(now_ms);
        let clears = self.empty_fields.clears_channels();
        let channel = self.apps[app]
            .channels_mut(kind)
            .iter_mut()
            .find(|c| c.id == id)?;
        if let Some(description) = changes.description
            && (clears || !description.is_empty())
        {
            channel.description = Some(description);
        }
        if let Some(triggers) = changes.trigger_types {
            channel.trigger_types = triggers;
        }
        if let Some(topic) = changes.topic {
            channel.topic = topic;
        }
        if let Some(role) = changes.role_arn {
            channel.role_arn = Some(role);
        }
        if let Some(status) = changes.status {
            if status != channel.status {
                channel.status_updated_s = now;
            }
            channel.status = status;
        }
        if let Some(emails) = changes.notification_email_addresses
            && (clears || !emails.is_empty())
        {
            channel.notification_email_addresses = emails;
        }
        if let Some(compressed) = changes.compressed_delivery {
            channel.compressed_delivery = compressed;
        }
        channel.updated_s = now;
        Some(channel)
    }

    /// Removes channel `id`; false when there is none.
    pub fn delete_channel(&mut self, app: usize, kind: ChannelKind, id: &str) -> bool {
        let channels = self.apps[app].channels_mut(kind);
        let before = channels.len();
        channels.retain(|c| c.id != id);
        channels.len() != before
    }
}
