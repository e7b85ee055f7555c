//! The host product's side of Tessera (the platform API): its keys, its
//! audit log, and the one-time login links it hands its people.
//!
//! None of these belongs to an org. A platform key reaches only the
//! platform API; its events are kept apart from every org's audit log and
//! name the org by key (and the person by `external_id`), because they
//! outlive what they talk about.

use serde_json::Value;
use time::OffsetDateTime;

use crate::{ExternalId, MemberId, OrgId, OrgKey, SecretHash};

/// A platform key as stored: never the key itself, only the hash of its
/// secret. `id` is the KSUID inside the key (public, like a token's id).
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformKey {
    pub id: String,
    pub name: String,
    pub snippet: String,
    pub secret_hash: SecretHash,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// One line of the platform audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformAuditEvent {
    /// Sortable, chosen by the caller (as the org audit's ids).
    pub id: String,
    pub at: OffsetDateTime,
    /// The platform key that acted (its id); `None` for the CLI on the
    /// server's machine.
    pub actor_key: Option<String>,
    /// `org:create`, `member:put`, `login_link:create`, ...
    pub action: String,
    pub org_key: Option<OrgKey>,
    /// For calls about one person.
    pub external_id: Option<ExternalId>,
    pub ip: Option<String>,
    pub details: Value,
}

/// A login link as stored: the hash of its secret, whom it opens a session
/// for, and where it lands.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginLink {
    pub id_hash: SecretHash,
    pub org_id: OrgId,
    pub member_id: MemberId,
    /// A local path (checked when the link was made).
    pub return_to: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What spending a login link found.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkUse {
    /// It was valid and is now spent: open a session for this member.
    Opened(LoginLink),
    /// It was spent before.
    Used,
    /// It ran out before anyone used it.
    Expired,
    /// No such link (forged, mistyped, or its member or org is gone).
    Unknown,
}
