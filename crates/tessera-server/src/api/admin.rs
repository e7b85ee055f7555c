//! The org's settings: custom roles, projects, the org and its token
//! policy, and the audit log (the rules are in [`crate::service`]'s
//! `roles`, `projects`, `org` and `audit`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tessera_api::{
    AuditPage, CreateProjectRequest, CreateRoleRequest, OrgResponse, ProjectList, ProjectResponse,
    RoleList, RoleResponse, UpdateOrgRequest, UpdateRoleRequest,
};

use super::{ApiJson, ApiQuery, Created};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::{audit, org, projects, roles};
use crate::state::AppState;

pub use crate::service::audit::AuditParams;

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

/// The org's custom roles.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", responses((status = 200, body = RoleList)))]
pub async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<RoleList>> {
    Ok(Json(roles::list(&state, &caller).await?))
}

/// Create a custom role from policy statements.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", request_body = CreateRoleRequest,
    responses((status = 201, body = RoleResponse), (status = 409, body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateRoleRequest>,
) -> ApiResult<Created<RoleResponse>> {
    Ok(Created(
        roles::create(&state, &caller, body, state.now()).await?,
    ))
}

/// One custom role.
#[utoipa::path(get, path = "/api/v1/roles/{key}", tag = "roles",
    responses((status = 200, body = RoleResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoleResponse>> {
    Ok(Json(roles::show(&state, &caller, &key).await?))
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
    let role = roles::update(&state, &caller, &key, body, state.now()).await?;
    Ok(Json(role))
}

/// Delete a custom role that no member or token holds.
#[utoipa::path(delete, path = "/api/v1/roles/{key}", tag = "roles",
    responses((status = 204), (status = 404, body = tessera_api::ErrorBody), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    roles::delete(&state, &caller, &key, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- projects

/// The org's projects.
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", responses((status = 200, body = ProjectList)))]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ProjectList>> {
    Ok(Json(projects::list(&state, &caller).await?))
}

/// Create a project.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectResponse), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> ApiResult<Created<ProjectResponse>> {
    Ok(Created(
        projects::create(&state, &caller, body, state.now()).await?,
    ))
}

/// One project.
#[utoipa::path(get, path = "/api/v1/projects/{key}", tag = "projects",
    responses((status = 200, body = ProjectResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<ProjectResponse>> {
    Ok(Json(projects::show(&state, &caller, &key).await?))
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
    projects::delete(&state, &caller, &key, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- org

/// The org and its token policy.
#[utoipa::path(get, path = "/api/v1/org", tag = "org", responses((status = 200, body = OrgResponse)))]
pub async fn get_org(caller: Caller) -> ApiResult<Json<OrgResponse>> {
    Ok(Json(org::show(&caller)?))
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
    Ok(Json(org::update(&state, &caller, body, state.now()).await?))
}

// ---------------------------------------------------------------- audit

/// The audit log, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = tessera_api::ErrorBody)))]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(audit::list(&state, &caller, params).await?))
}
