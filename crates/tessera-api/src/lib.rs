//! Tessera's REST API wire types (`/api/v1`), shared by the server and the
//! client so the two cannot drift apart.
//!
//! Requests refuse unknown fields (a typo is a 400, not a silently ignored
//! setting). Times are RFC 3339 in UTC. With the `openapi` feature every
//! type also describes itself for the OpenAPI document.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

pub use tessera_core::{BuiltinRole, Policy, TokenPolicy};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

mod error_code;
#[cfg(feature = "openapi")]
pub mod schema;
mod verifier;

pub use error_code::ErrorCode;
pub use verifier::{Verifier, VerifyError, VerifyFuture};

/// Deserializes a field that distinguishes "absent" (`None`) from "null"
/// (`Some(None)`), for PATCH bodies.
fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

mod rfc3339_double {
    use serde::{Deserialize, Deserializer};
    use time::OffsetDateTime;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "time::serde::rfc3339::option")] Option<OffsetDateTime>);
        Wrap::deserialize(de).map(|w| Some(w.0))
    }
}

/// Every error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable (`invalid_token`, `token_expired`, ...).
    pub code: ErrorCode,
    /// For people; never contains a token or a password.
    pub message: String,
}

// ---------------------------------------------------------------- session

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
    pub member: MemberResponse,
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

/// Request types that carry a password print it as `<redacted>`.
macro_rules! redacted_debug {
    ($ty:ident { $($field:ident),* } redact { $($secret:ident),* }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &"<redacted>"))*
                    .finish()
            }
        }
    };
}

redacted_debug!(LoginRequest { email, org } redact { password });
redacted_debug!(ChangePasswordRequest {} redact { current_password, new_password });
redacted_debug!(CreateMemberRequest { email, name, role, custom_roles } redact { password });

// ---------------------------------------------------------------- members

/// `POST /members`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateMemberRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Email))]
    pub email: String,
    /// Defaults to the part of the email before the `@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::BuiltinRole, example = "writer"))]
    pub role: BuiltinRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<schema::Key>>, max_items = 100))]
    pub custom_roles: Option<Vec<String>>,
    /// When absent, a random initial password is generated and returned
    /// once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::NewPassword>))]
    pub password: Option<String>,
}

/// `PATCH /members/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateMemberRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::BuiltinRole>))]
    pub role: Option<BuiltinRole>,
    /// Replaces the member's custom roles; `[]` removes them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<schema::Key>>, max_items = 100))]
    pub custom_roles: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MemberResponse {
    pub id: String,
    pub email: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::BuiltinRole))]
    pub role: BuiltinRole,
    pub custom_roles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedMemberResponse {
    #[serde(flatten)]
    pub member: MemberResponse,
    /// Present once, when the server generated the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_password: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MemberList {
    pub items: Vec<MemberResponse>,
}

// ---------------------------------------------------------------- roles

/// `POST /roles`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateRoleRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Key))]
    pub key: String,
    /// Defaults to the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Policy))]
    pub policy: Policy,
}

/// `PUT /roles/{key}`: replaces name and policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateRoleRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Policy))]
    pub policy: Policy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RoleResponse {
    pub key: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Policy))]
    pub policy: Policy,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RoleList {
    pub items: Vec<RoleResponse>,
}

// ---------------------------------------------------------------- projects

/// `POST /projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateProjectRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Key))]
    pub key: String,
    /// Defaults to the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>))]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProjectResponse {
    pub key: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProjectList {
    pub items: Vec<ProjectResponse>,
}

// ---------------------------------------------------------------- org

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OrgResponse {
    pub id: String,
    pub key: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub token_policy: TokenPolicy,
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
}

/// Changes to the org's token policy; absent fields stay as they are, and
/// `"max_lifetime_days": null` removes the cap.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenPolicyPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_expiration: Option<bool>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<u32>, minimum = 1, maximum = 3650)
    )]
    pub max_lifetime_days: Option<Option<u32>>,
}

// ---------------------------------------------------------------- tokens

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
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::BuiltinRole>))]
    pub role: Option<Option<BuiltinRole>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<Vec<schema::Key>>, min_items = 1, max_items = 100)
    )]
    pub custom_roles: Option<Option<Vec<String>>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Policy>))]
    pub policy: Option<Option<Policy>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<schema::Key>>, max_items = 100))]
    pub projects: Option<Option<Vec<String>>>,
    #[serde(
        default,
        deserialize_with = "rfc3339_double::deserialize",
        serialize_with = "serialize_double_time",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<Option<OffsetDateTime>>,
}

fn serialize_double_time<S: serde::Serializer>(
    value: &Option<Option<OffsetDateTime>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::option::serialize(&value.flatten(), s)
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
    /// The owner's member id.
    pub member_id: String,
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

impl std::fmt::Debug for CreatedTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTokenResponse")
            .field("metadata", &self.metadata)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenList {
    pub items: Vec<TokenResponse>,
}

// ---------------------------------------------------------------- verify

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

// ---------------------------------------------------------------- audit

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditActor {
    pub member: Option<String>,
    pub token: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let p: UpdateTokenRequest = serde_json::from_str(r#"{"role": null}"#).expect("json");
        assert_eq!(p.role, Some(None));
        assert!(p.policy.is_none());
        let p: UpdateTokenRequest =
            serde_json::from_str(r#"{"expires_at": "2030-01-01T00:00:00Z"}"#).expect("json");
        assert!(matches!(p.expires_at, Some(Some(_))));
        let p: UpdateTokenRequest = serde_json::from_str(r#"{"expires_at": null}"#).expect("json");
        assert_eq!(p.expires_at, Some(None));
        let p: UpdateTokenRequest = serde_json::from_str(r#"{}"#).expect("json");
        assert_eq!(p.expires_at, None);
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let login = LoginRequest {
            email: "a@b.c".into(),
            password: "hunter2hunter2".into(),
            org: None,
        };
        let member: CreateMemberRequest = serde_json::from_str(
            r#"{"email":"a@b.c","role":"reader","password":"hunter2hunter2"}"#,
        )
        .expect("json");
        let change = ChangePasswordRequest {
            current_password: "hunter2hunter2".into(),
            new_password: "hunter3hunter3".into(),
        };
        for shown in [
            format!("{login:?}"),
            format!("{member:?}"),
            format!("{change:?}"),
        ] {
            assert!(!shown.contains("hunter"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<CreateTokenRequest>(r#"{"name":"a","nmae":"b"}"#).is_err());
        assert!(serde_json::from_str::<RotateTokenRequest>(
            r#"{"expiresAt":"2030-01-01T00:00:00Z"}"#
        )
        .is_ok());
    }
}
