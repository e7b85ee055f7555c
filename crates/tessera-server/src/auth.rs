//! Who is calling: the [`Caller`] extractor.
//!
//! A request authenticates with `Authorization: Bearer <token>` or
//! `Authorization: ApiKey <token>`, or with the login-session cookie. When
//! an `Authorization` header is present it alone counts (a bad token is a
//! 401 even if a cookie is also sent). Cookie-authenticated requests that
//! change state must be JSON or carry the session's CSRF token, which a
//! cross-site form can do neither of.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tessera_core::SecretHash;
use tessera_engine::{Principal, RateState};

use crate::error::{ApiError, ApiResult};
use crate::headers::Https;
use crate::peer::client_addr;
pub use crate::service::caller::{Caller, Identity, Via};
use crate::service::Call;
use crate::state::AppState;
pub use crate::verify::{presented_credential, presented_token};
use crate::verify::{rejection_error, verify_token};

pub const SESSION_COOKIE: &str = "tessera_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let addr = client_addr(parts, state);
        let ip = addr.map(|a| a.to_string());
        if let Some(presented) = presented_token(&parts.headers)? {
            let (caller, rate) = admit_token(state, &presented, addr, ip).await?;
            if let (Some(rate), Some(slot)) = (rate, parts.extensions.get::<RateSlot>()) {
                // Set once per request; a second extraction finds it set.
                let _ = slot.0.set(rate);
            }
            return Ok(caller);
        }
        if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            let caller = from_session(state, &secret, ip).await?;
            check_csrf(&parts.method, &parts.headers, &secret)?;
            return Ok(caller);
        }
        Err(ApiError::unauthenticated(
            "missing credential: send Authorization: Bearer <token> (or ApiKey <token>), or log in",
        ))
    }
}

/// What an API handler hands the service layer: the caller (as above) and
/// the moment of the request.
impl FromRequestParts<AppState> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Call::new(state, caller))
    }
}

/// A call from a login session. A token is refused (`403
/// session_required`) here, while the request's head is read, so it gets
/// that answer whatever body it sent: who may call is decided before what
/// they sent is read. For the endpoints that change the credential itself.
pub struct SessionCall(pub Call);

impl FromRequestParts<AppState> for SessionCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let call = Call::from_request_parts(parts, state).await?;
        call.caller.require_session()?;
        Ok(Self(call))
    }
}

/// Where a rate-limited token's window goes for the answer's `RateLimit-*`
/// headers (see [`rate_limit_headers`]).
#[derive(Clone, Default)]
struct RateSlot(Arc<OnceLock<RateState>>);

/// Middleware of the API: every answer to a call made with a rate-limited
/// token carries `RateLimit-Limit`, `-Remaining` and `-Reset`, as `/auth`'s
/// do (a 429 sets its own).
pub(crate) async fn rate_limit_headers(mut request: Request, next: Next) -> Response {
    let slot = RateSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(rate) = slot.0.get() {
        if !response
            .headers()
            .contains_key(crate::error::RATELIMIT_LIMIT)
        {
            crate::error::rate_headers(response.headers_mut(), rate);
        }
    }
    response
}

/// The caller a token makes, once its controls admitted the use.
pub(crate) async fn from_token(
    state: &AppState,
    presented: &str,
    addr: Option<IpAddr>,
    ip: Option<String>,
) -> ApiResult<Caller> {
    Ok(admit_token(state, presented, addr, ip).await?.0)
}

/// [`from_token`], and the token's rate-limit window after this use.
async fn admit_token(
    state: &AppState,
    presented: &str,
    addr: Option<IpAddr>,
    ip: Option<String>,
) -> ApiResult<(Caller, Option<RateState>)> {
    let now = state.now();
    let verified = verify_token(state, presented, now)
        .await?
        .map_err(rejection_error)?;
    let rate = crate::verify::controls::admit(state, &verified, addr, now).await?;
    state
        .engine
        .record_use(&verified, tessera_engine::Outcome::Valid, now, addr);
    // API calls are not the hot path: owned copies keep handlers simple.
    let identity = match verified.principal() {
        Principal::Member(m) => Identity::Member(m.member.clone()),
        Principal::ServiceAccount(a) => Identity::ServiceAccount(a.account.clone()),
    };
    let caller = Caller {
        identity,
        org: verified.org().clone(),
        permissions: verified.permissions().clone(),
        via: Via::Token {
            token: Box::new(verified.token().clone()),
            scope: verified.scope().clone(),
            superseded: verified.superseded(),
        },
        ip,
    };
    Ok((caller, rate))
}

/// The caller behind a session cookie's secret (the web pages use this
/// directly: their forms carry the CSRF token in a field, not a header).
pub async fn from_session(state: &AppState, secret: &str, ip: Option<String>) -> ApiResult<Caller> {
    let expired =
        || ApiError::unauthenticated("the login session has expired or ended; log in again");
    let id_hash = SecretHash::of(secret);
    let session = state
        .store
        .get_session(&id_hash)
        .await?
        .ok_or_else(expired)?;
    if session.expires_at <= state.now() {
        return Err(expired());
    }
    let member = state
        .engine
        .member(&session.org_id, &session.member_id)
        .await?
        .ok_or_else(expired)?;
    let org = state
        .engine
        .org(&session.org_id)
        .await?
        .ok_or_else(expired)?;
    // The host product suspended the org: its sessions stay refused until
    // the suspension is lifted (the org comes from the engine's cache,
    // which the change feed keeps current on every node).
    if org.suspended_at.is_some() {
        return Err(crate::service::ServiceError::OrgSuspended.into());
    }
    Ok(Caller {
        identity: Identity::Member(member.member.clone()),
        org: (*org).clone(),
        permissions: member.permissions.clone(),
        via: Via::Session { id_hash },
        ip,
    })
}

fn check_csrf(method: &Method, headers: &HeaderMap, session_secret: &str) -> ApiResult<()> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if is_json {
        return Ok(());
    }
    let expected = crate::secrets::csrf_token(session_secret);
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), expected.as_bytes()).into() {
        Ok(())
    } else {
        Err(ApiError::CsrfFailed)
    }
}

/// The session cookie: never readable by scripts, not sent on cross-site
/// subrequests, and `Secure` whenever the client came over HTTPS. An empty
/// `value` with `max_age` 0 removes it.
pub fn session_cookie(https: Https, value: &str, max_age: i64) -> HeaderValue {
    let secure = if https.0 { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("tessera_session=; Path=/; Max-Age=0"))
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn both_schemes_and_garbage() {
        let t = |v: &str| presented_token(&headers(&[("authorization", v)]));
        assert_eq!(t("Bearer abc").ok().flatten().as_deref(), Some("abc"));
        assert_eq!(t("ApiKey abc").ok().flatten().as_deref(), Some("abc"));
        assert_eq!(t("bearer   abc ").ok().flatten().as_deref(), Some("abc"));
        assert!(t("Basic abc").is_err());
        assert!(t("Bearer").is_err());
        assert!(t("Bearer ").is_err());
        assert!(t("abc").is_err());
        assert_eq!(presented_token(&HeaderMap::new()).ok().flatten(), None);
    }

    #[test]
    fn cookies() {
        let h = headers(&[("cookie", "a=1; tessera_session=xyz; b=2")]);
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(
            cookie(&headers(&[("cookie", "tessera_session=")]), SESSION_COOKIE),
            None
        );
    }

    #[test]
    fn csrf_rules() {
        let secret = "s3cret";
        let token = crate::secrets::csrf_token(secret);
        assert!(check_csrf(&Method::GET, &HeaderMap::new(), secret).is_ok());
        assert!(check_csrf(&Method::POST, &HeaderMap::new(), secret).is_err());
        assert!(check_csrf(
            &Method::POST,
            &headers(&[("content-type", "application/json")]),
            secret
        )
        .is_ok());
        assert!(check_csrf(
            &Method::POST,
            &headers(&[("content-type", "application/x-www-form-urlencoded")]),
            secret
        )
        .is_err());
        assert!(check_csrf(&Method::DELETE, &headers(&[(CSRF_HEADER, &token)]), secret).is_ok());
        assert!(check_csrf(&Method::DELETE, &headers(&[(CSRF_HEADER, "nope")]), secret).is_err());
    }
}
