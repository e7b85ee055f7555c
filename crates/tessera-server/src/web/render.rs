//! Turning templates into responses, the layout every page shares, and the
//! small view models (times, scopes) the templates print.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_api::TokenResponse;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::auth::Caller;
use crate::service::{audit, members, org, projects, roles, service_accounts};

/// What the header and navigation need: who is logged in, and the CSRF
/// token for the log-out button.
pub struct Layout {
    pub title: String,
    pub section: &'static str,
    pub user: Option<NavUser>,
    /// The host product's name and logo (see [`super::brand`]).
    pub brand: std::sync::Arc<super::brand::Look>,
}

pub struct NavUser {
    pub name: String,
    pub email: String,
    pub role: String,
    pub org: String,
    pub admin: AdminNav,
    pub csrf: String,
}

/// Which admin pages to link: those whose main action the member's
/// permissions allow, from a built-in role or from custom roles alike.
/// (Only links: each page's actions are checked by the service.)
pub struct AdminNav {
    pub members: bool,
    pub service_accounts: bool,
    pub roles: bool,
    pub projects: bool,
    pub policy: bool,
    pub audit: bool,
    /// The org-wide token inventory.
    pub tokens: bool,
    pub webhooks: bool,
}

impl AdminNav {
    fn of(caller: &Caller) -> Self {
        let any = |action: &str, resource: &str| caller.allows(action, resource);
        Self {
            members: any("member:update", "member/*") || members::may_add(caller),
            service_accounts: any("service_account:manage_tokens", "service_account/*")
                || service_accounts::may_create(caller),
            roles: any("role:update", "role/*") || roles::may_create(caller),
            projects: projects::may_create(caller) || any("project:delete", "proj/*"),
            policy: org::may_update(caller),
            audit: audit::may_read(caller),
            tokens: crate::service::inventory::may_list_all(caller),
            webhooks: any("webhook:read", "webhook/*"),
        }
    }
}

impl Layout {
    pub fn new(
        title: impl Into<String>,
        section: &'static str,
        caller: &Caller,
        csrf: &str,
    ) -> Self {
        Self {
            title: title.into(),
            section,
            user: Some(NavUser {
                name: caller.member().map_or_else(
                    || {
                        caller
                            .service_account()
                            .map(|a| a.name.clone())
                            .unwrap_or_default()
                    },
                    |m| m.name.clone(),
                ),
                email: caller.member().map(|m| m.email.clone()).unwrap_or_default(),
                role: caller.role().to_string(),
                org: caller.org.name.clone(),
                admin: AdminNav::of(caller),
                csrf: csrf.to_owned(),
            }),
            brand: super::brand::current(),
        }
    }

    pub fn anonymous(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            section: "",
            user: None,
            brand: super::brand::current(),
        }
    }

    /// The session's CSRF token, for the page's forms.
    pub fn csrf(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.csrf.as_str())
    }

    /// A fresh id for a form that mints a token value, so that sending it
    /// twice acts once (see [`super::once`]).
    pub fn form_id(&self) -> String {
        tessera_core::ids::new_ksuid(crate::clock::wall_clock())
    }

    /// Is `section` the current one (for `aria-current`)?
    pub fn is(&self, section: &str) -> bool {
        self.section == section
    }
}

/// Renders a page. Every page is `no-store`: pages hold account data, and
/// the one that shows a new token must never come back from a cache.
pub fn page<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    message: &'a str,
}

/// A page for a logged-in member that says what went wrong, with a way
/// back.
pub fn member_error_page(layout: Layout, status: StatusCode, message: &str) -> Response {
    page(status, &ErrorPage { layout, message })
}

/// A page that says what went wrong, with a way back.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    page(
        status,
        &ErrorPage {
            layout: Layout::anonymous(title),
            message,
        },
    )
}

/// An RFC 3339 instant as people read it, in UTC.
pub fn when(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

pub fn when_opt(t: Option<OffsetDateTime>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), when)
}

/// One token as the tables and detail page print it.
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub snippet: String,
    pub scope: String,
    pub projects: String,
    pub created: String,
    pub expires: String,
    pub expired: bool,
    pub last_used: String,
    pub last_ip: String,
    pub rotated: String,
    /// When it was disabled; `None` while enabled.
    pub disabled: Option<String>,
}

impl TokenView {
    pub fn new(t: &TokenResponse, now: OffsetDateTime) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            snippet: t.snippet.clone(),
            scope: scope_text(t),
            projects: if t.projects.is_empty() {
                "All projects".into()
            } else {
                t.projects.join(", ")
            },
            created: when(t.created_at),
            expires: when_opt(t.expires_at, "Never"),
            expired: t.expires_at.is_some_and(|e| e <= now),
            last_used: when_opt(t.last_used_at, "Never used"),
            last_ip: t.last_used_ip.clone().unwrap_or_else(|| "—".into()),
            rotated: when_opt(t.rotated_at, "Never"),
            disabled: t.disabled_at.map(when),
        }
    }
}

fn scope_text(t: &TokenResponse) -> String {
    if let Some(role) = t.role {
        return format!("Role: {role}");
    }
    if let Some(roles) = &t.custom_roles {
        return format!("Custom roles: {}", roles.join(", "));
    }
    if let Some(policy) = &t.policy {
        let n = policy.0.len();
        return format!(
            "Inline policy ({n} statement{})",
            if n == 1 { "" } else { "s" }
        );
    }
    "Your permissions".into()
}
