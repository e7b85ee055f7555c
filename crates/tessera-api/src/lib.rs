//! Tessera's REST API wire types (`/api/v1`), shared by the server and the
//! client so the two cannot drift apart.
//!
//! Requests refuse unknown fields (a typo is a 400, not a silently ignored
//! setting). Times are RFC 3339 in UTC. With the `openapi` feature every
//! type also describes itself for the OpenAPI document.

use serde::{Deserialize, Serialize};

pub use tessera_core::{BuiltinRole, InactiveAction, Policy, TokenPolicy};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

mod error_code;
#[cfg(feature = "openapi")]
pub mod schema;
mod verifier;

pub use error_code::ErrorCode;
pub use verifier::{Verifier, VerifyError, VerifyFuture};

/// A PATCH body's field, `Option<Option<T>>`: absent (`None`, and left
/// out when serialised), `null` (`Some(None)`) or a value. Used as
/// `#[serde(default, with = "patch", skip_serializing_if = "Option::is_none")]`.
mod patch {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(de).map(Some)
    }

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }
}

/// [`patch`] for a time, in RFC 3339.
mod patch_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "time::serde::rfc3339::option")] Option<OffsetDateTime>);
        Wrap::deserialize(de).map(|w| Some(w.0))
    }

    pub fn serialize<S: Serializer>(
        value: &Option<Option<OffsetDateTime>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::option::serialize(&value.flatten(), s)
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

/// Types that carry a password or a token's value print it as `<redacted>`.
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

// The wire types, by aggregate; declared after `redacted_debug!` so that
// they can use it.
mod catalog;
mod controls;
mod members;
mod org;
mod platform;
mod service_accounts;
mod session;
mod sso;
mod tokens;
mod verify;
mod views;
mod webhooks;

pub use catalog::{
    CreateProjectRequest, CreateRoleRequest, ProjectList, ProjectResponse, RoleList, RoleResponse,
    UpdateRoleRequest,
};
pub use controls::{
    Quota, QuotaRefill, QuotaState, RateLimit, RateLimitState, RecentIp, RefillInterval,
    TokenUsage, UsageDay,
};
pub use members::{
    CreateMemberRequest, CreatedMemberResponse, MemberList, MemberResponse, UpdateMemberRequest,
};
pub use org::{
    AuditActor, AuditEventResponse, AuditPage, OrgResponse, TokenPolicyPatch, UpdateOrgRequest,
};
pub use platform::{
    CreateLoginLinkRequest, CreatePlatformOrgRequest, CreatedPlatformOrg, LoginLinkResponse,
    PlatformAuditEventResponse, PlatformAuditPage, PlatformOrg, PlatformOrgPage, PlatformOwner,
    PutMemberRequest, UpdatePlatformOrgRequest,
};
pub use service_accounts::{
    CreateServiceAccountRequest, ServiceAccountList, ServiceAccountResponse,
    UpdateServiceAccountRequest, VerifiedServiceAccount,
};
pub use session::{ChangePasswordRequest, LoginRequest, MeResponse, SessionResponse};
pub use sso::{OrgSsoPatch, OrgSsoSettings, SetPasswordRequest};
pub use tokens::{
    CloneTokenRequest, CreateTokenRequest, CreatedTokenResponse, RotateTokenRequest, TokenList,
    TokenPage, TokenResponse, UpdateTokenRequest,
};
pub use verify::{
    AnyLeakReport, GithubLeak, GithubLeakLabel, GithubLeakReport, Introspection,
    IntrospectionRequest, LeakLabel, LeakReport, LeakReportAnswer, LeakReportResponse,
    VerifiedToken, VerifyRequest, VerifyResponse,
};
pub use webhooks::{
    CreateWebhookRequest, CreatedWebhookResponse, DeliveryList, DeliveryResponse,
    UpdateWebhookRequest, WebhookList, WebhookResponse,
};

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
