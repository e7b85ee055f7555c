//! Tokens: create, read, update, rotate, delete, and last-used times.
//!
//! - Rotation is one `UPDATE ... WHERE rotated_at IS NULL OR rotated_at <=
//!   bound`: of two concurrent rotations the second matches no row and
//!   fails with `RotationRace`.
//! - A custom-roles scope is kept as ordered rows of `token_custom_roles`,
//!   which reference the roles, so a role held by a token cannot vanish.
//! - Updates and rotations return the token re-read inside their
//!   transaction: what was saved, not what was asked for.

use sqlx::sqlite::SqliteConnection;
use sqlx::SqlitePool;

use tessera_core::model::{AuditEvent, Token};
use tessera_core::{MemberId, OrgId, TokenId, TokenScope};

use super::rows::{self, scope_roles, to_json, ScopeColumns, TOKEN_SELECT};
use super::{begin, commit_with, db, found, insert_error, insert_role_grants, opt_secs, secs};
use crate::{LastUsed, Result, Rotation, StoreError, TokenChanges};

const INSERT_TOKEN_ROLE: &str =
    "INSERT INTO token_custom_roles (org_id, token_id, role_key, position) VALUES (?, ?, ?, ?)";

pub(super) async fn create_token(
    pool: &SqlitePool,
    token: &Token,
    audit: &AuditEvent,
) -> Result<()> {
    let scope = ScopeColumns::of(&token.scope)?;
    let mut tx = begin(pool).await?;
    sqlx::query(
        "INSERT INTO tokens (id, org_id, member_id, name, snippet, secret_hash, scope_kind, \
         scope_role, scope_policy, projects, created_at, expires_at, last_used_at, last_used_ip, \
         rotated_at, previous_hash, previous_valid_until) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(token.id.as_str())
    .bind(token.org_id.as_str())
    .bind(token.member_id.as_str())
    .bind(&token.name)
    .bind(&token.snippet)
    .bind(&token.secret_hash.0[..])
    .bind(scope.kind)
    .bind(scope.role)
    .bind(scope.policy)
    .bind(to_json(&token.projects)?)
    .bind(secs(token.created_at))
    .bind(opt_secs(token.expires_at))
    .bind(opt_secs(token.last_used_at))
    .bind(token.last_used_ip.as_deref())
    .bind(opt_secs(token.rotated_at))
    .bind(token.previous_secret.as_ref().map(|p| p.hash.0.to_vec()))
    .bind(opt_secs(token.previous_secret.map(|p| p.valid_until)))
    .execute(&mut *tx)
    .await
    .map_err(|e| insert_error(e, "token_id", || format!("member {}", token.member_id)))?;
    insert_role_grants(
        &mut tx,
        INSERT_TOKEN_ROLE,
        &token.org_id,
        token.id.as_str(),
        scope_roles(&token.scope),
    )
    .await?;
    commit_with(tx, audit).await
}

async fn fetch_token(conn: &mut SqliteConnection, id: &TokenId) -> Result<Option<Token>> {
    sqlx::query(&format!("{TOKEN_SELECT} WHERE t.id = ?"))
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .as_ref()
        .map(rows::token)
        .transpose()
}

pub(super) async fn get_token(pool: &SqlitePool, id: &TokenId) -> Result<Option<Token>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    fetch_token(&mut conn, id).await
}

pub(super) async fn list_tokens(
    pool: &SqlitePool,
    org: &OrgId,
    member: &MemberId,
) -> Result<Vec<Token>> {
    sqlx::query(&format!(
        "{TOKEN_SELECT} WHERE t.org_id = ? AND t.member_id = ? \
         ORDER BY t.created_at DESC, t.id DESC"
    ))
    .bind(org.as_str())
    .bind(member.as_str())
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(rows::token)
    .collect()
}

pub(super) async fn update_token(
    pool: &SqlitePool,
    id: &TokenId,
    changes: &TokenChanges,
    audit: &AuditEvent,
) -> Result<Token> {
    let mut tx = begin(pool).await?;
    let mut token = fetch_token(&mut tx, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    if let Some(name) = &changes.name {
        token.name.clone_from(name);
    }
    if let Some(projects) = &changes.projects {
        token.projects.clone_from(projects);
    }
    if let Some(expires_at) = changes.expires_at {
        token.expires_at = expires_at;
    }
    if let Some(scope) = &changes.scope {
        token.scope = scope.clone();
        set_scope(&mut tx, &token).await?;
    }
    sqlx::query("UPDATE tokens SET name = ?, projects = ?, expires_at = ? WHERE id = ?")
        .bind(&token.name)
        .bind(to_json(&token.projects)?)
        .bind(opt_secs(token.expires_at))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let saved = fetch_token(&mut tx, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    commit_with(tx, audit).await?;
    Ok(saved)
}

/// Rewrites the scope columns and custom-role rows of `token`.
async fn set_scope(conn: &mut SqliteConnection, token: &Token) -> Result<()> {
    let scope = ScopeColumns::of(&token.scope)?;
    sqlx::query("UPDATE tokens SET scope_kind = ?, scope_role = ?, scope_policy = ? WHERE id = ?")
        .bind(scope.kind)
        .bind(scope.role)
        .bind(scope.policy)
        .bind(token.id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query("DELETE FROM token_custom_roles WHERE org_id = ? AND token_id = ?")
        .bind(token.org_id.as_str())
        .bind(token.id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let keys = match &token.scope {
        TokenScope::CustomRoles(keys) => keys.as_slice(),
        _ => &[],
    };
    insert_role_grants(
        conn,
        INSERT_TOKEN_ROLE,
        &token.org_id,
        token.id.as_str(),
        keys,
    )
    .await
}

pub(super) async fn rotate_token(
    pool: &SqlitePool,
    id: &TokenId,
    rotation: &Rotation,
    audit: &AuditEvent,
) -> Result<Token> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query(
        "UPDATE tokens SET secret_hash = ?, snippet = ?, expires_at = ?, rotated_at = ?, \
         previous_hash = ?, previous_valid_until = ? \
         WHERE id = ? AND (rotated_at IS NULL OR rotated_at <= ?)",
    )
    .bind(&rotation.secret_hash.0[..])
    .bind(&rotation.snippet)
    .bind(secs(rotation.expires_at))
    .bind(secs(rotation.rotated_at))
    .bind(rotation.previous_secret.as_ref().map(|p| p.hash.0.to_vec()))
    .bind(opt_secs(rotation.previous_secret.map(|p| p.valid_until)))
    .bind(id.as_str())
    .bind(secs(rotation.last_rotation_before))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(match fetch_token(&mut tx, id).await? {
            None => StoreError::NotFound,
            Some(_) => StoreError::RotationRace,
        });
    }
    let saved = fetch_token(&mut tx, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    commit_with(tx, audit).await?;
    Ok(saved)
}

pub(super) async fn delete_token(
    pool: &SqlitePool,
    id: &TokenId,
    audit: &AuditEvent,
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query("DELETE FROM tokens WHERE id = ?")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    found(done.rows_affected())?;
    commit_with(tx, audit).await
}

pub(super) async fn record_last_used(pool: &SqlitePool, batch: &[LastUsed]) -> Result<()> {
    // One UPDATE per chunk of rows rather than one per token: a flush
    // after a busy interval can hold hundreds of thousands of uses.
    const ROWS_PER_STATEMENT: usize = 500;
    let newest = newest_use_per_token(batch);
    if newest.is_empty() {
        return Ok(());
    }
    let mut tx = begin(pool).await?;
    for chunk in newest.chunks(ROWS_PER_STATEMENT) {
        let mut update = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "UPDATE tokens SET last_used_at = v.column2, last_used_ip = v.column3 FROM (",
        );
        update.push_values(chunk, |mut row, used| {
            row.push_bind(used.token.as_str())
                .push_bind(secs(used.at))
                .push_bind(used.ip.as_deref());
        });
        // An unknown id matches no row: deleted tokens are skipped. Only
        // newer uses overwrite (another node may have flushed a later one).
        update.push(
            ") AS v WHERE tokens.id = v.column1 \
             AND (tokens.last_used_at IS NULL OR tokens.last_used_at <= v.column2)",
        );
        update.build().execute(&mut *tx).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

/// The latest use of each token in `batch` (an UPDATE ... FROM with two
/// rows for one token would pick either).
fn newest_use_per_token(batch: &[LastUsed]) -> Vec<&LastUsed> {
    let mut newest: std::collections::HashMap<&str, &LastUsed> =
        std::collections::HashMap::with_capacity(batch.len());
    for used in batch {
        newest
            .entry(used.token.as_str())
            .and_modify(|kept| {
                if used.at >= kept.at {
                    *kept = used;
                }
            })
            .or_insert(used);
    }
    let mut newest: Vec<&LastUsed> = newest.into_values().collect();
    // In key order, each B-tree page is read and dirtied once per flush
    // while it is in the page cache, instead of at random (hash) order.
    newest.sort_unstable_by(|a, b| a.token.as_str().cmp(b.token.as_str()));
    newest
}
