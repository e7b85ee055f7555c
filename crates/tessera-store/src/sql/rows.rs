//! How a column encodes a value: whole Unix seconds for times, JSON text,
//! 32-byte hashes. Each aggregate's file decodes its rows with these; a
//! value that does not decode (bad JSON, a hash of the wrong length) is a
//! `Database` error naming the column.

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

use tessera_core::{BuiltinRole, SecretHash};

use super::db;
use crate::{Result, StoreError};

pub(super) fn corrupt(column: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("unreadable value in column {column}: {why}"))
}

pub(super) fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(db)
}

/// A flag: PostgreSQL stores `BOOLEAN`, SQLite an integer 0 or 1.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool> {
    match row.try_get::<bool, _>(column) {
        Ok(flag) => Ok(flag),
        Err(_) => Ok(get::<i64>(row, column)? != 0),
    }
}

pub(super) fn text(row: &AnyRow, column: &str) -> Result<String> {
    get(row, column)
}

pub(super) fn time(row: &AnyRow, column: &str) -> Result<OffsetDateTime> {
    let secs: i64 = get(row, column)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| corrupt(column, e))
}

pub(super) fn opt_time(row: &AnyRow, column: &str) -> Result<Option<OffsetDateTime>> {
    let secs: Option<i64> = get(row, column)?;
    secs.map(|s| OffsetDateTime::from_unix_timestamp(s).map_err(|e| corrupt(column, e)))
        .transpose()
}

pub(super) fn hash(row: &AnyRow, column: &str) -> Result<Option<SecretHash>> {
    let bytes: Option<Vec<u8>> = get(row, column)?;
    bytes
        .map(|b| SecretHash::from_slice(&b).ok_or_else(|| corrupt(column, "not 32 bytes")))
        .transpose()
}

pub(super) fn required_hash(row: &AnyRow, column: &str) -> Result<SecretHash> {
    hash(row, column)?.ok_or_else(|| corrupt(column, "missing"))
}

pub(super) fn json<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    serde_json::from_str(&text(row, column)?).map_err(|e| corrupt(column, e))
}

pub(super) fn builtin_role(column: &str, value: &str) -> Result<BuiltinRole> {
    value.parse().map_err(|e| corrupt(column, e))
}

/// Serialises a value for a JSON column.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Database(format!("encoding a JSON column: {e}")))
}
