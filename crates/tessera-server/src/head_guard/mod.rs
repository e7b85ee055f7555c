//! The request-head guard: checks each request's head, and follows each
//! body's framing, before hyper sees a byte of it.
//!
//! hyper resolves ambiguous framing itself and hides what it did: a request
//! with both `Content-Length` and `Transfer-Encoding` is read as chunked and
//! the `Content-Length` dropped, so no service can tell that a front proxy
//! reading the other header would have seen a different request
//! (request smuggling). Its own refusals (a bad `Content-Length` or
//! `Transfer-Encoding`, a head over the size limit) are written by hyper
//! with an empty body, with no hook to change them. So [`HeadGuard`] sits
//! between the socket and hyper:
//!
//! - It withholds a request head's bytes from hyper until the whole head
//!   has arrived, and parses it with `httparse`, as hyper does.
//! - It refuses, with Tessera's JSON error body and `Connection: close`,
//!   then closes the connection: `Content-Length` together with
//!   `Transfer-Encoding` (either order); more than one `Content-Length`
//!   (even equal ones) or one that is not a plain number; a
//!   `Transfer-Encoding` other than exactly `chunked`, or any on HTTP/1.0;
//!   a request target that is not a valid URI (`400`) or longer than
//!   hyper accepts (`414`); a head larger than `max_header_bytes` or with
//!   more than [`MAX_HEADERS`] headers (`431`); anything else `httparse`
//!   refuses (`400`). hyper never sees a refused head, nor anything after
//!   it.
//! - Otherwise it passes the bytes on untouched, and follows the body's
//!   framing (a length to count down, or chunk-size lines, chunk data, the
//!   last chunk and the trailers — the same rules and limits as hyper's
//!   decoder) to know where the next pipelined or keep-alive head starts.
//!   A chunked body that breaks its framing is refused the same way (`400`).
//! - While a body is expected and no byte of it arrives for `body_idle`,
//!   the connection is answered `408` and closed, instead of waiting for
//!   the request timeout.
//!
//! A refused head that follows good requests on a keep-alive connection is
//! answered after them, in order: the guard waits until the service has
//! answered every request it let through ([`Answers`] counts them) and
//! hyper has flushed those answers, then writes its own answer and gives
//! hyper end-of-file, so hyper closes the connection as if the client had.
//! A refusal found inside a body (bad chunk framing, or the body idle
//! limit) is answered at once if nothing of that request's answer has
//! been written yet, otherwise the connection is just closed; hyper's
//! reads then fail. After its own answer the guard shuts its side of the
//! connection and reads (and drops) what the client still sends for a
//! moment, so the answer is not lost to a TCP reset.
//!
//! Upgrades: the server does not let hyper hand connections over
//! (`serve_connection` without `with_upgrades`), so after an `Upgrade` or
//! `CONNECT` request hyper either ends the connection or goes on reading
//! HTTP/1.1 requests — which the guard therefore keeps checking. If
//! upgrades are ever enabled, the guard must first learn of a `101`
//! answer; until then it fails closed (an upgraded stream would be
//! refused as a malformed head).
//!
//! The common case — a whole request in one read — costs one `httparse`
//! parse and no allocation: the bytes are read straight into hyper's
//! buffer and only a head split across reads is copied aside.

mod framing;
mod refusal;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub use self::framing::{Fed, Framing};
use self::refusal::Finish;
pub use self::refusal::{answer, Refusal};

/// Most headers (and trailers) in a request: hyper's limit, which the
/// server does not change.
pub const MAX_HEADERS: usize = 100;
/// How much is read at a time while a head is incomplete.
const READ_CHUNK: usize = 8 * 1024;
/// After its own answer, how long and how much the guard reads and drops
/// before closing (see the module docs).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;
/// A buffer that grew past this for one large head is given back.
const HELD_KEPT: usize = 64 * 1024;

/// How many requests of one connection the service has answered. The
/// connection loop records each answer; the guard compares the count with
/// the heads it let through to know when hyper has nothing in flight.
#[derive(Debug, Clone, Default)]
pub struct Answers(Arc<AtomicU64>);

impl Answers {
    /// One more request answered.
    pub fn record(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The guard's limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct GuardLimits {
    /// Longest request head (`max_header_bytes`).
    pub max_head_bytes: usize,
    /// Longest wait for the next byte of a body (`header_timeout_seconds`).
    pub body_idle: Duration,
}

/// A client connection whose request heads are checked before hyper reads
/// them (see the module docs).
pub struct HeadGuard<T> {
    io: T,
    framing: Framing,
    /// Bytes read from the client and not given to hyper:
    /// `held[given..given + cleared]` may go to it; the rest is a head
    /// still incomplete.
    held: Vec<u8>,
    given: usize,
    cleared: usize,
    /// A refusal to act on once everything before it is hyper's.
    refusal: Option<Refusal>,
    answers: Answers,
    /// hyper's task, while a refusal waits for its answers to be written.
    parked: Option<Waker>,
    body_idle: Duration,
    /// The body idle limit, then the linger; allocated once.
    timer: Option<Pin<Box<Sleep>>>,
    idle_armed: bool,
    /// hyper has written bytes it has not flushed since.
    unflushed: bool,
    end: End,
}

enum End {
    Open,
    /// hyper gets end-of-file; the answer is written when it shuts the
    /// connection down (after flushing what it still had to write).
    AtShutdown(Finish),
    /// The guard is writing its answer and closing.
    Closing(Finish, Then),
    Closed(Then),
}

/// What hyper's reads get once the guard has closed the connection.
#[derive(Debug, Clone, Copy)]
enum Then {
    Eof,
    Fail(io::ErrorKind),
}

impl Then {
    fn result(self) -> io::Result<()> {
        match self {
            Self::Eof => Ok(()),
            Self::Fail(kind) => Err(io::Error::new(kind, "the request was refused")),
        }
    }
}

impl<T> HeadGuard<T> {
    /// Wraps a new connection; the [`Answers`] must be told of each answer
    /// the service gives on it.
    pub fn new(io: T, limits: GuardLimits) -> (Self, Answers) {
        let answers = Answers::default();
        let guard = Self {
            io,
            framing: Framing::new(limits.max_head_bytes),
            held: Vec::new(),
            given: 0,
            cleared: 0,
            refusal: None,
            answers: answers.clone(),
            parked: None,
            body_idle: limits.body_idle,
            timer: None,
            idle_armed: false,
            unflushed: false,
            end: End::Open,
        };
        (guard, answers)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> HeadGuard<T> {
    /// Reads from the client straight into hyper's buffer, keeping back
    /// what must not reach it yet. Ready(true): something (or end-of-file)
    /// for hyper.
    fn read_direct(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<bool>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        let new = buf.filled().get(before..).unwrap_or_default();
        if new.is_empty() {
            return Poll::Ready(Ok(true));
        }
        self.idle_armed = false;
        let (keep, refusal) = match self.framing.feed(new) {
            Fed::Release(n) => (n, None),
            Fed::Refuse(n, refusal) => (n, Some(refusal)),
        };
        if keep < new.len() {
            if refusal.is_none() {
                self.held
                    .extend_from_slice(new.get(keep..).unwrap_or_default());
            }
            buf.set_filled(before + keep);
        }
        if refusal.is_some() {
            self.refusal = refusal;
        }
        Poll::Ready(Ok(keep > 0))
    }

    /// Reads more of an incomplete head. Ready(true): end-of-file.
    fn read_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.given > 0 {
            self.held.drain(..self.given);
            self.given = 0;
        }
        let old = self.held.len();
        self.held.resize(old + READ_CHUNK, 0);
        let (polled, n) = {
            let mut read = ReadBuf::new(self.held.get_mut(old..).unwrap_or_default());
            let polled = Pin::new(&mut self.io).poll_read(cx, &mut read);
            (polled, read.filled().len())
        };
        self.held.truncate(old + n);
        ready!(polled)?;
        if n == 0 {
            return Poll::Ready(Ok(true));
        }
        self.idle_armed = false;
        match self.framing.feed(&self.held) {
            Fed::Release(n) => self.cleared = n,
            Fed::Refuse(n, refusal) => {
                self.cleared = n;
                self.held.truncate(n);
                self.refusal = Some(refusal);
            }
        }
        Poll::Ready(Ok(false))
    }

    /// After a read found nothing: whether a body has now waited too long.
    fn body_stalled(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.framing.in_body() {
            self.idle_armed = false;
            return false;
        }
        if !self.idle_armed {
            arm(&mut self.timer, self.body_idle);
            self.idle_armed = true;
        }
        self.timer
            .as_mut()
            .is_some_and(|timer| timer.as_mut().poll(cx).is_ready())
    }

    /// Closes the connection mid-request: with an answer if nothing of
    /// one has been written, then hyper's reads fail with `kind`.
    fn close(&mut self, status: StatusCode, message: &'static str, kind: io::ErrorKind) {
        tracing::debug!(%status, reason = message, "refused a request mid-body");
        let unanswered = self.answers.count() < self.framing.heads();
        let answer = if unanswered && !self.unflushed {
            answer(status, message)
        } else {
            Vec::new()
        };
        self.parked = None;
        self.end = End::Closing(Finish::new(answer), Then::Fail(kind));
    }
}

fn arm(timer: &mut Option<Pin<Box<Sleep>>>, after: Duration) {
    let deadline = Instant::now() + after;
    match timer {
        Some(timer) => timer.as_mut().reset(deadline),
        None => *timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.end {
                End::Open => {}
                End::AtShutdown(_) => return Poll::Ready(Ok(())),
                End::Closing(finish, then) => {
                    let then = *then;
                    ready!(finish.poll(&mut this.io, &mut this.timer, cx));
                    this.end = End::Closed(then);
                    continue;
                }
                End::Closed(then) => return Poll::Ready(then.result()),
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.cleared > 0 {
                let n = this.cleared.min(buf.remaining());
                buf.put_slice(
                    this.held
                        .get(this.given..this.given + n)
                        .unwrap_or_default(),
                );
                this.given += n;
                this.cleared -= n;
                if this.given == this.held.len() {
                    this.held.clear();
                    this.given = 0;
                    if this.held.capacity() > HELD_KEPT {
                        this.held = Vec::new();
                    }
                }
                return Poll::Ready(Ok(()));
            }
            if let Some(refusal) = this.refusal {
                if refusal.mid_body {
                    this.refusal = None;
                    this.close(refusal.status, refusal.message, io::ErrorKind::InvalidData);
                    continue;
                }
                // Everything before it is hyper's: once hyper has answered
                // it all, answer this one and end the connection.
                if this.answers.count() < this.framing.heads() {
                    this.parked = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                tracing::debug!(status = %refusal.status, reason = refusal.message, "refused a request head");
                this.refusal = None;
                this.parked = None;
                this.held = Vec::new();
                this.given = 0;
                let finish = Finish::new(answer(refusal.status, refusal.message));
                if this.unflushed {
                    this.end = End::AtShutdown(finish);
                } else {
                    this.end = End::Closing(finish, Then::Eof);
                }
                continue;
            }
            let got = if this.given < this.held.len() {
                this.read_held(cx)
            } else {
                this.read_direct(cx, buf)
            };
            match got {
                Poll::Ready(Ok(true)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(false)) => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if this.body_stalled(cx) {
                        this.close(
                            StatusCode::REQUEST_TIMEOUT,
                            "the request body stopped arriving",
                            io::ErrorKind::TimedOut,
                        );
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the connection was closed after a refused request",
    )
}

impl<T: AsyncWrite + Unpin> HeadGuard<T> {
    /// A write of the answer, refused once the connection is closing (then
    /// nothing more may reach the client); it leaves bytes to flush.
    fn write(
        &mut self,
        write: impl FnOnce(Pin<&mut T>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if !matches!(self.end, End::Open | End::AtShutdown(_)) {
            return Poll::Ready(Err(closed()));
        }
        self.unflushed = true;
        write(Pin::new(&mut self.io))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write(|io| io.poll_write(cx, data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write(|io| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !matches!(this.end, End::Open | End::AtShutdown(_)) {
            return Poll::Ready(Ok(()));
        }
        let flushed = ready!(Pin::new(&mut this.io).poll_flush(cx));
        if flushed.is_ok() {
            this.unflushed = false;
            // A refusal waiting for this answer can go now.
            if let Some(waker) = this.parked.take() {
                waker.wake();
            }
        }
        Poll::Ready(flushed)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let then = match &mut this.end {
            End::Open => return Pin::new(&mut this.io).poll_shutdown(cx),
            End::Closed(_) => return Poll::Ready(Ok(())),
            End::AtShutdown(finish) => {
                ready!(finish.poll(&mut this.io, &mut this.timer, cx));
                Then::Eof
            }
            End::Closing(finish, then) => {
                let then = *then;
                ready!(finish.poll(&mut this.io, &mut this.timer, cx));
                then
            }
        };
        this.end = End::Closed(then);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const MAX: usize = 16 * 1024;

    fn guard(
        max: usize,
        idle: Duration,
    ) -> (
        HeadGuard<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
        Answers,
    ) {
        let (server, client) = tokio::io::duplex(64 * 1024);
        let (guard, answers) = HeadGuard::new(
            server,
            GuardLimits {
                max_head_bytes: max,
                body_idle: idle,
            },
        );
        (guard, client, answers)
    }

    async fn read_some(guard: &mut HeadGuard<tokio::io::DuplexStream>) -> Vec<u8> {
        let mut buf = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(5), guard.read(&mut buf))
            .await
            .expect("in time")
            .expect("read");
        buf[..n].to_vec()
    }

    /// Whether the guard still passes nothing on after 100 ms.
    async fn holds_back(guard: &mut HeadGuard<tokio::io::DuplexStream>) -> bool {
        let mut buf = [0u8; 64];
        tokio::time::timeout(Duration::from_millis(100), guard.read(&mut buf))
            .await
            .is_err()
    }

    async fn send(client: &mut tokio::io::DuplexStream, bytes: &[u8]) {
        client.write_all(bytes).await.expect("write");
    }

    /// Everything the client received, once the guard is gone.
    async fn received(client: &mut tokio::io::DuplexStream) -> String {
        let mut got = String::new();
        client.read_to_string(&mut got).await.expect("read");
        got
    }

    #[tokio::test]
    async fn a_split_head_reaches_hyper_whole() {
        let (mut guard, mut client, _) = guard(MAX, Duration::from_secs(5));
        send(&mut client, b"GET / HTTP/1.1\r\nHo").await;
        assert!(holds_back(&mut guard).await, "part of a head was passed on");
        send(&mut client, b"st: x\r\n\r\nGET /2").await;
        assert_eq!(
            read_some(&mut guard).await,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn a_refused_head_is_answered_once_earlier_ones_are() {
        let (mut guard, mut client, answers) = guard(MAX, Duration::from_secs(5));
        send(&mut client, b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx").await;
        assert_eq!(read_some(&mut guard).await, b"GET / HTTP/1.1\r\n\r\n");
        // The first request is not answered yet: the guard waits.
        assert!(
            holds_back(&mut guard).await,
            "refused before the earlier answer"
        );
        guard
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .expect("write");
        answers.record();
        guard.flush().await.expect("flush");
        // Then hyper gets end-of-file, and the client both answers.
        assert_eq!(read_some(&mut guard).await, b"");
        guard.shutdown().await.expect("shutdown");
        drop(guard);
        let got = received(&mut client).await;
        assert!(
            got.starts_with(
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nHTTP/1.1 400 Bad Request\r\n"
            ),
            "{got}"
        );
        assert!(got.contains("more than one Content-Length"), "{got}");
    }

    #[tokio::test]
    async fn a_stalled_body_is_answered_408() {
        let (mut guard, mut client, _) = guard(MAX, Duration::from_millis(200));
        send(
            &mut client,
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
        )
        .await;
        let first = read_some(&mut guard).await;
        assert!(first.ends_with(b"abc"));
        let mut buf = [0u8; 64];
        let started = std::time::Instant::now();
        let failed = tokio::time::timeout(Duration::from_secs(5), guard.read(&mut buf))
            .await
            .expect("in time");
        assert_eq!(
            failed.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::TimedOut)
        );
        assert!(started.elapsed() >= Duration::from_millis(150));
        // hyper's late answer is not written after the guard's.
        assert!(guard.write_all(b"HTTP/1.1 400").await.is_err());
        drop(guard);
        let got = received(&mut client).await;
        assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");
        assert!(
            got.ends_with(r#""message":"the request body stopped arriving"}}"#),
            "{got}"
        );
    }
}
