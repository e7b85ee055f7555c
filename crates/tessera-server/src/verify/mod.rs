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
pub mod forward_auth;
pub mod hot;
pub mod leaks;
pub mod routes;
pub mod rules;

pub use routes::answer;

use std::time::Instant;

use axum::http::{header, HeaderMap};
use tessera_engine::{Rejection, Verified};
use time::OffsetDateTime;

use tessera_core::policy::check_resource_shape;

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

/// Longest action or resource a service may ask about.
const MAX_CHECK_LEN: usize = 1024;

/// Checks an action/resource pair a service asks about.
pub(crate) fn check_question(action: Option<&str>, resource: Option<&str>) -> ApiResult<()> {
    match (action, resource) {
        (None, None) => Ok(()),
        (Some(action), Some(resource)) => {
            if action.is_empty() || action.len() > MAX_CHECK_LEN || !action.contains(':') {
                return Err(ApiError::bad_request("action must look like `type:verb`"));
            }
            if resource.len() > MAX_CHECK_LEN || check_resource_shape(resource, false).is_err() {
                return Err(ApiError::bad_request(
                    "resource must be `:`-separated `type/name` segments, like `proj/web:env/prod`",
                ));
            }
            Ok(())
        }
        _ => Err(ApiError::bad_request(
            "give both `action` and `resource`, or neither",
        )),
    }
}

/// The 401 for a refused token.
pub fn rejection_error(rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::Malformed | Rejection::Invalid => ApiError::InvalidToken,
        Rejection::Expired => ApiError::TokenExpired,
        Rejection::Disabled => ApiError::TokenDisabled,
        Rejection::OrgSuspended => crate::service::ServiceError::OrgSuspended.into(),
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
