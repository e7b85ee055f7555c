//! Single sign-on: orgs' settings (`org_sso`, one row per allowed domain
//! in `org_sso_domains`) and sign-in steps under way (`sso_flows`).
//!
//! A step is taken with `DELETE … RETURNING`: the row is gone in the same
//! statement that reads it, so two requests with the same state (a replay,
//! a double submit, two nodes) cannot both get it.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use tessera_core::model::{AuditEvent, Member};
use tessera_core::sso::OrgSso;
use tessera_core::{ExternalId, OrgId, SecretHash};

use super::rows::{builtin_role, flag, get, text};
use super::{all, db, insert_error, secs, Run, SqlStore};
use crate::{Result, SsoStore, Unique};

/// An `org_sso` row, without its domains.
fn settings_row(row: &AnyRow) -> Result<(String, OrgSso)> {
    let role: String = text(row, "default_role")?;
    Ok((
        text(row, "org_id")?,
        OrgSso {
            allowed_domains: Vec::new(),
            default_role: builtin_role("default_role", &role)?,
            password_login: flag(row, "password_login")?,
        },
    ))
}

impl SqlStore {
    async fn domains_of(&self, org: &str) -> Result<Vec<String>> {
        all(
            sqlx::query("SELECT domain FROM org_sso_domains WHERE org_id = $1 ORDER BY domain")
                .bind(org.to_owned()),
            &self.pool,
            |row| text(row, "domain"),
        )
        .await
    }

    async fn with_domains(&self, rows: Vec<(String, OrgSso)>) -> Result<Vec<(OrgId, OrgSso)>> {
        let mut out = Vec::with_capacity(rows.len());
        for (org, mut sso) in rows {
            sso.allowed_domains = self.domains_of(&org).await?;
            out.push((OrgId::from_trusted(org), sso));
        }
        Ok(out)
    }
}

#[async_trait]
impl SsoStore for SqlStore {
    async fn get_org_sso(&self, org: &OrgId) -> Result<Option<OrgSso>> {
        let rows = all(
            sqlx::query(
                "SELECT org_id, default_role, password_login FROM org_sso WHERE org_id = $1",
            )
            .bind(org.as_str()),
            &self.pool,
            settings_row,
        )
        .await?;
        Ok(self.with_domains(rows).await?.pop().map(|(_, sso)| sso))
    }

    async fn set_org_sso(&self, org: &OrgId, sso: &OrgSso, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO org_sso (org_id, default_role, password_login) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id) DO UPDATE SET default_role = $2, password_login = $3",
        )
        .bind(org.as_str())
        .bind(sso.default_role.as_str())
        .bind(sso.password_login)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, Unique::OrgKey, || format!("org {org}")))?;
        sqlx::query("DELETE FROM org_sso_domains WHERE org_id = $1")
            .bind(org.as_str())
            .run(&mut *tx)
            .await?;
        for domain in &sso.allowed_domains {
            sqlx::query("INSERT INTO org_sso_domains (org_id, domain) VALUES ($1, $2)")
                .bind(org.as_str())
                .bind(domain.as_str())
                .run(&mut *tx)
                .await?;
        }
        self.commit(tx, audit, None).await
    }

    async fn members_by_external_id(&self, external_id: &ExternalId) -> Result<Vec<Member>> {
        let sql = format!(
            "{} WHERE m.external_id = $1 ORDER BY m.created_at, m.id",
            super::members::member_select(&self.dialect)
        );
        all(
            sqlx::query(&sql).bind(external_id.as_str().to_owned()),
            &self.pool,
            super::members::from_row,
        )
        .await
    }

    async fn orgs_admitting_domain(&self, domain: &str) -> Result<Vec<(OrgId, OrgSso)>> {
        let rows = all(
            sqlx::query(
                "SELECT s.org_id, s.default_role, s.password_login FROM org_sso s \
                 JOIN org_sso_domains d ON d.org_id = s.org_id \
                 WHERE d.domain = $1 ORDER BY s.org_id",
            )
            .bind(domain.to_owned()),
            &self.pool,
            settings_row,
        )
        .await?;
        self.with_domains(rows).await
    }

    async fn put_sso_flow(
        &self,
        id_hash: &SecretHash,
        data: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("DELETE FROM sso_flows WHERE expires_at <= $1")
            .bind(secs(now))
            .run(&self.pool)
            .await?;
        sqlx::query("INSERT INTO sso_flows (id_hash, data, expires_at) VALUES ($1, $2, $3)")
            .bind(&id_hash.0[..])
            .bind(data.to_owned())
            .bind(secs(expires_at))
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn take_sso_flow(
        &self,
        id_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<String>> {
        let row =
            sqlx::query("DELETE FROM sso_flows WHERE id_hash = $1 RETURNING data, expires_at")
                .bind(&id_hash.0[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let expires: i64 = get(&row, "expires_at")?;
        if expires <= secs(now) {
            return Ok(None);
        }
        text(&row, "data").map(Some)
    }
}
