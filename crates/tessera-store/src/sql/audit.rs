//! The audit log: written inside other calls' transactions, read newest
//! first with filters and a cursor.
//!
//! Prefix filters compare `substr(column, 1, length(prefix))`, so `%` and
//! `_` in what a client typed are plain characters, never wildcards. Ids
//! compare byte by byte (SQLite's default; PostgreSQL's columns are
//! `COLLATE "C"`).

use async_trait::async_trait;
use sqlx::AnyConnection;

use tessera_core::model::AuditEvent;
use tessera_core::OrgId;

use sqlx::any::AnyRow;

use super::rows::{get, json, text, time};
use super::{all, db, secs, SqlStore, Statement};
use crate::{AuditQuery, AuditStore, Result};
use tessera_core::model::Actor;
use tessera_core::{MemberId, TokenId};

/// Most events one page may hold.
/// Callers page at most 500 rows and ask for one more to learn whether a
/// next page exists.
const MAX_PAGE: u32 = 1000;

pub(super) async fn insert(conn: &mut AnyConnection, event: &AuditEvent) -> Result<()> {
    insert_statement(event)?.execute(conn).await.map(drop)
}

/// The `INSERT` of `event`, not yet run (to send more with it).
pub(super) fn insert_statement(event: &AuditEvent) -> Result<Statement<'static>> {
    let mut st = Statement::new(format!("INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ("));
    st.bind(event.id.clone())?.push(", ");
    st.bind(event.org_id.as_str().to_owned())?.push(", ");
    st.bind(secs(event.at))?.push(", ");
    st.bind(event.actor.member.as_ref().map(|m| m.as_str().to_owned()))?
        .push(", ");
    st.bind(event.actor.token.as_ref().map(|t| t.as_str().to_owned()))?
        .push(", ");
    st.bind(event.action.clone())?.push(", ");
    st.bind(event.target.clone())?.push(", ");
    st.bind(event.ip.clone())?.push(", ");
    st.bind(event.details.to_string())?.push(")");
    Ok(st)
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        insert(&mut conn, event).await
    }

    async fn list_audit(&self, org: &OrgId, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let mut sql = Statement::new(format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE org_id = "));
        sql.bind(org.as_str())?;
        if let Some(actor) = &query.actor {
            sql.push(" AND actor_member = ").bind(actor.as_str())?;
        }
        match query.action.as_deref() {
            Some(prefix) if prefix.ends_with(':') => starts_with(&mut sql, "action", prefix)?,
            Some(action) => {
                sql.push(" AND action = ").bind(action)?;
            }
            None => {}
        }
        if let Some(prefix) = query.target.as_deref() {
            starts_with(&mut sql, "target", prefix)?;
        }
        if let Some(before) = query.before.as_deref() {
            sql.push(" AND id < ").bind(before)?;
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .bind(i64::from(query.limit.clamp(1, MAX_PAGE)))?;
        let (sql, args) = sql.into_parts();
        all(sqlx::query_with(&sql, args), &self.pool, from_row).await
    }
}

/// Adds ` AND <column> starts with <prefix>`.
fn starts_with<'q>(sql: &mut Statement<'q>, column: &str, prefix: &'q str) -> Result<()> {
    sql.push(&format!(" AND substr({column}, 1, length("))
        .bind(prefix)?
        .push(")) = ")
        .bind(prefix)?;
    Ok(())
}

const AUDIT_COLUMNS: &str =
    "id, org_id, at, actor_member, actor_token, action, target, ip, details";

fn from_row(row: &AnyRow) -> Result<AuditEvent> {
    let actor_member: Option<String> = get(row, "actor_member")?;
    let actor_token: Option<String> = get(row, "actor_token")?;
    Ok(AuditEvent {
        id: text(row, "id")?,
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        at: time(row, "at")?,
        actor: Actor {
            member: actor_member.map(MemberId::from_trusted),
            token: actor_token.map(TokenId::from_trusted),
        },
        action: text(row, "action")?,
        target: text(row, "target")?,
        ip: get(row, "ip")?,
        details: json(row, "details")?,
    })
}
