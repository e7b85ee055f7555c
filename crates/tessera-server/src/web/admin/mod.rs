//! The admin pages: members and service accounts (and their tokens,
//! metadata only), custom roles, projects, the org's token policy, webhooks
//! (endpoints, their deliveries, pings and retries) and the audit log.
//!
//! Like the token pages, each one calls the same operation in
//! [`crate::service`] as the `/api/v1` handler for what it shows or
//! changes; a member without the permission gets the API's 403 as a
//! message, never a second set of rules.

mod accounts;
mod catalog;
mod inventory;
mod members;
mod org;
mod sso;
mod webhooks;

use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub(super) use super::forms::query_of;
use super::forms::FormData;
use super::render::page;
use super::session::WebUser;
use super::tokens::ConfirmPage;
use crate::state::AppState;

/// `path` with the same filters (`kept`, as the page read them), one page
/// older: the list pages' "next" link.
fn next_page_link(path: &str, kept: &[(&str, String)], cursor: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = kept
        .iter()
        .filter(|(k, _)| *k != "before")
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    pairs.push(("before", cursor));
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/members") }))
        .route(
            "/admin/members",
            get(members::members).post(members::add_member),
        )
        .route(
            "/admin/members/{id}",
            get(members::member).post(members::update_member),
        )
        .route(
            "/admin/members/{id}/remove",
            get(members::confirm_remove).post(members::remove_member),
        )
        .route(
            "/admin/service-accounts",
            get(accounts::accounts).post(accounts::create_account),
        )
        .route("/admin/service-accounts/{id}", get(accounts::account))
        .route(
            "/admin/service-accounts/{id}/tokens",
            post(accounts::create_token),
        )
        .route(
            "/admin/service-accounts/{id}/delete",
            get(accounts::confirm_delete).post(accounts::delete_account),
        )
        .route(
            "/admin/roles",
            get(catalog::roles).post(catalog::create_role),
        )
        .route(
            "/admin/roles/{key}",
            get(catalog::role).post(catalog::update_role),
        )
        .route(
            "/admin/roles/{key}/delete",
            get(catalog::confirm_delete_role).post(catalog::delete_role),
        )
        .route(
            "/admin/projects",
            get(catalog::projects).post(catalog::create_project),
        )
        .route(
            "/admin/projects/{key}/delete",
            get(catalog::confirm_delete_project).post(catalog::delete_project),
        )
        .route("/admin/policy", get(org::policy).post(org::update_policy))
        .route("/admin/sso", get(sso::show).post(sso::update))
        .route("/admin/audit", get(org::audit))
        .route("/admin/tokens", get(inventory::tokens))
        .route(
            "/admin/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/admin/webhooks/{id}",
            get(webhooks::show).post(webhooks::update),
        )
        .route("/admin/webhooks/{id}/ping", post(webhooks::ping))
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery}/retry",
            post(webhooks::retry),
        )
        .route(
            "/admin/webhooks/{id}/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
}

/// Messages a redirect may ask for by name.
pub(super) fn notice(query: &FormData) -> Option<&'static str> {
    match query.get("done") {
        "removed" => Some("The member was removed. Their tokens and sessions stopped working."),
        "saved" => Some("Your changes were saved."),
        "deleted" => Some("Deleted."),
        "created" => Some("Created."),
        _ => None,
    }
}

/// A confirmation page for deleting something by name.
pub(super) fn confirm(
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
