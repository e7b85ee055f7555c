//! The verification engine: from a presented string to "who is this, and
//! may they do ACTION on RESOURCE?".
//!
//! Order of checks, cheapest first: format and checksum (no storage), then
//! the token by id, the secret's hash (constant-time, current or
//! grace-period previous), expiry, the owner's membership and current
//! roles. The API's own authentication, `POST /verify` and `GET /auth` all
//! come through here, so they cannot disagree.

use std::time::Instant;

use tessera_core::model::{Member, Org, Token};
use tessera_core::permission::{token_allows, ResolvedScope};
use tessera_core::policy::CompiledPolicy;
use tessera_core::{MemberPermissions, RoleKey, TokenScope};
use time::OffsetDateTime;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A token that is valid right now, with everything needed to decide what
/// it may do.
pub struct Verified {
    pub token: Token,
    pub member: Member,
    pub org: Org,
    pub permissions: MemberPermissions,
    pub scope: ResolvedScope,
}

impl Verified {
    /// owner's current permissions ∧ token scope ∧ project restriction.
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        token_allows(
            &self.permissions,
            &self.scope,
            &self.token.projects,
            action,
            resource,
        )
    }
}

/// Why a presented token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Wrong prefix, length, alphabet or checksum: never reached storage.
    Malformed,
    /// Unknown, revoked, wrong secret, or owner no longer a member.
    Invalid,
    Expired,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_token",
            Self::Invalid => "invalid_token",
            Self::Expired => "token_expired",
        }
    }

    pub fn into_api_error(self) -> ApiError {
        match self {
            Self::Malformed | Self::Invalid => ApiError::InvalidToken,
            Self::Expired => ApiError::TokenExpired,
        }
    }
}

/// Verifies `presented` at `now`, counting the outcome in the metrics.
pub async fn verify_token(
    state: &AppState,
    presented: &str,
    now: OffsetDateTime,
) -> ApiResult<Result<Verified, Rejection>> {
    let started = Instant::now();
    let result = verify_uncounted(state, presented, now).await;
    let outcome = match &result {
        Ok(Ok(_)) => "valid",
        Ok(Err(rejection)) => rejection.code(),
        Err(_) => "error",
    };
    state
        .metrics
        .count(outcome, started.elapsed().as_secs_f64());
    result
}

async fn verify_uncounted(
    state: &AppState,
    presented: &str,
    now: OffsetDateTime,
) -> ApiResult<Result<Verified, Rejection>> {
    let Ok(parsed) = state.format.parse(presented) else {
        return Ok(Err(Rejection::Malformed));
    };
    // Hash before the lookup so unknown ids and wrong secrets cost the same.
    let presented_hash = parsed.secret_hash();
    let Some(token) = state.store.get_token(&parsed.id()).await? else {
        return Ok(Err(Rejection::Invalid));
    };
    if !token.secret_matches(&presented_hash, now) {
        return Ok(Err(Rejection::Invalid));
    }
    if tessera_core::lifecycle::check_not_expired(now, token.expires_at).is_err() {
        return Ok(Err(Rejection::Expired));
    }
    let Some(member) = state
        .store
        .get_member(&token.org_id, &token.member_id)
        .await?
    else {
        return Ok(Err(Rejection::Invalid));
    };
    let Some(org) = state.store.get_org(&token.org_id).await? else {
        return Ok(Err(Rejection::Invalid));
    };
    let roles = RolePolicies::load(state, &org).await?;
    let permissions = roles.member_permissions(&member);
    let scope = roles.resolve_scope(&token.scope, &member);
    Ok(Ok(Verified {
        token,
        member,
        org,
        permissions,
        scope,
    }))
}

/// The org's custom roles, compiled, for computing permissions.
pub struct RolePolicies {
    roles: Vec<(RoleKey, CompiledPolicy)>,
}

impl RolePolicies {
    pub async fn load(state: &AppState, org: &Org) -> ApiResult<Self> {
        let roles = state.store.list_roles(&org.id).await?;
        Ok(Self {
            roles: roles
                .into_iter()
                .map(|r| (r.key, CompiledPolicy::from_statements(&r.policy.0)))
                .collect(),
        })
    }

    fn pick<'a>(&'a self, keys: &'a [RoleKey]) -> impl Iterator<Item = &'a CompiledPolicy> + 'a {
        self.roles
            .iter()
            .filter(move |(key, _)| keys.contains(key))
            .map(|(_, policy)| policy)
    }

    pub fn member_permissions(&self, member: &Member) -> MemberPermissions {
        MemberPermissions::new(
            member.id.clone(),
            member.role,
            self.pick(&member.custom_roles),
        )
    }

    pub fn resolve_scope(&self, scope: &TokenScope, owner: &Member) -> ResolvedScope {
        let keys: &[RoleKey] = match scope {
            TokenScope::CustomRoles(keys) => keys,
            _ => &[],
        };
        ResolvedScope::new(scope, &owner.id, self.pick(keys))
    }
}
