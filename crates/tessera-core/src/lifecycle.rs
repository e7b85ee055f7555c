//! Lifecycle rules: names, expiry, the org's token policy, rotation.
//!
//! Every function takes `now`; none reads the clock.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::Error;

/// Longest token, member or role name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// A token may be rotated once per this interval.
pub const ROTATION_INTERVAL: Duration = Duration::HOUR;
/// Longest grace period for the old string after a rotation.
pub const MAX_GRACE_SECONDS: u32 = 24 * 60 * 60;
/// Longest lifetime an org may set as its cap (10 years).
pub const MAX_LIFETIME_DAYS_LIMIT: u32 = 3650;

/// The organization's rules for tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPolicy {
    /// Every token must have an `expires_at`.
    #[serde(default)]
    pub require_expiration: bool,
    /// No token may live longer than this many days from its creation or
    /// rotation.
    #[serde(default)]
    pub max_lifetime_days: Option<u32>,
    /// Tokens unused this many days (counted from their creation when
    /// never used) are disabled or revoked, as `inactive_action` says;
    /// `None`: never.
    #[serde(default)]
    pub inactive_days: Option<u32>,
    /// What the inactivity rule does to an inactive token.
    #[serde(default)]
    pub inactive_action: InactiveAction,
    /// Days before expiry at which `token.expiring` is sent (and its
    /// owner told by email); default `[7, 1]`.
    #[serde(default)]
    pub expiry_warning_days: crate::ExpiryWarnings,
}

/// What the org's inactivity rule does to a token unused too long.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InactiveAction {
    /// Refused (`token_disabled`) until someone enables it again.
    #[default]
    Disable,
    /// Deleted for good, as if its owner had revoked it.
    Revoke,
}

impl InactiveAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Revoke => "revoke",
        }
    }

    /// Reads the stored (and wire) spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "disable" => Some(Self::Disable),
            "revoke" => Some(Self::Revoke),
            _ => None,
        }
    }
}

/// Longest inactivity period an org may set (10 years).
pub const MAX_INACTIVE_DAYS: u32 = 3650;

impl TokenPolicy {
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(d) = self.max_lifetime_days {
            if d == 0 || d > MAX_LIFETIME_DAYS_LIMIT {
                return Err(Error::invalid(
                    "max_lifetime_days",
                    format!("must be between 1 and {MAX_LIFETIME_DAYS_LIMIT}"),
                ));
            }
        }
        if let Some(d) = self.inactive_days {
            if d == 0 || d > MAX_INACTIVE_DAYS {
                return Err(Error::invalid(
                    "inactive_days",
                    format!("must be between 1 and {MAX_INACTIVE_DAYS}"),
                ));
            }
        }
        Ok(())
    }

    /// Tokens whose last use (or, never used, creation) is before this
    /// instant are inactive at `now`; `None` when the rule is off.
    pub fn inactive_before(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.inactive_days
            .map(|days| now - Duration::days(i64::from(days)))
    }

    /// Checks a requested expiry against this policy.
    pub fn check_expiry(
        &self,
        now: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(), Error> {
        let Some(expires_at) = expires_at else {
            // A cap implies an expiration: an unbounded token would break it.
            return match (self.require_expiration, self.max_lifetime_days) {
                (true, _) => Err(Error::ExpirationRequired),
                (false, Some(max_days)) => Err(Error::ExpirationRequiredByCap { max_days }),
                (false, None) => Ok(()),
            };
        };
        if expires_at <= now {
            return Err(Error::ExpiryInPast);
        }
        if let Some(max_days) = self.max_lifetime_days {
            if expires_at > now + Duration::days(i64::from(max_days)) {
                return Err(Error::LifetimeExceeded { max_days });
            }
        }
        Ok(())
    }

    /// Checks moving an existing token's expiry (a PATCH): the cap counts
    /// from when the current secret was issued, so editing the date cannot
    /// stretch one secret's life past the org's limit. `None` removes the
    /// expiry, allowed only when the policy neither requires nor caps it.
    pub fn check_expiry_change(
        &self,
        now: OffsetDateTime,
        secret_issued_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(), Error> {
        let Some(at) = expires_at else {
            return self.check_expiry(now, None);
        };
        if at <= now {
            return Err(Error::ExpiryInPast);
        }
        self.check_expiry(secret_issued_at.min(now), Some(at))
            .or_else(|e| match e {
                // Issued in the past, so "in the past" relative to issuance is fine.
                Error::ExpiryInPast => Ok(()),
                other => Err(other),
            })
    }
}

/// Validates a human-readable name: non-empty, at most 100 characters, no
/// control characters.
pub fn validate_name(field: &'static str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Validates and normalises (lowercases) an email address. Deliberately
/// loose: one `@` with text on both sides, no spaces, at most 254 bytes.
pub fn normalize_email(email: &str) -> Result<String, Error> {
    let email = email.trim();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if ok {
        Ok(email.to_lowercase())
    } else {
        Err(Error::invalid("email", "is not a valid email address"))
    }
}

/// Checks a password's strength: at least 8 characters, at most 1024 bytes
/// (argon2 does not need more, and the bound stops hash-cost abuse).
pub fn validate_password(password: &str) -> Result<(), Error> {
    if password.chars().count() < 8 {
        return Err(Error::invalid("password", "must be at least 8 characters"));
    }
    if password.len() > 1024 {
        return Err(Error::invalid("password", "must be at most 1024 bytes"));
    }
    Ok(())
}

/// Why a presented token cannot be used, from its own record alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Expired,
}

/// Is a token with this expiry usable at `now`?
pub fn check_not_expired(
    now: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
) -> Result<(), Unusable> {
    match expires_at {
        Some(at) if at <= now => Err(Unusable::Expired),
        _ => Ok(()),
    }
}

/// May a token with this expiry be rotated at all? Only one that expires
/// (the Lightdash seed's rule, kept): a rotation replaces the expiry, so a
/// token without one is first given one, as a change of its own.
pub fn rotatable(current_expires_at: Option<OffsetDateTime>) -> bool {
    current_expires_at.is_some()
}

/// Checks a rotation request: the token must have an expiry, must not have
/// been rotated within the last hour, and the new expiry must satisfy the
/// org's policy.
pub fn check_rotation(
    now: OffsetDateTime,
    current_expires_at: Option<OffsetDateTime>,
    last_rotated_at: Option<OffsetDateTime>,
    new_expires_at: OffsetDateTime,
    policy: &TokenPolicy,
) -> Result<(), Error> {
    if !rotatable(current_expires_at) {
        return Err(Error::NotRotatable);
    }
    if let Some(last) = last_rotated_at {
        let next_allowed = last + ROTATION_INTERVAL;
        if next_allowed > now {
            let wait = (next_allowed - now).whole_seconds().max(1);
            return Err(Error::RotationTooSoon {
                retry_after_secs: wait.unsigned_abs(),
            });
        }
    }
    policy.check_expiry(now, Some(new_expires_at))
}

/// Validates a grace period for the old string after rotation.
pub fn check_grace(seconds: u32) -> Result<Duration, Error> {
    if seconds > MAX_GRACE_SECONDS {
        return Err(Error::invalid(
            "grace_period_seconds",
            format!("must be at most {MAX_GRACE_SECONDS} (24 hours)"),
        ));
    }
    Ok(Duration::seconds(i64::from(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    #[test]
    fn expiry_rules() {
        let open = TokenPolicy::default();
        assert!(open.check_expiry(NOW, None).is_ok());
        assert_eq!(open.check_expiry(NOW, Some(NOW)), Err(Error::ExpiryInPast));
        assert!(open
            .check_expiry(NOW, Some(NOW + Duration::days(9999)))
            .is_ok());

        let strict = TokenPolicy {
            require_expiration: true,
            max_lifetime_days: Some(30),
            ..TokenPolicy::default()
        };
        assert_eq!(
            strict.check_expiry(NOW, None),
            Err(Error::ExpirationRequired)
        );
        assert!(strict
            .check_expiry(NOW, Some(NOW + Duration::days(30)))
            .is_ok());
        assert_eq!(
            strict.check_expiry(NOW, Some(NOW + Duration::days(30) + Duration::SECOND)),
            Err(Error::LifetimeExceeded { max_days: 30 })
        );
        let capped_only = TokenPolicy {
            require_expiration: false,
            max_lifetime_days: Some(7),
            ..TokenPolicy::default()
        };
        assert_eq!(
            capped_only.check_expiry(NOW, None),
            Err(Error::ExpirationRequiredByCap { max_days: 7 })
        );
        assert!(strict.to_owned().validate().is_ok());
        assert!(TokenPolicy {
            max_lifetime_days: Some(0),
            ..open
        }
        .validate()
        .is_err());
    }

    #[test]
    fn expiry_changes_count_from_issuance() {
        let capped = TokenPolicy {
            require_expiration: false,
            max_lifetime_days: Some(30),
            ..TokenPolicy::default()
        };
        let issued = NOW - Duration::days(20);
        assert!(capped
            .check_expiry_change(NOW, issued, Some(NOW + Duration::days(10)))
            .is_ok());
        assert_eq!(
            capped.check_expiry_change(NOW, issued, Some(NOW + Duration::days(11))),
            Err(Error::LifetimeExceeded { max_days: 30 })
        );
        assert_eq!(
            capped.check_expiry_change(NOW, issued, None),
            Err(Error::ExpirationRequiredByCap { max_days: 30 })
        );
        assert_eq!(
            capped.check_expiry_change(NOW, issued, Some(NOW)),
            Err(Error::ExpiryInPast)
        );
        assert!(TokenPolicy::default()
            .check_expiry_change(NOW, issued, None)
            .is_ok());
    }

    #[test]
    fn the_error_names_the_rule() {
        assert!(Error::ExpirationRequired
            .to_string()
            .contains("require_expiration"));
        assert!(Error::LifetimeExceeded { max_days: 3 }
            .to_string()
            .contains("max_lifetime_days"));
    }

    #[test]
    fn rotation_rules() {
        let p = TokenPolicy::default();
        let later = NOW + Duration::days(30);
        assert_eq!(
            check_rotation(NOW, None, None, later, &p),
            Err(Error::NotRotatable)
        );
        assert!(check_rotation(NOW, Some(later), None, later, &p).is_ok());
        let just_rotated = Some(NOW - Duration::minutes(59));
        assert_eq!(
            check_rotation(NOW, Some(later), just_rotated, later, &p),
            Err(Error::RotationTooSoon {
                retry_after_secs: 60
            })
        );
        let an_hour_ago = Some(NOW - Duration::HOUR);
        assert!(check_rotation(NOW, Some(later), an_hour_ago, later, &p).is_ok());
        assert_eq!(
            check_rotation(NOW, Some(later), None, NOW - Duration::SECOND, &p),
            Err(Error::ExpiryInPast)
        );
        // Already expired tokens may still be rotated to a new future date.
        assert!(check_rotation(NOW, Some(NOW - Duration::DAY), None, later, &p).is_ok());
    }

    #[test]
    fn names_emails_passwords_grace() {
        assert!(validate_name("name", "CI deploy").is_ok());
        assert!(validate_name("name", "").is_err());
        assert!(validate_name("name", "   ").is_err());
        assert!(validate_name("name", &"é".repeat(100)).is_ok());
        assert!(validate_name("name", &"é".repeat(101)).is_err());
        assert!(validate_name("name", "a\nb").is_err());
        assert_eq!(
            normalize_email(" Ada@Example.COM ").as_deref(),
            Ok("ada@example.com")
        );
        for bad in ["", "ada", "@x", "ada@", "a b@x", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
        assert!(check_grace(86_400).is_ok());
        assert!(check_grace(86_401).is_err());
        assert_eq!(check_not_expired(NOW, Some(NOW)), Err(Unusable::Expired));
        assert!(check_not_expired(NOW, None).is_ok());
    }
}
