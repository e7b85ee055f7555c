//! The SQLite backend: one file (or one in-memory database), WAL mode, a
//! small pool, migrations embedded in the binary and run at start-up.
//!
//! Invariants, beyond those of the [`Store`] trait:
//! - Every mutating call runs in one `BEGIN IMMEDIATE` transaction, so it
//!   takes the write lock before it reads: a check made inside it (last
//!   owner, role in use, rotation compare-and-set) cannot be invalidated by
//!   another writer before it commits. The audit event is the transaction's
//!   last insert.
//! - Constraint violations are told apart by their kind (unique, foreign
//!   key) and by the statement that failed, never by the error's text.
//! - Times are whole Unix seconds; sub-second parts are dropped on write.
//! - A call that changes nothing (an unknown id) fails with `NotFound` and
//!   writes no audit event; `delete_session` of an unknown session is the
//!   one exception that succeeds, still without an event.

mod audit;
mod members;
mod roles;
mod rows;
mod sessions;
mod tokens;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool, Transaction};
use time::OffsetDateTime;

use tessera_core::model::{AuditEvent, CustomRole, Member, Org, Project, Session, Token};
use tessera_core::{
    BuiltinRole, MemberId, OrgId, OrgKey, ProjectKey, RoleKey, SecretHash, TokenId,
};

use crate::{AuditQuery, LastUsed, Result, Rotation, Store, StoreError, TokenChanges};

/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections to a database file: SQLite has one writer at a time, WAL
/// lets the others read meanwhile.
const FILE_POOL_SIZE: u32 = 4;
/// Each connection's own page cache: 64 MiB, filled only as pages are
/// used. For the last-used flush, one transaction that updates up to
/// every token: with SQLite's 2 MB default its dirty pages spilled into
/// the WAL and were read back one `pread` per token; 100,000 tokens took
/// 10.4 µs each, 6.2 µs with this cache (docs/benchmarks.md). Reading the
/// file through a memory map as well measured no better on top of it, and
/// would count the whole file in the server's resident memory.
const CACHE_KIB: &str = "-65536";

/// A [`Store`] on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and brings its
    /// schema up to date. Accepts `sqlite://path/to/file.db`,
    /// `sqlite:file.db` and `sqlite::memory:`; an in-memory database lives
    /// on a single connection so every query sees the same data.
    pub async fn connect(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        if !is_memory(url) {
            owner_only(options.get_filename())?;
        }
        let pool = if is_memory(url) {
            // One connection that never closes: the database dies with it.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .max_connections(FILE_POOL_SIZE)
                .connect_with(
                    options
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .pragma("cache_size", CACHE_KIB),
                )
                .await
        }
        .map_err(db)?;
        Self::from_pool(pool).await
    }

    /// Wraps an open pool, running the embedded migrations first. The pool's
    /// connections must have foreign keys on (sqlx's default).
    pub async fn from_pool(pool: SqlitePool) -> Result<SqliteStore> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migrating the database: {e}")))?;
        Ok(SqliteStore { pool })
    }

    /// The underlying pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The database file holds password hashes: it, and the `-wal` and `-shm`
/// files SQLite creates beside it (with the database file's mode), are
/// readable by their owner only, whatever the umask. A new file is created
/// that way; an existing one that others could read is tightened, with a
/// warning.
fn owner_only(path: &std::path::Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StoreError::Database(format!(
                    "cannot create {}: {e}",
                    path.display()
                )))
            }
        }
        let mut files = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            files.push(name.into());
        }
        for file in files {
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %file.display(), "the database file was readable by others; making it owner-only (0600)");
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(
                    |e| StoreError::Database(format!("cannot restrict {}: {e}", file.display())),
                )?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// A write transaction: takes the database's write lock at once.
pub(super) type Tx = Transaction<'static, Sqlite>;

pub(super) async fn begin(pool: &SqlitePool) -> Result<Tx> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)
}

/// Writes `event` and commits: the last step of every mutating call.
pub(super) async fn commit_with(mut tx: Tx, event: &AuditEvent) -> Result<()> {
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
    conn: &mut SqliteConnection,
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
            // The owner exists (the caller just wrote or checked it), so a
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

#[async_trait]
impl Store for SqliteStore {
    async fn count_orgs(&self) -> Result<u64> {
        members::count_orgs(&self.pool).await
    }

    async fn create_org(&self, org: &Org, owner: &Member, audit: &AuditEvent) -> Result<()> {
        members::create_org(&self.pool, org, owner, audit).await
    }

    async fn get_org(&self, id: &OrgId) -> Result<Option<Org>> {
        members::get_org(&self.pool, "id", id.as_str()).await
    }

    async fn get_org_by_key(&self, key: &OrgKey) -> Result<Option<Org>> {
        members::get_org(&self.pool, "key", key.as_str()).await
    }

    async fn update_org(&self, org: &Org, audit: &AuditEvent) -> Result<()> {
        members::update_org(&self.pool, org, audit).await
    }

    async fn create_member(&self, member: &Member, audit: &AuditEvent) -> Result<()> {
        members::create_member(&self.pool, member, audit).await
    }

    async fn get_member(&self, org: &OrgId, id: &MemberId) -> Result<Option<Member>> {
        members::get_member(&self.pool, org, id).await
    }

    async fn members_by_email(&self, email: &str) -> Result<Vec<Member>> {
        members::members_by_email(&self.pool, email).await
    }

    async fn list_members(&self, org: &OrgId) -> Result<Vec<Member>> {
        members::list_members(&self.pool, org).await
    }

    async fn update_member_roles(
        &self,
        org: &OrgId,
        id: &MemberId,
        role: BuiltinRole,
        custom_roles: &[RoleKey],
        audit: &AuditEvent,
    ) -> Result<()> {
        members::update_member_roles(&self.pool, org, id, role, custom_roles, audit).await
    }

    async fn set_password(
        &self,
        id: &MemberId,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        members::set_password(&self.pool, id, password_hash, audit).await
    }

    async fn delete_member(&self, org: &OrgId, id: &MemberId, audit: &AuditEvent) -> Result<()> {
        members::delete_member(&self.pool, org, id, audit).await
    }

    async fn create_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> {
        roles::create_role(&self.pool, role, audit).await
    }

    async fn get_role(&self, org: &OrgId, key: &RoleKey) -> Result<Option<CustomRole>> {
        roles::get_role(&self.pool, org, key).await
    }

    async fn list_roles(&self, org: &OrgId) -> Result<Vec<CustomRole>> {
        roles::list_roles(&self.pool, org).await
    }

    async fn update_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> {
        roles::update_role(&self.pool, role, audit).await
    }

    async fn delete_role(&self, org: &OrgId, key: &RoleKey, audit: &AuditEvent) -> Result<()> {
        roles::delete_role(&self.pool, org, key, audit).await
    }

    async fn create_project(&self, project: &Project, audit: &AuditEvent) -> Result<()> {
        roles::create_project(&self.pool, project, audit).await
    }

    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>> {
        roles::list_projects(&self.pool, org).await
    }

    async fn delete_project(
        &self,
        org: &OrgId,
        key: &ProjectKey,
        audit: &AuditEvent,
    ) -> Result<()> {
        roles::delete_project(&self.pool, org, key, audit).await
    }

    async fn create_token(&self, token: &Token, audit: &AuditEvent) -> Result<()> {
        tokens::create_token(&self.pool, token, audit).await
    }

    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>> {
        tokens::get_token(&self.pool, id).await
    }

    async fn list_tokens(&self, org: &OrgId, member: &MemberId) -> Result<Vec<Token>> {
        tokens::list_tokens(&self.pool, org, member).await
    }

    async fn update_token(
        &self,
        id: &TokenId,
        changes: &TokenChanges,
        audit: &AuditEvent,
    ) -> Result<Token> {
        tokens::update_token(&self.pool, id, changes, audit).await
    }

    async fn rotate_token(
        &self,
        id: &TokenId,
        rotation: &Rotation,
        audit: &AuditEvent,
    ) -> Result<Token> {
        tokens::rotate_token(&self.pool, id, rotation, audit).await
    }

    async fn delete_token(&self, id: &TokenId, audit: &AuditEvent) -> Result<()> {
        tokens::delete_token(&self.pool, id, audit).await
    }

    async fn record_last_used(&self, batch: &[LastUsed]) -> Result<()> {
        tokens::record_last_used(&self.pool, batch).await
    }

    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> Result<()> {
        sessions::create_session(&self.pool, session, audit).await
    }

    async fn get_session(&self, id_hash: &SecretHash) -> Result<Option<Session>> {
        sessions::get_session(&self.pool, id_hash).await
    }

    async fn delete_session(&self, id_hash: &SecretHash, audit: Option<&AuditEvent>) -> Result<()> {
        sessions::delete_session(&self.pool, id_hash, audit).await
    }

    async fn delete_member_sessions(
        &self,
        member: &MemberId,
        keep: Option<&SecretHash>,
    ) -> Result<()> {
        sessions::delete_member_sessions(&self.pool, member, keep).await
    }

    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        sessions::purge_expired_sessions(&self.pool, now).await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        audit::insert(&mut conn, event).await
    }

    async fn list_audit(&self, org: &OrgId, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        audit::list(&self.pool, org, query).await
    }

    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO server_keys (name, key) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        sqlx::query_scalar("SELECT key FROM server_keys WHERE name = ?")
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
}
