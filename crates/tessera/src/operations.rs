//! `tessera backup` and `tessera migrate`: operations on a deployment's
//! whole database, for its operator. Both read the database from the same
//! configuration as `serve` (file, `TESSERA_*` variables, flags), so the
//! command that backs up a deployment is the one that runs it plus one
//! word; the work itself is the store's (`SqlStore::backup_to`,
//! `SqlStore::copy_to_postgres`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tessera_store::{OperationError, PgOptions, SqlStore, StoreError};

use crate::error::CliError;
use crate::serve::{init_logging, load_config, ConfigFlags};

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    flags: ConfigFlags,
    /// The file to write the copy to; it must not exist yet.
    path: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    flags: ConfigFlags,
    /// The empty PostgreSQL database to copy into, as
    /// postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, value_name = "URL")]
    to: String,
}

/// What `backup --help` adds to its one line.
pub const BACKUP_ABOUT: &str = "\
Write a consistent copy of the SQLite database to PATH while the service \
keeps serving (SQLite's online backup: one snapshot; writers are not held \
up). The database is the one `tessera serve` uses with the same \
configuration. The copy is a complete database, created readable by its \
owner only; PATH must not exist. For PostgreSQL use pg_dump.";

/// What `migrate --help` adds to its one line.
pub const MIGRATE_ABOUT: &str = "\
Copy the SQLite database `tessera serve` uses (same configuration) into an \
empty PostgreSQL database: every table in one transaction, then each \
table's row count compared on both sides and printed. Tokens keep working \
with their last use, and the audit log comes along. Stop the service first \
so nothing is written after the copy; the SQLite database is not changed.";

/// The configured database URL, which must be SQLite: `what` names the
/// command in the refusal.
fn sqlite_url(flags: &ConfigFlags, refusal: &str) -> Result<String, CliError> {
    let (config, _) = load_config(flags, None)?;
    let url = config.database.url.as_str().to_owned();
    if is_postgres(&url) {
        return Err(CliError::Input(format!(
            "the configured database (database.url) is PostgreSQL: {refusal}"
        )));
    }
    Ok(url)
}

fn is_postgres(url: &str) -> bool {
    matches!(url.split_once(':'), Some(("postgres" | "postgresql", _)))
}

/// An operation's failure as one line: a refusal says what to do, an
/// unreachable database which one, a database failure what failed.
fn failed<'a>(database: &'a str, context: &'a str) -> impl Fn(OperationError) -> CliError + 'a {
    move |err| match err {
        OperationError::Refused(why) => CliError::Input(why),
        OperationError::Store(StoreError::Unavailable(e)) => {
            CliError::Setup(format!("cannot reach {database}: {e}"))
        }
        OperationError::Store(e) => CliError::Setup(format!("{context}: {e}")),
    }
}

pub async fn backup(args: BackupArgs) -> Result<ExitCode, CliError> {
    init_logging("warn");
    let url = sqlite_url(
        &args.flags,
        "back it up with pg_dump (tessera backup copies SQLite databases)",
    )?;
    let store = SqlStore::open_sqlite_source(&url)
        .await
        .map_err(failed("the database", "cannot open the database"))?;
    store.backup_to(&args.path).await.map_err(failed(
        "the database",
        "the backup failed, and nothing was left at the path",
    ))?;
    println!(
        "Backed up {url} to {} (restore: stop the service, put the file in the \
         database's place; docs/deploy.md).",
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(args: MigrateArgs) -> Result<ExitCode, CliError> {
    init_logging("warn");
    let url = sqlite_url(
        &args.flags,
        "migrate copies a SQLite deployment into PostgreSQL",
    )?;
    if !is_postgres(&args.to) {
        return Err(CliError::Input(
            "--to takes a PostgreSQL URL, as in postgres://USER:PASSWORD@HOST/DB".to_owned(),
        ));
    }
    let store = SqlStore::open_sqlite_source(&url)
        .await
        .map_err(failed("the database", "cannot open the database"))?;
    // The URL is never repeated: it may hold a password.
    let tables = store
        .copy_to_postgres(&args.to, &PgOptions::default())
        .await
        .map_err(failed(
            "the PostgreSQL database (--to)",
            "the copy into PostgreSQL failed (it is one transaction: none of it was kept)",
        ))?;
    println!("Copied {url} into PostgreSQL. Rows per table, the same on both sides:\n");
    let width = tables.iter().map(|t| t.table.len()).max().unwrap_or(0);
    for table in &tables {
        println!("  {:<width$}  {}", table.table, table.rows);
    }
    println!(
        "\nNow point the service at PostgreSQL (database.url or TESSERA_DATABASE_URL) \
         and start it."
    );
    Ok(ExitCode::SUCCESS)
}
