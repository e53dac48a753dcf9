//! A webhook endpoint on 127.0.0.1 (ephemeral port), for what the simulator delivers: Nylas's
//! verification challenge (`GET ?challenge=…`) and test events (`POST`, signed). Each path
//! behaves one way:
//!
//! | path | `GET ?challenge=` | `POST` (a notification) |
//! | --- | --- | --- |
//! | `/echo` | 200, the challenge as the body | 200 |
//! | `/wrong` | 200, another body | 200 |
//! | `/nack` | 200, the challenge | 500 |
//! | anything else | 404 | 404 |
//!
//! Every request is recorded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// The `challenge` query parameter, if any.
    pub challenge: Option<String>,
    pub body: Vec<u8>,
    /// The `X-Nylas-Signature` header, if any.
    pub signature: Option<String>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = Arc::clone(&seen);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    let challenge = uri.query().and_then(|q| {
                        q.split('&')
                            .find_map(|pair| pair.strip_prefix("challenge="))
                            .map(str::to_string)
                    });
                    sink.lock().unwrap().push(Received {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        challenge: challenge.clone(),
                        body: body.to_vec(),
                        signature: headers
                            .get("x-nylas-signature")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                    });
                    let echo = challenge.unwrap_or_default();
                    match (method.as_str(), uri.path()) {
                        ("GET", "/echo" | "/nack") => (StatusCode::OK, echo).into_response(),
                        ("GET", "/wrong") => (StatusCode::OK, "not the challenge").into_response(),
                        ("POST", "/echo" | "/wrong") => (StatusCode::OK, "ok").into_response(),
                        ("POST", "/nack") => {
                            (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response()
                        }
                        _ => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, seen, task }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests so far to `path`.
    pub fn seen_at(&self, path: &str) -> Vec<Received> {
        self.seen().into_iter().filter(|r| r.path == path).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
