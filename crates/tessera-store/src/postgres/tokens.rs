//! Tokens: create, read, update, rotate, delete, and last-used times.
//!
//! - Rotation is one `UPDATE ... WHERE rotated_at IS NULL OR rotated_at <=
//!   bound`. A concurrent rotation on another node waits for the row lock
//!   and, once the first commits, re-checks the condition against the new
//!   row (READ COMMITTED re-evaluates an `UPDATE`'s condition on a row that
//!   changed meanwhile), matches nothing and fails with `RotationRace`.
//! - An update locks the token's row before reading it, so the fields it
//!   does not change are written back as they are now, never as they were
//!   before a concurrent update or rotation.
//! - A custom-roles scope is kept as ordered rows of `token_custom_roles`,
//!   which reference the roles, so a role held by a token cannot vanish.
//! - Updates and rotations return the token re-read inside their
//!   transaction: what was saved, not what was asked for.
//! - Last-used batches are merged per token (the latest time wins), then
//!   written in one transaction of two statements: lock the rows in id
//!   order, then one `UPDATE ... FROM UNNEST(...)` that only moves times
//!   forward. Every flush locks in the same order, so flushes from many
//!   nodes queue instead of deadlocking.

use std::collections::BTreeMap;

use sqlx::postgres::PgConnection;
use sqlx::PgPool;

use tessera_core::model::{AuditEvent, Token};
use tessera_core::{MemberId, OrgId, TokenId, TokenScope};

use super::rows::{self, scope_roles, to_json, ScopeColumns, TOKEN_SELECT};
use super::{
    begin, commit_with, db, found, insert_error, insert_role_grants, is_retryable, opt_secs, secs,
};
use crate::{Change, LastUsed, Result, Rotation, StoreError, TokenChanges};

const INSERT_TOKEN_ROLE: &str = "INSERT INTO token_custom_roles (org_id, token_id, role_key, \
     position) VALUES ($1, $2, $3, $4)";

/// How often a last-used flush is tried when PostgreSQL breaks a deadlock
/// by aborting it (possible only against a cascade it does not order).
const LAST_USED_ATTEMPTS: u32 = 3;

pub(super) async fn create_token(pool: &PgPool, token: &Token, audit: &AuditEvent) -> Result<()> {
    let scope = ScopeColumns::of(&token.scope)?;
    let mut tx = begin(pool).await?;
    sqlx::query(
        "INSERT INTO tokens (id, org_id, member_id, name, snippet, secret_hash, scope_kind, \
         scope_role, scope_policy, projects, created_at, expires_at, last_used_at, last_used_ip, \
         rotated_at, previous_hash, previous_valid_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
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
    commit_with(tx, audit, Some(Change::Token(token.id.clone()))).await
}

async fn fetch_token(conn: &mut PgConnection, id: &TokenId) -> Result<Option<Token>> {
    sqlx::query(&format!("{TOKEN_SELECT} WHERE t.id = $1"))
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .as_ref()
        .map(rows::token)
        .transpose()
}

pub(super) async fn get_token(pool: &PgPool, id: &TokenId) -> Result<Option<Token>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    fetch_token(&mut conn, id).await
}

pub(super) async fn list_tokens(
    pool: &PgPool,
    org: &OrgId,
    member: &MemberId,
) -> Result<Vec<Token>> {
    sqlx::query(&format!(
        "{TOKEN_SELECT} WHERE t.org_id = $1 AND t.member_id = $2 \
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
    pool: &PgPool,
    id: &TokenId,
    changes: &TokenChanges,
    audit: &AuditEvent,
) -> Result<Token> {
    let mut tx = begin(pool).await?;
    // Not `FOR UPDATE`: new custom-role rows of this token need a key-share
    // lock on it, which a no-key lock leaves them.
    let locked = sqlx::query("SELECT 1 FROM tokens WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    if locked.is_none() {
        return Err(StoreError::NotFound);
    }
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
    sqlx::query("UPDATE tokens SET name = $1, projects = $2, expires_at = $3 WHERE id = $4")
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
    commit_with(tx, audit, Some(Change::Token(id.clone()))).await?;
    Ok(saved)
}

/// Rewrites the scope columns and custom-role rows of `token`.
async fn set_scope(conn: &mut PgConnection, token: &Token) -> Result<()> {
    let scope = ScopeColumns::of(&token.scope)?;
    sqlx::query(
        "UPDATE tokens SET scope_kind = $1, scope_role = $2, scope_policy = $3 WHERE id = $4",
    )
    .bind(scope.kind)
    .bind(scope.role)
    .bind(scope.policy)
    .bind(token.id.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query("DELETE FROM token_custom_roles WHERE org_id = $1 AND token_id = $2")
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
    pool: &PgPool,
    id: &TokenId,
    rotation: &Rotation,
    audit: &AuditEvent,
) -> Result<Token> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query(
        "UPDATE tokens SET secret_hash = $1, snippet = $2, expires_at = $3, rotated_at = $4, \
         previous_hash = $5, previous_valid_until = $6 \
         WHERE id = $7 AND (rotated_at IS NULL OR rotated_at <= $8)",
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
    commit_with(tx, audit, Some(Change::Token(id.clone()))).await?;
    Ok(saved)
}

pub(super) async fn delete_token(pool: &PgPool, id: &TokenId, audit: &AuditEvent) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query("DELETE FROM tokens WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    found(done.rows_affected())?;
    commit_with(tx, audit, Some(Change::Token(id.clone()))).await
}

/// One batch as the three parallel arrays `UNNEST` takes, sorted by token
/// id, one entry per token: its latest time (and that observation's IP;
/// of equal times the later one in the batch, as if applied in order).
struct Columns {
    ids: Vec<String>,
    ats: Vec<i64>,
    ips: Vec<Option<String>>,
}

impl Columns {
    fn of(batch: &[LastUsed]) -> Self {
        let mut latest: BTreeMap<&str, &LastUsed> = BTreeMap::new();
        for used in batch {
            let entry = latest.entry(used.token.as_str()).or_insert(used);
            if used.at >= entry.at {
                *entry = used;
            }
        }
        let mut columns = Columns {
            ids: Vec::with_capacity(latest.len()),
            ats: Vec::with_capacity(latest.len()),
            ips: Vec::with_capacity(latest.len()),
        };
        for (id, used) in latest {
            columns.ids.push(id.to_owned());
            columns.ats.push(secs(used.at));
            columns.ips.push(used.ip.clone());
        }
        columns
    }
}

pub(super) async fn record_last_used(pool: &PgPool, batch: &[LastUsed]) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let columns = Columns::of(batch);
    let mut attempt = 1;
    loop {
        match write_last_used(pool, &columns).await {
            Err(err) if is_retryable(&err) && attempt < LAST_USED_ATTEMPTS => {
                tracing::debug!(error = %err, attempt, "last-used flush aborted; retrying");
                attempt += 1;
            }
            done => return done.map_err(db),
        }
    }
}

async fn write_last_used(pool: &PgPool, columns: &Columns) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Only rows that will change are locked; unknown (deleted) ids match
    // nothing and are skipped.
    sqlx::query(
        "SELECT t.id FROM tokens t JOIN UNNEST($1::text[], $2::bigint[]) AS u (id, at) \
         ON t.id = u.id \
         WHERE t.last_used_at IS NULL OR t.last_used_at <= u.at \
         ORDER BY t.id FOR NO KEY UPDATE OF t",
    )
    .bind(&columns.ids)
    .bind(&columns.ats)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE tokens t SET last_used_at = u.at, last_used_ip = u.ip \
         FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS u (id, at, ip) \
         WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at <= u.at)",
    )
    .bind(&columns.ids)
    .bind(&columns.ats)
    .bind(&columns.ips)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
