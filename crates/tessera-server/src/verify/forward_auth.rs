//! `GET /auth` and `/auth/envoy/<path>`: forward-auth for reverse proxies.
//!
//! A proxy asks before it passes a request on: 200 with identity headers,
//! 401 or 403. The question (an action on a resource) comes from, in order:
//!
//! 1. the `action`/`resource` query parameters of the auth URL (which the
//!    operator writes), or `X-Tessera-Action`/`X-Tessera-Resource` headers
//!    (which nginx sets, see docs/nginx.md);
//! 2. else, when `[[forward_auth.rules]]` are configured, the original
//!    request as the proxy's dialect sends it, mapped by the rules
//!    ([`super::rules`]): `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik,
//!    Caddy), `X-Original-Method`/`X-Original-URL` (ingress-nginx), or
//!    Envoy's `ext_authz` HTTP mode, which sends the original method and
//!    path under `/api/v1/auth/envoy`;
//! 3. else none: the token is only authenticated.
//!
//! Proxies pass the client's own headers on to the auth request, so a
//! client can add any of these. None of them may widen what it can do:
//! when the rules decide, an `X-Tessera-*` header is refused rather than
//! believed, and two dialects that ask different questions are refused
//! rather than one of them chosen.

use std::borrow::Cow;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use axum::response::Response;
use axum::routing::any;
use axum::Router;

use super::rules::{Mapped, Rules};
use super::{check_question, presented_credential, rejection_error, verify_token};
use crate::error::{ApiError, ApiResult};
use crate::peer::ClientAddr;
use crate::service::ServiceError;
use crate::state::AppState;
use tessera_engine::Outcome;

/// Envoy's `ext_authz` HTTP service, under `/api/v1`: the original
/// request's method and path appended to this prefix.
pub fn envoy_router() -> Router<AppState> {
    Router::new()
        .route("/auth/envoy", any(envoy_auth))
        .route("/auth/envoy/", any(envoy_auth))
        .route("/auth/envoy/{*path}", any(envoy_auth))
}

/// Forward-auth for reverse proxies: 200 with identity headers, 401, or
/// 403. The question comes from `X-Tessera-Action`/`X-Tessera-Resource`
/// headers or `action`/`resource` query parameters, or else from the
/// original request (`X-Forwarded-Method`/`X-Forwarded-Uri`,
/// `X-Original-Method`/`X-Original-URL`) mapped by `[[forward_auth.rules]]`.
#[utoipa::path(get, path = "/api/v1/auth", tag = "verify",
    params(("action" = Option<String>, Query, description = "or header X-Tessera-Action"),
           ("resource" = Option<String>, Query, description = "or header X-Tessera-Resource")),
    responses((status = 200, description = "allowed; identity in X-Tessera-Member, X-Tessera-Org, X-Tessera-Token-Id, X-Tessera-Email, X-Tessera-Role, X-Tessera-External-Id (when set)"),
        (status = 400, body = tessera_api::ErrorBody),
        (status = 401, body = tessera_api::ErrorBody), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn forward_auth(
    State(state): State<AppState>,
    ip: ClientAddr,
    // The whole request, to read headers and query in place rather than
    // copy them (this is the hot path of every proxied request).
    request: Request,
) -> ApiResult<Response> {
    auth_answer(&state, ip.0, request.headers(), request.uri()).await
}

/// Envoy `ext_authz` in HTTP mode: Envoy sends the original request's
/// method, path and (allowed) headers, the path after this prefix. Any
/// method is accepted; the question comes from `[[forward_auth.rules]]`.
#[utoipa::path(get, path = "/api/v1/auth/envoy/{path}", tag = "verify",
    params(("path" = String, Path, description = "the original request's path (any method is accepted: the original's)")),
    responses((status = 200, description = "allowed; identity headers as for /auth"),
        (status = 400, body = tessera_api::ErrorBody),
        (status = 401, body = tessera_api::ErrorBody), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn envoy_auth(
    State(state): State<AppState>,
    ip: ClientAddr,
    request: Request,
) -> ApiResult<Response> {
    let method = request.method();
    // `/api/v1/auth/envoy/projects/x?y` asks about `/projects/x?y`.
    let full = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let original = full.split_once("/auth/envoy").map_or("/", |(_, rest)| rest);
    let original = if original.starts_with('/') {
        Cow::Borrowed(original)
    } else {
        Cow::Owned(format!("/{original}"))
    };
    let headers = request.headers();
    let question = rules_question(&state, headers, Some((method.as_str(), &original)))?;
    authorize(&state, ip.0, headers, asked_of(&question)).await
}

/// `GET /auth`'s answer from the request's head: what [`forward_auth`]
/// does, also called directly by [`super::hot`].
pub(crate) async fn auth_answer(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    uri: &Uri,
) -> ApiResult<Response> {
    let query = match uri.query() {
        Some(_) => {
            Query::<AuthQuery>::try_from_uri(uri)
                .map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))?
                .0
        }
        None => AuthQuery::default(),
    };
    let asked = query.action.is_some() || query.resource.is_some();
    if !asked && !state.config.forward_auth.rules.is_empty() {
        let question = rules_question(state, headers, None)?;
        return authorize(state, ip, headers, asked_of(&question)).await;
    }
    // Borrowed from the request, not copied: this runs for every request
    // a proxy forwards.
    let action = header_or_query(headers, "x-tessera-action", query.action.as_deref())?;
    let resource = header_or_query(headers, "x-tessera-resource", query.resource.as_deref())?;
    check_question(action, resource)?;
    authorize(state, ip, headers, action.zip(resource)).await
}

/// The question `[[forward_auth.rules]]` ask of the original request:
/// `envoy`'s, or the one the dialect headers describe. `None` when there
/// is no original request, or no rule matches it (then the token is only
/// authenticated).
fn rules_question(
    state: &AppState,
    headers: &HeaderMap,
    envoy: Option<(&str, &str)>,
) -> ApiResult<Option<Mapped>> {
    let rules = &state.config.forward_auth.rules;
    let mut originals = [
        envoy,
        dialect(headers, &X_FORWARDED_METHOD, &X_FORWARDED_URI)?,
        dialect(headers, &X_ORIGINAL_METHOD, &X_ORIGINAL_URL)?,
    ]
    .into_iter()
    .flatten();
    let Some((method, target)) = originals.next() else {
        return Ok(None);
    };
    if rules.is_empty() {
        return Ok(None);
    }
    for name in ["x-tessera-action", "x-tessera-resource"] {
        if headers.contains_key(name) {
            return Err(ApiError::bad_request(format!(
                "{name} was sent with a request that [[forward_auth.rules]] decide: the proxy passes the client's headers, so it is refused rather than believed"
            )));
        }
    }
    let question = map(rules, method, target)?;
    for (method, target) in originals {
        if map(rules, method, target)? != question {
            return Err(ApiError::bad_request(
                "the proxy's headers describe two different original requests (X-Forwarded-* and X-Original-*, or Envoy's path): refused rather than one chosen",
            ));
        }
    }
    if let Some(q) = &question {
        check_question(Some(&q.action), Some(&q.resource))?;
    }
    Ok(question)
}

fn asked_of(question: &Option<Mapped>) -> Option<(&str, &str)> {
    question
        .as_ref()
        .map(|q| (q.action.as_str(), q.resource.as_str()))
}

fn map(rules: &Rules, method: &str, target: &str) -> ApiResult<Option<Mapped>> {
    rules
        .question(method, target)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// One dialect's original method and URI, if the request carries it.
fn dialect<'a>(
    headers: &'a HeaderMap,
    method: &HeaderName,
    uri: &HeaderName,
) -> ApiResult<Option<(&'a str, &'a str)>> {
    match (single(headers, method)?, single(headers, uri)?) {
        (Some(m), Some(u)) => Ok(Some((m, u))),
        (None, None) => Ok(None),
        _ => Err(ApiError::bad_request(format!(
            "send {method} and {uri} together: the original request's method and URI"
        ))),
    }
}

/// A header sent at most once, as text.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> ApiResult<Option<&'a str>> {
    let mut copies = headers.get_all(name).iter();
    let Some(value) = copies.next() else {
        return Ok(None);
    };
    if copies.next().is_some() {
        return Err(ApiError::bad_request(format!(
            "{name} was sent more than once"
        )));
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("{name} is not valid text")))
}

/// Authenticates the presented token and, if there is a question, checks
/// it: the answer with identity headers, or the error.
async fn authorize<A: AsRef<str>, R: AsRef<str>>(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    question: Option<(A, R)>,
) -> ApiResult<Response> {
    let presented = presented_credential(headers)?.ok_or_else(|| {
        ApiError::unauthenticated("missing credential: send Authorization: Bearer <token>")
    })?;
    let now = state.now();
    let verified = verify_token(state, presented, now)
        .await?
        .map_err(rejection_error)?;
    // Tested here too, not only inside: a plain token then never builds
    // (or polls) the check's future.
    let rate = match verified.token().controls {
        Some(_) => super::controls::admit(state, &verified, ip, now).await?,
        None => None,
    };
    if let Some((action, resource)) = question {
        let (a, r) = (action.as_ref(), resource.as_ref());
        if !verified.allows(a, r) {
            state.engine.record_use(&verified, Outcome::Denied, now, ip);
            return Err(ServiceError::forbidden(a, r).into());
        }
    }
    state.engine.record_use(&verified, Outcome::Valid, now, ip);
    // 200 with no body; the security headers are in place from the start
    // (this is a hot path: see `crate::headers::secured_headers`).
    let mut response = Response::new(axum::body::Body::empty());
    *response.headers_mut() = crate::headers::secured_headers(false);
    let out = response.headers_mut();
    if let Some(rate) = rate {
        super::controls::rate_headers(out, &rate);
    }
    // A member's token names the member (and email); a service account's
    // names the account, never a member.
    let (who, email, external_id, role) = match (verified.member(), verified.service_account()) {
        (Some(m), _) => (
            (&X_TESSERA_MEMBER, m.id.as_str()),
            Some(m.email.as_str()),
            m.external_id.as_ref().map(|e| e.as_str()),
            m.role,
        ),
        (None, Some(a)) => (
            (&X_TESSERA_SERVICE_ACCOUNT, a.id.as_str()),
            None,
            None,
            a.role,
        ),
        (None, None) => return Err(rejection_error(tessera_engine::Rejection::Invalid)),
    };
    for (name, value) in [
        who,
        (&X_TESSERA_ORG, verified.org().key.as_str()),
        (&X_TESSERA_TOKEN_ID, verified.token().id.as_str()),
        // An email that is not header-safe text (non-ASCII) is left out
        // rather than mangled; the member id always identifies.
        (&X_TESSERA_EMAIL, email.unwrap_or("")),
        (&X_TESSERA_ROLE, role.as_str()),
        // Only when set; like the email, left out if not header-safe.
        (&X_TESSERA_EXTERNAL_ID, external_id.unwrap_or("")),
    ] {
        if value.is_empty() {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name.clone(), v);
        }
    }
    Ok(response)
}

// Made at compile time: `HeaderName::from_static` at run time would look
// each name up among the standard ones on every answer of this hot path.
const X_TESSERA_MEMBER: HeaderName = HeaderName::from_static("x-tessera-member");
const X_TESSERA_SERVICE_ACCOUNT: HeaderName = HeaderName::from_static("x-tessera-service-account");
const X_TESSERA_ORG: HeaderName = HeaderName::from_static("x-tessera-org");
const X_TESSERA_TOKEN_ID: HeaderName = HeaderName::from_static("x-tessera-token-id");
const X_TESSERA_EMAIL: HeaderName = HeaderName::from_static("x-tessera-email");
const X_TESSERA_ROLE: HeaderName = HeaderName::from_static("x-tessera-role");
const X_TESSERA_EXTERNAL_ID: HeaderName = HeaderName::from_static("x-tessera-external-id");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");

/// `/auth`'s question: the header if sent, else the query parameter. The
/// operator's proxy sets one of them; a client that adds its own copy (a
/// proxy passing client headers, as Traefik does by default) must not
/// change the question, so a header that disagrees with the query, or with
/// another copy of itself, is refused rather than one of them chosen.
fn header_or_query<'a>(
    headers: &'a HeaderMap,
    header: &str,
    param: Option<&'a str>,
) -> ApiResult<Option<&'a str>> {
    let mut copies = headers.get_all(header).iter();
    let Some(first) = copies.next() else {
        return Ok(param);
    };
    let value = first
        .to_str()
        .map_err(|_| ApiError::bad_request(format!("{header} is not valid text")))?;
    if copies.any(|other| other != first) {
        return Err(ApiError::bad_request(format!(
            "several different {header} headers: the proxy must set it once and remove any copy the client sent"
        )));
    }
    if param.is_some_and(|p| p != value) {
        let name = header.trim_start_matches("x-tessera-");
        return Err(ApiError::bad_request(format!(
            "{header} and the `{name}` query parameter disagree: the proxy must ask one question, and remove any {header} the client sent"
        )));
    }
    Ok(Some(value))
}

/// `GET /auth`'s query parameters (other parameters are ignored: proxies
/// may add their own).
#[derive(Debug, Default, serde::Deserialize)]
struct AuthQuery {
    action: Option<String>,
    resource: Option<String>,
}
