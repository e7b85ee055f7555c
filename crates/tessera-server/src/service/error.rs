//! The service layer's one error enum: why an operation was refused or
//! failed, in the layer's terms. Storage's and the domain's errors become
//! one of its variants here, at the layer's edge, so every front end sees
//! the same few cases. It knows nothing of HTTP: `crate::error` gives each
//! variant its status (the stable code is [`ServiceError::code`]), and the
//! web page shows it next to the field it is about.

use tessera_api::ErrorCode;
use tessera_store::{StoreError, Unique};

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
    /// The host product suspended the org (platform API): its tokens and
    /// sessions are refused until the suspension is lifted.
    #[error("the organization is suspended")]
    OrgSuspended,
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
    /// The member's org signs in with single sign-on only: the right
    /// password is refused.
    #[error("this organization signs in with single sign-on; passwords are turned off")]
    SsoRequired,
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
    /// Something that already exists or is still in use (`already_exists`,
    /// `in_use`, `last_owner`).
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// Storage cannot be reached; nothing was changed.
    #[error("the service is temporarily unavailable")]
    Unavailable,
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

impl ServiceError {
    /// The stable code clients match on.
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Self::BadRequest(_) => C::BadRequest,
            Self::Unauthenticated(_) => C::Unauthenticated,
            Self::InvalidCredentials => C::InvalidCredentials,
            Self::OrgSuspended => C::OrgSuspended,
            Self::Forbidden { .. } | Self::NotAllowed(_) => C::Forbidden,
            Self::SessionRequired => C::SessionRequired,
            Self::SsoRequired => C::SsoRequired,
            Self::NotFound(_) => C::NotFound,
            Self::Conflict { code, .. } | Self::Unprocessable { code, .. } => *code,
            Self::TooManyRequests { .. } => C::RateLimited,
            Self::Unavailable | Self::Busy { .. } => C::Unavailable,
            Self::Internal(_) => C::Internal,
        }
    }
}

/// What is taken, in words, for a unique constraint the store reports.
fn conflict_message(what: Unique) -> String {
    match what {
        Unique::OrgKey => "an organization with this key already exists",
        Unique::MemberEmail => "a member with this email already exists",
        Unique::RoleKey => "a role with this key already exists",
        Unique::ProjectKey => "a project with this key already exists",
        Unique::TokenId => "a token with this id already exists",
        Unique::TokenName => "there is already a token with this name; choose another name",
        Unique::ServiceAccountName => "a service account with this name already exists",
        Unique::SessionId => "a session with this id already exists",
        Unique::WebhookId => "a webhook with this id already exists",
        Unique::ExternalId => "another member of the organization has this external_id",
    }
    .into()
}

/// Storage's answers in the layer's terms. A database's own message is kept
/// for the log only (`Internal`), never shown.
impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        let conflict = |code, message: String| Self::Conflict { code, message };
        match err {
            StoreError::NotFound => Self::not_found("the resource"),
            StoreError::Conflict(what) => {
                conflict(ErrorCode::AlreadyExists, conflict_message(what))
            }
            StoreError::InUse(why) => conflict(ErrorCode::InUse, why),
            StoreError::LastOwner => conflict(
                ErrorCode::LastOwner,
                "the organization must keep at least one owner".into(),
            ),
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

/// The domain's rules (validation, token policy, rotation, grant bounds).
impl From<tessera_core::Error> for ServiceError {
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
