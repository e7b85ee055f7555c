//! Logging in and out, and "who am I" (the credential checks are in
//! [`crate::service::sessions`]).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use tessera_api::{ChangePasswordRequest, LoginRequest, MeResponse, SessionResponse};

use super::ApiJson;
use crate::auth::{session_cookie, SessionCall};
use crate::error::ApiResult;
use crate::headers::Https;
use crate::peer::ClientAddr;
use crate::service::{sessions, Call};
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
    ClientAddr(addr): ClientAddr,
    https: Https,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let ip = addr.map(|addr| addr.to_string());
    let started = sessions::login(&state, ip.as_deref(), body, state.now()).await?;
    let cookie = session_cookie(https, &started.secret, started.max_age_seconds);
    Ok(([(header::SET_COOKIE, cookie)], Json(started.response)).into_response())
}

/// Log out: ends this session (session only).
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn logout(https: Https, SessionCall(call): SessionCall) -> ApiResult<Response> {
    sessions::logout(&call).await?;
    let cookie = session_cookie(https, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Who am I, and through which token.
#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses((status = 200, body = MeResponse), (status = 401, body = tessera_api::ErrorBody)))]
pub async fn me(call: Call) -> Json<MeResponse> {
    Json(sessions::me(&call))
}

/// Change your password (session only); ends your other sessions.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "session", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody), (status = 422, body = tessera_api::ErrorBody)))]
pub async fn change_password(
    SessionCall(call): SessionCall,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    sessions::change_password(&call, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
