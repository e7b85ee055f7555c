//! Projects, the resources tokens may be restricted to.

use async_trait::async_trait;

use tessera_core::model::{AuditEvent, Project};
use tessera_core::{OrgId, ProjectKey};

use sqlx::any::AnyRow;

use super::rows::{text, time};
use super::{all, insert_error, secs, Run, SqlStore};
use crate::{ProjectStore, Result, Unique};

#[async_trait]
impl ProjectStore for SqlStore {
    async fn create_project(&self, project: &Project, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4)"
        ))
        .bind(project.org_id.as_str())
        .bind(project.key.as_str())
        .bind(&project.name)
        .bind(secs(project.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, Unique::ProjectKey, || format!("org {}", project.org_id)))?;
        self.commit(tx, audit, None).await
    }

    async fn list_projects(&self, org: &OrgId) -> Result<Vec<Project>> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = $1 ORDER BY key");
        all(sqlx::query(&sql).bind(org.as_str()), &self.pool, from_row).await
    }

    /// Deletes a project. Tokens restricted to it keep the key in their
    /// list: they stay restricted, to a project that no longer exists.
    async fn delete_project(
        &self,
        org: &OrgId,
        key: &ProjectKey,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM projects WHERE org_id = $1 AND key = $2")
            .bind(org.as_str())
            .bind(key.as_str())
            .run_found(&mut *tx)
            .await?;
        self.commit(tx, audit, None).await
    }
}

const PROJECT_COLUMNS: &str = "org_id, key, name, created_at";

fn from_row(row: &AnyRow) -> Result<Project> {
    Ok(Project {
        org_id: OrgId::from_trusted(text(row, "org_id")?),
        key: ProjectKey::from_trusted(text(row, "key")?),
        name: text(row, "name")?,
        created_at: time(row, "created_at")?,
    })
}
