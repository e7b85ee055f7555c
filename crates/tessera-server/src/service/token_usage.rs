//! A token's usage per day and its recent addresses (`GET
//! /tokens/{id}/usage`): what storage holds plus this node's unflushed
//! counts. Apart from `token_limits`, which `tokens` uses, because this
//! reads tokens through `tokens::load`.

use tessera_api::{RecentIp, TokenUsage, UsageDay};
use time::{Date, OffsetDateTime};

use super::token_limits::MAX_USAGE_DAYS;
use super::{Call, ServiceError, ServiceResult};

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
    let (pending, pending_ips) = state.engine.activity().usage(&token.id);
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
