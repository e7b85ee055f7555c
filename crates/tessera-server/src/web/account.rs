//! The member's own account: who they are, and changing their password
//! (through the same operation as `PUT /api/v1/me/password`, which checks
//! the current password and ends the member's other sessions).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tessera_api::ChangePasswordRequest;

use super::forms::{query_of, Problems, WebForm};
use super::render::{page, Layout};
use super::session::WebUser;
use crate::service::{sessions, ServiceError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    name: String,
    email: String,
    role: String,
    notice: Option<&'static str>,
    problems: Problems,
}

fn account_page(user: &WebUser, notice: Option<&'static str>, problems: Problems) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        problems.status()
    };
    let member = &user.member;
    page(
        status,
        &AccountPage {
            layout: user.layout("Your account", "account"),
            name: member.name.clone(),
            email: member.email.clone(),
            role: member.role.to_string(),
            notice,
            problems,
        },
    )
}

/// `GET /account`.
pub async fn show(user: WebUser, RawQuery(query): RawQuery) -> Response {
    let notice = (query_of(query).get("done") == "password")
        .then_some("Your password was changed. Your other sessions were logged out.");
    account_page(&user, notice, Problems::default())
}

/// `POST /account/password`.
pub async fn change_password(
    State(_state): State<AppState>,
    user: WebUser,
    WebForm(form): WebForm,
) -> Response {
    let new_password = form.get("new_password");
    if new_password != form.get("confirm_password") {
        let p = Problems::field("confirm_password", "The two new passwords differ.");
        return account_page(&user, None, p);
    }
    let request = ChangePasswordRequest {
        current_password: form.get("current_password").to_owned(),
        new_password: new_password.to_owned(),
    };
    match sessions::change_password(&user.call, request).await {
        Ok(_) => Redirect::to("/account?done=password").into_response(),
        Err(ServiceError::NotAllowed(_)) => {
            let p = Problems::field("current_password", "The current password is wrong.");
            account_page(&user, None, p)
        }
        Err(e) => account_page(&user, None, Problems::from_api(e, &["password"])),
    }
}
