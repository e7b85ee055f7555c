//! The connection loop: accepts TCP connections and serves HTTP/1.1 on them
//! with limits that `axum::serve` cannot set.
//!
//! - **Header timeout** (`header_timeout_seconds`): a client must send a
//!   request's whole head within this time, counted from when the server
//!   starts waiting for it — trickling bytes does not extend it. This stops
//!   slowloris clients from holding connections open, and closes idle
//!   keep-alive connections after the same time.
//! - **Header size** (`max_header_bytes`): a longer request head (request
//!   line and headers) is answered `431 Request Header Fields Too Large` and
//!   the connection is closed. At most 100 headers are accepted.
//! - **Connection cap** (`max_connections`): at most this many client
//!   connections are open at once. At the cap the loop stops accepting
//!   until one closes, so new connections wait in the kernel's listen
//!   backlog (backpressure) instead of being refused, and open ones are
//!   never dropped to make room. Idle keep-alive connections give their
//!   slot back after the header timeout, so they cannot hold it forever.
//!   Reaching the cap is logged (at most once a minute) and the number of
//!   open connections is the `tessera_open_connections` metric.
//! - **Write stall** (also `header_timeout_seconds`): a client that stops
//!   reading (it pipelines requests for a large answer such as the OpenAPI
//!   document and never reads them) would otherwise leave the server
//!   waiting to write forever — no read timeout runs meanwhile. When no
//!   byte can be written for that long, the connection is closed. A slow
//!   reader that makes progress is not affected: any written byte restarts
//!   the clock.
//! - **Request heads** are checked before hyper reads them
//!   ([`crate::head_guard`]): ambiguous body framing — `Content-Length`
//!   with `Transfer-Encoding`, several `Content-Length`s, a coding other
//!   than `chunked` — is refused with a JSON `400` and the connection
//!   closed, so no request can hide in another's body (request
//!   smuggling); the `431` for an oversized head, and the other refusals
//!   the HTTP layer makes, carry the JSON error body too.
//! - **Body idle** (also `header_timeout_seconds`): while a request's body
//!   is being received, a client that sends no byte of it for that long
//!   is answered `408` and the connection closed — a body shorter than
//!   its `Content-Length` does not hold a connection until the request
//!   timeout. The same bound as the other "client went quiet" limits: a
//!   client that is sending does not pause that long between bytes, and a
//!   body trickled slowly is still bounded as a whole by the request
//!   timeout.
//! - Bodies are limited by the router (`max_body_bytes`, `413`) and whole
//!   requests by its timeout (`request_timeout_seconds`, `503`).
//!
//! Each connection runs on its own task, so one slow client never delays
//! another. Shutdown stops accepting, lets in-flight requests finish (for
//! at most the request timeout) and closes idle connections.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::metrics::gauge::Gauge;
use std::convert::Infallible;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tower::Service;

use crate::head_guard::{GuardLimits, HeadGuard};

/// How often, at most, reaching the connection cap is logged: a server
/// held at the cap would otherwise log on every accept.
const CAP_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// The tracing span of one request, for request logging. The path and query
/// are logged with anything token-shaped redacted: people paste tokens into
/// URLs (`/tokens/<token>` instead of its id), and logs outlive them.
pub fn request_span<B>(request: &hyper::Request<B>) -> tracing::Span {
    let uri = crate::redact::redact_uri(&request.uri().to_string());
    tracing::debug_span!("request", method = %request.method(), uri = %uri, version = ?request.version())
}

/// The per-connection limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
    /// Most client connections open at once.
    pub max_connections: usize,
}

/// One open connection's slot: gives it back, and updates the gauge, when
/// the connection's task ends however it ends.
struct Slot {
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// Waits for a free connection slot, warning (rate-limited) when there is
/// none.
async fn free_slot(
    slots: &Arc<Semaphore>,
    max: usize,
    last_warning: &mut Option<Instant>,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
        return Some(permit);
    }
    if last_warning.is_none_or(|at| at.elapsed() >= CAP_WARNING_INTERVAL) {
        *last_warning = Some(Instant::now());
        tracing::warn!(
            max_connections = max,
            "at the connection limit: new connections wait until one closes (see max_connections)"
        );
    }
    // The semaphore is never closed, so this only fails if it were.
    Arc::clone(slots).acquire_owned().await.ok()
}

/// Serves `listener` until `stop` completes, then drains. Each connection
/// is served by `service_for(its peer's address)`.
pub async fn serve<F, S>(
    listener: TcpListener,
    service_for: F,
    limits: ConnLimits,
    open: Gauge,
    stop: impl Future<Output = ()>,
) where
    F: Fn(SocketAddr) -> S,
    S: Service<hyper::Request<Incoming>, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut last_warning = None;
    tokio::pin!(stop);
    loop {
        // A slot first, then accept: at the cap, connections queue in the
        // kernel's backlog rather than being accepted and dropped.
        let permit = tokio::select! {
            permit = free_slot(&slots, limits.max_connections, &mut last_warning) => match permit {
                Some(permit) => permit,
                None => break,
            },
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Usually out of file descriptors: wait rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let (stream, answers) = HeadGuard::new(
            StallLimit::new(stream, limits.header_timeout),
            GuardLimits {
                max_head_bytes: limits.max_header_bytes,
                body_idle: limits.header_timeout,
            },
        );
        let service = service_for(peer);
        let service = hyper::service::service_fn(move |request| {
            let mut service = service.clone();
            let call = service.call(request);
            // The guard holds a refused pipelined head back until every
            // request before it is answered.
            let answers = answers.clone();
            async move {
                let response = call.await;
                answers.record();
                response
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        open.inc();
        let slot = Slot {
            _permit: permit,
            open: open.clone(),
        };
        tokio::spawn(async move {
            let _slot = slot;
            // Errors here are the client's doing (timeouts, resets, bad
            // requests hyper already answered); nothing to report upward.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: some connections were still open after the drain timeout");
    }
}

/// A client connection whose writes fail with `TimedOut` once the client
/// has accepted no byte for `limit` (see the module docs). Reads pass
/// through: hyper's header timeout bounds those.
struct StallLimit {
    stream: TcpStream,
    limit: Duration,
    /// Running while a write is blocked; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl StallLimit {
    fn new(stream: TcpStream, limit: Duration) -> Self {
        Self {
            stream,
            limit,
            stalled: None,
        }
    }

    /// After an inner write-side poll: progress clears the clock, a block
    /// starts it (once) and fails when it runs out.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let limit = self.limit;
        let clock = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match clock.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for StallLimit {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallLimit {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_flush(cx);
        this.watch(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.watch(cx, polled)
    }
}
