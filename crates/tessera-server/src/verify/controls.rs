//! A verified token's controls (allowed addresses, rate limit, quota) as
//! the three front ends apply them, and the usage they count.
//!
//! A token without controls costs one `Option` test here ([`check`]
//! returns before anything else); the engine does the spending.

use std::net::IpAddr;

use tessera_engine::{Checked, Denial, Outcome, RateState, Verified};
use time::OffsetDateTime;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Checks `verified`'s controls for one use from `ip` costing `cost`,
/// counting a refusal in the metrics. 503 when a quota could not be
/// reserved (storage unreachable): never an unbudgeted use.
pub(crate) async fn check(
    state: &AppState,
    verified: &Verified,
    ip: Option<IpAddr>,
    cost: i64,
    now: OffsetDateTime,
) -> ApiResult<Checked> {
    if verified.token().controls.is_none() {
        return Ok(Checked::default());
    }
    // Boxed: the limiter's future is large, and kept inline it would
    // make every verification's future (moved, so copied, as it is
    // served) larger, controls or not.
    let checked = Box::pin(state.engine.check_controls(verified, ip, cost, now))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "could not reserve a token's quota; refusing the use");
            ApiError::unavailable()
        })?;
    if let Some(denial) = checked.denial {
        state.metrics.denial(denial.code());
    }
    Ok(checked)
}

/// The usage outcome of a refusal.
pub(crate) fn outcome(denial: Denial) -> Outcome {
    match denial {
        Denial::IpNotAllowed => Outcome::IpNotAllowed,
        Denial::RateLimited => Outcome::RateLimited,
        Denial::QuotaExhausted => Outcome::QuotaExhausted,
    }
}

/// The error Tessera's API and `/auth` answer a refusal with.
pub(crate) fn refusal(denial: Denial, checked: &Checked) -> ApiError {
    match denial {
        Denial::IpNotAllowed => ApiError::IpNotAllowed,
        Denial::RateLimited => {
            let rate = checked.rate.unwrap_or(RateState {
                limit: 0,
                remaining: 0,
                reset: 1,
            });
            ApiError::TokenRateLimited {
                retry_after: rate.reset,
                limit: rate.limit,
            }
        }
        Denial::QuotaExhausted => ApiError::QuotaExhausted,
    }
}

/// Checks the controls of a token used on Tessera's API or `/auth`,
/// counting the use: the refusal as an error, else the rate-limit state
/// for the answer's headers.
pub(crate) async fn admit(
    state: &AppState,
    verified: &Verified,
    ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> ApiResult<Option<RateState>> {
    let checked = check(state, verified, ip, 1, now).await?;
    if let Some(denial) = checked.denial {
        state.engine.record_use(verified, outcome(denial), now, ip);
        return Err(refusal(denial, &checked));
    }
    Ok(checked.rate)
}

pub(crate) use crate::error::rate_headers;
