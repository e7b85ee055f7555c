//! Rows to records and back: the only place that knows how a column
//! encodes a field. A row that does not decode (bad JSON, a hash of the
//! wrong length) is a `Database` error naming the column.

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

use tessera_core::model::{
    Actor, AuditEvent, CustomRole, Member, Org, PreviousSecret, Project, Session, Token,
};
use tessera_core::{
    BuiltinRole, MemberId, OrgId, OrgKey, Policy, ProjectKey, RoleKey, SecretHash, TokenId,
    TokenPolicy, TokenScope,
};

use super::db;
use super::dialect::Dialect;
use crate::{Result, StoreError};

/// The columns of [`member`], from `members m`: its custom roles are
/// gathered as a JSON list in their order.
pub(super) fn member_select(dialect: &Dialect) -> String {
    let custom_roles = dialect.json_list(
        "r.role_key",
        "r.position",
        "FROM member_custom_roles r WHERE r.org_id = m.org_id AND r.member_id = m.id",
    );
    format!(
        "SELECT m.id, m.org_id, m.email, m.name, m.role, m.password_hash, m.created_at, \
         {custom_roles} AS custom_roles FROM members m"
    )
}

/// The columns of [`token`], from `tokens t`, as [`member_select`].
pub(super) fn token_select(dialect: &Dialect) -> String {
    let custom_roles = dialect.json_list(
        "r.role_key",
        "r.position",
        "FROM token_custom_roles r WHERE r.org_id = t.org_id AND r.token_id = t.id",
    );
    format!(
        "SELECT t.id, t.org_id, t.member_id, t.name, t.snippet, t.secret_hash, t.scope_kind, \
         t.scope_role, t.scope_policy, t.projects, t.created_at, t.expires_at, \
         t.last_used_at, t.last_used_ip, t.rotated_at, t.previous_hash, \
         t.previous_valid_until, {custom_roles} AS custom_roles FROM tokens t"
    )
}

pub(super) const ORG_COLUMNS: &str =
    "id, key, name, require_expiration, max_lifetime_days, created_at";
pub(super) const ROLE_COLUMNS: &str = "org_id, key, name, policy, created_at, updated_at";
pub(super) const PROJECT_COLUMNS: &str = "org_id, key, name, created_at";
pub(super) const SESSION_COLUMNS: &str = "id_hash, org_id, member_id, created_at, expires_at";
pub(super) const AUDIT_COLUMNS: &str =
    "id, org_id, at, actor_member, actor_token, action, target, ip, details";

fn corrupt(column: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("unreadable value in column {column}: {why}"))
}

fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(db)
}

/// A flag: PostgreSQL stores `BOOLEAN`, SQLite an integer 0 or 1.
fn flag(row: &AnyRow, column: &str) -> Result<bool> {
    match row.try_get::<bool, _>(column) {
        Ok(flag) => Ok(flag),
        Err(_) => Ok(get::<i64>(row, column)? != 0),
    }
}

fn text(row: &AnyRow, column: &str) -> Result<String> {
    get(row, column)
}

fn time(row: &AnyRow, column: &str) -> Result<OffsetDateTime> {
    let secs: i64 = get(row, column)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| corrupt(column, e))
}

fn opt_time(row: &AnyRow, column: &str) -> Result<Option<OffsetDateTime>> {
    let secs: Option<i64> = get(row, column)?;
    secs.map(|s| OffsetDateTime::from_unix_timestamp(s).map_err(|e| corrupt(column, e)))
        .transpose()
}

fn hash(row: &AnyRow, column: &str) -> Result<Option<SecretHash>> {
    let bytes: Option<Vec<u8>> = get(row, column)?;
    bytes
        .map(|b| SecretHash::from_slice(&b).ok_or_else(|| corrupt(column, "not 32 bytes")))
        .transpose()
}

fn required_hash(row: &AnyRow, column: &str) -> Result<SecretHash> {
    hash(row, column)?.ok_or_else(|| corrupt(column, "missing"))
}

fn json<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    serde_json::from_str(&text(row, column)?).map_err(|e| corrupt(column, e))
}

fn builtin_role(column: &str, value: &str) -> Result<BuiltinRole> {
    value.parse().map_err(|e| corrupt(column, e))
}

/// Serialises a value for a JSON column.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Database(format!("encoding a JSON column: {e}")))
}

pub(super) fn org(row: &AnyRow) -> Result<Org> {
    let max_days: Option<i64> = get(row, "max_lifetime_days")?;
    let max_lifetime_days = max_days
        .map(|d| u32::try_from(d).map_err(|e| corrupt("max_lifetime_days", e)))
        .transpose()?;
    Ok(Org {
        id: OrgId::from_trusted(text(row, "id")?),
        key: OrgKey::from_trusted(text(row, "key")?),
        name: text(row, "name")?,
        token_policy: TokenPolicy {
            require_expiration: flag(row, "require_expiration")?,
            max_lifetime_days,
        },
        created_at: time(row, "created_at")?,
    })
}

pub(super) fn member(row: &AnyRow) -> Result<Member> {
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

pub(super) fn role(row: &AnyRow) -> Result<CustomRole> {
    Ok(CustomRole {
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        key: RoleKey::from_trusted(text(row, "key")?),
        name: text(row, "name")?,
        policy: json(row, "policy")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(super) fn project(row: &AnyRow) -> Result<Project> {
    Ok(Project {
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        key: ProjectKey::from_trusted(text(row, "key")?),
        name: text(row, "name")?,
        created_at: time(row, "created_at")?,
    })
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

pub(super) fn token(row: &AnyRow) -> Result<Token> {
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
        member_id: MemberId::from_trusted(text(row, "member_id")?),
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
    })
}

pub(super) fn session(row: &AnyRow) -> Result<Session> {
    Ok(Session {
        id_hash: required_hash(row, "id_hash")?,
        member_id: MemberId::from_trusted(text(row, "member_id")?),
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        created_at: time(row, "created_at")?,
        expires_at: time(row, "expires_at")?,
    })
}

pub(super) fn audit(row: &AnyRow) -> Result<AuditEvent> {
    let actor_member: Option<String> = get(row, "actor_member")?;
    let actor_token: Option<String> = get(row, "actor_token")?;
    Ok(AuditEvent {
        id: text(row, "id")?,
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        at: time(row, "at")?,
        actor: Actor {
            member: actor_member.map(MemberId::from_trusted),
            token: actor_token.map(TokenId::from_trusted),
        },
        action: text(row, "action")?,
        target: text(row, "target")?,
        ip: get(row, "ip")?,
        details: json(row, "details")?,
    })
}
