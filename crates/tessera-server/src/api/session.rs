//! Logging in and out, and "who am I".

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;
use tessera_api::{ChangePasswordRequest, LoginRequest, MeResponse, SessionResponse};
use tessera_core::lifecycle::{normalize_email, validate_password};
use tessera_core::model::{Actor, Member, Session};
use tessera_core::{resource, OrgKey};
use time::Duration;

use super::admin::org_response;
use super::members::member_response;
use super::tokens::token_response;
use super::ApiJson;
use crate::auth::{Caller, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::headers::Https;
use crate::secrets;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/me/password", put(change_password))
}

/// Log in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = SessionResponse), (status = 400, body = tessera_api::ErrorBody),
        (status = 401, body = tessera_api::ErrorBody), (status = 429, body = tessera_api::ErrorBody),
        (status = 503, description = "too many password checks waiting (a login flood); Retry-After says when to retry", body = tessera_api::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    https: Https,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    start_session(&state, ip, https, body).await
}

/// The credential check (with its throttling) and session creation behind
/// `POST /session`, also used by the web login page: a JSON
/// [`SessionResponse`] with the cookie.
pub async fn start_session(
    state: &AppState,
    ip: ClientIp,
    https: Https,
    body: LoginRequest,
) -> ApiResult<Response> {
    let member = check_credentials(
        state,
        ip.0.as_deref(),
        &body.email,
        body.password,
        body.org.as_deref(),
    )
    .await?;
    let org = state
        .store
        .get_org(&member.org_id)
        .await?
        .ok_or_else(|| ApiError::Internal("member without org".into()))?;
    let (secret, id_hash) = secrets::new_session_secret();
    let now = state.now();
    let ttl = Duration::hours(i64::try_from(state.config.sessions.ttl_hours).unwrap_or(12));
    let session = Session {
        id_hash,
        member_id: member.id.clone(),
        org_id: org.id.clone(),
        created_at: now,
        expires_at: now + ttl,
    };
    let event = state.audit(
        &org.id,
        Actor {
            member: Some(member.id.clone()),
            token: None,
        },
        ip.0.clone(),
        "session:create",
        resource::member(&member.id),
        json!({}),
    );
    state.store.create_session(&session, &event).await?;
    let body = SessionResponse {
        member: member_response(&member),
        org: org_response(&org),
        csrf_token: secrets::csrf_token(&secret),
        expires_at: session.expires_at,
    };
    let cookie = session_cookie(https, &secret, ttl.whole_seconds());
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// The credential check behind every login form (this API and the web
/// page): throttling, then one argon2 verification whatever the email, then
/// an audit event for a failure on a real account. Every failure is the
/// same `401 invalid_credentials`, whether or not the email exists; a
/// throttled attempt is `429 rate_limited` with `Retry-After`, also
/// whether or not it exists; an attempt that finds no free password-hashing
/// slot in time (a login flood) is `503 unavailable` with `Retry-After`.
pub async fn check_credentials(
    state: &AppState,
    ip: Option<&str>,
    email: &str,
    password: String,
    org: Option<&str>,
) -> ApiResult<Member> {
    let email = normalize_email(email)?;
    let org_key = org.map(OrgKey::parse).transpose()?;
    if let Err(blocked) = state.login_throttle.attempt(&email, ip, state.now()) {
        tracing::info!("login attempt refused by the throttle");
        return Err(ApiError::TooManyRequests {
            message: "too many failed logins; try again later".into(),
            retry_after_secs: blocked.retry_after_secs,
        });
    }
    let memberships = state.store.members_by_email(&email).await?;
    let mut candidates = memberships.clone();
    if let Some(key) = &org_key {
        let org = state.store.get_org_by_key(key).await?;
        candidates.retain(|m| org.as_ref().is_some_and(|o| o.id == m.org_id));
    }
    // Exactly one argon2 verification per attempt, whatever the number of
    // matching members (none, one, or one per org), so the time taken says
    // nothing about the email. With several (no `org` given), the password
    // is checked against one of them only, always the same one: the first
    // with a password, in the store's order (oldest membership first). Only
    // a right password for it learns that an org must be chosen; anything
    // else is the same 401 as an unknown email.
    let candidate = candidates.iter().find(|m| m.password_hash.is_some());
    let hash = candidate.and_then(|m| m.password_hash.clone()); // None: the dummy hash
    let matched = if secrets::verify_password(password, hash).await? {
        candidate.cloned()
    } else {
        None
    };
    let Some(member) = matched else {
        audit_failed_login(state, memberships.first(), ip);
        return Err(ApiError::InvalidCredentials);
    };
    state.login_throttle.succeeded(&email, ip);
    if candidates.len() > 1 {
        return Err(ApiError::BadRequest(
            "this email belongs to several organizations; add \"org\": \"<org key>\" to choose one"
                .into(),
        ));
    }
    Ok(member)
}

/// Audits a failed login on a real account, in its org. Written in the
/// background, so a known email answers as fast as an unknown one.
fn audit_failed_login(state: &AppState, member: Option<&Member>, ip: Option<&str>) {
    let Some(m) = member else { return };
    let event = state.audit(
        &m.org_id,
        Actor {
            member: Some(m.id.clone()),
            token: None,
        },
        ip.map(str::to_owned),
        "session:login_failed",
        resource::member(&m.id),
        json!({}),
    );
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.append_audit(&event).await {
            tracing::warn!(error = %e, "could not audit a failed login");
        }
    });
}

/// The session cookie: never readable by scripts, not sent on cross-site
/// subrequests, and `Secure` whenever the client came over HTTPS.
pub fn session_cookie(https: Https, value: &str, max_age: i64) -> HeaderValue {
    let secure = if https.0 { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("tessera_session=; Path=/; Max-Age=0"))
}

/// Log out: ends this session (session only).
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    https: Https,
    caller: Caller,
) -> ApiResult<Response> {
    let id_hash = caller.require_session()?;
    let event = state.audit(
        &caller.org.id,
        caller.actor(),
        caller.ip.clone(),
        "session:delete",
        resource::member(&caller.member.id),
        json!({}),
    );
    state.store.delete_session(&id_hash, Some(&event)).await?;
    let cookie = session_cookie(https, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Who am I, and through which token.
#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses((status = 200, body = MeResponse), (status = 401, body = tessera_api::ErrorBody)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Json<MeResponse> {
    Json(me_response_parts(&state, &caller))
}

pub fn me_response_parts(state: &AppState, caller: &Caller) -> MeResponse {
    MeResponse {
        member: member_response(&caller.member),
        org: org_response(&caller.org),
        authenticated_by: if caller.token().is_some() {
            "token"
        } else {
            "session"
        }
        .into(),
        token: caller.token().map(|t| token_response(state, t)),
    }
}

/// Change your password (session only); ends your other sessions.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "session", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody), (status = 422, body = tessera_api::ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let keep = caller.require_session()?;
    // Guessing the current password from a stolen session is password
    // guessing too: the same throttle as logins, for this account and IP.
    let ip = caller.ip.as_deref();
    if let Err(blocked) = state
        .login_throttle
        .attempt(&caller.member.email, ip, state.now())
    {
        return Err(ApiError::TooManyRequests {
            message: "too many wrong passwords; try again later".into(),
            retry_after_secs: blocked.retry_after_secs,
        });
    }
    let ok = secrets::verify_password(body.current_password, caller.member.password_hash.clone())
        .await?;
    if !ok {
        return Err(ApiError::NotAllowed("the current password is wrong".into()));
    }
    state.login_throttle.succeeded(&caller.member.email, ip);
    validate_password(&body.new_password)?;
    let hash = secrets::hash_password(body.new_password).await?;
    let event = state.audit(
        &caller.org.id,
        caller.actor(),
        caller.ip.clone(),
        "member:change_password",
        resource::member(&caller.member.id),
        json!({}),
    );
    state
        .store
        .set_password(&caller.member.id, &hash, &event)
        .await?;
    state
        .store
        .delete_member_sessions(&caller.member.id, Some(&keep))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The client's address, for handlers that run without a [`Caller`].
pub struct ClientIp(pub Option<String>);

/// The client's address, unformatted (the verification path records it
/// without allocating).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(crate::auth::client_addr(parts, state)))
    }
}

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> ApiResult<Self> {
        Ok(Self(crate::auth::client_ip(parts, state)))
    }
}
