//! Login sessions, kept by the hash of their id.

use sqlx::PgPool;
use time::OffsetDateTime;

use tessera_core::model::{AuditEvent, Session};
use tessera_core::{MemberId, SecretHash};

use super::rows::{self, SESSION_COLUMNS};
use super::{begin, commit_with, db, insert_error, secs};
use crate::Result;

pub(super) async fn create_session(
    pool: &PgPool,
    session: &Session,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    sqlx::query(&format!(
        "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(&session.id_hash.0[..])
    .bind(session.org_id.as_str())
    .bind(session.member_id.as_str())
    .bind(secs(session.created_at))
    .bind(secs(session.expires_at))
    .execute(&mut *tx)
    .await
    .map_err(|e| insert_error(e, "session_id", || format!("member {}", session.member_id)))?;
    commit_with(tx, audit, None).await
}

pub(super) async fn get_session(pool: &PgPool, id_hash: &SecretHash) -> Result<Option<Session>> {
    sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id_hash = $1"
    ))
    .bind(&id_hash.0[..])
    .fetch_optional(pool)
    .await
    .map_err(db)?
    .as_ref()
    .map(rows::session)
    .transpose()
}

/// Ends a session. Ending one that is already gone succeeds (logging out
/// twice is not an error) but, having changed nothing, records nothing.
pub(super) async fn delete_session(
    pool: &PgPool,
    id_hash: &SecretHash,
    audit: Option<&AuditEvent>,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(&id_hash.0[..])
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    match audit {
        Some(event) if done.rows_affected() > 0 => commit_with(tx, event, None).await,
        _ => tx.commit().await.map_err(db),
    }
}

pub(super) async fn delete_member_sessions(
    pool: &PgPool,
    member: &MemberId,
    keep: Option<&SecretHash>,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM sessions WHERE member_id = $1 AND ($2::bytea IS NULL OR id_hash <> $2)",
    )
    .bind(member.as_str())
    .bind(keep.map(|k| &k.0[..]))
    .execute(pool)
    .await
    .map_err(db)?;
    Ok(())
}

/// Removes sessions whose `expires_at` is not after `now` (a session is
/// unusable from its expiry on).
pub(super) async fn purge_expired_sessions(pool: &PgPool, now: OffsetDateTime) -> Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(secs(now))
        .execute(pool)
        .await
        .map_err(db)?;
    Ok(done.rows_affected())
}
