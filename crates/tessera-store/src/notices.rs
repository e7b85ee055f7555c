//! Notices: expiry events found by the expiry scan, and the email outbox.
//! Both are written in the transaction of what they tell, as webhook
//! events are (see `sql/notices.rs`).

use async_trait::async_trait;
use time::OffsetDateTime;

use tessera_core::model::Token;
use tessera_core::notices::Due;
use tessera_core::ExpiryWarnings;

use crate::Result;

/// A token the expiry scan found inside a window (or expired), with its
/// org's thresholds.
#[derive(Debug, Clone)]
pub struct ExpiryCandidate {
    pub token: Token,
    pub warnings: ExpiryWarnings,
}

/// What an email tells: its `kind` names the template.
pub const EMAIL_EXPIRING: &str = "token_expiring";
pub const EMAIL_LEAKED: &str = "token_leaked";
pub const EMAIL_INACTIVE: &str = "token_inactive";

/// A pending email a node has claimed (leased) to send.
#[derive(Debug, Clone)]
pub struct ClaimedEmail {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    /// What it tells, as JSON text: the token's metadata as the API shows
    /// it, plus `days`, `reason`, `action` as the kind needs.
    pub data: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// One attempt's result: `next_attempt_at` when it failed and will be
/// tried again (`None` and not sent: given up).
#[derive(Debug, Clone)]
pub struct EmailOutcome {
    pub sent: bool,
    pub error: Option<String>,
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// The email outbox's state, for tests and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailCounts {
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
}

#[async_trait]
pub trait NoticeStore: Send + Sync {
    /// Tokens with a notice due at `now` that none has recorded yet (at
    /// most `limit`, soonest expiry first). Reading one is no promise: the
    /// notice is claimed by [`Self::record_expiry_notice`].
    async fn expiry_candidates(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ExpiryCandidate>>;

    /// Records `due` for `token` (at its current `expires_at`) and, in the
    /// same transaction, writes its `token.expiring` (`days` > 0) or
    /// `token.expired` event and, for a warning, the owner's email. `false`
    /// (nothing written) when it was already recorded, by another node or
    /// an earlier pass, or the token's `expires_at` changed meanwhile.
    async fn record_expiry_notice(
        &self,
        token: &Token,
        due: Due,
        now: OffsetDateTime,
    ) -> Result<bool>;

    /// Claims up to `limit` due pending emails until `lease_until`; on
    /// PostgreSQL, rows another node's claim locked are skipped, so each
    /// email goes to one node at a time.
    async fn claim_emails(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedEmail>>;

    async fn record_email_attempt(&self, id: &str, outcome: &EmailOutcome) -> Result<()>;

    async fn email_counts(&self) -> Result<EmailCounts>;

    /// Deletes sent and failed emails created before `before`.
    async fn purge_emails(&self, before: OffsetDateTime) -> Result<u64>;
}
