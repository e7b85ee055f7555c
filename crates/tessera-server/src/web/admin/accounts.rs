//! Service accounts: list, make, look at (with their tokens, metadata
//! only), delete. Their tokens are made with the API, the CLI or MCP; each
//! token's own page (`/tokens/{id}`) works as for members' tokens.

use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use tessera_api::{CreateServiceAccountRequest, ServiceAccountResponse};
use tessera_core::BuiltinRole;

use super::{notice, query_of};
use crate::service::{members, service_accounts};
use crate::web::forms::{
    done_or_again, friendly, redirect, shown, FormData, PageResult, Problems, WebForm,
};
use crate::web::render::{page, Layout, TokenView};
use crate::web::scope::{builtin_role_choices, custom_role_choices, Choice};
use crate::web::session::WebUser;
use crate::web::tokens::ConfirmPage;

#[derive(Template)]
#[template(path = "admin_service_accounts.html")]
struct AccountsPage {
    layout: Layout,
    accounts: Vec<ServiceAccountResponse>,
    notice: Option<&'static str>,
    /// The "Make a service account" form, only for who may make one.
    can_add: bool,
    name: String,
    description: String,
    roles: Vec<Choice>,
    custom_roles: Vec<Choice>,
    problems: Problems,
}

async fn accounts_page(
    user: &WebUser,
    sent: Option<(&FormData, Problems)>,
    notice: Option<&'static str>,
) -> PageResult {
    let (form, problems) = shown(sent);
    let caller = &user.call.caller;
    let accounts = service_accounts::list(&user.call).await?.items;
    let role = match form.get("role") {
        "" => "reader",
        r => r,
    };
    Ok(page(
        problems.page_status(),
        &AccountsPage {
            layout: user.layout("Service accounts", "service_accounts"),
            accounts,
            notice,
            can_add: service_accounts::may_create(caller),
            name: form.get("name").to_owned(),
            description: form.get("description").to_owned(),
            roles: builtin_role_choices(members::grantable_roles(caller), role),
            custom_roles: custom_role_choices(&user.call, &form.all("custom_roles")).await,
            problems,
        },
    ))
}

pub(super) async fn accounts(user: WebUser, RawQuery(raw): RawQuery) -> PageResult {
    accounts_page(&user, None, notice(&query_of(raw))).await
}

/// `POST /admin/service-accounts`.
pub(super) async fn create_account(user: WebUser, WebForm(form): WebForm) -> PageResult {
    let Ok(role) = form.get("role").parse::<BuiltinRole>() else {
        let p = Problems::field("role", "Choose a role.");
        return accounts_page(&user, Some((&form, p)), None).await;
    };
    let custom_roles = form.all("custom_roles");
    let request = CreateServiceAccountRequest {
        name: form.get("name").to_owned(),
        description: form.opt("description"),
        role,
        custom_roles: (!custom_roles.is_empty()).then_some(custom_roles),
    };
    let created = service_accounts::create(&user.call, request).await;
    done_or_again(
        created,
        "/admin/service-accounts?done=created",
        &["name", "description", "role", "custom_roles"],
        |p| accounts_page(&user, Some((&form, p)), None),
    )
    .await
}

#[derive(Template)]
#[template(path = "admin_service_account.html")]
struct AccountPage {
    layout: Layout,
    account: ServiceAccountResponse,
    notice: Option<&'static str>,
    /// Its tokens, for who may manage them (else the section is not shown).
    tokens: Option<Vec<TokenView>>,
    tokens_error: Option<String>,
    deletable: bool,
}

pub(super) async fn account(
    user: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let account = service_accounts::show(&user.call, &id).await?;
    let caller = &user.call.caller;
    let now = user.call.now;
    let (tokens, tokens_error) = if service_accounts::may_manage_tokens(caller, &account) {
        match service_accounts::list_tokens(&user.call, &id).await {
            Ok(list) => (
                Some(list.items.iter().map(|t| TokenView::new(t, now)).collect()),
                None,
            ),
            Err(e) => (Some(Vec::new()), Some(friendly(&e.into()))),
        }
    } else {
        (None, None)
    };
    Ok(page(
        StatusCode::OK,
        &AccountPage {
            layout: user.layout(
                format!("Service account {}", account.name),
                "service_accounts",
            ),
            deletable: service_accounts::may_delete(caller, &account),
            account,
            notice: notice(&query_of(raw)),
            tokens,
            tokens_error,
        },
    ))
}

pub(super) async fn confirm_delete(user: WebUser, Path(id): Path<String>) -> PageResult {
    let account = service_accounts::show(&user.call, &id).await?;
    Ok(page(
        StatusCode::OK,
        &ConfirmPage {
            layout: user.layout("Delete service account", "service_accounts"),
            heading: format!("Delete the service account {}?", account.name),
            message: "This cannot be undone.".into(),
            warning: "Every token of this account stops working at once: pipelines and \
                      services using them will get 401."
                .into(),
            action: format!("/admin/service-accounts/{id}/delete"),
            button: format!("Delete {}", account.name),
            cancel: format!("/admin/service-accounts/{id}"),
            back: String::new(),
        },
    ))
}

pub(super) async fn delete_account(
    user: WebUser,
    Path(id): Path<String>,
    WebForm(_): WebForm,
) -> PageResult {
    service_accounts::delete(&user.call, &id).await?;
    redirect("/admin/service-accounts?done=deleted")
}
