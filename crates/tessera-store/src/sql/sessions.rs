//! Login sessions, kept by the hash of their id.

use async_trait::async_trait;
use time::OffsetDateTime;

use tessera_core::model::{AuditEvent, Session};
use tessera_core::{MemberId, SecretHash};

use sqlx::any::AnyRow;
use tessera_core::OrgId;

use super::rows::{required_hash, text, time};
use super::{db, insert_error, optional, secs, Run, SqlStore};
use crate::{Result, SessionStore, Unique};

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
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
        .map_err(|e| {
            insert_error(e, Unique::SessionId, || {
                format!("member {}", session.member_id)
            })
        })?;
        self.commit(tx, audit, None).await
    }

    async fn get_session(&self, id_hash: &SecretHash) -> Result<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id_hash = $1");
        optional(sqlx::query(&sql).bind(&id_hash.0[..]), &self.pool, from_row).await
    }

    /// Ends a session. Ending one that is already gone succeeds (logging
    /// out twice is not an error) but, having changed nothing, records
    /// nothing.
    async fn delete_session(&self, id_hash: &SecretHash, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(&id_hash.0[..])
            .run(&mut *tx)
            .await?;
        match audit {
            Some(event) if deleted > 0 => self.commit(tx, event, None).await,
            _ => tx.commit().await.map_err(db),
        }
    }

    async fn delete_member_sessions(
        &self,
        member: &MemberId,
        keep: Option<&SecretHash>,
    ) -> Result<()> {
        // An empty hash matches no session: keeping "none" keeps nothing.
        let keep: &[u8] = keep.map_or(&[], |k| &k.0[..]);
        sqlx::query("DELETE FROM sessions WHERE member_id = $1 AND id_hash <> $2")
            .bind(member.as_str())
            .bind(keep)
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes sessions whose `expires_at` is not after `now` (a session is
    /// unusable from its expiry on).
    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        let expired = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(secs(now))
            .run(&self.pool)
            .await?;
        Ok(expired)
    }
}

const SESSION_COLUMNS: &str = "id_hash, org_id, member_id, created_at, expires_at";

fn from_row(row: &AnyRow) -> Result<Session> {
    Ok(Session {
        id_hash: required_hash(row, "id_hash")?,
        member_id: MemberId::from_trusted(text(row, "member_id")?),
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        created_at: time(row, "created_at")?,
        expires_at: time(row, "expires_at")?,
    })
}
