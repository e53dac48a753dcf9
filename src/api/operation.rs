use std::fmt;

/// Every contract operation the migration uses, named by its `operationId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    LinkV2V3Apps,
    ImportV2App,
    CloneSingleAccount,
    SnapshotBatchClone,
    GetJobs,
    Translate,
    GetApplication,
    CreateConnector,
    ListConnectors,
    GetConnector,
    UpdateConnector,
    ListGrants,
    GetGrant,
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    UpdateWebhook,
    DeleteWebhook,
    SendTestEvent,
    CreatePubsubChannel,
    ListPubsubChannels,
    GetPubsubChannel,
    UpdatePubsubChannel,
    DeletePubsubChannel,
    CreateSnsChannel,
    ListSnsChannels,
    GetSnsChannel,
    UpdateSnsChannel,
    DeleteSnsChannel,
    ListRedirectUris,
    AddRedirectUri,
    GetRedirectUri,
    UpdateRedirectUri,
    DeleteRedirectUri,
}

impl Operation {
    pub const ALL: [Operation; 34] = [
        Operation::LinkV2V3Apps,
        Operation::ImportV2App,
        Operation::CloneSingleAccount,
        Operation::SnapshotBatchClone,
        Operation::GetJobs,
        Operation::Translate,
        Operation::GetApplication,
        Operation::CreateConnector,
        Operation::ListConnectors,
        Operation::GetConnector,
        Operation::UpdateConnector,
        Operation::ListGrants,
        Operation::GetGrant,
        Operation::CreateWebhook,
        Operation::ListWebhooks,
        Operation::GetWebhook,
        Operation::UpdateWebhook,
        Operation::DeleteWebhook,
        Operation::SendTestEvent,
        Operation::CreatePubsubChannel,
        Operation::ListPubsubChannels,
        Operation::GetPubsubChannel,
        Operation::UpdatePubsubChannel,
        Operation::DeletePubsubChannel,
        Operation::CreateSnsChannel,
        Operation::ListSnsChannels,
        Operation::GetSnsChannel,
        Operation::UpdateSnsChannel,
        Operation::DeleteSnsChannel,
        Operation::ListRedirectUris,
        Operation::AddRedirectUri,
        Operation::GetRedirectUri,
        Operation::UpdateRedirectUri,
        Operation::DeleteRedirectUri,
    ];

    /// The contract's `operationId`.
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::LinkV2V3Apps => "migration_link_v2v3_apps",
            Operation::ImportV2App => "migration_import_v2_app",
            Operation::CloneSingleAccount => "migration_clone_single_account",
            Operation::SnapshotBatchClone => "migration_snapshot_batch_clone",
            Operation::GetJobs => "migration_get_jobs",
            Operation::Translate => "translate_v2id_to_provider_id",
            Operation::GetApplication => "get_application",
            Operation::CreateConnector => "create_connector",
            Operation::ListConnectors => "get_connector_all",
            Operation::GetConnector => "get_connector_by_provider",
            Operation::UpdateConnector => "update_connector_by_provider",
            Operation::ListGrants => "get-all-grants",
            Operation::GetGrant => "get_grant_by_id",
            Operation::CreateWebhook => "post-webhook-destinations",
            Operation::ListWebhooks => "get-webhook-destinations-application",
            Operation::GetWebhook => "get-webhook-by-id",
            Operation::UpdateWebhook => "put-webhook-by-id",
            Operation::DeleteWebhook => "delete-webhook-by-id",
            Operation::SendTestEvent => "send_test_event",
            Operation::CreatePubsubChannel => "create-pubsub-channel",
            Operation::ListPubsubChannels => "get-pubsub-channels",
            Operation::GetPubsubChannel => "get-pubsub-by-id",
            Operation::UpdatePubsubChannel => "put-pubsub-by-id",
            Operation::DeletePubsubChannel => "delete-pubsub-by-id",
            Operation::CreateSnsChannel => "create-sns-channel",
            Operation::ListSnsChannels => "get-sns-channels",
            Operation::GetSnsChannel => "get-sns-by-id",
            Operation::UpdateSnsChannel => "put-sns-by-id",
            Operation::DeleteSnsChannel => "delete-sns-by-id",
            Operation::ListRedirectUris => "get_all_callback_uris",
            Operation::AddRedirectUri => "add_callback_uri",
            Operation::GetRedirectUri => "get_application_callback_uri",
            Operation::UpdateRedirectUri => "update_callback_uri",
            Operation::DeleteRedirectUri => "delete_callback_uri",
        }
    }

    pub fn from_operation_id(id: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.operation_id() == id)
    }

    /// The HTTP method.
    pub fn method(self) -> &'static str {
        match self {
            Operation::GetJobs
            | Operation::GetApplication
            | Operation::ListConnectors
            | Operation::GetConnector
            | Operation::ListGrants
            | Operation::GetGrant
            | Operation::ListWebhooks
            | Operation::GetWebhook
            | Operation::ListPubsubChannels
            | Operation::GetPubsubChannel
            | Operation::ListSnsChannels
            | Operation::GetSnsChannel
            | Operation::ListRedirectUris
            | Operation::GetRedirectUri => "GET",
            Operation::UpdateConnector | Operation::UpdateRedirectUri => "PATCH",
            Operation::UpdateWebhook
            | Operation::UpdatePubsubChannel
            | Operation::UpdateSnsChannel => "PUT",
            Operation::DeleteWebhook
            | Operation::DeletePubsubChannel
            | Operation::DeleteSnsChannel
            | Operation::DeleteRedirectUri => "DELETE",
            _ => "POST",
        }
    }

    /// The path template as the contract writes it.
    pub fn path_template(self) -> &'static str {
        match self {
            Operation::LinkV2V3Apps => "/v3/migration-tools/link-v2v3-apps",
            Operation::ImportV2App => "/v3/migration-tools/import-v2-app",
            Operation::CloneSingleAccount => "/v3/migration-tools/grants/{account_id}/clone",
            Operation::SnapshotBatchClone => "/v3/migration-tools/snapshot-batch-clone",
            Operation::GetJobs => "/v3/migration-tools/jobs",
            Operation::Translate => "/v3/migration-tools/translate",
            Operation::GetApplication => "/v3/applications",
            Operation::CreateConnector | Operation::ListConnectors => "/v3/connectors",
            Operation::GetConnector | Operation::UpdateConnector => "/v3/connectors/{provider}",
            Operation::ListGrants => "/v3/grants",
            Operation::GetGrant => "/v3/grants/{grantId}",
            Operation::CreateWebhook | Operation::ListWebhooks => "/v3/webhooks",
            Operation::GetWebhook | Operation::UpdateWebhook | Operation::DeleteWebhook => {
                "/v3/webhooks/{id}"
            }
            Operation::SendTestEvent => "/v3/webhooks/send-test-event",
            Operation::CreatePubsubChannel | Operation::ListPubsubChannels => "/v3/channels/pubsub",
            Operation::GetPubsubChannel
            | Operation::UpdatePubsubChannel
            | Operation::DeletePubsubChannel => "/v3/channels/pubsub/{id}",
            Operation::CreateSnsChannel | Operation::ListSnsChannels => "/v3/channels/sns",
            Operation::GetSnsChannel
            | Operation::UpdateSnsChannel
            | Operation::DeleteSnsChannel => "/v3/channels/sns/{id}",
            Operation::ListRedirectUris | Operation::AddRedirectUri => {
                "/v3/applications/redirect-uris"
            }
            Operation::GetRedirectUri
            | Operation::UpdateRedirectUri
            | Operation::DeleteRedirectUri => "/v3/applications/redirect-uris/{id}",
        }
    }

    /// Whether the operation changes state at Nylas (a "write" in the stats and in the
    /// idempotency tests). Translate only reads; a test event is delivered to an endpoint but
    /// changes nothing Nylas stores.
    pub fn is_write(self) -> bool {
        self.method() != "GET" && !matches!(self, Operation::Translate | Operation::SendTestEvent)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation_id())
    }
}
