//! Organizations and their members.
//!
//! The last-owner rule is checked after a change that demotes or removes
//! an owner, inside its transaction: if the org is left without an owner
//! the transaction rolls back with `LastOwner`.

use sqlx::sqlite::SqliteConnection;
use sqlx::SqlitePool;

use tessera_core::model::{AuditEvent, Member, Org};
use tessera_core::{BuiltinRole, MemberId, OrgId, RoleKey};

use super::rows::{self, MEMBER_SELECT, ORG_COLUMNS};
use super::{begin, commit_with, db, found, insert_error, insert_role_grants, secs};
use crate::{Result, StoreError};

const INSERT_MEMBER_ROLE: &str =
    "INSERT INTO member_custom_roles (org_id, member_id, role_key, position) VALUES (?, ?, ?, ?)";

pub(super) async fn count_orgs(pool: &SqlitePool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
        .fetch_one(pool)
        .await
        .map_err(db)?;
    Ok(n.unsigned_abs())
}

pub(super) async fn create_org(
    pool: &SqlitePool,
    org: &Org,
    owner: &Member,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    sqlx::query(
        "INSERT INTO orgs (id, key, name, require_expiration, max_lifetime_days, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(org.id.as_str())
    .bind(org.key.as_str())
    .bind(&org.name)
    .bind(org.token_policy.require_expiration)
    .bind(org.token_policy.max_lifetime_days.map(i64::from))
    .bind(secs(org.created_at))
    .execute(&mut *tx)
    .await
    .map_err(|e| insert_error(e, "org_key", String::new))?;
    insert_member(&mut tx, owner).await?;
    commit_with(tx, audit).await
}

/// Reads an org by `column` (`id` or `key`, never user input).
pub(super) async fn get_org(
    pool: &SqlitePool,
    column: &'static str,
    value: &str,
) -> Result<Option<Org>> {
    sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM orgs WHERE {column} = ?"
    ))
    .bind(value)
    .fetch_optional(pool)
    .await
    .map_err(db)?
    .as_ref()
    .map(rows::org)
    .transpose()
}

pub(super) async fn update_org(pool: &SqlitePool, org: &Org, audit: &AuditEvent) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query(
        "UPDATE orgs SET name = ?, require_expiration = ?, max_lifetime_days = ? WHERE id = ?",
    )
    .bind(&org.name)
    .bind(org.token_policy.require_expiration)
    .bind(org.token_policy.max_lifetime_days.map(i64::from))
    .bind(org.id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    found(done.rows_affected())?;
    commit_with(tx, audit).await
}

pub(super) async fn create_member(
    pool: &SqlitePool,
    member: &Member,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    insert_member(&mut tx, member).await?;
    commit_with(tx, audit).await
}

async fn insert_member(conn: &mut SqliteConnection, member: &Member) -> Result<()> {
    sqlx::query(
        "INSERT INTO members (id, org_id, email, name, role, password_hash, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
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
    .map_err(|e| insert_error(e, "member_email", || format!("org {}", member.org_id)))?;
    insert_role_grants(
        conn,
        INSERT_MEMBER_ROLE,
        &member.org_id,
        member.id.as_str(),
        &member.custom_roles,
    )
    .await
}

pub(super) async fn get_member(
    pool: &SqlitePool,
    org: &OrgId,
    id: &MemberId,
) -> Result<Option<Member>> {
    sqlx::query(&format!("{MEMBER_SELECT} WHERE m.org_id = ? AND m.id = ?"))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(rows::member)
        .transpose()
}

pub(super) async fn members_by_email(pool: &SqlitePool, email: &str) -> Result<Vec<Member>> {
    sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE m.email = ? ORDER BY m.created_at, m.id"
    ))
    .bind(email)
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(rows::member)
    .collect()
}

pub(super) async fn list_members(pool: &SqlitePool, org: &OrgId) -> Result<Vec<Member>> {
    sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE m.org_id = ? ORDER BY m.email, m.id"
    ))
    .bind(org.as_str())
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(rows::member)
    .collect()
}

pub(super) async fn update_member_roles(
    pool: &SqlitePool,
    org: &OrgId,
    id: &MemberId,
    role: BuiltinRole,
    custom_roles: &[RoleKey],
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let was = current_role(&mut tx, org, id).await?;
    sqlx::query("UPDATE members SET role = ? WHERE org_id = ? AND id = ?")
        .bind(role.as_str())
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    if was == BuiltinRole::Owner && role != BuiltinRole::Owner {
        ensure_an_owner(&mut tx, org).await?;
    }
    sqlx::query("DELETE FROM member_custom_roles WHERE org_id = ? AND member_id = ?")
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    insert_role_grants(&mut tx, INSERT_MEMBER_ROLE, org, id.as_str(), custom_roles).await?;
    commit_with(tx, audit).await
}

pub(super) async fn set_password(
    pool: &SqlitePool,
    id: &MemberId,
    password_hash: &str,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query("UPDATE members SET password_hash = ? WHERE id = ?")
        .bind(password_hash)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    found(done.rows_affected())?;
    commit_with(tx, audit).await
}

/// Deletes the member; its role grants, tokens (with theirs) and sessions
/// go with it by `ON DELETE CASCADE`.
pub(super) async fn delete_member(
    pool: &SqlitePool,
    org: &OrgId,
    id: &MemberId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let was = current_role(&mut tx, org, id).await?;
    sqlx::query("DELETE FROM members WHERE org_id = ? AND id = ?")
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    if was == BuiltinRole::Owner {
        ensure_an_owner(&mut tx, org).await?;
    }
    commit_with(tx, audit).await
}

/// A member's built-in role, or `NotFound`.
async fn current_role(
    conn: &mut SqliteConnection,
    org: &OrgId,
    id: &MemberId,
) -> Result<BuiltinRole> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM members WHERE org_id = ? AND id = ?")
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
async fn ensure_an_owner(conn: &mut SqliteConnection, org: &OrgId) -> Result<()> {
    let owners: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE org_id = ? AND role = 'owner'")
            .bind(org.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
    if owners == 0 {
        return Err(StoreError::LastOwner);
    }
    Ok(())
}
