//! The org's settings: custom roles, projects, the org and its token
//! policy, and the audit log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tessera_api::{
    AuditActor, AuditEventResponse, AuditPage, CreateProjectRequest, CreateRoleRequest,
    OrgResponse, ProjectList, ProjectResponse, RoleList, RoleResponse, UpdateOrgRequest,
    UpdateRoleRequest,
};
use tessera_core::lifecycle::validate_name;
use tessera_core::model::{AuditEvent, CustomRole, Org, Project};
use tessera_core::{resource, MemberId, ProjectKey, RoleKey};
use tessera_store::{AuditQuery, StoreError};

use super::{ApiJson, ApiQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, AuditIds};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/roles", get(list_roles).post(create_role))
        .route(
            "/roles/{key}",
            get(get_role).put(update_role).delete(delete_role),
        )
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/{key}", get(get_project).delete(delete_project))
        .route("/org", get(get_org).patch(update_org))
        .route("/audit", get(list_audit))
}

// ---------------------------------------------------------------- roles

fn role_response(r: &CustomRole) -> RoleResponse {
    RoleResponse {
        key: r.key.to_string(),
        name: r.name.clone(),
        policy: r.policy.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |err| match err {
        StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

fn parse_role_key(key: &str) -> ApiResult<RoleKey> {
    RoleKey::parse(key).map_err(|_| ApiError::not_found("role"))
}

/// The org's custom roles.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", responses((status = 200, body = RoleList)))]
pub async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<RoleList>> {
    let roles = state.store.list_roles(&caller.org.id).await?;
    let items = roles
        .iter()
        .filter(|r| caller.allows("role:read", &resource::role(&r.key)))
        .map(role_response)
        .collect();
    Ok(Json(RoleList { items }))
}

/// Create a custom role from policy statements.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", request_body = CreateRoleRequest,
    responses((status = 201, body = RoleResponse), (status = 409, body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateRoleRequest>,
) -> ApiResult<(StatusCode, Json<RoleResponse>)> {
    let key = RoleKey::parse(&body.key)?;
    let name = body.name.unwrap_or_else(|| key.to_string());
    validate_name("name", &name)?;
    body.policy.validate()?;
    caller.require("role:create", &resource::role(&key))?;
    caller
        .grantor()
        .check_role_write(&key, &caller.member.custom_roles)?;
    let now = state.now();
    let role = CustomRole {
        org_id: caller.org.id.clone(),
        key,
        name,
        policy: body.policy,
        created_at: now,
        updated_at: now,
    };
    let event = admin_event(
        &state,
        &caller,
        "role:create",
        resource::role(&role.key),
        json!({ "policy": role.policy }),
    );
    state.store.create_role(&role, &event).await?;
    Ok((StatusCode::CREATED, Json(role_response(&role))))
}

/// One custom role.
#[utoipa::path(get, path = "/api/v1/roles/{key}", tag = "roles",
    responses((status = 200, body = RoleResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoleResponse>> {
    let key = parse_role_key(&key)?;
    caller.require("role:read", &resource::role(&key))?;
    let role = state
        .store
        .get_role(&caller.org.id, &key)
        .await?
        .ok_or_else(|| ApiError::not_found("role"))?;
    Ok(Json(role_response(&role)))
}

/// Replace a custom role's name and policy; every member and token holding
/// it changes at once.
#[utoipa::path(put, path = "/api/v1/roles/{key}", tag = "roles", request_body = UpdateRoleRequest,
    responses((status = 200, body = RoleResponse), (status = 404, body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn update_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<UpdateRoleRequest>,
) -> ApiResult<Json<RoleResponse>> {
    let key = parse_role_key(&key)?;
    body.policy.validate()?;
    caller.require("role:update", &resource::role(&key))?;
    caller
        .grantor()
        .check_role_write(&key, &caller.member.custom_roles)?;
    let mut role = state
        .store
        .get_role(&caller.org.id, &key)
        .await?
        .ok_or_else(|| ApiError::not_found("role"))?;
    if let Some(name) = body.name {
        validate_name("name", &name)?;
        role.name = name;
    }
    role.policy = body.policy;
    role.updated_at = state.now();
    let event = admin_event(
        &state,
        &caller,
        "role:update",
        resource::role(&key),
        json!({ "policy": role.policy }),
    );
    state
        .store
        .update_role(&role, &event)
        .await
        .map_err(not_found("role"))?;
    Ok(Json(role_response(&role)))
}

/// Delete a custom role that no member or token holds.
#[utoipa::path(delete, path = "/api/v1/roles/{key}", tag = "roles",
    responses((status = 204), (status = 404, body = tessera_api::ErrorBody), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    let key = parse_role_key(&key)?;
    caller.require("role:delete", &resource::role(&key))?;
    let event = admin_event(
        &state,
        &caller,
        "role:delete",
        resource::role(&key),
        json!({}),
    );
    state
        .store
        .delete_role(&caller.org.id, &key, &event)
        .await
        .map_err(not_found("role"))?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- projects

fn project_response(p: &Project) -> ProjectResponse {
    ProjectResponse {
        key: p.key.to_string(),
        name: p.name.clone(),
        created_at: p.created_at,
    }
}

/// The org's projects.
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", responses((status = 200, body = ProjectList)))]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ProjectList>> {
    let projects = state.store.list_projects(&caller.org.id).await?;
    let items = projects
        .iter()
        .filter(|p| caller.allows("project:read", &resource::project(&p.key)))
        .map(project_response)
        .collect();
    Ok(Json(ProjectList { items }))
}

/// Create a project.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectResponse), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> ApiResult<(StatusCode, Json<ProjectResponse>)> {
    let key = ProjectKey::parse(&body.key)?;
    let name = body.name.unwrap_or_else(|| key.to_string());
    validate_name("name", &name)?;
    caller.require("project:create", &resource::project(&key))?;
    let project = Project {
        org_id: caller.org.id.clone(),
        key,
        name,
        created_at: state.now(),
    };
    let event = admin_event(
        &state,
        &caller,
        "project:create",
        resource::project(&project.key),
        json!({}),
    );
    state.store.create_project(&project, &event).await?;
    Ok((StatusCode::CREATED, Json(project_response(&project))))
}

/// One project.
#[utoipa::path(get, path = "/api/v1/projects/{key}", tag = "projects",
    responses((status = 200, body = ProjectResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<ProjectResponse>> {
    let key = ProjectKey::parse(&key).map_err(|_| ApiError::not_found("project"))?;
    caller.require("project:read", &resource::project(&key))?;
    let projects = state.store.list_projects(&caller.org.id).await?;
    let project = projects
        .iter()
        .find(|p| p.key == key)
        .ok_or_else(|| ApiError::not_found("project"))?;
    Ok(Json(project_response(project)))
}

/// Delete a project. Tokens restricted to it keep the key in their
/// restriction: they can do nothing in the project while it is gone, and
/// regain it if a project with the same key is created again.
#[utoipa::path(delete, path = "/api/v1/projects/{key}", tag = "projects",
    responses((status = 204), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn delete_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    let key = ProjectKey::parse(&key).map_err(|_| ApiError::not_found("project"))?;
    caller.require("project:delete", &resource::project(&key))?;
    let event = admin_event(
        &state,
        &caller,
        "project:delete",
        resource::project(&key),
        json!({}),
    );
    state
        .store
        .delete_project(&caller.org.id, &key, &event)
        .await
        .map_err(not_found("project"))?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- org

pub fn org_response(o: &Org) -> OrgResponse {
    OrgResponse {
        id: o.id.to_string(),
        key: o.key.to_string(),
        name: o.name.clone(),
        token_policy: o.token_policy,
        created_at: o.created_at,
    }
}

/// The org and its token policy.
#[utoipa::path(get, path = "/api/v1/org", tag = "org", responses((status = 200, body = OrgResponse)))]
pub async fn get_org(caller: Caller) -> ApiResult<Json<OrgResponse>> {
    caller.require("org:read", &resource::org(&caller.org.key))?;
    Ok(Json(org_response(&caller.org)))
}

/// Change the org's name or token policy. New rules apply to tokens
/// created, re-dated or rotated from now on.
#[utoipa::path(patch, path = "/api/v1/org", tag = "org", request_body = UpdateOrgRequest,
    responses((status = 200, body = OrgResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn update_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UpdateOrgRequest>,
) -> ApiResult<Json<OrgResponse>> {
    caller.require("org:update", &resource::org(&caller.org.key))?;
    let mut org = caller.org.clone();
    if let Some(name) = body.name {
        validate_name("name", &name)?;
        org.name = name;
    }
    if let Some(patch) = body.token_policy {
        if let Some(required) = patch.require_expiration {
            org.token_policy.require_expiration = required;
        }
        if let Some(max) = patch.max_lifetime_days {
            org.token_policy.max_lifetime_days = max;
        }
        org.token_policy.validate()?;
    }
    let details =
        json!({ "from": caller.org.token_policy, "to": org.token_policy, "name": org.name });
    let event = admin_event(
        &state,
        &caller,
        "org:update",
        resource::org(&org.key),
        details,
    );
    state.store.update_org(&org, &event).await?;
    Ok(Json(org_response(&org)))
}

// ---------------------------------------------------------------- audit

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only events by this member id.
    actor: Option<String>,
    /// `token:create`, or a prefix ending in `:` (`token:`); at most 512
    /// bytes (the document: 128 characters, as many as always fit).
    #[param(max_length = 128)]
    action: Option<String>,
    /// Only events whose target starts with this; at most 512 bytes (the
    /// document: 128 characters).
    #[param(max_length = 128)]
    target: Option<String>,
    /// The previous page's `next_cursor`.
    #[param(pattern = r"^[0-9a-f]{24}$")]
    before: Option<String>,
    /// 1 to 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The audit log, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = tessera_api::ErrorBody)))]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    caller.require("audit:read", resource::AUDIT_LOG)?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    if let Some(before) = &params.before {
        if !AuditIds::is_valid(before) {
            return Err(ApiError::BadRequest(
                "before must be a cursor returned as next_cursor".into(),
            ));
        }
    }
    let actor = match &params.actor {
        Some(a) => Some(
            MemberId::parse(a)
                .map_err(|_| ApiError::BadRequest("actor must be a member id".into()))?,
        ),
        None => None,
    };
    let bounded = |v: &Option<String>, name: &str| -> ApiResult<()> {
        match v {
            Some(s) if s.len() > 512 => Err(ApiError::BadRequest(format!("{name} is too long"))),
            _ => Ok(()),
        }
    };
    bounded(&params.action, "action")?;
    bounded(&params.target, "target")?;
    let query = AuditQuery {
        actor,
        action: params.action,
        target: params.target,
        before: params.before,
        limit: limit + 1,
    };
    // One row more than asked tells whether another page exists.
    let mut events = state.store.list_audit(&caller.org.id, &query).await?;
    let next_cursor = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events.last().map(|e| e.id.clone())
    } else {
        None
    };
    let items = events.into_iter().map(audit_response).collect();
    Ok(Json(AuditPage { items, next_cursor }))
}

fn audit_response(e: AuditEvent) -> AuditEventResponse {
    AuditEventResponse {
        id: e.id,
        at: e.at,
        actor: AuditActor {
            member: e.actor.member.map(|m| m.to_string()),
            token: e.actor.token.map(|t| t.to_string()),
        },
        action: e.action,
        target: e.target,
        ip: e.ip,
        details: e.details,
    }
}

fn admin_event(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: String,
    details: serde_json::Value,
) -> AuditEvent {
    state.audit(
        &caller.org.id,
        caller.actor(),
        caller.ip.clone(),
        action,
        target,
        details,
    )
}
