//! SQLite backend (work in progress).
#![allow(unused_variables)]
use super::*;
/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStore { pool: sqlx::SqlitePool }
impl SqliteStore {
    pub async fn connect(url: &str) -> Result<SqliteStore> { todo!("{url}") }
    pub fn from_pool(pool: sqlx::SqlitePool) -> Self { Self { pool } }
}
#[async_trait]
impl Store for SqliteStore {
    async fn count_orgs(&self) -> Result<u64> { todo!() }
    async fn create_org(&self, org: &Org, owner: &Member, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn get_org(&self, id: &OrgId) -> Result<Option<Org>> { todo!() }
    async fn get_org_by_key(&self, key: &OrgKey) -> Result<Option<Org>> { todo!() }
    async fn update_org(&self, org: &Org, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn create_member(&self, member: &Member, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn get_member(&self, org: &OrgId, id: &MemberId) -> Result<Option<Member>> { todo!() }
    async fn members_by_email(&self, email: &str) -> Result<Vec<Member>> { todo!() }
    async fn list_members(&self, org: &OrgId) -> Result<Vec<Member>> { todo!() }
    async fn update_member_roles(
        &self,
        org: &OrgId,
        id: &MemberId,
        role: BuiltinRole,
        custom_roles: &[RoleKey],
        audit: &AuditEvent,
    ) -> Result<()> { todo!() }
    async fn set_password(&self, id: &MemberId, password_hash: &str, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn delete_member(&self, org: &OrgId, id: &MemberId, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn create_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn get_role(&self, org: &OrgId, key: &RoleKey) -> Result<Option<CustomRole>> { todo!() }
    async fn list_roles(&self, org: &OrgId) -> Result<Vec<CustomRole>> { todo!() }
    async fn update_role(&self, role: &CustomRole, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn delete_role(&self, org: &OrgId, key: &RoleKey, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn create_project(&self, project: &Project, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>> { todo!() }
    async fn delete_project(&self, org: &OrgId, key: &ProjectKey, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn create_token(&self, token: &Token, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn get_token(&self, id: &TokenId) -> Result<Option<Token>> { todo!() }
    async fn list_tokens(&self, org: &OrgId, member: &MemberId) -> Result<Vec<Token>> { todo!() }
    async fn update_token(&self, id: &TokenId, changes: &TokenChanges, audit: &AuditEvent) -> Result<Token> { todo!() }
    async fn rotate_token(&self, id: &TokenId, rotation: &Rotation, audit: &AuditEvent) -> Result<Token> { todo!() }
    async fn delete_token(&self, id: &TokenId, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn record_last_used(&self, batch: &[LastUsed]) -> Result<()> { todo!() }
    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> Result<()> { todo!() }
    async fn get_session(&self, id_hash: &SecretHash) -> Result<Option<Session>> { todo!() }
    async fn delete_session(&self, id_hash: &SecretHash, audit: Option<&AuditEvent>) -> Result<()> { todo!() }
    async fn delete_member_sessions(&self, member: &MemberId, keep: Option<&SecretHash>) -> Result<()> { todo!() }
    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64> { todo!() }
    async fn append_audit(&self, event: &AuditEvent) -> Result<()> { todo!() }
    async fn list_audit(&self, org: &OrgId, query: &AuditQuery) -> Result<Vec<AuditEvent>> { todo!() }
    async fn ping(&self) -> Result<()> { todo!() }
}
