//! The audit log: written inside other calls' transactions, read newest
//! first with filters and a cursor.
//!
//! Prefix filters use `starts_with`, so `%` and `_` in what a client typed
//! are plain characters, never wildcards. Ids compare byte by byte (the
//! column is `COLLATE "C"`), as in SQLite.

use sqlx::postgres::PgConnection;
use sqlx::{PgPool, Postgres, QueryBuilder};

use tessera_core::model::AuditEvent;
use tessera_core::OrgId;

use super::rows::{self, AUDIT_COLUMNS};
use super::{db, secs};
use crate::{AuditQuery, Result};

/// Most events one page may hold.
/// Callers page at most 500 rows and ask for one more to learn whether a
/// next page exists.
pub(super) const MAX_PAGE: u32 = 1000;

pub(super) async fn insert(conn: &mut PgConnection, event: &AuditEvent) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&event.id)
    .bind(event.org_id.as_str())
    .bind(secs(event.at))
    .bind(event.actor.member.as_ref().map(|m| m.as_str()))
    .bind(event.actor.token.as_ref().map(|t| t.as_str()))
    .bind(&event.action)
    .bind(&event.target)
    .bind(event.ip.as_deref())
    .bind(event.details.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn list(
    pool: &PgPool,
    org: &OrgId,
    query: &AuditQuery,
) -> Result<Vec<AuditEvent>> {
    let mut sql =
        QueryBuilder::<Postgres>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE org_id = "));
    sql.push_bind(org.as_str());
    if let Some(actor) = &query.actor {
        sql.push(" AND actor_member = ").push_bind(actor.as_str());
    }
    match query.action.as_deref() {
        Some(prefix) if prefix.ends_with(':') => {
            sql.push(" AND starts_with(action, ")
                .push_bind(prefix)
                .push(")");
        }
        Some(action) => {
            sql.push(" AND action = ").push_bind(action);
        }
        None => {}
    }
    if let Some(prefix) = query.target.as_deref() {
        sql.push(" AND starts_with(target, ")
            .push_bind(prefix)
            .push(")");
    }
    if let Some(before) = query.before.as_deref() {
        sql.push(" AND id < ").push_bind(before);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(query.limit.clamp(1, MAX_PAGE)));
    sql.build()
        .fetch_all(pool)
        .await
        .map_err(db)?
        .iter()
        .map(rows::audit)
        .collect()
}
