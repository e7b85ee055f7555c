//! `/webhooks`: an org's endpoints and their deliveries (the rules are in
//! [`crate::service::webhooks`]).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use tessera_api::{
    CreateWebhookRequest, CreatedWebhookResponse, DeliveryList, DeliveryResponse,
    UpdateWebhookRequest, WebhookList, WebhookResponse,
};

use super::{ApiJson, Created};
use crate::error::ApiResult;
use crate::service::{webhooks, Call};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route(
            "/webhooks/{id}",
            get(get_webhook)
                .patch(update_webhook)
                .delete(delete_webhook),
        )
        .route("/webhooks/{id}/deliveries", get(list_deliveries))
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/retry",
            post(retry_delivery),
        )
        .route("/webhooks/{id}/ping", post(ping_webhook))
}

/// The org's webhook endpoints (admins).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList)))]
pub async fn list_webhooks(call: Call) -> ApiResult<Json<WebhookList>> {
    Ok(Json(webhooks::list(&call).await?))
}

/// Make a webhook endpoint. The answer shows its signing secret
/// (`whsec_…`) this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhookRequest,
    responses((status = 201, body = CreatedWebhookResponse),
        (status = 400, description = "not an http(s) URL without credentials, or an unknown event type", body = tessera_api::ErrorBody),
        (status = 403, body = tessera_api::ErrorBody),
        (status = 422, description = "the URL resolves to a private, loopback or link-local address", body = tessera_api::ErrorBody)))]
pub async fn create_webhook(
    call: Call,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> ApiResult<Created<CreatedWebhookResponse>> {
    Ok(Created(webhooks::create(&call, body).await?))
}

/// One webhook endpoint (never its secret).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 200, body = WebhookResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_webhook(call: Call, Path(id): Path<String>) -> ApiResult<Json<WebhookResponse>> {
    Ok(Json(webhooks::show(&call, &id).await?))
}

/// Change a webhook endpoint's URL, events or description.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    request_body = UpdateWebhookRequest,
    responses((status = 200, body = WebhookResponse), (status = 400, body = tessera_api::ErrorBody),
        (status = 403, body = tessera_api::ErrorBody), (status = 422, body = tessera_api::ErrorBody)))]
pub async fn update_webhook(
    call: Call,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> ApiResult<Json<WebhookResponse>> {
    Ok(Json(webhooks::update(&call, &id, body).await?))
}

/// Delete a webhook endpoint and its deliveries.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn delete_webhook(call: Call, Path(id): Path<String>) -> ApiResult<StatusCode> {
    webhooks::delete(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    responses((status = 200, body = DeliveryList), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn list_deliveries(call: Call, Path(id): Path<String>) -> ApiResult<Json<DeliveryList>> {
    Ok(Json(webhooks::deliveries(&call, &id).await?))
}

/// Send a delivery again now, whatever its status, with the same
/// `webhook-id`; the answer is the delivery after that attempt.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "webhooks",
    responses((status = 200, body = DeliveryResponse), (status = 404, body = tessera_api::ErrorBody),
        (status = 409, description = "a worker is sending it right now", body = tessera_api::ErrorBody)))]
pub async fn retry_delivery(
    call: Call,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<Json<DeliveryResponse>> {
    Ok(Json(webhooks::retry(&call, &id, &delivery_id).await?))
}

/// Send a `webhook.ping` event now; the answer is its delivery.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/ping", tag = "webhooks",
    responses((status = 200, body = DeliveryResponse), (status = 404, body = tessera_api::ErrorBody)))]
pub async fn ping_webhook(call: Call, Path(id): Path<String>) -> ApiResult<Json<DeliveryResponse>> {
    Ok(Json(webhooks::ping(&call, &id).await?))
}
