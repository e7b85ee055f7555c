//! Verification as the server uses it: the engine's answer, counted in the
//! metrics, mapped to API errors. `tessera-engine` does the work; the API's
//! own authentication, `POST /verify` and `GET /auth` all come through
//! here, so they cannot disagree on whether a token is valid. They also
//! read the presented token from the `Authorization` header the same way
//! ([`presented_credential`]).
//!
//! - [`routes`]: `POST /verify`, `GET /auth` and `POST /leaks` as routed
//!   handlers, and the answer they share; [`leaks`] is `POST /leaks`'
//!   handler.
//! - [`hot`]: the same two questions answered in front of the router, per
//!   connection, without the router's per-request costs.
//! - [`embedded`]: the same answer in process, for `tessera_client`'s layer.

pub mod embedded;
pub mod hot;
pub mod leaks;
pub mod routes;

pub use routes::answer;

use std::time::Instant;

use axum::http::{header, HeaderMap};
use tessera_engine::{Rejection, Verified};
use time::OffsetDateTime;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Verifies `presented` at `now`, counting the outcome.
pub async fn verify_token(
    state: &AppState,
    presented: &str,
    now: OffsetDateTime,
) -> ApiResult<Result<Verified, Rejection>> {
    let started = Instant::now();
    let result = state.engine.verify(presented, now).await;
    let outcome = match &result {
        Ok(Ok(_)) => "valid",
        Ok(Err(rejection)) => rejection.code(),
        Err(_) => "error",
    };
    state
        .metrics
        .count(outcome, started.elapsed().as_secs_f64());
    Ok(result?)
}

/// The 401 for a refused token.
pub fn rejection_error(rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::Malformed | Rejection::Invalid => ApiError::InvalidToken,
        Rejection::Expired => ApiError::TokenExpired,
    }
}

/// The token in the `Authorization` header, if there is one.
pub fn presented_token(headers: &HeaderMap) -> ApiResult<Option<String>> {
    presented_credential(headers).map(|c| c.map(str::to_owned))
}

/// [`presented_token`], borrowed from the request.
pub fn presented_credential(headers: &HeaderMap) -> ApiResult<Option<&str>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::unauthenticated(
            "malformed Authorization header: use `Bearer <token>` or `ApiKey <token>`",
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    let (scheme, credential) = text.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("apikey") {
        return Err(bad());
    }
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(bad());
    }
    Ok(Some(credential))
}
