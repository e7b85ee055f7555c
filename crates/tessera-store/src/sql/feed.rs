//! The change feed: one task per subscription holds a `LISTEN` connection
//! on [`Change::CHANNEL`] and forwards each notification as a
//! [`FeedEvent::Change`].
//!
//! Invariants:
//! - `subscribe` returns only once `LISTEN` has succeeded: every change
//!   committed after it returns is delivered (or a `Lost` comes first).
//! - The listener has its own one-connection pool built from the store's
//!   connect options, so it never holds one of the query pool's
//!   connections and the query pool's limits do not starve it.
//! - A gap is never silent. When the connection fails, closes, or does not
//!   answer a heartbeat, the feed sends `Lost` once, reconnects with
//!   backoff (100 ms doubling to 5 s) until `LISTEN` succeeds, then sends
//!   `Resumed`; whatever was committed in between must be re-read by the
//!   consumer. (sqlx's own transparent reconnect is turned off for this
//!   reason: it would drop notifications without saying so.)
//! - A payload that does not parse is logged and skipped.
//! - The task ends when the receiver is dropped; it never panics.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::db;
use crate::{Change, ChangeFeed, FeedEvent, Result};

/// Events buffered for a slow consumer before the listener waits for it.
const CAPACITY: usize = 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// With no notification for this long, the connection is checked with a
/// query: a peer that vanished without closing the connection (a network
/// partition, a failed-over host) is noticed within this plus
/// [`CONNECT_TIMEOUT`]. Until then the node may answer from a cache that
/// misses changes, so this is kept short: a `SELECT 1` every 2 s is cheap.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long connecting and `LISTEN`, or a heartbeat, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) async fn subscribe(options: &PgConnectOptions) -> Result<ChangeFeed> {
    let listen_pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options.clone());
    let listener = listen(&listen_pool).await.map_err(db)?;
    let (sender, receiver) = mpsc::channel(CAPACITY);
    tokio::spawn(run(listen_pool, listener, sender));
    Ok(receiver)
}

/// A listener on a fresh connection, `LISTEN`ing on the channel.
async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let connect = async {
        let mut listener = PgListener::connect_with(pool).await?;
        // A lost connection must end `follow`, not be replaced unseen.
        listener.eager_reconnect(false);
        listener.listen(Change::CHANNEL).await?;
        Ok(listener)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

/// Why [`follow`] stopped.
enum Stop {
    /// The receiver was dropped: nobody listens any more.
    Unwanted,
    /// The connection is gone or unusable.
    Lost(String),
}

async fn run(pool: PgPool, mut listener: PgListener, sender: mpsc::Sender<FeedEvent>) {
    loop {
        let why = match follow(&mut listener, &sender).await {
            Stop::Unwanted => return,
            Stop::Lost(why) => why,
        };
        drop(listener);
        tracing::warn!(error = %why, "change feed lost its database connection; reconnecting");
        if sender.send(FeedEvent::Lost).await.is_err() {
            return;
        }
        listener = match reconnect(&pool, &sender).await {
            Some(listener) => listener,
            None => return,
        };
        tracing::info!("change feed is listening again");
        if sender.send(FeedEvent::Resumed).await.is_err() {
            return;
        }
    }
}

/// Forwards notifications until the connection or the receiver goes.
async fn follow(listener: &mut PgListener, sender: &mpsc::Sender<FeedEvent>) -> Stop {
    loop {
        // `try_recv` is cancel-safe: dropping it mid-wait loses nothing.
        let next = tokio::select! {
            () = sender.closed() => return Stop::Unwanted,
            next = tokio::time::timeout(HEARTBEAT, listener.try_recv()) => next,
        };
        let notification = match next {
            Err(_quiet) => match heartbeat(listener).await {
                Ok(()) => continue,
                Err(why) => return Stop::Lost(why),
            },
            Ok(Ok(Some(notification))) => notification,
            Ok(Ok(None)) => return Stop::Lost("the server closed the connection".to_owned()),
            Ok(Err(err)) => return Stop::Lost(err.to_string()),
        };
        // The server converts payloads to the connection's encoding, which
        // sqlx sets to UTF-8, so reading it as text cannot fail.
        let payload = notification.payload();
        match Change::from_payload(payload) {
            Some(change) => {
                if sender.send(FeedEvent::Change(change)).await.is_err() {
                    return Stop::Unwanted;
                }
            }
            None => tracing::warn!(payload, "ignoring an unrecognised change notification"),
        }
    }
}

/// Checks that a quiet connection still answers.
async fn heartbeat(listener: &mut PgListener) -> Result<(), String> {
    let ping = sqlx::query("SELECT 1").execute(&mut *listener);
    match tokio::time::timeout(CONNECT_TIMEOUT, ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("the server did not answer a heartbeat".to_owned()),
    }
}

/// Listens again, retrying with backoff; `None` if the receiver went away
/// meanwhile.
async fn reconnect(pool: &PgPool, sender: &mpsc::Sender<FeedEvent>) -> Option<PgListener> {
    let mut delay = FIRST_BACKOFF;
    loop {
        tokio::select! {
            () = sender.closed() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        let err = match listen(pool).await {
            Ok(listener) => return Some(listener),
            Err(err) => err,
        };
        delay = (delay * 2).min(MAX_BACKOFF);
        tracing::warn!(error = %err, retry_in = ?delay, "change feed could not listen again");
    }
}
