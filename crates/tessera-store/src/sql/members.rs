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
use tessera_core::{BuiltinRole, ExternalId, MemberId, OrgId, RoleKey};

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
        "INSERT INTO members (id, org_id, email, name, role, password_hash, created_at, \
         external_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(member.id.as_str())
    .bind(member.org_id.as_str())
    .bind(&member.email)
    .bind(&member.name)
    .bind(member.role.as_str())
    .bind(member.password_hash.as_deref())
    .bind(secs(member.created_at))
    .bind(member.external_id.as_ref().map(ExternalId::as_str))
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        // Two unique rules can clash here: say which.
        let what = if is_external_id_clash(&e) {
            Unique::ExternalId
        } else {
            Unique::MemberEmail
        };
        insert_error(e, what, || format!("org {}", member.org_id))
    })?;
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

    async fn get_member_by_external_id(
        &self,
        org: &OrgId,
        external_id: &ExternalId,
    ) -> Result<Option<Member>> {
        let sql = format!(
            "{} WHERE m.org_id = $1 AND m.external_id = $2",
            self.members()
        );
        let query = sqlx::query(&sql)
            .bind(org.as_str())
            .bind(external_id.as_str());
        optional(query, &self.pool, from_row).await
    }

    async fn set_external_id(
        &self,
        org: &OrgId,
        id: &MemberId,
        external_id: Option<&ExternalId>,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE members SET external_id = $1 WHERE org_id = $2 AND id = $3")
            .bind(external_id.map(ExternalId::as_str))
            .bind(org.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error(e, Unique::ExternalId, || format!("org {org}")))
            .and_then(|done| super::found(done.rows_affected()))?;
        // The cached member carries the id (`/verify` answers with it).
        let change = Change::Member {
            id: id.clone(),
            removed: false,
        };
        self.commit(tx, audit, Some(change)).await
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
        update_roles(&mut tx, &self.dialect, org, id, role, custom_roles).await?;
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

    async fn delete_member(&self, org: &OrgId, id: &MemberId, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let gone = delete(&mut tx, &self.dialect, org, id, audit).await?;
        let change = Change::Member {
            id: id.clone(),
            removed: true,
        };
        self.commit_with(tx, audit, Some(change), gone).await
    }
}

/// Replaces a member's built-in role and custom roles, keeping an owner
/// (inside the caller's transaction; the platform API's member updates
/// share it).
pub(super) async fn update_roles(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    org: &OrgId,
    id: &MemberId,
    role: BuiltinRole,
    custom_roles: &[RoleKey],
) -> Result<()> {
    lock_org(conn, dialect, org).await?;
    let was = current_role(conn, dialect, org, id).await?;
    sqlx::query("UPDATE members SET role = $1 WHERE org_id = $2 AND id = $3")
        .bind(role.as_str())
        .bind(org.as_str())
        .bind(id.as_str())
        .run(&mut *conn)
        .await?;
    if was == BuiltinRole::Owner && role != BuiltinRole::Owner {
        ensure_an_owner(conn, org).await?;
    }
    sqlx::query("DELETE FROM member_custom_roles WHERE org_id = $1 AND member_id = $2")
        .bind(org.as_str())
        .bind(id.as_str())
        .run(&mut *conn)
        .await?;
    insert_role_grants(conn, INSERT_MEMBER_ROLE, org, id.as_str(), custom_roles).await
}

/// Deletes the member; its role grants, tokens (with theirs), sessions and
/// login links go with it by `ON DELETE CASCADE`, and each token's
/// `token.revoked` event is written from `audit` (inside the caller's
/// transaction). On PostgreSQL the member's tokens are locked first, in id
/// order, the order last-used flushes lock them in, so the cascade cannot
/// deadlock with a flush.
pub(super) async fn delete(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    org: &OrgId,
    id: &MemberId,
    audit: &AuditEvent,
) -> Result<Option<serde_json::Value>> {
    lock_org(conn, dialect, org).await?;
    let was = current_role(conn, dialect, org, id).await?;
    // The member as the API showed it, for the webhook event's `data`.
    let gone = super::webhooks::subject_of(conn, dialect, audit).await?;
    let owner = tessera_core::TokenOwner::Member(id.clone());
    super::tokens::before_owner_removed(conn, dialect, org, &owner, audit, "member_removed")
        .await?;
    sqlx::query("DELETE FROM members WHERE org_id = $1 AND id = $2")
        .bind(org.as_str())
        .bind(id.as_str())
        .run(&mut *conn)
        .await?;
    if was == BuiltinRole::Owner {
        ensure_an_owner(conn, org).await?;
    }
    Ok(gone)
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
         m.external_id, {custom_roles} AS custom_roles FROM members m"
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
        external_id: get::<Option<String>>(row, "external_id")?.map(ExternalId::from_trusted),
    })
}

/// Did this insert break the per-org uniqueness of `external_id` (rather
/// than of the email)? PostgreSQL names the index; SQLite names only the
/// columns, in its message (its driver reports no constraint name), which
/// is the one place this store reads an error's text.
fn is_external_id_clash(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|e| {
        e.constraint() == Some("members_external_id") || e.message().contains("external_id")
    })
}
