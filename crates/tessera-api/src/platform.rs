//! The platform API (`/platform/*`): the host product's backend manages
//! orgs (tenants) and their people, reads the platform audit log, and makes
//! one-time login links. Authenticated by a platform key, never by an org
//! token or a session.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;
use crate::{BuiltinRole, MemberResponse, TokenPolicy, TokenPolicyPatch};

/// An org as the platform API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlatformOrg {
    pub id: String,
    pub key: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub token_policy: TokenPolicy,
    /// While `true`, the org's tokens answer `401 org_suspended` and its
    /// sessions are refused.
    pub suspended: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub suspended_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

/// The first owner of a new org: a person of the host product.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlatformOwner {
    /// The person's id in the host product: 1 to 255 bytes, no control
    /// characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub external_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Email))]
    pub email: String,
    /// Defaults to the part of the email before the `@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
}

/// `POST /platform/orgs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatePlatformOrgRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Key))]
    pub key: String,
    /// Defaults to the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
    pub owner: PlatformOwner,
}

/// The answer to `POST /platform/orgs`: the org, and its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedPlatformOrg {
    #[serde(flatten)]
    pub org: PlatformOrg,
    pub owner: MemberResponse,
}

/// `PATCH /platform/orgs/{key}`; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdatePlatformOrgRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
    /// `true` suspends the org, `false` lifts a suspension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_policy: Option<TokenPolicyPatch>,
}

/// A page of orgs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlatformOrgPage {
    pub items: Vec<PlatformOrg>,
    /// Pass as `before` to get the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `PUT /platform/orgs/{key}/members/{external_id}`: the member as the
/// host product wants them (created, or updated to match).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PutMemberRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Email))]
    pub email: String,
    /// Defaults to the part of the email before the `@` (when created; an
    /// update without it keeps the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::BuiltinRole, example = "writer"))]
    pub role: BuiltinRole,
    /// Replaces the member's custom roles; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<schema::Key>>, max_items = 100))]
    pub custom_roles: Option<Vec<String>>,
}

/// `POST /platform/orgs/{key}/members/{external_id}/login-links`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateLoginLinkRequest {
    /// Where the link lands: a local path such as `/tokens/new` (default
    /// `/tokens`). Anything else (another host, `//host`, a backslash,
    /// control characters) is a 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048, example = "/tokens"))]
    pub return_to: Option<String>,
    /// Seconds the link stays valid: 1 to 300, default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 300))]
    pub expires_in: Option<u32>,
}

/// A login link: open `url` once, before `expires_at`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginLinkResponse {
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for LoginLinkResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLinkResponse")
            .field("url", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One event of the platform audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlatformAuditEventResponse {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    /// The platform key that acted (its id); `null` for `tessera
    /// platform-key` on the server's machine.
    pub platform_key: Option<String>,
    /// `org:create`, `org:update`, `org:delete`, `member:put`, ...
    pub action: String,
    /// The org's key, for calls about an org.
    pub org: Option<String>,
    /// The person's id in the host product, for calls about a member.
    pub external_id: Option<String>,
    pub ip: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
}

/// A page of the platform audit log, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlatformAuditPage {
    pub items: Vec<PlatformAuditEventResponse>,
    /// Pass as `before` to get the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}
