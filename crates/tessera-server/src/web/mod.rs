//! The web page: server-rendered HTML for members (their tokens) and admins
//! (members, roles, projects, the token policy, the audit log), served at
//! `/` beside the API.
//!
//! Invariants every page keeps:
//! - Pages authenticate with the login-session cookie only
//!   ([`session::WebUser`]); without one they redirect to `/login`.
//! - Every form that changes something carries the session's CSRF token in
//!   a hidden field, checked before the form is read ([`forms::WebForm`]).
//! - Every action calls the same operation in [`crate::service`] as
//!   `/api/v1` (so the same permission checks and domain rules apply); a
//!   rejected request saves nothing and its message is shown next to the
//!   field it is about. No page calls an API handler.
//! - A token value appears only in the response to the POST that created,
//!   cloned or rotated it, never in a URL, a redirect or storage; every page
//!   is sent with `Cache-Control: no-store`, so neither reload nor the back
//!   button brings it back.
//! - A form that mints a value (create, clone, rotate) is acted on once:
//!   reloading the page that shows the value changes nothing more
//!   ([`crate::sent_forms`]).
//! - No inline scripts or styles and no external requests: CSS and JS are
//!   files under `/static/`, compiled into the binary.

mod account;
mod admin;
mod assets;
pub mod brand;
mod forms;
pub(crate) mod login_csrf;
mod minted;
mod policy_help;
mod render;
mod scope;
mod session;
mod sso;
mod token_access;
mod token_controls;
mod tokens;

// For the login-link page (`crate::platform`): the same layout and the
// same rule for where a redirect may go.
pub use render::{page, Layout};
pub use session::is_local_path;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// Every page route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/tokens") }))
        .route("/static/app.css", get(assets::css))
        .route("/static/app.js", get(assets::js))
        .route("/favicon.ico", get(assets::favicon))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/sso/start", get(sso::start))
        .route("/sso/callback", get(sso::callback))
        .route("/sso/pick", post(sso::pick))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/new", get(tokens::new_form))
        .route("/tokens/{id}", get(tokens::show).post(tokens::update))
        .route("/tokens/{id}/rotate", post(tokens::rotate))
        .route("/tokens/{id}/expiry", post(tokens::set_expiry))
        .route("/tokens/{id}/clone", post(tokens::clone))
        .route("/tokens/{id}/access", post(tokens::set_access))
        .route("/tokens/{id}/disable", post(token_controls::disable))
        .route("/tokens/{id}/enable", post(token_controls::enable))
        .route(
            "/tokens/{id}/delete",
            get(tokens::confirm_delete).post(tokens::delete),
        )
        .merge(admin::router())
}

/// Is an unknown address a page a person asked for? Not under `/api/`
/// (clients there always get the API's JSON error, whatever they accept)
/// and asked for by something that takes HTML, as browsers say they do.
/// Scripts and health checkers, which rarely send `Accept: text/html`,
/// keep getting the JSON they can parse.
pub fn wants_page(path: &str, headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    accepts_html && path != "/api" && !path.starts_with("/api/")
}

/// The page for an address that leads nowhere.
pub fn not_found_page() -> Response {
    render::error_page(
        StatusCode::NOT_FOUND,
        "There is no page at this address. It may have been mistyped, or what it showed was deleted.",
    )
}
