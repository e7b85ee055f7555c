//! `/tokens`: a member's own tokens — create, list, show, update, clone,
//! rotate, delete (the rules are in [`crate::service::tokens`]).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use tessera_api::{
    CloneTokenRequest, CreateTokenRequest, CreatedTokenResponse, RotateTokenRequest, TokenList,
    TokenResponse, UpdateTokenRequest,
};

use super::{ApiJson, Created, OptionalJson};
use crate::error::ApiResult;
use crate::service::{tokens, Call};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens).post(create_token))
        .route(
            "/tokens/{id}",
            get(get_token).patch(update_token).delete(delete_token),
        )
        .route("/tokens/{id}/clone", post(clone_token))
        .route(
            "/tokens/{id}/rotate",
            post(rotate_token).patch(rotate_token),
        )
}

/// Your tokens, newest first (metadata only).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList), (status = 401, body = tessera_api::ErrorBody)))]
pub async fn list_tokens(call: Call) -> ApiResult<Json<TokenList>> {
    Ok(Json(tokens::list(&call).await?))
}

/// Create a token. The response carries its value, this once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedTokenResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, description = "one of your tokens already has this name", body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn create_token(
    call: Call,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> ApiResult<Created<CreatedTokenResponse>> {
    Ok(Created(tokens::create(&call, body).await?))
}

/// One of your tokens (admins: any member's), metadata only.
#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "token id, or `self`")),
    responses((status = 200, body = TokenResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_token(call: Call, Path(id): Path<String>) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(tokens::show(&call, &id).await?))
}

/// Rename, re-scope, restrict to projects, or move the expiry.
#[utoipa::path(patch, path = "/api/v1/tokens/{id}", tag = "tokens", request_body = UpdateTokenRequest,
    params(("id" = String, Path, description = "token id, or `self`")),
    responses((status = 200, body = TokenResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, description = "another token of its owner has this name", body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn update_token(
    call: Call,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let updated = tokens::update(&call, &id, body).await?;
    Ok(Json(updated))
}

/// Revoke a token, at once and for good.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "token id, or `self`")),
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn delete_token(call: Call, Path(id): Path<String>) -> ApiResult<StatusCode> {
    tokens::delete(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new token (new id, new secret) with the same scope, projects and
/// expiry.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/clone", tag = "tokens", request_body = CloneTokenRequest,
    params(("id" = String, Path, description = "token id, or `self`")),
    responses((status = 201, body = CreatedTokenResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, description = "one of your tokens already has this name", body = tessera_api::ErrorBody)))]
pub async fn clone_token(
    call: Call,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<CloneTokenRequest>,
) -> ApiResult<Created<CreatedTokenResponse>> {
    Ok(Created(tokens::clone(&call, &id, body).await?))
}

/// A new secret for the same id, name and scope; the old string stops
/// working at once, or after the grace period.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/rotate", tag = "tokens", request_body = RotateTokenRequest,
    params(("id" = String, Path, description = "token id, or `self`")),
    responses((status = 200, body = CreatedTokenResponse), (status = 422, body = tessera_api::ErrorBody),
        (status = 429, body = tessera_api::ErrorBody)))]
pub async fn rotate_token(
    call: Call,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RotateTokenRequest>,
) -> ApiResult<Json<CreatedTokenResponse>> {
    let rotated = tokens::rotate(&call, &id, body).await?;
    Ok(Json(rotated))
}
