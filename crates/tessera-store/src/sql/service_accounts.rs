//! Service accounts of an org, with their custom roles (ordered rows of
//! `service_account_custom_roles`, which reference the roles, so a role an
//! account holds cannot vanish). Deleting an account deletes its tokens by
//! `ON DELETE CASCADE`; on PostgreSQL they are locked first, in id order,
//! the order last-used flushes lock them in, as `delete_member` does.

use async_trait::async_trait;
use sqlx::any::AnyRow;

use tessera_core::model::{AuditEvent, ServiceAccount, Token, TokenOwner};
use tessera_core::{MemberId, OrgId, ServiceAccountId};

use super::dialect::Dialect;
use super::rows::{builtin_role, get, json, text, time};
use super::{all, granted_roles, insert_error, insert_role_grants, optional, secs, Run, SqlStore};
use crate::{Change, Result, ServiceAccountStore, Unique};

const INSERT_ACCOUNT_ROLE: &str = "INSERT INTO service_account_custom_roles (org_id, \
     service_account_id, role_key, position) VALUES ($1, $2, $3, $4)";

#[async_trait]
impl ServiceAccountStore for SqlStore {
    async fn create_service_account(
        &self,
        account: &ServiceAccount,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO service_accounts (id, org_id, name, description, role, created_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(account.id.as_str())
        .bind(account.org_id.as_str())
        .bind(&account.name)
        .bind(account.description.as_deref())
        .bind(account.role.as_str())
        .bind(secs(account.created_at))
        .bind(account.created_by.as_ref().map(MemberId::as_str))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            insert_error(e, Unique::ServiceAccountName, || {
                format!("org {}", account.org_id)
            })
        })?;
        insert_role_grants(
            &mut tx,
            INSERT_ACCOUNT_ROLE,
            &account.org_id,
            account.id.as_str(),
            &account.custom_roles,
        )
        .await?;
        let change = Change::ServiceAccount {
            id: account.id.clone(),
            removed: false,
        };
        self.commit(tx, audit, Some(change)).await
    }

    async fn get_service_account(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<Option<ServiceAccount>> {
        let sql = format!("{} WHERE a.org_id = $1 AND a.id = $2", self.accounts());
        let query = sqlx::query(&sql).bind(org.as_str()).bind(id.as_str());
        optional(query, &self.pool, from_row).await
    }

    async fn list_service_accounts(&self, org: &OrgId) -> Result<Vec<ServiceAccount>> {
        let sql = format!(
            "{} WHERE a.org_id = $1 ORDER BY a.name, a.id",
            self.accounts()
        );
        all(sqlx::query(&sql).bind(org.as_str()), &self.pool, from_row).await
    }

    async fn update_service_account(
        &self,
        account: &ServiceAccount,
        audit: &AuditEvent,
    ) -> Result<()> {
        let (org, id) = (&account.org_id, &account.id);
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE service_accounts SET name = $1, description = $2, role = $3 \
             WHERE org_id = $4 AND id = $5",
        )
        .bind(&account.name)
        .bind(account.description.as_deref())
        .bind(account.role.as_str())
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, Unique::ServiceAccountName, || format!("org {org}")))
        .and_then(|done| super::found(done.rows_affected()))?;
        sqlx::query(
            "DELETE FROM service_account_custom_roles WHERE org_id = $1 \
             AND service_account_id = $2",
        )
        .bind(org.as_str())
        .bind(id.as_str())
        .run(&mut *tx)
        .await?;
        insert_role_grants(
            &mut tx,
            INSERT_ACCOUNT_ROLE,
            org,
            id.as_str(),
            &account.custom_roles,
        )
        .await?;
        let change = Change::ServiceAccount {
            id: id.clone(),
            removed: false,
        };
        self.commit(tx, audit, Some(change)).await
    }

    async fn delete_service_account(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let owner = TokenOwner::ServiceAccount(id.clone());
        let gone = super::webhooks::subject_of(&mut tx, &self.dialect, audit).await?;
        super::tokens::before_owner_removed(
            &mut tx,
            &self.dialect,
            org,
            &owner,
            audit,
            "service_account_deleted",
        )
        .await?;
        sqlx::query("DELETE FROM service_accounts WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .run_found(&mut *tx)
            .await?;
        let change = Change::ServiceAccount {
            id: id.clone(),
            removed: true,
        };
        self.commit_with(tx, audit, Some(change), gone).await
    }

    async fn list_service_account_tokens(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<Vec<Token>> {
        self.owned_tokens(org, &TokenOwner::ServiceAccount(id.clone()))
            .await
    }
}

impl SqlStore {
    /// `SELECT` every column of [`from_row`] `FROM service_accounts a`.
    fn accounts(&self) -> String {
        account_select(&self.dialect)
    }
}

/// `SELECT` every column of [`from_row`] `FROM service_accounts a`.
pub(super) fn account_select(dialect: &Dialect) -> String {
    let custom_roles = granted_roles(
        dialect,
        "service_account_custom_roles",
        "service_account_id",
        "a",
    );
    format!(
        "SELECT a.id, a.org_id, a.name, a.description, a.role, a.created_at, \
         a.created_by, {custom_roles} AS custom_roles FROM service_accounts a"
    )
}

pub(super) fn from_row(row: &AnyRow) -> Result<ServiceAccount> {
    let created_by: Option<String> = get(row, "created_by")?;
    Ok(ServiceAccount {
        id: ServiceAccountId::from_trusted(text(row, "id")?),
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        name: text(row, "name")?,
        description: get(row, "description")?,
        role: builtin_role("role", &text(row, "role")?)?,
        custom_roles: json(row, "custom_roles")?,
        created_at: time(row, "created_at")?,
        created_by: created_by.map(MemberId::from_trusted),
    })
}
