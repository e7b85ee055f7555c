//! A member's own tokens: create, list, show, update, clone, rotate,
//! delete. `self` stands for the calling token wherever an id goes.
//!
//! Only the owner updates, clones or rotates a token (each of those can
//! hand out or widen a secret); an admin may read and delete any member's
//! tokens, never see a value. A token's value is in the answer to the call
//! that made it (create, clone, rotate), and nowhere else.

use serde_json::json;
use tessera_api::{
    CloneTokenRequest, CreateTokenRequest, CreatedTokenResponse, ErrorCode, RotateTokenRequest,
    TokenList, TokenResponse, UpdateTokenRequest,
};
use tessera_core::lifecycle::{check_grace, check_rotation, validate_name, MAX_NAME_CHARS};
use tessera_core::model::{AuditEvent, PreviousSecret, Token};
use tessera_core::resource::{self, Resource};
use tessera_core::token::NewToken;
use tessera_core::{BuiltinRole, Policy, ProjectKey, RoleKey, TokenId, TokenOwner, TokenScope};
use tessera_store::{Rotation, StoreError, TokenChanges};
use time::{OffsetDateTime, UtcOffset};

use super::{event, not_found_as, Call, Caller, ServiceError, ServiceResult};
use crate::state::AppState;

/// Most projects (or custom roles) one token may be restricted to.
const MAX_PROJECTS: usize = 100;

/// The caller's own tokens they may read, newest first (metadata only);
/// a service account's call lists the account's.
pub async fn list(call: &Call) -> ServiceResult<TokenList> {
    let (state, caller, _) = call.parts();
    let tokens = owned_tokens(state, &caller.org.id, &caller.owner()).await?;
    Ok(readable_list(call, tokens))
}

/// `owner`'s tokens in `org`, newest first.
pub(crate) async fn owned_tokens(
    state: &AppState,
    org: &tessera_core::OrgId,
    owner: &TokenOwner,
) -> ServiceResult<Vec<Token>> {
    Ok(match owner {
        TokenOwner::Member(id) => state.store.list_tokens(org, id).await?,
        TokenOwner::ServiceAccount(id) => state.store.list_service_account_tokens(org, id).await?,
    })
}

/// The tokens `caller` may read, as a list response.
pub(crate) fn readable_list(call: &Call, tokens: Vec<Token>) -> TokenList {
    let (state, caller, _) = call.parts();
    let items = tokens
        .iter()
        .filter(|t| caller.allows_token("token:read", t))
        .map(|t| token_response(state, t))
        .collect();
    TokenList { items }
}

/// A new token for the caller (a service account's call: for the
/// account); the answer carries its value, this once.
pub async fn create(
    call: &Call,
    request: CreateTokenRequest,
) -> ServiceResult<CreatedTokenResponse> {
    create_for(call, call.caller.owner(), request).await
}

/// A new token for `owner`, which the caller may mint tokens for (checked
/// here for a member, by the caller for a service account); the answer
/// carries its value, this once.
pub(crate) async fn create_for(
    call: &Call,
    owner: TokenOwner,
    request: CreateTokenRequest,
) -> ServiceResult<CreatedTokenResponse> {
    let (state, caller, now) = call.parts();
    validate_name("name", &request.name)?;
    let scope = scope_from(request.role, request.custom_roles, request.policy)?;
    let expires_at = request.expires_at.map(whole_seconds_utc);
    let minted = state.format.generate(now);
    if let TokenOwner::ServiceAccount(account) = &owner {
        super::account_tokens::check_may_mint(call, account).await?;
    } else {
        caller.require("token:create", &resource::owned_token(&owner, &minted.id))?;
    }
    caller.grantor().check_grant(&scope)?;
    let projects = projects_from(call, request.projects).await?;
    caller.org.token_policy.check_expiry(now, expires_at)?;
    let controls =
        super::token_limits::from_create(request.allowed_ips, request.rate_limit, request.quota)?;
    let mut token = new_token_record(
        caller,
        owner,
        &minted,
        request.name,
        scope,
        projects,
        now,
        expires_at,
    );
    token.controls = controls;
    let event = token_event(call, "token:create", &token, json!({}));
    store_created(state, &token, &event, minted).await
}

/// One of the caller's tokens (admins: any member's), metadata only.
pub async fn show(call: &Call, id: &str) -> ServiceResult<TokenResponse> {
    let (state, caller, _) = call.parts();
    let token = load(call, id).await?;
    caller.require_token("token:read", &token)?;
    Ok(token_response(state, &token))
}

/// Renames, re-scopes, re-restricts or re-dates one of the caller's tokens.
pub async fn update(
    call: &Call,
    id: &str,
    request: UpdateTokenRequest,
) -> ServiceResult<TokenResponse> {
    let (state, caller, now) = call.parts();
    let token = load_own(call, id, "token:update").await?;
    let mut changes = TokenChanges::default();
    if let Some((controls, quota_reset)) =
        super::token_limits::from_update(token.controls.as_deref(), &request, now)?
    {
        changes.controls = Some(controls);
        changes.quota_reset = quota_reset;
    }
    if let Some(name) = request.name {
        validate_name("name", &name)?;
        changes.name = Some(name);
    }
    if request.role.is_some() || request.custom_roles.is_some() || request.policy.is_some() {
        let scope = scope_from(
            request.role.flatten(),
            request.custom_roles.flatten(),
            request.policy.flatten(),
        )?;
        caller.grantor().check_grant(&scope)?;
        changes.scope = Some(scope);
    }
    if let Some(projects) = request.projects {
        changes.projects = Some(projects_from(call, projects).await?);
    }
    if let Some(expires_at) = request.expires_at {
        let expires_at = expires_at.map(whole_seconds_utc);
        let issued = token.rotated_at.unwrap_or(token.created_at);
        caller
            .org
            .token_policy
            .check_expiry_change(now, issued, expires_at)?;
        changes.expires_at = Some(expires_at);
    }
    let details = json!({
        "name": changes.name.is_some(),
        "scope": changes.scope.is_some(),
        "projects": changes.projects.is_some(),
        "expires_at": changes.expires_at.is_some(),
        "controls": changes.controls.is_some(),
    });
    let event = token_event(call, "token:update", &token, json!({ "changed": details }));
    let updated = state
        .store
        .update_token(&token.id, &changes, &event)
        .await?;
    Ok(token_response(state, &updated))
}

/// Revokes a token, at once and for good.
pub async fn delete(call: &Call, id: &str) -> ServiceResult<()> {
    let (state, caller, _) = call.parts();
    let token = load(call, id).await?;
    caller.require_token("token:delete", &token)?;
    let event = token_event(call, "token:delete", &token, json!({}));
    state
        .store
        .delete_token(&token.id, &event)
        .await
        .map_err(not_found_as("token"))
}

/// A new token (new id, new secret) with the same scope, projects and
/// expiry as one of the caller's own.
pub async fn clone(
    call: &Call,
    id: &str,
    request: CloneTokenRequest,
) -> ServiceResult<CreatedTokenResponse> {
    let (state, caller, now) = call.parts();
    let source = load_own(call, id, "token:clone").await?;
    let name = match request.name {
        Some(name) => name,
        None => {
            let own = owned_tokens(state, &caller.org.id, &source.owner).await?;
            copy_name(&source.name, |n| own.iter().any(|t| t.name == n))
        }
    };
    validate_name("name", &name)?;
    caller.grantor().check_grant(&source.scope)?;
    caller
        .org
        .token_policy
        .check_expiry(now, source.expires_at)?;
    let minted = state.format.generate(now);
    if source.owner.member().is_some() {
        caller.require(
            "token:create",
            &resource::owned_token(&source.owner, &minted.id),
        )?;
    }
    let mut token = new_token_record(
        caller,
        source.owner.clone(),
        &minted,
        name,
        source.scope.clone(),
        source.projects.clone(),
        now,
        source.expires_at,
    );
    // The controls come along; the clone's quota starts from what the
    // source has left (a clone must not be a way to a fresh quota).
    token.controls = source.controls.clone().map(|mut c| {
        if let Some(q) = &mut c.quota {
            q.remaining += state.engine.limiter().quota_held(&source.id);
        }
        c
    });
    let event = token_event(call, "token:clone", &token, json!({ "source": source.id }));
    store_created(state, &token, &event, minted).await
}

/// A clone's default name: "<name> (copy)", or "(copy 2)", "(copy 3)", ...
/// when the owner already has that one (a member's token names are
/// unique), cut to fit the name limit.
fn copy_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    (1u32..)
        .map(|n| {
            let suffix = match n {
                1 => " (copy)".to_owned(),
                n => format!(" (copy {n})"),
            };
            let keep = MAX_NAME_CHARS - suffix.chars().count();
            let base: String = name.chars().take(keep).collect();
            format!("{base}{suffix}")
        })
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| name.to_owned())
}

/// A new secret for the same id, name and scope; the old string stops
/// working at once, or after the grace period.
pub async fn rotate(
    call: &Call,
    id: &str,
    request: RotateTokenRequest,
) -> ServiceResult<CreatedTokenResponse> {
    let (state, caller, now) = call.parts();
    let token = load_own(call, id, "token:rotate").await?;
    let rotating_itself = caller.token().is_some_and(|t| t.id == token.id);
    if !rotating_itself {
        // The new value carries the token's scope: only hand it to a caller
        // that could have granted that scope itself.
        caller.grantor().check_grant(&token.scope)?;
    }
    let new_expiry = whole_seconds_utc(request.expires_at);
    let policy = caller.org.token_policy;
    check_rotation(now, token.expires_at, token.rotated_at, new_expiry, &policy)?;
    let grace = check_grace(request.grace_period_seconds.unwrap_or(0))?;
    let minted = state.format.generate_for(token.id.clone());
    let rotation = Rotation {
        secret_hash: minted.secret_hash,
        snippet: minted.snippet.clone(),
        expires_at: new_expiry,
        rotated_at: now,
        previous_secret: (grace.whole_seconds() > 0).then(|| PreviousSecret {
            hash: token.secret_hash,
            valid_until: now + grace,
        }),
        last_rotation_before: now - tessera_core::lifecycle::ROTATION_INTERVAL,
    };
    let details = json!({
        "grace_period_seconds": grace.whole_seconds(),
        "old_snippet": token.snippet,
        "snippet": minted.snippet,
    });
    let event = token_event(call, "token:rotate", &token, details);
    let rotated = match state.store.rotate_token(&token.id, &rotation, &event).await {
        Err(StoreError::RotationRace) => return Err(rotation_race(state, &token.id, now).await),
        other => other.map_err(not_found_as("token"))?,
    };
    Ok(created(state, &rotated, minted))
}

/// A lost rotation race is the once-an-hour rule: say when to retry.
async fn rotation_race(state: &AppState, id: &TokenId, now: OffsetDateTime) -> ServiceError {
    let fresh = state.store.get_token(id).await.ok().flatten();
    let retry = fresh
        .and_then(|t| t.rotated_at)
        .map(|at| {
            (at + tessera_core::lifecycle::ROTATION_INTERVAL - now)
                .whole_seconds()
                .max(1)
        })
        .unwrap_or(3600);
    tessera_core::Error::RotationTooSoon {
        retry_after_secs: retry.unsigned_abs(),
    }
    .into()
}

// ---------------------------------------------------------------- helpers

fn whole_seconds_utc(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Loads a token of the caller's org by id or `self`; 404 otherwise.
pub(crate) async fn load(call: &Call, id: &str) -> ServiceResult<Token> {
    let (state, caller, _) = call.parts();
    let id = if id == "self" {
        caller.token().map(|t| t.id.clone()).ok_or_else(|| {
            ServiceError::BadRequest(
                "`self` means the calling token, and this call was not made with one".into(),
            )
        })?
    } else {
        // The id is not echoed: people paste whole tokens here by mistake.
        TokenId::parse(id).map_err(|_| {
            ServiceError::BadRequest(
                "not a token id: expected 27 base62 characters, or `self`".into(),
            )
        })?
    };
    match state.store.get_token(&id).await? {
        Some(token) if token.org_id == caller.org.id => Ok(token),
        _ => Err(ServiceError::not_found("token")),
    }
}

/// Loads a token the caller owns (a member's own; or a service account's
/// whose tokens the caller may mint) and checks `action` on it.
async fn load_own(call: &Call, id: &str, action: &str) -> ServiceResult<Token> {
    let (_, caller, _) = call.parts();
    let token = load(call, id).await?;
    if let TokenOwner::ServiceAccount(account) = &token.owner {
        caller.require_token(action, &token)?;
        let on_itself = caller.token().is_some_and(|t| t.id == token.id);
        if !on_itself {
            super::account_tokens::check_may_mint(call, account).await?;
        }
        return Ok(token);
    }
    if caller.owner() != token.owner {
        caller.require_token("token:read", &token)?;
        return Err(ServiceError::NotAllowed(format!(
            "only the token's owner can {}",
            action.trim_start_matches("token:")
        )));
    }
    caller.require_token(action, &token)?;
    Ok(token)
}

/// Can `token` be rotated, or must it first be given an expiry (with
/// `update`'s `expires_at`)? For front ends that offer the form that can
/// succeed; `rotate` checks again.
pub fn rotatable(token: &TokenResponse) -> bool {
    tessera_core::lifecycle::rotatable(token.expires_at)
}

/// The scopes the caller may give a token: these built-in roles, and
/// custom roles if `custom_roles`. For front ends that offer only what can
/// succeed; the operations check the scope asked for again.
pub struct Grantable {
    pub roles: Vec<BuiltinRole>,
    pub custom_roles: bool,
}

pub fn grantable(caller: &Caller) -> Grantable {
    let grantor = caller.grantor();
    Grantable {
        roles: BuiltinRole::ALL
            .into_iter()
            .filter(|r| grantor.check_grant(&TokenScope::Role(*r)).is_ok())
            .collect(),
        custom_roles: grantor
            .check_grant(&TokenScope::CustomRoles(Vec::new()))
            .is_ok(),
    }
}

/// At most one of role, custom roles and policy; none means inherit.
pub(crate) fn scope_from(
    role: Option<BuiltinRole>,
    custom_roles: Option<Vec<String>>,
    policy: Option<Policy>,
) -> ServiceResult<TokenScope> {
    match (role, custom_roles, policy) {
        (None, None, None) => Ok(TokenScope::Inherit),
        (Some(role), None, None) => Ok(TokenScope::Role(role)),
        (None, Some(keys), None) => Ok(TokenScope::CustomRoles(parse_role_keys(&keys)?)),
        (None, None, Some(policy)) => {
            super::roles::check_policy(&policy)?;
            Ok(TokenScope::Policy(policy))
        }
        _ => Err(ServiceError::BadRequest(
            "give at most one of `role`, `custom_roles` and `policy`".into(),
        )),
    }
}

/// Parses custom role keys: non-empty, no duplicates (order kept).
pub(crate) fn parse_role_keys(keys: &[String]) -> ServiceResult<Vec<RoleKey>> {
    if keys.is_empty() {
        return Err(ServiceError::unprocessable(
            ErrorCode::ValidationFailed,
            "custom_roles must not be empty",
        ));
    }
    if keys.len() > MAX_PROJECTS {
        return Err(ServiceError::unprocessable(
            ErrorCode::ValidationFailed,
            "at most 100 custom roles",
        ));
    }
    let mut parsed: Vec<RoleKey> = Vec::with_capacity(keys.len());
    for key in keys {
        let key = RoleKey::parse(key)?;
        if !parsed.contains(&key) {
            parsed.push(key);
        }
    }
    Ok(parsed)
}

/// Parses and checks a project list: keys valid, projects exist.
async fn projects_from(
    call: &Call,
    projects: Option<Vec<String>>,
) -> ServiceResult<Vec<ProjectKey>> {
    let (state, caller, _) = call.parts();
    let Some(keys) = projects else {
        return Ok(Vec::new());
    };
    if keys.len() > MAX_PROJECTS {
        return Err(ServiceError::unprocessable(
            ErrorCode::ValidationFailed,
            "a token may name at most 100 projects",
        ));
    }
    let mut parsed: Vec<ProjectKey> = Vec::with_capacity(keys.len());
    for key in &keys {
        let key = ProjectKey::parse(key)?;
        if !parsed.contains(&key) {
            parsed.push(key);
        }
    }
    if !parsed.is_empty() {
        let existing = state.store.list_projects(&caller.org.id).await?;
        if let Some(missing) = parsed
            .iter()
            .find(|k| !existing.iter().any(|p| &p.key == *k))
        {
            return Err(ServiceError::unprocessable(
                ErrorCode::UnknownProject,
                format!("project \"{missing}\" does not exist"),
            ));
        }
    }
    Ok(parsed)
}

#[allow(clippy::too_many_arguments)]
fn new_token_record(
    caller: &Caller,
    owner: TokenOwner,
    minted: &NewToken,
    name: String,
    scope: TokenScope,
    projects: Vec<ProjectKey>,
    now: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
) -> Token {
    Token {
        id: minted.id.clone(),
        org_id: caller.org.id.clone(),
        owner,
        name,
        snippet: minted.snippet.clone(),
        secret_hash: minted.secret_hash,
        scope,
        projects,
        created_at: now,
        expires_at,
        last_used_at: None,
        last_used_ip: None,
        rotated_at: None,
        previous_secret: None,
        disabled_at: None,
        controls: None,
    }
}

/// A token's audit event, which always names it (name and snippet).
pub(crate) fn token_event(
    call: &Call,
    action: &str,
    token: &Token,
    mut details: serde_json::Value,
) -> AuditEvent {
    let (state, caller, now) = call.parts();
    if let Some(map) = details.as_object_mut() {
        map.entry("name").or_insert_with(|| json!(token.name));
        map.entry("snippet").or_insert_with(|| json!(token.snippet));
    }
    event(state, caller, now, action, token.resource(), details)
}

/// Stores a new token (created or cloned) with its audit event; the answer
/// carries its value, this once.
async fn store_created(
    state: &AppState,
    token: &Token,
    event: &AuditEvent,
    minted: NewToken,
) -> ServiceResult<CreatedTokenResponse> {
    state
        .store
        .create_token(token, event)
        .await
        .map_err(owner_removed)?;
    Ok(created(state, token, minted))
}

fn created(state: &AppState, token: &Token, minted: NewToken) -> CreatedTokenResponse {
    CreatedTokenResponse {
        metadata: token_response(state, token),
        token: minted.token,
    }
}

/// A token's metadata, with any not-yet-flushed use overlaid.
pub fn token_response(state: &AppState, token: &Token) -> TokenResponse {
    let mut shown = TokenResponse::from(token);
    if let Some(pending) = state.engine.activity().last_used(&token.id) {
        if shown.last_used_at.is_none_or(|stored| pending.at >= stored) {
            shown.last_used_at = Some(pending.at);
            shown.last_used_ip = pending.ip;
        }
    }
    // Quota: what storage holds plus what this node reserved and not spent.
    if let Some(quota) = shown.quota.as_mut() {
        quota.remaining += state.engine.limiter().quota_held(&token.id);
    }
    shown
}

/// A member removed while their create or clone request was in flight:
/// the database refuses the token (its owner is gone), and the caller's
/// credential is no longer valid, which is what they are told.
fn owner_removed(err: StoreError) -> ServiceError {
    match err {
        StoreError::UnknownReference(what) if what.starts_with("member") => {
            ServiceError::Unauthenticated("this member was removed from the organization".into())
        }
        StoreError::UnknownReference(what) if what.starts_with("service account") => {
            ServiceError::not_found("service account")
        }
        other => other.into(),
    }
}
