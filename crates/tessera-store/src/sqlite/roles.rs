//! Custom roles and projects.
//!
//! A role held by a member or a token is refused deletion with `InUse`,
//! counted inside the transaction so the message says by how many. The
//! `ON DELETE RESTRICT` references are only a backstop: SQLite reports
//! their failure as a generic constraint error, which would surface as
//! `Database`.

use sqlx::sqlite::SqliteConnection;
use sqlx::SqlitePool;

use tessera_core::model::{AuditEvent, CustomRole, Project};
use tessera_core::{OrgId, ProjectKey, RoleKey};

use super::rows::{self, to_json, PROJECT_COLUMNS, ROLE_COLUMNS};
use super::{begin, commit_with, db, found, insert_error, secs};
use crate::{Result, StoreError};

pub(super) async fn create_role(
    pool: &SqlitePool,
    role: &CustomRole,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    sqlx::query(&format!(
        "INSERT INTO custom_roles ({ROLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
    ))
    .bind(role.org_id.as_str())
    .bind(role.key.as_str())
    .bind(&role.name)
    .bind(to_json(&role.policy)?)
    .bind(secs(role.created_at))
    .bind(secs(role.updated_at))
    .execute(&mut *tx)
    .await
    .map_err(|e| insert_error(e, "role_key", || format!("org {}", role.org_id)))?;
    commit_with(tx, audit).await
}

pub(super) async fn get_role(
    pool: &SqlitePool,
    org: &OrgId,
    key: &RoleKey,
) -> Result<Option<CustomRole>> {
    sqlx::query(&format!(
        "SELECT {ROLE_COLUMNS} FROM custom_roles WHERE org_id = ? AND key = ?"
    ))
    .bind(org.as_str())
    .bind(key.as_str())
    .fetch_optional(pool)
    .await
    .map_err(db)?
    .as_ref()
    .map(rows::role)
    .transpose()
}

pub(super) async fn list_roles(pool: &SqlitePool, org: &OrgId) -> Result<Vec<CustomRole>> {
    sqlx::query(&format!(
        "SELECT {ROLE_COLUMNS} FROM custom_roles WHERE org_id = ? ORDER BY key"
    ))
    .bind(org.as_str())
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(rows::role)
    .collect()
}

pub(super) async fn update_role(
    pool: &SqlitePool,
    role: &CustomRole,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query(
        "UPDATE custom_roles SET name = ?, policy = ?, updated_at = ? WHERE org_id = ? AND key = ?",
    )
    .bind(&role.name)
    .bind(to_json(&role.policy)?)
    .bind(secs(role.updated_at))
    .bind(role.org_id.as_str())
    .bind(role.key.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    found(done.rows_affected())?;
    commit_with(tx, audit).await
}

pub(super) async fn delete_role(
    pool: &SqlitePool,
    org: &OrgId,
    key: &RoleKey,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let members = holders(&mut tx, "member_custom_roles", org, key).await?;
    let tokens = holders(&mut tx, "token_custom_roles", org, key).await?;
    if members + tokens > 0 {
        return Err(in_use(key, members, tokens));
    }
    let done = sqlx::query("DELETE FROM custom_roles WHERE org_id = ? AND key = ?")
        .bind(org.as_str())
        .bind(key.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    found(done.rows_affected())?;
    commit_with(tx, audit).await
}

/// How many rows of `table` (a grant table, never user input) hold a role.
async fn holders(
    conn: &mut SqliteConnection,
    table: &'static str,
    org: &OrgId,
    key: &RoleKey,
) -> Result<i64> {
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {table} WHERE org_id = ? AND role_key = ?"
    ))
    .bind(org.as_str())
    .bind(key.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(db)
}

fn in_use(key: &RoleKey, members: i64, tokens: i64) -> StoreError {
    let plural = |n: i64, what: &str| {
        if n == 1 {
            format!("1 {what}")
        } else {
            format!("{n} {what}s")
        }
    };
    StoreError::InUse(format!(
        "role {key} is held by {} and {}",
        plural(members, "member"),
        plural(tokens, "token")
    ))
}

pub(super) async fn create_project(
    pool: &SqlitePool,
    project: &Project,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    sqlx::query(&format!(
        "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?, ?, ?, ?)"
    ))
    .bind(project.org_id.as_str())
    .bind(project.key.as_str())
    .bind(&project.name)
    .bind(secs(project.created_at))
    .execute(&mut *tx)
    .await
    .map_err(|e| insert_error(e, "project_key", || format!("org {}", project.org_id)))?;
    commit_with(tx, audit).await
}

pub(super) async fn list_projects(pool: &SqlitePool, org: &OrgId) -> Result<Vec<Project>> {
    sqlx::query(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = ? ORDER BY key"
    ))
    .bind(org.as_str())
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(rows::project)
    .collect()
}

/// Deletes a project. Tokens restricted to it keep the key in their list:
/// they stay restricted, to a project that no longer exists.
pub(super) async fn delete_project(
    pool: &SqlitePool,
    org: &OrgId,
    key: &ProjectKey,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query("DELETE FROM projects WHERE org_id = ? AND key = ?")
        .bind(org.as_str())
        .bind(key.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    found(done.rows_affected())?;
    commit_with(tx, audit).await
}
