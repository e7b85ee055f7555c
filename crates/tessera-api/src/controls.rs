//! Token controls on the wire: `allowed_ips`, `rate_limit`, `quota` on
//! tokens, the `/verify` answer's `ratelimit` and `quota`, and
//! `GET /tokens/{id}/usage`. The rules (bounds, CIDR parsing) are
//! `tessera_core::controls`'; these types only carry them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// At most `requests` uses per `per_seconds` seconds (1 to 86400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RateLimit {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1_000_000_000))]
    pub requests: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86400))]
    pub per_seconds: i64,
}

/// `day` or `month` (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum RefillInterval {
    Day,
    Month,
}

/// Back to `amount` uses at the start of each UTC day or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct QuotaRefill {
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub amount: i64,
    pub interval: RefillInterval,
}

/// Uses left (each allowed use spends one, or `/verify`'s `cost`); in
/// token metadata, the live figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Quota {
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub remaining: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub refill: Option<QuotaRefill>,
}

/// A `/verify` answer's rate-limit state, for a token with a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RateLimitState {
    pub limit: i64,
    /// Uses left in this window, counting this one.
    pub remaining: i64,
    /// Seconds until the window resets.
    pub reset: i64,
}

/// A `/verify` answer's quota state, for a token with a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct QuotaState {
    /// Uses left, after this one.
    pub remaining: i64,
}

/// One UTC day of a token's uses, by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UsageDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub valid: i64,
    /// Valid but not allowed what was asked.
    pub denied: i64,
    pub rate_limited: i64,
    pub quota_exhausted: i64,
    pub ip_not_allowed: i64,
}

/// A client address a token was recently used from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RecentIp {
    pub ip: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_seen_at: OffsetDateTime,
}

/// `GET /tokens/{id}/usage`: every day of the range, oldest first (days
/// without uses are zeros), and the last 5 distinct addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenUsage {
    pub days: Vec<UsageDay>,
    pub recent_ips: Vec<RecentIp>,
}
