//! Kept-alive connections to webhook receivers, reused by later
//! deliveries: a busy endpoint gets its events over a few open
//! connections instead of a TCP (and TLS) handshake per event.
//!
//! Reuse never weakens the destination check: every delivery still
//! resolves its endpoint's host and checks each address
//! ([`crate::webhook_sender::resolve`]), and a connection is reused only
//! for the same scheme, host and port *and* one of the addresses that check
//! just passed. An idle connection is dropped after [`IDLE_FOR`] (below the
//! 5 s that common servers, Node's among them, keep one open), and at most
//! [`IDLE_PER_KEY`] per destination and [`IDLE_TOTAL`] in all are kept.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

/// How long a connection may wait idle for its next delivery.
pub const IDLE_FOR: Duration = Duration::from_secs(4);
/// Idle connections kept per destination (a delivery pass sends a batch
/// of up to 32 at once).
pub const IDLE_PER_KEY: usize = 32;
/// Idle connections kept in all.
pub const IDLE_TOTAL: usize = 256;

pub type Sender = SendRequest<Full<Bytes>>;

/// An open connection: the side requests go in by, and the task driving
/// the socket. Dropping it (not kept, idle too long, its attempt timed out
/// or failed) stops that task, which closes the socket at once, whatever
/// the receiver is doing.
pub struct Conn {
    pub sender: Sender,
    pub driver: tokio::task::AbortHandle,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Where a connection goes: what a reused one must match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub https: bool,
    /// The URL's host: the name TLS checked the certificate against.
    pub host: String,
    pub addr: SocketAddr,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

#[derive(Default)]
struct Pool {
    idle: HashMap<Destination, Vec<Idle>>,
    pruned: Option<Instant>,
}

impl Pool {
    /// Connections kept, in all (at most [`IDLE_TOTAL`], so a short sum).
    fn count(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }

    /// Drops connections idle too long, everywhere (at most once per
    /// [`IDLE_FOR`]: the map is small, but this runs per delivery).
    fn prune(&mut self, now: Instant) {
        if self.pruned.is_some_and(|at| now - at < IDLE_FOR) {
            return;
        }
        self.pruned = Some(now);
        self.idle.retain(|_, list| {
            list.retain(|c| now - c.since < IDLE_FOR && !c.conn.sender.is_closed());
            !list.is_empty()
        });
    }
}

/// The node's idle connections to webhook receivers, and its TLS set-up.
#[derive(Default)]
pub struct Connections {
    pool: Mutex<Pool>,
    tls: OnceLock<tokio_native_tls::TlsConnector>,
}

impl Connections {
    fn pool(&self) -> MutexGuard<'_, Pool> {
        // The pool holds no invariant a panic could break.
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection to `to`, if one is still open.
    pub fn take(&self, to: &Destination) -> Option<Conn> {
        let now = Instant::now();
        let mut pool = self.pool();
        pool.prune(now);
        let list = pool.idle.get_mut(to)?;
        let mut found = None;
        while let Some(idle) = list.pop() {
            if now - idle.since < IDLE_FOR && !idle.conn.sender.is_closed() {
                found = Some(idle.conn);
                break;
            }
        }
        if list.is_empty() {
            pool.idle.remove(to);
        }
        found
    }

    /// Keeps `conn` for the next delivery to `to`, unless it is closed or
    /// the pool is full (then it is dropped, which closes it).
    pub fn put(&self, to: Destination, conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut pool = self.pool();
        pool.prune(now);
        if pool.count() >= IDLE_TOTAL {
            return;
        }
        let list = pool.idle.entry(to).or_default();
        if list.len() >= IDLE_PER_KEY {
            return;
        }
        list.push(Idle { conn, since: now });
    }

    /// Idle connections kept now.
    pub fn idle(&self) -> usize {
        self.pool().count()
    }

    /// The TLS connector (the system's roots), made once: loading the
    /// roots is far costlier than a delivery.
    pub fn tls(&self) -> Result<tokio_native_tls::TlsConnector, String> {
        if let Some(tls) = self.tls.get() {
            return Ok(tls.clone());
        }
        let made = tokio_native_tls::native_tls::TlsConnector::new()
            .map(tokio_native_tls::TlsConnector::from)
            .map_err(|e| format!("TLS setup: {e}"))?;
        Ok(self.tls.get_or_init(|| made).clone())
    }
}
