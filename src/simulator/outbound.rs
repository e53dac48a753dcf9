//! What the simulator sends out, as Nylas does: the verification `challenge` a new (or moved)
//! webhook destination must echo, and the test notification of `send-test-event`.
//!
//! Only URLs on this machine (`localhost`, `127.0.0.0/8`, `::1`) get real HTTP requests, with a
//! short bounded timeout: tests run small receivers there. Any other host is never contacted:
//! the world file says whether it is reachable (it is unless `unreachable_hosts` lists it), and
//! a reachable one answers as a correct endpoint would.
//!
//! The request that needs a delivery is checked first (`routes::plan_delivery`), the delivery is
//! made without holding the state's lock, and the handler then reads its outcome.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::Sha256;

use crate::api::forms::is_loopback;

/// The secret test events are signed with, as the contract says ("The secret used is
/// `mock-webhook-secret`").
pub const TEST_EVENT_SECRET: &str = "mock-webhook-secret";

/// How long a delivery to a loopback URL may take, connecting included, before it counts as
/// failed (Nylas gives an endpoint 10 seconds; tests' receivers answer at once).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// The most of an endpoint's answer the simulator reads.
const MAX_ANSWER: usize = 64 * 1024;

/// A delivery to make.
#[derive(Debug, Clone)]
pub enum Probe {
    /// `GET url?challenge=<challenge>`: the endpoint must answer 200 with the value as its body.
    Challenge { url: Url, challenge: String },
    /// `POST url` with a signed JSON notification: the endpoint must answer 200.
    TestEvent { url: Url, body: Vec<u8> },
}

impl Probe {
    fn url(&self) -> &Url {
        match self {
            Probe::Challenge { url, .. } | Probe::TestEvent { url, .. } => url,
        }
    }
}

/// How a delivery went, in the words of Nylas's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The challenge was echoed, or the test event acknowledged with a 200.
    Accepted,
    /// Why not: `status is not ok, got 404`, `cannot connect to …`.
    Refused(String),
}

/// A delivery planned for one request: one to send, or, for a host off this machine, its
/// outcome from the world file.
#[derive(Debug, Clone)]
pub enum Planned {
    Send(Probe),
    Known(Delivery),
}

impl Planned {
    /// The delivery of `probe` as the world sees it: sent if its host is on this machine,
    /// otherwise accepted unless the host is listed unreachable.
    pub fn for_probe(probe: Probe, world: &super::world::World) -> Planned {
        let url = probe.url();
        if is_loopback(url) {
            return Planned::Send(probe);
        }
        let host = url.host_str().unwrap_or_default();
        if world.is_unreachable(host) {
            Planned::Known(Delivery::Refused(format!(
                "cannot connect to {host}: the host is unreachable"
            )))
        } else {
            Planned::Known(Delivery::Accepted)
        }
    }
}

/// Signs a test event's body: hex HMAC-SHA256 under [`TEST_EVENT_SECRET`], the
/// `X-Nylas-Signature` header.
pub fn signature(body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(TEST_EVENT_SECRET.as_bytes()) else {
        // HMAC takes keys of any length.
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends deliveries to loopback endpoints.
#[derive(Debug, Clone)]
pub struct Outbound {
    http: reqwest::Client,
    timeout: Duration,
}

impl Outbound {
    pub fn new(timeout: Duration) -> Result<Outbound, String> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            // Only loopback is ever contacted: no proxy may carry a delivery elsewhere, and a
            // redirect is not followed off the URL the caller named.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!(
                "nylas-migrate-simulator/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Outbound { http, timeout })
    }

    /// Makes the delivery and says how it went.
    pub async fn run(&self, planned: Planned) -> Delivery {
        let probe = match planned {
            Planned::Known(delivery) => return delivery,
            Planned::Send(probe) => probe,
        };
        let host = probe
            .url()
            .host_str()
            .map(|h| match probe.url().port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            })
            .unwrap_or_default();
        let request = match &probe {
            Probe::Challenge { url, challenge } => {
                let mut url = url.clone();
                url.query_pairs_mut().append_pair("challenge", challenge);
                self.http.get(url)
            }
            Probe::TestEvent { url, body } => self
                .http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Nylas-Signature", signature(body))
                .body(body.clone()),
        };
        let delivery = match request.send().await {
            Err(e) => Delivery::Refused(self.transport_failure(&e, &host)),
            Ok(mut response) => {
                let status = response.status().as_u16();
                let mut answer = Vec::new();
                let mut read_error = None;
                loop {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            let room = MAX_ANSWER.saturating_sub(answer.len());
                            answer.extend_from_slice(&chunk[..chunk.len().min(room)]);
                            if answer.len() >= MAX_ANSWER {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            read_error = Some(e);
                            break;
                        }
                    }
                }
                match (&probe, read_error) {
                    (_, Some(e)) => Delivery::Refused(self.transport_failure(&e, &host)),
                    (_, None) if status != 200 => {
                        Delivery::Refused(format!("status is not ok, got {status}"))
                    }
                    (Probe::Challenge { challenge, .. }, None) => {
                        if String::from_utf8_lossy(&answer).trim() == challenge {
                            Delivery::Accepted
                        } else {
                            Delivery::Refused(
                                "the response body is not the challenge value".to_string(),
                            )
                        }
                    }
                    (Probe::TestEvent { .. }, None) => Delivery::Accepted,
                }
            }
        };
        tracing::info!(
            kind = match probe {
                Probe::Challenge { .. } => "challenge",
                Probe::TestEvent { .. } => "test_event",
            },
            %host,
            outcome = ?delivery,
            "delivery"
        );
        delivery
    }

    fn transport_failure(&self, error: &reqwest::Error, host: &str) -> String {
        if error.is_timeout() {
            format!(
                "no answer from {host} within {} ms",
                self.timeout.as_millis()
            )
        } else if error.is_connect() {
            format!("cannot connect to {host}")
        } else {
            format!("the connection to {host} failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_events_are_signed_with_the_mock_secret() {
        // HMAC-SHA256 of `{}` under "mock-webhook-secret", computed with Python's hmac module.
        assert_eq!(
            signature(b"{}"),
            "694da1641cc9ca49ba7ecb116bec3b67c67e59577d0ae6d2a7d464e729d8d3b5"
        );
    }

    #[test]
    fn only_loopback_is_sent() {
        let world = crate::simulator::World {
            unreachable_hosts: vec!["down.example".into()],
            ..Default::default()
        };
        let probe = |url: &str| Probe::Challenge {
            url: Url::parse(url).unwrap(),
            challenge: "c".into(),
        };
        assert!(matches!(
            Planned::for_probe(probe("http://127.0.0.1:9/h"), &world),
            Planned::Send(_)
        ));
        assert!(matches!(
            Planned::for_probe(probe("https://up.example/h"), &world),
            Planned::Known(Delivery::Accepted)
        ));
        assert!(matches!(
            Planned::for_probe(probe("https://DOWN.example/h"), &world),
            Planned::Known(Delivery::Refused(_))
        ));
    }
}
