//! Members of an org.
//!
//! The last-owner rule: a call that may demote or remove an owner first
//! locks the org's row (on PostgreSQL `FOR NO KEY UPDATE`, which still lets
//! members, roles and projects be inserted under the org), then reads the
//! member's role and, after the change, counts the owners left. Two such
//! calls in one org take turns, and the second counts with the first's
//! change visible, so two concurrent demotions of two owners cannot leave
//! the org without one. If no owner is left the transaction rolls back
//! with `LastOwner`.

use async_trait::async_trait;
use sqlx::AnyConnection;

use tessera_core::model::{AuditEvent, Member};
use tessera_core::{BuiltinRole, MemberId, OrgId, RoleKey};

use super::dialect::Dialect;
use sqlx::any::AnyRow;

use super::rows::{builtin_role, get, json, text, time};
use super::{
    all, db, granted_roles, insert_error, insert_role_grants, optional, secs, Run, SqlStore,
};
use crate::{Change, MemberStore, Result, StoreError, Unique};

const INSERT_MEMBER_ROLE: &str = "INSERT INTO member_custom_roles (org_id, member_id, role_key, \
     position) VALUES ($1, $2, $3, $4)";

/// Inserts a member with its custom roles (inside the caller's
/// transaction: creating an org inserts its first owner).
pub(super) async fn insert(conn: &mut AnyConnection, member: &Member) -> Result<()> {
    sqlx::query(
        "INSERT INTO members (id, org_id, email, name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(member.id.as_str())
    .bind(member.org_id.as_str())
    .bind(&member.email)
    .bind(&member.name)
    .bind(member.role.as_str())
    .bind(member.password_hash.as_deref())
    .bind(secs(member.created_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, Unique::MemberEmail, || format!("org {}", member.org_id)))?;
    insert_role_grants(
        conn,
        INSERT_MEMBER_ROLE,
        &member.org_id,
        member.id.as_str(),
        &member.custom_roles,
    )
    .await
}

#[async_trait]
impl MemberStore for SqlStore {
    async fn create_member(&self, member: &Member, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        insert(&mut tx, member).await?;
        self.commit(tx, audit, None).await
    }

    async fn get_member(&self, org: &OrgId, id: &MemberId) -> Result<Option<Member>> {
        let sql = format!("{} WHERE m.org_id = $1 AND m.id = $2", self.members());
        let query = sqlx::query(&sql).bind(org.as_str()).bind(id.as_str());
        optional(query, &self.pool, from_row).await
    }

    async fn members_by_email(&self, email: &str) -> Result<Vec<Member>> {
        let sql = format!(
            "{} WHERE m.email = $1 ORDER BY m.created_at, m.id",
            self.members()
        );
        all(sqlx::query(&sql).bind(email), &self.pool, from_row).await
    }

    async fn list_members(&self, org: &OrgId) -> Result<Vec<Member>> {
        let sql = format!(
            "{} WHERE m.org_id = $1 ORDER BY m.email, m.id",
            self.members()
        );
        all(sqlx::query(&sql).bind(org.as_str()), &self.pool, from_row).await
    }

    async fn update_member_roles(
        &self,
        org: &OrgId,
        id: &MemberId,
        role: BuiltinRole,
        custom_roles: &[RoleKey],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        lock_org(&mut tx, &self.dialect, org).await?;
        let was = current_role(&mut tx, &self.dialect, org, id).await?;
        sqlx::query("UPDATE members SET role = $1 WHERE org_id = $2 AND id = $3")
            .bind(role.as_str())
            .bind(org.as_str())
            .bind(id.as_str())
            .run(&mut *tx)
            .await?;
        if was == BuiltinRole::Owner && role != BuiltinRole::Owner {
            ensure_an_owner(&mut tx, org).await?;
        }
        sqlx::query("DELETE FROM member_custom_roles WHERE org_id = $1 AND member_id = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .run(&mut *tx)
            .await?;
        insert_role_grants(&mut tx, INSERT_MEMBER_ROLE, org, id.as_str(), custom_roles).await?;
        let change = Change::Member {
            id: id.clone(),
            removed: false,
        };
        self.commit(tx, audit, Some(change)).await
    }

    async fn set_password(
        &self,
        id: &MemberId,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE members SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.as_str())
            .run_found(&mut *tx)
            .await?;
        let change = Change::Member {
            id: id.clone(),
            removed: false,
        };
        self.commit(tx, audit, Some(change)).await
    }

    /// Deletes the member; its role grants, tokens (with theirs) and
    /// sessions go with it by `ON DELETE CASCADE`. On PostgreSQL the
    /// member's tokens are locked first, in id order, the order last-used
    /// flushes lock them in, so the cascade cannot deadlock with a flush.
    async fn delete_member(&self, org: &OrgId, id: &MemberId, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        lock_org(&mut tx, &self.dialect, org).await?;
        let was = current_role(&mut tx, &self.dialect, org, id).await?;
        let gone = super::webhooks::subject_of(&mut tx, &self.dialect, audit).await?;
        let owner = tessera_core::TokenOwner::Member(id.clone());
        super::tokens::before_owner_removed(
            &mut tx,
            &self.dialect,
            org,
            &owner,
            audit,
            "member_removed",
        )
        .await?;
        sqlx::query("DELETE FROM members WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .run(&mut *tx)
            .await?;
        if was == BuiltinRole::Owner {
            ensure_an_owner(&mut tx, org).await?;
        }
        let change = Change::Member {
            id: id.clone(),
            removed: true,
        };
        self.commit_with(tx, audit, Some(change), gone).await
    }
}

impl SqlStore {
    /// `SELECT` every column of [`from_row`] `FROM members m`.
    fn members(&self) -> String {
        member_select(&self.dialect)
    }
}

/// Serialises the calls that may take an org's last owner away. An
/// unknown org locks nothing; the member lookup then reports `NotFound`.
async fn lock_org(conn: &mut AnyConnection, dialect: &Dialect, org: &OrgId) -> Result<()> {
    if dialect.is_shared() {
        sqlx::query(&format!(
            "SELECT 1 FROM orgs WHERE id = $1{}",
            dialect.lock_rows()
        ))
        .bind(org.as_str())
        .run(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A member's built-in role, or `NotFound`. The row is locked against
/// other role changes, not against new tokens (their foreign-key check
/// only needs a key-share lock).
async fn current_role(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    org: &OrgId,
    id: &MemberId,
) -> Result<BuiltinRole> {
    let role: Option<String> = sqlx::query_scalar(&format!(
        "SELECT role FROM members WHERE org_id = $1 AND id = $2{}",
        dialect.lock_rows()
    ))
    .bind(org.as_str())
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let role = role.ok_or(StoreError::NotFound)?;
    role.parse()
        .map_err(|e| StoreError::Database(format!("unreadable value in column role: {e}")))
}

/// Fails with `LastOwner` when the org has no owner left.
async fn ensure_an_owner(conn: &mut AnyConnection, org: &OrgId) -> Result<()> {
    let owners: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE org_id = $1 AND role = 'owner'")
            .bind(org.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
    if owners == 0 {
        return Err(StoreError::LastOwner);
    }
    Ok(())
}

/// The columns of [`from_row`], from `members m`: its custom roles are
/// gathered as a JSON list in their order.
pub(super) fn member_select(dialect: &Dialect) -> String {
    let custom_roles = granted_roles(dialect, "member_custom_roles", "member_id", "m");
    format!(
        "SELECT m.id, m.org_id, m.email, m.name, m.role, m.password_hash, m.created_at, \
         {custom_roles} AS custom_roles FROM members m"
    )
}

pub(super) fn from_row(row: &AnyRow) -> Result<Member> {
    Ok(Member {
        id: MemberId::from_trusted(text(row, "id")?),
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        email: text(row, "email")?,
        name: text(row, "name")?,
        role: builtin_role("role", &text(row, "role")?)?,
        custom_roles: json(row, "custom_roles")?,
        password_hash: get(row, "password_hash")?,
        created_at: time(row, "created_at")?,
    })
}
