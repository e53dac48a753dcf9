//! One method per contract operation. Each returns the typed `data` and Nylas's `request_id`.
//! The repeat rule of each is in [`super::retry::repeat_rule`].

use crate::api::{
    AddRedirectUri, Application, BatchCloneJobs, BatchCloneRequest, Connector, ConnectorProvider,
    CreateConnector, CreatePubsubChannel, CreateSnsChannel, CreateWebhook, Grant, GrantStatus,
    JobStatus, JobType, MigrationJob, Operation, PlaceholderQuery, PubsubChannel, RedirectUri,
    SendTestEvent, SnsChannel, TranslateRequest, TranslateResult, UpdateConnector,
    UpdatePubsubChannel, UpdateRedirectUri, UpdateSnsChannel, UpdateWebhook, Webhook,
};

use super::transport::Call;
use super::{AppClient, ClientError, Response, Secret};

/// Filters of `migration_get_jobs`. Empty lists send no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub status: Vec<JobStatus>,
    pub job_type: Vec<JobType>,
    pub sort_by_completion: Option<bool>,
}

/// Filters and page of `get-all-grants`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// Grants migrated from this v2 account.
    pub account_id: Option<String>,
    /// Grants migrated from any of these v2 accounts (sent comma-separated in one parameter,
    /// the contract's `account_ids: string`).
    pub account_ids: Vec<String>,
    pub provider: Option<String>,
    pub grant_status: Option<GrantStatus>,
    pub email: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl GrantFilter {
    pub(super) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(id) = &self.account_id {
            query.push(("account_id", id.clone()));
        }
        if !self.account_ids.is_empty() {
            query.push(("account_ids", self.account_ids.join(",")));
        }
        if let Some(provider) = &self.provider {
            query.push(("provider", provider.clone()));
        }
        if let Some(status) = self.grant_status {
            query.push(("grant_status", status.as_str().to_owned()));
        }
        if let Some(email) = &self.email {
            query.push(("email", email.clone()));
        }
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(offset) = self.offset {
            query.push(("offset", offset.to_string()));
        }
        query
    }
}

/// A newly created webhook destination. Its signing secret is only returned on creation, and is
/// held as a [`Secret`] so that it cannot be printed.
#[derive(Debug, Clone)]
pub struct CreatedWebhook {
    /// The destination, `webhook_secret` removed.
    pub webhook: Webhook,
    pub webhook_secret: Option<Secret>,
}

/// What Nylas said of a test event (`send_test_event`'s `data`): the endpoint acknowledged it,
/// or not, and Nylas's words for why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestEventDelivery {
    /// `data` was `"success"`: the endpoint answered the test notification with a 200.
    Acknowledged,
    /// Anything else: the endpoint did not acknowledge it. `detail` is `data` as Nylas sent it.
    NotAcknowledged { detail: String },
}

impl TestEventDelivery {
    pub fn from_data(data: String) -> TestEventDelivery {
        if data == "success" {
            TestEventDelivery::Acknowledged
        } else {
            TestEventDelivery::NotAcknowledged { detail: data }
        }
    }
}

fn placeholder_query(placeholders: PlaceholderQuery) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(allow) = placeholders.allow_invalid_grant_creation {
        query.push(("allow_invalid_grant_creation", allow.to_string()));
    }
    if let Some(exchange) = placeholders.clone_exchange {
        query.push(("clone_exchange", exchange.to_string()));
    }
    query
}

fn json<T: serde::Serialize>(value: &T) -> Option<serde_json::Value> {
    // The request types are plain structs of strings, numbers and enums: they always serialize.
    serde_json::to_value(value).ok()
}

/// Webhook reads never carry the signing secret; if one ever did, it is dropped rather than kept
/// in a type whose Debug would print it.
fn without_secret(mut webhook: Webhook) -> Webhook {
    webhook.webhook_secret = None;
    webhook
}

impl AppClient {
    /// `get_application`: the v3 application, its region and linked v2 application.
    pub async fn get_application(&self) -> Result<Response<Application>, ClientError> {
        self.call(Call::new(Operation::GetApplication)).await
    }

    /// Checks that the application observed with [`AppClient::get_application`] is in this
    /// client's region; link and import only work within one region.
    pub fn verify_region(&self, application: &Application) -> Result<(), ClientError> {
        match application.region.as_deref() {
            Some(actual) if actual != self.region.as_str() => Err(ClientError::RegionMismatch {
                app_id: self.app_id.to_string(),
                expected: self.region,
                actual: actual.to_owned(),
                help: format!(
                    "set this pair's region to `{actual}` in the plan (and the v2 application must \
                     be in that region too), or check that {} holds the key of the intended \
                     application",
                    self.key_source
                ),
            }),
            _ => Ok(()),
        }
    }

    /// `migration_link_v2v3_apps`: links the v2 application to this v3 application. Sends the
    /// BasicV2 header, base64 of `V2_APP_ID:V2_APP_SECRET`. Repeatable: linking the same pair
    /// again leaves the same link.
    pub async fn link_v2_app(
        &self,
        v2_app_id: &str,
        v2_secret: &Secret,
    ) -> Result<Response<Application>, ClientError> {
        let mut call = Call::new(Operation::LinkV2V3Apps);
        call.basic_v2 = Some((v2_app_id, v2_secret));
        self.call(call).await
    }

    /// `migration_import_v2_app`: copies the linked v2 application's settings and creates its
    /// connectors. Returns Nylas's message. Repeatable ("calls may be retried").
    pub async fn import_v2_app(&self) -> Result<Response<String>, ClientError> {
        self.call(Call::new(Operation::ImportV2App)).await
    }

    /// `migration_clone_single_account`: clones one v2 account into a v3 grant.
    ///
    /// The contract does not promise that a repeated clone is harmless, so an ambiguous failure
    /// (no answer, a dropped connection, a 5xx) is never resent blindly: the account's grant is
    /// looked up first (`GET /v3/grants?account_id=…`). A grant means the lost request (or an
    /// earlier one) made it, and that grant is the answer (its `request_id` is `None`); no grant
    /// means nothing was made that a resend could duplicate, and the request is sent again,
    /// within the retry policy's attempts and time. See [`super::retry`].
    pub async fn clone_account(
        &self,
        account_id: &str,
        placeholders: PlaceholderQuery,
    ) -> Result<Response<Grant>, ClientError> {
        let policy = self.client.retry_policy().clone();
        let started = std::time::Instant::now();
        let mut sends: u32 = 0;
        loop {
            sends += 1;
            let mut call = Call::new(Operation::CloneSingleAccount);
            call.path_params = vec![account_id];
            call.query = placeholder_query(placeholders);
            let error = match self.call(call).await {
                Err(error) if error.is_ambiguous() => error,
                answered => return answered,
            };
            // A gateway may still be handing the request on: give it a moment before looking.
            let wait = policy.backoff(sends.saturating_sub(1), &mut rand::rng());
            tokio::time::sleep(wait).await;
            if let Some(grant) = self.grant_of_account(account_id).await? {
                tracing::info!(
                    app_id = %self.app_id,
                    account_id,
                    grant_id = %grant.id,
                    "the clone's answer was lost but its grant exists; not resending"
                );
                return Ok(Response {
                    data: grant,
                    request_id: None,
                });
            }
            if sends >= policy.max_attempts || started.elapsed() >= policy.max_elapsed {
                return Err(error);
            }
            tracing::warn!(
                app_id = %self.app_id,
                account_id,
                attempt = sends,
                "the clone's answer was lost and the account has no grant; sending it again"
            );
        }
    }

    /// The grant made from v2 account `account_id`, if it has one.
    pub async fn grant_of_account(&self, account_id: &str) -> Result<Option<Grant>, ClientError> {
        let filter = GrantFilter {
            account_id: Some(account_id.to_owned()),
            ..GrantFilter::default()
        };
        Ok(self
            .list_grants(&filter)
            .await?
            .data
            .into_iter()
            .find(|g| g.account_id.as_deref() == Some(account_id)))
    }

    /// `migration_snapshot_batch_clone`: starts a snapshot job and a migration job. Never resent
    /// after an ambiguous failure: the error is [`ClientError::Ambiguous`] and the caller must
    /// look for the job with [`AppClient::list_jobs`] before starting another.
    pub async fn batch_clone(
        &self,
        request: &BatchCloneRequest,
        placeholders: PlaceholderQuery,
    ) -> Result<Response<BatchCloneJobs>, ClientError> {
        let mut call = Call::new(Operation::SnapshotBatchClone);
        call.query = placeholder_query(placeholders);
        call.body = json(request);
        self.call(call).await
    }

    /// `migration_get_jobs`: the application's migration jobs.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
    ) -> Result<Response<Vec<MigrationJob>>, ClientError> {
        let mut call = Call::new(Operation::GetJobs);
        // Array parameters use the OpenAPI default for queries (form, exploded): one pair per
        // value.
        for status in &filter.status {
            call.query.push(("status", status.as_str().to_owned()));
        }
        for job_type in &filter.job_type {
            call.query.push(("type", job_type.as_str().to_owned()));
        }
        if let Some(sort) = filter.sort_by_completion {
            call.query.push(("sort_by_completion", sort.to_string()));
        }
        self.call(call).await
    }

    /// `translate_v2id_to_provider_id`: one page of v2-to-v3 ID translations. See
    /// [`AppClient::translate_pages`] for every page.
    pub async fn translate(
        &self,
        request: &TranslateRequest,
    ) -> Result<Response<TranslateResult>, ClientError> {
        if request
            .next_page_number
            .is_some_and(|page| page > super::bounds::MAX_TRANSLATE_PAGE)
        {
            return Err(self.paging_error(
                Operation::Translate,
                format!(
                    "page {} asked for: beyond the {} pages of {} records any account's objects of one type fill",
                    request.next_page_number.unwrap_or_default(),
                    super::bounds::MAX_TRANSLATE_PAGE,
                    super::bounds::TRANSLATE_PAGE_SIZE
                ),
            ));
        }
        let mut call = Call::new(Operation::Translate);
        call.body = json(request);
        let response: Response<TranslateResult> = self.call(call).await?;
        let records = response
            .data
            .translations
            .as_ref()
            .map_or(0, Vec::len)
            .max(response.data.ids.len());
        if records > super::bounds::TRANSLATE_PAGE_SIZE {
            return Err(self.paging_error(
                Operation::Translate,
                format!(
                    "a page holds {records} records, more than the contract's page of {}",
                    super::bounds::TRANSLATE_PAGE_SIZE
                ),
            ));
        }
        Ok(response)
    }

    /// `get_connector_by_provider`: the connector, or `None` when the application has none for
    /// this provider (404).
    pub async fn get_connector(
        &self,
        provider: ConnectorProvider,
    ) -> Result<Response<Option<Connector>>, ClientError> {
        let mut call = Call::new(Operation::GetConnector);
        call.path_params = vec![provider.as_str()];
        self.call_optional(call).await
    }

    /// `create_connector`. Not resent after an ambiguous failure: observe
    /// [`AppClient::get_connector`] first (see [`super::retry::repeat_rule`]).
    pub async fn create_connector(
        &self,
        connector: &CreateConnector,
    ) -> Result<Response<Connector>, ClientError> {
        let mut call = Call::new(Operation::CreateConnector);
        call.body = json(connector);
        self.call(call).await
    }

    /// `update_connector_by_provider` (PATCH; Nylas replaces the nested objects sent).
    /// Repeatable.
    pub async fn update_connector(
        &self,
        provider: ConnectorProvider,
        update: &UpdateConnector,
    ) -> Result<Response<Connector>, ClientError> {
        let mut call = Call::new(Operation::UpdateConnector);
        call.path_params = vec![provider.as_str()];
        call.body = json(update);
        self.call(call).await
    }

    /// `get-all-grants`: one page of grants. See [`AppClient::list_all_grants`] and
    /// [`AppClient::grants_for_accounts`] for paging.
    pub async fn list_grants(
        &self,
        filter: &GrantFilter,
    ) -> Result<Response<Vec<Grant>>, ClientError> {
        let mut call = Call::new(Operation::ListGrants);
        call.query = filter.query();
        self.call(call).await
    }

    /// `get_grant_by_id`. A missing grant is an error whose `is_not_found()` is true.
    pub async fn get_grant(&self, grant_id: &str) -> Result<Response<Grant>, ClientError> {
        let mut call = Call::new(Operation::GetGrant);
        call.path_params = vec![grant_id];
        self.call(call).await
    }

    /// `get-webhook-destinations-application`: every webhook destination (the contract has no
    /// paging for it).
    pub async fn list_webhooks(&self) -> Result<Response<Vec<Webhook>>, ClientError> {
        let response: Response<Vec<Webhook>> =
            self.call(Call::new(Operation::ListWebhooks)).await?;
        Ok(Response {
            data: response.data.into_iter().map(without_secret).collect(),
            request_id: response.request_id,
        })
    }

    /// `get-webhook-by-id`.
    pub async fn get_webhook(&self, webhook_id: &str) -> Result<Response<Webhook>, ClientError> {
        let mut call = Call::new(Operation::GetWebhook);
        call.path_params = vec![webhook_id];
        let response: Response<Webhook> = self.call(call).await?;
        Ok(Response {
            data: without_secret(response.data),
            request_id: response.request_id,
        })
    }

    /// `post-webhook-destinations`. Not resent after an ambiguous failure (a repeat creates a
    /// second destination): observe [`AppClient::list_webhooks`] first.
    pub async fn create_webhook(
        &self,
        webhook: &CreateWebhook,
    ) -> Result<Response<CreatedWebhook>, ClientError> {
        let mut call = Call::new(Operation::CreateWebhook);
        call.body = json(webhook);
        let response: Response<Webhook> = self.call(call).await?;
        let mut created = response.data;
        let webhook_secret = created.webhook_secret.take().map(Secret::new);
        Ok(Response {
            data: CreatedWebhook {
                webhook: created,
                webhook_secret,
            },
            request_id: response.request_id,
        })
    }

    /// `put-webhook-by-id`. Repeatable: a PUT sets the same fields to the same values.
    pub async fn update_webhook(
        &self,
        webhook_id: &str,
        update: &UpdateWebhook,
    ) -> Result<Response<Webhook>, ClientError> {
        let mut call = Call::new(Operation::UpdateWebhook);
        call.path_params = vec![webhook_id];
        call.body = json(update);
        let response: Response<Webhook> = self.call(call).await?;
        Ok(Response {
            data: without_secret(response.data),
            request_id: response.request_id,
        })
    }

    /// `send_test_event`: asks Nylas to deliver a test notification of `trigger_type` to
    /// `webhook_url`, and returns whether the endpoint acknowledged it. Repeatable: a repeat
    /// delivers one more test notification and changes nothing at Nylas.
    pub async fn send_test_event(
        &self,
        event: &SendTestEvent,
    ) -> Result<Response<TestEventDelivery>, ClientError> {
        let mut call = Call::new(Operation::SendTestEvent);
        call.body = json(event);
        let response: Response<String> = self.call(call).await?;
        Ok(Response {
            data: TestEventDelivery::from_data(response.data),
            request_id: response.request_id,
        })
    }

    /// `get-pubsub-channels`: every Pub/Sub channel (at most five; the contract has no paging).
    pub async fn list_pubsub_channels(&self) -> Result<Response<Vec<PubsubChannel>>, ClientError> {
        self.call(Call::new(Operation::ListPubsubChannels)).await
    }

    /// `get-pubsub-by-id`. An unknown id is a 400 (`destination.id.not.found`).
    pub async fn get_pubsub_channel(
        &self,
        channel_id: &str,
    ) -> Result<Response<PubsubChannel>, ClientError> {
        let mut call = Call::new(Operation::GetPubsubChannel);
        call.path_params = vec![channel_id];
        self.call(call).await
    }

    /// `create-pubsub-channel`. Not resent after an ambiguous failure (a repeat creates a second
    /// channel): observe [`AppClient::list_pubsub_channels`] first.
    pub async fn create_pubsub_channel(
        &self,
        channel: &CreatePubsubChannel,
    ) -> Result<Response<PubsubChannel>, ClientError> {
        let mut call = Call::new(Operation::CreatePubsubChannel);
        call.body = json(channel);
        self.call(call).await
    }

    /// `put-pubsub-by-id`. Repeatable: a PUT sets the same fields to the same values.
    pub async fn update_pubsub_channel(
        &self,
        channel_id: &str,
        update: &UpdatePubsubChannel,
    ) -> Result<Response<PubsubChannel>, ClientError> {
        let mut call = Call::new(Operation::UpdatePubsubChannel);
        call.path_params = vec![channel_id];
        call.body = json(update);
        self.call(call).await
    }

    /// `delete-webhook-by-id`. The runner never deletes a destination (a person does, in the
    /// dashboard or over HTTP); this is for tools and tests that rehearse one deleted by hand.
    /// Repeatable; a repeat after a delete that took effect answers not found (a 400,
    /// `destination.id.not.found`).
    pub async fn delete_webhook(&self, webhook_id: &str) -> Result<Response<()>, ClientError> {
        self.delete(Operation::DeleteWebhook, webhook_id).await
    }

    /// `delete-pubsub-by-id`. Repeatable; a repeat after a delete that took effect answers not
    /// found. Returns the request id.
    pub async fn delete_pubsub_channel(
        &self,
        channel_id: &str,
    ) -> Result<Response<()>, ClientError> {
        self.delete(Operation::DeletePubsubChannel, channel_id)
            .await
    }

    /// `get-sns-channels`: every Amazon SNS channel (the contract has no paging).
    pub async fn list_sns_channels(&self) -> Result<Response<Vec<SnsChannel>>, ClientError> {
        self.call(Call::new(Operation::ListSnsChannels)).await
    }

    /// `get-sns-by-id`. An unknown id is a 400 (`destination.id.not.found`).
    pub async fn get_sns_channel(
        &self,
        channel_id: &str,
    ) -> Result<Response<SnsChannel>, ClientError> {
        let mut call = Call::new(Operation::GetSnsChannel);
        call.path_params = vec![channel_id];
        self.call(call).await
    }

    /// `create-sns-channel`. Not resent after an ambiguous failure (a repeat creates a second
    /// channel): observe [`AppClient::list_sns_channels`] first.
    pub async fn create_sns_channel(
        &self,
        channel: &CreateSnsChannel,
    ) -> Result<Response<SnsChannel>, ClientError> {
        let mut call = Call::new(Operation::CreateSnsChannel);
        call.body = json(channel);
        self.call(call).await
    }

    /// `put-sns-by-id`. Repeatable: a PUT sets the same fields to the same values.
    pub async fn update_sns_channel(
        &self,
        channel_id: &str,
        update: &UpdateSnsChannel,
    ) -> Result<Response<SnsChannel>, ClientError> {
        let mut call = Call::new(Operation::UpdateSnsChannel);
        call.path_params = vec![channel_id];
        call.body = json(update);
        self.call(call).await
    }

    /// `delete-sns-by-id`. Repeatable, as [`AppClient::delete_pubsub_channel`].
    pub async fn delete_sns_channel(&self, channel_id: &str) -> Result<Response<()>, ClientError> {
        self.delete(Operation::DeleteSnsChannel, channel_id).await
    }

    /// `get_all_callback_uris`: every redirect URI of the application (the contract has no
    /// paging).
    pub async fn list_redirect_uris(&self) -> Result<Response<Vec<RedirectUri>>, ClientError> {
        self.call(Call::new(Operation::ListRedirectUris)).await
    }

    /// `get_application_callback_uri`: the redirect URI, or `None` when there is none with
    /// this id (404).
    pub async fn get_redirect_uri(
        &self,
        uri_id: &str,
    ) -> Result<Response<Option<RedirectUri>>, ClientError> {
        let mut call = Call::new(Operation::GetRedirectUri);
        call.path_params = vec![uri_id];
        self.call_optional(call).await
    }

    /// `add_callback_uri`. Not resent after an ambiguous failure: observe
    /// [`AppClient::list_redirect_uris`] first.
    pub async fn add_redirect_uri(
        &self,
        uri: &AddRedirectUri,
    ) -> Result<Response<RedirectUri>, ClientError> {
        let mut call = Call::new(Operation::AddRedirectUri);
        call.body = json(uri);
        self.call(call).await
    }

    /// `update_callback_uri` (PATCH: URL, platform and settings replaced). Repeatable.
    pub async fn update_redirect_uri(
        &self,
        uri_id: &str,
        update: &UpdateRedirectUri,
    ) -> Result<Response<RedirectUri>, ClientError> {
        let mut call = Call::new(Operation::UpdateRedirectUri);
        call.path_params = vec![uri_id];
        call.body = json(update);
        self.call(call).await
    }

    /// `delete_callback_uri`. Repeatable; a repeat after a delete that took effect answers 404.
    pub async fn delete_redirect_uri(&self, uri_id: &str) -> Result<Response<()>, ClientError> {
        self.delete(Operation::DeleteRedirectUri, uri_id).await
    }

    /// A delete of the object `id`: only the request id is kept of the answer.
    async fn delete(&self, operation: Operation, id: &str) -> Result<Response<()>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            request_id: Option<String>,
        }
        let mut call = Call::new(operation);
        call.path_params = vec![id];
        let success = self.send(call).await?;
        let answer: Answer = self.decode(operation, &success)?;
        Ok(Response {
            data: (),
            request_id: answer.request_id,
        })
    }
}
