//! [`SqlStore`]: the one implementation of the storage traits, on SQLite
//! (the default, one node) or PostgreSQL (shared by several nodes). The SQL
//! is written once, one file per aggregate (`orgs`, `members`,
//! `service_accounts`, `roles`, `projects`, `tokens`, `sessions`, `audit`), each holding its statements
//! and how its rows decode: a new stored field is a change to one of them
//! (and a migration). [`dialect`] holds what differs between the two
//! databases, [`feed`] PostgreSQL's change feed, [`rows`] how a column
//! encodes a value, [`outbox`] how webhook deliveries and emails are
//! claimed. [`backup`] and [`copy`] work on a whole deployment (`tessera
//! backup`, `tessera migrate`) rather than on one aggregate.
//!
//! Invariants, beyond those of the traits:
//! - Every mutating call is one transaction ([`SqlStore::begin`]) that ends
//!   in [`SqlStore::commit`]: the audit event is its last insert, the
//!   change it makes is announced to other nodes inside it (PostgreSQL
//!   delivers the notification at commit, and only if it commits) and to
//!   this node's listeners right after it.
//! - A check a write depends on (last owner, role in use, the token an
//!   update rewrites) reads rows locked for the transaction: SQLite by its
//!   `BEGIN IMMEDIATE`, PostgreSQL by `FOR [NO KEY] UPDATE` on exactly
//!   those rows, so another node cannot invalidate it before the commit.
//! - Constraint violations are told apart by their kind (unique, foreign
//!   key) and by the statement that failed, never by the error's text.
//! - Times are whole Unix seconds; sub-second parts are dropped on write.
//! - A call that changes nothing (an unknown id) fails with `NotFound` and
//!   writes no audit event; `delete_session` of an unknown session is the
//!   one exception that succeeds, still without an event.

mod audit;
mod backup;
mod copy;
mod dialect;
mod feed;
mod limits;
mod members;
mod notices;
mod orgs;
mod outbox;
mod platform;
mod projects;
mod roles;
mod rows;
mod service_accounts;
mod sessions;
mod sso;
mod token_controls;
mod tokens;
mod wal;
mod webhooks;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::error::ErrorKind;
use sqlx::AnyConnection;
use sqlx::{Any, AnyPool, Arguments, Encode, Executor, Transaction, Type};
use time::OffsetDateTime;

use tessera_core::model::AuditEvent;
use tessera_core::{OrgId, RoleKey};

pub use backup::OperationError;
pub use copy::CopiedTable;
use dialect::Dialect;
pub use dialect::PgOptions;

use crate::{Change, ChangeFeed, ChangeListener, NodeStore, Result, Store, StoreError, Unique};

/// The store: a pool on one database, and who hears of its changes.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// A SQLite file's (see [`wal`]).
    checkpointer: Option<wal::Checkpointer>,
    listeners: Arc<RwLock<Vec<ChangeListener>>>,
    /// Whether notice emails are written (see [`SqlStore::enable_email`]).
    emails: Arc<AtomicBool>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Opens the store a database URL names, creating and migrating it as
    /// needed: `sqlite://path/to/tessera.db`, `sqlite:tessera.db` or
    /// `sqlite::memory:`; `postgres://user:password@host/db` (or
    /// `postgresql://`) with the default [`PgOptions`]. Any other scheme is
    /// a `Database` error that names the scheme (never the rest of the
    /// URL, which may hold a password).
    pub async fn connect(url: &str) -> Result<SqlStore> {
        Self::connect_with(url, &PgOptions::default()).await
    }

    /// As [`Self::connect`], with pool settings for PostgreSQL (libpq
    /// parameters such as `sslmode`, `application_name` or
    /// `options=-c search_path=tessera` go in the URL's query string).
    pub async fn connect_with(url: &str, pg: &PgOptions) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let (pool, dialect, checkpointer) = match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("sqlite") => (
                dialect::open_sqlite(url).await?,
                Dialect::Sqlite,
                wal::Checkpointer::for_file(url)?,
            ),
            Some("postgres" | "postgresql") => {
                let (pool, listen) = dialect::open_postgres(url, pg).await?;
                (pool, Dialect::Postgres(listen), None)
            }
            Some(scheme) => {
                return Err(StoreError::Database(format!(
                    "unsupported database URL scheme `{scheme}:`; \
                     this build supports `sqlite:` and `postgres:`"
                )))
            }
            None => {
                return Err(StoreError::Database(
                    "a database URL starts with its scheme, as in `sqlite://tessera.db`".to_owned(),
                ))
            }
        };
        Ok(SqlStore {
            pool,
            dialect,
            checkpointer,
            listeners: Arc::default(),
            emails: Arc::default(),
        })
    }

    /// The underlying pool (statements through it use `$1` placeholders).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Opens a write transaction.
    ///
    /// sqlx's `begin` is not cancel-safe: a caller dropped between the
    /// `BEGIN` and the `Transaction`'s making (a client that hung up, a
    /// timeout) leaves the pooled connection inside a transaction that
    /// nothing ends (sqlx issues #3932, #4385). On SQLite that connection
    /// then holds the write lock, and every later `begin` on it fails. So
    /// the `BEGIN` runs in a task of its own, to completion: if the caller
    /// is gone, the transaction it made is dropped there and rolled back.
    async fn begin(&self) -> Result<Tx> {
        self.begin_detached().await.map_err(db)
    }

    /// A write transaction for an outbox's own bookkeeping (claims and
    /// attempts): on PostgreSQL its commit does not wait for the log to
    /// reach the disk (`synchronous_commit = off`, for this transaction
    /// only). A crash of the database server may then lose the last
    /// fraction of a second of claims and records: those deliveries are
    /// sent again, with the same `webhook-id`, as after a node's crash.
    /// The changes themselves, and their events, still commit durably.
    async fn begin_bookkeeping(&self) -> Result<Tx> {
        let mut tx = self.begin().await?;
        if self.dialect.is_shared() {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .run(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// [`Self::begin`] with sqlx's error, for callers that keep it.
    async fn begin_detached(&self) -> std::result::Result<Tx, sqlx::Error> {
        let pool = self.pool.clone();
        let statement = self.dialect.begin();
        tokio::spawn(async move { pool.begin_with(statement).await })
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("opening a transaction: {e}")))?
    }

    /// Announces `change` to other nodes (if any), writes `event` (and the
    /// webhook deliveries it causes, see [`webhooks::enqueue`]) and
    /// commits: the last step of every mutating call. This node's
    /// listeners hear of the change whether or not the commit succeeded
    /// (a failed commit may still have happened).
    async fn commit(&self, tx: Tx, event: &AuditEvent, change: Option<Change>) -> Result<()> {
        self.commit_with(tx, event, change, None).await
    }

    /// As [`Self::commit`], for a deletion: `gone` is the deleted subject's
    /// metadata, read before the deletion, for the webhook event's `data`.
    async fn commit_with(
        &self,
        tx: Tx,
        event: &AuditEvent,
        change: Option<Change>,
        gone: Option<serde_json::Value>,
    ) -> Result<()> {
        self.finish(tx, event, change, gone.into()).await
    }

    /// As [`Self::commit`], for a token just created: the webhook event
    /// shows `token` as given rather than reading it back.
    async fn commit_new_token(
        &self,
        tx: Tx,
        event: &AuditEvent,
        change: Change,
        token: &tessera_core::model::Token,
    ) -> Result<()> {
        self.finish(tx, event, Some(change), webhooks::Known::Token(token))
            .await
    }

    async fn finish(
        &self,
        mut tx: Tx,
        event: &AuditEvent,
        change: Option<Change>,
        known: webhooks::Known<'_>,
    ) -> Result<()> {
        if let Some(change) = &change {
            if self.dialect.is_shared() {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(Change::CHANNEL)
                    .bind(change.to_payload())
                    .run(&mut *tx)
                    .await?;
            }
        }
        if self.emails_enabled() {
            notices::enqueue_emails(&mut tx, &self.dialect, event, known.shown()).await?;
        }
        // The audit row and the webhook deliveries go in one round trip.
        let mut writes = audit::insert_statement(event)?;
        webhooks::enqueue(&mut tx, &self.dialect, event, known, &mut writes).await?;
        writes.execute(&mut tx).await?;
        let committed = tx.commit().await.map_err(db);
        if let Some(change) = &change {
            self.announce(change);
        }
        committed
    }

    /// [`Self::commit`] for the platform API's calls: `event` goes to the
    /// platform audit log, never to the org's; `org_event`, when given, is
    /// only what the org's webhooks are told (the outbox reads it as it
    /// reads an org audit event; `gone` as in [`Self::commit_with`]). Every
    /// change in `changes` is announced.
    async fn commit_platform(
        &self,
        mut tx: Tx,
        event: &tessera_core::platform::PlatformAuditEvent,
        org_event: Option<&AuditEvent>,
        changes: &[Change],
        gone: Option<serde_json::Value>,
    ) -> Result<()> {
        if self.dialect.is_shared() {
            for change in changes {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(Change::CHANNEL)
                    .bind(change.to_payload())
                    .run(&mut *tx)
                    .await?;
            }
        }
        platform::insert_audit(&mut tx, event).await?;
        if let Some(org_event) = org_event {
            let mut writes = Statement::new("");
            webhooks::enqueue(&mut tx, &self.dialect, org_event, gone.into(), &mut writes).await?;
            writes.execute(&mut tx).await?;
        }
        let committed = tx.commit().await.map_err(db);
        for change in changes {
            self.announce(change);
        }
        committed
    }

    fn announce(&self, change: &Change) {
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for listener in listeners.iter() {
            listener(change);
        }
    }
}

impl Store for SqlStore {}

#[async_trait]
impl NodeStore for SqlStore {
    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO server_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .run(&self.pool)
        .await?;
        sqlx::query_scalar("SELECT key FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(db)
    }

    fn on_commit(&self, listener: ChangeListener) {
        self.listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(listener);
    }

    async fn subscribe(&self) -> Result<Option<ChangeFeed>> {
        match &self.dialect {
            Dialect::Sqlite => Ok(None),
            Dialect::Postgres(options) => feed::subscribe(options).await.map(Some),
        }
    }

    async fn checkpoint(&self) -> Result<()> {
        match &self.checkpointer {
            Some(checkpointer) => checkpointer.run().await,
            None => Ok(()),
        }
    }
}

/// A write transaction.
type Tx = Transaction<'static, Any>;

/// Any database failure, for logs.
fn db(err: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(err)
}

/// Maps a failed INSERT: a uniqueness clash is `Conflict(what)`, a missing
/// parent row `UnknownReference(parent())`.
fn insert_error(err: sqlx::Error, what: Unique, parent: impl FnOnce() -> String) -> StoreError {
    match err.as_database_error().map(|e| e.kind()) {
        Some(ErrorKind::UniqueViolation) => StoreError::Conflict(what),
        Some(ErrorKind::ForeignKeyViolation) => StoreError::UnknownReference(parent()),
        _ => db(err),
    }
}

/// Whether PostgreSQL gave up on the transaction to break a deadlock or a
/// serialization conflict: retrying it is safe and will likely succeed.
fn is_retryable(err: &sqlx::Error) -> bool {
    let code = err.as_database_error().and_then(|e| e.code());
    matches!(code.as_deref(), Some("40P01" | "40001"))
}

/// Fails with `NotFound` when a statement touched no row.
fn found(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Inserts `keys` as the ordered custom roles of a member or token:
/// `insert` is a statement binding (org, owner id, role key, position).
/// Repeated keys are kept once, at their first position.
async fn insert_role_grants(
    conn: &mut AnyConnection,
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
            .map_err(|e| insert_error(e, Unique::RoleKey, || format!("custom role {key}")))?;
    }
    Ok(())
}

type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

/// Running a statement that returns no rows, in the store's terms: a
/// database error becomes a [`StoreError`], and an update or delete of a
/// row that is not there becomes `NotFound` ([`Run::run_found`]).
trait Run<'q> {
    /// Runs the statement; how many rows it changed.
    fn run<'e, 'c: 'e, E>(self, executor: E) -> impl Future<Output = Result<u64>> + Send + 'e
    where
        'q: 'e,
        E: 'e + Executor<'c, Database = Any>;

    /// Runs the statement, which must change a row: `NotFound` if none.
    fn run_found<'e, 'c: 'e, E>(self, executor: E) -> impl Future<Output = Result<()>> + Send + 'e
    where
        'q: 'e,
        E: 'e + Executor<'c, Database = Any>,
        Self: Sized + Send + 'e,
    {
        let changed = self.run(executor);
        async move { found(changed.await?) }
    }
}

impl<'q> Run<'q> for Query<'q> {
    fn run<'e, 'c: 'e, E>(self, executor: E) -> impl Future<Output = Result<u64>> + Send + 'e
    where
        'q: 'e,
        E: 'e + Executor<'c, Database = Any>,
    {
        let done = self.execute(executor);
        async move { Ok(done.await.map_err(db)?.rows_affected()) }
    }
}

/// Runs `query` and decodes each row it returns.
async fn all<'q, 'c, T>(
    query: Query<'q>,
    executor: impl Executor<'c, Database = Any> + 'q,
    decode: fn(&AnyRow) -> Result<T>,
) -> Result<Vec<T>>
where
    'c: 'q,
{
    let rows = query.fetch_all(executor).await.map_err(db)?;
    rows.iter().map(decode).collect()
}

/// Runs `query`, which selects by a unique key, and decodes the row it
/// returns, if any.
async fn optional<'q, 'c, T>(
    query: Query<'q>,
    executor: impl Executor<'c, Database = Any> + 'q,
    decode: fn(&AnyRow) -> Result<T>,
) -> Result<Option<T>>
where
    'c: 'q,
{
    Ok(all(query, executor, decode).await?.into_iter().next())
}

/// A subquery: the JSON list of the custom roles that `grants` (a grant
/// table) gives the row `alias` of the owning table, in their order.
fn granted_roles(dialect: &Dialect, grants: &str, owner_column: &str, alias: &str) -> String {
    dialect.json_list(
        "r.role_key",
        "r.position",
        &format!(
            "FROM {grants} r WHERE r.org_id = {alias}.org_id AND r.{owner_column} = {alias}.id"
        ),
    )
}

fn secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn opt_secs(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(secs)
}

/// A statement assembled at run time (filters, batches), numbering its
/// placeholders `$1, $2, …` as both databases accept.
struct Statement<'q> {
    sql: String,
    args: AnyArguments<'q>,
}

impl<'q> Statement<'q> {
    fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: AnyArguments::default(),
        }
    }

    fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Binds `value` and writes its placeholder.
    fn bind<T: Encode<'q, Any> + Type<Any> + 'q>(&mut self, value: T) -> Result<&mut Self> {
        self.args
            .add(value)
            .map_err(|e| StoreError::Database(format!("binding a value: {e}")))?;
        self.sql.push_str(&format!("${}", self.args.len()));
        Ok(self)
    }

    /// How many values are bound so far: text pushed next names them
    /// `$1` to `$binds()`.
    fn binds(&self) -> usize {
        self.args.len()
    }

    /// Makes what is pushed next a second statement, sent with this one in
    /// one round trip (or the first, if nothing was pushed yet): SQLite
    /// runs a query text's statements in turn; PostgreSQL, which takes one
    /// statement per query with parameters, gets this one as a
    /// data-modifying `WITH` (so at most once there).
    fn then(&mut self, dialect: &Dialect) -> &mut Self {
        if !self.sql.is_empty() {
            if dialect.is_shared() {
                self.sql = format!("WITH earlier AS ({}) ", self.sql);
            } else {
                self.sql.push_str("; ");
            }
        }
        self
    }

    /// The text and the values, for `sqlx::query_with(&sql, args)`.
    fn into_parts(self) -> (String, AnyArguments<'q>) {
        (self.sql, self.args)
    }

    /// Runs the statement (nothing, if it is empty) on `conn`.
    async fn execute(self, conn: &mut AnyConnection) -> Result<u64> {
        if self.sql.is_empty() {
            return Ok(0);
        }
        let (sql, args) = self.into_parts();
        sqlx::query_with(&sql, args).run(conn).await
    }
}
