//! The client's one error type. Every variant names the operation, and carries the HTTP status,
//! Nylas's `request_id`, and the API's error type and message when there was a response; its
//! help line says what the user should do next.
//!
//! Nothing here ever holds a secret: errors are built from statuses, the API's error body, the
//! key's *source* description and transport error kinds, never from headers or request bodies.

use std::time::Duration;

use crate::api::{Operation, Region};

use super::endpoint::EndpointError;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ClientError {
    /// Nylas answered with an error status (after any retries the operation allows).
    #[error(
        "{operation} failed: HTTP {status}{}{}{} (request_id {}){}",
        .error_type.as_deref().map(|t| format!(" {t}")).unwrap_or_default(),
        if .message.is_empty() { "" } else { ": " },
        .message,
        .request_id.as_deref().unwrap_or("none"),
        attempts_note(*.attempts)
    )]
    #[diagnostic(code("api::status"))]
    Api {
        operation: Operation,
        status: u16,
        request_id: Option<String>,
        error_type: Option<String>,
        message: String,
        attempts: u32,
        #[help]
        help: String,
    },

    /// No response: the connection could not be made or was lost, on every attempt allowed.
    #[error("{operation} failed: {detail}{}", attempts_note(*.attempts))]
    #[diagnostic(code("api::transport"))]
    Transport {
        operation: Operation,
        detail: String,
        attempts: u32,
        #[help]
        help: String,
    },

    /// A write that must not be repeated blindly may or may not have taken effect (the
    /// connection was lost after sending, or a gateway answered 502/503/504). The caller must
    /// observe the live state before sending it again.
    #[error(
        "{operation}: outcome unknown, the request may have reached Nylas ({detail}{})",
        .request_id.as_deref().map(|id| format!(", request_id {id}")).unwrap_or_default()
    )]
    #[diagnostic(code("api::ambiguous"))]
    Ambiguous {
        operation: Operation,
        status: Option<u16>,
        request_id: Option<String>,
        detail: String,
        #[help]
        help: String,
    },

    /// A response that does not follow the contract (a missing required field, not JSON).
    #[error(
        "{operation}: HTTP {status} response does not follow the Nylas v3 contract: {detail} (request_id {})",
        .request_id.as_deref().unwrap_or("none")
    )]
    #[diagnostic(code("api::decode"))]
    Decode {
        operation: Operation,
        status: u16,
        request_id: Option<String>,
        detail: String,
        #[help]
        help: String,
    },

    /// The v3 application is not in the region the plan puts it in.
    #[error(
        "v3 application {app_id} is in region {actual}, but the plan puts it in region {expected}"
    )]
    #[diagnostic(code("api::region-mismatch"))]
    RegionMismatch {
        app_id: String,
        expected: Region,
        actual: String,
        #[help]
        help: String,
    },

    /// A credential that cannot travel in an HTTP header (a newline, a non-ASCII character).
    /// Nothing was sent.
    #[error("{operation}: the {what} cannot be sent in an HTTP header")]
    #[diagnostic(code("api::invalid-credential"))]
    InvalidCredential {
        operation: Operation,
        what: String,
        #[help]
        help: String,
    },

    /// The server's TLS certificate is not one this machine trusts (or not valid for the host).
    /// Not transient: never retried. Nothing was sent.
    #[error("{operation} failed: the TLS certificate of {host} was rejected: {detail}")]
    #[diagnostic(code("api::tls-certificate"))]
    Certificate {
        operation: Operation,
        host: String,
        detail: String,
        #[help]
        help: String,
    },

    /// The TLS handshake failed for another reason than the certificate (the server does not
    /// speak TLS, or no protocol in common). Not transient: never retried. Nothing was sent.
    #[error("{operation} failed: no TLS connection could be made with {host}: {detail}")]
    #[diagnostic(code("api::tls"))]
    Tls {
        operation: Operation,
        host: String,
        detail: String,
        #[help]
        help: String,
    },

    /// The file of extra CA certificates cannot be used.
    #[error(
        "cannot use the CA file {path} (from {}): {detail}",
        super::CA_FILE_VAR
    )]
    #[diagnostic(
        code("api::ca-file"),
        help("point the variable at a readable PEM file of CA certificates, or unset it")
    )]
    CaFile { path: String, detail: String },

    /// The HTTP client could not start (its TLS backend failed to initialise).
    #[error("cannot start the HTTP client: {detail}")]
    #[diagnostic(
        code("api::setup"),
        help(
            "check the proxy variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY) and the system's certificate store, then run it again"
        )
    )]
    Setup { detail: String },

    /// A response body larger than the operation's bound (see `client::bounds`): reading
    /// stopped there. Not retried: a server that sends this much once will again.
    #[error(
        "{operation}: the HTTP {status} response is larger than the {} this operation allows; reading stopped there",
        super::bounds::bytes(*.limit)
    )]
    #[diagnostic(code("api::too-large"))]
    TooLarge {
        operation: Operation,
        status: u16,
        limit: usize,
        #[help]
        help: String,
    },

    /// Pages that do not follow the contract: more items than asked, a page that repeats the
    /// one before (an ignored offset), more pages than what was asked can have.
    #[error("{operation}: {detail}")]
    #[diagnostic(code("api::paging"))]
    Paging {
        operation: Operation,
        detail: String,
        #[help]
        help: String,
    },

    /// No complete answer within the call's deadline (every attempt and wait included).
    #[error(
        "{operation} failed: no complete answer within the request deadline of {}{}",
        seconds(*.deadline),
        attempts_note(*.attempts)
    )]
    #[diagnostic(code("api::deadline"))]
    Deadline {
        operation: Operation,
        deadline: std::time::Duration,
        attempts: u32,
        #[help]
        help: String,
    },

    /// A setting of the client from the environment that cannot be used.
    #[error("{name}={value} cannot be used: {detail}")]
    #[diagnostic(code("api::setting"))]
    Setting {
        name: &'static str,
        value: String,
        detail: String,
        #[help]
        help: String,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Endpoint(#[from] EndpointError),
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

impl ClientError {
    /// The operation that failed, if the error comes from a call.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            ClientError::Api { operation, .. }
            | ClientError::Transport { operation, .. }
            | ClientError::Ambiguous { operation, .. }
            | ClientError::Decode { operation, .. }
            | ClientError::Certificate { operation, .. }
            | ClientError::Tls { operation, .. }
            | ClientError::InvalidCredential { operation, .. }
            | ClientError::TooLarge { operation, .. }
            | ClientError::Paging { operation, .. }
            | ClientError::Deadline { operation, .. } => Some(*operation),
            ClientError::RegionMismatch { .. } => Some(Operation::GetApplication),
            ClientError::Setup { .. }
            | ClientError::CaFile { .. }
            | ClientError::Setting { .. }
            | ClientError::Endpoint(_) => None,
        }
    }

    /// The HTTP status of the response, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. }
            | ClientError::Decode { status, .. }
            | ClientError::TooLarge { status, .. } => Some(*status),
            ClientError::Ambiguous { status, .. } => *status,
            _ => None,
        }
    }

    /// Nylas's request ID, if a response carried one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClientError::Api { request_id, .. }
            | ClientError::Ambiguous { request_id, .. }
            | ClientError::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) && matches!(self, ClientError::Api { .. })
    }

    /// Whether the caller must observe the live state before repeating the call.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, ClientError::Ambiguous { .. })
    }
}

/// A duration in words for messages: `120 s`, `0.5 s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{s:.1} s")
    }
}
