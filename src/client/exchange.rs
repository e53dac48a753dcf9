//! One attempt on the wire: send a request, read its answer within the operation's bound, and
//! describe what came back (an error body decoded, a transport or TLS failure in words).

use std::time::Duration;

use reqwest::header::{HeaderValue, LOCATION, RETRY_AFTER};

use crate::api::{ErrorBody, Operation};

use super::retry::parse_retry_after;

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

/// How an attempt ended without an answer to decide on.
pub(super) enum Lost {
    /// The connection failed or broke (`status` if the head had arrived).
    Transport {
        error: reqwest::Error,
        status: Option<u16>,
    },
    /// The attempt's time ran out.
    TimedOut { status: Option<u16> },
}

/// What an attempt that got an answer read.
pub(super) enum Exchange {
    Answer(Answer),
    /// A 2xx body beyond the operation's bound: not read further.
    TooLarge {
        status: u16,
        limit: usize,
    },
}

/// The answer's status, Retry-After, redirect location and body.
pub(super) type Answer = (u16, Option<Duration>, Option<String>, Vec<u8>);

/// Sends `request` and reads the answer, its body bounded (see [`super::bounds`]): a 2xx body
/// beyond the operation's bound is [`Exchange::TooLarge`], an error body is cut at
/// [`super::bounds::MAX_ERROR_BODY`]. Reading stops at the bound: nothing beyond is buffered.
pub(super) async fn exchange(
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

pub(super) fn sensitive_header(value: &str) -> Option<HeaderValue> {
    let mut header = HeaderValue::from_str(value).ok()?;
    // Keeps the value out of reqwest's and hyper's Debug output.
    header.set_sensitive(true);
    Some(header)
}

pub(super) fn decode_failure(status: u16, body: &[u8]) -> Failure {
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
pub(super) fn message_prefix(body: &[u8]) -> Option<String> {
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
pub(super) fn request_id_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct WithRequestId {
        request_id: Option<String>,
    }
    serde_json::from_slice::<WithRequestId>(body)
        .ok()
        .and_then(|b| b.request_id)
}

/// serde's message without any quoted value from the body (a value could be a webhook secret).
pub(super) fn describe_decode_error(error: &serde_json::Error) -> String {
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
pub(super) enum TlsProblem {
    /// The certificate was rejected: why, in words.
    Certificate(String),
    /// Another handshake failure (not TLS at all, no common protocol): rustls's words.
    Handshake(String),
}

/// The TLS failure behind `error`, if its causes hold a `rustls::Error`. The TLS layers wrap it
/// in `io::Error`s (two, nested), whose `source` skips the wrapped error, so each `io::Error`'s
/// inner error is looked into as well.
pub(super) fn tls_problem(error: &reqwest::Error) -> Option<TlsProblem> {
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

pub(super) fn describe_certificate_error(reason: &rustls::CertificateError) -> String {
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
pub(super) fn describe_transport_error(error: &reqwest::Error) -> String {
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
