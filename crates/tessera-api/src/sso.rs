//! Single sign-on settings on `/org` (`"sso"`), and an admin setting a
//! member's password (`PUT /members/{id}/password`).

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;
use crate::BuiltinRole;

/// The org's single sign-on settings, as `GET /org` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OrgSsoSettings {
    /// Someone the provider vouches for, unknown here, whose verified
    /// email is at one of these domains joins the org as `default_role`.
    pub allowed_domains: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::BuiltinRole))]
    pub default_role: BuiltinRole,
    /// `false`: members must sign in with single sign-on
    /// (`POST /session` answers `403 sso_required`).
    pub password_login: bool,
}

/// `"sso"` in `PATCH /org`: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OrgSsoPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub allowed_domains: Option<Vec<String>>,
    /// `reader`, `writer` or `admin` (never `owner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::BuiltinRole>))]
    pub default_role: Option<BuiltinRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_login: Option<bool>,
}

/// `PUT /members/{id}/password`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SetPasswordRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::NewPassword))]
    pub password: String,
}

impl std::fmt::Debug for SetPasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPasswordRequest")
            .field("password", &"<redacted>")
            .finish()
    }
}
