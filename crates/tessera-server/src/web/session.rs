//! Logging in and out of the web page, and [`WebUser`]: the extractor that
//! makes a page require a login.
//!
//! The login form calls the same operation as `POST /api/v1/session`
//! ([`crate::service::sessions::login`]) and sets the same session cookie. Before a session exists, the form's CSRF token is a value signed by
//! the server and also set as a short-lived cookie ([`super::login_csrf`]),
//! so another site cannot log a visitor into an account of its choosing.

use askama::Template;
use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tessera_api::LoginRequest;
use tessera_core::model::Member;

use super::forms::{failed, read_form, FormData, Problems, WebForm, CSRF_FIELD};
use super::login_csrf;
use super::render::{page, Layout};
use crate::auth::{cookie, from_session, session_cookie, SESSION_COOKIE};
use crate::error::ApiError;
use crate::headers::{is_https, Https};
use crate::peer::client_ip;
use crate::secrets;
use crate::service::{sessions, Call, ServiceError};
use crate::state::AppState;

const LOGIN_CSRF_COOKIE: &str = "tessera_login_csrf";

/// The login page's button, when single sign-on is on.
pub struct SsoButton {
    pub name: String,
    pub href: String,
}

/// The button for the login page (`None`: single sign-on is off).
pub fn button(state: &AppState, next: &str) -> Option<SsoButton> {
    let provider = state.sso.as_ref()?;
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    Some(SsoButton {
        name: provider.name.clone(),
        href: format!("/sso/start?{query}"),
    })
}

/// A member logged in through the web page, and their session's CSRF
/// token for the forms on the page.
pub struct WebUser {
    pub call: Call,
    /// The member signed in (a session is always a member's).
    pub member: Member,
    pub csrf: String,
}

impl WebUser {
    pub fn layout(&self, title: impl Into<String>, section: &'static str) -> Layout {
        Layout::new(title, section, &self.call.caller, &self.csrf)
    }

    pub fn member_id(&self) -> &str {
        self.member.id.as_str()
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ip = client_ip(parts, state);
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login(parts));
        };
        match from_session(state, &secret, ip).await {
            Ok(caller) => Ok(Self {
                member: caller.member().cloned().ok_or_else(|| to_login(parts))?,
                call: Call::new(state, caller),
                csrf: secrets::csrf_token(&secret),
            }),
            Err(e @ ApiError::Service(ServiceError::Internal(_) | ServiceError::Unavailable)) => {
                Err(failed(e))
            }
            Err(_) => Err(to_login(parts)),
        }
    }
}

/// To the login page, coming back here afterwards (GET pages only: a form
/// posted with an expired session cannot be replayed).
fn to_login(parts: &Parts) -> Response {
    let next = if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map_or("/tokens", |pq| pq.as_str())
    } else {
        "/tokens"
    };
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    Redirect::to(&format!("/login?{query}")).into_response()
}

/// Only local paths: `next` must not send people to another host, nor
/// break the `Location` header. Browsers drop tabs and newlines from URLs
/// (`/\t/evil.example` is `//evil.example`) and read `\` as `/`, so any
/// whitespace, control character, backslash or non-ASCII byte refuses it;
/// what is left must start with exactly one `/` and parse as a path.
pub(super) fn safe_next(next: &str) -> &str {
    if is_local_path(next) && !next.starts_with("/login") {
        next
    } else {
        "/tokens"
    }
}

/// Is `path` a path on this site, safe to redirect to (see [`safe_next`]
/// for why each rule)? Login links' `return_to` is checked by this too.
pub fn is_local_path(path: &str) -> bool {
    let clean = !path
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'\\' || !b.is_ascii());
    clean
        && path.starts_with('/')
        && !path.starts_with("//")
        && path.parse::<axum::http::uri::PathAndQuery>().is_ok()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    email: String,
    org: String,
    show_org: bool,
    next: String,
    notice: Option<&'static str>,
    problems: Problems,
    /// "Sign in with …", when single sign-on is on.
    sso: Option<SsoButton>,
}

async fn login_form(state: &AppState, status: StatusCode, mut form: LoginPage) -> Response {
    form.sso = button(state, &form.next);
    form.csrf = match login_csrf::issue(state).await {
        Ok(value) => value,
        Err(err) => return failed(err),
    };
    let mut response = page(status, &form);
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={}; Path=/login; HttpOnly; SameSite=Strict; Max-Age={}",
        form.csrf,
        login_csrf::LIFETIME_SECONDS
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /login`.
pub async fn login_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = FormData::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let next = safe_next(query.get("next")).to_owned();
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        if from_session(&state, &secret, None).await.is_ok() {
            return Redirect::to(&next).into_response();
        }
    }
    let notice = (query.get("bye") == "1").then_some("You are logged out.");
    login_form(
        &state,
        StatusCode::OK,
        LoginPage {
            layout: Layout::anonymous("Log in"),
            csrf: String::new(),
            email: String::new(),
            org: String::new(),
            show_org: false,
            next,
            notice,
            problems: Problems::default(),
            sso: None,
        },
    )
    .await
}

/// `POST /login`: the API's credential check, then its cookie.
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let ip = client_ip(&parts, &state);
    let https = Https(is_https(&parts, &state));
    let expected = cookie(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let form = match read_form(Request::from_parts(parts, body), &state).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let mut view = LoginPage {
        layout: Layout::anonymous("Log in"),
        csrf: String::new(),
        email: form.get("email").trim().to_owned(),
        org: form.get("org").trim().to_owned(),
        show_org: form.opt("org").is_some(),
        next: safe_next(form.get("next")).to_owned(),
        notice: None,
        problems: Problems::default(),
        sso: None,
    };
    let genuine = match login_csrf::check(&state, &expected, form.get(CSRF_FIELD)).await {
        Ok(genuine) => genuine,
        Err(err) => return failed(err),
    };
    if !genuine {
        view.problems.general =
            Some("The login form expired. It has been reloaded: please log in again.".into());
        return login_form(&state, StatusCode::FORBIDDEN, view).await;
    }
    let body = LoginRequest {
        email: view.email.clone(),
        password: form.get("password").to_owned(),
        org: form.opt("org"),
    };
    match sessions::login(&state, ip.as_deref(), body, state.now()).await {
        Ok(started) => {
            let mut response = Redirect::to(&view.next).into_response();
            let cookie = session_cookie(https, &started.secret, started.max_age_seconds);
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static("tessera_login_csrf=; Path=/login; Max-Age=0"),
            );
            response
        }
        Err(err) => {
            if matches!(&err, ServiceError::BadRequest(m) if m == sessions::SEVERAL_ORGS) {
                view.show_org = true;
                view.problems = Problems::field(
                    "org",
                    "This email belongs to several organizations: enter the organization's key.",
                );
            } else if matches!(err, ServiceError::SsoRequired) {
                view.problems.status = Some(StatusCode::FORBIDDEN);
                view.problems.general = Some(
                    "This organization signs in with single sign-on: passwords are turned off for it."
                        .into(),
                );
            } else {
                view.problems = Problems::from_api(err, &["email", "org"]);
            }
            let status = view.problems.status();
            login_form(&state, status, view).await
        }
    }
}

/// `POST /logout`: ends the session, as the API's logout does.
pub async fn logout(
    State(_state): State<AppState>,
    user: WebUser,
    https: Https,
    WebForm(_): WebForm,
) -> Response {
    match sessions::logout(&user.call).await {
        Ok(()) => {
            let mut response = Redirect::to("/login?bye=1").into_response();
            let cookie = session_cookie(https, "", 0);
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(err) => failed(err),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/admin/members"), "/admin/members");
        assert_eq!(safe_next("//evil.example"), "/tokens");
        assert_eq!(safe_next("https://evil.example"), "/tokens");
        assert_eq!(safe_next("/\\evil"), "/tokens");
        assert_eq!(safe_next("/login?next=/x"), "/tokens");
        assert_eq!(safe_next(""), "/tokens");
        for hostile in [
            "/\t/evil.example/x",
            "/\n/evil.example",
            "/x\r\nSet-Cookie: a=b",
            "/\0",
            "/\x7f",
            "/ /evil.example",
            "/\u{3000}/evil.example",
            "/é",
        ] {
            assert_eq!(safe_next(hostile), "/tokens", "{hostile:?}");
        }
        assert_eq!(safe_next("/%09/x?a=b"), "/%09/x?a=b");
    }
}
