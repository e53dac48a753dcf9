//! Sends one call: URL, auth headers, limiter, retries per [`super::retry`], and turns the
//! outcome into a typed response or a [`ClientError`].

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue, LOCATION, RETRY_AFTER};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::api::{Envelope, ErrorBody, Operation};

use super::retry::{RepeatRule, parse_retry_after, repeat_rule};
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

/// A 2xx response.
pub(super) struct Success {
    pub status: u16,
    pub body: Vec<u8>,
}

/// An error status, decoded as far as the body allows.
pub(super) struct Failure {
    pub status: u16,
    pub request_id: Option<String>,
    pub error_type: Option<String>,
    pub message: String,
    /// A redirect's `Location` (never followed).
    pub location: Option<String>,
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
        let rule = repeat_rule(operation);
        let policy = &self.client.inner.retry;
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
            self.observe(&call, &url, attempt);

            let attempt_time = policy.request_timeout.min(remaining);
            let mut request = http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, bearer.clone())
                .timeout(attempt_time);
            if let Some(value) = &basic_v2 {
                request = request.header("BasicV2", value.clone());
            }
            if !call.query.is_empty() {
                request = request.query(&call.query);
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }

            let sent_at = Instant::now();
            let outcome =
                match tokio::time::timeout_at(sent_at + attempt_time, exchange(request, operation))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Lost::TimedOut { status: None }),
                };

            let (status, retry_after, location, body) = match outcome {
                Ok(Exchange::Answer(answer)) => answer,
                Ok(Exchange::TooLarge { status, limit }) => {
                    tracing::warn!(
                        operation = %operation,
                        app_id = %self.app_id,
                        status,
                        limit,
                        "response body beyond the operation's bound; reading stopped"
                    );
                    return Err(ClientError::TooLarge {
                        operation,
                        status,
                        limit,
                        help: format!(
                            "no Nylas answer to {operation} comes near this size: check that region {}'s api_url ({}) points at Nylas, not at a proxy or another service; nothing more was read",
                            self.region, self.base_url
                        ),
                    });
                }
                Err(lost) => {
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
                    // A TLS failure while connecting is not transient (a certificate this
                    // machine does not trust, a server that does not speak TLS): retrying
                    // only delays the answer and blames the network.
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
                        continue;
                    }
                    if Instant::now() + wait >= deadline
                        && (error.as_ref().is_none_or(reqwest::Error::is_timeout))
                    {
                        return Err(self.deadline_error(operation, attempt));
                    }
                    return Err(ClientError::Transport {
                        operation,
                        detail,
                        attempts: attempt,
                        help: format!(
                            "check that {} is reachable from this machine (network, proxy, \
                             firewall); apply can be run again: finished steps are skipped",
                            self.base_url
                        ),
                    });
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
                        // The limiter makes this task, and every other one of the application,
                        // wait out the Retry-After before its next permit.
                        self.limiter.hold_until(Instant::now() + wait);
                        continue;
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
                        continue;
                    }
                }
                _ => {}
            }
            return Ok(Err((failure, operation, attempt)));
        }
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

/// How an attempt ended without an answer to decide on.
enum Lost {
    /// The connection failed or broke (`status` if the head had arrived).
    Transport {
        error: reqwest::Error,
        status: Option<u16>,
    },
    /// The attempt's time ran out.
    TimedOut { status: Option<u16> },
}

/// What an attempt that got an answer read.
enum Exchange {
    Answer(Answer),
    /// A 2xx body beyond the operation's bound: not read further.
    TooLarge {
        status: u16,
        limit: usize,
    },
}

/// The answer's status, Retry-After, redirect location and body.
type Answer = (u16, Option<Duration>, Option<String>, Vec<u8>);

/// Sends `request` and reads the answer, its body bounded (see [`super::bounds`]): a 2xx body
/// beyond the operation's bound is [`Exchange::TooLarge`], an error body is cut at
/// [`super::bounds::MAX_ERROR_BODY`]. Reading stops at the bound: nothing beyond is buffered.
async fn exchange(
    request: reqwest::RequestBuilder,
    operation: Operation,
) -> Result<Exchange, Lost> {
    let mut response = request.send().await.map_err(|error| Lost::Transport {
        error,
        status: None,
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let success = (200..300).contains(&status);
    let limit = if success {
        super::bounds::max_body(operation)
    } else {
        super::bounds::MAX_ERROR_BODY
    };
    let announced = response.content_length().unwrap_or(0);
    if success && announced > limit as u64 {
        return Ok(Exchange::TooLarge { status, limit });
    }
    let mut body = Vec::with_capacity(announced.min(limit as u64) as usize);
    loop {
        let chunk = response.chunk().await.map_err(|error| {
            if error.is_timeout() {
                Lost::TimedOut {
                    status: Some(status),
                }
            } else {
                Lost::Transport {
                    error,
                    status: Some(status),
                }
            }
        })?;
        let Some(chunk) = chunk else { break };
        let room = limit - body.len();
        if chunk.len() > room {
            if success {
                return Ok(Exchange::TooLarge { status, limit });
            }
            // An error body: its start is enough (request_id, type, message).
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Exchange::Answer((status, retry_after, location, body)))
}

fn sensitive_header(value: &str) -> Option<HeaderValue> {
    let mut header = HeaderValue::from_str(value).ok()?;
    // Keeps the value out of reqwest's and hyper's Debug output.
    header.set_sensitive(true);
    Some(header)
}

fn decode_failure(status: u16, body: &[u8]) -> Failure {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => Failure {
            status,
            request_id: Some(parsed.request_id),
            error_type: parsed.error.error_type,
            message: parsed.error.message.unwrap_or_default(),
            location: None,
        },
        Err(_) if body.len() >= super::bounds::MAX_ERROR_BODY => Failure {
            status,
            request_id: None,
            error_type: None,
            location: None,
            // An error body cut at its bound: the start of its message is kept (and cut again
            // where messages are kept), so a huge reason still says what Nylas said.
            message: match message_prefix(body) {
                Some(start) => format!(
                    "{start} [cut: the error body was longer than {} bytes]",
                    body.len()
                ),
                None => format!("an error body longer than {} bytes, not kept", body.len()),
            },
        },
        Err(_) => Failure {
            status,
            request_id: request_id_of(body),
            error_type: None,
            location: None,
            message: if body.is_empty() {
                String::new()
            } else {
                // The body is not shown: it is not the contract's error shape, and nothing says
                // what a proxy in between might echo back.
                format!("a {}-byte body that is not a Nylas error", body.len())
            },
        },
    }
}

/// The start of the `message` string of an error body cut short, unescaped: what follows the
/// first `"message"` key up to the string's end or the body's.
fn message_prefix(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let after_key = &text[text.find("\"message\"")? + "\"message\"".len()..];
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let mut end = value.len();
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let mut raw = &value[..end];
    // A cut in the middle of an escape (`\\`, `\\u12`) does not decode: drop up to six characters.
    for _ in 0..7 {
        if let Ok(decoded) = serde_json::from_str::<String>(&format!("\"{raw}\"")) {
            return Some(decoded);
        }
        let last = raw.char_indices().last()?.0;
        raw = &raw[..last];
    }
    None
}

/// The `request_id` of any JSON body that has one.
fn request_id_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct WithRequestId {
        request_id: Option<String>,
    }
    serde_json::from_slice::<WithRequestId>(body)
        .ok()
        .and_then(|b| b.request_id)
}

/// serde's message without any quoted value from the body (a value could be a webhook secret).
fn describe_decode_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let mut out = String::with_capacity(message.len());
    let mut in_quotes = false;
    for c in message.chars() {
        if c == '"' {
            if !in_quotes {
                out.push_str("\"…\"");
            }
            in_quotes = !in_quotes;
        } else if !in_quotes {
            out.push(c);
        }
    }
    out
}

/// A TLS failure found among a connection error's causes.
enum TlsProblem {
    /// The certificate was rejected: why, in words.
    Certificate(String),
    /// Another handshake failure (not TLS at all, no common protocol): rustls's words.
    Handshake(String),
}

/// The TLS failure behind `error`, if its causes hold a `rustls::Error`. The TLS layers wrap it
/// in `io::Error`s (two, nested), whose `source` skips the wrapped error, so each `io::Error`'s
/// inner error is looked into as well.
fn tls_problem(error: &reqwest::Error) -> Option<TlsProblem> {
    fn rustls_in<'a>(
        mut error: &'a (dyn std::error::Error + 'static),
    ) -> Option<&'a rustls::Error> {
        loop {
            if let Some(tls) = error.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            let io = error.downcast_ref::<std::io::Error>()?;
            error = io.get_ref()?;
        }
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        let tls = rustls_in(cause);
        if let Some(tls) = tls {
            return Some(match tls {
                rustls::Error::InvalidCertificate(reason) => {
                    TlsProblem::Certificate(describe_certificate_error(reason))
                }
                other => TlsProblem::Handshake(other.to_string()),
            });
        }
        source = cause.source();
    }
    None
}

fn describe_certificate_error(reason: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    let words = match reason {
        E::UnknownIssuer => "it is not signed by an authority this machine trusts",
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "it is not valid for this host name"
        }
        E::Expired | E::ExpiredContext { .. } => "it has expired",
        E::NotValidYet | E::NotValidYetContext { .. } => "it is not valid yet",
        E::Revoked => "it has been revoked",
        E::BadSignature | E::BadEncoding => "it is malformed or badly signed",
        _ => "it is not acceptable",
    };
    format!("{words} ({reason:?})")
}

/// The error and its causes, without the URL's query (account IDs are not secret, but an error
/// line need not carry a page of them).
fn describe_transport_error(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the response"
    } else {
        "the connection was lost"
    };
    let mut detail = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_error_body_keeps_the_start_of_its_message() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"{"request_id":"r","error":{"type":"x","message":"MMMM"#,
                Some("MMMM"),
            ),
            (
                r#"{"error":{"message" : "a \"quoted\" wo"#,
                Some(r#"a "quoted" wo"#),
            ),
            (
                r#"{"error":{"message":"ends in an escape \u00"#,
                Some("ends in an escape "),
            ),
            (r#"{"error":{"message":"done"},"more":"#, Some("done")),
            (r#"{"error":{"type":"no message here"#, None),
            (r#"{"error":{"message":12"#, None),
        ];
        for (body, expected) in cases {
            assert_eq!(
                message_prefix(body.as_bytes()).as_deref(),
                *expected,
                "{body}"
            );
        }
    }

    #[test]
    fn decode_errors_hide_quoted_values() {
        let error = serde_json::from_str::<u64>("\"s3cr3t\"").unwrap_err();
        let text = describe_decode_error(&error);
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("invalid type"), "{text}");
    }
}
