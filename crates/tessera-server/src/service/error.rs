//! The service layer's one error enum: why an operation was refused or
//! failed, in the layer's terms. It knows nothing of HTTP; `crate::error`
//! maps it, variant for variant, to the API's status and stable code (the
//! names line up: `NotFound` is `not_found`, `Unprocessable` carries its
//! code), and the web page shows it next to the field it is about.

use tessera_api::ErrorCode;
use tessera_store::StoreError;

use crate::secrets::PasswordCheckError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request does not make sense as given (a malformed id, fields
    /// that exclude each other).
    #[error("{0}")]
    BadRequest(String),
    /// The caller's credential stopped holding during the operation (their
    /// member was removed).
    #[error("{0}")]
    Unauthenticated(String),
    #[error("wrong email or password")]
    InvalidCredentials,
    /// A permission check refused the action on the resource.
    #[error("not permitted: {action} on {resource}")]
    Forbidden { action: String, resource: String },
    /// A permission rule other than a policy check (grant bounds,
    /// owner-only, a superseded token string).
    #[error("{0}")]
    NotAllowed(String),
    /// Only a login session may do this, not a token.
    #[error("this needs a login session; tokens cannot do it")]
    SessionRequired,
    #[error("{0} not found")]
    NotFound(String),
    /// A rule broken, with its stable code (`validation_failed`,
    /// `unknown_project`, ...).
    #[error("{message}")]
    Unprocessable { code: ErrorCode, message: String },
    /// Too many attempts: try again after `retry_after_secs`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// Too much work of one kind at once (password checks during a login
    /// flood): try again after `retry_after_secs`.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    /// A domain rule from `tessera-core` (validation, token policy,
    /// rotation, grant bounds).
    #[error(transparent)]
    Rule(#[from] tessera_core::Error),
    /// What storage said: not found, a conflict, unavailable, ...
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn unprocessable(code: ErrorCode, message: impl Into<String>) -> Self {
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
}

impl From<PasswordCheckError> for ServiceError {
    fn from(err: PasswordCheckError) -> Self {
        match err {
            PasswordCheckError::Busy {
                message,
                retry_after_secs,
            } => Self::Busy {
                message: message.into(),
                retry_after_secs,
            },
            PasswordCheckError::Failed(detail) => Self::Internal(detail),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
