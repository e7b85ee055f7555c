//! `/service-accounts`: org-owned identities for automation, and their
//! tokens (the rules are in [`crate::service::service_accounts`]; the
//! `/tokens/{id}` endpoints work on their tokens too).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tessera_api::{
    CreateServiceAccountRequest, CreateTokenRequest, CreatedTokenResponse, ServiceAccountList,
    ServiceAccountResponse, TokenList, UpdateServiceAccountRequest,
};

use super::{ApiJson, Created};
use crate::error::ApiResult;
use crate::service::{service_accounts, Call};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/service-accounts",
            get(list_service_accounts).post(create_service_account),
        )
        .route(
            "/service-accounts/{id}",
            get(get_service_account)
                .patch(update_service_account)
                .delete(delete_service_account),
        )
        .route(
            "/service-accounts/{id}/tokens",
            get(list_service_account_tokens).post(create_service_account_token),
        )
}

/// The org's service accounts you may read.
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "service accounts",
    responses((status = 200, body = ServiceAccountList)))]
pub async fn list_service_accounts(call: Call) -> ApiResult<Json<ServiceAccountList>> {
    Ok(Json(service_accounts::list(&call).await?))
}

/// Make a service account, with a role (and custom roles) you may give.
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "service accounts",
    request_body = CreateServiceAccountRequest,
    responses((status = 201, body = ServiceAccountResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, description = "a service account already has this name", body = tessera_api::ErrorBody)))]
pub async fn create_service_account(
    call: Call,
    ApiJson(body): ApiJson<CreateServiceAccountRequest>,
) -> ApiResult<Created<ServiceAccountResponse>> {
    Ok(Created(service_accounts::create(&call, body).await?))
}

/// One service account.
#[utoipa::path(get, path = "/api/v1/service-accounts/{id}", tag = "service accounts",
    responses((status = 200, body = ServiceAccountResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_service_account(
    call: Call,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceAccountResponse>> {
    Ok(Json(service_accounts::show(&call, &id).await?))
}

/// Rename, describe, or change a service account's roles. Its tokens
/// follow its new role at once.
#[utoipa::path(patch, path = "/api/v1/service-accounts/{id}", tag = "service accounts",
    request_body = UpdateServiceAccountRequest,
    responses((status = 200, body = ServiceAccountResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, description = "a service account already has this name", body = tessera_api::ErrorBody)))]
pub async fn update_service_account(
    call: Call,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateServiceAccountRequest>,
) -> ApiResult<Json<ServiceAccountResponse>> {
    Ok(Json(service_accounts::update(&call, &id, body).await?))
}

/// Delete a service account: its tokens stop working at once.
#[utoipa::path(delete, path = "/api/v1/service-accounts/{id}", tag = "service accounts",
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn delete_service_account(call: Call, Path(id): Path<String>) -> ApiResult<StatusCode> {
    service_accounts::delete(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A service account's tokens, newest first (metadata only).
#[utoipa::path(get, path = "/api/v1/service-accounts/{id}/tokens", tag = "service accounts",
    responses((status = 200, body = TokenList), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn list_service_account_tokens(
    call: Call,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenList>> {
    Ok(Json(service_accounts::list_tokens(&call, &id).await?))
}

/// Create a token for a service account (the body of `POST /tokens`). The
/// response carries its value, this once.
#[utoipa::path(post, path = "/api/v1/service-accounts/{id}/tokens", tag = "service accounts",
    request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedTokenResponse), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, description = "one of the account's tokens already has this name", body = tessera_api::ErrorBody),
        (status = 422, body = tessera_api::ErrorBody)))]
pub async fn create_service_account_token(
    call: Call,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> ApiResult<Created<CreatedTokenResponse>> {
    Ok(Created(
        service_accounts::create_token(&call, &id, body).await?,
    ))
}
