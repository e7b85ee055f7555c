//! Custom roles.
//!
//! A role held by a member or a token is refused deletion with `InUse`,
//! counted inside the transaction so the message says by how many. On
//! PostgreSQL the count is race-free across nodes because the role's row
//! is locked (`FOR UPDATE`) first: a grant being written elsewhere holds a
//! key-share lock on that row from its foreign-key check until it commits,
//! so the lock waits for it and the count then sees it; a grant started
//! after the lock waits in its own foreign-key check and, if the role is
//! deleted, fails as an unknown role. The `ON DELETE RESTRICT` references
//! stay as a backstop.

use async_trait::async_trait;
use sqlx::AnyConnection;

use tessera_core::model::{AuditEvent, CustomRole};
use tessera_core::{OrgId, RoleKey};

use sqlx::any::AnyRow;

use super::rows::{json, text, time, to_json};
use super::{all, db, insert_error, optional, secs, Run, SqlStore};
use crate::{Change, Result, RoleStore, StoreError, Unique};

#[async_trait]
impl RoleStore for SqlStore {
    async fn create_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO custom_roles ({ROLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(role.org_id.as_str())
        .bind(role.key.as_str())
        .bind(&role.name)
        .bind(to_json(&role.policy)?)
        .bind(secs(role.created_at))
        .bind(secs(role.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, Unique::RoleKey, || format!("org {}", role.org_id)))?;
        self.commit(tx, audit, Some(Change::Roles(role.org_id.clone())))
            .await
    }

    async fn get_role(&self, org: &OrgId, key: &RoleKey) -> Result<Option<CustomRole>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM custom_roles WHERE org_id = $1 AND key = $2");
        let query = sqlx::query(&sql).bind(org.as_str()).bind(key.as_str());
        optional(query, &self.pool, from_row).await
    }

    async fn list_roles(&self, org: &OrgId) -> Result<Vec<CustomRole>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM custom_roles WHERE org_id = $1 ORDER BY key");
        all(sqlx::query(&sql).bind(org.as_str()), &self.pool, from_row).await
    }

    async fn update_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE custom_roles SET name = $1, policy = $2, updated_at = $3 \
             WHERE org_id = $4 AND key = $5",
        )
        .bind(&role.name)
        .bind(to_json(&role.policy)?)
        .bind(secs(role.updated_at))
        .bind(role.org_id.as_str())
        .bind(role.key.as_str())
        .run_found(&mut *tx)
        .await?;
        self.commit(tx, audit, Some(Change::Roles(role.org_id.clone())))
            .await
    }

    async fn delete_role(&self, org: &OrgId, key: &RoleKey, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query(&format!(
            "SELECT 1 FROM custom_roles WHERE org_id = $1 AND key = $2{}",
            self.dialect.lock_rows_and_references()
        ))
        .bind(org.as_str())
        .bind(key.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let members = holders(&mut tx, "member_custom_roles", org, key).await?;
        let tokens = holders(&mut tx, "token_custom_roles", org, key).await?;
        let accounts = holders(&mut tx, "service_account_custom_roles", org, key).await?;
        if members + tokens + accounts > 0 {
            return Err(in_use(key, members, tokens, accounts));
        }
        sqlx::query("DELETE FROM custom_roles WHERE org_id = $1 AND key = $2")
            .bind(org.as_str())
            .bind(key.as_str())
            .run(&mut *tx)
            .await?;
        self.commit(tx, audit, Some(Change::Roles(org.clone())))
            .await
    }
}

/// How many rows of `table` (a grant table, never user input) hold a role.
async fn holders(
    conn: &mut AnyConnection,
    table: &'static str,
    org: &OrgId,
    key: &RoleKey,
) -> Result<i64> {
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {table} WHERE org_id = $1 AND role_key = $2"
    ))
    .bind(org.as_str())
    .bind(key.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(db)
}

fn in_use(key: &RoleKey, members: i64, tokens: i64, accounts: i64) -> StoreError {
    let plural = |n: i64, what: &str| {
        if n == 1 {
            format!("1 {what}")
        } else {
            format!("{n} {what}s")
        }
    };
    let accounts = if accounts > 0 {
        format!(" and {}", plural(accounts, "service account"))
    } else {
        String::new()
    };
    StoreError::InUse(format!(
        "role {key} is held by {} and {}{accounts}",
        plural(members, "member"),
        plural(tokens, "token")
    ))
}

const ROLE_COLUMNS: &str = "org_id, key, name, policy, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<CustomRole> {
    Ok(CustomRole {
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        key: RoleKey::from_trusted(text(row, "key")?),
        name: text(row, "name")?,
        policy: json(row, "policy")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}
