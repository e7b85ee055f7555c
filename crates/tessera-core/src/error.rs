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
    #[error("a token can be rotated at most once per hour; retry in {}", Wait(*retry_after_secs))]
    RotationTooSoon { retry_after_secs: u64 },
}

/// A wait as people say it: "45 seconds", "60 minutes", "2 hours" (rounded
/// up, so the retry is never too early). Machines get the exact seconds in
/// `Retry-After`.
pub struct Wait(pub u64);

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (amount, unit) = match self.0 {
            s if s < 90 => (s, "second"),
            s if s < 90 * 60 => (s.div_ceil(60), "minute"),
            s => (s.div_ceil(3600), "hour"),
        };
        let plural = if amount == 1 { "" } else { "s" };
        write!(f, "{amount} {unit}{plural}")
    }
}

impl Error {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_people_say_them() {
        for (secs, said) in [
            (1, "1 second"),
            (45, "45 seconds"),
            (90, "2 minutes"),
            (3587, "60 minutes"),
            (5399, "90 minutes"),
            (5400, "2 hours"),
        ] {
            assert_eq!(Wait(secs).to_string(), said, "{secs} s");
        }
        let err = Error::RotationTooSoon {
            retry_after_secs: 3587,
        };
        assert!(err.to_string().ends_with("retry in 60 minutes"), "{err}");
    }
}
