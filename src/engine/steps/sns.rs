//! `sns/<topic>`: one Amazon SNS channel, matched by its topic ARN. What makes its write safe
//! to run again is [`ChannelKind`]'s (see [`super::channel`]).

use crate::api::{ChannelStatus, RequestedStatus, SnsChannel};
use crate::client::{AppClient, ClientError, Response};
use crate::graph::Kind;
use crate::plan::SnsSpec;

use tokio::sync::OnceCell;

use super::channel::{self, Channel, ChannelKind, Settings};
use super::checklist::{Check, VerifyReads};

/// The Amazon SNS channels of an application (`/v3/channels/sns`).
pub(super) struct Sns;

/// The driver of `sns/<topic>`.
pub(super) type SnsKind = ChannelKind<Sns>;

impl Channel for Sns {
    type Spec = SnsSpec;
    type Live = SnsChannel;
    const KIND: Kind = Kind::Sns;
    const CHECK: Check = Check::Sns;
    const NAME: &'static str = "SNS channel";

    fn topic(spec: &SnsSpec) -> &str {
        &spec.topic
    }

    fn live_topic(live: &SnsChannel) -> &str {
        &live.topic
    }

    fn live_id(live: &SnsChannel) -> &str {
        &live.id
    }

    fn live_status(live: &SnsChannel) -> Option<ChannelStatus> {
        live.status
    }

    fn listing<'r>(reads: &'r VerifyReads<'_>) -> &'r OnceCell<Vec<SnsChannel>> {
        &reads.sns
    }

    fn difference(live: &SnsChannel, spec: &SnsSpec) -> Vec<&'static str> {
        sns_difference(live, spec)
    }

    fn wanted_status(spec: &SnsSpec) -> RequestedStatus {
        spec.wanted_status()
    }

    fn describe(live: &SnsChannel) -> String {
        format!(
            "{}; role {}",
            channel::describe(&live.trigger_types, live.status),
            live.role_arn
        )
    }

    async fn list(app: &AppClient) -> Result<Vec<SnsChannel>, ClientError> {
        Ok(app.list_sns_channels().await?.data)
    }

    async fn create(app: &AppClient, spec: &SnsSpec) -> Result<Response<SnsChannel>, ClientError> {
        app.create_sns_channel(&spec.create_request()).await
    }

    async fn update(
        app: &AppClient,
        id: &str,
        spec: &SnsSpec,
    ) -> Result<Response<SnsChannel>, ClientError> {
        app.update_sns_channel(id, &spec.update_request()).await
    }
}

/// What differs between a live SNS channel and the plan's, by name (empty: as planned): the
/// IAM role, and what every channel has.
fn sns_difference(live: &SnsChannel, spec: &SnsSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if live.role_arn != spec.role_arn {
        out.push("role");
    }
    out.extend(channel::differences(
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
    ));
    out
}
