//! Sends one call: URL, auth headers, limiter, retries per [`super::retry`], and turns the
//! outcome into a typed response or a [`ClientError`].

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::api::{Envelope, Operation};

use super::exchange::{
    Exchange, Failure, Lost, Success, TlsProblem, decode_failure, describe_decode_error,
    describe_transport_error, exchange, request_id_of, sensitive_header, tls_problem,
};
use super::retry::{RepeatRule, repeat_rule};
use super::{AppClient, ClientError, RequestRecord, Response, Secret};

/// One call to make.
pub(super) struct Call<'a> {
    pub operation: Operation,
    pub path_params: Vec<&'a str>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
    /// Link's proof of owning the v2 application: `(v2 app id, v2 secret)`.
    pub basic_v2: Option<(&'a str, &'a Secret)>,
}

impl<'a> Call<'a> {
    pub fn new(operation: Operation) -> Self {
        Call {
            operation,
            path_params: Vec::new(),
            query: Vec::new(),
            body: None,
            basic_v2: None,
        }
    }
}

impl AppClient {
    /// Sends `call` and decodes the `{request_id, data}` envelope of its response.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<Response<T>, ClientError> {
        let operation = call.operation;
        let success = self.send(call).await?;
        self.decode::<Envelope<T>>(operation, &success)
            .map(|envelope| Response {
                data: envelope.data,
                request_id: envelope.request_id,
            })
    }

    /// [`Self::call`] for a read of one object that may not exist: a 404 is `None`, not an
    /// error.
    pub(super) async fn call_optional<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<Response<Option<T>>, ClientError> {
        let operation = call.operation;
        match self.send_or_fail(call).await? {
            Ok(success) => self
                .decode::<Envelope<T>>(operation, &success)
                .map(|envelope| Response {
                    data: Some(envelope.data),
                    request_id: envelope.request_id,
                }),
            Err((failure, _, _)) if failure.status == 404 => Ok(Response {
                data: None,
                request_id: failure.request_id,
            }),
            Err((failure, operation, attempts)) => {
                Err(self.api_error(operation, failure, attempts))
            }
        }
    }

    pub(super) fn decode<T: DeserializeOwned>(
        &self,
        operation: Operation,
        success: &Success,
    ) -> Result<T, ClientError> {
        serde_json::from_slice(&success.body).map_err(|e| ClientError::Decode {
            operation,
            status: success.status,
            request_id: request_id_of(&success.body),
            detail: describe_decode_error(&e),
            help: format!(
                "the answer from {} does not look like the Nylas v3 API; check that region {}'s \
                 api_url in the plan points at Nylas (or the simulator)",
                self.base_url, self.region
            ),
        })
    }

    /// Sends `call` through the limiter, retrying as the operation's [`RepeatRule`] allows, and
    /// returns the first 2xx response.
    pub(super) async fn send(&self, call: Call<'_>) -> Result<Success, ClientError> {
        match self.send_or_fail(call).await? {
            Ok(success) => Ok(success),
            Err((failure, operation, attempts)) => {
                Err(self.api_error(operation, failure, attempts))
            }
        }
    }

    /// Like [`AppClient::send`], but hands an error status back undecided, for operations where
    /// a status is an answer (404 on get_connector).
    pub(super) async fn send_or_fail(
        &self,
        call: Call<'_>,
    ) -> Result<Result<Success, (Failure, Operation, u32)>, ClientError> {
        let operation = call.operation;
        let policy = &self.client.inner.retry;
        let wire = self.wire(&call)?;
        let mut attempt: u32 = 0;
        let mut first_send: Option<Instant> = None;
        loop {
            attempt += 1;
            self.limiter.acquire().await;
            let started = *first_send.get_or_insert_with(Instant::now);
            // The call's deadline: every attempt, wait and body within `max_elapsed` of the
            // first send, so that a trickling server cannot hold a run for minutes.
            let deadline = started + policy.max_elapsed;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.deadline_error(operation, attempt - 1));
            }
            self.observe(&call, &wire.url, attempt);

            let attempt_time = policy.request_timeout.min(remaining);
            let request = wire.request(&call, attempt_time);
            let sent_at = Instant::now();
            let outcome =
                match tokio::time::timeout_at(sent_at + attempt_time, exchange(request, operation))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Lost::TimedOut { status: None }),
                };
            let tries = Tries {
                operation,
                rule: wire.rule,
                attempt,
                started,
                deadline,
            };
            let (status, retry_after, location, body) = match outcome {
                Ok(Exchange::Answer(answer)) => answer,
                Ok(Exchange::TooLarge { status, limit }) => {
                    return Err(self.too_large(operation, status, limit));
                }
                Err(lost) => {
                    self.after_lost(lost, &tries, attempt_time).await?;
                    continue;
                }
            };
            tracing::debug!(
                operation = %operation,
                app_id = %self.app_id,
                attempt,
                status,
                elapsed_ms = sent_at.elapsed().as_millis() as u64,
                "response"
            );
            if (200..300).contains(&status) {
                return Ok(Ok(Success { status, body }));
            }
            let mut failure = decode_failure(status, &body);
            failure.location = location;
            match self.after_status(failure, retry_after, &tries).await? {
                Some(failure) => return Ok(Err((failure, operation, attempt))),
                None => continue,
            }
        }
    }

    /// What every attempt of a call sends: its URL, credentials, method and connection pool.
    fn wire(&self, call: &Call<'_>) -> Result<Wire<'_>, ClientError> {
        let operation = call.operation;
        let url = self.url_for(operation, &call.path_params)?;
        let bearer = self.bearer(operation)?;
        let basic_v2 = match call.basic_v2 {
            Some((v2_app_id, v2_secret)) => Some(self.basic_v2(operation, v2_app_id, v2_secret)?),
            None => None,
        };
        let method = reqwest::Method::from_bytes(operation.method().as_bytes())
            .unwrap_or(reqwest::Method::GET);
        // Loopback is never reached through a proxy (see `Inner::direct`).
        let http = if url.host_str().is_some_and(super::endpoint::is_loopback) {
            &self.client.inner.direct
        } else {
            &self.client.inner.http
        };
        Ok(Wire {
            url,
            bearer,
            basic_v2,
            method,
            http,
            rule: repeat_rule(operation),
        })
    }

    /// The error of a 2xx body beyond the operation's bound.
    fn too_large(&self, operation: Operation, status: u16, limit: usize) -> ClientError {
        tracing::warn!(
            operation = %operation,
            app_id = %self.app_id,
            status,
            limit,
            "response body beyond the operation's bound; reading stopped"
        );
        ClientError::TooLarge {
            operation,
            status,
            limit,
            help: format!(
                "no Nylas answer to {operation} comes near this size: check that region {}'s api_url ({}) points at Nylas, not at a proxy or another service; nothing more was read",
                self.region, self.base_url
            ),
        }
    }

    /// After an attempt that got no answer to decide on: waits and returns `Ok` when the call
    /// may be sent again, or the call's error.
    async fn after_lost(
        &self,
        lost: Lost,
        tries: &Tries,
        attempt_time: Duration,
    ) -> Result<(), ClientError> {
        let Tries {
            operation,
            rule,
            attempt,
            started,
            deadline,
        } = *tries;
        let (never_sent, status, detail, error) = match lost {
            Lost::Transport { error, status } => {
                // Only a failure to connect proves the request never left.
                let never_sent = error.is_connect();
                let detail = describe_transport_error(&error);
                (never_sent, status, detail, Some(error))
            }
            Lost::TimedOut { status } => (
                false,
                status,
                format!(
                    "timed out: no complete answer within {}",
                    super::error::seconds(attempt_time)
                ),
                None,
            ),
        };
        // A TLS failure while connecting is not transient (a certificate this machine does not
        // trust, a server that does not speak TLS): retrying only delays the answer and blames
        // the network.
        if never_sent && let Some(problem) = error.as_ref().and_then(tls_problem) {
            return Err(self.tls_error(operation, problem));
        }
        tracing::warn!(
            operation = %operation,
            app_id = %self.app_id,
            attempt,
            never_sent,
            error = %detail,
            "request failed without a response"
        );
        if rule == RepeatRule::ObserveBeforeRepeat && !never_sent {
            return Err(self.ambiguous(operation, status, None, detail));
        }
        let wait = self.backoff(attempt);
        if self.may_retry(attempt, started, wait) {
            tokio::time::sleep(wait).await;
            return Ok(());
        }
        if Instant::now() + wait >= deadline
            && (error.as_ref().is_none_or(reqwest::Error::is_timeout))
        {
            return Err(self.deadline_error(operation, attempt));
        }
        Err(ClientError::Transport {
            operation,
            detail,
            attempts: attempt,
            help: format!(
                "check that {} is reachable from this machine (network, proxy, \
                 firewall); apply can be run again: finished steps are skipped",
                self.base_url
            ),
        })
    }

    /// After an error status: `None` when the call may be sent again (after the wait it
    /// asked for), the failure to decide on, or the call's error.
    async fn after_status(
        &self,
        failure: Failure,
        retry_after: Option<Duration>,
        tries: &Tries,
    ) -> Result<Option<Failure>, ClientError> {
        let policy = &self.client.inner.retry;
        let Tries {
            operation,
            rule,
            attempt,
            started,
            ..
        } = *tries;
        let status = failure.status;
        match status {
            429 if retry_after.is_some_and(|asked| asked > policy.max_retry_after) => {
                // Waiting that long would hold the whole run: end the call, and say so.
                let asked = retry_after.unwrap_or_default();
                tracing::warn!(
                    operation = %operation,
                    app_id = %self.app_id,
                    attempt,
                    retry_after_s = asked.as_secs(),
                    "rate limited (429) with a Retry-After beyond the cap; not waiting"
                );
                let mut error = self.api_error(operation, failure, attempt);
                if let ClientError::Api { help, .. } = &mut error {
                    *help = format!(
                        "Nylas asked to wait {} before the next request (Retry-After), more than the {} nylas-migrate waits at most; run the command again later: finished steps are skipped",
                        super::error::seconds(asked),
                        super::error::seconds(policy.max_retry_after)
                    );
                }
                return Err(error);
            }
            429 => {
                // Nylas refused the request: nothing happened, any operation may be resent.
                let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
                if self.may_retry(attempt, started, wait) {
                    tracing::warn!(
                        operation = %operation,
                        app_id = %self.app_id,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited (429); holding every request of this application"
                    );
                    // The limiter makes this task, and every other one of the application, wait
                    // out the Retry-After before its next permit.
                    self.limiter.hold_until(Instant::now() + wait);
                    return Ok(None);
                }
            }
            500 if rule == RepeatRule::ObserveBeforeRepeat => {
                // A server error after the request arrived: it may have been acted on.
                return Err(self.ambiguous(
                    operation,
                    Some(status),
                    failure.request_id,
                    format!("HTTP {status} from Nylas"),
                ));
            }
            502..=504 => {
                if rule == RepeatRule::ObserveBeforeRepeat {
                    return Err(self.ambiguous(
                        operation,
                        Some(status),
                        failure.request_id,
                        format!("HTTP {status} from a gateway"),
                    ));
                }
                let wait = self.backoff(attempt);
                if self.may_retry(attempt, started, wait) {
                    tracing::warn!(
                        operation = %operation,
                        app_id = %self.app_id,
                        attempt,
                        status,
                        "server unavailable; backing off"
                    );
                    tokio::time::sleep(wait).await;
                    return Ok(None);
                }
            }
            _ => {}
        }
        Ok(Some(failure))
    }

    /// The error of a call whose deadline passed.
    fn deadline_error(&self, operation: Operation, attempts: u32) -> ClientError {
        let deadline = self.client.inner.retry.max_elapsed;
        ClientError::Deadline {
            operation,
            deadline,
            attempts,
            help: format!(
                "{} answered too slowly (a slow network, a proxy, or a server trickling its answer); check that region {}'s api_url points at Nylas, then run the command again: finished steps are skipped. The deadline is {} per call; {} sets another (in seconds)",
                self.base_url,
                self.region,
                super::error::seconds(deadline),
                super::retry::DEADLINE_VAR
            ),
        }
    }

    fn may_retry(&self, attempt: u32, started: Instant, wait: Duration) -> bool {
        let policy = &self.client.inner.retry;
        attempt < policy.max_attempts && started.elapsed() + wait <= policy.max_elapsed
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let mut rng = self
            .client
            .inner
            .jitter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.client
            .inner
            .retry
            .backoff(attempt.saturating_sub(1), &mut *rng)
    }

    fn observe(&self, call: &Call<'_>, url: &Url, attempt: u32) {
        if let Some(observer) = &self.client.inner.observer {
            observer(&RequestRecord {
                operation: call.operation,
                app_id: self.app_id.to_string(),
                method: call.operation.method(),
                path: url.path().to_owned(),
                path_params: call.path_params.iter().map(|p| (*p).to_owned()).collect(),
                query: call
                    .query
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                body: call.body.clone(),
                attempt,
            });
        }
    }

    /// The operation's URL: the region's base URL (its path kept as a prefix) followed by the
    /// contract's path with each `{param}` replaced, percent-encoded, by the next of `params`.
    fn url_for(&self, operation: Operation, params: &[&str]) -> Result<Url, ClientError> {
        let mut url = self.base_url.clone();
        let mut params = params.iter();
        {
            let Ok(mut segments) = url.path_segments_mut() else {
                return Err(ClientError::Endpoint(super::EndpointError::Invalid {
                    region: self.region,
                    url: self.base_url.to_string(),
                    reason: "the URL cannot carry a path".into(),
                }));
            };
            segments.pop_if_empty();
            for segment in operation.path_template().trim_start_matches('/').split('/') {
                if segment.starts_with('{') {
                    segments.push(params.next().copied().unwrap_or_default());
                } else {
                    segments.push(segment);
                }
            }
        }
        Ok(url)
    }

    fn bearer(&self, operation: Operation) -> Result<HeaderValue, ClientError> {
        let text = Zeroizing::new(format!("Bearer {}", self.api_key.expose()));
        sensitive_header(&text).ok_or_else(|| ClientError::InvalidCredential {
            operation,
            what: "v3 API key".into(),
            help: format!(
                "check the value of {}: a trailing newline or a non-ASCII character often comes \
                 from copying the key into a file",
                self.key_source
            ),
        })
    }

    fn basic_v2(
        &self,
        operation: Operation,
        v2_app_id: &str,
        v2_secret: &Secret,
    ) -> Result<HeaderValue, ClientError> {
        use base64::Engine;
        let pair = Zeroizing::new(format!("{v2_app_id}:{}", v2_secret.expose()));
        let encoded =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
        // Base64 is always a valid header value; the application ID and secret are encoded
        // whatever they hold.
        sensitive_header(&encoded).ok_or_else(|| ClientError::InvalidCredential {
            operation,
            what: "BasicV2 header".into(),
            help: format!(
                "check the v2 application ID {v2_app_id} and the v2 client secret{} of this pair",
                v2_secret
                    .origin()
                    .map(|origin| format!(" ({origin})"))
                    .unwrap_or_default()
            ),
        })
    }

    fn ambiguous(
        &self,
        operation: Operation,
        status: Option<u16>,
        request_id: Option<String>,
        detail: String,
    ) -> ClientError {
        let check = match operation {
            Operation::SnapshotBatchClone => format!(
                "do not start another batch clone yet: look for a job created just now with GET \
                 /v3/migration-tools/jobs (`nylas-migrate status`) for application {}; `apply` \
                 does this itself and attaches to the job if it exists",
                self.app_id
            ),
            Operation::CreateWebhook => format!(
                "look for a destination with this URL with GET /v3/webhooks for application {} \
                 before creating it again; `apply` does this itself",
                self.app_id
            ),
            Operation::CloneSingleAccount => format!(
                "look for the account's grant with GET /v3/grants?account_id=… for application {} \
                 before cloning it again; `apply` does this itself",
                self.app_id
            ),
            Operation::CreateConnector => format!(
                "look for the connector with GET /v3/connectors/{{provider}} for application {} \
                 before creating it again; `apply` does this itself",
                self.app_id
            ),
            Operation::CreatePubsubChannel => format!(
                "look for a channel with this topic with GET /v3/channels/pubsub for \
                 application {} before creating it again",
                self.app_id
            ),
            Operation::CreateSnsChannel => format!(
                "look for a channel with this topic with GET /v3/channels/sns for application \
                 {} before creating it again",
                self.app_id
            ),
            Operation::AddRedirectUri => format!(
                "look for the URI with GET /v3/applications/redirect-uris for application {} \
                 before adding it again",
                self.app_id
            ),
            _ => format!(
                "observe the live state of application {} before repeating {operation}",
                self.app_id
            ),
        };
        tracing::warn!(operation = %operation, app_id = %self.app_id, "ambiguous outcome; not resending");
        ClientError::Ambiguous {
            operation,
            status,
            request_id,
            detail,
            help: check,
        }
    }

    /// The error for a TLS failure while connecting: what kind, which host, what to do.
    fn tls_error(&self, operation: Operation, problem: TlsProblem) -> ClientError {
        let host = self.base_url.host_str().unwrap_or_default().to_owned();
        let region = self.region;
        match problem {
            TlsProblem::Certificate(detail) => ClientError::Certificate {
                operation,
                help: format!(
                    "this is a certificate problem, not a network one, so it was not retried and \
                     nothing was sent. Check that region {region}'s api_url names the right host \
                     ({}). If your network inspects TLS with its own CA, install that CA in the \
                     operating system's certificate store, or set {}=/path/to/ca.pem",
                    self.base_url,
                    super::CA_FILE_VAR
                ),
                host,
                detail,
            },
            TlsProblem::Handshake(detail) => ClientError::Tls {
                operation,
                help: format!(
                    "{} did not complete a TLS handshake, so nothing was sent. If it serves plain \
                     http (such as the local simulator), write region {region}'s api_url with \
                     http:// (allowed for loopback addresses only)",
                    self.base_url
                ),
                host,
                detail,
            },
        }
    }

    pub(super) fn api_error(
        &self,
        operation: Operation,
        mut failure: Failure,
        attempts: u32,
    ) -> ClientError {
        if (300..400).contains(&failure.status) && failure.message.is_empty() {
            failure.message = "a redirect, not followed".into();
        }
        let help = match (failure.status, &failure.location) {
            (300..=399, location) => format!(
                "the server answered with a redirect{}, which is not followed: the API key is only \
                 sent where region {}'s api_url ({}) points. Check that URL (https, no extra path)",
                location
                    .as_deref()
                    .map(|l| format!(" to {l}"))
                    .unwrap_or_default(),
                self.region,
                self.base_url
            ),
            _ => self.help_for(operation, failure.status),
        };
        // What the server said is cut to a few KiB (saying so): it is printed, and journaled.
        let bounded = crate::untrusted::bounded_message;
        ClientError::Api {
            operation,
            status: failure.status,
            request_id: failure.request_id.map(bounded),
            error_type: failure.error_type.map(bounded),
            message: bounded(failure.message),
            attempts,
            help,
        }
    }

    fn help_for(&self, operation: Operation, status: u16) -> String {
        let region = self.region;
        let app = &self.app_id;
        match status {
            401 if operation == Operation::LinkV2V3Apps => format!(
                "Nylas rejected the credentials of the link. Check the v3 API key in {} (it must \
                 be the key of v3 application {app}, in region {region}), and the v2 application \
                 ID and client secret of the pair: BasicV2 is base64 of V2_APP_ID:V2_APP_SECRET \
                 and the v2 application must be in region {region} as well",
                self.key_source
            ),
            401 => format!(
                "Nylas at {} rejected the API key from {}. Check that it holds the current API \
                 key of v3 application {app}, and that this application lives in region {region}: \
                 a key is only known to its application's data centre",
                self.base_url, self.key_source
            ),
            403 => format!(
                "the API key from {} is not allowed to do {operation}; check its permissions in \
                 the Nylas dashboard",
                self.key_source
            ),
            400 if matches!(operation, Operation::LinkV2V3Apps | Operation::ImportV2App) => {
                format!(
                    "a v2 application can only be linked to and imported into a v3 application in the \
                 same region: check that the v2 application is in region {region} like v3 \
                 application {app}, and that the v3 application is not linked to another v2 \
                 application (link must run before import)"
                )
            }
            400 => format!(
                "Nylas refused the request's content; check the plan's values for this step of \
                 application {app}"
            ),
            404 => format!(
                "the object does not exist in v3 application {app} (region {region}); check the \
                 ID, and that the plan puts the application in the right region"
            ),
            429 => format!(
                "Nylas kept answering 429 Too Many Requests for application {app}; lower this \
                 pair's rate limit in the plan, or make sure no other tool uses the application's \
                 quota during the run"
            ),
            500..=599 => format!(
                "Nylas failed ({status}) and retries did not help; run the command again later: \
                 finished steps are skipped"
            ),
            _ => format!("Nylas refused {operation} for application {app}"),
        }
    }
}

/// What every attempt of a call sends.
struct Wire<'a> {
    url: Url,
    bearer: HeaderValue,
    basic_v2: Option<HeaderValue>,
    method: reqwest::Method,
    http: &'a reqwest::Client,
    rule: RepeatRule,
}

impl Wire<'_> {
    /// One attempt's request, cut at `attempt_time`.
    fn request(&self, call: &Call<'_>, attempt_time: Duration) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(self.method.clone(), self.url.clone())
            .header(AUTHORIZATION, self.bearer.clone())
            .timeout(attempt_time);
        if let Some(value) = &self.basic_v2 {
            request = request.header("BasicV2", value.clone());
        }
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        request
    }
}

/// Where a call stands: its operation and repeat rule, this attempt, when it first went out
/// and when its time runs out.
#[derive(Clone, Copy)]
struct Tries {
    operation: Operation,
    rule: RepeatRule,
    attempt: u32,
    started: Instant,
    deadline: Instant,
}
