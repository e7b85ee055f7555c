//! [`Store`] for [`PgStore`]: each method hands its pool to the function
//! of the module that owns the records it touches.

use async_trait::async_trait;
use time::OffsetDateTime;

use tessera_core::model::{AuditEvent, CustomRole, Member, Org, Project, Session, Token};
use tessera_core::{
    BuiltinRole, MemberId, OrgId, OrgKey, ProjectKey, RoleKey, SecretHash, TokenId,
};

use super::{audit, db, feed, members, roles, sessions, tokens, PgStore};
use crate::{AuditQuery, ChangeFeed, LastUsed, Result, Rotation, Store, TokenChanges};

#[async_trait]
impl Store for PgStore {
    async fn count_orgs(&self) -> Result<u64> {
        members::count_orgs(&self.pool).await
    }

    async fn create_org(&self, org: &Org, owner: &Member, audit: &AuditEvent) -> Result<()> {
        members::create_org(&self.pool, org, owner, audit).await
    }

    async fn get_org(&self, id: &OrgId) -> Result<Option<Org>> {
        members::get_org(&self.pool, "id", id.as_str()).await
    }

    async fn get_org_by_key(&self, key: &OrgKey) -> Result<Option<Org>> {
        members::get_org(&self.pool, "key", key.as_str()).await
    }

    async fn update_org(&self, org: &Org, audit: &AuditEvent) -> Result<()> {
        members::update_org(&self.pool, org, audit).await
    }

    async fn create_member(&self, member: &Member, audit: &AuditEvent) -> Result<()> {
        members::create_member(&self.pool, member, audit).await
    }

    async fn get_member(&self, org: &OrgId, id: &MemberId) -> Result<Option<Member>> {
        members::get_member(&self.pool, org, id).await
    }

    async fn members_by_email(&self, email: &str) -> Result<Vec<Member>> {
        members::members_by_email(&self.pool, email).await
    }

    async fn list_members(&self, org: &OrgId) -> Result<Vec<Member>> {
        members::list_members(&self.pool, org).await
    }

    async fn update_member_roles(
        &self,
        org: &OrgId,
        id: &MemberId,
        role: BuiltinRole,
        custom_roles: &[RoleKey],
        audit: &AuditEvent,
    ) -> Result<()> {
        members::update_member_roles(&self.pool, org, id, role, custom_roles, audit).await
    }

    async fn set_password(
        &self,
        id: &MemberId,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<()> {
        members::set_password(&self.pool, id, password_hash, audit).await
    }

    async fn delete_member(&self, org: &OrgId, id: &MemberId, audit: &AuditEvent) -> Result<()> {
        members::delete_member(&self.pool, org, id, audit).await
    }

    async fn create_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> {
        roles::create_role(&self.pool, role, audit).await
    }

    async fn get_role(&self, org: &OrgId, key: &RoleKey) -> Result<Option<CustomRole>> {
        roles::get_role(&self.pool, org, key).await
    }

    async fn list_roles(&self, org: &OrgId) -> Result<Vec<CustomRole>> {
        roles::list_roles(&self.pool, org).await
    }

    async fn update_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> {
        roles::update_role(&self.pool, role, audit).await
    }

    async fn delete_role(&self, org: &OrgId, key: &RoleKey, audit: &AuditEvent) -> Result<()> {
        roles::delete_role(&self.pool, org, key, audit).await
    }

    async fn create_project(&self, project: &Project, audit: &AuditEvent) -> Result<()> {
        roles::create_project(&self.pool, project, audit).await
    }

    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>> {
        roles::list_projects(&self.pool, org).await
    }

    async fn delete_project(
        &self,
        org: &OrgId,
        key: &ProjectKey,
        audit: &AuditEvent,
    ) -> Result<()> {
        roles::delete_project(&self.pool, org, key, audit).await
    }

    async fn create_token(&self, token: &Token, audit: &AuditEvent) -> Result<()> {
        tokens::create_token(&self.pool, token, audit).await
    }

    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>> {
        tokens::get_token(&self.pool, id).await
    }

    async fn list_tokens(&self, org: &OrgId, member: &MemberId) -> Result<Vec<Token>> {
        tokens::list_tokens(&self.pool, org, member).await
    }

    async fn update_token(
        &self,
        id: &TokenId,
        changes: &TokenChanges,
        audit: &AuditEvent,
    ) -> Result<Token> {
        tokens::update_token(&self.pool, id, changes, audit).await
    }

    async fn rotate_token(
        &self,
        id: &TokenId,
        rotation: &Rotation,
        audit: &AuditEvent,
    ) -> Result<Token> {
        tokens::rotate_token(&self.pool, id, rotation, audit).await
    }

    async fn delete_token(&self, id: &TokenId, audit: &AuditEvent) -> Result<()> {
        tokens::delete_token(&self.pool, id, audit).await
    }

    async fn record_last_used(&self, batch: &[LastUsed]) -> Result<()> {
        tokens::record_last_used(&self.pool, batch).await
    }

    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> Result<()> {
        sessions::create_session(&self.pool, session, audit).await
    }

    async fn get_session(&self, id_hash: &SecretHash) -> Result<Option<Session>> {
        sessions::get_session(&self.pool, id_hash).await
    }

    async fn delete_session(&self, id_hash: &SecretHash, audit: Option<&AuditEvent>) -> Result<()> {
        sessions::delete_session(&self.pool, id_hash, audit).await
    }

    async fn delete_member_sessions(
        &self,
        member: &MemberId,
        keep: Option<&SecretHash>,
    ) -> Result<()> {
        sessions::delete_member_sessions(&self.pool, member, keep).await
    }

    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        sessions::purge_expired_sessions(&self.pool, now).await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        audit::insert(&mut conn, event).await
    }

    async fn list_audit(&self, org: &OrgId, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        audit::list(&self.pool, org, query).await
    }

    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO server_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        sqlx::query_scalar("SELECT key FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(db)
    }

    async fn subscribe(&self) -> Result<Option<ChangeFeed>> {
        feed::subscribe(&self.pool).await.map(Some)
    }
}
