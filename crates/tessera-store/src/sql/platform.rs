//! The platform API's records: platform keys, the platform audit log, orgs
//! as a whole, members the host product manages, and login links.
//!
//! Calls that change an org write their event to `platform_audit` (never
//! to the org's `audit`) through [`SqlStore::commit_platform`], which still
//! announces the change to every node's cache and still tells the org's
//! webhooks through the outbox. Deleting an org first locks its row
//! (`FOR UPDATE` on PostgreSQL), so nothing can be added under it while its
//! rows go, then removes its children in the order their foreign keys
//! require.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use time::OffsetDateTime;

use tessera_core::model::{AuditEvent, Member, Org};
use tessera_core::platform::{LinkUse, LoginLink, PlatformAuditEvent, PlatformKey};
use tessera_core::{ExternalId, MemberId, OrgId, OrgKey, SecretHash};

use super::rows::{get, json, opt_time, required_hash, text, time};
use super::{all, db, insert_error, members, optional, orgs, secs, Run, SqlStore, Statement};
use crate::{Change, PlatformStore, Result, Unique};

/// Most rows one page of the audit log or the org list may hold.
const MAX_PAGE: u32 = 1000;
/// A key's last use is written at most this often (seconds).
const TOUCH_EVERY: i64 = 60;

const AUDIT_COLUMNS: &str = "id, at, actor_key, action, org_key, external_id, ip, details";
const KEY_COLUMNS: &str = "id, name, snippet, secret_hash, created_at, last_used_at";

pub(super) async fn insert_audit(conn: &mut AnyConnection, e: &PlatformAuditEvent) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO platform_audit ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&e.id)
    .bind(secs(e.at))
    .bind(e.actor_key.as_deref())
    .bind(&e.action)
    .bind(e.org_key.as_ref().map(OrgKey::as_str))
    .bind(e.external_id.as_ref().map(ExternalId::as_str))
    .bind(e.ip.as_deref())
    .bind(e.details.to_string())
    .run(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl PlatformStore for SqlStore {
    async fn create_platform_key(
        &self,
        key: &PlatformKey,
        audit: &PlatformAuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO platform_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.snippet)
        .bind(&key.secret_hash.0[..])
        .bind(secs(key.created_at))
        .bind(key.last_used_at.map(secs))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, Unique::TokenId, String::new))?;
        self.commit_platform(tx, audit, None, &[], None).await
    }

    async fn get_platform_key(&self, id: &str) -> Result<Option<PlatformKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM platform_keys WHERE id = $1");
        optional(sqlx::query(&sql).bind(id), &self.pool, key_from_row).await
    }

    async fn list_platform_keys(&self) -> Result<Vec<PlatformKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM platform_keys ORDER BY id");
        all(sqlx::query(&sql), &self.pool, key_from_row).await
    }

    async fn delete_platform_key(&self, id: &str, audit: &PlatformAuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM platform_keys WHERE id = $1")
            .bind(id)
            .run_found(&mut *tx)
            .await?;
        self.commit_platform(tx, audit, None, &[], None).await
    }

    async fn touch_platform_key(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "UPDATE platform_keys SET last_used_at = $1 WHERE id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(secs(at))
        .bind(id)
        .bind(secs(at) - TOUCH_EVERY)
        .run(&self.pool)
        .await
        .map(drop)
    }

    async fn append_platform_audit(&self, event: &PlatformAuditEvent) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        insert_audit(&mut conn, event).await
    }

    async fn list_platform_audit(
        &self,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PlatformAuditEvent>> {
        let mut sql = Statement::new(format!("SELECT {AUDIT_COLUMNS} FROM platform_audit"));
        if let Some(before) = before {
            sql.push(" WHERE id < ").bind(before)?;
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .bind(i64::from(limit.clamp(1, MAX_PAGE)))?;
        let (sql, args) = sql.into_parts();
        all(sqlx::query_with(&sql, args), &self.pool, audit_from_row).await
    }

    async fn list_orgs(&self, before: Option<&OrgId>, limit: u32) -> Result<Vec<Org>> {
        let mut sql = Statement::new(format!("SELECT {} FROM orgs", orgs::ORG_COLUMNS));
        if let Some(before) = before {
            sql.push(" WHERE id < ").bind(before.as_str())?;
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .bind(i64::from(limit.clamp(1, MAX_PAGE)))?;
        let (sql, args) = sql.into_parts();
        all(sqlx::query_with(&sql, args), &self.pool, orgs::from_row).await
    }

    async fn platform_create_org(
        &self,
        org: &Org,
        owner: &Member,
        audit: &PlatformAuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        orgs::insert(&mut tx, org, owner).await?;
        self.commit_platform(tx, audit, None, &[], None).await
    }

    async fn platform_update_org(&self, org: &Org, audit: &PlatformAuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        orgs::save(&mut tx, org).await?;
        let changes = [Change::Org(org.id.clone())];
        self.commit_platform(tx, audit, None, &changes, None).await
    }

    async fn delete_org(&self, org: &OrgId, audit: &PlatformAuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let lock = format!(
            "SELECT id FROM orgs WHERE id = $1{}",
            self.dialect.lock_rows_and_references()
        );
        let found: Option<String> = sqlx::query_scalar(&lock)
            .bind(org.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if found.is_none() {
            return Err(crate::StoreError::NotFound);
        }
        if self.dialect.is_shared() {
            // The order last-used flushes lock tokens in (see members.rs).
            let tokens = format!(
                "SELECT id FROM tokens WHERE org_id = $1 ORDER BY id{}",
                self.dialect.lock_rows_and_references()
            );
            sqlx::query(&tokens)
                .bind(org.as_str())
                .run(&mut *tx)
                .await?;
        }
        // Children first: grants, sessions and login links go by cascade
        // with their tokens, members and accounts; deliveries with their
        // endpoints.
        for table in [
            "tokens",
            "members",
            "service_accounts",
            "custom_roles",
            "projects",
            "webhooks",
            "webhook_deliveries",
            "email_outbox",
            "audit",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE org_id = $1"))
                .bind(org.as_str())
                .run(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM orgs WHERE id = $1")
            .bind(org.as_str())
            .run_found(&mut *tx)
            .await?;
        let changes = [Change::OrgRemoved(org.clone())];
        self.commit_platform(tx, audit, None, &changes, None).await
    }

    async fn platform_create_member(
        &self,
        member: &Member,
        org_event: &AuditEvent,
        audit: &PlatformAuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        members::insert(&mut tx, member).await?;
        self.commit_platform(tx, audit, Some(org_event), &[], None)
            .await
    }

    async fn platform_update_member(
        &self,
        member: &Member,
        org_event: &AuditEvent,
        audit: &PlatformAuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let (org, id) = (&member.org_id, &member.id);
        members::update_roles(
            &mut tx,
            &self.dialect,
            org,
            id,
            member.role,
            &member.custom_roles,
        )
        .await?;
        sqlx::query(
            "UPDATE members SET email = $1, name = $2, external_id = $3 \
             WHERE org_id = $4 AND id = $5",
        )
        .bind(&member.email)
        .bind(&member.name)
        .bind(member.external_id.as_ref().map(ExternalId::as_str))
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, Unique::MemberEmail, || format!("org {org}")))?;
        let changes = [Change::Member {
            id: id.clone(),
            removed: false,
        }];
        self.commit_platform(tx, audit, Some(org_event), &changes, None)
            .await
    }

    async fn platform_delete_member(
        &self,
        org: &OrgId,
        id: &MemberId,
        org_event: &AuditEvent,
        audit: &PlatformAuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let gone = members::delete(&mut tx, &self.dialect, org, id, org_event).await?;
        let changes = [Change::Member {
            id: id.clone(),
            removed: true,
        }];
        self.commit_platform(tx, audit, Some(org_event), &changes, gone)
            .await
    }

    async fn create_login_link(&self, link: &LoginLink, audit: &PlatformAuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO login_links (id_hash, org_id, member_id, return_to, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link.id_hash.0[..])
        .bind(link.org_id.as_str())
        .bind(link.member_id.as_str())
        .bind(&link.return_to)
        .bind(secs(link.created_at))
        .bind(secs(link.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            insert_error(e, Unique::SessionId, || {
                format!("member {}", link.member_id)
            })
        })?;
        self.commit_platform(tx, audit, None, &[], None).await
    }

    async fn use_login_link(&self, id_hash: &SecretHash, now: OffsetDateTime) -> Result<LinkUse> {
        let spent = sqlx::query(
            "UPDATE login_links SET used_at = $1 \
             WHERE id_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING id_hash, org_id, member_id, return_to, created_at, expires_at",
        )
        .bind(secs(now))
        .bind(&id_hash.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if let Some(row) = spent {
            return link_from_row(&row).map(LinkUse::Opened);
        }
        let state: Option<(Option<i64>, i64)> =
            sqlx::query_as("SELECT used_at, expires_at FROM login_links WHERE id_hash = $1")
                .bind(&id_hash.0[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(match state {
            None => LinkUse::Unknown,
            Some((Some(_), _)) => LinkUse::Used,
            Some((None, _)) => LinkUse::Expired,
        })
    }

    async fn purge_login_links(&self, before: OffsetDateTime) -> Result<u64> {
        sqlx::query("DELETE FROM login_links WHERE expires_at < $1")
            .bind(secs(before))
            .run(&self.pool)
            .await
    }
}

fn key_from_row(row: &AnyRow) -> Result<PlatformKey> {
    Ok(PlatformKey {
        id: text(row, "id")?,
        name: text(row, "name")?,
        snippet: text(row, "snippet")?,
        secret_hash: required_hash(row, "secret_hash")?,
        created_at: time(row, "created_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
    })
}

fn audit_from_row(row: &AnyRow) -> Result<PlatformAuditEvent> {
    let org_key: Option<String> = get(row, "org_key")?;
    let external_id: Option<String> = get(row, "external_id")?;
    Ok(PlatformAuditEvent {
        id: text(row, "id")?,
        at: time(row, "at")?,
        actor_key: get(row, "actor_key")?,
        action: text(row, "action")?,
        org_key: org_key.map(OrgKey::from_trusted),
        external_id: external_id.map(ExternalId::from_trusted),
        ip: get(row, "ip")?,
        details: json(row, "details")?,
    })
}

fn link_from_row(row: &AnyRow) -> Result<LoginLink> {
    Ok(LoginLink {
        id_hash: required_hash(row, "id_hash")?,
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        member_id: MemberId::from_trusted(text(row, "member_id")?),
        return_to: text(row, "return_to")?,
        created_at: time(row, "created_at")?,
        expires_at: time(row, "expires_at")?,
    })
}
