//! `/admin/sso`: the org's single sign-on settings, as `GET /api/v1/org`
//! shows them and `PATCH /api/v1/org` `{"sso": …}` changes them (the same
//! operations, the same checks).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tessera_api::{OrgSsoPatch, OrgSsoSettings, UpdateOrgRequest};
use tessera_core::BuiltinRole;

use super::{notice, query_of};
use crate::service::{org, org_sso};
use crate::state::AppState;
use crate::web::forms::{PageResult, Problems, WebForm};
use crate::web::render::{page, Layout};
use crate::web::session::WebUser;

/// The roles people may join as (never owner).
const ROLES: [&str; 3] = ["reader", "writer", "admin"];

#[derive(Template)]
#[template(path = "admin_sso.html")]
struct SsoPage {
    layout: Layout,
    provider: Option<String>,
    editable: bool,
    domains: String,
    default_role: String,
    /// Each role people may join as, and whether it is the current one.
    roles: Vec<(&'static str, bool)>,
    password_login: bool,
    notice: Option<&'static str>,
    problems: Problems,
}

fn view(
    user: &WebUser,
    state: &AppState,
    editable: bool,
    settings: &OrgSsoSettings,
    problems: Problems,
    notice: Option<&'static str>,
) -> SsoPage {
    SsoPage {
        layout: user.layout("Single sign-on", "sso"),
        provider: state.sso.as_ref().map(|p| p.name.clone()),
        editable,
        domains: settings.allowed_domains.join(", "),
        default_role: settings.default_role.to_string(),
        roles: ROLES
            .iter()
            .map(|r| (*r, *r == settings.default_role.as_str()))
            .collect(),
        password_login: settings.password_login,
        notice,
        problems,
    }
}

/// `GET /admin/sso`.
pub(super) async fn show(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let current = org::show_org(&user.call).await?;
    let settings = current
        .sso
        .unwrap_or_else(|| org_sso::settings_response(&Default::default()));
    let editable = org::may_update(&user.call.caller);
    let view = view(
        &user,
        &state,
        editable,
        &settings,
        Problems::default(),
        notice(&query_of(raw)),
    );
    Ok(page(StatusCode::OK, &view))
}

/// `POST /admin/sso`.
pub(super) async fn update(
    State(state): State<AppState>,
    user: WebUser,
    WebForm(form): WebForm,
) -> Response {
    let domains: Vec<String> = form
        .get("allowed_domains")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    let role = BuiltinRole::ALL
        .into_iter()
        .find(|r| r.as_str() == form.get("default_role"))
        .unwrap_or(BuiltinRole::Reader);
    let wanted = OrgSsoSettings {
        allowed_domains: domains.clone(),
        default_role: role,
        password_login: form.get("password_login") == "on",
    };
    let request = UpdateOrgRequest {
        sso: Some(OrgSsoPatch {
            allowed_domains: Some(domains),
            default_role: Some(role),
            password_login: Some(wanted.password_login),
        }),
        ..UpdateOrgRequest::default()
    };
    match org::update(&user.call, request).await {
        Ok(_) => Redirect::to("/admin/sso?done=saved").into_response(),
        Err(e) => {
            let problems = Problems::from_api(e, &["allowed_domains", "default_role"]);
            page(
                problems.status(),
                &view(&user, &state, true, &wanted, problems, None),
            )
        }
    }
}
