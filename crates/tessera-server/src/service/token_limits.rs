//! A token's controls as the API sets and shows them (`allowed_ips`,
//! `rate_limit`, `quota`), and its usage (`GET /tokens/{id}/usage`).
//!
//! Malformed addresses are a `400` (they are not what the field holds);
//! a list too long and numbers out of bounds are a `422` naming the rule
//! (`tessera_core::controls`). A PATCH changes only the controls it sends;
//! `null` removes one. Sending a quota sets its count anew.

use tessera_api::{
    Quota, RateLimit, RecentIp, RefillInterval, TokenUsage, UpdateTokenRequest, UsageDay,
};
use tessera_core::controls::{self as core, Cidr, TokenControls};
use time::{Date, OffsetDateTime};

use super::{Call, ServiceError, ServiceResult};

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

/// `GET /tokens/{id}/usage?days=N`: the last `days` UTC days (today
/// included), oldest first, every day present; and the last 5 addresses.
/// Anyone who may read the token may read its usage.
pub async fn usage(call: &Call, id: &str, days: Option<u32>) -> ServiceResult<TokenUsage> {
    let (state, caller, now) = call.parts();
    let days = days.unwrap_or(30);
    if !(1..=MAX_USAGE_DAYS).contains(&days) {
        return Err(ServiceError::BadRequest(format!(
            "days must be between 1 and {MAX_USAGE_DAYS}"
        )));
    }
    let token = super::tokens::load(call, id).await?;
    caller.require_token("token:read", &token)?;
    let today = now.unix_timestamp().div_euclid(86_400);
    let first = today - i64::from(days) + 1;
    let mut counts = state.store.token_usage(&token.id, first, today).await?;
    // Not yet flushed on this node: added, so the owner sees uses at once.
    let (pending, pending_ips) = state.engine.usage().pending(&token.id);
    for (day, c) in pending {
        match counts.iter_mut().find(|(d, _)| *d == day) {
            Some((_, stored)) => stored.add(&c),
            None => counts.push((day, c)),
        }
    }
    let days = (first..=today)
        .map(|day| {
            let c = counts
                .iter()
                .find(|(d, _)| *d == day)
                .map(|(_, c)| *c)
                .unwrap_or_default();
            UsageDay {
                date: date_of(day),
                valid: c.valid,
                denied: c.denied,
                rate_limited: c.rate_limited,
                quota_exhausted: c.quota_exhausted,
                ip_not_allowed: c.ip_not_allowed,
            }
        })
        .collect();
    let mut recent: Vec<(String, OffsetDateTime)> = state.store.recent_ips(&token.id).await?;
    for (ip, at) in pending_ips {
        let Ok(at) = OffsetDateTime::from_unix_timestamp(at) else {
            continue;
        };
        let ip = ip.to_string();
        match recent.iter_mut().find(|(known, _)| *known == ip) {
            Some((_, seen)) => *seen = (*seen).max(at),
            None => recent.push((ip, at)),
        }
    }
    recent.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    recent.truncate(5);
    Ok(TokenUsage {
        days,
        recent_ips: recent
            .into_iter()
            .map(|(ip, last_seen_at)| RecentIp { ip, last_seen_at })
            .collect(),
    })
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
fn date_of(day: i64) -> String {
    let date = OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| t.date())
        .unwrap_or(Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}
