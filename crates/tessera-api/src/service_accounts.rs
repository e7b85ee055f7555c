//! Service accounts (`/service-accounts`): org-owned identities for
//! automation, whose tokens outlive the member who made them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;
use crate::BuiltinRole;

/// `POST /service-accounts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateServiceAccountRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = schema::Name, example = "ci-deploy"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000, nullable = false))]
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::BuiltinRole, example = "writer"))]
    pub role: BuiltinRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<schema::Key>>, max_items = 100, nullable = false))]
    pub custom_roles: Option<Vec<String>>,
}

/// `PATCH /service-accounts/{id}`: what is given changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateServiceAccountRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::Name>, nullable = false))]
    pub name: Option<String>,
    /// `""` removes the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000, nullable = false))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schema::BuiltinRole>, nullable = false))]
    pub role: Option<BuiltinRole>,
    /// Replaces the account's custom roles; `[]` removes them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<schema::Key>>, max_items = 100, nullable = false))]
    pub custom_roles: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ServiceAccountResponse {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = schema::BuiltinRole))]
    pub role: BuiltinRole,
    pub custom_roles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// The member who made it (who may since have left).
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ServiceAccountList {
    pub items: Vec<ServiceAccountResponse>,
}

/// The service account a verified token acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerifiedServiceAccount {
    pub id: String,
    pub name: String,
}
