//! `/members`: who is in the org, with which roles (the rank rules are in
//! [`crate::service::members`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tessera_api::{
    CreateMemberRequest, CreatedMemberResponse, MemberList, MemberResponse, TokenList,
    UpdateMemberRequest,
};

use super::{ApiJson, Created};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::members;
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
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<MemberList>> {
    Ok(Json(members::list(&state, &caller).await?))
}

/// Add a member. Without a password, one is generated and returned once.
#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = CreateMemberRequest,
    responses((status = 201, body = CreatedMemberResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, body = tessera_api::ErrorBody)))]
pub async fn create_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateMemberRequest>,
) -> ApiResult<Created<CreatedMemberResponse>> {
    Ok(Created(
        members::create(&state, &caller, body, state.now()).await?,
    ))
}

/// One member.
#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members",
    responses((status = 200, body = MemberResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberResponse>> {
    Ok(Json(members::show(&state, &caller, &id).await?))
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
    let updated = members::update(&state, &caller, &id, body, state.now()).await?;
    Ok(Json(updated))
}

/// Remove a member: their tokens and sessions stop working at once.
#[utoipa::path(delete, path = "/api/v1/members/{id}", tag = "members",
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn delete_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    members::delete(&state, &caller, &id, state.now()).await?;
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
    Ok(Json(members::list_tokens(&state, &caller, &id).await?))
}
