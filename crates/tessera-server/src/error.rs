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
use tessera_api::{ErrorBody, ErrorCode, ErrorDetail};
use tessera_store::{StoreError, Unique};

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
    Conflict { code: ErrorCode, message: String },
    /// A rule broken: validation, token policy, rotation rules.
    #[error("{message}")]
    Unprocessable { code: ErrorCode, message: String },
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
    pub fn unprocessable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// Status and stable code, in one table: the only place an error gets
    /// its code.
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use ErrorCode as C;
        use StatusCode as S;
        match self {
            Self::BadRequest(_) => (S::BAD_REQUEST, C::BadRequest),
            Self::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, C::UnsupportedMediaType),
            Self::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, C::PayloadTooLarge),
            Self::Unauthenticated(_) => (S::UNAUTHORIZED, C::Unauthenticated),
            Self::InvalidToken => (S::UNAUTHORIZED, C::InvalidToken),
            Self::TokenExpired => (S::UNAUTHORIZED, C::TokenExpired),
            Self::InvalidCredentials => (S::UNAUTHORIZED, C::InvalidCredentials),
            Self::Forbidden { .. } | Self::NotAllowed(_) => (S::FORBIDDEN, C::Forbidden),
            Self::SessionRequired => (S::FORBIDDEN, C::SessionRequired),
            Self::CsrfFailed => (S::FORBIDDEN, C::CsrfFailed),
            Self::NotFound(_) => (S::NOT_FOUND, C::NotFound),
            Self::Conflict { code, .. } => (S::CONFLICT, *code),
            Self::Unprocessable { code, .. } => (S::UNPROCESSABLE_ENTITY, *code),
            Self::TooManyRequests { .. } => (S::TOO_MANY_REQUESTS, C::RateLimited),
            Self::Unavailable | Self::Busy { .. } => (S::SERVICE_UNAVAILABLE, C::Unavailable),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, C::Internal),
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
                code,
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

/// What is taken, in words, for a unique constraint the store reports.
/// The only place the server reads `StoreError::Conflict`'s payload: when
/// the store's conflicts become a typed enum, only this match changes.
fn conflict_message(what: Unique) -> String {
    match what {
        Unique::OrgKey => "an organization with this key already exists",
        Unique::MemberEmail => "a member with this email already exists",
        Unique::RoleKey => "a role with this key already exists",
        Unique::ProjectKey => "a project with this key already exists",
        Unique::TokenId => "a token with this id already exists",
        Unique::SessionId => "a session with this id already exists",
    }
    .into()
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound("the resource".into()),
            StoreError::Conflict(what) => Self::Conflict {
                code: ErrorCode::AlreadyExists,
                message: conflict_message(what),
            },
            StoreError::InUse(why) => Self::Conflict {
                code: ErrorCode::InUse,
                message: why,
            },
            StoreError::LastOwner => Self::Conflict {
                code: ErrorCode::LastOwner,
                message: "the organization must keep at least one owner".into(),
            },
            StoreError::RotationRace => Self::TooManyRequests {
                message: "the token was just rotated; it can be rotated at most once per hour"
                    .into(),
                retry_after_secs: 3600,
            },
            StoreError::UnknownReference(what) => Self::unprocessable(
                ErrorCode::UnknownReference,
                format!("{what} does not exist"),
            ),
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
                Self::unprocessable(ErrorCode::ValidationFailed, message)
            }
            E::InvalidPolicy(_) => Self::unprocessable(ErrorCode::InvalidPolicy, message),
            E::Forbidden { action, resource } => Self::Forbidden { action, resource },
            E::ScopeExceedsCaller(_) => Self::NotAllowed(message),
            E::ExpirationRequired | E::ExpirationRequiredByCap { .. } => {
                Self::unprocessable(ErrorCode::ExpirationRequired, message)
            }
            E::LifetimeExceeded { .. } => Self::unprocessable(ErrorCode::LifetimeExceeded, message),
            E::NotRotatable => Self::unprocessable(ErrorCode::NotRotatable, message),
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
