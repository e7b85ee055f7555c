//! The records Tessera keeps. Storage reads and writes these; the server
//! turns them into API responses. None of them holds a token's value.

use serde_json::Value;
use time::OffsetDateTime;

use crate::token::NewToken;
use crate::{
    BuiltinRole, ExternalId, MemberId, OrgId, OrgKey, Policy, ProjectKey, RoleKey, SecretHash,
    ServiceAccountId, TokenId, TokenPolicy, TokenScope,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: OrgId,
    pub key: OrgKey,
    pub name: String,
    pub token_policy: TokenPolicy,
    pub created_at: OffsetDateTime,
    /// Set while the host product has suspended the org (platform API):
    /// its tokens and sessions are refused until it is lifted.
    pub suspended_at: Option<OffsetDateTime>,
}

impl Org {
    /// A new org with the default token policy, created at `now`.
    pub fn new(key: OrgKey, name: impl Into<String>, now: OffsetDateTime) -> Self {
        Self {
            id: OrgId::generate(now),
            key,
            name: name.into(),
            token_policy: TokenPolicy::default(),
            created_at: now,
            suspended_at: None,
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct Member {
    pub id: MemberId,
    pub org_id: OrgId,
    /// Lowercased.
    pub email: String,
    pub name: String,
    pub role: BuiltinRole,
    pub custom_roles: Vec<RoleKey>,
    /// Argon2id PHC string; `None` until a password is set.
    pub password_hash: Option<String>,
    pub created_at: OffsetDateTime,
    /// The host product's id for this person (platform API, single
    /// sign-on); `None` for a member made in Tessera.
    pub external_id: Option<ExternalId>,
}

impl Member {
    /// A new member of `org_id` with a built-in role only and no password
    /// yet, created at `now`. `email` must already be lowercased.
    pub fn new(
        org_id: &OrgId,
        email: impl Into<String>,
        name: impl Into<String>,
        role: BuiltinRole,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: MemberId::generate(now),
            org_id: org_id.clone(),
            email: email.into(),
            name: name.into(),
            role,
            custom_roles: Vec::new(),
            password_hash: None,
            created_at: now,
            external_id: None,
        }
    }
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("custom_roles", &self.custom_roles)
            .field("external_id", &self.external_id)
            .finish_non_exhaustive()
    }
}

/// An org-owned identity for automation: its tokens belong to it, not to
/// the member who made them, so they outlive that member. It holds a
/// built-in role and custom roles as a member does, and never logs in.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAccount {
    pub id: ServiceAccountId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub role: BuiltinRole,
    pub custom_roles: Vec<RoleKey>,
    pub created_at: OffsetDateTime,
    /// The member who made it; kept as a plain id (the account outlives
    /// them).
    pub created_by: Option<MemberId>,
}

/// Whose a token is: a member's own, or a service account's. Its resource
/// name follows (`member/<id>:token/<id>` or
/// `service_account/<id>:token/<id>`), so a permission on one kind never
/// reaches the other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenOwner {
    Member(MemberId),
    ServiceAccount(ServiceAccountId),
}

impl TokenOwner {
    /// The member, for a member's token.
    pub fn member(&self) -> Option<&MemberId> {
        match self {
            Self::Member(id) => Some(id),
            Self::ServiceAccount(_) => None,
        }
    }

    /// The service account, for a service account's token.
    pub fn service_account(&self) -> Option<&ServiceAccountId> {
        match self {
            Self::ServiceAccount(id) => Some(id),
            Self::Member(_) => None,
        }
    }

    /// The owner's id (a KSUID of either kind), for display.
    pub fn id_str(&self) -> &str {
        match self {
            Self::Member(id) => id.as_str(),
            Self::ServiceAccount(id) => id.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomRole {
    pub org_id: OrgId,
    pub key: RoleKey,
    pub name: String,
    pub policy: Policy,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub org_id: OrgId,
    pub key: ProjectKey,
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// The old secret of a token rotated with a grace period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviousSecret {
    pub hash: SecretHash,
    pub valid_until: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub id: TokenId,
    pub org_id: OrgId,
    /// A member's, or a service account's.
    pub owner: TokenOwner,
    pub name: String,
    pub snippet: String,
    pub secret_hash: SecretHash,
    pub scope: TokenScope,
    /// Empty: not restricted to projects.
    pub projects: Vec<ProjectKey>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    pub rotated_at: Option<OffsetDateTime>,
    pub previous_secret: Option<PreviousSecret>,
    /// When the token was disabled (by hand or by the org's inactivity
    /// policy); `None` while it is enabled. A disabled token is refused
    /// (`token_disabled`) until it is enabled again.
    pub disabled_at: Option<OffsetDateTime>,
}

impl Token {
    /// The record of a freshly `minted` token of `owner`, created at `now`:
    /// not restricted to projects, no expiry, never used or rotated.
    pub fn minted(
        minted: &NewToken,
        owner: &Member,
        name: impl Into<String>,
        scope: TokenScope,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: minted.id.clone(),
            org_id: owner.org_id.clone(),
            owner: TokenOwner::Member(owner.id.clone()),
            name: name.into(),
            snippet: minted.snippet.clone(),
            secret_hash: minted.secret_hash,
            scope,
            projects: Vec::new(),
            created_at: now,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            rotated_at: None,
            previous_secret: None,
            disabled_at: None,
        }
    }

    /// Does `presented` match this token's current secret, or its previous
    /// one while the rotation grace period lasts? Both compares always run,
    /// in constant time.
    pub fn secret_matches(&self, presented: &SecretHash, now: OffsetDateTime) -> bool {
        self.secret_match(presented, now).is_some()
    }

    /// Which of this token's secrets `presented` is: the current one, or
    /// the one a rotation replaced (while its grace period lasts). Both
    /// compares always run, in constant time.
    pub fn secret_match(&self, presented: &SecretHash, now: OffsetDateTime) -> Option<SecretMatch> {
        let current = self.secret_hash.matches(presented);
        let previous = self
            .previous_secret
            .is_some_and(|p| p.hash.matches(presented) && now < p.valid_until);
        match (current, previous) {
            (true, _) => Some(SecretMatch::Current),
            (false, true) => Some(SecretMatch::Superseded),
            (false, false) => None,
        }
    }
}

/// Which secret of a token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMatch {
    Current,
    /// The string a rotation replaced, still in its grace period: it may
    /// authenticate and be verified, but not manage tokens (a leaked old
    /// string must not mint itself a fresh, long-lived one).
    Superseded,
}

/// A login session. Its id is a random secret kept only as a hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id_hash: SecretHash,
    pub member_id: MemberId,
    pub org_id: OrgId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Actor {
    pub member: Option<MemberId>,
    pub token: Option<TokenId>,
}

/// One line of the audit log. Never holds a token's value: targets are ids,
/// and details carry snippets at most.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    pub org_id: OrgId,
    pub at: OffsetDateTime,
    pub actor: Actor,
    /// `type:verb`, as in policies (`token:create`, `session:create`).
    pub action: String,
    /// The resource acted on (`member/<id>:token/<id>`).
    pub target: String,
    pub ip: Option<String>,
    pub details: Value,
}
