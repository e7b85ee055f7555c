//! Tokens: create, read, update, rotate, delete, and last-used times.
//!
//! - Rotation is one `UPDATE ... WHERE rotated_at IS NULL OR rotated_at <=
//!   bound`: of two concurrent rotations the second matches no row and
//!   fails with `RotationRace`. (On PostgreSQL a concurrent rotation on
//!   another node waits for the row lock and, once the first commits,
//!   re-checks the condition against the new row: READ COMMITTED
//!   re-evaluates an `UPDATE`'s condition on a row that changed meanwhile.)
//! - An update locks the token's row before reading it, so the fields it
//!   does not change are written back as they are now, never as they were
//!   before a concurrent update or rotation.
//! - A custom-roles scope is kept as ordered rows of `token_custom_roles`,
//!   which reference the roles, so a role held by a token cannot vanish.
//! - Updates and rotations return the token re-read inside their
//!   transaction: what was saved, not what was asked for.
//! - Last-used batches are merged per token (the latest time wins), sorted
//!   by id and written in one transaction, a few hundred rows per
//!   statement, only ever moving times forward. On PostgreSQL each chunk
//!   first locks its rows; every flush locks in id order, so flushes from
//!   many nodes queue instead of deadlocking.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::AnyConnection;

use tessera_core::controls::TokenControls;
use tessera_core::model::{AuditEvent, Token};
use tessera_core::{MemberId, OrgId, ServiceAccountId, TokenId, TokenOwner};

use sqlx::any::AnyRow;
use tessera_core::model::PreviousSecret;
use tessera_core::{Policy, RoleKey, TokenScope};

use super::dialect::Dialect;
use super::rows::{
    builtin_role, corrupt, get, hash, json, opt_time, required_hash, text, time, to_json,
};
use super::{
    all, db, granted_roles, insert_error, insert_role_grants, is_retryable, opt_secs, optional,
    secs, Run, SqlStore, Statement, Tx,
};
use crate::{Change, LastUsed, Result, Rotation, StoreError, TokenChanges, TokenStore, Unique};

const INSERT_TOKEN_ROLE: &str = "INSERT INTO token_custom_roles (org_id, token_id, role_key, \
     position) VALUES ($1, $2, $3, $4)";

/// How often a last-used flush is tried when PostgreSQL breaks a deadlock
/// by aborting it (possible only against a cascade it does not order).
const LAST_USED_ATTEMPTS: u32 = 3;

/// Tokens per last-used statement: a flush after a busy interval can hold
/// hundreds of thousands of uses, and one statement per token would cost a
/// round trip each.
const LAST_USED_ROWS_PER_STATEMENT: usize = 500;

#[async_trait]
impl TokenStore for SqlStore {
    async fn create_token(&self, token: &Token, audit: &AuditEvent) -> Result<()> {
        let scope = ScopeColumns::of(&token.scope)?;
        let quota = token.controls.as_ref().and_then(|c| c.quota);
        let mut tx = self.begin().await?;
        // Checked first, inside the transaction, so that a taken name is
        // told from an id clash by the statement rather than by the error's
        // text. Two PostgreSQL nodes racing past it meet the index, which
        // names itself.
        let (member, account) = owner_columns(&token.owner);
        let taken = sqlx::query(&format!(
            "SELECT 1 FROM tokens WHERE {} = $1 AND name = $2",
            owner_column(&token.owner)
        ))
        .bind(token.owner.id_str())
        .bind(&token.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if taken.is_some() {
            return Err(StoreError::Conflict(Unique::TokenName));
        }
        sqlx::query(
            "INSERT INTO tokens (id, org_id, member_id, service_account_id, name, snippet, \
             secret_hash, scope_kind, scope_role, scope_policy, projects, created_at, expires_at, \
             last_used_at, last_used_ip, rotated_at, previous_hash, previous_valid_until, \
             disabled_at, controls, quota_remaining, quota_period) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22)",
        )
        .bind(token.id.as_str())
        .bind(token.org_id.as_str())
        .bind(member)
        .bind(account)
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
        .bind(opt_secs(token.disabled_at))
        .bind(controls_column(token.controls.as_deref())?)
        .bind(quota.map(|q| q.remaining))
        .bind(
            quota
                .and_then(|q| q.refill)
                .map(|r| r.period(token.created_at)),
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            let what = token_unique(&e);
            insert_error(e, what, || owner_name(&token.owner))
        })?;
        insert_role_grants(
            &mut tx,
            INSERT_TOKEN_ROLE,
            &token.org_id,
            token.id.as_str(),
            scope_roles(&token.scope),
        )
        .await?;
        self.commit_new_token(tx, audit, Change::Token(token.id.clone()), token)
            .await
    }

    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        self.fetch_token(&mut conn, id).await
    }

    async fn list_tokens(&self, org: &OrgId, member: &MemberId) -> Result<Vec<Token>> {
        self.owned_tokens(org, &TokenOwner::Member(member.clone()))
            .await
    }

    async fn update_token(
        &self,
        id: &TokenId,
        changes: &TokenChanges,
        audit: &AuditEvent,
    ) -> Result<Token> {
        let mut tx = self.begin().await?;
        // Not `FOR UPDATE`: new custom-role rows of this token need a
        // key-share lock on it, which a no-key lock leaves them.
        let locked = sqlx::query(&format!(
            "SELECT 1 FROM tokens WHERE id = $1{}",
            self.dialect.lock_rows()
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if locked.is_none() {
            return Err(StoreError::NotFound);
        }
        let mut token = self
            .fetch_token(&mut tx, id)
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
            .map_err(|e| insert_error(e, Unique::TokenName, || format!("token {id}")))?;
        if let Some(controls) = &changes.controls {
            set_controls(&mut tx, id, controls.as_ref(), changes.quota_reset).await?;
        }
        self.commit_token(tx, id, audit).await
    }

    async fn rotate_token(
        &self,
        id: &TokenId,
        rotation: &Rotation,
        audit: &AuditEvent,
    ) -> Result<Token> {
        let mut tx = self.begin().await?;
        let rotated = sqlx::query(
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
        .run(&mut *tx)
        .await?;
        if rotated == 0 {
            return Err(match self.fetch_token(&mut tx, id).await? {
                None => StoreError::NotFound,
                Some(_) => StoreError::RotationRace,
            });
        }
        self.commit_token(tx, id, audit).await
    }

    async fn delete_token(&self, id: &TokenId, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let gone = super::webhooks::subject_of(&mut tx, &self.dialect, audit).await?;
        sqlx::query("DELETE FROM tokens WHERE id = $1")
            .bind(id.as_str())
            .run_found(&mut *tx)
            .await?;
        self.commit_with(tx, audit, Some(Change::Token(id.clone())), gone)
            .await
    }

    async fn record_last_used(&self, batch: &[LastUsed]) -> Result<()> {
        let newest = newest_use_per_token(batch);
        if newest.is_empty() {
            return Ok(());
        }
        let mut attempt = 1;
        loop {
            match self.write_last_used(&newest).await {
                Err(err) if is_retryable(&err) && attempt < LAST_USED_ATTEMPTS => {
                    tracing::debug!(error = %err, attempt, "last-used flush aborted; retrying");
                    attempt += 1;
                }
                done => return done.map_err(db),
            }
        }
    }
}

impl SqlStore {
    /// `owner`'s tokens in `org`, newest first.
    pub(super) async fn owned_tokens(&self, org: &OrgId, owner: &TokenOwner) -> Result<Vec<Token>> {
        let sql = format!(
            "{} WHERE t.org_id = $1 AND t.{} = $2 ORDER BY t.created_at DESC, t.id DESC",
            token_select(&self.dialect),
            owner_column(owner)
        );
        let query = sqlx::query(&sql).bind(org.as_str()).bind(owner.id_str());
        all(query, &self.pool, from_row).await
    }

    pub(super) async fn fetch_token(
        &self,
        conn: &mut AnyConnection,
        id: &TokenId,
    ) -> Result<Option<Token>> {
        let sql = format!("{} WHERE t.id = $1", token_select(&self.dialect));
        optional(sqlx::query(&sql).bind(id.as_str()), conn, from_row).await
    }

    /// Re-reads the token as it will be saved, then commits.
    pub(super) async fn commit_token(
        &self,
        mut tx: Tx,
        id: &TokenId,
        audit: &AuditEvent,
    ) -> Result<Token> {
        let saved = self.fetch_token(&mut tx, id).await?;
        let saved = saved.ok_or(StoreError::NotFound)?;
        self.commit(tx, audit, Some(Change::Token(id.clone())))
            .await?;
        Ok(saved)
    }

    /// One transaction; per chunk, on PostgreSQL, first lock the rows that
    /// will change (in id order), then one `UPDATE ... FROM (VALUES ...)`.
    /// Unknown (deleted) ids match nothing and are skipped; only newer uses
    /// overwrite (another node may have flushed a later one).
    async fn write_last_used(&self, newest: &[&LastUsed]) -> Result<(), sqlx::Error> {
        const NEWER: &str = "tokens.id = v.column1 \
             AND (tokens.last_used_at IS NULL OR tokens.last_used_at <= v.column2)";
        let mut tx = self.begin_detached().await?;
        for chunk in newest.chunks(LAST_USED_ROWS_PER_STATEMENT) {
            if self.dialect.is_shared() {
                let (sql, args) = values(
                    "SELECT tokens.id FROM tokens, ",
                    chunk,
                    &format!(
                        " WHERE {NEWER} ORDER BY tokens.id{} OF tokens",
                        self.dialect.lock_rows()
                    ),
                )?;
                sqlx::query_with(&sql, args).execute(&mut *tx).await?;
            }
            let (sql, args) = values(
                "UPDATE tokens SET last_used_at = v.column2, last_used_ip = v.column3 FROM ",
                chunk,
                &format!(" WHERE {NEWER}"),
            )?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        tx.commit().await
    }
}

/// `head (VALUES ($1, $2, $3), ...) AS v tail`: one row (id, at, ip) per
/// use; both databases name a `VALUES` list's columns `column1, …`.
fn values<'q>(
    head: &str,
    chunk: &[&'q LastUsed],
    tail: &str,
) -> Result<(String, sqlx::any::AnyArguments<'q>), sqlx::Error> {
    let encode = |e: StoreError| sqlx::Error::Protocol(e.to_string());
    let mut sql = Statement::new(head);
    sql.push("(VALUES ");
    for (i, used) in chunk.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(used.token.as_str()).map_err(encode)?.push(", ");
        sql.bind(secs(used.at)).map_err(encode)?.push(", ");
        sql.bind(used.ip.as_deref()).map_err(encode)?.push(")");
    }
    sql.push(") AS v");
    sql.push(tail);
    Ok(sql.into_parts())
}

/// The latest use of each token in `batch`, in id order (an UPDATE ...
/// FROM with two rows for one token would pick either; of equal times the
/// later one in the batch wins, as if applied in order).
fn newest_use_per_token(batch: &[LastUsed]) -> Vec<&LastUsed> {
    let mut newest: BTreeMap<&str, &LastUsed> = BTreeMap::new();
    for used in batch {
        let kept = newest.entry(used.token.as_str()).or_insert(used);
        if used.at >= kept.at {
            *kept = used;
        }
    }
    newest.into_values().collect()
}

/// Saves a token's controls. With `quota_reset` the quota's count is set
/// anew (to its `remaining`, in that refill period) and its version moves
/// on, so that slices nodes reserved before are not given back into it; a
/// removed quota clears the count. Otherwise the live count stays.
async fn set_controls(
    conn: &mut AnyConnection,
    id: &TokenId,
    controls: Option<&TokenControls>,
    quota_reset: Option<Option<i64>>,
) -> Result<()> {
    let quota = controls.and_then(|c| c.quota);
    sqlx::query("UPDATE tokens SET controls = $1 WHERE id = $2")
        .bind(controls_column(controls)?)
        .bind(id.as_str())
        .run(&mut *conn)
        .await?;
    if quota.is_none() || quota_reset.is_some() {
        sqlx::query(
            "UPDATE tokens SET quota_remaining = $1, quota_period = $2, \
             quota_version = quota_version + 1 WHERE id = $3",
        )
        .bind(quota.map(|q| q.remaining))
        .bind(quota_reset.flatten())
        .bind(id.as_str())
        .run(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Rewrites the scope columns and custom-role rows of `token`.
async fn set_scope(conn: &mut AnyConnection, token: &Token) -> Result<()> {
    let scope = ScopeColumns::of(&token.scope)?;
    sqlx::query(
        "UPDATE tokens SET scope_kind = $1, scope_role = $2, scope_policy = $3 WHERE id = $4",
    )
    .bind(scope.kind)
    .bind(scope.role)
    .bind(scope.policy)
    .bind(token.id.as_str())
    .run(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM token_custom_roles WHERE org_id = $1 AND token_id = $2")
        .bind(token.org_id.as_str())
        .bind(token.id.as_str())
        .run(&mut *conn)
        .await?;
    insert_role_grants(
        conn,
        INSERT_TOKEN_ROLE,
        &token.org_id,
        token.id.as_str(),
        scope_roles(&token.scope),
    )
    .await
}

/// The columns of [`from_row`], from `tokens t`, as [`member_select`].
pub(super) fn token_select(dialect: &Dialect) -> String {
    format!("{} FROM tokens t", token_columns(dialect))
}

/// `SELECT` and the columns of [`from_row`] (of `tokens t`), for a query
/// that reads more beside them.
pub(super) fn token_columns(dialect: &Dialect) -> String {
    let custom_roles = granted_roles(dialect, "token_custom_roles", "token_id", "t");
    format!(
        "SELECT t.id, t.org_id, t.member_id, t.service_account_id, t.name, t.snippet, t.secret_hash, t.scope_kind, \
         t.scope_role, t.scope_policy, t.projects, t.created_at, t.expires_at, \
         t.last_used_at, t.last_used_ip, t.rotated_at, t.previous_hash, \
         t.previous_valid_until, t.disabled_at, t.controls, t.quota_remaining, \
         {custom_roles} AS custom_roles"
    )
}

/// A token scope as its columns: `scope_kind`, `scope_role`,
/// `scope_policy`. Custom roles live in `token_custom_roles`.
pub(super) struct ScopeColumns {
    pub kind: &'static str,
    pub role: Option<&'static str>,
    pub policy: Option<String>,
}

impl ScopeColumns {
    pub fn of(scope: &TokenScope) -> Result<Self> {
        let (kind, role, policy) = match scope {
            TokenScope::Inherit => ("inherit", None, None),
            TokenScope::Role(r) => ("role", Some(r.as_str()), None),
            TokenScope::CustomRoles(_) => ("custom_roles", None, None),
            TokenScope::Policy(p) => ("policy", None, Some(to_json(p)?)),
        };
        Ok(Self { kind, role, policy })
    }
}

/// The custom roles a scope names (none for other kinds).
pub(super) fn scope_roles(scope: &TokenScope) -> &[RoleKey] {
    match scope {
        TokenScope::CustomRoles(keys) => keys,
        _ => &[],
    }
}

fn scope(row: &AnyRow) -> Result<TokenScope> {
    let kind = text(row, "scope_kind")?;
    Ok(match kind.as_str() {
        "inherit" => TokenScope::Inherit,
        "role" => {
            let role: Option<String> = get(row, "scope_role")?;
            let role = role.ok_or_else(|| corrupt("scope_role", "missing"))?;
            TokenScope::Role(builtin_role("scope_role", &role)?)
        }
        "custom_roles" => TokenScope::CustomRoles(json(row, "custom_roles")?),
        "policy" => {
            let policy: Option<String> = get(row, "scope_policy")?;
            let policy = policy.ok_or_else(|| corrupt("scope_policy", "missing"))?;
            TokenScope::Policy(
                serde_json::from_str::<Policy>(&policy).map_err(|e| corrupt("scope_policy", e))?,
            )
        }
        other => return Err(corrupt("scope_kind", other)),
    })
}

pub(super) fn from_row(row: &AnyRow) -> Result<Token> {
    let previous_secret = match (
        hash(row, "previous_hash")?,
        opt_time(row, "previous_valid_until")?,
    ) {
        (Some(hash), Some(valid_until)) => Some(PreviousSecret { hash, valid_until }),
        _ => None,
    };
    Ok(Token {
        id: TokenId::from_trusted(text(row, "id")?),
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        owner: owner(row)?,
        name: text(row, "name")?,
        snippet: text(row, "snippet")?,
        secret_hash: required_hash(row, "secret_hash")?,
        scope: scope(row)?,
        projects: json(row, "projects")?,
        created_at: time(row, "created_at")?,
        expires_at: opt_time(row, "expires_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
        last_used_ip: get(row, "last_used_ip")?,
        rotated_at: opt_time(row, "rotated_at")?,
        previous_secret,
        disabled_at: opt_time(row, "disabled_at")?,
        controls: controls(row)?,
    })
}

/// The `controls` column, with the quota's live count from its own column.
fn controls(row: &AnyRow) -> Result<Option<Box<TokenControls>>> {
    let Some(text) = get::<Option<String>>(row, "controls")? else {
        return Ok(None);
    };
    let mut controls: TokenControls =
        serde_json::from_str(&text).map_err(|e| corrupt("controls", e))?;
    if let Some(quota) = &mut controls.quota {
        let remaining: Option<i64> = get(row, "quota_remaining")?;
        quota.remaining = remaining.unwrap_or(0);
    }
    Ok((!controls.is_empty()).then(|| Box::new(controls)))
}

/// The `controls` column's value: `NULL` for none.
fn controls_column(controls: Option<&TokenControls>) -> Result<Option<String>> {
    controls.filter(|c| !c.is_empty()).map(to_json).transpose()
}

/// The column naming a token's owner of `owner`'s kind (never user input).
/// Before an owner's row is deleted, taking its tokens with it by
/// `ON DELETE CASCADE`: on PostgreSQL its tokens are locked first, in id
/// order, the order last-used flushes lock them in, so the cascade cannot
/// deadlock with a flush; and each token's `token.revoked` event is written
/// with `reason`, in the same transaction.
pub(super) async fn before_owner_removed(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    org: &OrgId,
    owner: &TokenOwner,
    audit: &AuditEvent,
    reason: &str,
) -> Result<()> {
    let column = owner_column(owner);
    let owned = format!("org_id = $1 AND {column} = $2");
    let tokens = lock_and_read(conn, dialect, &owned, org, Some(owner.id_str())).await?;
    super::webhooks::enqueue_revoked(conn, audit, &tokens, reason).await
}

/// The tokens `condition` (on `org` as `$1`, `owner` as `$2`) selects,
/// locked first in id order on PostgreSQL.
async fn lock_and_read(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    condition: &str,
    org: &OrgId,
    owner: Option<&str>,
) -> Result<Vec<Token>> {
    if dialect.is_shared() {
        let sql = format!(
            "SELECT id FROM tokens WHERE {condition} ORDER BY id{}",
            dialect.lock_rows_and_references()
        );
        let mut lock = sqlx::query(&sql).bind(org.as_str());
        if let Some(owner) = owner {
            lock = lock.bind(owner);
        }
        lock.run(&mut *conn).await?;
    }
    let sql = format!(
        "{} WHERE t.{} ORDER BY t.id",
        token_select(dialect),
        condition.replace(" AND ", " AND t.")
    );
    let mut query = sqlx::query(&sql).bind(org.as_str());
    if let Some(owner) = owner {
        query = query.bind(owner);
    }
    all(query, &mut *conn, from_row).await
}

fn owner_column(owner: &TokenOwner) -> &'static str {
    match owner {
        TokenOwner::Member(_) => "member_id",
        TokenOwner::ServiceAccount(_) => "service_account_id",
    }
}

/// `member_id` and `service_account_id`: exactly one is set.
fn owner_columns(owner: &TokenOwner) -> (Option<&str>, Option<&str>) {
    match owner {
        TokenOwner::Member(id) => (Some(id.as_str()), None),
        TokenOwner::ServiceAccount(id) => (None, Some(id.as_str())),
    }
}

/// The owner a failed insert referenced, for `UnknownReference`.
fn owner_name(owner: &TokenOwner) -> String {
    match owner {
        TokenOwner::Member(id) => format!("member {id}"),
        TokenOwner::ServiceAccount(id) => format!("service account {id}"),
    }
}

fn owner(row: &AnyRow) -> Result<TokenOwner> {
    let member: Option<String> = get(row, "member_id")?;
    let account: Option<String> = get(row, "service_account_id")?;
    match (member, account) {
        (Some(id), None) => Ok(TokenOwner::Member(MemberId::from_trusted(id))),
        (None, Some(id)) => Ok(TokenOwner::ServiceAccount(ServiceAccountId::from_trusted(
            id,
        ))),
        _ => Err(corrupt("member_id", "a token has exactly one owner")),
    }
}

/// Which of a token's unique constraints an insert broke, when a name
/// check raced with another node's insert: PostgreSQL names the index.
fn token_unique(err: &sqlx::Error) -> Unique {
    match err.as_database_error().and_then(|e| e.constraint()) {
        Some("tokens_member_name" | "tokens_service_account_name") => Unique::TokenName,
        _ => Unique::TokenId,
    }
}
