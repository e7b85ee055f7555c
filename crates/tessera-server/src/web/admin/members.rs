//! Members: add, change roles, see their tokens (metadata only), remove.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use tessera_api::{CreateMemberRequest, MemberResponse, UpdateMemberRequest};
use tessera_core::BuiltinRole;

use super::{notice, query_of};
use crate::service::members;
use crate::state::AppState;
use crate::web::forms::{
    done_or_again, friendly, redirect, shown, FormData, PageResult, Problems, WebForm,
};
use crate::web::render::{page, Layout, TokenView};
use crate::web::scope::{builtin_role_choices, custom_role_choices, Choice};
use crate::web::session::WebUser;
use crate::web::tokens::ConfirmPage;

/// A member in the list, and whether this viewer may remove them (a
/// reader, or an admin looking at an owner, may not: no link that can
/// only be refused).
struct MemberRow {
    member: MemberResponse,
    removable: bool,
}

#[derive(Template)]
#[template(path = "admin_members.html")]
struct MembersPage {
    layout: Layout,
    members: Vec<MemberRow>,
    notice: Option<&'static str>,
    added: Option<(String, Option<String>)>,
    /// The "Add a member" form, only for who may add one.
    can_add: bool,
    email: String,
    name: String,
    roles: Vec<Choice>,
    custom_roles: Vec<Choice>,
    problems: Problems,
}

pub(super) async fn members_page(
    user: &WebUser,
    sent: Option<(&FormData, Problems)>,
    added: Option<(String, Option<String>)>,
    notice: Option<&'static str>,
) -> PageResult {
    let (form, problems) = shown(sent);
    let list = members::list(&user.call)
        .await?
        .items
        .into_iter()
        .map(|member| MemberRow {
            removable: members::may_remove(&user.call.caller, &member),
            member,
        })
        .collect();
    let status = problems.page_status();
    let role = match form.get("role") {
        "" => "reader",
        r => r,
    };
    Ok(page(
        status,
        &MembersPage {
            layout: user.layout("Members", "members"),
            members: list,
            notice,
            added,
            can_add: members::may_add(&user.call.caller),
            email: form.get("email").to_owned(),
            name: form.get("name").to_owned(),
            roles: builtin_role_choices(members::grantable_roles(&user.call.caller), role),
            custom_roles: custom_role_choices(&user.call, &form.all("custom_roles")).await,
            problems,
        },
    ))
}

pub(super) async fn members(user: WebUser, RawQuery(raw): RawQuery) -> PageResult {
    members_page(&user, None, None, notice(&query_of(raw))).await
}

const MEMBER_FIELDS: &[&str] = &["email", "name", "role", "custom_roles", "password"];

/// `POST /admin/members`: shows a generated password once, on this page.
pub(super) async fn add_member(user: WebUser, WebForm(form): WebForm) -> PageResult {
    let Ok(role) = form.get("role").parse::<BuiltinRole>() else {
        let p = Problems::field("role", "Choose a role.");
        return members_page(&user, Some((&form, p)), None, None).await;
    };
    let custom_roles = form.all("custom_roles");
    let request = CreateMemberRequest {
        email: form.get("email").to_owned(),
        name: form.opt("name"),
        role,
        custom_roles: (!custom_roles.is_empty()).then_some(custom_roles),
        password: form.opt("password"),
    };
    match members::create(&user.call, request).await {
        Ok(created) => {
            let added = Some((created.member.email, created.initial_password));
            members_page(&user, None, added, None).await
        }
        Err(e) => {
            let p = Problems::from_api(e, MEMBER_FIELDS);
            members_page(&user, Some((&form, p)), None, None).await
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
    /// Their tokens, for who may list them (else the section is not shown).
    tokens: Option<Vec<TokenView>>,
    tokens_error: Option<String>,
    /// The roles form, for who may change this member's roles; else their
    /// roles are shown as text.
    editable: bool,
    removable: bool,
    /// Why this admin cannot change or remove the member (an admin
    /// looking at an owner), instead of a form that would show the wrong
    /// role and be refused.
    locked: Option<String>,
    problems: Problems,
}

pub(super) async fn member_page(
    user: &WebUser,
    id: &str,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> PageResult {
    let member = members::show(&user.call, id).await?;
    let (role, picked, problems) = match sent {
        Some((form, p)) => (form.get("role").to_owned(), form.all("custom_roles"), p),
        None => (
            member.role.to_string(),
            member.custom_roles.clone(),
            Problems::default(),
        ),
    };
    let caller = &user.call.caller;
    let editable = members::may_update(caller, &member);
    let locked = members::rank_lock(caller, &member).map(|e| friendly(&e.into()));
    let now = user.call.now;
    let (tokens, tokens_error) = if members::may_list_tokens(caller, &member) {
        match members::list_tokens(&user.call, id).await {
            Ok(list) => (
                Some(list.items.iter().map(|t| TokenView::new(t, now)).collect()),
                None,
            ),
            Err(e) => (Some(Vec::new()), Some(friendly(&e.into()))),
        }
    } else {
        (None, None)
    };
    let (roles, custom_roles) = if editable {
        let grantable = members::grantable_roles(caller);
        (
            builtin_role_choices(grantable, &role),
            custom_role_choices(&user.call, &picked).await,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let status = problems.page_status();
    Ok(page(
        status,
        &MemberPage {
            layout: user.layout(format!("Member {}", member.email), "members"),
            roles,
            custom_roles,
            removable: members::may_remove(caller, &member),
            member,
            notice,
            tokens,
            tokens_error,
            editable,
            locked,
            problems,
        },
    ))
}

pub(super) async fn member(
    user: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    member_page(&user, &id, None, notice(&query_of(raw))).await
}

/// `POST /admin/members/{id}`: change the built-in and custom roles.
pub(super) async fn update_member(
    user: WebUser,
    Path(id): Path<String>,
    WebForm(form): WebForm,
) -> PageResult {
    let Ok(role) = form.get("role").parse::<BuiltinRole>() else {
        let p = Problems::field("role", "Choose a role.");
        return member_page(&user, &id, Some((&form, p)), None).await;
    };
    let request = UpdateMemberRequest {
        role: Some(role),
        custom_roles: Some(form.all("custom_roles")),
    };
    let saved = members::update(&user.call, &id, request).await;
    let done = format!("/admin/members/{id}?done=saved");
    done_or_again(saved, &done, &["role", "custom_roles"], |p| {
        member_page(&user, &id, Some((&form, p)), None)
    })
    .await
}

pub(super) async fn confirm_remove(
    State(_state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> PageResult {
    let member = members::show(&user.call, &id).await?;
    members::check_removable(&user.call.caller, &member)?;
    Ok(page(
        StatusCode::OK,
        &ConfirmPage {
            layout: user.layout("Remove member", "members"),
            heading: format!("Remove {} ({})?", member.name, member.email),
            message: format!(
                "{} will no longer be able to log in to {}.",
                member.email, user.call.caller.org.name
            ),
            warning: "Every token they created stops working at once: services and scripts using \
                      them will get 401. This cannot be undone."
                .into(),
            action: format!("/admin/members/{id}/remove"),
            button: format!("Remove {}", member.email),
            cancel: format!("/admin/members/{id}"),
            back: String::new(),
        },
    ))
}

pub(super) async fn remove_member(
    State(_state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    WebForm(_): WebForm,
) -> PageResult {
    members::delete(&user.call, &id).await?;
    redirect("/admin/members?done=removed")
}
