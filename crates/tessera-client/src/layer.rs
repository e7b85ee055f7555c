//! A tower [`Layer`] that protects a service (axum, hyper, tonic...) with
//! Tessera tokens: the request's `Authorization: Bearer <token>` or
//! `Authorization: ApiKey <token>` is checked with `POST /verify`, and
//! optionally whether the token may do an action on a resource.
//!
//! ```no_run
//! # fn demo() -> Result<(), tessera_client::Error> {
//! use tessera_client::{Client, TesseraLayer};
//!
//! let layer = TesseraLayer::new(Client::from_env()?).require("flag:read", "proj/web");
//! // axum: Router::new().route(...).layer(layer)
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! Invariants:
//! - a request reaches the inner service only if Tessera said the token is
//!   valid (and allowed, when a permission is required); the verified
//!   identity is in the request's extensions as [`VerifiedToken`];
//! - otherwise the answer is Tessera's own error shape: 401 (with
//!   `WWW-Authenticate`) for a missing or invalid token, 403 when not
//!   allowed, 400 when the action/resource derived from the request is
//!   malformed, 503 when Tessera cannot be asked. It never fails open;
//! - by default every request is verified anew, so a revocation takes
//!   effect on the next request. Tessera answers verification from memory;
//!   the cost is one local round trip. [`TesseraLayer::cache_for`] opts in
//!   to remembering *positive* answers for a short time (a revocation then
//!   takes up to that long to reach this service); refusals are never
//!   cached, and an entry never outlives the token's own expiry. The
//!   cache is keyed by each token's SHA-256, so it holds no token itself.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use tessera_api::{
    ErrorBody, ErrorCode, ErrorDetail, VerifiedToken, Verifier, VerifyError, VerifyFuture,
    VerifyRequest,
};
use tower::{Layer, Service};

use crate::Client;

type Requirement = dyn Fn(&Parts) -> Option<(String, String)> + Send + Sync;

impl Verifier for Client {
    fn verify<'a>(&'a self, request: &'a VerifyRequest) -> VerifyFuture<'a> {
        Box::pin(async move { Client::verify(self, request).await.map_err(Into::into) })
    }
}

/// Longest time [`TesseraLayer::cache_for`] accepts.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(60);
/// Most answers the cache holds; beyond that, expired ones are dropped,
/// and if that is not enough, all of them.
const CACHE_CAPACITY: usize = 10_000;

/// What was asked: the presented token's SHA-256 and the permission, if
/// any. The hash, not the token, so that the cache's memory (a core dump, a
/// heap dump) does not hold every token used in the last minute.
type CacheKey = ([u8; 32], Option<(String, String)>);

/// Positive answers, remembered for `ttl`.
struct Cache {
    ttl: Duration,
    entries: Mutex<HashMap<CacheKey, (Instant, VerifiedToken)>>,
}

impl Cache {
    fn get(&self, key: &CacheKey) -> Option<VerifiedToken> {
        let entries = self.entries.lock().ok()?;
        let (until, token) = entries.get(key)?;
        let token_alive = token.expires_at.is_none_or(|at| at > wall_clock());
        (Instant::now() < *until && token_alive).then(|| token.clone())
    }

    fn put(&self, key: CacheKey, token: VerifiedToken) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        if entries.len() >= CACHE_CAPACITY {
            entries.retain(|_, (until, _)| *until > now);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (now + self.ttl, token));
    }
}

/// The layer's one reading of the system clock: whether a cached token
/// has expired is a real-time question.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Wraps services in [`TesseraService`].
#[derive(Clone)]
pub struct TesseraLayer {
    verifier: Arc<dyn Verifier>,
    requirement: Option<Arc<Requirement>>,
    cache: Option<Arc<Cache>>,
}

impl std::fmt::Debug for TesseraLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TesseraLayer")
            .field("verifier", &"..")
            .field("requirement", &self.requirement.is_some())
            .field("cache_ttl", &self.cache.as_ref().map(|c| c.ttl))
            .finish()
    }
}

impl TesseraLayer {
    /// Authenticates only: any valid token of the deployment passes. The
    /// client needs no credential of its own.
    pub fn new(client: Client) -> Self {
        Self::with_verifier(client)
    }

    /// Verifies with `verifier` instead of a [`Client`]: for example
    /// `tessera_server::embedded::EmbeddedVerifier`, which answers in
    /// process when the service embeds Tessera's engine and store.
    pub fn with_verifier(verifier: impl Verifier) -> Self {
        Self {
            verifier: Arc::new(verifier),
            requirement: None,
            cache: None,
        }
    }

    /// Remembers each positive answer (valid, and allowed when a
    /// permission is required) for `ttl`, at most [`MAX_CACHE_TTL`], to
    /// save a round trip per request. The price: a revoked or re-scoped
    /// token keeps working here for up to `ttl`. Refusals are not cached.
    /// Layers cloned from this one after the call share the cache.
    pub fn cache_for(mut self, ttl: Duration) -> Self {
        self.cache = (!ttl.is_zero()).then(|| {
            Arc::new(Cache {
                ttl: ttl.min(MAX_CACHE_TTL),
                entries: Mutex::new(HashMap::new()),
            })
        });
        self
    }

    /// Also requires the token to be allowed `action` on `resource`.
    pub fn require(self, action: impl Into<String>, resource: impl Into<String>) -> Self {
        let pair = (action.into(), resource.into());
        self.require_with(move |_| Some(pair.clone()))
    }

    /// Derives the required action and resource from the request (its
    /// method, path, headers); `None` means authentication alone.
    pub fn require_with(
        mut self,
        requirement: impl Fn(&Parts) -> Option<(String, String)> + Send + Sync + 'static,
    ) -> Self {
        self.requirement = Some(Arc::new(requirement));
        self
    }
}

impl<S> Layer<S> for TesseraLayer {
    type Service = TesseraService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TesseraService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`TesseraLayer`] produces.
#[derive(Clone, Debug)]
pub struct TesseraService<S> {
    inner: S,
    layer: TesseraLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TesseraService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The instance that was polled ready is the one to call; leave a
        // fresh clone behind for the next request.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match check(&layer, &parts).await {
                Ok(token) => {
                    if let Some(token) = token {
                        parts.extensions.insert(token);
                    }
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Rejection {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl Rejection {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn into_response<B: From<String>>(self) -> Response<B> {
        let challenge = if self.code == ErrorCode::Unauthenticated {
            "Bearer realm=\"tessera\""
        } else {
            "Bearer realm=\"tessera\", error=\"invalid_token\""
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut response = Response::new(B::from(text));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// Asks Tessera about the request's token.
async fn check(layer: &TesseraLayer, parts: &Parts) -> Result<Option<VerifiedToken>, Rejection> {
    let Some(token) = presented_token(parts) else {
        return Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "missing credential: send `Authorization: Bearer <token>`",
        ));
    };
    let (action, resource) = match layer.requirement.as_ref().and_then(|r| r(parts)) {
        Some((action, resource)) => (Some(action), Some(resource)),
        None => (None, None),
    };
    let key: CacheKey = (
        Sha256::digest(token.as_bytes()).into(),
        action.clone().zip(resource.clone()),
    );
    if let Some(hit) = layer.cache.as_ref().and_then(|c| c.get(&key)) {
        return Ok(Some(hit));
    }
    let request = VerifyRequest {
        token,
        action: action.clone(),
        resource: resource.clone(),
        ip: None,
        cost: None,
    };
    let answer = layer.verifier.verify(&request).await.map_err(|e| match e {
        // The question derived from this request is malformed (say a path
        // segment that is not a valid resource name): the caller's
        // mistake, not an outage.
        VerifyError::Api {
            status: 400,
            message,
            ..
        } => Rejection::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("this request cannot be checked: {message}"),
        ),
        _ => Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the token could not be verified; try again later",
        ),
    })?;
    if !answer.valid {
        // The same codes as Tessera's own API: a malformed token is simply
        // invalid. (`/verify`'s verdicts spell these two as the error codes do.)
        let code = match ErrorCode::parse(&answer.code) {
            ErrorCode::TokenExpired => ErrorCode::TokenExpired,
            ErrorCode::TokenDisabled => ErrorCode::TokenDisabled,
            _ => ErrorCode::InvalidToken,
        };
        return Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            code,
            "the token is missing, invalid, expired or revoked",
        ));
    }
    if answer.allowed == Some(false) {
        let (action, resource) = (action.unwrap_or_default(), resource.unwrap_or_default());
        return Err(Rejection::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("not permitted: {action} on {resource}"),
        ));
    }
    if let (Some(cache), Some(token)) = (&layer.cache, &answer.token) {
        cache.put(key, token.clone());
    }
    Ok(answer.token)
}

/// The token in `Authorization: Bearer ...` or `Authorization: ApiKey ...`
/// (the scheme is case-insensitive).
fn presented_token(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("apikey");
    let token = token.trim();
    (known && !token.is_empty()).then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use tower::{service_fn, ServiceExt};

    /// A stand-in for Tessera's `/verify` that answers `answer` to every
    /// request and reports the bodies it got.
    fn fake_tessera(answer: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
        fake_tessera_answering("200 OK", answer)
    }

    /// Like [`fake_tessera`], with another status line.
    fn fake_tessera_answering(
        status: &'static str,
        answer: &'static str,
    ) -> (String, std::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        (url, rx)
    }

    async fn call(layer: TesseraLayer, authorization: Option<&str>) -> Response<String> {
        let inner = service_fn(|req: Request<String>| async move {
            let who = req
                .extensions()
                .get::<VerifiedToken>()
                .map(|t| t.name.clone())
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(format!("hello {who}")))
        });
        let mut request = Request::new(String::new());
        if let Some(value) = authorization {
            request
                .headers_mut()
                .insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        }
        let Ok(response) = layer.layer(inner).oneshot(request).await;
        response
    }

    const VALID: &str = r#"{"valid":true,"code":"valid","allowed":true,"token":{"id":"t1","name":"ci","member":"m1","org":"acme","projects":[],"expires_at":null}}"#;

    #[tokio::test]
    async fn a_valid_token_passes_with_its_identity() {
        let (url, seen) = fake_tessera(VALID);
        let layer = TesseraLayer::new(Client::new(url, None).expect("client"))
            .require("flag:read", "proj/web");
        let response = call(layer, Some("ApiKey tsr_presented")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body(), "hello ci");
        let sent: serde_json::Value =
            serde_json::from_str(&seen.recv().expect("verify call")).expect("json");
        assert_eq!(
            sent,
            serde_json::json!({"token": "tsr_presented", "action": "flag:read", "resource": "proj/web"})
        );
    }

    #[tokio::test]
    async fn missing_invalid_and_forbidden_are_refused() {
        let (url, _seen) = fake_tessera(r#"{"valid":false,"code":"token_expired"}"#);
        let layer = TesseraLayer::new(Client::new(url, None).expect("client"));
        let response = call(layer.clone(), None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(WWW_AUTHENTICATE));
        assert!(response.body().contains("unauthenticated"));
        let response = call(layer, Some("Bearer tsr_old")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.body().contains("token_expired"));

        let (url, _seen) = fake_tessera(
            r#"{"valid":true,"code":"valid","allowed":false,"token":{"id":"t1","name":"ci","member":"m1","org":"acme","projects":[],"expires_at":null}}"#,
        );
        let layer =
            TesseraLayer::new(Client::new(url, None).expect("client")).require_with(|parts| {
                Some(("flag:update".into(), format!("proj{}", parts.uri.path())))
            });
        let response = call(layer, Some("Bearer tsr_x")).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(
            response.body().contains("flag:update on proj/"),
            "{}",
            response.body()
        );
    }

    #[tokio::test]
    async fn an_unreachable_tessera_fails_closed() {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let client = Client::new(format!("http://127.0.0.1:{port}"), None).expect("client");
        let response = call(TesseraLayer::new(client), Some("Bearer tsr_x")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.body().contains("\"unavailable\""));
    }

    #[tokio::test]
    async fn a_failing_tessera_fails_closed_with_a_clear_answer() {
        let (url, seen) = fake_tessera_answering(
            "500 Internal Server Error",
            r#"{"error":{"code":"internal","message":"internal error"}}"#,
        );
        let layer = TesseraLayer::new(Client::new(url, None).expect("client"))
            .cache_for(Duration::from_secs(30));
        for _ in 0..2 {
            let response = call(layer.clone(), Some("Bearer tsr_x")).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            let body: ErrorBody = serde_json::from_str(response.body()).expect("error body");
            assert_eq!(body.error.code, ErrorCode::Unavailable);
            assert!(
                body.error.message.contains("could not be verified"),
                "{body:?}"
            );
        }
        // A failure is not cached: the next request asks again.
        assert_eq!(seen.try_iter().count(), 2);
    }

    #[tokio::test]
    async fn a_cache_remembers_positive_answers_only() {
        let (url, seen) = fake_tessera(VALID);
        let layer = TesseraLayer::new(Client::new(url, None).expect("client"))
            .require("flag:read", "proj/web")
            .cache_for(Duration::from_secs(30));
        for _ in 0..3 {
            let response = call(layer.clone(), Some("Bearer tsr_a")).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        assert_eq!(
            seen.try_iter().count(),
            1,
            "one round trip for three requests"
        );
        // Another token is another question.
        call(layer.clone(), Some("Bearer tsr_b")).await;
        assert_eq!(seen.try_iter().count(), 1);

        let (url, seen) = fake_tessera(r#"{"valid":false,"code":"invalid_token"}"#);
        let layer = TesseraLayer::new(Client::new(url, None).expect("client"))
            .cache_for(Duration::from_secs(30));
        for _ in 0..2 {
            let response = call(layer.clone(), Some("Bearer tsr_a")).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(seen.try_iter().count(), 2, "refusals are asked again");
    }

    #[test]
    fn reads_both_authorization_schemes() {
        let parts = |value: &str| {
            let mut request = Request::new(());
            request
                .headers_mut()
                .insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
            request.into_parts().0
        };
        assert_eq!(
            presented_token(&parts("Bearer tsr_a")).as_deref(),
            Some("tsr_a")
        );
        assert_eq!(
            presented_token(&parts("apikey  tsr_b ")).as_deref(),
            Some("tsr_b")
        );
        assert_eq!(presented_token(&parts("Basic abc")), None);
        assert_eq!(presented_token(&parts("Bearer ")), None);
    }
}
