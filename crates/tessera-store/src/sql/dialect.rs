//! The part of storage that differs between SQLite and PostgreSQL. The
//! statements themselves are written once (in sqlx's `Any` driver, with
//! `$1` placeholders, which both databases accept); this file holds only
//! what genuinely differs:
//! - opening a pool (file modes, WAL and pragmas for SQLite; pool sizes for
//!   PostgreSQL) and which migrations run;
//! - how a write transaction starts and what it locks: SQLite takes its one
//!   write lock at `BEGIN IMMEDIATE`, so a read-then-write is safe as is;
//!   PostgreSQL runs READ COMMITTED and locks the rows a decision rests on
//!   (`SELECT ... FOR [NO KEY] UPDATE`) before reading them;
//! - announcing a change to other nodes (`pg_notify`; SQLite has one node);
//! - the JSON list aggregate (`json_group_array` / `json_agg`);
//! - lowercasing ASCII letters only, for case-insensitive name search.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyPool, Executor};

use super::db;
use crate::{Result, StoreError};

/// How long a SQLite connection waits for another's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections to a SQLite file: one writer at a time, WAL lets the others
/// read meanwhile.
const SQLITE_POOL_SIZE: u32 = 4;
/// Each SQLite connection's own page cache: 64 MiB, filled only as pages
/// are used. For the last-used flush, one transaction that updates up to
/// every token: with SQLite's 2 MB default its dirty pages spilled into the
/// WAL and were read back one `pread` per token; 100,000 tokens took
/// 10.4 µs each, 6.2 µs with this cache (docs/benchmarks.md). Reading the
/// file through a memory map as well measured no better on top of it, and
/// would count the whole file in the server's resident memory.
const SQLITE_CACHE_KIB: i64 = -65536;

/// Pool settings for PostgreSQL. Each node has its own pool, so the
/// database sees up to `nodes × max_connections` connections, plus one
/// listener connection per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections this node opens for queries (default 10). Keep
    /// `nodes × max_connections` under the server's `max_connections`.
    pub max_connections: u32,
    /// Connections kept open even when idle (default 0: opened on demand).
    pub min_connections: u32,
    /// How long a call waits for a connection, including opening a new
    /// one, before it fails (default 5 s). This bounds how long a request
    /// hangs while the database is down.
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

/// Which database a store talks to.
#[derive(Debug, Clone)]
pub(crate) enum Dialect {
    Sqlite,
    /// The connect options are kept for the change feed's own connection.
    Postgres(Box<PgConnectOptions>),
}

impl Dialect {
    /// The statement that opens a write transaction.
    pub(crate) fn begin(&self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres(_) => "BEGIN",
        }
    }

    /// Appended to a `SELECT` that reads what a write decides on: locks the
    /// rows on PostgreSQL (`FOR NO KEY UPDATE` still lets rows that
    /// reference them be inserted). SQLite's transaction already holds the
    /// database's write lock.
    pub(crate) fn lock_rows(&self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres(_) => " FOR NO KEY UPDATE",
        }
    }

    /// As [`Self::lock_rows`], but also against new references to the
    /// rows (`FOR UPDATE`): used before counting a role's holders.
    pub(crate) fn lock_rows_and_references(&self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres(_) => " FOR UPDATE",
        }
    }

    /// `column` lowercased in ASCII letters only, as SQLite's `lower`
    /// does; PostgreSQL's would also fold other letters by the column's
    /// locale, so it is told to compare as bytes (`COLLATE "C"`).
    pub(crate) fn ascii_lower(&self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("lower({column})"),
            Self::Postgres(_) => format!("lower({column} COLLATE \"C\")"),
        }
    }

    /// Whether other nodes may share the database (and must hear of
    /// changes).
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// A subquery giving the JSON list of `value` over `from_where`
    /// (a `FROM ... WHERE ...` clause) in `order`; `[]` for no rows.
    pub(crate) fn json_list(&self, value: &str, order: &str, from_where: &str) -> String {
        match self {
            Self::Sqlite => {
                format!("(SELECT json_group_array({value} ORDER BY {order}) {from_where})")
            }
            Self::Postgres(_) => format!(
                "(SELECT COALESCE(json_agg({value} ORDER BY {order}), '[]')::text {from_where})"
            ),
        }
    }
}

/// Opens a SQLite database file (created owner-only if missing) or an
/// in-memory one, with WAL, and migrates it.
pub(crate) async fn open_sqlite(url: &str) -> Result<AnyPool> {
    migrated(
        sqlite_pool(url).await?,
        sqlx::migrate!("./migrations/sqlite"),
    )
    .await
}

/// As [`open_sqlite`], without migrating: for reading a deployment
/// (`backup`, `migrate`) that a server of another version may be running.
pub(crate) async fn sqlite_pool(url: &str) -> Result<AnyPool> {
    let memory = in_memory(url);
    let options = AnyConnectOptions::from_str(url).map_err(db)?;
    if memory {
        // One connection that never closes: the database dies with it.
        AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        let file = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(db)?;
        owner_only(file.get_filename())?;
        // A file connection cannot drop like a network one: sqlx's ping
        // before each acquire would only add a round trip to the
        // connection's worker thread to every query.
        AnyPoolOptions::new()
            .max_connections(SQLITE_POOL_SIZE)
            .test_before_acquire(false)
    }
    .after_connect(move |conn, _| {
        Box::pin(async move {
            // sqlx's SQLite defaults already turn foreign keys on; the Any
            // driver takes its options from the URL alone, so the rest is
            // set here, on every new connection. The connections never
            // checkpoint the log themselves: the node does (see `wal.rs`).
            let mut pragmas = format!(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
                BUSY_TIMEOUT.as_millis()
            );
            if !memory {
                pragmas.push_str(&format!(
                    " PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA cache_size = {SQLITE_CACHE_KIB}; PRAGMA wal_autocheckpoint = 0;"
                ));
            }
            conn.execute(pragmas.as_str()).await.map(drop)
        })
    })
    .connect_with(options)
    .await
    .map_err(db)
}

/// Whether a SQLite URL names a database in memory (which has no file and
/// no write-ahead log).
pub(crate) fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Connects to PostgreSQL and migrates it. Several nodes may start at once:
/// sqlx's migrator holds a database-wide advisory lock while it applies
/// migrations, so the first node migrates and the others then find nothing
/// to do. Errors never repeat the URL, which may hold a password.
pub(crate) async fn open_postgres(
    url: &str,
    options: &PgOptions,
) -> Result<(AnyPool, Box<PgConnectOptions>)> {
    let listen = Box::new(PgConnectOptions::from_str(url).map_err(db)?);
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections)
        .min_connections(options.min_connections)
        .acquire_timeout(options.acquire_timeout)
        .idle_timeout(options.idle_timeout)
        .max_lifetime(options.max_lifetime)
        .connect_with(AnyConnectOptions::from_str(url).map_err(db)?)
        .await
        .map_err(db)?;
    let pool = migrated(pool, sqlx::migrate!("./migrations/postgres")).await?;
    Ok((pool, listen))
}

/// Brings the schema up to date: the migrations embedded in the binary
/// that the database has not applied yet.
async fn migrated(pool: AnyPool, migrator: sqlx::migrate::Migrator) -> Result<AnyPool> {
    migrator
        .run(&pool)
        .await
        .map_err(|e| StoreError::Database(format!("migrating the database: {e}")))?;
    Ok(pool)
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
