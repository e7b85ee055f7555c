//! The PostgreSQL backend: the store several Tessera nodes share. A pool
//! per node, migrations embedded in the binary and run at start-up, and a
//! change feed over `LISTEN/NOTIFY` so each node's verification cache
//! learns of changes made on the others.
//!
//! Invariants, beyond those of the [`Store`] trait:
//! - Every mutating call is one READ COMMITTED transaction. Where SQLite's
//!   `BEGIN IMMEDIATE` made a read-then-write safe by taking the one write
//!   lock, this backend locks the rows the decision rests on before it
//!   reads them (`SELECT ... FOR [NO KEY] UPDATE`), so a check cannot be
//!   invalidated by another node before the transaction commits:
//!   - last owner: the org's row is locked before a member's role is read
//!     and the owners counted, so two demotions in one org take turns;
//!   - role in use: the role's row is locked before its holders are
//!     counted, which waits for grants in flight (their foreign-key check
//!     holds a share lock on that row) and holds off new ones;
//!   - token updates: the token's row is locked before it is read, so two
//!     updates (or an update and a rotation) never undo each other;
//!   - rotation is a single conditional `UPDATE`, atomic on its own;
//!   - last-used batches lock their rows in id order, then update them in
//!     one statement, so concurrent flushes neither deadlock nor lose a
//!     newer time.
//! - Every committed change a verification cache holds is announced with
//!   `pg_notify` inside its transaction: PostgreSQL delivers it at commit,
//!   and only if the transaction commits.
//! - Constraint violations are told apart by their kind (unique, foreign
//!   key) and by the statement that failed, never by the error's text.
//! - Times are whole Unix seconds; sub-second parts are dropped on write.
//! - A call that changes nothing (an unknown id) fails with `NotFound` and
//!   writes no audit event; `delete_session` of an unknown session is the
//!   one exception that succeeds, still without an event.
//! - Start-up is safe with several nodes at once: sqlx's migrator holds a
//!   database-wide advisory lock (`pg_advisory_lock`) while it creates its
//!   bookkeeping table and applies migrations, each in its own
//!   transaction, so the first node migrates and the others wait, then
//!   find nothing left to do.

mod audit;
mod feed;
mod members;
mod roles;
mod rows;
mod sessions;
mod store;
mod tokens;

use std::str::FromStr;
use std::time::Duration;

use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;

use tessera_core::model::AuditEvent;
use tessera_core::{OrgId, RoleKey};

use crate::{Change, Result, StoreError};

/// Pool settings for [`PgStore::connect`]. Each node has its own pool, so
/// the database sees up to `nodes × max_connections` connections, plus one
/// listener connection per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections this node opens for queries (default 10). Keep
    /// `nodes × max_connections` under the server's `max_connections`.
    pub max_connections: u32,
    /// Connections kept open even when idle (default 0: opened on demand).
    pub min_connections: u32,
    /// How long a call waits for a connection, including opening a new
    /// one, before it fails with a `Database` error (default 5 s). This
    /// bounds how long a request hangs while the database is down.
    pub acquire_timeout: Duration,
    /// An idle connection is closed after this long (default 10 min;
    /// `None` keeps it).
    pub idle_timeout: Option<Duration>,
    /// A connection is replaced after this long, so the pool follows a
    /// failover or a server restart without help (default 30 min; `None`
    /// keeps it).
    pub max_lifetime: Option<Duration>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
        }
    }
}

/// A [`Store`](crate::Store) on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:pass@host/db`,
    /// or `postgresql://`; libpq parameters such as `sslmode`,
    /// `application_name` or `options=-c search_path=tessera` go in the
    /// query string) and brings its schema up to date. Fails if the
    /// database cannot be reached within `options.acquire_timeout`. Errors
    /// never repeat the URL, which may hold a password.
    pub async fn connect(url: &str, options: PgOptions) -> Result<PgStore> {
        let connect = PgConnectOptions::from_str(url).map_err(db)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .max_lifetime(options.max_lifetime)
            .connect_with(connect)
            .await
            .map_err(db)?;
        Self::from_pool(pool).await
    }

    /// Wraps an open pool, running the embedded migrations first.
    pub async fn from_pool(pool: PgPool) -> Result<PgStore> {
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migrating the database: {e}")))?;
        Ok(PgStore { pool })
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A write transaction (READ COMMITTED; the calls lock what they decide on).
pub(super) type Tx = Transaction<'static, Postgres>;

pub(super) async fn begin(pool: &PgPool) -> Result<Tx> {
    pool.begin().await.map_err(db)
}

/// Announces `change` (if any), writes `event` and commits: the last step
/// of every mutating call. The notification leaves only with the commit.
pub(super) async fn commit_with(
    mut tx: Tx,
    event: &AuditEvent,
    change: Option<Change>,
) -> Result<()> {
    if let Some(change) = change {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(Change::CHANNEL)
            .bind(change.to_payload())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    audit::insert(&mut tx, event).await?;
    tx.commit().await.map_err(db)
}

/// Any database failure, for logs.
pub(super) fn db(err: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(err)
}

fn violation(err: &sqlx::Error) -> Option<ErrorKind> {
    err.as_database_error().map(|e| e.kind())
}

/// Whether PostgreSQL gave up on the transaction to break a deadlock or a
/// serialization conflict: retrying it is safe and will likely succeed.
pub(super) fn is_retryable(err: &sqlx::Error) -> bool {
    let code = err.as_database_error().and_then(|e| e.code());
    matches!(code.as_deref(), Some("40P01" | "40001"))
}

/// Maps a failed INSERT: a uniqueness clash is `Conflict(what)`, a missing
/// parent row `UnknownReference(parent())`.
pub(super) fn insert_error(
    err: sqlx::Error,
    what: &'static str,
    parent: impl FnOnce() -> String,
) -> StoreError {
    match violation(&err) {
        Some(ErrorKind::UniqueViolation) => StoreError::Conflict(what),
        Some(ErrorKind::ForeignKeyViolation) => StoreError::UnknownReference(parent()),
        _ => db(err),
    }
}

/// Fails with `NotFound` when a statement touched no row.
pub(super) fn found(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Inserts `keys` as the ordered custom roles of a member or token:
/// `insert` is a statement binding (org, owner id, role key, position).
/// Repeated keys are kept once, at their first position.
pub(super) async fn insert_role_grants(
    conn: &mut PgConnection,
    insert: &'static str,
    org: &OrgId,
    owner: &str,
    keys: &[RoleKey],
) -> Result<()> {
    for (position, key) in keys.iter().enumerate() {
        if keys[..position].contains(key) {
            continue;
        }
        sqlx::query(insert)
            .bind(org.as_str())
            .bind(owner)
            .bind(key.as_str())
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await
            // The owner exists (the caller just wrote or locked it), so a
            // missing parent can only be the role.
            .map_err(|e| insert_error(e, "role_key", || format!("custom role {key}")))?;
    }
    Ok(())
}

pub(super) fn secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(super) fn opt_secs(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(secs)
}
