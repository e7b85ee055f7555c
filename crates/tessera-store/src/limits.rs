//! Storage for token controls that are spent, and for usage: quota and
//! rate-limit budget reserved in slices (one conditional `UPDATE` each,
//! never beyond the budget whatever other nodes do at the same moment),
//! and usage counts added in batches. None of these announces a change:
//! spending does not alter what a cached token is.

use async_trait::async_trait;
use time::OffsetDateTime;

use tessera_core::TokenId;

use crate::Result;

/// What a quota reservation took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaGrant {
    /// Taken from the count (0 when it was at 0): this node may spend it.
    pub granted: i64,
    /// Left in storage afterwards.
    pub remaining: i64,
    /// The count's version: give unspent uses back with it.
    pub version: i64,
}

/// What a rate-limit reservation took of a window's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateGrant {
    pub granted: i64,
    /// Reserved by all nodes in this window so far, this grant included.
    pub used: i64,
}

/// How many uses of a token, on one UTC day, ended how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageCounts {
    pub valid: i64,
    pub denied: i64,
    pub rate_limited: i64,
    pub quota_exhausted: i64,
    pub ip_not_allowed: i64,
}

impl UsageCounts {
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    pub fn add(&mut self, other: &UsageCounts) {
        self.valid += other.valid;
        self.denied += other.denied;
        self.rate_limited += other.rate_limited;
        self.quota_exhausted += other.quota_exhausted;
        self.ip_not_allowed += other.ip_not_allowed;
    }
}

/// Uses to add: one token, one day (days since 1970-01-01, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub token: TokenId,
    pub day: i64,
    pub counts: UsageCounts,
}

/// A client address a token was used from, and when last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenIp {
    pub token: TokenId,
    pub ip: String,
    pub at: OffsetDateTime,
}

/// Quota and rate-limit reservations, and usage.
#[async_trait]
pub trait TokenLimitStore: Send + Sync {
    /// Takes up to `want` (at least 1) from the token's quota, never below
    /// 0. With `refill` = `(amount, period)`, a count from an earlier
    /// period is first set to `amount` (once, whichever node comes
    /// first). `None` when the token has no quota (or no longer exists).
    async fn reserve_quota(
        &self,
        token: &TokenId,
        want: i64,
        refill: Option<(i64, i64)>,
    ) -> Result<Option<QuotaGrant>>;
    /// Gives back `amount` unspent uses, unless the count was set anew
    /// since (its version is no longer `version`).
    async fn return_quota(&self, token: &TokenId, amount: i64, version: i64) -> Result<()>;
    /// Takes up to `want` of the `limit` uses of the window starting at
    /// `window` (Unix seconds). A window older than the one storage is in
    /// gets nothing. `None` when the token no longer exists.
    async fn reserve_rate(
        &self,
        token: &TokenId,
        window: i64,
        want: i64,
        limit: i64,
    ) -> Result<Option<RateGrant>>;
    /// Adds the counts and records the addresses (a token keeps its 5
    /// most recent); uses of deleted tokens are dropped.
    async fn record_usage(&self, counts: &[UsageDelta], seen: &[SeenIp]) -> Result<()>;
    /// A token's counts for days `from..=to`, by day (days without uses
    /// are left out).
    async fn token_usage(
        &self,
        token: &TokenId,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, UsageCounts)>>;
    /// A token's most recent addresses, newest first (at most 5).
    async fn recent_ips(&self, token: &TokenId) -> Result<Vec<(String, OffsetDateTime)>>;
}
