//! Service accounts: list, make, look at (with their tokens, metadata
//! only), delete; and make a token of an account, with the form and the
//! show-it-once page of a member's token ([`crate::web::tokens`]'s form
//! parsing, [`crate::web::minted`]'s guard). Each token's own page
//! (`/tokens/{id}`) works as for members' tokens.

use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use tessera_api::{CreateServiceAccountRequest, ServiceAccountResponse};
use tessera_core::BuiltinRole;

use super::{notice, query_of};
use crate::service::{members, service_accounts};
use crate::web::forms::{
    done_or_again, friendly, redirect, shown, FormData, PageResult, Problems, WebForm,
};
use crate::web::minted::mint_once;
use crate::web::render::{page, Layout, TokenView};
use crate::web::scope::{
    self, builtin_role_choices, custom_role_choices, Choice, ExpiryFields, ScopeFields,
};
use crate::web::session::WebUser;
use crate::web::tokens::{create_request, ConfirmPage, TOKEN_FIELDS};

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
    /// The "Make a token" form (shown with the tokens), as sent or empty.
    name: String,
    scope: ScopeFields,
    expiry: ExpiryFields,
    problems: Problems,
}

async fn account_page(
    user: &WebUser,
    id: &str,
    notice: Option<&'static str>,
    sent: Option<(&FormData, Problems)>,
) -> PageResult {
    let account = service_accounts::show(&user.call, id).await?;
    let caller = &user.call.caller;
    let now = user.call.now;
    let manages = service_accounts::may_manage_tokens(caller, &account);
    let (tokens, tokens_error) = if manages {
        match service_accounts::list_tokens(&user.call, id).await {
            Ok(list) => (
                Some(list.items.iter().map(|t| TokenView::new(t, now)).collect()),
                None,
            ),
            Err(e) => (Some(Vec::new()), Some(friendly(&e.into()))),
        }
    } else {
        (None, None)
    };
    let (form, problems) = shown(sent);
    let status = problems.page_status();
    let scope = ScopeFields::build(&user.call, form, &problems)
        .await
        .for_account();
    let expiry = ExpiryFields::build(&user.call, form, &problems, true);
    Ok(page(
        status,
        &AccountPage {
            layout: user.layout(
                format!("Service account {}", account.name),
                "service_accounts",
            ),
            deletable: service_accounts::may_delete(caller, &account),
            account,
            notice,
            tokens,
            tokens_error,
            name: form.get("name").to_owned(),
            scope,
            expiry,
            problems,
        },
    ))
}

pub(super) async fn account(
    user: WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    account_page(&user, &id, notice(&query_of(raw)), None).await
}

/// `POST /admin/service-accounts/{id}/tokens`: a token of the account, its
/// value shown this once, as a member's new token is.
pub(super) async fn create_token(
    user: WebUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    WebForm(form): WebForm,
) -> PageResult {
    // "Check the policy": the page again, the policy read, nothing minted.
    if let Some(checked) = scope::policy_checked(&form, TOKEN_FIELDS) {
        return account_page(&user, &id, None, Some((&form, checked))).await;
    }
    let request = match create_request(&form, user.call.now) {
        Ok(r) => r,
        Err(problems) => return account_page(&user, &id, None, Some((&form, problems))).await,
    };
    let mint = service_accounts::create_token(&user.call, &id, request);
    match mint_once(&user, &headers, &form, "created", mint).await {
        Ok(page) => Ok(page),
        Err(e) => {
            let problems = Problems::from_api(e, TOKEN_FIELDS);
            account_page(&user, &id, None, Some((&form, problems))).await
        }
    }
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
