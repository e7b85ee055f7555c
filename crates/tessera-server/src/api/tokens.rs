//! `/tokens`: a member's own tokens — create, list, show, update, clone,
//! rotate, delete (the rules are in [`crate::service::tokens`]); disable
//! and enable ([`crate::service::token_controls`]); the org-wide inventory
//! (`GET /tokens?all=true`, [`crate::service::inventory`]).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use tessera_api::{
    CloneTokenRequest, CreateTokenRequest, CreatedTokenResponse, RotateTokenRequest, TokenPage,
    TokenResponse, UpdateTokenRequest,
};

use super::{ApiJson, ApiQuery, Created, OptionalJson};
use crate::error::ApiResult;
use crate::service::inventory::{self, Listing, TokenListParams};
use crate::service::{token_controls, tokens, Call};
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
        .route("/tokens/{id}/disable", post(disable_token))
        .route("/tokens/{id}/enable", post(enable_token))
        .route("/tokens/{id}/usage", get(token_usage))
}

/// `GET /tokens/{id}/usage`'s query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// Days to cover, today included (1 to 90; default 30).
    #[param(minimum = 1, maximum = 90)]
    pub days: Option<u32>,
}

/// A token's uses per UTC day by outcome (oldest first, every day of the
/// range present) and the last 5 client addresses it was used from.
#[utoipa::path(get, path = "/api/v1/tokens/{id}/usage", tag = "tokens",
    params(("id" = String, Path, description = "token id, or `self`"), UsageParams),
    responses((status = 200, body = tessera_api::TokenUsage),
        (status = 400, description = "days out of range", body = tessera_api::ErrorBody),
        (status = 404, description = "no such token, or one you may not read", body = tessera_api::ErrorBody)))]
pub async fn token_usage(
    call: Call,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> ApiResult<Json<tessera_api::TokenUsage>> {
    Ok(Json(
        crate::service::token_usage::usage(&call, &id, params.days).await?,
    ))
}

/// Your tokens, newest first (metadata only); with `all=true`, a page of
/// every token of the org (admins), filtered.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenListParams),
    responses((status = 200, body = TokenPage,
            description = "without all=true: your tokens, `items` only; with all=true: a page, and `next_cursor`"),
        (status = 400, description = "a malformed filter, limit or cursor, or a filter without all=true", body = tessera_api::ErrorBody),
        (status = 401, body = tessera_api::ErrorBody),
        (status = 403, description = "all=true without token:read on member/*:token/*", body = tessera_api::ErrorBody)))]
pub async fn list_tokens(
    call: Call,
    ApiQuery(params): ApiQuery<TokenListParams>,
) -> ApiResult<Json<Listing>> {
    Ok(Json(inventory::list(&call, params).await?))
}

/// Disable a token: it is refused (`401 token_disabled`) until enabled.
/// Disabling a disabled token changes nothing.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/disable", tag = "tokens",
    params(("id" = String, Path, description = "token id, or `self`")),
    responses((status = 200, body = TokenResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 404, description = "no such token, or one you may not read", body = tessera_api::ErrorBody)))]
pub async fn disable_token(call: Call, Path(id): Path<String>) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(token_controls::disable(&call, &id).await?))
}

/// Enable a disabled token again. Enabling an enabled token changes
/// nothing.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/enable", tag = "tokens",
    params(("id" = String, Path, description = "token id, or `self`")),
    responses((status = 200, body = TokenResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 404, description = "no such token, or one you may not read", body = tessera_api::ErrorBody)))]
pub async fn enable_token(call: Call, Path(id): Path<String>) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(token_controls::enable(&call, &id).await?))
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
