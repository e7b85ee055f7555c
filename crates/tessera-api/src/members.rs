//! Members of the org (`/members`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;
use crate::BuiltinRole;

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
    /// The member's id in the host product (platform API, single sign-on);
    /// `null` for a member made in Tessera.
    #[serde(default)]
    pub external_id: Option<String>,
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

redacted_debug!(CreateMemberRequest { email, name, role, custom_roles } redact { password });
