//! The contract's string enums. Each lists exactly the values the contract's `enum` lists, in the
//! contract's order, so the plan's JSON Schema offers the same choices as Nylas accepts.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! contract_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $value)] $variant, )+
        }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as the contract writes it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value,)+ }
            }

            /// The variant for a contract value, if there is one.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($value => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

contract_enum! {
    /// A connector's provider (`ConnectorObject.provider` in the contract).
    ConnectorProvider {
        Google = "google",
        Microsoft = "microsoft",
        Imap = "imap",
        Icloud = "icloud",
        Yahoo = "yahoo",
        VirtualCalendar = "virtual-calendar",
        Ews = "ews",
        Zoom = "zoom",
        Nylas = "nylas",
    }
}

impl ConnectorProvider {
    /// Whether Nylas needs provider auth-app credentials (`client_id`, `client_secret`) in this
    /// connector's settings.
    pub fn needs_credentials(self) -> bool {
        matches!(
            self,
            ConnectorProvider::Google
                | ConnectorProvider::Microsoft
                | ConnectorProvider::Yahoo
                | ConnectorProvider::Zoom
        )
    }
}

contract_enum! {
    /// A provider filter of a batch clone (`providers[]` of `migration_snapshot_batch_clone`).
    BatchProvider {
        Google = "google",
        Microsoft = "microsoft",
        Graph = "graph",
        Imap = "imap",
        Icloud = "icloud",
        Ews = "ews",
        VirtualCalendar = "virtual-calendar",
    }
}

contract_enum! {
    /// Which accounts a batch clone takes (`mode` of `migration_snapshot_batch_clone`).
    CloneMode {
        /// No filtering: every account that meets the other criteria.
        All = "all",
        /// Only accounts that have not attempted migration.
        OnlyNew = "only_new",
        /// Only accounts that attempted migration before and were marked as failed.
        OnlyFailed = "only_failed",
    }
}

contract_enum! {
    /// A migration job's status.
    JobStatus {
        Pending = "pending",
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        Partial = "partial",
    }
}

impl JobStatus {
    /// Whether the job has finished (completed, partial or failed).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Partial
        )
    }
}

contract_enum! {
    /// A migration job's type.
    JobType {
        Snapshot = "snapshot",
        Migration = "migration",
    }
}

contract_enum! {
    /// Whether a grant is valid or needs its user to re-authenticate.
    GrantStatus {
        Invalid = "invalid",
        Valid = "valid",
    }
}

contract_enum! {
    /// A webhook trigger type (`trigger_types` in the contract).
    TriggerType {
        CalendarCreated = "calendar.created",
        CalendarUpdated = "calendar.updated",
        CalendarDeleted = "calendar.deleted",
        EventCreated = "event.created",
        EventUpdated = "event.updated",
        EventDeleted = "event.deleted",
        GrantCreated = "grant.created",
        GrantUpdated = "grant.updated",
        GrantDeleted = "grant.deleted",
        GrantExpired = "grant.expired",
        GrantImapSyncCompleted = "grant.imap_sync_completed",
        MessageSendSuccess = "message.send_success",
        MessageSendFailed = "message.send_failed",
        MessageBounceDetected = "message.bounce_detected",
        MessageCreated = "message.created",
        MessageCreatedCleaned = "message.created.cleaned",
        MessageOpened = "message.opened",
        MessageOpenedLegacy = "message.opened.legacy",
        MessageUpdated = "message.updated",
        MessageLinkClicked = "message.link_clicked",
        MessageLinkClickedLegacy = "message.link_clicked.legacy",
        ThreadReplied = "thread.replied",
        ThreadRepliedLegacy = "thread.replied.legacy",
        ContactUpdated = "contact.updated",
        ContactDeleted = "contact.deleted",
        FolderCreated = "folder.created",
        FolderUpdated = "folder.updated",
        FolderDeleted = "folder.deleted",
        BookingCreated = "booking.created",
        BookingPending = "booking.pending",
        BookingRescheduled = "booking.rescheduled",
        BookingCancelled = "booking.cancelled",
        BookingReminder = "booking.reminder",
        MessageDeleted = "message.deleted",
        MessageTransactionalBounced = "message.transactional.bounced",
        MessageTransactionalComplaint = "message.transactional.complaint",
        MessageTransactionalDelivered = "message.transactional.delivered",
        MessageTransactionalRejected = "message.transactional.rejected",
        MessageBounced = "message.bounced",
        MessageComplaint = "message.complaint",
        MessageDelivered = "message.delivered",
        MessageRejected = "message.rejected",
        NotetakerCreated = "notetaker.created",
        NotetakerUpdated = "notetaker.updated",
        NotetakerDeleted = "notetaker.deleted",
        NotetakerMeetingState = "notetaker.meeting_state",
        NotetakerMedia = "notetaker.media",
    }
}

contract_enum! {
    /// The trigger a test event is sent for (`trigger_type` of `send_test_event_input`). The
    /// contract lists its own set here: the truncated variants are testable, the newer triggers
    /// of `trigger_types` are not.
    TestTriggerType {
        CalendarCreated = "calendar.created",
        CalendarUpdated = "calendar.updated",
        CalendarDeleted = "calendar.deleted",
        EventCreated = "event.created",
        EventUpdated = "event.updated",
        EventDeleted = "event.deleted",
        GrantCreated = "grant.created",
        GrantUpdated = "grant.updated",
        GrantDeleted = "grant.deleted",
        GrantExpired = "grant.expired",
        MessageSendSuccess = "message.send_success",
        MessageSendFailed = "message.send_failed",
        MessageBounceDetected = "message.bounce_detected",
        MessageCreated = "message.created",
        MessageCreatedTruncated = "message.created.truncated",
        MessageCreatedCleaned = "message.created.cleaned",
        MessageUpdated = "message.updated",
        MessageUpdatedTruncated = "message.updated.truncated",
        ContactUpdated = "contact.updated",
        ContactDeleted = "contact.deleted",
        FolderCreated = "folder.created",
        FolderUpdated = "folder.updated",
        FolderDeleted = "folder.deleted",
        MessageOpened = "message.opened",
        MessageLinkClicked = "message.link_clicked",
        ThreadReplied = "thread.replied",
    }
}

contract_enum! {
    /// The status a `PUT` of a webhook destination, a Pub/Sub channel or an SNS channel may
    /// set (`status` of `destination_update_payload` and of both channels' update bodies):
    /// `pause` stops deliveries, `active` restarts a destination that was paused by hand or
    /// by Nylas for failing deliveries.
    RequestedStatus {
        Active = "active",
        Pause = "pause",
    }
}

/// A Pub/Sub or SNS channel's deliverability status as Nylas reports it.
///
/// The contract spells the paused state two ways (one of its known defects): `paused` in the
/// list responses (`get_pubsub_200`, `get_sns_200`), `pause` in the get, update and request
/// schemas. Both read as [`ChannelStatus::Paused`]; it is written `pause`, the spelling of
/// every schema but the lists.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum ChannelStatus {
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "pause", alias = "paused")]
    Paused,
    #[serde(rename = "failing")]
    Failing,
    #[serde(rename = "failed")]
    Failed,
}

impl ChannelStatus {
    pub const ALL: &'static [ChannelStatus] = &[
        ChannelStatus::Active,
        ChannelStatus::Paused,
        ChannelStatus::Failing,
        ChannelStatus::Failed,
    ];

    /// As the get, update and request schemas write it (`pause` for paused).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::Active => "active",
            ChannelStatus::Paused => "pause",
            ChannelStatus::Failing => "failing",
            ChannelStatus::Failed => "failed",
        }
    }

    /// As the list schemas write it (`paused` for paused).
    pub fn as_listed(self) -> &'static str {
        match self {
            ChannelStatus::Paused => "paused",
            other => other.as_str(),
        }
    }

    /// Either spelling.
    pub fn parse(s: &str) -> Option<ChannelStatus> {
        match s {
            "active" => Some(ChannelStatus::Active),
            "pause" | "paused" => Some(ChannelStatus::Paused),
            "failing" => Some(ChannelStatus::Failing),
            "failed" => Some(ChannelStatus::Failed),
            _ => None,
        }
    }
}

impl From<RequestedStatus> for ChannelStatus {
    fn from(status: RequestedStatus) -> ChannelStatus {
        match status {
            RequestedStatus::Active => ChannelStatus::Active,
            RequestedStatus::Pause => ChannelStatus::Paused,
        }
    }
}

impl fmt::Display for ChannelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

contract_enum! {
    /// The platform of a redirect (callback) URI: the discriminator of `RedirectURIObject`.
    /// Nylas defaults to `web` when a create names none.
    RedirectPlatform {
        Web = "web",
        Desktop = "desktop",
        Js = "js",
        Ios = "ios",
        Android = "android",
    }
}
