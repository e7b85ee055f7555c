//! A token's controls as the API sets and shows them (`allowed_ips`,
//! `rate_limit`, `quota`), and its usage (`GET /tokens/{id}/usage`).
//!
//! Malformed addresses are a `400` (they are not what the field holds);
//! a list too long and numbers out of bounds are a `422` naming the rule
//! (`tessera_core::controls`). A PATCH changes only the controls it sends;
//! `null` removes one. Sending a quota sets its count anew.

use tessera_api::{Quota, RateLimit, RefillInterval, UpdateTokenRequest};
use tessera_core::controls::{self as core, Cidr, TokenControls};
use time::OffsetDateTime;

use super::{ServiceError, ServiceResult};

/// Most days `GET /tokens/{id}/usage` covers.
pub const MAX_USAGE_DAYS: u32 = 90;

/// The controls a create request asks for; `None` for none.
pub(crate) fn from_create(
    allowed_ips: Option<Vec<String>>,
    rate_limit: Option<RateLimit>,
    quota: Option<Quota>,
) -> ServiceResult<Option<Box<TokenControls>>> {
    let controls = TokenControls {
        allowed_ips: parse_ips(allowed_ips.unwrap_or_default())?,
        rate_limit: rate_limit.map(to_core_rate),
        quota: quota.map(to_core_quota),
    }
    .validate()?;
    Ok((!controls.is_empty()).then(|| Box::new(controls)))
}

/// The controls as a PATCH leaves them (`None`: none), and (when it sets
/// the quota) the refill period its count starts in.
pub(crate) type ControlsChange = (Option<TokenControls>, Option<Option<i64>>);

/// What a PATCH does to the controls: `None` when it sends none of them;
/// else the controls as they will be, and (when it sends a quota) the
/// refill period its count starts in.
pub(crate) fn from_update(
    current: Option<&TokenControls>,
    request: &UpdateTokenRequest,
    now: OffsetDateTime,
) -> ServiceResult<Option<ControlsChange>> {
    if request.allowed_ips.is_none() && request.rate_limit.is_none() && request.quota.is_none() {
        return Ok(None);
    }
    let mut controls = current.cloned().unwrap_or_default();
    if let Some(ips) = &request.allowed_ips {
        controls.allowed_ips = parse_ips(ips.clone().unwrap_or_default())?;
    }
    if let Some(rate) = request.rate_limit {
        controls.rate_limit = rate.map(to_core_rate);
    }
    let mut quota_reset = None;
    if let Some(quota) = request.quota {
        controls.quota = quota.map(to_core_quota);
        quota_reset = Some(controls.quota.and_then(|q| q.refill).map(|r| r.period(now)));
    }
    let controls = controls.validate()?;
    Ok(Some((
        (!controls.is_empty()).then_some(controls),
        quota_reset,
    )))
}

fn parse_ips(ips: Vec<String>) -> ServiceResult<Vec<Cidr>> {
    if ips.len() > core::MAX_ALLOWED_IPS {
        return Err(tessera_core::Error::Invalid {
            field: "allowed_ips",
            reason: format!(
                "at most {} ranges ({} given); use wider ranges",
                core::MAX_ALLOWED_IPS,
                ips.len()
            ),
        }
        .into());
    }
    let mut parsed: Vec<Cidr> = Vec::with_capacity(ips.len());
    for ip in &ips {
        let cidr: Cidr = ip
            .parse()
            .map_err(|e| ServiceError::BadRequest(format!("allowed_ips: {e}")))?;
        if !parsed.contains(&cidr) {
            parsed.push(cidr);
        }
    }
    Ok(parsed)
}

fn to_core_rate(r: RateLimit) -> core::RateLimit {
    core::RateLimit {
        requests: r.requests,
        per_seconds: r.per_seconds,
    }
}

fn to_core_quota(q: Quota) -> core::Quota {
    core::Quota {
        remaining: q.remaining,
        refill: q.refill.map(|r| core::Refill {
            amount: r.amount,
            interval: match r.interval {
                RefillInterval::Day => core::RefillInterval::Day,
                RefillInterval::Month => core::RefillInterval::Month,
            },
        }),
    }
}
