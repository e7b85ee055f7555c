//! The two verification endpoints, answered in front of the router.
//!
//! `POST /api/v1/verify` and `GET /api/v1/auth` are what services and
//! proxies call on every request they serve; everything else is called by
//! people. Through the router, each of these requests also paid for the
//! route lookup, a clone of the route's boxed service, a boxed handler
//! future, the extension map that carries the client's address, and (for
//! `/verify`) the request-timeout middleware with its timer. Together with
//! the lighter JSON parse these were a third of `/verify`'s instructions
//! (54k to 36k per request, docs/benchmarks.md). So [`Hot`]
//! matches these two by method and exact path and calls the same code the
//! routed handlers call (`routes::decide`, `forward_auth::auth_answer`,
//! the same body and JSON rules as [`crate::extract::ApiJson`]); every other request,
//! including other methods on these paths (405) and the OpenAPI document,
//! goes to the router, which still routes both paths too.
//!
//! `/verify`'s body must still arrive within the request timeout; the timer
//! starts only if it has not arrived already, which is the common case.
//! Its strings are borrowed from the body rather than copied, and its
//! answer is written by `Answer::write_json`. The direct answers start from
//! a prebuilt map of the security headers; the router's get them from
//! [`headers::secured`], which wraps it here.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use tessera_api::VerifyRequest;
use tower::Service;

use super::routes::{self, Answer, Question};
use crate::error::{ApiError, ApiResult};
use crate::extract::{body_error, is_json_content_type, parse_json};
use crate::headers::{self, Secured, SecuredFuture};
use crate::metrics::HotRoute;
use crate::peer::client_behind;
use crate::requests;
use crate::state::AppState;

const VERIFY: &str = "/api/v1/verify";
const AUTH: &str = "/api/v1/auth";

/// One connection's service: the hot endpoints directly, the rest through
/// the router (with the peer's address as axum's `ConnectInfo`). Every
/// answer carries the security headers: the router's from
/// [`headers::secured`], the direct ones from a prebuilt map.
#[derive(Clone)]
pub struct Hot {
    router: Secured<Router>,
    state: AppState,
    peer: SocketAddr,
    /// Off while request tracing is on, so that every request is traced.
    enabled: bool,
}

impl Hot {
    pub fn new(router: Router, state: AppState, peer: SocketAddr) -> Self {
        let enabled = !tracing::enabled!(target: "tower_http::trace", tracing::Level::DEBUG);
        Self {
            router: headers::secured(router),
            state,
            peer,
            enabled,
        }
    }
}

impl Service<Request<Incoming>> for Hot {
    type Response = Response;
    type Error = Infallible;
    type Future = HotFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready, and so are the direct answers.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Incoming>) -> HotFuture {
        if self.enabled {
            match (request.method(), request.uri().path()) {
                (&Method::POST, VERIFY) => {
                    let answer = verify(self.state.clone(), self.peer, request);
                    return HotFuture::Direct(Box::pin(answer));
                }
                (&Method::GET, AUTH) => {
                    let answer = auth(self.state.clone(), self.peer, request);
                    return HotFuture::Direct(Box::pin(answer));
                }
                _ => {}
            }
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        HotFuture::Routed(self.router.call(request))
    }
}

/// The answer of [`Hot`]: the router's, or a direct one.
// The router's future is large, but it is made once per request and moved
// into hyper once; boxing it would cost an allocation per request instead.
#[allow(clippy::large_enum_variant)]
pub enum HotFuture {
    Routed(SecuredFuture<RouteFuture<Infallible>>),
    Direct(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl Future for HotFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Routed(routed) => Pin::new(routed).poll(cx),
            Self::Direct(direct) => direct.as_mut().poll(cx).map(Ok),
        }
    }
}

async fn verify(state: AppState, peer: SocketAddr, request: Request<Incoming>) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let ip = client_behind(peer.ip(), &parts.headers, &state);
    let answered = async {
        if !is_json_content_type(&parts.headers) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let timeout = Duration::from_secs(state.config.http.request_timeout_seconds);
        let bytes = read_body(body, state.config.http.max_body_bytes, timeout).await?;
        match serde_json::from_slice::<BorrowedRequest>(&bytes) {
            Ok(request) => routes::decide(&state, request.question(), Some(ip)).await,
            // Parsed again by the routed endpoint's rules, for its message.
            Err(_) => {
                let request: VerifyRequest = parse_json(&bytes)?;
                routes::decide(&state, Question::from(&request), Some(ip)).await
            }
        }
    }
    .await;
    let response = match answered {
        Ok(answer) => json_response(&answer),
        Err(e) => secured(e.into_response()),
    };
    requests::hot(
        &state,
        HotRoute::Verify,
        response.status().as_u16(),
        started,
    );
    response
}

/// `POST /verify`'s body with its strings borrowed from the body where
/// JSON did not escape them: the same fields and rules as
/// [`VerifyRequest`] (which parses any body this refuses), without an
/// allocation per field.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BorrowedRequest<'a> {
    #[serde(borrow)]
    token: Text<'a>,
    #[serde(default, borrow)]
    action: Option<Text<'a>>,
    #[serde(default, borrow)]
    resource: Option<Text<'a>>,
    #[serde(default)]
    ip: Option<std::net::IpAddr>,
    #[serde(default)]
    cost: Option<i64>,
}

impl BorrowedRequest<'_> {
    fn question(&self) -> Question<'_> {
        Question {
            token: &self.token.0,
            action: self.action.as_ref().map(|t| &*t.0),
            resource: self.resource.as_ref().map(|t| &*t.0),
            ip: self.ip,
            cost: self.cost,
        }
    }
}

/// A JSON string, borrowed unless it had escapes. (serde's own
/// `Cow<str>` always copies inside an `Option`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // As `String` says it, so messages match `VerifyRequest`'s.
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

async fn auth(state: AppState, peer: SocketAddr, request: Request<Incoming>) -> Response {
    let started = Instant::now();
    let ip = client_behind(peer.ip(), request.headers(), &state);
    // A successful answer starts from the security headers already.
    let response =
        super::forward_auth::auth_answer(&state, Some(ip), request.headers(), request.uri())
            .await
            .unwrap_or_else(|e| secured(e.into_response()));
    requests::hot(&state, HotRoute::Auth, response.status().as_u16(), started);
    response
}

fn secured(mut response: Response) -> Response {
    headers::add_security_headers(response.headers_mut());
    response
}

/// The whole body, at most `limit` bytes (else 413), arriving within
/// `timeout` (else 503, as the request timeout answers elsewhere).
async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> ApiResult<Bytes> {
    let mut reading = std::pin::pin!(async move {
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => Err(ApiError::PayloadTooLarge),
            Err(e) => Err(body_error(
                axum::http::StatusCode::BAD_REQUEST,
                &e.to_string(),
            )),
        }
    });
    // A small body has usually arrived with the head: then no timer.
    if let Poll::Ready(read) = reading
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        return read;
    }
    tokio::time::timeout(timeout, reading)
        .await
        .unwrap_or(Err(ApiError::unavailable()))
}

/// The answer's JSON, written straight into its body.
fn json_response(answer: &Answer) -> Response {
    let mut buf = Vec::with_capacity(512);
    match answer.write_json(&mut buf) {
        Ok(()) => {
            let mut response = Response::new(axum::body::Body::from(buf));
            *response.headers_mut() = headers::secured_headers(true);
            response
        }
        Err(e) => secured(
            ApiError::internal(format!("could not serialize an answer: {e}")).into_response(),
        ),
    }
}
