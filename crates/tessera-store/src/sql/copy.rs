//! `tessera migrate`: copies a SQLite deployment into an empty PostgreSQL
//! database, for a deployment that outgrows one machine.
//!
//! The copy is generic, so a table added by a later migration is copied
//! without a change here: the tables are those of the SQLite schema, in
//! the order their foreign keys require (parents first); each column is
//! read as the type PostgreSQL declares for it. Both schemas come from the
//! same binary's migrations, so they have the same tables and columns; a
//! difference is an error, never a silent loss.
//!
//! SQLite is read in one transaction (one snapshot, even if a server is
//! still writing) and PostgreSQL written in one, so the target holds all
//! of the copy or none of it. Row counts are compared table by table after
//! the commit.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::any::AnyRow;
use sqlx::{Any, Connection, Row, Transaction};

use super::backup::OperationError;
use super::{db, PgOptions, SqlStore, Statement};
use crate::{Result, StoreError};

/// sqlx's own bookkeeping: each side already has it, from its migrations.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";
/// Rows read from SQLite at a time: bounds memory on a large audit log.
const PAGE_ROWS: i64 = 500;
/// PostgreSQL accepts at most 65535 bound values in one statement.
const MAX_BINDS: usize = 60_000;

/// One table as copied: its name and how many rows it holds on both
/// sides afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub table: String,
    pub rows: u64,
}

/// How a column is read from SQLite and written to PostgreSQL, by the type
/// PostgreSQL declares.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Integer,
    /// SQLite stores a boolean as 0 or 1.
    Boolean,
    Bytes,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        match data_type {
            "text" | "character varying" => Some(Kind::Text),
            "bigint" | "integer" | "smallint" => Some(Kind::Integer),
            "boolean" => Some(Kind::Boolean),
            "bytea" => Some(Kind::Bytes),
            _ => None,
        }
    }
}

/// A table to copy: its columns, in PostgreSQL's order, with their kinds.
#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
}

impl SqlStore {
    /// Copies this SQLite database into the PostgreSQL database `url`
    /// names, which is created and migrated as `serve` would, and must hold
    /// no rows of Tessera's and no table of anyone else's. Returns every
    /// table with its row count, verified equal on both sides.
    pub async fn copy_to_postgres(
        &self,
        url: &str,
        pg: &PgOptions,
    ) -> std::result::Result<Vec<CopiedTable>, OperationError> {
        if self.dialect.is_shared() {
            return Err(OperationError::Refused(
                "the source database is already PostgreSQL; migrate copies a SQLite deployment"
                    .to_owned(),
            ));
        }
        if !matches!(url.split_once(':'), Some(("postgres" | "postgresql", _))) {
            return Err(OperationError::Refused(
                "--to takes a PostgreSQL URL, as in postgres://user:password@host/db".to_owned(),
            ));
        }
        let mut source = self.pool.begin().await.map_err(db)?;
        let names = tables_in_order(&mut source).await?;
        refuse_foreign_tables(url, &names).await?;
        let target = SqlStore::connect_with(url, pg).await?;
        let mut sink = target.pool.begin().await.map_err(db)?;
        refuse_other_schema(&mut source, &mut sink).await?;
        let mut tables = Vec::with_capacity(names.len());
        for name in &names {
            let table = describe(&mut sink, name).await?;
            refuse_rows(&mut sink, name).await?;
            tables.push(table);
        }
        let mut expected = Vec::with_capacity(tables.len());
        for table in &tables {
            copy_table(&mut source, &mut sink, table).await?;
            expected.push(count(&mut source, &table.name).await?);
        }
        sink.commit().await.map_err(db)?;
        source.rollback().await.map_err(db)?;
        // Counted again on a fresh connection, after the commit: what
        // another node will read, not what the transaction believed.
        let mut conn = target.pool.acquire().await.map_err(db)?;
        let mut copied = Vec::with_capacity(tables.len());
        for (table, rows) in tables.into_iter().zip(expected) {
            let landed = count(&mut conn, &table.name).await?;
            if landed != rows {
                return Err(StoreError::Database(format!(
                    "after the copy, table {} has {landed} rows in PostgreSQL but {rows} in \
                     SQLite; do not use the PostgreSQL database: empty it and migrate again",
                    table.name
                ))
                .into());
            }
            copied.push(CopiedTable {
                table: table.name,
                rows,
            });
        }
        drop(conn);
        target.pool.close().await;
        Ok(copied)
    }
}

/// The SQLite database's tables (not SQLite's or sqlx's own), parents
/// before the tables whose foreign keys reference them.
async fn tables_in_order(source: &mut Transaction<'static, Any>) -> Result<Vec<String>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> $1 ORDER BY name",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(&mut **source)
    .await
    .map_err(db)?;
    let mut parents = BTreeMap::new();
    for name in &names {
        let referenced: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list($1)")
                .bind(name.as_str())
                .fetch_all(&mut **source)
                .await
                .map_err(db)?;
        let referenced: BTreeSet<String> = referenced.into_iter().filter(|p| p != name).collect();
        parents.insert(name.clone(), referenced);
    }
    let mut ordered: Vec<String> = Vec::with_capacity(names.len());
    while ordered.len() < names.len() {
        let ready = names.iter().find(|name| {
            !ordered.contains(name) && parents[*name].iter().all(|p| ordered.contains(p))
        });
        match ready {
            Some(name) => ordered.push(name.clone()),
            None => {
                return Err(StoreError::Database(
                    "the tables' foreign keys form a cycle; no copy order exists".to_owned(),
                ))
            }
        }
    }
    Ok(ordered)
}

/// Refuses a PostgreSQL schema that holds a table Tessera does not own:
/// `migrate` fills an empty database, and must not add Tessera's tables
/// beside another application's. Checked before connecting the store,
/// whose migrations would create those tables.
async fn refuse_foreign_tables(
    url: &str,
    ours: &[String],
) -> std::result::Result<(), OperationError> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(db)?;
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(db)?;
    let _ = conn.close().await;
    let foreign: Vec<&String> = present
        .iter()
        .filter(|t| *t != MIGRATIONS_TABLE && !ours.contains(t))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let list = foreign
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Err(OperationError::Refused(format!(
        "the PostgreSQL database is not empty: it has tables that are not Tessera's ({list}); \
         migrate copies into an empty database only (create one with `createdb`)"
    )))
}

/// Refuses a SQLite database whose schema is not the one this binary
/// gave PostgreSQL: the columns would not match. The source is never
/// migrated here, since it stays the way back, and the server that wrote
/// it may be older.
async fn refuse_other_schema(
    source: &mut Transaction<'static, Any>,
    sink: &mut Transaction<'static, Any>,
) -> std::result::Result<(), OperationError> {
    let ours = applied(sink).await?;
    let theirs = applied(source).await.map_err(|_| {
        OperationError::Refused(
            "the SQLite database is not a Tessera database (it has no migration history)"
                .to_owned(),
        )
    })?;
    if ours == theirs {
        return Ok(());
    }
    let last = |versions: &[i64]| versions.last().copied().unwrap_or(0);
    Err(OperationError::Refused(format!(
        "the SQLite database's schema is at migration {} and this tessera's at {}: \
         run this version's `tessera serve` on it once (it migrates at start), stop it, \
         then migrate",
        last(&theirs),
        last(&ours)
    )))
}

/// The migrations a database has applied, in order.
async fn applied(conn: &mut sqlx::AnyConnection) -> Result<Vec<i64>> {
    sqlx::query_scalar(&format!(
        "SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version"
    ))
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Refuses a target table that already has rows: merging two deployments
/// would clash on ids or, worse, mix two organizations' data.
async fn refuse_rows(
    sink: &mut Transaction<'static, Any>,
    table: &str,
) -> std::result::Result<(), OperationError> {
    let rows = count(sink, table).await?;
    if rows == 0 {
        return Ok(());
    }
    Err(OperationError::Refused(format!(
        "the PostgreSQL database is not empty: table {table} already holds {rows} row(s); \
         migrate copies into an empty database only (create a new one with `createdb`)"
    )))
}

/// The table's columns as PostgreSQL declares them.
async fn describe(sink: &mut Transaction<'static, Any>, table: &str) -> Result<Table> {
    let rows = sqlx::query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut **sink)
    .await
    .map_err(db)?;
    if rows.is_empty() {
        return Err(StoreError::Database(format!(
            "table {table} is in SQLite but not in PostgreSQL; \
             the two schemas come from different versions"
        )));
    }
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get(0).map_err(db)?;
        let data_type: String = row.try_get(1).map_err(db)?;
        let kind = Kind::of(&data_type).ok_or_else(|| {
            StoreError::Database(format!(
                "column {table}.{name} has the type {data_type}, which migrate cannot copy"
            ))
        })?;
        columns.push((name, kind));
    }
    Ok(Table {
        name: table.to_owned(),
        columns,
    })
}

/// How many rows `table` holds, as the connection sees it.
async fn count(conn: &mut sqlx::AnyConnection, table: &str) -> Result<u64> {
    let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quoted(table)))
        .fetch_one(conn)
        .await
        .map_err(db)?;
    Ok(u64::try_from(rows).unwrap_or(0))
}

/// Copies every row of `table`, a page at a time in key order, batching
/// the inserts. The key is the `rowid`, or for a WITHOUT ROWID table (the
/// webhook outbox's two) its text primary key `id`.
async fn copy_table(
    source: &mut Transaction<'static, Any>,
    sink: &mut Transaction<'static, Any>,
    table: &Table,
) -> Result<()> {
    let names = table
        .columns
        .iter()
        .map(|(name, _)| quoted(name))
        .collect::<Vec<_>>()
        .join(", ");
    let without_rowid: i64 = sqlx::query_scalar("SELECT wr FROM pragma_table_list($1)")
        .bind(table.name.as_str())
        .fetch_one(&mut **source)
        .await
        .map_err(db)?;
    let mut after = if without_rowid == 1 {
        After::Id(String::new())
    } else {
        After::Rowid(i64::MIN)
    };
    let key = after.key();
    let select = format!(
        "SELECT {key}, {names} FROM {} WHERE {key} > $1 ORDER BY {key} LIMIT {PAGE_ROWS}",
        quoted(&table.name)
    );
    let per_statement = (MAX_BINDS / table.columns.len().max(1)).max(1);
    loop {
        let query = sqlx::query(&select);
        let query = match &after {
            After::Rowid(rowid) => query.bind(*rowid),
            After::Id(id) => query.bind(id.clone()),
        };
        let page = query.fetch_all(&mut **source).await.map_err(db)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = match after {
            After::Rowid(_) => After::Rowid(last.try_get(0).map_err(db)?),
            After::Id(_) => After::Id(last.try_get(0).map_err(db)?),
        };
        for chunk in page.chunks(per_statement) {
            insert(sink, table, &names, chunk).await?;
        }
    }
}

/// How far a table's copy has come: past this `rowid`, or past this `id`
/// in a WITHOUT ROWID table.
enum After {
    Rowid(i64),
    Id(String),
}

impl After {
    fn key(&self) -> &'static str {
        match self {
            After::Rowid(_) => "rowid",
            After::Id(_) => "id",
        }
    }
}

/// One multi-row `INSERT` of `rows` (read with their key first) into the
/// target.
async fn insert(
    sink: &mut Transaction<'static, Any>,
    table: &Table,
    names: &str,
    rows: &[AnyRow],
) -> Result<()> {
    let mut statement = Statement::new(format!(
        "INSERT INTO {} ({names}) VALUES ",
        quoted(&table.name)
    ));
    for (r, row) in rows.iter().enumerate() {
        statement.push(if r == 0 { "(" } else { ", (" });
        for (c, (column, kind)) in table.columns.iter().enumerate() {
            if c > 0 {
                statement.push(", ");
            }
            // Column 0 of the row is its key.
            let at = c + 1;
            let decoded = |e| StoreError::Database(format!("reading {}.{column}: {e}", table.name));
            match kind {
                Kind::Text => {
                    statement.bind(row.try_get::<Option<String>, _>(at).map_err(decoded)?)?
                }
                Kind::Integer => {
                    statement.bind(row.try_get::<Option<i64>, _>(at).map_err(decoded)?)?
                }
                Kind::Boolean => {
                    let value = row.try_get::<Option<i64>, _>(at).map_err(decoded)?;
                    statement.bind(value.map(|v| v != 0))?
                }
                Kind::Bytes => {
                    statement.bind(row.try_get::<Option<Vec<u8>>, _>(at).map_err(decoded)?)?
                }
            };
        }
        statement.push(")");
    }
    let (sql, args) = statement.into_parts();
    sqlx::query_with(&sql, args)
        .execute(&mut **sink)
        .await
        .map_err(|e| StoreError::Database(format!("copying into {}: {e}", table.name)))?;
    Ok(())
}

/// An identifier quoted for both databases (names come from the schema,
/// and some, such as `key`, are keywords).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
