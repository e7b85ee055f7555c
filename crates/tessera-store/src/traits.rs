//! What the server asks of storage, one small trait per capability, and
//! [`Store`], the umbrella a front end holds (`Arc<dyn Store>`). A function
//! that needs only tokens can take `&dyn TokenStore`; a test double needs
//! to implement only what it is used through.
//!
//! Every mutating call takes the [`AuditEvent`] it writes in its own
//! transaction, and announces the [`Change`](crate::Change) a verification
//! cache must apply (see [`NodeStore::on_commit`]).

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use tessera_core::model::{
    AuditEvent, CustomRole, Member, Org, Project, ServiceAccount, Session, Token,
};
use tessera_core::{
    BuiltinRole, ExternalId, MemberId, OrgId, OrgKey, ProjectKey, RoleKey, SecretHash,
    ServiceAccountId, TokenId,
};

use tessera_core::platform::{LinkUse, LoginLink, PlatformAuditEvent, PlatformKey};
use tessera_core::sso::OrgSso;
use tessera_core::webhook::Webhook;
use tessera_core::WebhookId;

use crate::{
    AttemptOutcome, AuditQuery, Change, ChangeFeed, ClaimedDelivery, Delivery, DeliveryQueue,
    InactiveToken, LastUsed, Result, Rotation, TokenChanges, TokenQuery,
};

/// Organizations: the tenants everything else belongs to.
#[async_trait]
pub trait OrgStore: Send + Sync {
    async fn count_orgs(&self) -> Result<u64>;
    /// Creates an org and its first owner together.
    async fn create_org(&self, org: &Org, owner: &Member, audit: &AuditEvent) -> Result<()>;
    async fn get_org(&self, id: &OrgId) -> Result<Option<Org>>;
    async fn get_org_by_key(&self, key: &OrgKey) -> Result<Option<Org>>;
    /// Saves the org's name and token policy.
    async fn update_org(&self, org: &Org, audit: &AuditEvent) -> Result<()>;
}

/// Members of an org. An org never loses its last owner.
#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn create_member(&self, member: &Member, audit: &AuditEvent) -> Result<()>;
    async fn get_member(&self, org: &OrgId, id: &MemberId) -> Result<Option<Member>>;
    /// The member the host product calls `external_id` in `org`.
    async fn get_member_by_external_id(
        &self,
        org: &OrgId,
        external_id: &ExternalId,
    ) -> Result<Option<Member>>;
    /// Sets (or with `None` clears) a member's external id; `Conflict(ExternalId)`
    /// when another member of the org has it.
    async fn set_external_id(
        &self,
        org: &OrgId,
        id: &MemberId,
        external_id: Option<&ExternalId>,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Every membership for an email, across orgs (for logging in).
    async fn members_by_email(&self, email: &str) -> Result<Vec<Member>>;
    async fn list_members(&self, org: &OrgId) -> Result<Vec<Member>>;
    /// Replaces a member's built-in role and custom roles.
    async fn update_member_roles(
        &self,
        org: &OrgId,
        id: &MemberId,
        role: BuiltinRole,
        custom_roles: &[RoleKey],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn set_password(
        &self,
        id: &MemberId,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Removes a member with its tokens and sessions.
    async fn delete_member(&self, org: &OrgId, id: &MemberId, audit: &AuditEvent) -> Result<()>;
}

/// Service accounts of an org, and their tokens. Deleting one deletes its
/// tokens; its name is unique in the org.
#[async_trait]
pub trait ServiceAccountStore: Send + Sync {
    async fn create_service_account(
        &self,
        account: &ServiceAccount,
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_service_account(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<Option<ServiceAccount>>;
    /// By name.
    async fn list_service_accounts(&self, org: &OrgId) -> Result<Vec<ServiceAccount>>;
    /// Saves name, description, built-in role and custom roles.
    async fn update_service_account(
        &self,
        account: &ServiceAccount,
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn delete_service_account(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// A service account's tokens, newest first.
    async fn list_service_account_tokens(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<Vec<Token>>;
}

/// Custom roles. A role held by a member or a token cannot be deleted.
#[async_trait]
pub trait RoleStore: Send + Sync {
    async fn create_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()>;
    async fn get_role(&self, org: &OrgId, key: &RoleKey) -> Result<Option<CustomRole>>;
    async fn list_roles(&self, org: &OrgId) -> Result<Vec<CustomRole>>;
    /// Saves name and policy (and `updated_at`).
    async fn update_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()>;
    async fn delete_role(&self, org: &OrgId, key: &RoleKey, audit: &AuditEvent) -> Result<()>;
}

/// Projects, the resources tokens may be restricted to.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    async fn create_project(&self, project: &Project, audit: &AuditEvent) -> Result<()>;
    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>>;
    async fn delete_project(&self, org: &OrgId, key: &ProjectKey, audit: &AuditEvent)
        -> Result<()>;
}

/// Tokens and their last-used times.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(&self, token: &Token, audit: &AuditEvent) -> Result<()>;
    /// Looks a token up by id alone: verification starts here.
    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>>;
    /// A member's tokens, newest first.
    async fn list_tokens(&self, org: &OrgId, member: &MemberId) -> Result<Vec<Token>>;
    /// Applies `changes` and returns the token as saved.
    async fn update_token(
        &self,
        id: &TokenId,
        changes: &TokenChanges,
        audit: &AuditEvent,
    ) -> Result<Token>;
    async fn rotate_token(
        &self,
        id: &TokenId,
        rotation: &Rotation,
        audit: &AuditEvent,
    ) -> Result<Token>;
    async fn delete_token(&self, id: &TokenId, audit: &AuditEvent) -> Result<()>;
    /// Saves coalesced last-used times; an older time never overwrites a
    /// newer one. Unknown (deleted) tokens are skipped.
    async fn record_last_used(&self, batch: &[LastUsed]) -> Result<()>;
}

/// Disabling and enabling tokens, the org-wide inventory, and the
/// inactivity rule's work. Each change is conditional, so that of several
/// nodes doing the same thing at once exactly one changes (and audits) it.
#[async_trait]
pub trait TokenControlStore: Send + Sync {
    /// A page of the org's tokens, filtered and ordered as `query` says.
    async fn query_tokens(&self, org: &OrgId, query: &TokenQuery) -> Result<Vec<Token>>;
    /// Disables the token at `at` unless it is disabled already and, with
    /// `unused_before`, only while its last use (or creation, if never
    /// used) and its last enabling are before that. The token as saved when this call changed it
    /// (and wrote `audit`); `None` when there was nothing to do (and no
    /// audit); `NotFound` when there is no such token.
    async fn disable_token(
        &self,
        id: &TokenId,
        at: OffsetDateTime,
        unused_before: Option<OffsetDateTime>,
        audit: &AuditEvent,
    ) -> Result<Option<Token>>;
    /// Enables a disabled token at `at` (from when the inactivity rule
    /// counts it, as if used then); as [`Self::disable_token`] otherwise.
    async fn enable_token(
        &self,
        id: &TokenId,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<Option<Token>>;
    /// Deletes the token only while its last use (or creation) is before
    /// `unused_before`: whether it did (and wrote `audit`).
    async fn revoke_inactive_token(
        &self,
        id: &TokenId,
        unused_before: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<bool>;
    /// Tokens, across orgs, that their org's inactivity rule applies to at
    /// `now` (for "disable": only enabled ones), oldest use first, at most
    /// `limit`.
    async fn inactive_tokens(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<InactiveToken>>;
}

/// Webhook endpoints and their deliveries. The events themselves are
/// written by every mutating call (in its transaction) for the endpoints
/// subscribed to them at that moment.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(&self, webhook: &Webhook, audit: &AuditEvent) -> Result<()>;
    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Option<Webhook>>;
    /// Oldest first.
    async fn list_webhooks(&self, org: &OrgId) -> Result<Vec<Webhook>>;
    /// Saves url, events and description.
    async fn update_webhook(&self, webhook: &Webhook, audit: &AuditEvent) -> Result<()>;
    /// Deletes the endpoint and its deliveries.
    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId, audit: &AuditEvent) -> Result<()>;
    /// Queues a `webhook.ping` to one endpoint at `at`: the delivery's id.
    async fn ping_webhook(&self, webhook: &Webhook, at: OffsetDateTime) -> Result<String>;
    /// An endpoint's deliveries, newest first, at most `limit`.
    async fn list_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        limit: u32,
    ) -> Result<Vec<Delivery>>;
    /// Claims up to `limit` pending deliveries due at `now` that no other
    /// worker holds, each until `lease_until` (PostgreSQL: rows other
    /// workers are claiming at the same moment are skipped).
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Claims one delivery of an endpoint whatever its status (a retry
    /// asked for by hand), unless a worker holds it: `None` then;
    /// `NotFound` when there is no such delivery.
    async fn claim_delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<ClaimedDelivery>>;
    /// Records an attempt at a claimed delivery and releases it.
    async fn record_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<Delivery>;
    /// Records the attempts of one delivery pass and releases their
    /// deliveries, in one transaction: one write instead of one per
    /// delivery, which on SQLite would each wait for the API's writes.
    async fn record_attempts(&self, attempts: &[(String, AttemptOutcome)]) -> Result<()>;
    /// The pending deliveries across orgs.
    async fn delivery_queue(&self) -> Result<DeliveryQueue>;
    /// Deletes finished (succeeded or failed) deliveries made before
    /// `before` (each carries its event, which goes with it): how many.
    async fn purge_deliveries(&self, before: OffsetDateTime) -> Result<u64>;
}

/// Login sessions, kept by the hash of their id.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> Result<()>;
    async fn get_session(&self, id_hash: &SecretHash) -> Result<Option<Session>>;
    async fn delete_session(&self, id_hash: &SecretHash, audit: Option<&AuditEvent>) -> Result<()>;
    /// Ends a member's sessions, except `keep`.
    async fn delete_member_sessions(
        &self,
        member: &MemberId,
        keep: Option<&SecretHash>,
    ) -> Result<()>;
    /// Removes sessions that expired before `now`; returns how many.
    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Records an event that changes nothing else (a failed login, a verify).
    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;
    async fn list_audit(&self, org: &OrgId, query: &AuditQuery) -> Result<Vec<AuditEvent>>;
}

/// The platform API's records: platform keys, the platform audit log, orgs
/// as a whole (list, delete), members managed by the host product, and
/// login links. Every mutating call writes its [`PlatformAuditEvent`] in
/// its transaction, never an org audit event; calls that change an org's
/// members take `org_event`, the org audit event the org's webhooks are
/// told about (written to the outbox only).
#[async_trait]
pub trait PlatformStore: Send + Sync {
    async fn create_platform_key(
        &self,
        key: &PlatformKey,
        audit: &PlatformAuditEvent,
    ) -> Result<()>;
    async fn get_platform_key(&self, id: &str) -> Result<Option<PlatformKey>>;
    /// Oldest first.
    async fn list_platform_keys(&self) -> Result<Vec<PlatformKey>>;
    async fn delete_platform_key(&self, id: &str, audit: &PlatformAuditEvent) -> Result<()>;
    /// Records a use, at most once a minute per key (a write per call
    /// would cost more than it tells).
    async fn touch_platform_key(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    /// Records an event that changes nothing else (a refused call).
    async fn append_platform_audit(&self, event: &PlatformAuditEvent) -> Result<()>;
    /// Newest first; only events older than the event `before`.
    async fn list_platform_audit(
        &self,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PlatformAuditEvent>>;
    /// Every org, newest first; only orgs older than the org `before`.
    async fn list_orgs(&self, before: Option<&OrgId>, limit: u32) -> Result<Vec<Org>>;
    async fn platform_create_org(
        &self,
        org: &Org,
        owner: &Member,
        audit: &PlatformAuditEvent,
    ) -> Result<()>;
    /// Saves name, token policy and suspension.
    async fn platform_update_org(&self, org: &Org, audit: &PlatformAuditEvent) -> Result<()>;
    /// Deletes the org and everything in it: tokens, members, sessions,
    /// login links, service accounts, roles, projects, webhooks with their
    /// events and deliveries, and its audit log.
    async fn delete_org(&self, org: &OrgId, audit: &PlatformAuditEvent) -> Result<()>;
    async fn platform_create_member(
        &self,
        member: &Member,
        org_event: &AuditEvent,
        audit: &PlatformAuditEvent,
    ) -> Result<()>;
    /// Saves email, name, external id, built-in role and custom roles; the org keeps
    /// an owner (`LastOwner`).
    async fn platform_update_member(
        &self,
        member: &Member,
        org_event: &AuditEvent,
        audit: &PlatformAuditEvent,
    ) -> Result<()>;
    /// Removes the member with its tokens, sessions and login links.
    async fn platform_delete_member(
        &self,
        org: &OrgId,
        id: &MemberId,
        org_event: &AuditEvent,
        audit: &PlatformAuditEvent,
    ) -> Result<()>;
    async fn create_login_link(&self, link: &LoginLink, audit: &PlatformAuditEvent) -> Result<()>;
    /// Spends the link whose secret hashes to `id_hash`, if it is unused
    /// and not expired at `now`: one conditional update, so of any number
    /// of nodes trying at once exactly one opens it.
    async fn use_login_link(&self, id_hash: &SecretHash, now: OffsetDateTime) -> Result<LinkUse>;
    /// Removes links that expired before `before`: how many.
    async fn purge_login_links(&self, before: OffsetDateTime) -> Result<u64>;
}

/// Called with every change this store commits (or tried to commit: an
/// error may hide a commit, and dropping a cache entry is always safe).
pub type ChangeListener = Arc<dyn Fn(&Change) + Send + Sync>;

/// What a node needs to run beside others: shared signing keys, health,
/// and the changes its verification cache must follow.
#[async_trait]
pub trait NodeStore: Send + Sync {
    /// The signing key called `name`: `candidate` is stored if no node has
    /// stored one yet, and whichever key was stored first is returned, so
    /// every node sharing the database signs with the same key.
    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>>;
    async fn ping(&self) -> Result<()>;
    /// Calls `listener` with each change this node commits, right after
    /// the commit and before the call returns, so this node's cache is
    /// never behind its own writes.
    fn on_commit(&self, listener: ChangeListener);
    /// Changes committed by any node sharing this database (this one
    /// included), for keeping verification caches correct. `None` for a
    /// backend only one node can use (SQLite).
    async fn subscribe(&self) -> Result<Option<ChangeFeed>>;
    /// Copies SQLite's write-ahead log back into the database file, which
    /// the connections do not do on their own; a serving node calls it
    /// every second. Nothing to do on PostgreSQL.
    async fn checkpoint(&self) -> Result<()>;
}

/// Single sign-on: orgs' SSO settings, and sign-ins under way.
#[async_trait]
pub trait SsoStore: Send + Sync {
    /// The org's settings; `None` until they are first set.
    async fn get_org_sso(&self, org: &OrgId) -> Result<Option<OrgSso>>;
    /// Replaces the org's settings (`sso` is already normalized).
    async fn set_org_sso(&self, org: &OrgId, sso: &OrgSso, audit: &AuditEvent) -> Result<()>;
    /// The members, in every org, whose `external_id` is `external_id`
    /// (a returning person, by the provider's `sub`), oldest first.
    async fn members_by_external_id(&self, external_id: &ExternalId) -> Result<Vec<Member>>;
    /// The orgs whose settings admit an email at `domain`, with them.
    async fn orgs_admitting_domain(&self, domain: &str) -> Result<Vec<(OrgId, OrgSso)>>;
    /// Keeps a sign-in step's `data` under `id_hash` until `expires_at`
    /// (and drops every step that expired before `now`).
    async fn put_sso_flow(
        &self,
        id_hash: &SecretHash,
        data: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// Takes a step's data: at most once, whichever node asks, and only
    /// before it expires.
    async fn take_sso_flow(
        &self,
        id_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<String>>;
}

/// Everything the server needs from a database: each capability, in one
/// trait object (`Arc<dyn Store>`).
pub trait Store:
    OrgStore
    + MemberStore
    + ServiceAccountStore
    + RoleStore
    + ProjectStore
    + TokenStore
    + TokenControlStore
    + crate::TokenLimitStore
    + SessionStore
    + WebhookStore
    + SsoStore
    + crate::NoticeStore
    + AuditStore
    + PlatformStore
    + NodeStore
    + 'static
{
}
