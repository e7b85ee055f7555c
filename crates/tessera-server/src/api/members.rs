//! `/members`: who is in the org, with which roles. Rank rules: nobody
//! changes or removes a member ranked above them, or grants a role above
//! their own; only admins and owners add or remove custom roles, never their
//! own; and a caller whose permissions are less than a whole built-in role
//! (held back by a deny, or calling through a custom-scoped token) gives
//! nobody permissions (`Grantor::check_member_grant`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tessera_api::{
    CreateMemberRequest, CreatedMemberResponse, MemberList, MemberResponse, TokenList,
    UpdateMemberRequest,
};
use tessera_core::lifecycle::{normalize_email, validate_name, validate_password};
use tessera_core::model::Member;
use tessera_core::permission::check_member_change;
use tessera_core::{resource, BuiltinRole, MemberId, RoleKey};
use tessera_store::StoreError;

use super::tokens::{parse_role_keys, readable_list};
use super::ApiJson;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::secrets;
use crate::state::AppState;

/// Length of a generated initial password.
const INITIAL_PASSWORD_LEN: usize = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/members", get(list_members).post(create_member))
        .route(
            "/members/{id}",
            get(get_member).patch(update_member).delete(delete_member),
        )
        .route("/members/{id}/tokens", get(list_member_tokens))
}

pub fn member_response(m: &Member) -> MemberResponse {
    MemberResponse {
        id: m.id.to_string(),
        email: m.email.clone(),
        name: m.name.clone(),
        role: m.role,
        custom_roles: m.custom_roles.iter().map(|k| k.to_string()).collect(),
        created_at: m.created_at,
    }
}

/// The org's members you may read.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", responses((status = 200, body = MemberList)))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<MemberList>> {
    let members = state.store.list_members(&caller.org.id).await?;
    let items = members
        .iter()
        .filter(|m| caller.allows("member:read", &resource::member(&m.id)))
        .map(member_response)
        .collect();
    Ok(Json(MemberList { items }))
}

/// Add a member. Without a password, one is generated and returned once.
#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = CreateMemberRequest,
    responses((status = 201, body = CreatedMemberResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, body = tessera_api::ErrorBody)))]
pub async fn create_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateMemberRequest>,
) -> ApiResult<(StatusCode, Json<CreatedMemberResponse>)> {
    let now = state.now();
    let email = normalize_email(&body.email)?;
    let name = body
        .name
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    validate_name("name", &name)?;
    let custom_roles = optional_role_keys(body.custom_roles)?;
    let id = MemberId::generate(now);
    caller.require("member:create", &resource::member(&id))?;
    check_new_member_grant(&caller, body.role, &custom_roles)?;
    let (password, generated) = match body.password {
        Some(p) => {
            validate_password(&p)?;
            (p, false)
        }
        None => (secrets::random_password(INITIAL_PASSWORD_LEN), true),
    };
    let member = Member {
        id,
        org_id: caller.org.id.clone(),
        email,
        name,
        role: body.role,
        custom_roles,
        password_hash: Some(secrets::hash_password(password.clone()).await?),
        created_at: now,
    };
    let details =
        json!({ "email": member.email, "role": member.role, "custom_roles": member.custom_roles });
    let event = state.audit(
        &caller.org.id,
        caller.actor(),
        caller.ip.clone(),
        "member:create",
        resource::member(&member.id),
        details,
    );
    state.store.create_member(&member, &event).await?;
    let response = CreatedMemberResponse {
        member: member_response(&member),
        initial_password: generated.then_some(password),
    };
    Ok((StatusCode::CREATED, Json(response)))
}

/// One member.
#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members",
    responses((status = 200, body = MemberResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberResponse>> {
    let member = load(&state, &caller, &id).await?;
    caller.require("member:read", &resource::member(&member.id))?;
    Ok(Json(member_response(&member)))
}

/// Change a member's built-in role and custom roles. Their tokens follow
/// at once.
#[utoipa::path(patch, path = "/api/v1/members/{id}", tag = "members", request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, body = tessera_api::ErrorBody)))]
pub async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> ApiResult<Json<MemberResponse>> {
    let mut member = load(&state, &caller, &id).await?;
    caller.require("member:update", &resource::member(&member.id))?;
    let role = body.role.unwrap_or(member.role);
    let custom_roles = match body.custom_roles {
        Some(keys) if keys.is_empty() => Vec::new(),
        Some(keys) => parse_role_keys(&keys)?,
        None => member.custom_roles.clone(),
    };
    let added: Vec<RoleKey> = custom_roles
        .iter()
        .filter(|k| !member.custom_roles.contains(k))
        .cloned()
        .collect();
    let removed: Vec<RoleKey> = member
        .custom_roles
        .iter()
        .filter(|k| !custom_roles.contains(k))
        .cloned()
        .collect();
    let grantor = caller.grantor();
    check_member_change(grantor.effective_rank(), Some(member.role), Some(role))?;
    if role > member.role {
        grantor.check_member_grant()?;
    }
    grantor.check_custom_roles_change(member.id == caller.member.id, &added, &removed)?;
    let details = json!({ "from": { "role": member.role, "custom_roles": member.custom_roles },
                          "to": { "role": role, "custom_roles": custom_roles } });
    let event = state.audit(
        &caller.org.id,
        caller.actor(),
        caller.ip.clone(),
        "member:update",
        resource::member(&member.id),
        details,
    );
    state
        .store
        .update_member_roles(&caller.org.id, &member.id, role, &custom_roles, &event)
        .await
        .map_err(not_found_as_member)?;
    member.role = role;
    member.custom_roles = custom_roles;
    Ok(Json(member_response(&member)))
}

/// Remove a member: their tokens and sessions stop working at once.
#[utoipa::path(delete, path = "/api/v1/members/{id}", tag = "members",
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn delete_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let member = load(&state, &caller, &id).await?;
    caller.require("member:delete", &resource::member(&member.id))?;
    check_member_change(caller.grantor().effective_rank(), Some(member.role), None)?;
    let event = state.audit(
        &caller.org.id,
        caller.actor(),
        caller.ip.clone(),
        "member:delete",
        resource::member(&member.id),
        json!({ "email": member.email }),
    );
    state
        .store
        .delete_member(&caller.org.id, &member.id, &event)
        .await
        .map_err(not_found_as_member)?;
    Ok(StatusCode::NO_CONTENT)
}

/// An admin's view of a member's tokens: metadata only, never values.
#[utoipa::path(get, path = "/api/v1/members/{id}/tokens", tag = "members",
    responses((status = 200, body = TokenList), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn list_member_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenList>> {
    let member = load(&state, &caller, &id).await?;
    let all = format!("{}:token/*", resource::member(&member.id));
    if !caller.allows("token:read", &all) && member.id != caller.member.id {
        return Err(ApiError::forbidden("token:read", &all));
    }
    let tokens = state.store.list_tokens(&caller.org.id, &member.id).await?;
    Ok(Json(readable_list(&state, &caller, tokens)))
}

fn optional_role_keys(keys: Option<Vec<String>>) -> ApiResult<Vec<RoleKey>> {
    match keys {
        Some(keys) if !keys.is_empty() => parse_role_keys(&keys),
        _ => Ok(Vec::new()),
    }
}

/// The grant rules for a new member (see the module docs).
fn check_new_member_grant(
    caller: &Caller,
    role: BuiltinRole,
    new_custom_roles: &[RoleKey],
) -> ApiResult<()> {
    let grantor = caller.grantor();
    check_member_change(grantor.effective_rank(), None, Some(role))?;
    grantor.check_member_grant()?;
    grantor.check_custom_roles_change(false, new_custom_roles, &[])?;
    Ok(())
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Member> {
    let id = MemberId::parse(id).map_err(|_| {
        ApiError::BadRequest("not a member id: expected 27 base62 characters".into())
    })?;
    state
        .store
        .get_member(&caller.org.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))
}

fn not_found_as_member(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("member"),
        other => other.into(),
    }
}
