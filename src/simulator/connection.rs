//! Connections as the simulator serves them: each can be dropped from a handler (fault
//! injection), and each is closed when its client is too slow to send a request or stays idle
//! too long (`ReadTimeouts`).
//!
//! axum answers every request it is handed, so to simulate a dropped connection the handler
//! flips the connection's switch and the stream then fails its reads and writes: hyper gives up
//! on the connection and the client sees it closed with no answer.
//!
//! Read deadlines live in the stream, which sees every byte hyper reads. A connection is in one
//! of three phases: waiting for the first byte of a request (the idle timeout; a new connection
//! starts with the header timeout instead), reading request headers (the header timeout, from
//! their first byte), or busy with a request (no stream deadline: the handler bounds the body
//! itself, piece by piece). A middleware around every route marks a request busy while it is
//! handled, so the stream knows when one request ends and the wait for the next begins. When a
//! deadline passes while a read is pending, the read fails and hyper closes the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

use super::config::ReadTimeouts;

/// A TCP listener whose connections can be dropped from a handler and time out their reads.
pub struct SimListener {
    pub inner: TcpListener,
    pub timeouts: ReadTimeouts,
}

/// What a connection's stream and its requests' handlers share.
#[derive(Debug, Default)]
struct ConnShared {
    dropped: AtomicBool,
    /// Requests being handled on this connection right now.
    in_flight: AtomicUsize,
    /// Requests handled to the end on this connection.
    finished: AtomicU64,
}

/// The connect info of every request: the switch that drops the connection, and the marks that
/// tell the stream when a request is being handled.
#[derive(Debug, Clone)]
pub struct ConnHandle(Arc<ConnShared>);

impl ConnHandle {
    pub fn drop_connection(&self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }

    /// Marks a request as being handled until the returned guard is dropped.
    pub fn busy(&self) -> BusyGuard {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        BusyGuard(self.0.clone())
    }
}

/// Held while a request is handled; dropping it starts the wait for the next request.
pub struct BusyGuard(Arc<ConnShared>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        // `finished` first: a stream that sees no request in flight must also see it finished.
        self.0.finished.fetch_add(1, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of the next request.
    Idle,
    /// Reading a request's headers.
    Headers,
    /// A request is being handled.
    Busy,
}

pub struct SimStream {
    inner: TcpStream,
    shared: Arc<ConnShared>,
    timeouts: ReadTimeouts,
    phase: Phase,
    /// `ConnShared::finished` when the phase was last set.
    seen_finished: u64,
    deadline: Pin<Box<Sleep>>,
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        let _ = stream.set_nodelay(true);
        (
            SimStream {
                inner: stream,
                shared: Arc::default(),
                timeouts: self.timeouts,
                // A new connection must send its request headers within the header timeout.
                phase: Phase::Headers,
                seen_finished: 0,
                deadline: Box::pin(tokio::time::sleep(self.timeouts.headers)),
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, SimListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        ConnHandle(stream.io().shared.clone())
    }
}

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection dropped by fault injection",
    )
}

impl SimStream {
    /// Brings the phase up to date with the handlers' marks.
    fn update_phase(&mut self) {
        if self.shared.in_flight.load(Ordering::SeqCst) > 0 {
            self.phase = Phase::Busy;
            return;
        }
        let finished = self.shared.finished.load(Ordering::SeqCst);
        if finished != self.seen_finished {
            self.seen_finished = finished;
            self.phase = Phase::Idle;
            let deadline = Instant::now() + self.timeouts.idle;
            self.deadline.as_mut().reset(deadline);
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.shared.dropped.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        self.update_phase();
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if self.phase == Phase::Idle && buf.filled().len() > before {
                    // The first byte of a request: its headers must follow in time.
                    self.phase = Phase::Headers;
                    let deadline = Instant::now() + self.timeouts.headers;
                    self.deadline.as_mut().reset(deadline);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => {
                if self.phase != Phase::Busy && self.deadline.as_mut().poll(cx).is_ready() {
                    let what = match self.phase {
                        Phase::Idle => "idle connection closed after the idle timeout",
                        _ => "request headers not received within the header timeout",
                    };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.shared.dropped.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.shared.dropped.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shared.dropped.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
