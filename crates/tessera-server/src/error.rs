//! The HTTP layer's error enum, and the one place that maps errors (its
//! own, the service layer's, storage's and the domain's) to an HTTP status
//! and a stable error code.
//!
//! Client mistakes are 4xx with a message that says what is wrong. Internal
//! failures are logged in full and answered with generic text: a database
//! error's message never reaches a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tessera_api::{ErrorBody, ErrorDetail};
use tessera_store::StoreError;

use crate::redact::redact;
use crate::secrets::PasswordCheckError;
use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// No usable credential at all.
    #[error("{0}")]
    Unauthenticated(String),
    /// A token that is malformed, unknown, revoked, or whose owner is gone.
    #[error("the token is invalid or has been revoked")]
    InvalidToken,
    #[error("the token has expired")]
    TokenExpired,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("not permitted: {action} on {resource}")]
    Forbidden { action: String, resource: String },
    /// A permission rule other than a policy check (grant bounds, owner-only).
    #[error("{0}")]
    NotAllowed(String),
    #[error("this endpoint needs a login session; tokens cannot use it")]
    SessionRequired,
    #[error("missing or wrong CSRF token: send Content-Type: application/json or X-CSRF-Token")]
    CsrfFailed,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A rule broken: validation, token policy, rotation rules.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Too much work of one kind at once (password checks during a login
    /// flood): try again after `retry_after_secs`.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(action: &str, resource: &str) -> Self {
        Self::Forbidden {
            action: action.to_owned(),
            resource: resource.to_owned(),
        }
    }

    /// Status and stable code, in one table.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::BadRequest(_) => (S::BAD_REQUEST, "bad_request"),
            Self::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Unauthenticated(_) => (S::UNAUTHORIZED, "unauthenticated"),
            Self::InvalidToken => (S::UNAUTHORIZED, "invalid_token"),
            Self::TokenExpired => (S::UNAUTHORIZED, "token_expired"),
            Self::InvalidCredentials => (S::UNAUTHORIZED, "invalid_credentials"),
            Self::Forbidden { .. } | Self::NotAllowed(_) => (S::FORBIDDEN, "forbidden"),
            Self::SessionRequired => (S::FORBIDDEN, "session_required"),
            Self::CsrfFailed => (S::FORBIDDEN, "csrf_failed"),
            Self::NotFound(_) => (S::NOT_FOUND, "not_found"),
            Self::Conflict { code, .. } => (S::CONFLICT, code),
            Self::Unprocessable { code, .. } => (S::UNPROCESSABLE_ENTITY, code),
            Self::TooManyRequests { .. } => (S::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Unavailable | Self::Busy { .. } => (S::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                // Messages quote what the client sent (a policy's resources,
                // a field's value); a token pasted there must not come back.
                message: redact(&self.to_string()),
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::InvalidToken | Self::TokenExpired => {
                let value = format!(
                    "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{self}\""
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Self::Unauthenticated(_) | Self::InvalidCredentials => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tessera\""),
                );
            }
            Self::TooManyRequests {
                retry_after_secs, ..
            }
            | Self::Busy {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::not_found("the resource"),
            StoreError::Conflict(what) => Self::Conflict {
                code: "already_exists",
                message: match what {
                    "org_key" => "an organization with this key already exists".into(),
                    "member_email" => "a member with this email already exists".into(),
                    "role_key" => "a role with this key already exists".into(),
                    "project_key" => "a project with this key already exists".into(),
                    other => format!("{other} already exists"),
                },
            },
            StoreError::InUse(why) => Self::Conflict {
                code: "in_use",
                message: why,
            },
            StoreError::LastOwner => Self::Conflict {
                code: "last_owner",
                message: "the organization must keep at least one owner".into(),
            },
            StoreError::RotationRace => Self::TooManyRequests {
                message: "the token was just rotated; it can be rotated at most once per hour"
                    .into(),
                retry_after_secs: 3600,
            },
            StoreError::UnknownReference(what) => {
                Self::unprocessable("unknown_reference", format!("{what} does not exist"))
            }
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                Self::Unavailable
            }
            StoreError::Database(detail) => Self::Internal(detail),
        }
    }
}

impl From<tessera_core::Error> for ApiError {
    fn from(err: tessera_core::Error) -> Self {
        use tessera_core::Error as E;
        let message = err.to_string();
        match err {
            E::Invalid { .. } | E::ExpiryInPast => {
                Self::unprocessable("validation_failed", message)
            }
            E::InvalidPolicy(_) => Self::unprocessable("invalid_policy", message),
            E::Forbidden { action, resource } => Self::Forbidden { action, resource },
            E::ScopeExceedsCaller(_) => Self::NotAllowed(message),
            E::ExpirationRequired | E::ExpirationRequiredByCap { .. } => {
                Self::unprocessable("expiration_required", message)
            }
            E::LifetimeExceeded { .. } => Self::unprocessable("lifetime_exceeded", message),
            E::NotRotatable => Self::unprocessable("not_rotatable", message),
            E::RotationTooSoon { retry_after_secs } => Self::TooManyRequests {
                message,
                retry_after_secs,
            },
        }
    }
}

/// The service layer's errors, variant for variant: every operation answers
/// the API with the same status and code whichever front end called it.
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        use ServiceError as E;
        match err {
            E::BadRequest(message) => Self::BadRequest(message),
            E::Unauthenticated(message) => Self::Unauthenticated(message),
            E::InvalidCredentials => Self::InvalidCredentials,
            E::Forbidden { action, resource } => Self::Forbidden { action, resource },
            E::NotAllowed(message) => Self::NotAllowed(message),
            E::SessionRequired => Self::SessionRequired,
            E::NotFound(what) => Self::NotFound(what),
            E::Unprocessable { code, message } => Self::Unprocessable { code, message },
            E::TooManyRequests {
                message,
                retry_after_secs,
            } => Self::TooManyRequests {
                message,
                retry_after_secs,
            },
            E::Busy {
                message,
                retry_after_secs,
            } => Self::Busy {
                message,
                retry_after_secs,
            },
            E::Rule(err) => err.into(),
            E::Store(err) => err.into(),
            E::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl From<PasswordCheckError> for ApiError {
    fn from(err: PasswordCheckError) -> Self {
        ServiceError::from(err).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
