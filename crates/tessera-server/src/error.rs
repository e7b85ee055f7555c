//! The HTTP layer's error enum, and the one place that gives an error an
//! HTTP status: the service layer's errors (which already carry storage's
//! and the domain's, see [`ServiceError`]) and the few only HTTP has
//! (a body that is not JSON or too large, a bad token, a missing CSRF
//! token).
//!
//! Client mistakes are 4xx with a message that says what is wrong. Internal
//! failures are logged in full and answered with generic text: a database
//! error's message never reaches a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tessera_api::{ErrorBody, ErrorCode, ErrorDetail};
use tessera_store::StoreError;

use crate::redact::redact;
use crate::secrets::PasswordCheckError;
use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// For the one endpoint whose standard body is a form (RFC 7662).
    #[error("the request body must be a form (Content-Type: application/x-www-form-urlencoded)")]
    FormRequired,
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// A token that is malformed, unknown, revoked, or whose owner is gone.
    #[error("the token is invalid or has been revoked")]
    InvalidToken,
    #[error("the token has expired")]
    TokenExpired,
    /// Disabled by its owner, an admin or the org's inactivity rule.
    #[error("the token is disabled; it works again once enabled")]
    TokenDisabled,
    /// Outside the token's `allowed_ips` (or no address to check).
    #[error("the token may not be used from this address")]
    IpNotAllowed,
    /// The token's own rate limit: `limit` per window, which resets in
    /// `retry_after` seconds.
    #[error("the token's rate limit is reached; retry in {retry_after} seconds")]
    TokenRateLimited { retry_after: i64, limit: i64 },
    #[error("the token's quota is used up")]
    QuotaExhausted,
    #[error("missing or wrong CSRF token: send Content-Type: application/json or X-CSRF-Token")]
    CsrfFailed,
    /// A GitHub secret-scanning report that is not signed by a configured
    /// key: why, in words.
    #[error("{0}")]
    InvalidSignature(String),
    /// Everything an operation can answer, whichever front end called it.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ServiceError::BadRequest(message.into()).into()
    }

    /// No usable credential at all.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ServiceError::Unauthenticated(message.into()).into()
    }

    pub fn unavailable() -> Self {
        ServiceError::Unavailable.into()
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        ServiceError::Internal(detail.into()).into()
    }

    /// Status and stable code, in one table: the only place an error gets
    /// its status.
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use ServiceError as E;
        use StatusCode as S;
        let status = match self {
            Self::UnsupportedMediaType | Self::FormRequired => S::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
            Self::InvalidToken
            | Self::TokenExpired
            | Self::TokenDisabled
            | Self::IpNotAllowed
            | Self::InvalidSignature(_) => S::UNAUTHORIZED,
            Self::TokenRateLimited { .. } | Self::QuotaExhausted => S::TOO_MANY_REQUESTS,
            Self::CsrfFailed => S::FORBIDDEN,
            Self::Service(err) => match err {
                E::BadRequest(_) => S::BAD_REQUEST,
                E::Unauthenticated(_) | E::InvalidCredentials | E::OrgSuspended => S::UNAUTHORIZED,
                E::Forbidden { .. } | E::NotAllowed(_) | E::SessionRequired | E::SsoRequired => {
                    S::FORBIDDEN
                }
                E::NotFound(_) => S::NOT_FOUND,
                E::Conflict { .. } => S::CONFLICT,
                E::Unprocessable { .. } => S::UNPROCESSABLE_ENTITY,
                E::TooManyRequests { .. } => S::TOO_MANY_REQUESTS,
                E::Unavailable | E::Busy { .. } => S::SERVICE_UNAVAILABLE,
                E::Internal(_) => S::INTERNAL_SERVER_ERROR,
            },
        };
        (status, self.code())
    }

    /// The stable code clients match on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnsupportedMediaType | Self::FormRequired => ErrorCode::UnsupportedMediaType,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::TokenDisabled => ErrorCode::TokenDisabled,
            Self::IpNotAllowed => ErrorCode::IpNotAllowed,
            Self::TokenRateLimited { .. } => ErrorCode::RateLimited,
            Self::QuotaExhausted => ErrorCode::QuotaExhausted,
            Self::CsrfFailed => ErrorCode::CsrfFailed,
            Self::InvalidSignature(_) => ErrorCode::InvalidSignature,
            Self::Service(err) => err.code(),
        }
    }

    /// The error, if it is one an operation can answer (not a malformed
    /// request or credential).
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            Self::Service(err) => Some(err),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use ServiceError as E;
        let (status, code) = self.status_and_code();
        if let Self::Service(E::Internal(detail)) = &self {
            tracing::error!(%detail, "internal error");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                // Messages quote what the client sent (a policy's resources,
                // a field's value); a token pasted there must not come back.
                message: redact(&self.to_string()),
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::InvalidToken | Self::TokenExpired | Self::TokenDisabled | Self::IpNotAllowed => {
                let value = format!(
                    "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{self}\""
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            // What a 401 must name (RFC 9110): here, the header that
            // carries the missing or wrong proof.
            Self::InvalidSignature(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Github-Public-Key-Signature realm=\"tessera\""),
                );
            }
            Self::Service(E::OrgSuspended) => {
                let value = format!(
                    "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{self}\""
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Self::Service(E::Unauthenticated(_) | E::InvalidCredentials) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tessera\""),
                );
            }
            Self::Service(
                E::TooManyRequests {
                    retry_after_secs, ..
                }
                | E::Busy {
                    retry_after_secs, ..
                },
            ) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::TokenRateLimited { retry_after, limit } => {
                rate_headers(
                    headers,
                    &tessera_engine::RateState {
                        limit: *limit,
                        remaining: 0,
                        reset: *retry_after,
                    },
                );
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ServiceError::from(err).into()
    }
}

impl From<tessera_core::Error> for ApiError {
    fn from(err: tessera_core::Error) -> Self {
        ServiceError::from(err).into()
    }
}

impl From<PasswordCheckError> for ApiError {
    fn from(err: PasswordCheckError) -> Self {
        ServiceError::from(err).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

// Here rather than in `verify`, which uses this module: the 429 of a
// rate-limited token carries them too.
pub(crate) const RATELIMIT_LIMIT: axum::http::HeaderName =
    axum::http::HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: axum::http::HeaderName =
    axum::http::HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: axum::http::HeaderName =
    axum::http::HeaderName::from_static("ratelimit-reset");

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds).
pub(crate) fn rate_headers(headers: &mut axum::http::HeaderMap, rate: &tessera_engine::RateState) {
    headers.insert(RATELIMIT_LIMIT, HeaderValue::from(rate.limit));
    headers.insert(RATELIMIT_REMAINING, HeaderValue::from(rate.remaining));
    headers.insert(RATELIMIT_RESET, HeaderValue::from(rate.reset));
}
