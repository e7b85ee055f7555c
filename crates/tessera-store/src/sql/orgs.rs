//! Organizations: the tenants everything else belongs to. An org is
//! created together with its first owner.

use async_trait::async_trait;

use tessera_core::model::{AuditEvent, Member, Org};
use tessera_core::{OrgId, OrgKey};

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use tessera_core::{InactiveAction, TokenPolicy};

use super::rows::{corrupt, flag, get, json, opt_time, text, time, to_json};
use super::{db, insert_error, members, opt_secs, optional, secs, Run, SqlStore};
use crate::{Change, OrgStore, Result, Unique};

#[async_trait]
impl OrgStore for SqlStore {
    async fn count_orgs(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n.unsigned_abs())
    }

    async fn create_org(&self, org: &Org, owner: &Member, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        insert(&mut tx, org, owner).await?;
        self.commit(tx, audit, None).await
    }

    async fn get_org(&self, id: &OrgId) -> Result<Option<Org>> {
        self.org_where("id", id.as_str()).await
    }

    async fn get_org_by_key(&self, key: &OrgKey) -> Result<Option<Org>> {
        self.org_where("key", key.as_str()).await
    }

    async fn update_org(&self, org: &Org, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        save(&mut tx, org).await?;
        self.commit(tx, audit, Some(Change::Org(org.id.clone())))
            .await
    }
}

/// Inserts an org and its first owner (inside the caller's transaction).
pub(super) async fn insert(conn: &mut AnyConnection, org: &Org, owner: &Member) -> Result<()> {
    sqlx::query(
        "INSERT INTO orgs (id, key, name, require_expiration, max_lifetime_days, created_at, \
         inactive_days, inactive_action, suspended_at, expiry_warning_days, \
         expiry_warning_max) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(org.id.as_str())
    .bind(org.key.as_str())
    .bind(&org.name)
    .bind(org.token_policy.require_expiration)
    .bind(org.token_policy.max_lifetime_days.map(i64::from))
    .bind(secs(org.created_at))
    .bind(org.token_policy.inactive_days.map(i64::from))
    .bind(org.token_policy.inactive_action.as_str())
    .bind(opt_secs(org.suspended_at))
    .bind(to_json(&org.token_policy.expiry_warning_days)?)
    .bind(i64::from(org.token_policy.expiry_warning_days.largest()))
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, Unique::OrgKey, String::new))?;
    members::insert(conn, owner).await
}

/// Saves the org's name, token policy and suspension (inside the caller's
/// transaction); `NotFound` for an unknown org.
pub(super) async fn save(conn: &mut AnyConnection, org: &Org) -> Result<()> {
    sqlx::query(
        "UPDATE orgs SET name = $1, require_expiration = $2, max_lifetime_days = $3, \
         inactive_days = $4, inactive_action = $5, suspended_at = $6, \
         expiry_warning_days = $7, expiry_warning_max = $8 WHERE id = $9",
    )
    .bind(&org.name)
    .bind(org.token_policy.require_expiration)
    .bind(org.token_policy.max_lifetime_days.map(i64::from))
    .bind(org.token_policy.inactive_days.map(i64::from))
    .bind(org.token_policy.inactive_action.as_str())
    .bind(opt_secs(org.suspended_at))
    .bind(to_json(&org.token_policy.expiry_warning_days)?)
    .bind(i64::from(org.token_policy.expiry_warning_days.largest()))
    .bind(org.id.as_str())
    .run_found(&mut *conn)
    .await
}

impl SqlStore {
    /// Reads an org by `column` (`id` or `key`, never user input).
    async fn org_where(&self, column: &'static str, value: &str) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE {column} = $1");
        optional(sqlx::query(&sql).bind(value), &self.pool, from_row).await
    }
}

pub(super) const ORG_COLUMNS: &str =
    "id, key, name, require_expiration, max_lifetime_days, created_at, \
     inactive_days, inactive_action, suspended_at, expiry_warning_days";

fn days(row: &AnyRow, column: &'static str) -> Result<Option<u32>> {
    let days: Option<i64> = get(row, column)?;
    days.map(|d| u32::try_from(d).map_err(|e| corrupt(column, e)))
        .transpose()
}

pub(super) fn from_row(row: &AnyRow) -> Result<Org> {
    let max_lifetime_days = days(row, "max_lifetime_days")?;
    let action = text(row, "inactive_action")?;
    let inactive_action =
        InactiveAction::parse(&action).ok_or_else(|| corrupt("inactive_action", &action))?;
    Ok(Org {
        id: OrgId::from_trusted(text(row, "id")?),
        key: OrgKey::from_trusted(text(row, "key")?),
        name: text(row, "name")?,
        token_policy: TokenPolicy {
            require_expiration: flag(row, "require_expiration")?,
            max_lifetime_days,
            inactive_days: days(row, "inactive_days")?,
            inactive_action,
            expiry_warning_days: json(row, "expiry_warning_days")?,
        },
        created_at: time(row, "created_at")?,
        suspended_at: opt_time(row, "suspended_at")?,
    })
}
