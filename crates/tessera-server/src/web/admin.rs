//! The admin pages: members (and their tokens, metadata only), custom
//! roles, projects, the org's token policy, and the audit log.
//!
//! Like the token pages, each one calls the `/api/v1` handler for what it
//! shows or changes; a member without the permission gets the API's 403 as
//! a message, never a second set of rules.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use tessera_api::{
    AuditEventResponse, CreateMemberRequest, CreateProjectRequest, CreateRoleRequest,
    MemberResponse, Policy, TokenPolicyPatch, UpdateMemberRequest, UpdateOrgRequest,
    UpdateRoleRequest,
};
use tessera_core::permission::check_member_change;
use tessera_core::BuiltinRole;

use super::forms::{friendly, FormData, Problems, WebForm};
use super::render::{error_page, page, when, Layout, TokenView};
use super::scope::Choice;
use super::session::WebUser;
use super::tokens::ConfirmPage;
use crate::api::admin::{self as api_admin, AuditParams};
use crate::api::members as api_members;
use crate::api::{redact, ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/members") }))
        .route("/admin/members", get(members).post(add_member))
        .route("/admin/members/{id}", get(member).post(update_member))
        .route(
            "/admin/members/{id}/remove",
            get(confirm_remove).post(remove_member),
        )
        .route("/admin/roles", get(roles).post(create_role))
        .route("/admin/roles/{key}", get(role).post(update_role))
        .route(
            "/admin/roles/{key}/delete",
            get(confirm_delete_role).post(delete_role),
        )
        .route("/admin/projects", get(projects).post(create_project))
        .route(
            "/admin/projects/{key}/delete",
            get(confirm_delete_project).post(delete_project),
        )
        .route("/admin/policy", get(policy).post(update_policy))
        .route("/admin/audit", get(audit))
}

fn failed(err: &ApiError) -> Response {
    error_page(err.status_and_code().0, &friendly(err))
}

fn query_of(raw: Option<String>) -> FormData {
    FormData::parse(raw.unwrap_or_default().as_bytes()).unwrap_or_default()
}

/// Messages a redirect may ask for by name.
fn notice(query: &FormData) -> Option<&'static str> {
    match query.get("done") {
        "removed" => Some("The member was removed. Their tokens and sessions stopped working."),
        "saved" => Some("Your changes were saved."),
        "deleted" => Some("Deleted."),
        "created" => Some("Created."),
        _ => None,
    }
}

/// Custom roles as checkboxes, ticked where `picked` has them.
async fn role_choices(state: &AppState, user: &WebUser, picked: &[String]) -> Vec<Choice> {
    match api_admin::list_roles(State(state.clone()), user.caller.clone()).await {
        Ok(Json(list)) => list
            .items
            .into_iter()
            .map(|r| Choice {
                checked: picked.contains(&r.key),
                label: format!("{} ({})", r.name, r.key),
                value: r.key,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Built-in roles this admin may hand out, `current` selected.
fn member_role_choices(user: &WebUser, current: &str) -> Vec<Choice> {
    let rank = user.caller.grantor().effective_rank();
    BuiltinRole::ALL
        .into_iter()
        .filter(|r| check_member_change(rank, None, Some(*r)).is_ok())
        .map(|r| Choice {
            value: r.to_string(),
            label: r.to_string(),
            checked: current == r.as_str(),
        })
        .collect()
}

// ---------------------------------------------------------------- members

#[derive(Template)]
#[template(path = "admin_members.html")]
struct MembersPage {
    layout: Layout,
    members: Vec<MemberResponse>,
    notice: Option<&'static str>,
    added: Option<(String, Option<String>)>,
    email: String,
    name: String,
    roles: Vec<Choice>,
    custom_roles: Vec<Choice>,
    problems: Problems,
}

async fn members_page(
    state: &AppState,
    user: &WebUser,
    form: &FormData,
    problems: Problems,
    added: Option<(String, Option<String>)>,
    notice: Option<&'static str>,
) -> Response {
    let list = match api_members::list_members(State(state.clone()), user.caller.clone()).await {
        Ok(Json(list)) => list.items,
        Err(e) => return failed(&e),
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        problems.status()
    };
    let role = match form.get("role") {
        "" => "reader",
        r => r,
    };
    page(
        status,
        &MembersPage {
            layout: user.layout("Members", "members"),
            members: list,
            notice,
            added,
            email: form.get("email").to_owned(),
            name: form.get("name").to_owned(),
            roles: member_role_choices(user, role),
            custom_roles: role_choices(state, user, &form.all("custom_roles")).await,
            problems,
        },
    )
}

async fn members(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = notice(&query_of(raw));
    members_page(
        &state,
        &user,
        &FormData::default(),
        Problems::default(),
        None,
        notice,
    )
    .await
}

const MEMBER_FIELDS: &[&str] = &["email", "name", "role", "custom_roles", "password"];

/// `POST /admin/members`: shows a generated password once, on this page.
async fn add_member(
    State(state): State<AppState>,
    user: WebUser,
    WebForm(form): WebForm,
) -> Response {
    let Ok(role) = form.get("role").parse::<BuiltinRole>() else {
        let p = Problems::field("role", "Choose a role.");
        return members_page(&state, &user, &form, p, None, None).await;
    };
    let custom_roles = form.all("custom_roles");
    let request = CreateMemberRequest {
        email: form.get("email").to_owned(),
        name: form.opt("name"),
        role,
        custom_roles: (!custom_roles.is_empty()).then_some(custom_roles),
        password: form.opt("password"),
    };
    let call =
        api_members::create_member(State(state.clone()), user.caller.clone(), ApiJson(request));
    match call.await {
        Ok((_, Json(created))) => {
            let added = Some((created.member.email, created.initial_password));
            let empty = FormData::default();
            members_page(&state, &user, &empty, Problems::default(), added, None).await
        }
        Err(e) => {
            let p = Problems::from_api(&e, MEMBER_FIELDS);
            members_page(&state, &user, &form, p, None, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin_member.html")]
struct MemberPage {
    layout: Layout,
    member: MemberResponse,
    notice: Option<&'static str>,
    roles: Vec<Choice>,
    custom_roles: Vec<Choice>,
    tokens: Vec<TokenView>,
    tokens_error: Option<String>,
    problems: Problems,
}

async fn member_page(
    state: &AppState,
    user: &WebUser,
    id: &str,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> Response {
    let path = || Path(id.to_owned());
    let member =
        match api_members::get_member(State(state.clone()), user.caller.clone(), path()).await {
            Ok(Json(m)) => m,
            Err(e) => return failed(&e),
        };
    let (role, picked, problems) = match sent {
        Some((form, p)) => (form.get("role").to_owned(), form.all("custom_roles"), p),
        None => (
            member.role.to_string(),
            member.custom_roles.clone(),
            Problems::default(),
        ),
    };
    let now = state.now();
    let (tokens, tokens_error) =
        match api_members::list_member_tokens(State(state.clone()), user.caller.clone(), path())
            .await
        {
            Ok(Json(list)) => (
                list.items.iter().map(|t| TokenView::new(t, now)).collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(friendly(&e))),
        };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        problems.status()
    };
    page(
        status,
        &MemberPage {
            layout: user.layout(format!("Member {}", member.email), "members"),
            roles: member_role_choices(user, &role),
            custom_roles: role_choices(state, user, &picked).await,
            member,
            notice,
            tokens,
            tokens_error,
            problems,
        },
    )
}

async fn member(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    member_page(&state, &user, &id, None, notice(&query_of(raw))).await
}

/// `POST /admin/members/{id}`: change the built-in and custom roles.
async fn update_member(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    WebForm(form): WebForm,
) -> Response {
    let Ok(role) = form.get("role").parse::<BuiltinRole>() else {
        let p = Problems::field("role", "Choose a role.");
        return member_page(&state, &user, &id, Some((&form, p)), None).await;
    };
    let request = UpdateMemberRequest {
        role: Some(role),
        custom_roles: Some(form.all("custom_roles")),
    };
    let call = api_members::update_member(
        State(state.clone()),
        user.caller.clone(),
        Path(id.clone()),
        ApiJson(request),
    );
    match call.await {
        Ok(_) => Redirect::to(&format!("/admin/members/{id}?done=saved")).into_response(),
        Err(e) => {
            let p = Problems::from_api(&e, &["role", "custom_roles"]);
            member_page(&state, &user, &id, Some((&form, p)), None).await
        }
    }
}

async fn confirm_remove(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let member =
        match api_members::get_member(State(state), user.caller.clone(), Path(id.clone())).await {
            Ok(Json(m)) => m,
            Err(e) => return failed(&e),
        };
    page(
        StatusCode::OK,
        &ConfirmPage {
            layout: user.layout("Remove member", "members"),
            heading: format!("Remove {} ({})?", member.name, member.email),
            message: format!(
                "{} will no longer be able to log in to {}.",
                member.email, user.caller.org.name
            ),
            warning: "Every token they created stops working at once: services and scripts using \
                      them will get 401. This cannot be undone."
                .into(),
            action: format!("/admin/members/{id}/remove"),
            button: format!("Remove {}", member.email),
            cancel: format!("/admin/members/{id}"),
            back: String::new(),
        },
    )
}

async fn remove_member(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    WebForm(_): WebForm,
) -> Response {
    match api_members::delete_member(State(state), user.caller, Path(id)).await {
        Ok(_) => Redirect::to("/admin/members?done=removed").into_response(),
        Err(e) => failed(&e),
    }
}

// ---------------------------------------------------------------- roles

/// A role as the list prints it.
struct RoleRow {
    key: String,
    name: String,
    statements: usize,
    updated: String,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage {
    layout: Layout,
    roles: Vec<RoleRow>,
    notice: Option<&'static str>,
    key: String,
    name: String,
    policy: String,
    problems: Problems,
}

async fn roles_page(
    state: &AppState,
    user: &WebUser,
    form: &FormData,
    problems: Problems,
    notice: Option<&'static str>,
) -> Response {
    let roles = match api_admin::list_roles(State(state.clone()), user.caller.clone()).await {
        Ok(Json(list)) => list
            .items
            .into_iter()
            .map(|r| RoleRow {
                statements: r.policy.0.len(),
                updated: when(r.updated_at),
                key: r.key,
                name: r.name,
            })
            .collect(),
        Err(e) => return failed(&e),
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        problems.status()
    };
    page(
        status,
        &RolesPage {
            layout: user.layout("Custom roles", "roles"),
            roles,
            notice,
            key: form.get("key").to_owned(),
            name: form.get("name").to_owned(),
            policy: form.get("policy").to_owned(),
            problems,
        },
    )
}

/// The policy textarea, parsed; a message next to it when it is not JSON.
fn policy_field(form: &FormData) -> Result<Policy, Problems> {
    let text = form.get("policy").trim();
    if text.is_empty() {
        return Err(Problems::field(
            "policy",
            "Enter a policy: a JSON list of statements.",
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        Problems::field(
            "policy",
            format!("This is not a valid policy: {}.", redact(&e.to_string())),
        )
    })
}

async fn roles(State(state): State<AppState>, user: WebUser, RawQuery(raw): RawQuery) -> Response {
    let notice = notice(&query_of(raw));
    roles_page(
        &state,
        &user,
        &FormData::default(),
        Problems::default(),
        notice,
    )
    .await
}

async fn create_role(
    State(state): State<AppState>,
    user: WebUser,
    WebForm(form): WebForm,
) -> Response {
    let policy = match policy_field(&form) {
        Ok(p) => p,
        Err(p) => return roles_page(&state, &user, &form, p, None).await,
    };
    let request = CreateRoleRequest {
        key: form.get("key").trim().to_owned(),
        name: form.opt("name"),
        policy,
    };
    let call = api_admin::create_role(State(state.clone()), user.caller.clone(), ApiJson(request));
    match call.await {
        Ok(_) => Redirect::to("/admin/roles?done=created").into_response(),
        Err(e) => {
            let p = Problems::from_api(&e, &["key", "name", "policy"]);
            roles_page(&state, &user, &form, p, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin_role.html")]
struct RolePage {
    layout: Layout,
    key: String,
    name: String,
    policy: String,
    notice: Option<&'static str>,
    problems: Problems,
}

async fn role_page(
    state: &AppState,
    user: &WebUser,
    key: &str,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> Response {
    let role = match api_admin::get_role(
        State(state.clone()),
        user.caller.clone(),
        Path(key.to_owned()),
    )
    .await
    {
        Ok(Json(r)) => r,
        Err(e) => return failed(&e),
    };
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
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        problems.status()
    };
    page(
        status,
        &RolePage {
            layout: user.layout(format!("Role {}", role.key), "roles"),
            key: role.key,
            name,
            policy,
            notice,
            problems,
        },
    )
}

async fn role(
    State(state): State<AppState>,
    user: WebUser,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    role_page(&state, &user, &key, None, notice(&query_of(raw))).await
}

async fn update_role(
    State(state): State<AppState>,
    user: WebUser,
    Path(key): Path<String>,
    WebForm(form): WebForm,
) -> Response {
    let policy = match policy_field(&form) {
        Ok(p) => p,
        Err(p) => return role_page(&state, &user, &key, Some((&form, p)), None).await,
    };
    let request = UpdateRoleRequest {
        name: form.opt("name"),
        policy,
    };
    let call = api_admin::update_role(
        State(state.clone()),
        user.caller.clone(),
        Path(key.clone()),
        ApiJson(request),
    );
    match call.await {
        Ok(_) => Redirect::to(&format!("/admin/roles/{key}?done=saved")).into_response(),
        Err(e) => {
            let p = Problems::from_api(&e, &["name", "policy"]);
            role_page(&state, &user, &key, Some((&form, p)), None).await
        }
    }
}

async fn confirm_delete_role(user: WebUser, Path(key): Path<String>) -> Response {
    confirm(
        &user,
        "roles",
        format!("Delete the role “{key}”?"),
        "A role that a member or a token still holds cannot be deleted: remove it from them first."
            .into(),
        format!("/admin/roles/{key}/delete"),
        format!("Delete role {key}"),
        format!("/admin/roles/{key}"),
    )
}

async fn delete_role(
    State(state): State<AppState>,
    user: WebUser,
    Path(key): Path<String>,
    WebForm(_): WebForm,
) -> Response {
    match api_admin::delete_role(State(state), user.caller, Path(key)).await {
        Ok(_) => Redirect::to("/admin/roles?done=deleted").into_response(),
        Err(e) => failed(&e),
    }
}

fn confirm(
    user: &WebUser,
    section: &'static str,
    heading: String,
    warning: String,
    action: String,
    button: String,
    cancel: String,
) -> Response {
    page(
        StatusCode::OK,
        &ConfirmPage {
            layout: user.layout("Confirm", section),
            heading,
            message: "This cannot be undone.".into(),
            warning,
            action,
            button,
            cancel,
            back: String::new(),
        },
    )
}

// ---------------------------------------------------------------- projects

struct ProjectRow {
    key: String,
    name: String,
    created: String,
}

#[derive(Template)]
#[template(path = "admin_projects.html")]
struct ProjectsPage {
    layout: Layout,
    projects: Vec<ProjectRow>,
    notice: Option<&'static str>,
    key: String,
    name: String,
    problems: Problems,
}

async fn projects_page(
    state: &AppState,
    user: &WebUser,
    form: &FormData,
    problems: Problems,
    notice: Option<&'static str>,
) -> Response {
    let projects = match api_admin::list_projects(State(state.clone()), user.caller.clone()).await {
        Ok(Json(list)) => list
            .items
            .into_iter()
            .map(|p| ProjectRow {
                created: when(p.created_at),
                key: p.key,
                name: p.name,
            })
            .collect(),
        Err(e) => return failed(&e),
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        problems.status()
    };
    page(
        status,
        &ProjectsPage {
            layout: user.layout("Projects", "projects"),
            projects,
            notice,
            key: form.get("key").to_owned(),
            name: form.get("name").to_owned(),
            problems,
        },
    )
}

async fn projects(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = notice(&query_of(raw));
    projects_page(
        &state,
        &user,
        &FormData::default(),
        Problems::default(),
        notice,
    )
    .await
}

async fn create_project(
    State(state): State<AppState>,
    user: WebUser,
    WebForm(form): WebForm,
) -> Response {
    let request = CreateProjectRequest {
        key: form.get("key").trim().to_owned(),
        name: form.opt("name"),
    };
    let call =
        api_admin::create_project(State(state.clone()), user.caller.clone(), ApiJson(request));
    match call.await {
        Ok(_) => Redirect::to("/admin/projects?done=created").into_response(),
        Err(e) => {
            let p = Problems::from_api(&e, &["key", "name"]);
            projects_page(&state, &user, &form, p, None).await
        }
    }
}

async fn confirm_delete_project(user: WebUser, Path(key): Path<String>) -> Response {
    confirm(
        &user,
        "projects",
        format!("Delete the project “{key}”?"),
        "Tokens restricted to this project can do nothing in it while it is gone.".into(),
        format!("/admin/projects/{key}/delete"),
        format!("Delete project {key}"),
        "/admin/projects".into(),
    )
}

async fn delete_project(
    State(state): State<AppState>,
    user: WebUser,
    Path(key): Path<String>,
    WebForm(_): WebForm,
) -> Response {
    match api_admin::delete_project(State(state), user.caller, Path(key)).await {
        Ok(_) => Redirect::to("/admin/projects?done=deleted").into_response(),
        Err(e) => failed(&e),
    }
}

// ---------------------------------------------------------------- policy

#[derive(Template)]
#[template(path = "admin_policy.html")]
struct PolicyPage {
    layout: Layout,
    require_expiration: bool,
    max_days: String,
    notice: Option<&'static str>,
    problems: Problems,
}

async fn policy(user: WebUser, RawQuery(raw): RawQuery) -> Response {
    let current = user.caller.org.token_policy;
    page(
        StatusCode::OK,
        &PolicyPage {
            layout: user.layout("Token policy", "policy"),
            require_expiration: current.require_expiration,
            max_days: current
                .max_lifetime_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            notice: notice(&query_of(raw)),
            problems: Problems::default(),
        },
    )
}

async fn update_policy(
    State(state): State<AppState>,
    user: WebUser,
    WebForm(form): WebForm,
) -> Response {
    let show = |problems: Problems| {
        page(
            problems.status(),
            &PolicyPage {
                layout: user.layout("Token policy", "policy"),
                require_expiration: form.get("require_expiration") == "on",
                max_days: form.get("max_lifetime_days").to_owned(),
                notice: None,
                problems,
            },
        )
    };
    let max = match form.opt("max_lifetime_days") {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(days) => Some(days),
            Err(_) => {
                return show(Problems::field(
                    "max_lifetime_days",
                    "Enter a whole number of days, or leave it empty for no cap.",
                ))
            }
        },
    };
    let request = UpdateOrgRequest {
        name: None,
        token_policy: Some(TokenPolicyPatch {
            require_expiration: Some(form.get("require_expiration") == "on"),
            max_lifetime_days: Some(max),
        }),
    };
    let call = api_admin::update_org(State(state.clone()), user.caller.clone(), ApiJson(request));
    match call.await {
        Ok(_) => Redirect::to("/admin/policy?done=saved").into_response(),
        Err(e) => show(Problems::from_api(&e, &["max_lifetime_days"])),
    }
}

// ---------------------------------------------------------------- audit

struct AuditRow {
    at: String,
    actor: String,
    via_token: Option<String>,
    action: String,
    target: String,
    ip: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPageView {
    layout: Layout,
    actors: Vec<Choice>,
    action: String,
    target: String,
    rows: Vec<AuditRow>,
    next: Option<String>,
    problem: Option<String>,
}

/// `GET /admin/audit?actor=&action=&target=&before=`: the API's own query
/// parameters, so its parser checks them.
async fn audit(State(state): State<AppState>, user: WebUser, RawQuery(raw): RawQuery) -> Response {
    let query = query_of(raw);
    let kept: Vec<(&str, String)> = ["actor", "action", "target", "before"]
        .into_iter()
        .filter_map(|k| query.opt(k).map(|v| (k, v)))
        .collect();
    let members = match api_members::list_members(State(state.clone()), user.caller.clone()).await {
        Ok(Json(list)) => list.items,
        Err(e) => return failed(&e),
    };
    let name_of = |id: &str| {
        members
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| id.to_owned(), |m| m.email.clone())
    };
    let params = serde_urlencoded::to_string(&kept)
        .ok()
        .and_then(|q| serde_urlencoded::from_str::<AuditParams>(&q).ok());
    let (rows, next, problem) = match params {
        None => (
            Vec::new(),
            None,
            Some("Those filters cannot be read.".to_owned()),
        ),
        Some(params) => {
            match api_admin::list_audit(State(state.clone()), user.caller.clone(), ApiQuery(params))
                .await
            {
                Ok(Json(page)) => (
                    page.items
                        .into_iter()
                        .map(|e| audit_row(e, &name_of))
                        .collect(),
                    page.next_cursor.map(|c| next_link(&kept, &c)),
                    None,
                ),
                Err(e) => (Vec::new(), None, Some(friendly(&e))),
            }
        }
    };
    let actor = query.get("actor");
    let mut actors = vec![Choice {
        value: String::new(),
        label: "Anyone".into(),
        checked: actor.is_empty(),
    }];
    actors.extend(members.iter().map(|m| Choice {
        checked: m.id == actor,
        value: m.id.clone(),
        label: m.email.clone(),
    }));
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        status,
        &AuditPageView {
            layout: user.layout("Audit log", "audit"),
            actors,
            action: query.get("action").to_owned(),
            target: query.get("target").to_owned(),
            rows,
            next,
            problem,
        },
    )
}

fn audit_row(e: AuditEventResponse, name_of: &impl Fn(&str) -> String) -> AuditRow {
    AuditRow {
        at: when(e.at),
        actor: e
            .actor
            .member
            .as_deref()
            .map_or_else(|| "—".into(), name_of),
        via_token: e.actor.token,
        action: e.action,
        target: e.target,
        ip: e.ip.unwrap_or_else(|| "—".into()),
        details: match &e.details {
            serde_json::Value::Object(m) if m.is_empty() => String::new(),
            other => other.to_string(),
        },
    }
}

/// The same filters, one page older.
fn next_link(kept: &[(&str, String)], cursor: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = kept
        .iter()
        .filter(|(k, _)| *k != "before")
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    pairs.push(("before", cursor));
    format!(
        "/admin/audit?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}
