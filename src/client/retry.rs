//! When a failed call is sent again, and how long the client waits first.
//!
//! Two things decide it: what went wrong, and whether the operation may be repeated blindly.
//!
//! | failure | [`RepeatRule::Repeatable`] | [`RepeatRule::ObserveBeforeRepeat`] |
//! | --- | --- | --- |
//! | 429 | wait Retry-After (all tasks of the app), resend; a Retry-After over `max_retry_after` (60 s) ends the call with the 429, saying so | same: Nylas refused the request, nothing happened |
//! | connection refused / DNS / TLS handshake (never sent) | backoff, resend | backoff, resend |
//! | 500 | error, no resend | [`super::ClientError::Ambiguous`], no resend |
//! | 502, 503, 504 | backoff, resend | [`super::ClientError::Ambiguous`], no resend |
//! | timeout, connection lost after sending | backoff, resend | [`super::ClientError::Ambiguous`], no resend |
//! | any other status | error, no resend | error, no resend |
//!
//! A server error or a lost connection after the request left says nothing about whether Nylas
//! acted on it, so a write whose repeat would do the work twice must not be resent until the
//! caller has observed the live state.
//!
//! Who observes, per write that is not repeatable:
//! - **single clone** ([`super::AppClient::clone_account`]): the client itself. It reads the
//!   account's grant (`GET /v3/grants?account_id=…`, one exact call): a grant is the answer the
//!   lost request would have given, and nothing is resent; no grant means no clone happened that
//!   a resend could duplicate (a refused clone makes no grant), so it is sent again within the
//!   same attempt and time bounds. Only a refused account whose refusal was lost can be asked
//!   twice, and a refusal makes nothing.
//! - **batch clone**: the engine lists the jobs for about 15 seconds and follows the job that
//!   appeared; it never resends in the same run.
//! - **webhook create**: the engine lists the destinations for a while, never resends in the
//!   same run, and re-lists after every create to notice a duplicate a concurrent runner made.
//! - **connector create**: the engine's next run reads `GET /v3/connectors/{provider}`.
//!
//! Backoff is exponential with full jitter (a uniform wait between zero and
//! `base × 2^retry`, capped), and every call is bounded both in attempts and in total time: its
//! deadline (`max_elapsed`, [`DEADLINE_VAR`]) covers every attempt, wait and response body, so
//! an attempt in flight is cut at it too ([`super::ClientError::Deadline`]).

use std::time::Duration;

use rand::Rng;

use crate::api::Operation;

/// A duration in words for messages (kept here too, where the engine finds it).
pub use super::error::seconds;

/// Whether an operation may be sent again after a failure that leaves its effect unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatRule {
    /// Repeating it cannot do anything twice.
    Repeatable,
    /// A repeat could do the work twice; after an ambiguous failure the caller must observe the
    /// live state before deciding to send it again.
    ObserveBeforeRepeat,
}

/// The repeat rule of each contract operation, with the reason.
pub fn repeat_rule(operation: Operation) -> RepeatRule {
    use Operation::*;
    match operation {
        // Reads. Translate is a POST but only reads.
        GetApplication | GetJobs | Translate | ListConnectors | GetConnector | ListGrants
        | GetGrant | ListWebhooks | GetWebhook => RepeatRule::Repeatable,
        // Linking the same v2/v3 pair again leaves the same link.
        LinkV2V3Apps => RepeatRule::Repeatable,
        // Nylas's migration guide: the migration calls "are meant for one-time use; calls may be
        // retried". Import copies settings and creates each provider's connector once.
        ImportV2App => RepeatRule::Repeatable,
        // The contract does not promise that cloning an account twice is harmless.
        // `AppClient::clone_account` reads the account's grant before sending it again.
        CloneSingleAccount => RepeatRule::ObserveBeforeRepeat,
        // PATCH and PUT set fields to the values sent: the same request twice is the same state.
        UpdateConnector | UpdateWebhook => RepeatRule::Repeatable,
        // A second batch clone starts a second pair of jobs over the same accounts. The caller
        // observes GET /v3/migration-tools/jobs first.
        SnapshotBatchClone => RepeatRule::ObserveBeforeRepeat,
        // A second create makes a second destination that receives every notification twice.
        // The caller observes GET /v3/webhooks first.
        CreateWebhook => RepeatRule::ObserveBeforeRepeat,
        // Nylas keeps one connector per provider, so a repeat cannot duplicate it, but it would
        // fail with "already exists" and hide the first call's success, or, if the settings
        // differ from the live ones, hide which settings won. Observing
        // GET /v3/connectors/{provider} answers exactly.
        CreateConnector => RepeatRule::ObserveBeforeRepeat,
        // Notification channels and redirect URIs. Reads first.
        ListPubsubChannels | GetPubsubChannel | ListSnsChannels | GetSnsChannel
        | ListRedirectUris | GetRedirectUri => RepeatRule::Repeatable,
        // A test event changes nothing Nylas stores; a repeat delivers one more test
        // notification to the endpoint, which is what the caller asked for.
        SendTestEvent => RepeatRule::Repeatable,
        // PUT (channels) and PATCH (redirect URIs) set the fields sent to the values sent.
        UpdatePubsubChannel | UpdateSnsChannel | UpdateRedirectUri => RepeatRule::Repeatable,
        // A repeated delete cannot remove anything else; if the first took effect, the repeat
        // answers not found, which the caller reads as gone.
        DeleteWebhook | DeletePubsubChannel | DeleteSnsChannel | DeleteRedirectUri => {
            RepeatRule::Repeatable
        }
        // A second create makes a second channel that receives every notification twice (and a
        // Pub/Sub channel counts against the five an application may have). The caller
        // observes GET /v3/channels/pubsub or /v3/channels/sns first.
        CreatePubsubChannel | CreateSnsChannel => RepeatRule::ObserveBeforeRepeat,
        // A second add of the same URI is refused as a duplicate (or, with another ID, adds it
        // twice), hiding the first call's success. The caller observes
        // GET /v3/applications/redirect-uris first.
        AddRedirectUri => RepeatRule::ObserveBeforeRepeat,
    }
}

/// Limits and pacing of retries.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Total time from the first send after which no further attempt starts. A Retry-After
    /// beyond it ends the call with the 429.
    pub max_elapsed: Duration,
    /// The first backoff's upper bound; each retry doubles it.
    pub base_delay: Duration,
    /// The largest backoff upper bound.
    pub max_delay: Duration,
    /// How long one attempt may take, from sending to the end of the response body.
    pub request_timeout: Duration,
    /// The longest Retry-After waited: a server asking for more ends the call with its 429,
    /// saying so, rather than holding the run.
    pub max_retry_after: Duration,
}

/// The environment variable that sets a call's deadline, in seconds: every attempt, wait and
/// body of one call end within it (default [`RetryPolicy::default`]'s `max_elapsed`, 120 s).
pub const DEADLINE_VAR: &str = "NYLAS_MIGRATE_REQUEST_DEADLINE";

/// The range [`DEADLINE_VAR`] accepts.
const DEADLINE_RANGE: (f64, f64) = (0.1, 3600.0);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_elapsed: Duration::from_secs(120),
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(16),
            request_timeout: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// This policy with the call deadline `deadline`: no call (attempts, waits and bodies
    /// together) lasts longer, and no one attempt either.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.max_elapsed = deadline;
        self.request_timeout = self.request_timeout.min(deadline);
        self
    }

    /// The default policy, with the deadline [`DEADLINE_VAR`] sets if it is set.
    pub fn from_env() -> Result<Self, super::ClientError> {
        let policy = RetryPolicy::default();
        match std::env::var_os(DEADLINE_VAR) {
            None => Ok(policy),
            Some(value) => {
                let text = value.to_string_lossy();
                let deadline = parse_deadline(&text).map_err(|detail| {
                    super::ClientError::Setting {
                        name: DEADLINE_VAR,
                        value: crate::untrusted::escaped(&text).into_owned(),
                        detail,
                        help: format!(
                            "give the deadline of one API call in seconds, such as 30 or 2.5 (from {} to {}), or unset it for the default of {}",
                            DEADLINE_RANGE.0,
                            DEADLINE_RANGE.1,
                            seconds(policy.max_elapsed)
                        ),
                    }
                })?;
                Ok(policy.with_deadline(deadline))
            }
        }
    }

    /// The wait before retry number `retry` (0 for the first retry): uniform in
    /// `[0, min(max_delay, base_delay × 2^retry)]`.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(30)))
            .min(self.max_delay);
        ceiling.mul_f64(rng.random::<f64>())
    }
}

fn parse_deadline(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| "it is not a number of seconds".to_owned())?;
    if !(DEADLINE_RANGE.0..=DEADLINE_RANGE.1).contains(&value) {
        return Err(format!(
            "it is outside {} to {} seconds",
            DEADLINE_RANGE.0, DEADLINE_RANGE.1
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

/// Parses a Retry-After header given in seconds (Nylas sends delta-seconds). An HTTP date is not
/// understood and yields `None`; the caller then backs off as for a 5xx.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let policy = RetryPolicy::default();
        let mut rng = SmallRng::seed_from_u64(7);
        for retry in 0..40 {
            let ceiling = (policy.base_delay * 2u32.pow(retry.min(20))).min(policy.max_delay);
            let wait = policy.backoff(retry, &mut rng);
            assert!(wait <= ceiling, "{retry}: {wait:?} > {ceiling:?}");
        }
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn the_deadline_comes_from_the_environment_value_checked() {
        assert_eq!(parse_deadline("2.5"), Ok(Duration::from_millis(2500)));
        for bad in ["", "soon", "0", "-1", "1e9", "NaN"] {
            assert!(parse_deadline(bad).is_err(), "{bad}");
        }
        let policy = RetryPolicy::default().with_deadline(Duration::from_secs(5));
        assert_eq!(policy.max_elapsed, Duration::from_secs(5));
        assert_eq!(policy.request_timeout, Duration::from_secs(5));
        // The error a user sees: code, the value escaped, what to give instead.
        let err = crate::client::ClientError::Setting {
            name: DEADLINE_VAR,
            value: "soon".into(),
            detail: parse_deadline("soon").unwrap_err(),
            help: String::new(),
        };
        let code = miette::Diagnostic::code(&err).map(|c| c.to_string());
        assert_eq!(
            code.as_deref(),
            Some(crate::code::Code::ApiSetting.as_str())
        );
        assert!(
            err.to_string()
                .contains("NYLAS_MIGRATE_REQUEST_DEADLINE=soon")
        );
    }

    #[test]
    fn only_duplicating_writes_need_observation() {
        let observe: Vec<_> = Operation::ALL
            .into_iter()
            .filter(|op| repeat_rule(*op) == RepeatRule::ObserveBeforeRepeat)
            .collect();
        assert_eq!(
            observe,
            [
                Operation::CloneSingleAccount,
                Operation::SnapshotBatchClone,
                Operation::CreateConnector,
                Operation::CreateWebhook,
                Operation::CreatePubsubChannel,
                Operation::CreateSnsChannel,
                Operation::AddRedirectUri,
            ]
        );
    }
}
