//! The org's projects: what tokens may be restricted to. Deleting one
//! leaves the key in the restrictions that name it: those tokens can do
//! nothing in the project while it is gone, and regain it if a project with
//! the same key is created again.

use serde_json::json;
use tessera_api::{CreateProjectRequest, ProjectList, ProjectResponse};
use tessera_core::lifecycle::validate_name;
use tessera_core::model::Project;
use tessera_core::{resource, ProjectKey};

use super::{
    check_on_key, event, not_found_as, parse_or_not_found, Call, Caller, ServiceError,
    ServiceResult,
};

pub fn project_response(p: &Project) -> ProjectResponse {
    ProjectResponse {
        key: p.key.to_string(),
        name: p.name.clone(),
        created_at: p.created_at,
    }
}

/// May the caller create projects? For front ends that offer only forms
/// that can succeed; `create` checks again, with the key.
pub fn may_create(caller: &Caller) -> bool {
    caller.allows("project:create", "proj/*")
}

/// May the caller delete project `key`?
pub fn may_delete(caller: &Caller, key: &str) -> bool {
    check_deletable(caller, key).is_ok()
}

/// [`may_delete`], with the refusal `delete` would answer (before it
/// looks the project up): for a confirmation page.
pub fn check_deletable(caller: &Caller, key: &str) -> ServiceResult<()> {
    check_on_key(
        caller,
        ("project:delete", "project"),
        key,
        resource::project,
    )
}

/// The org's projects the caller may read.
pub async fn list(call: &Call) -> ServiceResult<ProjectList> {
    let (state, caller, _) = call.parts();
    let projects = state.store.list_projects(&caller.org.id).await?;
    let items = caller.readable("project:read", &projects, project_response);
    Ok(ProjectList { items })
}

/// A new project.
pub async fn create(call: &Call, request: CreateProjectRequest) -> ServiceResult<ProjectResponse> {
    let (state, caller, now) = call.parts();
    let key = ProjectKey::parse(&request.key)?;
    let name = request.name.unwrap_or_else(|| key.to_string());
    validate_name("name", &name)?;
    caller.require("project:create", &resource::project(&key))?;
    let project = Project {
        org_id: caller.org.id.clone(),
        key,
        name,
        created_at: now,
    };
    let target = resource::project(&project.key);
    let event = event(state, caller, now, "project:create", target, json!({}));
    state.store.create_project(&project, &event).await?;
    Ok(project_response(&project))
}

/// One project.
pub async fn show(call: &Call, key: &str) -> ServiceResult<ProjectResponse> {
    let (state, caller, _) = call.parts();
    let key: ProjectKey = parse_or_not_found(key, "project")?;
    caller.require("project:read", &resource::project(&key))?;
    let projects = state.store.list_projects(&caller.org.id).await?;
    let project = projects
        .iter()
        .find(|p| p.key == key)
        .ok_or_else(|| ServiceError::not_found("project"))?;
    Ok(project_response(project))
}

/// Deletes a project (see the module docs for the tokens restricted to it).
pub async fn delete(call: &Call, key: &str) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    let key: ProjectKey = parse_or_not_found(key, "project")?;
    caller.require("project:delete", &resource::project(&key))?;
    let target = resource::project(&key);
    let event = event(state, caller, now, "project:delete", target, json!({}));
    state
        .store
        .delete_project(&caller.org.id, &key, &event)
        .await
        .map_err(not_found_as("project"))
}
