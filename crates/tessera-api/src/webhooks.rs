//! Webhooks (`/webhooks`): an org's endpoints, signed per Standard
//! Webhooks, and their deliveries.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `POST /webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateWebhookRequest {
    /// `http://` or `https://`, without credentials, at most 2048 bytes.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://hooks.example.com/tessera", max_length = 2048)
    )]
    pub url: String,
    /// Event types (`token.created`, …), or `["*"]` for all.
    #[cfg_attr(feature = "openapi", schema(example = json!(["token.created", "token.revoked"]), min_items = 1, max_items = 32))]
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000, nullable = false))]
    pub description: Option<String>,
}

/// `PATCH /webhooks/{id}`: what is given changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateWebhookRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048, nullable = false))]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_items = 1, max_items = 32, nullable = false)
    )]
    pub events: Option<Vec<String>>,
    /// `""` removes the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000, nullable = false))]
    pub description: Option<String>,
}

/// A webhook endpoint. Its signing secret is shown once, when it is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookResponse {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

/// `POST /webhooks`'s answer: the endpoint and, this once, its signing
/// secret (`whsec_` and base64), as Standard Webhooks libraries take it.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedWebhookResponse {
    #[serde(flatten)]
    pub webhook: WebhookResponse,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    )]
    pub secret: String,
}

redacted_debug!(CreatedWebhookResponse { webhook } redact { secret });

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookList {
    pub items: Vec<WebhookResponse>,
}

/// One event sent (or to be sent) to one endpoint. Its `id` is the
/// `webhook-id` header, the same on every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeliveryResponse {
    pub id: String,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// `pending`, `succeeded` or `failed` (retries are over).
    #[cfg_attr(feature = "openapi", schema(example = "pending"))]
    pub status: String,
    pub attempts: u32,
    pub last_response_code: Option<u16>,
    /// Why the last attempt failed (a status, a timeout, a refused address).
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeliveryList {
    pub items: Vec<DeliveryResponse>,
}
