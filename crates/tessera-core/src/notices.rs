//! Expiry notices: the org's warning thresholds (`token_policy.
//! expiry_warning_days`) and which notice a token is due at a given time.
//!
//! A token gets one `token.expiring` event per threshold it enters, and
//! one `token.expired` when it expires. When several thresholds have
//! passed since the last check (a token created, or its `expires_at`
//! moved, already inside the 1-day window of `[7, 1]`), only the smallest
//! one is sent: "expires in 1 day" is the news, "in 7 days" would be
//! wrong. The store records each notice per token, `expires_at` and
//! threshold, so a new `expires_at` starts afresh.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Duration, OffsetDateTime};

use crate::Error;

/// Largest warning threshold, in days.
pub const MAX_WARNING_DAYS: u32 = 365;
/// Most thresholds an org may set.
pub const MAX_WARNINGS: usize = 10;
/// How long after a token expired its `token.expired` may still be sent
/// (a token that expired longer ago, say before the server ran, gets none).
pub const EXPIRED_NOTICE_WINDOW: Duration = Duration::days(7);

/// A set of thresholds in days, each in `1..=365` (a bit each, so that the
/// token policy stays `Copy`). Shown largest first.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExpiryWarnings {
    bits: [u64; 6],
}

impl Default for ExpiryWarnings {
    /// `[7, 1]`.
    fn default() -> Self {
        let mut w = Self::NONE;
        w.set(7);
        w.set(1);
        w
    }
}

impl std::fmt::Debug for ExpiryWarnings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.days()).finish()
    }
}

impl ExpiryWarnings {
    /// No warnings (only `token.expired`).
    pub const NONE: Self = Self { bits: [0; 6] };

    /// The thresholds `days` lists: each `1..=365`, at most ten, none
    /// twice.
    pub fn new(days: &[u32]) -> Result<Self, Error> {
        const FIELD: &str = "expiry_warning_days";
        if days.len() > MAX_WARNINGS {
            return Err(Error::invalid(
                FIELD,
                format!("at most {MAX_WARNINGS} thresholds"),
            ));
        }
        let mut w = Self::NONE;
        for &d in days {
            if d == 0 || d > MAX_WARNING_DAYS {
                return Err(Error::invalid(
                    FIELD,
                    format!("each threshold must be between 1 and {MAX_WARNING_DAYS} days"),
                ));
            }
            if w.has(d) {
                return Err(Error::invalid(FIELD, format!("{d} is listed twice")));
            }
            w.set(d);
        }
        Ok(w)
    }

    fn set(&mut self, d: u32) {
        self.bits[(d / 64) as usize] |= 1 << (d % 64);
    }

    fn has(&self, d: u32) -> bool {
        d <= MAX_WARNING_DAYS && self.bits[(d / 64) as usize] & (1 << (d % 64)) != 0
    }

    /// The thresholds, largest first.
    pub fn days(&self) -> Vec<u32> {
        (1..=MAX_WARNING_DAYS)
            .rev()
            .filter(|d| self.has(*d))
            .collect()
    }

    /// The largest threshold; 0 without any.
    pub fn largest(&self) -> u32 {
        self.days().first().copied().unwrap_or(0)
    }

    /// The notice a token expiring at `expires_at` is due at `now`, if it
    /// is inside a window (or expired, at most [`EXPIRED_NOTICE_WINDOW`]
    /// ago): the smallest threshold whose window it is in (0: expired),
    /// and when the next one begins.
    pub fn due(&self, expires_at: OffsetDateTime, now: OffsetDateTime) -> Option<Due> {
        if expires_at <= now {
            return (now - expires_at <= EXPIRED_NOTICE_WINDOW).then_some(Due {
                days: 0,
                next_at: None,
            });
        }
        let days = self.days();
        let smallest = days
            .iter()
            .rposition(|d| expires_at - Duration::days(i64::from(*d)) <= now)?;
        let next = days
            .get(smallest + 1)
            .map(|d| expires_at - Duration::days(i64::from(*d)))
            .unwrap_or(expires_at);
        Some(Due {
            days: days[smallest],
            next_at: Some(next),
        })
    }
}

/// A notice due: `days` of `token.expiring` (0: `token.expired`), and
/// when the token's next notice begins (`None` after `token.expired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub days: u32,
    pub next_at: Option<OffsetDateTime>,
}

impl Serialize for ExpiryWarnings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.days().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ExpiryWarnings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let days = Vec::<u32>::deserialize(d)?;
        Self::new(&days).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-01 0:00 UTC);

    #[test]
    fn thresholds_are_checked_and_shown_largest_first() {
        assert_eq!(ExpiryWarnings::default().days(), vec![7, 1]);
        assert_eq!(
            ExpiryWarnings::new(&[1, 30, 7]).unwrap().days(),
            vec![30, 7, 1]
        );
        assert_eq!(ExpiryWarnings::new(&[365]).unwrap().largest(), 365);
        assert_eq!(ExpiryWarnings::NONE.largest(), 0);
        assert!(ExpiryWarnings::new(&[0]).is_err());
        assert!(ExpiryWarnings::new(&[366]).is_err());
        assert!(ExpiryWarnings::new(&[7, 7]).is_err());
        assert!(ExpiryWarnings::new(&(1..=11).collect::<Vec<_>>()).is_err());
        let json = serde_json::to_string(&ExpiryWarnings::default()).unwrap();
        assert_eq!(json, "[7,1]");
        assert!(serde_json::from_str::<ExpiryWarnings>("[400]").is_err());
    }

    #[test]
    fn the_smallest_window_reached_is_due() {
        let w = ExpiryWarnings::default();
        let at = |d: i64| NOW + Duration::days(d);
        assert_eq!(w.due(at(8), NOW), None);
        assert_eq!(
            w.due(at(7), NOW),
            Some(Due {
                days: 7,
                next_at: Some(at(7) - Duration::days(1))
            })
        );
        assert_eq!(
            w.due(NOW + Duration::hours(2), NOW),
            Some(Due {
                days: 1,
                next_at: Some(NOW + Duration::hours(2))
            })
        );
        assert_eq!(
            w.due(NOW, NOW),
            Some(Due {
                days: 0,
                next_at: None
            })
        );
        assert_eq!(w.due(at(-8), NOW), None);
        assert_eq!(ExpiryWarnings::NONE.due(at(1), NOW), None);
    }
}
