//! How the client reaches the API: TLS (certificate errors fail at once and say so; the OS
//! store and an extra CA file are trusted), proxies (never for loopback), redirects (never
//! followed) and a key Nylas rejects during `apply` (the same hint as `plan`).

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::{counting_listener, root, stderr};
use nylas_migrate::code::Code;

const PLAN: &str = r#"version: 1
name: tls
pairs:
  - name: tls
    region: us
    v2: { app_id: tls002v2app00000000000001, client_secret: { env: TLS_V2_SECRET } }
    v3: { app_id: 0a1a1a1a-0000-4000-8000-000000000006, api_key: { env: TLS_V3_KEY } }
    clone:
      single: [tls000account000000000001]
"#;

fn fixture(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/tls").join(name)
}

/// A TLS front on 127.0.0.1 presenting `cert`, forwarding each connection to `backend` (the
/// simulator's plain http port); counts the connections it accepts.
async fn tls_front(cert: &str, key: &str, backend: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture(cert))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture(key)).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (addr, count)
}

fn backend(r: &Rehearsal) -> SocketAddr {
    let url = r.sim.base_url(nylas_migrate::api::Region::Us);
    url.trim_start_matches("http://").parse().unwrap()
}

/// Points the plan's U.S. region at `url`.
fn point_us_at(r: &Rehearsal, url: &str) {
    let text = std::fs::read_to_string(&r.plan_path).unwrap();
    let start = text.find("  us: { api_url: \"").unwrap() + "  us: { api_url: \"".len();
    let end = start + text[start..].find('"').unwrap();
    std::fs::write(
        &r.plan_path,
        format!("{}{url}{}", &text[..start], &text[end..]),
    )
    .unwrap();
}

async fn plan_with(r: &Rehearsal, envs: &[(&str, &str)]) -> std::process::Output {
    let plan = r.plan_arg();
    // `Test` leaves out the tests' own NYLAS_MIGRATE_CA_FILE.
    r.test()
        .args(["plan", &plan])
        .envs(envs.iter().copied())
        .run_async()
        .await
}

/// A report's text with miette's line wrapping undone.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_start_matches([' ', '│']).trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_problem_fails_at_once_and_says_so() {
    let r = rehearsal::start(PLAN, 20, |_, _| {}).await;
    let (front, connections) = tls_front("server.pem", "server.key", backend(&r)).await;
    point_us_at(&r, &format!("https://127.0.0.1:{}", front.port()));

    // Signed by a CA this machine does not trust.
    let started = std::time::Instant::now();
    let out = plan_with(&r, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = flat(&stderr(&out));
    assert!(err.contains(Code::ApiTlsCertificate.as_str()), "{err}");
    assert!(
        err.contains("the TLS certificate of 127.0.0.1 was rejected"),
        "names the host: {err}"
    );
    assert!(err.contains("not signed by an authority"), "{err}");
    assert!(
        err.contains("NYLAS_MIGRATE_CA_FILE"),
        "says what to do: {err}"
    );
    assert!(
        !err.contains("firewall"),
        "not blamed on the network: {err}"
    );
    // Not retried: each request plan makes before the error tries once (a retry would try six
    // times over seconds), and the error counts no attempts.
    let tried = connections.load(Ordering::SeqCst);
    assert!(
        (1..6).contains(&tried),
        "not retried: {tried} connections: {err}"
    );
    assert!(!err.contains("attempts"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    // The CA from a file: the same plan works over TLS.
    let ca = fixture("ca.pem");
    let out = plan_with(&r, &[("NYLAS_MIGRATE_CA_FILE", ca.to_str().unwrap())]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(support::stdout(&out).contains("to create"));

    // A file that cannot be used is named.
    let out = plan_with(&r, &[("NYLAS_MIGRATE_CA_FILE", "/no/such/ca.pem")]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        flat(&stderr(&out)).contains("cannot use the CA file /no/such/ca.pem"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(Code::ApiCaFile.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_certificate_used_as_the_server_s_is_a_certificate_problem() {
    let r = rehearsal::start(PLAN, 20, |_, _| {}).await;
    let (front, connections) = tls_front("ca.pem", "ca.key", backend(&r)).await;
    point_us_at(&r, &format!("https://127.0.0.1:{}", front.port()));
    let ca = fixture("ca.pem");
    let out = plan_with(&r, &[("NYLAS_MIGRATE_CA_FILE", ca.to_str().unwrap())]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = flat(&stderr(&out));
    assert!(
        err.contains("the TLS certificate of 127.0.0.1 was rejected"),
        "{err}"
    );
    let tried = connections.load(Ordering::SeqCst);
    assert!((1..6).contains(&tried), "not retried: {tried} connections");
    assert!(!err.contains("attempts"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_server_says_what_to_write() {
    let r = rehearsal::start(PLAN, 20, |_, _| {}).await;
    let url = r.sim.base_url(nylas_migrate::api::Region::Us);
    point_us_at(&r, &url.replace("http://", "https://"));
    let started = std::time::Instant::now();
    let out = plan_with(&r, &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = flat(&stderr(&out));
    assert!(err.contains("no TLS connection could be made"), "{err}");
    assert!(err.contains(Code::ApiTls.as_str()), "{err}");
    assert!(err.contains("http://"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_never_reached_through_a_proxy() {
    let r = rehearsal::start(PLAN, 20, |_, _| {}).await;
    let (proxy, connections) = counting_listener();
    let mut envs = Vec::new();
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        envs.push((var, proxy.as_str()));
    }
    envs.push(("NO_PROXY", ""));
    envs.push(("no_proxy", ""));
    let out = plan_with(&r, &envs).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the Bearer key went through the proxy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_reported_as_one_and_not_followed() {
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::TEMPORARY_REDIRECT,
            [(
                axum::http::header::LOCATION,
                "https://elsewhere.example/v3/grants",
            )],
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let r = rehearsal::start(PLAN, 20, |_, _| {}).await;
    point_us_at(&r, &format!("http://{addr}"));
    let out = plan_with(&r, &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = flat(&stderr(&out));
    assert!(err.contains("HTTP 307: a redirect, not followed"), "{err}");
    assert!(
        err.contains("redirect to https://elsewhere.example"),
        "{err}"
    );
    assert!(err.contains("which is not followed"), "{err}");
    assert!(!err.contains("Nylas refused"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_during_apply_says_which_variable_holds_it() {
    let r = rehearsal::start(PLAN, 20, |_, _| {}).await;
    let plan = r.plan_arg();
    let out = r
        .test()
        .args(["apply", &plan, "--yes"])
        .env("TLS_V3_KEY", "nyk_v0_not_the_right_key")
        .status(1)
        .run_async()
        .await;
    let summary = support::stdout(&out);
    assert!(summary.contains("HTTP 401"), "{summary}");
    assert!(
        summary.contains("rejected the API key from environment variable TLS_V3_KEY"),
        "the summary has plan's hint:\n{summary}"
    );
}
