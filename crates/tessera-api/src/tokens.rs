//! API tokens (`/tokens`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;
use crate::{patch, patch_rfc3339, BuiltinRole, Policy};

/// `POST /tokens`. At most one of `role`, `custom_roles`, `policy`; with
/// none the token has its owner's permissions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateTokenRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Name))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::BuiltinRole>))]
    pub role: Option<BuiltinRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<Vec<schema::Key>>, min_items = 1, max_items = 100)
    )]
    pub custom_roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Policy>))]
    pub policy: Option<Policy>,
    /// Restricts the token to these projects; empty: not restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<schema::Key>>, max_items = 100))]
    pub projects: Option<Vec<String>>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<OffsetDateTime>,
    /// Addresses (CIDR ranges, IPv4 or IPv6; at most 100) the token may be
    /// used from; absent or empty: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 100, example = json!(["203.0.113.0/24"])))]
    pub allowed_ips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<crate::RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<crate::Quota>,
}

/// `PATCH /tokens/{id}`. Absent fields stay as they are. Sending any of
/// `role`, `custom_roles`, `policy` replaces the scope with exactly what is
/// sent (all three `null`: the owner's permissions). `"projects": null` or
/// `[]` lifts the project restriction. `expires_at` may only move within
/// the org's policy, counted from when the current secret was issued.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateTokenRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::BuiltinRole>))]
    pub role: Option<Option<BuiltinRole>>,
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<Vec<schema::Key>>, min_items = 1, max_items = 100)
    )]
    pub custom_roles: Option<Option<Vec<String>>>,
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Policy>))]
    pub policy: Option<Option<Policy>>,
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<schema::Key>>, max_items = 100))]
    pub projects: Option<Option<Vec<String>>>,
    #[serde(
        default,
        with = "patch_rfc3339",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// `null` or `[]`: any address.
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>, max_items = 100))]
    pub allowed_ips: Option<Option<Vec<String>>>,
    /// `null`: no rate limit.
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::RateLimit>))]
    pub rate_limit: Option<Option<crate::RateLimit>>,
    /// `null`: no quota. A quota sent here replaces the remaining uses.
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::Quota>))]
    pub quota: Option<Option<crate::Quota>>,
}

/// `POST /tokens/{id}/clone`: the body is optional; without a name the
/// clone is called "<name> (copy)". The clone keeps scope, projects and the
/// expiry of the original.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CloneTokenRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
}

/// `POST|PATCH /tokens/{id}/rotate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RotateTokenRequest {
    /// The new expiry; required, in the future. `expiresAt` is accepted
    /// too, as Lightdash spells it.
    #[serde(with = "time::serde::rfc3339", alias = "expiresAt")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
    /// Keep the old string valid this many seconds more (at most 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 86400))]
    pub grace_period_seconds: Option<u32>,
}

/// A token's metadata: everything but its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenResponse {
    pub id: String,
    pub name: String,
    /// Prefix and last characters, to tell tokens apart; never the value.
    pub snippet: String,
    /// The owner's member id; `null` for a service account's token.
    pub member_id: Option<String>,
    /// The owning service account's id; `null` for a member's token.
    #[serde(default)]
    pub service_account_id: Option<String>,
    /// The scope: at most one of these three is set; none means the
    /// owner's permissions.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::BuiltinRole>))]
    pub role: Option<BuiltinRole>,
    pub custom_roles: Option<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Policy>))]
    pub policy: Option<Policy>,
    /// Empty: not restricted to projects.
    pub projects: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub rotated_at: Option<OffsetDateTime>,
    /// When the token was disabled; `null` while it is enabled. A disabled
    /// token is refused (`401 token_disabled`) until it is enabled.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub disabled_at: Option<OffsetDateTime>,
    /// The addresses the token may be used from; `null`: any.
    #[serde(default)]
    pub allowed_ips: Option<Vec<String>>,
    #[serde(default)]
    pub rate_limit: Option<crate::RateLimit>,
    /// With the live `remaining`.
    #[serde(default)]
    pub quota: Option<crate::Quota>,
}

/// The answer to create, clone and rotate: metadata plus, this once, the
/// token itself.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedTokenResponse {
    #[serde(flatten)]
    pub metadata: TokenResponse,
    /// The full token. Shown only in this response; store it now.
    pub token: String,
}

redacted_debug!(CreatedTokenResponse { metadata } redact { token });

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenList {
    pub items: Vec<TokenResponse>,
}

/// A page of the org-wide token inventory (`GET /tokens?all=true`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenPage {
    pub items: Vec<TokenResponse>,
    /// Pass as `before` (with the same filters and `sort`) to get the next
    /// page; `null` on the last. Only with `all=true`.
    #[serde(default)]
    pub next_cursor: Option<String>,
}
