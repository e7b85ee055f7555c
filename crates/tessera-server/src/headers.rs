//! Security headers on every response, and how the server knows it is
//! reached over HTTPS.
//!
//! Every response — API, web pages, health, metrics, errors — carries a
//! strict Content Security Policy (no inline scripts or styles, no framing,
//! forms only to this origin), `nosniff`, no referrer, and `DENY` framing.
//! API responses are never cached (`no-store`): some carry a token's only
//! copy. A handler that sets one of these headers itself keeps its value.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// The policy for everything Tessera serves: its own scripts, styles and
/// images only, and nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const ALWAYS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// Adds the security headers to every response of `app` (static values,
/// set unless the handler chose its own: no per-request allocation).
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(app: Router<S>) -> Router<S> {
    ALWAYS.into_iter().fold(app, |app, (name, value)| {
        app.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// Marks every response of `api` `Cache-Control: no-store` (unless the
/// handler set its own): API answers may hold a token's only copy.
pub fn never_stored<S: Clone + Send + Sync + 'static>(api: Router<S>) -> Router<S> {
    api.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
}

/// Whether the client reached Tessera over HTTPS: always when
/// `cookie_secure` is set; otherwise when a trusted proxy (see
/// `trusted_proxies`) says so with `X-Forwarded-Proto: https`. A header
/// from anyone else is ignored, since clients can send anything.
pub struct Https(pub bool);

impl FromRequestParts<AppState> for Https {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(is_https(parts, state)))
    }
}

pub fn is_https(parts: &Parts, state: &AppState) -> bool {
    if state.config.cookie_secure {
        return true;
    }
    let from_trusted_proxy = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|info| state.config.trusted_proxies.contains(&info.0.ip()));
    from_trusted_proxy
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            // A chain of proxies may list several; the nearest is last.
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}
