//! Verification as the server uses it: the engine's answer, counted in the
//! metrics, mapped to API errors. `tessera-engine` does the work; the API's
//! own authentication, `POST /verify` and `GET /auth` all come through
//! here, so they cannot disagree on whether a token is valid.

use std::time::Instant;

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
