//! HTTP as a front end speaks it: `Allow` on 405, `HEAD` on every `GET` resource, every
//! operation of the contract served (none answers 501), and read timeouts that close idle and
//! stalled connections.
//!
//! The timeout tests use raw sockets and short timeouts. They never sleep to pass: each waits,
//! with a generous bound, for the server to close the socket, and checks lower bounds only
//! (a timer never fires early), so a loaded machine cannot make them fail.

use std::time::{Duration, Instant};

use crate::support::LOCALHOST;
use crate::support::contract::Contract;
use crate::support::sim::*;
use nylas_migrate::api::{Operation, Region};
use nylas_migrate::simulator::{self, ReadTimeouts, SimulatorConfig};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn allow(answer: &Answer) -> Vec<String> {
    let value = answer
        .headers
        .get(reqwest::header::ALLOW)
        .unwrap_or_else(|| panic!("no Allow header on a {}: {:?}", answer.status, answer.body));
    value
        .to_str()
        .unwrap()
        .split(',')
        .map(|m| m.trim().to_string())
        .collect()
}

#[tokio::test]
async fn method_not_allowed_names_the_allowed_methods() {
    let t = TestSim::fixture().await;
    let cases: [(Method, &str, &[&str]); 10] = [
        (Method::DELETE, "/v3/grants", &["GET", "HEAD"]),
        (Method::POST, "/v3/applications", &["GET", "HEAD"]),
        (Method::PUT, "/v3/connectors", &["GET", "HEAD", "POST"]),
        (
            Method::DELETE,
            "/v3/connectors/google",
            &["GET", "HEAD", "PATCH"],
        ),
        (Method::GET, "/v3/migration-tools/link-v2v3-apps", &["POST"]),
        (
            Method::POST,
            "/v3/webhooks/w1",
            &["DELETE", "GET", "HEAD", "PUT"],
        ),
        // The fixed path beats the template /v3/webhooks/{id}, as in OpenAPI.
        (Method::GET, "/v3/webhooks/send-test-event", &["POST"]),
        (Method::OPTIONS, "/v3/grants/g1", &["GET", "HEAD"]),
        (
            Method::PATCH,
            "/v3/channels/pubsub/c1",
            &["DELETE", "GET", "HEAD", "PUT"],
        ),
        (
            Method::PUT,
            "/v3/applications/redirect-uris/r1",
            &["DELETE", "GET", "HEAD", "PATCH"],
        ),
    ];
    for (method, path, allowed) in cases {
        let r = t
            .send(Region::Us, method.clone(), path, Some(US_V3_KEY), None, &[])
            .await;
        assert_eq!(r.status, 405, "{method} {path}: {:?}", r.body);
        assert_eq!(allow(&r), allowed, "{method} {path}");
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
    }
    // The stats endpoint too.
    let stats = t.http.post(t.sim.stats_url()).send().await.unwrap();
    assert_eq!(stats.status(), 405);
    let allowed = stats.headers()[reqwest::header::ALLOW].to_str().unwrap();
    assert!(
        allowed.contains("GET") && allowed.contains("HEAD"),
        "{allowed}"
    );
    t.finish().await;
}

#[tokio::test]
async fn head_answers_with_the_headers_of_get_and_no_body() {
    let t = TestSim::fixture().await;
    t.link_and_import_us().await;
    for path in [
        "/v3/applications",
        "/v3/grants?limit=5",
        "/v3/connectors",
        "/v3/connectors/google",
        "/v3/webhooks",
        "/v3/migration-tools/jobs",
        "/v3/grants/5967ca40-a2d8-4ee0-a0e0-6f18ace39a90",
        "/v3/connectors/zoom",
        "/v3/channels/pubsub",
        "/v3/channels/sns",
        "/v3/channels/pubsub/nope",
        "/v3/applications/redirect-uris",
        "/v3/applications/redirect-uris/5967ca40-a2d8-4ee0-a0e0-6f18ace39a90",
    ] {
        let get = t
            .http
            .get(t.url(Region::Us, path))
            .bearer_auth(US_V3_KEY)
            .send()
            .await
            .unwrap();
        let get_status = get.status();
        let get_type = get.headers()[reqwest::header::CONTENT_TYPE].clone();
        let get_len = get.bytes().await.unwrap().len();
        let head = t
            .http
            .head(t.url(Region::Us, path))
            .bearer_auth(US_V3_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get_status, "HEAD {path}");
        assert_eq!(
            head.headers()[reqwest::header::CONTENT_TYPE],
            get_type,
            "HEAD {path}"
        );
        let head_len: usize = head.headers()[reqwest::header::CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        // Request ids differ between the two answers but have one length.
        assert_eq!(head_len, get_len, "HEAD {path}: Content-Length of the GET");
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path}: a body"
        );
    }
    // Not a write, and still authenticated and rate limited like the GET.
    let unauthenticated = t
        .http
        .head(t.url(Region::Us, "/v3/applications"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let stats = t.http.head(t.sim.stats_url()).send().await.unwrap();
    assert_eq!(stats.status(), 200);
    // HEAD on a path without GET is a 405 like any other method.
    let r = t
        .send(
            Region::Us,
            Method::HEAD,
            "/v3/migration-tools/import-v2-app",
            Some(US_V3_KEY),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(allow(&r), ["POST"]);
    t.finish().await;
}

/// Every operation of the contract file (read at run time, not the simulator's own list) is
/// served: without an API key, with a wrong one, and with the application's, none answers 501,
/// and none answers 404 or 405 as if its path or method were unknown.
#[tokio::test]
async fn every_operation_of_the_contract_is_served_with_and_without_auth() {
    let Some(contract) = Contract::load() else {
        return;
    };
    let t = TestSim::fixture().await;
    let paths = contract.spec()["paths"]
        .as_object()
        .expect("the contract has paths");
    let mut walked = Vec::new();
    for (template, item) in paths {
        for (method, op) in item.as_object().expect("a path item is an object") {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let Some(operation_id) = op.get("operationId").and_then(|v| v.as_str()) else {
                continue;
            };
            let path = template
                .replace("{account_id}", US_ACCOUNTS[0].0)
                .replace("{provider}", "google")
                .replace("{grantId}", "g0")
                .replace("{id}", "w0");
            for (who, key) in [
                ("no key", None),
                ("a wrong key", Some("nyk_v0_not_a_key_of_this_world")),
                ("the application's key", Some(US_V3_KEY)),
            ] {
                let r = t
                    .send(Region::Us, method.clone(), &path, key, None, &[])
                    .await;
                let what = format!("{method} {path} ({operation_id}) with {who}: {:?}", r.body);
                assert_ne!(r.status, 501, "{what}");
                assert_ne!(r.error_message(), "no such endpoint", "{what}");
                assert_ne!(r.status, 405, "{what}");
                if key != Some(US_V3_KEY) {
                    assert_eq!(r.status, 401, "{what}");
                } else {
                    assert!(r.status < 500, "{what}");
                }
            }
            walked.push(operation_id.to_owned());
        }
    }
    // The walk saw the contract, not an empty file: every operation the client knows is in it.
    for op in Operation::ALL {
        assert!(
            walked.iter().any(|id| id == op.operation_id()),
            "{op} not in the contract"
        );
    }
    assert_eq!(walked.len(), Operation::ALL.len(), "{walked:?}");
    let unknown = t.get(US_V3_KEY, "/v3/calendars").await;
    assert_eq!(unknown.status, 404);
    t.finish().await;
}

const SHORT: ReadTimeouts = ReadTimeouts {
    headers: Duration::from_millis(300),
    body: Duration::from_millis(300),
    idle: Duration::from_millis(2000),
};

/// How long a test waits at most for the server to close a socket.
const BOUND: Duration = Duration::from_secs(30);

async fn start_short() -> simulator::RunningSimulator {
    simulator::start(
        SimulatorConfig {
            read_timeouts: SHORT,
            ..fixture_config()
        },
        LOCALHOST,
    )
    .await
    .unwrap()
}

/// Reads until the server closes the connection; returns what it sent. Panics after `BOUND`.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open for {BOUND:?}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&received).into_owned(),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response (headers and a `Content-Length` body) without waiting for more.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before a full answer");
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {US_V3_KEY}\r\n\r\n")
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let sim = start_short().await;
    let mut stream = TcpStream::connect(sim.addr(Region::Us)).await.unwrap();
    let opened = Instant::now();
    let received = read_until_closed(&mut stream).await;
    assert!(opened.elapsed() >= SHORT.headers);
    assert!(received.is_empty(), "{received}");
    sim.shutdown().await;
}

#[tokio::test]
async fn headers_that_stop_halfway_are_timed_out() {
    let sim = start_short().await;
    let mut stream = TcpStream::connect(sim.addr(Region::Us)).await.unwrap();
    stream
        .write_all(b"GET /v3/applications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthor")
        .await
        .unwrap();
    let sent = Instant::now();
    read_until_closed(&mut stream).await;
    assert!(sent.elapsed() >= SHORT.headers);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_and_closed() {
    let sim = start_short().await;
    let mut stream = TcpStream::connect(sim.addr(Region::Us)).await.unwrap();
    let head = format!(
        "POST /v3/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {US_V3_KEY}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"webhook_url\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let sent = Instant::now();
    let received = read_until_closed(&mut stream).await;
    assert!(sent.elapsed() >= SHORT.body);
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    assert!(
        received.to_ascii_lowercase().contains("connection: close"),
        "{received}"
    );
    let body = &received[received.find("\r\n\r\n").unwrap() + 4..];
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["type"], "request_timeout");
    // Nothing was created from half a body.
    assert!(sim.world().apps[US_V3].webhooks.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn kept_alive_connections_serve_requests_then_close_when_idle() {
    let sim = start_short().await;
    let mut stream = TcpStream::connect(sim.addr(Region::Us)).await.unwrap();
    for path in ["/v3/applications", "/v3/grants", "/v3/connectors"] {
        stream
            .write_all(get_request(path).as_bytes())
            .await
            .unwrap();
        let answer = read_response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let answered = Instant::now();
    read_until_closed(&mut stream).await;
    // The idle timeout, not the (shorter) header timeout, applies between requests. The
    // server started counting just before the client read its answer, hence the margin.
    let idle = answered.elapsed();
    assert!(
        idle >= SHORT.idle - Duration::from_millis(500),
        "closed after {idle:?} idle"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_early_error_with_an_unread_body_closes_the_connection() {
    let sim = start_short().await;
    let mut stream = TcpStream::connect(sim.addr(Region::Us)).await.unwrap();
    // Wrong key: answered 401 before the body is read, so the rest of the body is not waited
    // for on this connection.
    stream
        .write_all(
            b"POST /v3/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer nope\r\nContent-Length: 500\r\n\r\n{",
        )
        .await
        .unwrap();
    let received = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 401"), "{received}");
    assert!(
        received.to_ascii_lowercase().contains("connection: close"),
        "{received}"
    );
    sim.shutdown().await;
}

#[test]
fn the_default_timeouts_are_a_front_ends() {
    let defaults = SimulatorConfig::default().read_timeouts;
    assert_eq!(defaults, ReadTimeouts::default());
    assert!(
        defaults.headers >= Duration::from_secs(2) && defaults.headers <= Duration::from_secs(10)
    );
    assert!(defaults.body >= defaults.headers && defaults.body <= Duration::from_secs(30));
    assert!(defaults.idle >= Duration::from_secs(30) && defaults.idle <= Duration::from_secs(120));
}
