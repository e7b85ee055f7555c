//! The API's stable error codes (`{"error": {"code": ...}}`), spelled once
//! for the server that sends them, the client that matches on them, and
//! the OpenAPI document.
//!
//! Forward compatibility: a newer server may send a code this crate does
//! not know. It parses (and deserializes) as [`ErrorCode::Unknown`] rather
//! than failing, so an older client still reads the error's status and
//! message; the client keeps the raw text beside it. The enum is
//! `#[non_exhaustive]` because codes will be added: matches need a `_` arm.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares the enum, its wire strings and [`ErrorCode::ALL`] from one list,
/// so a variant cannot be added without its string.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $wire:literal,)*) => {
        /// A stable, machine-readable error code. See `docs/api.md#errors`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
            /// A code this version does not know (sent by a newer server).
            /// Never sent by this version's server.
            Unknown,
        }

        impl ErrorCode {
            /// Every code a server of this version may send (not `Unknown`).
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant,)*];

            /// The wire string, exactly as in the JSON body.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Unknown => "unknown",
                }
            }

            /// Reads a wire string; any code not listed is `Unknown`.
            pub fn parse(code: &str) -> Self {
                match code {
                    $($wire => Self::$variant,)*
                    _ => Self::Unknown,
                }
            }
        }
    };
}

error_codes! {
    BadRequest => "bad_request",
    Unauthenticated => "unauthenticated",
    InvalidToken => "invalid_token",
    TokenExpired => "token_expired",
    TokenDisabled => "token_disabled",
    /// The token's org is suspended by the host product (platform API).
    OrgSuspended => "org_suspended",
    InvalidCredentials => "invalid_credentials",
    /// A GitHub secret-scanning report whose signature does not verify.
    InvalidSignature => "invalid_signature",
    Forbidden => "forbidden",
    SessionRequired => "session_required",
    /// The member's org signs in with single sign-on only
    /// (`"sso": {"password_login": false}`): passwords are refused.
    SsoRequired => "sso_required",
    CsrfFailed => "csrf_failed",
    NotFound => "not_found",
    AlreadyExists => "already_exists",
    InUse => "in_use",
    LastOwner => "last_owner",
    PayloadTooLarge => "payload_too_large",
    UnsupportedMediaType => "unsupported_media_type",
    ValidationFailed => "validation_failed",
    InvalidPolicy => "invalid_policy",
    UnknownProject => "unknown_project",
    UnknownReference => "unknown_reference",
    ExpirationRequired => "expiration_required",
    LifetimeExceeded => "lifetime_exceeded",
    NotRotatable => "not_rotatable",
    RateLimited => "rate_limited",
    /// The token may not be used from the caller's address (its
    /// `allowed_ips`).
    IpNotAllowed => "ip_not_allowed",
    /// The token's quota is spent.
    QuotaExhausted => "quota_exhausted",
    Unavailable => "unavailable",
    Internal => "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Never fails: an unlisted code is [`ErrorCode::Unknown`] (see the module
/// docs on forward compatibility).
impl std::str::FromStr for ErrorCode {
    type Err = std::convert::Infallible;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(code))
    }
}

// By hand rather than derived, so the wire strings are those of the list
// above and an unknown code deserializes instead of failing.
impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::parse(&code))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Stable, machine-readable. More codes may be added: treat an unknown one \
                 by its HTTP status.",
            ))
            .enum_values(Some(Self::ALL.iter().map(|code| code.as_str())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_serde_and_parse() {
        for &code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(
                serde_json::from_str::<ErrorCode>(&json).expect("deserialize"),
                code
            );
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert_eq!(code.to_string(), code.as_str());
            // snake_case, as the API has always spelled them.
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code:?}"
            );
        }
        let mut wire: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        wire.sort_unstable();
        wire.dedup();
        assert_eq!(
            wire.len(),
            ErrorCode::ALL.len(),
            "two variants share a string"
        );
    }

    #[test]
    fn a_code_from_a_newer_server_is_unknown_not_an_error() {
        let body: crate::ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"quota_exceeded","message":"m"}}"#)
                .expect("an unknown code still parses");
        assert_eq!(body.error.code, ErrorCode::Unknown);
        assert_eq!(body.error.message, "m");
        assert_eq!(
            "quota_exceeded".parse::<ErrorCode>(),
            Ok(ErrorCode::Unknown)
        );
    }

    /// The errors table in docs/api.md lists exactly the codes of the enum,
    /// so neither can change without the other.
    #[test]
    fn the_docs_errors_table_lists_every_code_and_no_other() {
        let doc = include_str!("../../../docs/api.md");
        let table = doc
            .split("\n## Errors\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("docs/api.md has an `## Errors` section");
        let mut documented: Vec<&str> = table
            .lines()
            .filter_map(|line| line.strip_prefix('|'))
            .filter_map(|line| line.split('|').nth(1))
            .filter_map(|cell| cell.trim().strip_prefix('`')?.strip_suffix('`'))
            .collect();
        documented.sort_unstable();
        documented.dedup();
        let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        assert_eq!(documented, codes);
    }
}
