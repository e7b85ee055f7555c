//! `tessera backup`: a consistent copy of a SQLite database taken while the
//! server keeps serving.
//!
//! `VACUUM INTO` is SQLite's online backup in one statement: it reads the
//! database inside one read transaction (a snapshot; in WAL mode writers
//! carry on meanwhile) and writes a compact, self-contained file with no
//! `-wal` beside it. sqlx exposes no `sqlite3_backup_*` API, and copying
//! the files by hand would tear a database that is being written.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use std::sync::Arc;

use super::dialect::{self, Dialect};
use super::{db, SqlStore};
use crate::StoreError;

/// Why an operation on a whole deployment (`backup`, `migrate`) did not
/// run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    /// The operation does not apply as asked; the text says what to do
    /// instead, for the operator.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SqlStore {
    /// Opens the SQLite deployment `url` names as the source of a backup or
    /// a migration. Unlike [`SqlStore::connect`] it neither creates nor
    /// migrates: a database file that does not exist is refused (a
    /// mistyped path would otherwise back up, or migrate, an empty
    /// deployment), and so is an in-memory database; the schema is left
    /// as the server running on it (perhaps an older version) expects.
    pub async fn open_sqlite_source(url: &str) -> Result<SqlStore, OperationError> {
        if dialect::in_memory(url) {
            return Err(OperationError::Refused(
                "the database is in memory (sqlite::memory:): there is nothing to copy".to_owned(),
            ));
        }
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(db)?;
        let file = options.get_filename();
        if !file.is_file() {
            return Err(OperationError::Refused(format!(
                "there is no database at {} (database.url); give the configuration \
                 that tessera serve uses (--config, TESSERA_DATABASE_URL or --database-url)",
                file.display()
            )));
        }
        sqlx::any::install_default_drivers();
        Ok(SqlStore {
            pool: dialect::sqlite_pool(url).await?,
            dialect: Dialect::Sqlite,
            // The serving node (if any) checkpoints; a copy only reads.
            checkpointer: None,
            listeners: Arc::default(),
            emails: Arc::default(),
        })
    }

    /// Writes a consistent copy of this SQLite database to `path`, a file
    /// that must not exist yet. The copy is created owner-only (0600), as
    /// the database itself is, because it holds password hashes; it is a
    /// complete database that `serve` can open as it is.
    ///
    /// Refused on PostgreSQL (its own tools do this: `pg_dump`), on an
    /// in-memory database, and when `path` exists: a backup never
    /// overwrites anything.
    pub async fn backup_to(&self, path: &Path) -> Result<(), OperationError> {
        if self.dialect.is_shared() {
            return Err(OperationError::Refused(
                "the database is PostgreSQL: back it up with pg_dump \
                 (tessera backup copies SQLite databases)"
                    .to_owned(),
            ));
        }
        let source: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        if source.is_empty() {
            return Err(OperationError::Refused(
                "the database is in memory (sqlite::memory:): there is nothing to back up"
                    .to_owned(),
            ));
        }
        let target = create_owner_only(path)?;
        let copied = vacuum_into(self, &target).await;
        if copied.is_err() {
            // A half-written copy must not be mistaken for a backup.
            let _ = std::fs::remove_file(&target);
        }
        copied
    }
}

/// Creates `path` empty and owner-only, refusing an existing file (which
/// `VACUUM INTO` accepts only when empty, keeping its mode), and gives its
/// absolute name: SQLite reads a relative one against the process's
/// working directory as well, but an absolute one can never be taken for
/// a `file:` URI.
fn create_owner_only(path: &Path) -> Result<PathBuf, OperationError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(OperationError::Refused(format!(
                "{} already exists; a backup never overwrites a file: \
                 choose a new name or remove it first",
                path.display()
            )))
        }
        Err(e) => {
            return Err(OperationError::Refused(format!(
                "cannot create {}: {e}",
                path.display()
            )))
        }
    }
    std::fs::canonicalize(path)
        .map_err(|e| OperationError::Refused(format!("cannot resolve {}: {e}", path.display())))
}

/// Copies the database into the empty file `target`, then flushes it to
/// disk: the copy is only a backup once it survives a power cut.
async fn vacuum_into(store: &SqlStore, target: &Path) -> Result<(), OperationError> {
    let name = target.to_str().ok_or_else(|| {
        OperationError::Refused(format!(
            "{} is not valid UTF-8; choose a plain file name",
            target.display()
        ))
    })?;
    sqlx::query("VACUUM INTO $1")
        .bind(name)
        .execute(&store.pool)
        .await
        .map_err(db)?;
    std::fs::File::open(target)
        .and_then(|file| file.sync_all())
        .map_err(|e| {
            OperationError::Refused(format!("cannot flush {} to disk: {e}", target.display()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_is_a_complete_owner_only_database_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("live.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        sqlx::query("INSERT INTO server_keys (name, key) VALUES ('k', x'01')")
            .execute(store.pool())
            .await
            .unwrap();
        let copy = dir.path().join("copy.db");
        store.backup_to(&copy).await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let restored = SqlStore::connect(&format!("sqlite://{}", copy.display()))
            .await
            .unwrap();
        let key: Vec<u8> = sqlx::query_scalar("SELECT key FROM server_keys WHERE name = 'k'")
            .fetch_one(restored.pool())
            .await
            .unwrap();
        assert_eq!(key, vec![1]);

        let again = store.backup_to(&copy).await.unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");

        let memory = SqlStore::connect("sqlite::memory:").await.unwrap();
        let none = memory
            .backup_to(&dir.path().join("m.db"))
            .await
            .unwrap_err();
        assert!(none.to_string().contains("in memory"), "{none}");
        assert!(!dir.path().join("m.db").exists());
    }

    #[tokio::test]
    async fn a_source_that_is_not_there_is_refused_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.db");
        let url = format!("sqlite://{}", missing.display());
        let err = SqlStore::open_sqlite_source(&url).await.unwrap_err();
        assert!(err.to_string().contains("no database at"), "{err}");
        assert!(!missing.exists());
    }
}
