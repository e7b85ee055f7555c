//! Custom roles and projects: the org's catalogue of scopes.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use tessera_api::{
    CreateProjectRequest, CreateRoleRequest, Policy, ProjectResponse, RoleResponse,
    UpdateRoleRequest,
};

use super::confirm;
use super::{notice, query_of};
use crate::service::{projects, roles, ServiceResult};
use crate::state::AppState;
use crate::web::forms::{done_or_again, redirect, shown, FormData, PageResult, Problems, WebForm};
use crate::web::policy_help::PolicyHelp;
use crate::web::render::{page, when, Layout};
use crate::web::scope::{chosen_policy, policy_checked};
use crate::web::session::WebUser;

/// The create form under a catalogue's list, as it shows: as sent with
/// its problems, or empty; and a redirect's notice above the list.
struct CreateForm<'a> {
    notice: Option<&'static str>,
    /// Shown only to who may create (the service's `may_create`).
    allowed: bool,
    form: &'a FormData,
    problems: Problems,
}

/// A catalogue page (roles, projects): `list`'s answer rendered as `render`
/// says, above the create form; or the page for the service's error.
async fn catalog_page<'a, L, T: Template>(
    list: impl std::future::Future<Output = ServiceResult<L>>,
    sent: Option<(&'a FormData, Problems)>,
    (notice, allowed): (Option<&'static str>, bool),
    render: impl FnOnce(L, CreateForm<'a>) -> T,
) -> PageResult {
    let list = list.await?;
    let (form, problems) = shown(sent);
    let status = problems.page_status();
    let create = CreateForm {
        notice,
        allowed,
        form,
        problems,
    };
    Ok(page(status, &render(list, create)))
}

/// A role as the list prints it.
struct RoleRow {
    key: String,
    name: String,
    statements: usize,
    updated: String,
}

impl From<RoleResponse> for RoleRow {
    fn from(r: RoleResponse) -> Self {
        Self {
            statements: r.policy.0.len(),
            updated: when(r.updated_at),
            key: r.key,
            name: r.name,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage<'a> {
    layout: Layout,
    roles: Vec<RoleRow>,
    create: CreateForm<'a>,
    help: PolicyHelp,
}

pub(super) async fn roles_page(
    user: &WebUser,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> PageResult {
    let list = roles::list(&user.call);
    let allowed = roles::may_create(&user.call.caller);
    catalog_page(list, sent, (notice, allowed), |list, create| RolesPage {
        layout: user.layout("Custom roles", "roles"),
        roles: list.items.into_iter().map(RoleRow::from).collect(),
        help: PolicyHelp::for_text(create.form.get("policy")),
        create,
    })
    .await
}

/// The policy textarea, parsed; a message next to it when it is not JSON.
fn policy_field(form: &FormData) -> Result<Policy, Problems> {
    chosen_policy(form.get("policy"))
}

pub(super) async fn roles(user: WebUser, RawQuery(raw): RawQuery) -> PageResult {
    roles_page(&user, None, notice(&query_of(raw))).await
}

pub(super) async fn create_role(user: WebUser, WebForm(form): WebForm) -> PageResult {
    if let Some(checked) = policy_checked(&form, &["policy"]) {
        return roles_page(&user, Some((&form, checked)), None).await;
    }
    let policy = match policy_field(&form) {
        Ok(p) => p,
        Err(p) => return roles_page(&user, Some((&form, p)), None).await,
    };
    let request = CreateRoleRequest {
        key: form.get("key").trim().to_owned(),
        name: form.opt("name"),
        policy,
    };
    let created = roles::create(&user.call, request).await;
    done_or_again(
        created,
        "/admin/roles?done=created",
        &["key", "name", "policy"],
        |p| roles_page(&user, Some((&form, p)), None),
    )
    .await
}

#[derive(Template)]
#[template(path = "admin_role.html")]
struct RolePage {
    layout: Layout,
    /// The edit form, for who may replace this role's policy; else the
    /// policy is shown as text.
    editable: bool,
    deletable: bool,
    key: String,
    name: String,
    policy: String,
    notice: Option<&'static str>,
    problems: Problems,
    help: PolicyHelp,
}

pub(super) async fn role_page(
    user: &WebUser,
    key: &str,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> PageResult {
    let role = roles::show(&user.call, key).await?;
    let (name, policy, problems) = match sent {
        Some((form, p)) => (
            form.get("name").to_owned(),
            form.get("policy").to_owned(),
            p,
        ),
        None => (
            role.name.clone(),
            serde_json::to_string_pretty(&role.policy).unwrap_or_default(),
            Problems::default(),
        ),
    };
    let status = problems.page_status();
    Ok(page(
        status,
        &RolePage {
            layout: user.layout(format!("Role {}", role.key), "roles"),
            editable: roles::may_update(&user.call.caller, &role.key),
            deletable: roles::may_delete(&user.call.caller, &role.key),
            key: role.key,
            name,
            help: PolicyHelp::for_text(&policy),
            policy,
            notice,
            problems,
        },
    ))
}

pub(super) async fn role(
    user: WebUser,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    role_page(&user, &key, None, notice(&query_of(raw))).await
}

pub(super) async fn update_role(
    user: WebUser,
    Path(key): Path<String>,
    WebForm(form): WebForm,
) -> PageResult {
    if let Some(checked) = policy_checked(&form, &["policy"]) {
        return role_page(&user, &key, Some((&form, checked)), None).await;
    }
    let policy = match policy_field(&form) {
        Ok(p) => p,
        Err(p) => return role_page(&user, &key, Some((&form, p)), None).await,
    };
    let request = UpdateRoleRequest {
        name: form.opt("name"),
        policy,
    };
    let saved = roles::update(&user.call, &key, request).await;
    let done = format!("/admin/roles/{key}?done=saved");
    done_or_again(saved, &done, &["name", "policy"], |p| {
        role_page(&user, &key, Some((&form, p)), None)
    })
    .await
}

pub(super) async fn confirm_delete_role(user: WebUser, Path(key): Path<String>) -> PageResult {
    roles::check_deletable(&user.call.caller, &key)?;
    Ok(confirm(
        &user,
        "roles",
        format!("Delete the role “{key}”?"),
        "A role that a member or a token still holds cannot be deleted: remove it from them first."
            .into(),
        format!("/admin/roles/{key}/delete"),
        format!("Delete role {key}"),
        format!("/admin/roles/{key}"),
    ))
}

pub(super) async fn delete_role(
    State(_state): State<AppState>,
    user: WebUser,
    Path(key): Path<String>,
    WebForm(_): WebForm,
) -> PageResult {
    roles::delete(&user.call, &key).await?;
    redirect("/admin/roles?done=deleted")
}

// ---------------------------------------------------------------- projects

struct ProjectRow {
    key: String,
    name: String,
    created: String,
    /// A Delete link, only for who may delete it.
    deletable: bool,
}

impl From<ProjectResponse> for ProjectRow {
    fn from(p: ProjectResponse) -> Self {
        Self {
            deletable: false,
            created: when(p.created_at),
            key: p.key,
            name: p.name,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_projects.html")]
struct ProjectsPage<'a> {
    layout: Layout,
    projects: Vec<ProjectRow>,
    create: CreateForm<'a>,
}

pub(super) async fn projects_page(
    user: &WebUser,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> PageResult {
    let list = projects::list(&user.call);
    let caller = &user.call.caller;
    let allowed = projects::may_create(caller);
    catalog_page(list, sent, (notice, allowed), |list, create| ProjectsPage {
        layout: user.layout("Projects", "projects"),
        projects: list
            .items
            .into_iter()
            .map(|p| ProjectRow {
                deletable: projects::may_delete(caller, &p.key),
                ..ProjectRow::from(p)
            })
            .collect(),
        create,
    })
    .await
}

pub(super) async fn projects(user: WebUser, RawQuery(raw): RawQuery) -> PageResult {
    projects_page(&user, None, notice(&query_of(raw))).await
}

pub(super) async fn create_project(user: WebUser, WebForm(form): WebForm) -> PageResult {
    let request = CreateProjectRequest {
        key: form.get("key").trim().to_owned(),
        name: form.opt("name"),
    };
    let created = projects::create(&user.call, request).await;
    done_or_again(
        created,
        "/admin/projects?done=created",
        &["key", "name"],
        |p| projects_page(&user, Some((&form, p)), None),
    )
    .await
}

pub(super) async fn confirm_delete_project(user: WebUser, Path(key): Path<String>) -> PageResult {
    projects::check_deletable(&user.call.caller, &key)?;
    Ok(confirm(
        &user,
        "projects",
        format!("Delete the project “{key}”?"),
        "Tokens restricted to this project can do nothing in it while it is gone.".into(),
        format!("/admin/projects/{key}/delete"),
        format!("Delete project {key}"),
        "/admin/projects".into(),
    ))
}

pub(super) async fn delete_project(
    State(_state): State<AppState>,
    user: WebUser,
    Path(key): Path<String>,
    WebForm(_): WebForm,
) -> PageResult {
    projects::delete(&user.call, &key).await?;
    redirect("/admin/projects?done=deleted")
}
