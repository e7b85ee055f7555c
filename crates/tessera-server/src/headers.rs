//! Security headers on every response, and how the server knows it is
//! reached over HTTPS.
//!
//! Every response — API, web pages, health, metrics, errors — carries a
//! strict Content Security Policy (no inline scripts or styles, no framing,
//! forms only to this origin), `nosniff`, no referrer, `DENY` framing, and
//! `Cache-Control: no-store` (some answers carry a token's only copy). A
//! handler that sets one of these headers itself keeps its value: the
//! static assets say they may be cached.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::http::header::Entry;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request};
use axum::response::Response;
use tower::Service;

use crate::error::ApiError;
use crate::state::AppState;

/// The policy for everything Tessera serves: its own scripts, styles and
/// images only, and nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// How many headers [`secured`] adds to every response.
pub const SECURITY_HEADER_COUNT: usize = 5;

const ALWAYS: [(HeaderName, HeaderValue); SECURITY_HEADER_COUNT] = [
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
];

/// Adds the security headers to every response of `app`.
///
/// This wraps the finished router once, from outside, rather than being
/// layered onto each route with `Router::layer` (a route's layers are
/// cloned into a new box on every request), and it is one step that makes
/// room for all five headers at once. Five `tower_http` header layers cost
/// about 2,000 instructions per header per request, mostly growing the
/// header map; this costs about 1,500 for all of them (docs/benchmarks.md).
/// The verification endpoints, answered before the router, start from
/// [`secured_headers`] instead, a clone costing about 600.
pub fn secured<S>(app: S) -> Secured<S> {
    Secured { inner: app }
}

/// A service whose every response carries the security headers.
#[derive(Clone, Debug)]
pub struct Secured<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Secured<S>
where
    S: Service<Request<B>, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = SecuredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        SecuredFuture(self.inner.call(request))
    }
}

/// The answer of a [`Secured`] service.
pub struct SecuredFuture<F>(F);

impl<F, E> Future for SecuredFuture<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut answer = Pin::new(&mut self.0).poll(cx);
        if let Poll::Ready(Ok(response)) = &mut answer {
            add_security_headers(response.headers_mut());
            if response.extensions().get::<Framable>().is_some() {
                response.headers_mut().remove(header::X_FRAME_OPTIONS);
            }
        }
        answer
    }
}

/// Marks a page the deployment lets its host product frame
/// (`frame_ancestors`): its own CSP names the origins, and
/// `X-Frame-Options: DENY`, which cannot name them, is left out.
#[derive(Debug, Clone, Copy)]
pub struct Framable;

/// A new header map holding the security headers (and, with `json`, the
/// JSON content type), with room for a few more. The hot endpoints start
/// their answers from it: a clone of a map built once costs a fraction of
/// five inserts, each of which hashes and probes.
pub(crate) fn secured_headers(json: bool) -> HeaderMap {
    static PLAIN: LazyLock<HeaderMap> = LazyLock::new(|| template(false));
    static JSON: LazyLock<HeaderMap> = LazyLock::new(|| template(true));
    if json {
        JSON.clone()
    } else {
        PLAIN.clone()
    }
}

fn template(json: bool) -> HeaderMap {
    // Room for the five identity headers `/auth` adds (member, org, token
    // id, email, role), so they do not grow it.
    let mut headers = HeaderMap::with_capacity(SECURITY_HEADER_COUNT + 6);
    if json {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    add_security_headers(&mut headers);
    headers
}

/// Sets each header the handler did not set itself.
pub(crate) fn add_security_headers(headers: &mut HeaderMap) {
    headers.reserve(ALWAYS.len());
    for (name, value) in ALWAYS {
        if let Entry::Vacant(slot) = headers.entry(name) {
            slot.insert(value);
        }
    }
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
    if state.config.sessions.cookie_secure {
        return true;
    }
    let from_trusted_proxy = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|info| state.config.http.trusted_proxies.contains(&info.0.ip()));
    from_trusted_proxy
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            // A chain of proxies may list several; the nearest is last.
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}
