//! The org's settings: custom roles, projects, the org and its token
//! policy, and the audit log (the rules are in [`crate::service`]'s
//! `roles`, `projects`, `org` and `audit`).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tessera_api::{
    CreateProjectRequest, CreateRoleRequest, OrgResponse, ProjectList, ProjectResponse, RoleList,
    RoleResponse, UpdateOrgRequest, UpdateRoleRequest,
};

use super::{ApiJson, Created};
use crate::error::ApiResult;
use crate::service::{org, projects, roles, Call};
use crate::state::AppState;

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
}

// ---------------------------------------------------------------- roles

/// The org's custom roles.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", responses((status = 200, body = RoleList)))]
pub async fn list_roles(call: Call) -> ApiResult<Json<RoleList>> {
    Ok(Json(roles::list(&call).await?))
}

/// Create a custom role from policy statements.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", request_body = CreateRoleRequest,
    responses((status = 201, body = RoleResponse), (status = 409, body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn create_role(
    call: Call,
    ApiJson(body): ApiJson<CreateRoleRequest>,
) -> ApiResult<Created<RoleResponse>> {
    Ok(Created(roles::create(&call, body).await?))
}

/// One custom role.
#[utoipa::path(get, path = "/api/v1/roles/{key}", tag = "roles",
    responses((status = 200, body = RoleResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_role(call: Call, Path(key): Path<String>) -> ApiResult<Json<RoleResponse>> {
    Ok(Json(roles::show(&call, &key).await?))
}

/// Replace a custom role's name and policy; every member and token holding
/// it changes at once.
#[utoipa::path(put, path = "/api/v1/roles/{key}", tag = "roles", request_body = UpdateRoleRequest,
    responses((status = 200, body = RoleResponse), (status = 404, body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn update_role(
    call: Call,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<UpdateRoleRequest>,
) -> ApiResult<Json<RoleResponse>> {
    let role = roles::update(&call, &key, body).await?;
    Ok(Json(role))
}

/// Delete a custom role that no member or token holds.
#[utoipa::path(delete, path = "/api/v1/roles/{key}", tag = "roles",
    responses((status = 204), (status = 404, body = tessera_api::ErrorBody), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn delete_role(call: Call, Path(key): Path<String>) -> ApiResult<StatusCode> {
    roles::delete(&call, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- projects

/// The org's projects.
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", responses((status = 200, body = ProjectList)))]
pub async fn list_projects(call: Call) -> ApiResult<Json<ProjectList>> {
    Ok(Json(projects::list(&call).await?))
}

/// Create a project.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectResponse), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn create_project(
    call: Call,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> ApiResult<Created<ProjectResponse>> {
    Ok(Created(projects::create(&call, body).await?))
}

/// One project.
#[utoipa::path(get, path = "/api/v1/projects/{key}", tag = "projects",
    responses((status = 200, body = ProjectResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_project(call: Call, Path(key): Path<String>) -> ApiResult<Json<ProjectResponse>> {
    Ok(Json(projects::show(&call, &key).await?))
}

/// Delete a project. Tokens restricted to it keep the key in their
/// restriction: they can do nothing in the project while it is gone, and
/// regain it if a project with the same key is created again.
#[utoipa::path(delete, path = "/api/v1/projects/{key}", tag = "projects",
    responses((status = 204), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn delete_project(call: Call, Path(key): Path<String>) -> ApiResult<StatusCode> {
    projects::delete(&call, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- org

/// The org and its token policy.
#[utoipa::path(get, path = "/api/v1/org", tag = "org", responses((status = 200, body = OrgResponse)))]
pub async fn get_org(call: Call) -> ApiResult<Json<OrgResponse>> {
    Ok(Json(org::show_org(&call).await?))
}

/// Change the org's name or token policy. New rules apply to tokens
/// created, re-dated or rotated from now on.
#[utoipa::path(patch, path = "/api/v1/org", tag = "org", request_body = UpdateOrgRequest,
    responses((status = 200, body = OrgResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn update_org(
    call: Call,
    ApiJson(body): ApiJson<UpdateOrgRequest>,
) -> ApiResult<Json<OrgResponse>> {
    Ok(Json(org::update(&call, body).await?))
}
