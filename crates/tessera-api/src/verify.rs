//! Checking a token (`/verify`) and reporting leaked ones (`/leaks`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;

/// `POST /verify`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerifyRequest {
    pub token: String,
    /// Give `action` and `resource` both, or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<schema::CheckAction>, nullable = false)
    )]
    pub action: Option<String>,
    /// Give `action` and `resource` both, or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<schema::CheckResource>, nullable = false)
    )]
    pub resource: Option<String>,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("token", &"<redacted>")
            .field("action", &self.action)
            .field("resource", &self.resource)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerifyResponse {
    pub valid: bool,
    /// `valid`, or why not: `malformed_token`, `invalid_token`,
    /// `token_expired`.
    pub code: String,
    /// Present when an action was asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<VerifiedToken>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerifiedToken {
    pub id: String,
    pub name: String,
    /// The owner's member id.
    pub member: String,
    /// The org's key.
    pub org: String,
    pub projects: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<OffsetDateTime>,
}

// ---------------------------------------------------------------- leaks

/// `POST /leaks`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LeakReport {
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub tokens: Vec<String>,
    /// Where they were found; at most 2048 bytes (the document: 512
    /// characters, as many as always fit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub url: Option<String>,
}

impl std::fmt::Debug for LeakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeakReport")
            .field("tokens", &self.tokens.len())
            .field("url", &self.url)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LeakReportResponse {
    /// Valid tokens that were revoked now.
    pub revoked: u32,
    /// Strings that were not live tokens of this deployment.
    pub ignored: u32,
}
