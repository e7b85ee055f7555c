//! Records and helpers the cases share. Every time is fixed, so results
//! are exact; ids are fresh KSUIDs, so two cases never share a row.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use tessera_core::model::{
    Actor, AuditEvent, CustomRole, Member, Org, PreviousSecret, Project, Session, Token,
};
use tessera_core::{
    BuiltinRole, MemberId, OrgId, OrgKey, Policy, ProjectKey, RoleKey, SecretHash, Statement,
    TokenId, TokenOwner, TokenScope,
};
use tessera_store::{AuditQuery, Rotation, Store, StoreError, TokenChanges};

/// Asserts that `result` (a store call's) failed with an error matching
/// `pattern`, and shows the error if not.
macro_rules! assert_fails {
    ($result:expr, $pattern:pat) => {{
        let err = $result.unwrap_err();
        assert!(matches!(err, $pattern), "{err:?}");
    }};
}
pub(crate) use assert_fails;

/// The email of Ada, the member the cases add beside an org's owner.
pub const ADA: &str = "ada@example.com";

/// The instant every case starts from.
pub const T0: OffsetDateTime = datetime!(2026-03-01 09:00 UTC);

pub fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

pub fn role_key(s: &str) -> RoleKey {
    RoleKey::parse(s).unwrap()
}

pub fn project_key(s: &str) -> ProjectKey {
    ProjectKey::parse(s).unwrap()
}

pub fn hash(s: &str) -> SecretHash {
    SecretHash::of(s)
}

pub fn policy() -> Policy {
    Policy(vec![
        Statement::allow(&["flag:*"], &["proj/web:*"]),
        Statement::deny(&["flag:delete"], &["proj/web:env/prod:*"]),
    ])
}

/// A store under test, with a counter for audit event ids.
pub struct Fx<'a> {
    pub store: &'a dyn Store,
    seq: AtomicU32,
}

impl<'a> Fx<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Self {
            store,
            seq: AtomicU32::new(0),
        }
    }

    /// A fixture on `store` and a new org `key` with its owner: how most
    /// cases begin.
    pub async fn with_org(store: &'a dyn Store, key: &str) -> (Self, Org, Member) {
        let fx = Self::new(store);
        let (org, owner) = fx.org(key).await;
        (fx, org, owner)
    }

    /// A fresh audit event; ids sort in the order events are made.
    /// Creates the orgs "acme" and "globex" with their owners: for the
    /// cases that check one org never sees another's rows.
    pub async fn with_two_orgs(store: &'a dyn Store) -> (Self, [(Org, Member); 2]) {
        let (fx, acme, acme_owner) = Self::with_org(store, "acme").await;
        let globex = fx.org("globex").await;
        (fx, [(acme, acme_owner), globex])
    }

    pub fn event(&self, org: &OrgId, action: &str, target: &str) -> AuditEvent {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        AuditEvent {
            id: format!("evt-{n:06}"),
            org_id: org.clone(),
            at: T0 + Duration::seconds(i64::from(n)),
            actor: Actor::default(),
            action: action.to_owned(),
            target: target.to_owned(),
            ip: None,
            details: json!({ "n": n }),
        }
    }

    /// The events of two racing writers `a` and `b` (their targets), doing
    /// `action_a` and `action_b`.
    pub fn racing_events(
        &self,
        org: &OrgId,
        action_a: &str,
        action_b: &str,
    ) -> (AuditEvent, AuditEvent) {
        (
            self.event(org, action_a, "a"),
            self.event(org, action_b, "b"),
        )
    }

    /// The org's audit actions, oldest first.
    pub async fn actions(&self, org: &OrgId) -> Vec<String> {
        let query = AuditQuery {
            limit: 500,
            ..AuditQuery::default()
        };
        let mut events = self.store.list_audit(org, &query).await.unwrap();
        events.reverse();
        events.into_iter().map(|e| e.action).collect()
    }

    /// Asserts the org's audit actions, oldest first: `expected` lists
    /// them separated by spaces.
    pub async fn assert_actions(&self, org: &OrgId, expected: &str) {
        let expected: Vec<&str> = expected.split(' ').collect();
        assert_eq!(self.actions(org).await, expected);
    }

    pub fn org_record(key: &str) -> (Org, Member) {
        let org = Org::new(OrgKey::parse(key).unwrap(), format!("Org {key}"), T0);
        let owner = member_record(&org.id, &format!("owner@{key}.example"), BuiltinRole::Owner);
        (org, owner)
    }

    /// Creates an org with its owner (one `org:create` event).
    pub async fn org(&self, key: &str) -> (Org, Member) {
        let (org, owner) = Self::org_record(key);
        let event = self.event(&org.id, "org:create", &format!("org/{key}"));
        self.store.create_org(&org, &owner, &event).await.unwrap();
        (org, owner)
    }

    /// Ada ([`ADA`]), the second member of `org` many cases need.
    pub async fn ada(&self, org: &OrgId, role: BuiltinRole) -> Member {
        self.member(org, ADA, role).await
    }

    /// Creates a member (one `member:create` event).
    pub async fn member(&self, org: &OrgId, email: &str, role: BuiltinRole) -> Member {
        let member = member_record(org, email, role);
        self.store
            .create_member(&member, &self.event(org, "member:create", "member"))
            .await
            .unwrap();
        member
    }

    /// Sets a member's built-in and custom roles (one `member:update`
    /// event).
    pub async fn set_roles(
        &self,
        org: &OrgId,
        member: &MemberId,
        role: BuiltinRole,
        custom_roles: &[RoleKey],
    ) -> Result<(), StoreError> {
        let event = self.event(org, "member:update", "m");
        self.store
            .update_member_roles(org, member, role, custom_roles, &event)
            .await
    }

    /// Saves `org`'s new name or policy (one `org:update` event).
    pub async fn update_org(&self, org: &Org) -> Result<(), StoreError> {
        let event = self.event(&org.id, "org:update", "org");
        self.store.update_org(org, &event).await
    }

    /// Sets a member's password hash (one `member:password` event).
    pub async fn set_password(
        &self,
        org: &OrgId,
        member: &MemberId,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let event = self.event(org, "member:password", "m");
        self.store.set_password(member, password_hash, &event).await
    }

    /// Removes a member (one `member:delete` event).
    pub async fn delete_member(&self, org: &OrgId, member: &MemberId) -> Result<(), StoreError> {
        let event = self.event(org, "member:delete", "m");
        self.store.delete_member(org, member, &event).await
    }

    /// Saves a custom role's new name or policy (one `role:update` event).
    pub async fn update_role(&self, org: &OrgId, role: &CustomRole) -> Result<(), StoreError> {
        let event = self.event(org, "role:update", &format!("role/{}", role.key));
        self.store.update_role(role, &event).await
    }

    /// Deletes a custom role (one `role:delete` event).
    pub async fn delete_role(&self, org: &OrgId, key: &RoleKey) -> Result<(), StoreError> {
        let event = self.event(org, "role:delete", &format!("role/{key}"));
        self.store.delete_role(org, key, &event).await
    }

    /// Deletes a project (one `project:delete` event).
    pub async fn delete_project(&self, org: &OrgId, key: &ProjectKey) -> Result<(), StoreError> {
        let event = self.event(org, "project:delete", &format!("proj/{key}"));
        self.store.delete_project(org, key, &event).await
    }

    /// Applies `changes` to a token (one `token:update` event).
    pub async fn update_token(
        &self,
        org: &OrgId,
        id: &TokenId,
        changes: &TokenChanges,
    ) -> Result<Token, StoreError> {
        let event = self.event(org, "token:update", "t");
        self.store.update_token(id, changes, &event).await
    }

    /// Deletes a token (one `token:delete` event).
    pub async fn delete_token(&self, org: &OrgId, id: &TokenId) -> Result<(), StoreError> {
        let event = self.event(org, "token:delete", "t");
        self.store.delete_token(id, &event).await
    }

    /// Creates `role` (one `role:create` event), or says why not.
    pub async fn create_role(&self, role: &CustomRole) -> Result<(), StoreError> {
        let event = self.event(&role.org_id, "role:create", &format!("role/{}", role.key));
        self.store.create_role(role, &event).await
    }

    /// Creates a custom role (one `role:create` event).
    pub async fn role(&self, org: &OrgId, key: &str) -> CustomRole {
        let role = role_record(org, key);
        self.create_role(&role).await.unwrap();
        role
    }

    /// Creates `project` (one `project:create` event), or says why not.
    pub async fn create_project(&self, project: &Project) -> Result<(), StoreError> {
        let event = self.event(
            &project.org_id,
            "project:create",
            &format!("proj/{}", project.key),
        );
        self.store.create_project(project, &event).await
    }

    /// Creates a project (one `project:create` event).
    pub async fn project(&self, org: &OrgId, key: &str) -> Project {
        let project = Project {
            org_id: org.clone(),
            key: project_key(key),
            name: format!("Project {key}"),
            created_at: T0,
        };
        self.create_project(&project).await.unwrap();
        project
    }

    /// Creates `token` (one `token:create` event).
    pub async fn save_token(&self, token: &Token) {
        self.store
            .create_token(token, &self.event(&token.org_id, "token:create", "token"))
            .await
            .unwrap();
    }

    /// Creates an inherit-scoped token made at `created_at`.
    pub async fn token(&self, owner: &Member, name: &str, created_at: OffsetDateTime) -> Token {
        let token = token_record(owner, name, created_at);
        self.save_token(&token).await;
        token
    }

    /// Creates an inherit-scoped token made at T0 that expires a day later.
    pub async fn expiring_token(&self, owner: &Member, name: &str) -> Token {
        let token = Token {
            expires_at: Some(T0 + hours(24)),
            ..token_record(owner, name, T0)
        };
        self.save_token(&token).await;
        token
    }

    /// Creates a session of `member` (one `session:create` event).
    pub async fn session(
        &self,
        member: &Member,
        secret: &str,
        expires_at: OffsetDateTime,
    ) -> Session {
        let session = Session {
            id_hash: hash(secret),
            member_id: member.id.clone(),
            org_id: member.org_id.clone(),
            created_at: T0,
            expires_at,
        };
        self.store
            .create_session(
                &session,
                &self.event(&member.org_id, "session:create", "session"),
            )
            .await
            .unwrap();
        session
    }
}

/// A rotation at `at` to the string `secret`, valid 30 days; with
/// `grace`, the string "first" stays valid for an hour.
pub fn rotation(secret: &str, at: time::OffsetDateTime, grace: bool) -> Rotation {
    Rotation {
        secret_hash: hash(secret),
        snippet: format!("tsr_...{secret}"),
        expires_at: at + hours(24 * 30),
        rotated_at: at,
        previous_secret: grace.then(|| PreviousSecret {
            hash: hash("first"),
            valid_until: at + hours(1),
        }),
        last_rotation_before: at - hours(1),
    }
}

pub fn member_record(org: &OrgId, email: &str, role: BuiltinRole) -> Member {
    Member::new(org, email, format!("Member {email}"), role, T0)
}

pub fn role_record(org: &OrgId, key: &str) -> CustomRole {
    CustomRole {
        org_id: org.clone(),
        key: role_key(key),
        name: format!("Role {key}"),
        policy: policy(),
        created_at: T0,
        updated_at: T0,
    }
}

pub fn token_record(owner: &Member, name: &str, created_at: OffsetDateTime) -> Token {
    Token {
        id: TokenId::generate(created_at),
        org_id: owner.org_id.clone(),
        owner: TokenOwner::Member(owner.id.clone()),
        name: name.to_owned(),
        snippet: format!("tsr_...{}", &name[..name.len().min(4)]),
        secret_hash: hash(name),
        scope: TokenScope::Inherit,
        projects: Vec::new(),
        created_at,
        expires_at: None,
        last_used_at: None,
        last_used_ip: None,
        rotated_at: None,
        previous_secret: None,
        disabled_at: None,
        controls: None,
    }
}
