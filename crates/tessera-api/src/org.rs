//! The org and its token policy (`/org`), and its audit log (`/audit`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;
use crate::{patch, InactiveAction, OrgSsoPatch, OrgSsoSettings, TokenPolicy};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OrgResponse {
    pub id: String,
    pub key: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub token_policy: TokenPolicy,
    /// Single sign-on settings (on `/org`; absent where an org is shown
    /// in passing, as in a login's answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<OrgSsoSettings>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

/// `PATCH /org`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateOrgRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_policy: Option<TokenPolicyPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<OrgSsoPatch>,
}

/// Changes to the org's token policy; absent fields stay as they are,
/// `"max_lifetime_days": null` removes the cap and `"inactive_days": null`
/// turns the inactivity rule off.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenPolicyPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_expiration: Option<bool>,
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<u32>, minimum = 1, maximum = 3650)
    )]
    pub max_lifetime_days: Option<Option<u32>>,
    /// Tokens unused this many days (counted from creation when never
    /// used) are disabled or revoked, as `inactive_action` says.
    #[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<u32>, minimum = 1, maximum = 3650)
    )]
    pub inactive_days: Option<Option<u32>>,
    /// `disable` (the default) or `revoke`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^(disable|revoke)$"))]
    pub inactive_action: Option<InactiveAction>,
    /// Days before a token expires at which `token.expiring` is sent and
    /// its owner emailed: each 1 to 365, at most 10, none twice; `[]`
    /// turns warnings off. Default `[7, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<Vec<u32>>, max_items = 10)
    )]
    pub expiry_warning_days: Option<Vec<u32>>,
}

// ---------------------------------------------------------------- audit

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditActor {
    pub member: Option<String>,
    pub token: Option<String>,
    /// The member's email, also once they are removed (from the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The token's name, when the call was made with a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEventResponse {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    pub actor: AuditActor,
    pub action: String,
    pub target: String,
    /// The target in words, for members and tokens: an email, or
    /// `token “name” of email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    pub ip: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEventResponse>,
    /// Pass as `before` to get the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}
