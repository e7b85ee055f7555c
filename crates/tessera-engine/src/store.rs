//! The store the server writes through: every mutating call is passed to
//! the real store, then invalidates what it touched in the verification
//! cache. Routing all writes through here means no handler can forget an
//! invalidation.
//!
//! Invalidation runs whether the call succeeded or not: an error may hide
//! a commit that happened, and dropping a cache entry is always safe.

use std::sync::Arc;

use async_trait::async_trait;
use tessera_core::model::{AuditEvent, CustomRole, Member, Org, Project, Session, Token};
use tessera_core::{
    BuiltinRole, MemberId, OrgId, OrgKey, ProjectKey, RoleKey, SecretHash, TokenId,
};
use tessera_store::{AuditQuery, LastUsed, Result, Rotation, Store, TokenChanges};
use time::OffsetDateTime;

use crate::cache::Cache;

pub struct InvalidatingStore {
    inner: Arc<dyn Store>,
    cache: Arc<Cache>,
}

impl InvalidatingStore {
    pub(crate) fn new(inner: Arc<dyn Store>, cache: Arc<Cache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl Store for InvalidatingStore {
    async fn count_orgs(&self) -> Result<u64> {
        self.inner.count_orgs().await
    }
    async fn create_org(&self, org: &Org, owner: &Member, audit: &AuditEvent) -> Result<()> {
        self.inner.create_org(org, owner, audit).await
    }
    async fn get_org(&self, id: &OrgId) -> Result<Option<Org>> {
        self.inner.get_org(id).await
    }
    async fn get_org_by_key(&self, key: &OrgKey) -> Result<Option<Org>> {
        self.inner.get_org_by_key(key).await
    }
    async fn update_org(&self, org: &Org, audit: &AuditEvent) -> Result<()> {
        let result = self.inner.update_org(org, audit).await;
        self.cache.invalidate_org(org.id.as_str());
        result
    }

    async fn create_member(&self, member: &Member, audit: &AuditEvent) -> Result<()> {
        self.inner.create_member(member, audit).await
    }
    async fn get_member(&self, org: &OrgId, id: &MemberId) -> Result<Option<Member>> {
        self.inner.get_member(org, id).await
    }
    async fn members_by_email(&self, email: &str) -> Result<Vec<Member>> {
        self.inner.members_by_email(email).await
    }
    async fn list_members(&self, org: &OrgId) -> Result<Vec<Member>> {
        self.inner.list_members(org).await
    }
    async fn update_member_roles(
        &self,
        org: &OrgId,
        id: &MemberId,
        role: BuiltinRole,
        custom_roles: &[RoleKey],
        audit: &AuditEvent,
    ) -> Result<()> {
        let result = self
            .inner
            .update_member_roles(org, id, role, custom_roles, audit)
            .await;
        self.cache.invalidate_member(id.as_str(), false);
        result
    }
    async fn set_password(
        &self,
        id: &MemberId,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        let result = self.inner.set_password(id, password_hash, audit).await;
        self.cache.invalidate_member(id.as_str(), false);
        result
    }
    async fn delete_member(&self, org: &OrgId, id: &MemberId, audit: &AuditEvent) -> Result<()> {
        let result = self.inner.delete_member(org, id, audit).await;
        self.cache.invalidate_member(id.as_str(), true);
        result
    }

    async fn create_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> {
        let result = self.inner.create_role(role, audit).await;
        self.cache.invalidate_roles(role.org_id.as_str());
        result
    }
    async fn get_role(&self, org: &OrgId, key: &RoleKey) -> Result<Option<CustomRole>> {
        self.inner.get_role(org, key).await
    }
    async fn list_roles(&self, org: &OrgId) -> Result<Vec<CustomRole>> {
        self.inner.list_roles(org).await
    }
    async fn update_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> {
        let result = self.inner.update_role(role, audit).await;
        self.cache.invalidate_roles(role.org_id.as_str());
        result
    }
    async fn delete_role(&self, org: &OrgId, key: &RoleKey, audit: &AuditEvent) -> Result<()> {
        let result = self.inner.delete_role(org, key, audit).await;
        self.cache.invalidate_roles(org.as_str());
        result
    }

    async fn create_project(&self, project: &Project, audit: &AuditEvent) -> Result<()> {
        self.inner.create_project(project, audit).await
    }
    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>> {
        self.inner.list_projects(org).await
    }
    async fn delete_project(
        &self,
        org: &OrgId,
        key: &ProjectKey,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.inner.delete_project(org, key, audit).await
    }

    async fn create_token(&self, token: &Token, audit: &AuditEvent) -> Result<()> {
        let result = self.inner.create_token(token, audit).await;
        // Forget a negative entry for this id, however unlikely.
        self.cache.invalidate_token(token.id.as_str());
        result
    }
    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>> {
        self.inner.get_token(id).await
    }
    async fn list_tokens(&self, org: &OrgId, member: &MemberId) -> Result<Vec<Token>> {
        self.inner.list_tokens(org, member).await
    }
    async fn update_token(
        &self,
        id: &TokenId,
        changes: &TokenChanges,
        audit: &AuditEvent,
    ) -> Result<Token> {
        let result = self.inner.update_token(id, changes, audit).await;
        self.cache.invalidate_token(id.as_str());
        result
    }
    async fn rotate_token(
        &self,
        id: &TokenId,
        rotation: &Rotation,
        audit: &AuditEvent,
    ) -> Result<Token> {
        let result = self.inner.rotate_token(id, rotation, audit).await;
        self.cache.invalidate_token(id.as_str());
        result
    }
    async fn delete_token(&self, id: &TokenId, audit: &AuditEvent) -> Result<()> {
        let result = self.inner.delete_token(id, audit).await;
        self.cache.invalidate_token(id.as_str());
        result
    }
    async fn record_last_used(&self, batch: &[LastUsed]) -> Result<()> {
        self.inner.record_last_used(batch).await
    }

    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> Result<()> {
        self.inner.create_session(session, audit).await
    }
    async fn get_session(&self, id_hash: &SecretHash) -> Result<Option<Session>> {
        self.inner.get_session(id_hash).await
    }
    async fn delete_session(&self, id_hash: &SecretHash, audit: Option<&AuditEvent>) -> Result<()> {
        self.inner.delete_session(id_hash, audit).await
    }
    async fn delete_member_sessions(
        &self,
        member: &MemberId,
        keep: Option<&SecretHash>,
    ) -> Result<()> {
        self.inner.delete_member_sessions(member, keep).await
    }
    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        self.inner.purge_expired_sessions(now).await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        self.inner.append_audit(event).await
    }
    async fn list_audit(&self, org: &OrgId, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        self.inner.list_audit(org, query).await
    }

    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        self.inner.server_key(name, candidate).await
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn subscribe(&self) -> Result<Option<tessera_store::ChangeFeed>> {
        self.inner.subscribe().await
    }
}
