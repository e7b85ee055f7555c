//! The domain's one error enum: every rule the core enforces, named.
//!
//! Each variant is a client's mistake or a rule broken, never an internal
//! failure; the server maps each to a status and a stable error code in one
//! place (`tessera-server`'s `error` module).

use thiserror::Error;

/// A domain rule that a request broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// A field's value is malformed (empty name, bad key, bad email...).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// A policy document failed validation.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),

    /// The caller may not perform `action` on `resource`.
    #[error("not permitted: {action} on {resource}")]
    Forbidden { action: String, resource: String },

    /// The caller asked for a token scope wider than its own.
    #[error("{0}")]
    ScopeExceedsCaller(String),

    /// The org's token policy requires an expiration date.
    #[error(
        "the organization's token policy requires an expiration date (rule: require_expiration)"
    )]
    ExpirationRequired,

    /// The org caps token lifetimes, so a token without an expiry would
    /// break the cap.
    #[error("the organization's token policy caps token lifetimes at {max_days} days, so an expiration date is required (rule: max_lifetime_days)")]
    ExpirationRequiredByCap { max_days: u32 },

    /// The requested lifetime is longer than the org allows.
    #[error("the organization's token policy allows tokens to live at most {max_days} days (rule: max_lifetime_days)")]
    LifetimeExceeded { max_days: u32 },

    /// An expiration date that is not in the future.
    #[error("expires_at must be in the future")]
    ExpiryInPast,

    /// Rotation of a token that never expires.
    #[error("a token without an expiration cannot be rotated; set expires_at first")]
    NotRotatable,

    /// Rotation sooner than an hour after the last one.
    #[error("a token can be rotated at most once per hour; retry in {retry_after_secs} seconds")]
    RotationTooSoon { retry_after_secs: u64 },
}

impl Error {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
