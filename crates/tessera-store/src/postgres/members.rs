//! Organizations and their members.
//!
//! The last-owner rule: a call that may demote or remove an owner first
//! locks the org's row (`FOR NO KEY UPDATE`, which still lets members,
//! roles and projects be inserted under the org), then reads the member's
//! role and, after the change, counts the owners left. Two such calls in
//! one org take turns, and the second counts with the first's change
//! visible (READ COMMITTED reads what committed before each statement), so
//! two concurrent demotions of two owners cannot leave the org without
//! one. If no owner is left the transaction rolls back with `LastOwner`.

use sqlx::postgres::PgConnection;
use sqlx::PgPool;

use tessera_core::model::{AuditEvent, Member, Org};
use tessera_core::{BuiltinRole, MemberId, OrgId, RoleKey};

use super::rows::{self, MEMBER_SELECT, ORG_COLUMNS};
use super::{begin, commit_with, db, found, insert_error, insert_role_grants, secs};
use crate::{Change, Result, StoreError};

const INSERT_MEMBER_ROLE: &str = "INSERT INTO member_custom_roles (org_id, member_id, role_key, \
     position) VALUES ($1, $2, $3, $4)";

pub(super) async fn count_orgs(pool: &PgPool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
        .fetch_one(pool)
        .await
        .map_err(db)?;
    Ok(n.unsigned_abs())
}

pub(super) async fn create_org(
    pool: &PgPool,
    org: &Org,
    owner: &Member,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    sqlx::query(
        "INSERT INTO orgs (id, key, name, require_expiration, max_lifetime_days, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
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
    commit_with(tx, audit, None).await
}

/// Reads an org by `column` (`id` or `key`, never user input).
pub(super) async fn get_org(
    pool: &PgPool,
    column: &'static str,
    value: &str,
) -> Result<Option<Org>> {
    sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM orgs WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(pool)
    .await
    .map_err(db)?
    .as_ref()
    .map(rows::org)
    .transpose()
}

pub(super) async fn update_org(pool: &PgPool, org: &Org, audit: &AuditEvent) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query(
        "UPDATE orgs SET name = $1, require_expiration = $2, max_lifetime_days = $3 \
         WHERE id = $4",
    )
    .bind(&org.name)
    .bind(org.token_policy.require_expiration)
    .bind(org.token_policy.max_lifetime_days.map(i64::from))
    .bind(org.id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    found(done.rows_affected())?;
    commit_with(tx, audit, Some(Change::Org(org.id.clone()))).await
}

pub(super) async fn create_member(
    pool: &PgPool,
    member: &Member,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    insert_member(&mut tx, member).await?;
    commit_with(tx, audit, None).await
}

async fn insert_member(conn: &mut PgConnection, member: &Member) -> Result<()> {
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
    pool: &PgPool,
    org: &OrgId,
    id: &MemberId,
) -> Result<Option<Member>> {
    sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE m.org_id = $1 AND m.id = $2"
    ))
    .bind(org.as_str())
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(db)?
    .as_ref()
    .map(rows::member)
    .transpose()
}

pub(super) async fn members_by_email(pool: &PgPool, email: &str) -> Result<Vec<Member>> {
    sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE m.email = $1 ORDER BY m.created_at, m.id"
    ))
    .bind(email)
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(rows::member)
    .collect()
}

pub(super) async fn list_members(pool: &PgPool, org: &OrgId) -> Result<Vec<Member>> {
    sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE m.org_id = $1 ORDER BY m.email, m.id"
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
    pool: &PgPool,
    org: &OrgId,
    id: &MemberId,
    role: BuiltinRole,
    custom_roles: &[RoleKey],
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    lock_org(&mut tx, org).await?;
    let was = current_role(&mut tx, org, id).await?;
    sqlx::query("UPDATE members SET role = $1 WHERE org_id = $2 AND id = $3")
        .bind(role.as_str())
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    if was == BuiltinRole::Owner && role != BuiltinRole::Owner {
        ensure_an_owner(&mut tx, org).await?;
    }
    sqlx::query("DELETE FROM member_custom_roles WHERE org_id = $1 AND member_id = $2")
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    insert_role_grants(&mut tx, INSERT_MEMBER_ROLE, org, id.as_str(), custom_roles).await?;
    let change = Change::Member {
        id: id.clone(),
        removed: false,
    };
    commit_with(tx, audit, Some(change)).await
}

pub(super) async fn set_password(
    pool: &PgPool,
    id: &MemberId,
    password_hash: &str,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query("UPDATE members SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    found(done.rows_affected())?;
    let change = Change::Member {
        id: id.clone(),
        removed: false,
    };
    commit_with(tx, audit, Some(change)).await
}

/// Deletes the member; its role grants, tokens (with theirs) and sessions
/// go with it by `ON DELETE CASCADE`. The member's tokens are locked first,
/// in id order, the order last-used flushes lock them in, so the cascade
/// cannot deadlock with a flush.
pub(super) async fn delete_member(
    pool: &PgPool,
    org: &OrgId,
    id: &MemberId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    lock_org(&mut tx, org).await?;
    let was = current_role(&mut tx, org, id).await?;
    sqlx::query(
        "SELECT id FROM tokens WHERE org_id = $1 AND member_id = $2 ORDER BY id FOR UPDATE",
    )
    .bind(org.as_str())
    .bind(id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query("DELETE FROM members WHERE org_id = $1 AND id = $2")
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    if was == BuiltinRole::Owner {
        ensure_an_owner(&mut tx, org).await?;
    }
    let change = Change::Member {
        id: id.clone(),
        removed: true,
    };
    commit_with(tx, audit, Some(change)).await
}

/// Serialises the calls that may take an org's last owner away. An
/// unknown org locks nothing; the member lookup then reports `NotFound`.
async fn lock_org(conn: &mut PgConnection, org: &OrgId) -> Result<()> {
    sqlx::query("SELECT 1 FROM orgs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// A member's built-in role, or `NotFound`. The row is locked against
/// other role changes, not against new tokens (their foreign-key check
/// only needs a key-share lock).
async fn current_role(conn: &mut PgConnection, org: &OrgId, id: &MemberId) -> Result<BuiltinRole> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT role FROM members WHERE org_id = $1 AND id = $2 FOR NO KEY UPDATE",
    )
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
async fn ensure_an_owner(conn: &mut PgConnection, org: &OrgId) -> Result<()> {
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
