//! The page that shows a new token value once, and the guard that makes a
//! value-minting form (create, clone, rotate; a member's token or a
//! service account's) act once: a repeat of the same form is answered with
//! what the first send did, and the value is never shown again
//! ([`crate::sent_forms`]).

use askama::Template;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use tessera_api::CreatedTokenResponse;

use super::forms::FormData;
use super::render::{member_error_page, page, Layout, TokenView};
use super::session::WebUser;
use crate::sent_forms::{Claim, FirstSent, FORM_ID_FIELD};
use crate::service::ServiceError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "token_created.html")]
struct CreatedPage {
    layout: Layout,
    verb: &'static str,
    token: TokenView,
    value: String,
    origin: String,
    /// Where "back" leads: my tokens, or the service account's page.
    back: String,
    back_label: &'static str,
}

/// The one page that holds a token value: the answer to the POST itself
/// (never a redirect), `no-store` like every page.
pub(super) fn created_page(
    user: &WebUser,
    headers: &HeaderMap,
    verb: &'static str,
    created: CreatedTokenResponse,
) -> Response {
    let title = match verb {
        "rotated" => "Token rotated",
        "cloned" => "Token cloned",
        _ => "Token created",
    };
    let page_status = if verb == "rotated" {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    // A service account's token leads back to the account's page.
    let (back, back_label, section) = match &created.metadata.service_account_id {
        Some(account) => (
            format!("/admin/service-accounts/{account}"),
            "the service account",
            "service_accounts",
        ),
        None => ("/tokens".to_owned(), "my tokens", "tokens"),
    };
    let mut response = page(
        page_status,
        &CreatedPage {
            layout: user.layout(title, section),
            verb,
            token: TokenView::new(&created.metadata, user.call.now),
            value: created.token,
            origin: origin(&user.call.state, headers),
            back,
            back_label,
        },
    );
    // Nothing may keep this page: not the browser cache, not a proxy.
    response
        .headers_mut()
        .insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    response
}

/// Acts on a form that mints a token value once (see [`crate::sent_forms`]):
/// a repeat is answered with what the first send did and `mint` is not
/// run; otherwise the new value's page. The service's error is handed back, so
/// the caller can show its form again with the problem next to its field
/// (and the form, unclaimed, can be sent again).
pub(super) async fn mint_once(
    user: &WebUser,
    headers: &HeaderMap,
    form: &FormData,
    verb: &'static str,
    mint: impl std::future::Future<Output = Result<CreatedTokenResponse, ServiceError>>,
) -> Result<Response, ServiceError> {
    let form_id = form.opt(FORM_ID_FIELD);
    let ticket =
        match user
            .call
            .state
            .sent_forms
            .claim(user.member_id(), form_id.as_deref(), user.call.now)
        {
            Claim::First(ticket) => ticket,
            Claim::Again(first) => return Ok(sent_again(user, verb, first)),
        };
    let created = mint.await?;
    ticket.done(&created.metadata.id, &created.metadata.name);
    Ok(created_page(user, headers, verb, created))
}

/// The answer to a value-minting form sent again (a reload of the page
/// that showed the value, or a double click): nothing more is done, and
/// the value, which is not kept, is not shown again.
fn sent_again(user: &WebUser, verb: &str, first: FirstSent) -> Response {
    let message = match first {
        FirstSent::InProgress => {
            "This form was already sent and is still being handled; nothing more was done. \
             Open your tokens to see the result."
                .to_owned()
        }
        FirstSent::Done { token_name, .. } => format!(
            "This form was already sent: the token \u{201c}{token_name}\u{201d} was {verb} then, \
             and nothing more was done now. Its value was shown only once, on that page, and \
             is not kept. If you did not copy it, open the token and rotate it for a new value."
        ),
    };
    member_error_page(
        user.layout("Already sent", "tokens"),
        StatusCode::CONFLICT,
        &message,
    )
}

/// The address people reach this server at, for the usage examples.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let scheme = if state.config.sessions.cookie_secure {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.config.http.listen.to_string(), str::to_owned);
    format!("{scheme}://{host}")
}
