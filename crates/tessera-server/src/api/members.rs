//! `/members`: who is in the org, with which roles (the rank rules are in
//! [`crate::service::members`]).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tessera_api::{
    CreateMemberRequest, CreatedMemberResponse, MemberList, MemberResponse, TokenList,
    UpdateMemberRequest,
};

use super::{ApiJson, Created};
use crate::error::ApiResult;
use crate::service::{members, Call};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/members", get(list_members).post(create_member))
        .route(
            "/members/{id}",
            get(get_member).patch(update_member).delete(delete_member),
        )
        .route("/members/{id}/tokens", get(list_member_tokens))
}

/// The org's members you may read.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", responses((status = 200, body = MemberList)))]
pub async fn list_members(call: Call) -> ApiResult<Json<MemberList>> {
    Ok(Json(members::list(&call).await?))
}

/// Add a member. Without a password, one is generated and returned once.
#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = CreateMemberRequest,
    responses((status = 201, body = CreatedMemberResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, body = tessera_api::ErrorBody)))]
pub async fn create_member(
    call: Call,
    ApiJson(body): ApiJson<CreateMemberRequest>,
) -> ApiResult<Created<CreatedMemberResponse>> {
    Ok(Created(members::create(&call, body).await?))
}

/// One member.
#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members",
    responses((status = 200, body = MemberResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_member(call: Call, Path(id): Path<String>) -> ApiResult<Json<MemberResponse>> {
    Ok(Json(members::show(&call, &id).await?))
}

/// Change a member's built-in role and custom roles. Their tokens follow
/// at once.
#[utoipa::path(patch, path = "/api/v1/members/{id}", tag = "members", request_body = UpdateMemberRequest,
    responses((status = 200, body = MemberResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, body = tessera_api::ErrorBody)))]
pub async fn update_member(
    call: Call,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> ApiResult<Json<MemberResponse>> {
    let updated = members::update(&call, &id, body).await?;
    Ok(Json(updated))
}

/// Remove a member: their tokens and sessions stop working at once.
#[utoipa::path(delete, path = "/api/v1/members/{id}", tag = "members",
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn delete_member(call: Call, Path(id): Path<String>) -> ApiResult<StatusCode> {
    members::delete(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An admin's view of a member's tokens: metadata only, never values.
#[utoipa::path(get, path = "/api/v1/members/{id}/tokens", tag = "members",
    responses((status = 200, body = TokenList), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn list_member_tokens(call: Call, Path(id): Path<String>) -> ApiResult<Json<TokenList>> {
    Ok(Json(members::list_tokens(&call, &id).await?))
}
