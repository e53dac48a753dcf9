//! A hostile server: a tiny raw TCP/HTTP/1.1 server on 127.0.0.1 that answers what a test's
//! rule says (a huge body, an endless chunked stream, a trickle of bytes, pages that ignore
//! `offset`, a long Retry-After), and hands every other request to an upstream (the simulator)
//! unchanged, so that the real binary can run a whole command against it.
//!
//! Every connection is closed after one answer (`Connection: close`), so nothing is pipelined.
//! It counts the requests its rule answered and the bytes of hostile bodies it managed to send: a client
//! that stops reading at its bound makes the writes fail soon after (the kernel's buffers
//! are all that can be ahead of it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::LOCALHOST;

/// A request's head, as the rule sees it.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's pairs, percent-decoding left out (the tests' values need none).
    pub query: Vec<(String, String)>,
}

impl Head {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the hostile server answers.
pub enum Reply {
    /// A status, extra headers and a body (Content-Length set).
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A 200 whose body is `bytes` long: `prefix`, then filler. `announce`: with a
    /// Content-Length; otherwise the body ends when the connection closes.
    Huge {
        prefix: String,
        bytes: u64,
        announce: bool,
    },
    /// A 200 with a chunked body that never ends.
    EndlessChunked { prefix: String },
    /// A 200 announcing `bytes`, sending one byte every `every`.
    Trickle { bytes: u64, every: Duration },
}

type Rule = dyn Fn(&Head) -> Option<Reply> + Send + Sync;

pub struct Hostile {
    pub addr: SocketAddr,
    /// Requests the rule answered.
    pub answered: Arc<AtomicUsize>,
    /// Bytes of hostile bodies written to a client.
    pub sent: Arc<AtomicU64>,
}

impl Hostile {
    /// Starts the server: `rule` answers what it wants, `upstream` the rest (or a 404).
    pub fn start(
        upstream: Option<SocketAddr>,
        rule: impl Fn(&Head) -> Option<Reply> + Send + Sync + 'static,
    ) -> Hostile {
        let listener = TcpListener::bind((LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let answered = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let rule: Arc<Rule> = Arc::new(rule);
        let (a, s) = (answered.clone(), sent.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (rule, a, s) = (rule.clone(), a.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, upstream, &*rule, &a, &s);
                });
            }
        });
        Hostile {
            addr,
            answered,
            sent,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn serve(
    stream: TcpStream,
    upstream: Option<SocketAddr>,
    rule: &Rule,
    answered: &AtomicUsize,
    sent: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        lines.push(line.trim_end().to_owned());
    }
    let length: usize = lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let first = lines.first().cloned().unwrap_or_default();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let head = Head {
        method,
        path: path.to_owned(),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.replace("%2C", ","))
            })
            .collect(),
    };
    let mut out = stream;
    match rule(&head) {
        Some(reply) => {
            answered.fetch_add(1, Ordering::SeqCst);
            answer(&mut out, reply, sent)
        }
        None => match upstream {
            Some(upstream) => forward(&mut out, upstream, &lines, &body),
            None => answer(
                &mut out,
                Reply::Json {
                    status: 404,
                    headers: Vec::new(),
                    body: String::new(),
                },
                sent,
            ),
        },
    }
}

fn answer(out: &mut TcpStream, reply: Reply, sent: &AtomicU64) -> std::io::Result<()> {
    let filler = vec![b' '; 64 * 1024];
    match reply {
        Reply::Json {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            out.write_all(head.as_bytes())?;
            out.write_all(body.as_bytes())
        }
        Reply::Huge {
            prefix,
            bytes,
            announce,
        } => {
            let length = if announce {
                format!("content-length: {bytes}\r\n")
            } else {
                String::new()
            };
            out.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n"
                )
                .as_bytes(),
            )?;
            out.write_all(prefix.as_bytes())?;
            let mut left = bytes.saturating_sub(prefix.len() as u64);
            while left > 0 {
                let n = left.min(filler.len() as u64) as usize;
                out.write_all(&filler[..n])?;
                sent.fetch_add(n as u64, Ordering::SeqCst);
                left -= n as u64;
            }
            Ok(())
        }
        Reply::EndlessChunked { prefix } => {
            out.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            )?;
            out.write_all(format!("{:x}\r\n{prefix}\r\n", prefix.len()).as_bytes())?;
            loop {
                out.write_all(format!("{:x}\r\n", filler.len()).as_bytes())?;
                out.write_all(&filler)?;
                out.write_all(b"\r\n")?;
                sent.fetch_add(filler.len() as u64, Ordering::SeqCst);
            }
        }
        Reply::Trickle { bytes, every } => {
            out.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {bytes}\r\nconnection: close\r\n\r\n"
                )
                .as_bytes(),
            )?;
            for _ in 0..bytes {
                out.write_all(b" ")?;
                out.flush()?;
                sent.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(every);
            }
            Ok(())
        }
    }
}

/// Hands the request to `upstream` with `Connection: close`, and its answer back as it comes.
fn forward(
    out: &mut TcpStream,
    upstream: SocketAddr,
    lines: &[String],
    body: &[u8],
) -> std::io::Result<()> {
    let mut up = TcpStream::connect(upstream)?;
    let mut head = String::new();
    for line in lines {
        let name = line.split(':').next().unwrap_or_default();
        if name.eq_ignore_ascii_case("connection") {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(body)?;
    std::io::copy(&mut up, out)?;
    Ok(())
}
