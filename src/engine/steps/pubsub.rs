//! `pubsub/<topic>`: one Google Cloud Pub/Sub channel, matched by its topic. What makes its
//! write safe to run again is [`ChannelKind`]'s (see [`super::channel`]).

use crate::api::{ChannelStatus, PubsubChannel, RequestedStatus};
use crate::client::{AppClient, ClientError, Response};
use crate::graph::Kind;
use crate::plan::PubsubSpec;

use tokio::sync::OnceCell;

use super::channel::{self, Channel, ChannelKind, Settings};
use super::checklist::{Check, VerifyReads};

/// The Pub/Sub channels of an application (`/v3/channels/pubsub`).
pub(super) struct Pubsub;

/// The driver of `pubsub/<topic>`.
pub(super) type PubsubKind = ChannelKind<Pubsub>;

impl Channel for Pubsub {
    type Spec = PubsubSpec;
    type Live = PubsubChannel;
    const KIND: Kind = Kind::Pubsub;
    const CHECK: Check = Check::Pubsub;
    const NAME: &'static str = "Pub/Sub channel";

    fn topic(spec: &PubsubSpec) -> &str {
        &spec.topic
    }

    fn live_topic(live: &PubsubChannel) -> &str {
        &live.topic
    }

    fn live_id(live: &PubsubChannel) -> &str {
        &live.id
    }

    fn live_status(live: &PubsubChannel) -> Option<ChannelStatus> {
        live.status
    }

    fn listing<'r>(reads: &'r VerifyReads<'_>) -> &'r OnceCell<Vec<PubsubChannel>> {
        &reads.pubsub
    }

    fn difference(live: &PubsubChannel, spec: &PubsubSpec) -> Vec<&'static str> {
        pubsub_difference(live, spec)
    }

    fn wanted_status(spec: &PubsubSpec) -> RequestedStatus {
        spec.wanted_status()
    }

    fn describe(live: &PubsubChannel) -> String {
        channel::describe(&live.trigger_types, live.status)
    }

    async fn list(app: &AppClient) -> Result<Vec<PubsubChannel>, ClientError> {
        Ok(app.list_pubsub_channels().await?.data)
    }

    async fn create(
        app: &AppClient,
        spec: &PubsubSpec,
    ) -> Result<Response<PubsubChannel>, ClientError> {
        app.create_pubsub_channel(&spec.create_request()).await
    }

    async fn update(
        app: &AppClient,
        id: &str,
        spec: &PubsubSpec,
    ) -> Result<Response<PubsubChannel>, ClientError> {
        app.update_pubsub_channel(id, &spec.update_request()).await
    }
}

/// What differs between a live Pub/Sub channel and the plan's, by name (empty: as planned).
fn pubsub_difference(live: &PubsubChannel, spec: &PubsubSpec) -> Vec<&'static str> {
    channel::differences(
        Settings {
            triggers: &live.trigger_types,
            description: live.description.as_deref(),
            emails: live.notification_email_addresses.as_deref(),
            compressed_delivery: live.compressed_delivery,
            status: live.status,
        },
        Settings {
            triggers: &spec.triggers,
            description: spec.description.as_deref(),
            emails: spec.notification_emails.as_deref(),
            compressed_delivery: spec.compressed_delivery,
            status: Some(spec.wanted_status().into()),
        },
    )
}
