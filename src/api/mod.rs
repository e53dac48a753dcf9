//! The Nylas v3 API as `../shared/nylas-openapi/nylas-v3-migration.openapi.yaml` defines it: the
//! regions, the operations a migration uses, their wire types, and the forms Nylas requires of
//! notification targets and redirect URIs (`forms`). The client sends these types,
//! the simulator answers with them, and the plan borrows their enums (providers, modes, trigger
//! types) so that a plan can only name what the contract knows.
//!
//! Response types tolerate unknown fields (Nylas adds fields over time); a missing required field
//! is a decoding error.

mod channels;
mod enums;
pub mod forms;
mod operation;
mod region;
mod resource_type;
mod types;

pub use channels::*;
pub use enums::{
    BatchProvider, ChannelStatus, CloneMode, ConnectorProvider, GrantStatus, JobStatus, JobType,
    RedirectPlatform, RequestedStatus, TestTriggerType, TriggerType,
};
pub use operation::Operation;
pub use region::Region;
pub use resource_type::ResourceType;
pub use types::*;
