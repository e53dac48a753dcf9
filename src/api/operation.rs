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
}

impl Operation {
    pub const ALL: [Operation; 17] = [
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
            | Operation::GetWebhook => "GET",
            Operation::UpdateConnector => "PATCH",
            Operation::UpdateWebhook => "PUT",
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
            Operation::GetWebhook | Operation::UpdateWebhook => "/v3/webhooks/{id}",
        }
    }

    /// Whether the operation changes state at Nylas (a "write" in the stats and in the
    /// idempotency tests).
    pub fn is_write(self) -> bool {
        self.method() != "GET" && self != Operation::Translate
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation_id())
    }
}
