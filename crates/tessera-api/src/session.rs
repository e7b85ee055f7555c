//! Logging in and out, who is calling (`/session`, `/me`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;
use crate::{MemberResponse, OrgResponse, TokenResponse};

/// `POST /session`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Email))]
    pub email: String,
    pub password: String,
    /// The org's key; needed only when the email belongs to several orgs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Key>))]
    pub org: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionResponse {
    pub member: MemberResponse,
    pub org: OrgResponse,
    /// Send back as `X-CSRF-Token` on state-changing requests that are not
    /// `application/json`.
    pub csrf_token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
}

/// `GET /me`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MeResponse {
    /// The member calling; `null` when a service account's token calls.
    pub member: Option<MemberResponse>,
    /// The service account whose token calls (absent for a member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub service_account: Option<crate::ServiceAccountResponse>,
    pub org: OrgResponse,
    /// `"token"` or `"session"`.
    pub authenticated_by: String,
    /// The token making this call, when it is one.
    pub token: Option<TokenResponse>,
}

/// `PUT /me/password` (session only).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangePasswordRequest {
    pub current_password: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::NewPassword))]
    pub new_password: String,
}

redacted_debug!(LoginRequest { email, org } redact { password });
redacted_debug!(ChangePasswordRequest {} redact { current_password, new_password });
