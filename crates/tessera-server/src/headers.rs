//! Security headers on every response, and how the server knows it is
//! reached over HTTPS.
//!
//! Every response — API, web pages, health, metrics, errors — carries a
//! strict Content Security Policy (no inline scripts or styles, no framing,
//! forms only to this origin), `nosniff`, no referrer, and `DENY` framing.
//! API responses are never cached (`no-store`): some carry a token's only
//! copy. A handler that sets one of these headers itself keeps its value.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

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

/// Middleware: adds the security headers (and `no-store` under `/api/`).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in ALWAYS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
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
