//! Tessera's storage: the [`Store`] trait the server sees, and its
//! implementations: SQLite (the default, one node) and PostgreSQL (shared
//! by several nodes).
//!
//! Invariants every implementation keeps, and the conformance suite
//! (`tests/conformance.rs`) checks:
//! - Every mutating call is one transaction, and writes its audit event in
//!   that same transaction: a change and its audit line exist together or
//!   not at all.
//! - Uniqueness (org key, member email per org, role key, project key) is
//!   enforced by the database and reported as [`StoreError::Conflict`]
//!   naming what clashed, never by string-matching error text.
//! - A custom role held by a member or a token cannot be deleted
//!   ([`StoreError::InUse`]); an org never loses its last owner
//!   ([`StoreError::LastOwner`]).
//! - Rotation is a compare-and-set on `rotated_at`: of two concurrent
//!   rotations of one token exactly one wins ([`StoreError::RotationRace`]).
//! - Deleting a member deletes its tokens and sessions, never a service
//!   account's (not even one it made); deleting a service account deletes
//!   its tokens.
//! - Times are stored as whole Unix seconds.

mod limits;
mod notices;
mod sql;
mod traits;

use time::OffsetDateTime;

use tessera_core::model::PreviousSecret;
use tessera_core::{
    MemberId, OrgId, ProjectKey, SecretHash, ServiceAccountId, TokenId, TokenScope,
};

pub use limits::{QuotaGrant, RateGrant, SeenIp, TokenLimitStore, UsageCounts, UsageDelta};
pub use notices::{
    ClaimedEmail, EmailCounts, EmailOutcome, ExpiryCandidate, NoticeStore, EMAIL_EXPIRING,
    EMAIL_INACTIVE, EMAIL_LEAKED,
};
pub use sql::{CopiedTable, OperationError, PgOptions, SqlStore};
pub use traits::{
    AuditStore, ChangeListener, MemberStore, NodeStore, OrgStore, PlatformStore, ProjectStore,
    RoleStore, ServiceAccountStore, SessionStore, SsoStore, Store, TokenControlStore, TokenStore,
    WebhookStore,
};

/// What can go wrong in storage, in terms the server can answer with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken: the value names which.
    #[error("already exists: {0:?}")]
    Conflict(Unique),
    /// The record is still referenced (a role held by members or tokens).
    #[error("in use: {0}")]
    InUse(String),
    #[error("the organization must keep at least one owner")]
    LastOwner,
    /// Another rotation of the same token won the race.
    #[error("the token was rotated concurrently")]
    RotationRace,
    /// A named custom role or member does not exist.
    #[error("unknown reference: {0}")]
    UnknownReference(String),
    /// The database cannot be reached right now (connection refused or
    /// lost, pool exhausted, server shutting down): worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed; the text is for logs, never for clients.
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// Classifies a driver error: reaching the database at all, or a
    /// failure inside it.
    pub(crate) fn from_sqlx(err: sqlx::Error) -> Self {
        let unreachable = match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            // PostgreSQL: connection exceptions (08…), shutting down or
            // starting up (57P01–57P03). SQLite (numeric codes): busy
            // beyond the busy timeout, or locked (5, 6 and their extended
            // codes): the database is there but overloaded, try again.
            sqlx::Error::Database(e) => e.code().is_some_and(|c| {
                c.starts_with("08")
                    || matches!(
                        c.as_ref(),
                        "57P01" | "57P02" | "57P03" | "5" | "6" | "261" | "262" | "517" | "518"
                    )
            }),
            _ => false,
        };
        if unreachable {
            Self::Unavailable(err.to_string())
        } else {
            Self::Database(err.to_string())
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The uniqueness rules the database enforces, as [`StoreError::Conflict`]
/// reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// Org keys are unique.
    OrgKey,
    /// An email is a member of an org at most once.
    MemberEmail,
    /// A host product's user id names at most one member of an org.
    ExternalId,
    /// Custom-role keys are unique within an org.
    RoleKey,
    /// Project keys are unique within an org.
    ProjectKey,
    /// Token ids are unique.
    TokenId,
    /// A member's (or a service account's) tokens have distinct names.
    TokenName,
    /// Service-account names are unique within an org.
    ServiceAccountName,
    /// Session ids are unique.
    SessionId,
    /// Webhook ids are unique.
    WebhookId,
}

/// Opens the store a database URL names, creating and migrating it as
/// needed: `sqlite://path/to/tessera.db`, `sqlite:tessera.db` or
/// `sqlite::memory:`; `postgres://user:password@host/db` (or
/// `postgresql://`) with the default [`PgOptions`]. Any other scheme is a
/// `Database` error that names the scheme (never the rest of the URL,
/// which may hold a password).
pub async fn connect(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    Ok(std::sync::Arc::new(SqlStore::connect(url).await?))
}

/// Changes a PATCH may make to a token. `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct TokenChanges {
    pub name: Option<String>,
    pub scope: Option<TokenScope>,
    pub projects: Option<Vec<ProjectKey>>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// The token's controls as they will be (`Some(None)`: none).
    pub controls: Option<Option<tessera_core::controls::TokenControls>>,
    /// With `controls`, when the quota was sent: its count is set to the
    /// quota's `remaining`, in this refill period (see
    /// `tessera_core::controls::Refill::period`); otherwise the live
    /// count stays.
    pub quota_reset: Option<Option<i64>>,
}

/// A rotation to apply atomically.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub secret_hash: SecretHash,
    pub snippet: String,
    pub expires_at: OffsetDateTime,
    pub rotated_at: OffsetDateTime,
    /// The old secret, when the caller asked for a grace period.
    pub previous_secret: Option<PreviousSecret>,
    /// The rotation succeeds only if the token's `rotated_at` is empty or
    /// not after this instant (one rotation per hour, cluster-wide).
    pub last_rotation_before: OffsetDateTime,
}

/// One coalesced last-used observation.
#[derive(Debug, Clone, PartialEq)]
pub struct LastUsed {
    pub token: TokenId,
    pub at: OffsetDateTime,
    pub ip: Option<String>,
}

/// How a page of the org's tokens is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenOrder {
    /// Newest first (`created_at`, then id, descending).
    #[default]
    Newest,
    /// Most recently used first, never-used tokens last (`last_used_at`,
    /// then id, descending). Stored times: a use not yet flushed is not
    /// counted.
    LastUsed,
}

/// Where a page of tokens continues: after the token `id` whose sort key
/// (`created_at` for [`TokenOrder::Newest`], `last_used_at` for
/// [`TokenOrder::LastUsed`], `None` when never used) is `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPosition {
    pub key: Option<OffsetDateTime>,
    pub id: TokenId,
}

/// Filters for the org-wide token inventory. A token is "unused since" an
/// instant when its last use, or its creation if never used, is before it
/// (the inactivity rule counts the same way).
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    /// Only this member's tokens.
    pub member: Option<MemberId>,
    /// Only this service account's tokens (with `member` too, none match).
    pub service_account: Option<ServiceAccountId>,
    /// Tokens that expire before this (tokens without expiry never match).
    pub expires_before: Option<OffsetDateTime>,
    pub unused_since: Option<OffsetDateTime>,
    /// Names containing this, ASCII letters compared case-insensitively;
    /// `%` and `_` are plain characters.
    pub name_contains: Option<String>,
    /// `Some(true)`: only disabled tokens; `Some(false)`: only enabled.
    pub disabled: Option<bool>,
    pub order: TokenOrder,
    pub after: Option<TokenPosition>,
    pub limit: u32,
}

/// A token the inactivity rule of its org applies to now.
#[derive(Debug, Clone, PartialEq)]
pub struct InactiveToken {
    pub token: tessera_core::model::Token,
    /// The org's rule: unused `days` days, then `action`.
    pub days: u32,
    pub action: tessera_core::InactiveAction,
    /// The token counts as inactive while unused since this instant.
    pub unused_before: OffsetDateTime,
}

/// Filters for reading the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<MemberId>,
    /// Exact action (`token:create`) or a prefix ending in `:` (`token:`).
    pub action: Option<String>,
    /// Events whose target starts with this.
    pub target: Option<String>,
    /// Only events older than this event id (the previous page's cursor).
    pub before: Option<String>,
    pub limit: u32,
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// One event to one endpoint, as `GET /webhooks/{id}/deliveries` shows it.
/// Its id is the `webhook-id` header, the same on every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: tessera_core::WebhookId,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_response_code: Option<u16>,
    pub last_error: Option<String>,
    /// When it is (re)tried; `None` once it succeeded or failed for good.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// A delivery a worker claimed, with what sending it needs (`Debug` leaves
/// the secret out).
#[derive(Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub id: String,
    pub org_id: OrgId,
    pub webhook_id: tessera_core::WebhookId,
    pub url: String,
    pub secret: Vec<u8>,
    /// Attempts made before this one.
    pub attempts: u32,
    pub event_type: String,
    pub event_at: OffsetDateTime,
    /// The event's `data`, as JSON text.
    pub data: String,
}

impl std::fmt::Debug for ClaimedDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedDelivery")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("webhook_id", &self.webhook_id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("attempts", &self.attempts)
            .field("event_type", &self.event_type)
            .field("event_at", &self.event_at)
            .field("data", &self.data)
            .finish()
    }
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    pub succeeded: bool,
    pub response_code: Option<u16>,
    /// Why it failed, for people (never the response body).
    pub error: Option<String>,
    /// When to try again; `None` with a failure: failed for good.
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// The delivery queue across orgs, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryQueue {
    pub pending: u64,
    /// When the oldest pending delivery was made.
    pub oldest_pending: Option<OffsetDateTime>,
}

/// A change that other nodes sharing the database must apply to their
/// verification caches. Backends that can be shared publish one for every
/// committed change (PostgreSQL: `NOTIFY` inside the same transaction, so
/// it is delivered exactly when the change becomes visible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A token was created, updated, rotated or deleted.
    Token(TokenId),
    /// A member's roles or password changed, or (`removed`) the member left.
    Member { id: MemberId, removed: bool },
    /// The org's settings (name, token policy, suspension) changed.
    Org(OrgId),
    /// The org was deleted with everything in it (platform API).
    OrgRemoved(OrgId),
    /// A custom role of this org was created, edited or deleted.
    Roles(OrgId),
    /// A service account's roles changed, or (`removed`) it was deleted
    /// (its tokens with it).
    ServiceAccount { id: ServiceAccountId, removed: bool },
}

impl Change {
    /// The notification channel changes travel on.
    pub const CHANNEL: &'static str = "tessera_changes";

    /// The wire form: `token:<id>`, `member:<id>`, `member_removed:<id>`,
    /// `org:<id>`, `org_removed:<id>`, `roles:<org id>`, `service_account:<id>`,
    /// `service_account_removed:<id>`.
    pub fn to_payload(&self) -> String {
        match self {
            Self::Token(id) => format!("token:{id}"),
            Self::Member { id, removed: false } => format!("member:{id}"),
            Self::Member { id, removed: true } => format!("member_removed:{id}"),
            Self::Org(id) => format!("org:{id}"),
            Self::OrgRemoved(id) => format!("org_removed:{id}"),
            Self::Roles(id) => format!("roles:{id}"),
            Self::ServiceAccount { id, removed: false } => format!("service_account:{id}"),
            Self::ServiceAccount { id, removed: true } => {
                format!("service_account_removed:{id}")
            }
        }
    }

    /// Parses the wire form; `None` for anything else.
    pub fn from_payload(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        Some(match kind {
            "token" => Self::Token(TokenId::parse(id).ok()?),
            "member" => Self::Member {
                id: MemberId::parse(id).ok()?,
                removed: false,
            },
            "member_removed" => Self::Member {
                id: MemberId::parse(id).ok()?,
                removed: true,
            },
            "org" => Self::Org(OrgId::parse(id).ok()?),
            "org_removed" => Self::OrgRemoved(OrgId::parse(id).ok()?),
            "roles" => Self::Roles(OrgId::parse(id).ok()?),
            "service_account" => Self::ServiceAccount {
                id: ServiceAccountId::parse(id).ok()?,
                removed: false,
            },
            "service_account_removed" => Self::ServiceAccount {
                id: ServiceAccountId::parse(id).ok()?,
                removed: true,
            },
            _ => return None,
        })
    }
}

/// What a change feed delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    Change(Change),
    /// The feed lost its connection: changes may be missed from here on,
    /// so nothing cached may be trusted until [`FeedEvent::Resumed`].
    Lost,
    /// The feed is listening again; changes made while it was away were
    /// not delivered, so everything cached must be dropped now.
    Resumed,
}

/// The receiving end of a change feed.
pub type ChangeFeed = tokio::sync::mpsc::Receiver<FeedEvent>;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn unreachable_databases_are_unavailable_not_broken() {
        assert!(matches!(
            StoreError::from_sqlx(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from_sqlx(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(
            StoreError::from_sqlx(sqlx::Error::Io(refused)),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from_sqlx(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
    }

    #[test]
    fn change_payloads_round_trip() {
        let now = datetime!(2026-11-23 12:00 UTC);
        let changes = [
            Change::Token(TokenId::generate(now)),
            Change::Member {
                id: MemberId::generate(now),
                removed: false,
            },
            Change::Member {
                id: MemberId::generate(now),
                removed: true,
            },
            Change::Org(OrgId::generate(now)),
            Change::OrgRemoved(OrgId::generate(now)),
            Change::Roles(OrgId::generate(now)),
            Change::ServiceAccount {
                id: ServiceAccountId::generate(now),
                removed: false,
            },
            Change::ServiceAccount {
                id: ServiceAccountId::generate(now),
                removed: true,
            },
        ];
        for change in changes {
            assert_eq!(Change::from_payload(&change.to_payload()), Some(change));
        }
        for bad in [
            "",
            "token",
            "token:",
            "token:short",
            "what:2GdXMflhJ0000000000000000",
            "org:a:b",
        ] {
            assert_eq!(Change::from_payload(bad), None, "{bad}");
        }
    }
}
