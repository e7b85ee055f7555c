//! The token page's "Access" section: who may use the token from where
//! and how much (allowed addresses, rate limit, quota), and a 30-day chart
//! of its uses, drawn on the server as inline SVG (no script: the page's
//! CSP allows none, and SVG presentation attributes need none).
//!
//! The form builds the same `PATCH /tokens/{id}` request as the API, so
//! the page obeys the API's checks exactly.

use std::fmt::Write;

use tessera_api::{
    Quota, QuotaRefill, RateLimit, RefillInterval, TokenResponse, UpdateTokenRequest,
};

use super::forms::{FormData, Problems};
use crate::service::{token_usage, Call};

/// Form fields an API error may be about.
pub(super) const ACCESS_FIELDS: &[&str] = &["allowed_ips", "rate_limit", "quota"];

/// The section's contents.
pub(super) struct AccessView {
    /// One range per line; empty for any address.
    pub allowed_ips: String,
    /// "Any address" when the list lets every address through.
    pub any_address: bool,
    pub rate_requests: String,
    pub rate_seconds: String,
    pub quota: String,
    pub refill_amount: String,
    /// `""`, `day` or `month`.
    pub refill_interval: String,
    /// A summary line for people ("100 per 60 s; 940 uses left").
    pub summary: String,
    pub problems: Problems,
    /// The chart, as trusted markup made here (numbers and fixed text).
    pub chart: String,
    pub total_30_days: i64,
}

/// The form's fields as the token is now.
pub(super) fn form_of(token: &TokenResponse) -> FormData {
    let mut pairs = Vec::new();
    if let Some(ips) = &token.allowed_ips {
        pairs.push(("allowed_ips".to_owned(), ips.join("\n")));
    }
    if let Some(r) = token.rate_limit {
        pairs.push(("rate_requests".into(), r.requests.to_string()));
        pairs.push(("rate_seconds".into(), r.per_seconds.to_string()));
    }
    if let Some(q) = token.quota {
        pairs.push(("quota".into(), q.remaining.to_string()));
        if let Some(r) = q.refill {
            pairs.push(("refill_amount".into(), r.amount.to_string()));
            let interval = match r.interval {
                RefillInterval::Day => "day",
                RefillInterval::Month => "month",
            };
            pairs.push(("refill_interval".into(), interval.into()));
        }
    }
    FormData::from_pairs(pairs)
}

/// The section for `token`, its form showing `form` with `problems`.
pub(super) async fn view(
    call: &Call,
    token: &TokenResponse,
    form: &FormData,
    problems: Problems,
) -> AccessView {
    let usage = token_usage::usage(call, &token.id, Some(30)).await.ok();
    let (chart, total) = usage
        .as_ref()
        .map_or((String::new(), 0), |u| chart(&u.days));
    let mut summary = Vec::new();
    match &token.allowed_ips {
        None => summary.push("From any address".to_owned()),
        Some(ips) if any_address(ips) => {
            summary.push("From any address (0.0.0.0/0 or ::/0)".into())
        }
        Some(ips) => summary.push(format!("From {}", ips.join(", "))),
    }
    if let Some(r) = token.rate_limit {
        summary.push(format!(
            "at most {} uses per {} s",
            r.requests, r.per_seconds
        ));
    }
    if let Some(q) = token.quota {
        summary.push(format!("{} uses left", q.remaining));
    }
    AccessView {
        allowed_ips: form.get("allowed_ips").to_owned(),
        any_address: token.allowed_ips.as_deref().is_some_and(any_address),
        rate_requests: form.get("rate_requests").to_owned(),
        rate_seconds: form.get("rate_seconds").to_owned(),
        quota: form.get("quota").to_owned(),
        refill_amount: form.get("refill_amount").to_owned(),
        refill_interval: form.get("refill_interval").to_owned(),
        summary: summary.join("; "),
        problems,
        chart,
        total_30_days: total,
    }
}

fn any_address(ips: &[String]) -> bool {
    ips.iter().any(|ip| ip == "0.0.0.0/0" || ip == "::/0")
}

/// The `PATCH` the form asks for: every control as the form has it (an
/// empty field removes it).
pub(super) fn request(form: &FormData) -> Result<UpdateTokenRequest, Problems> {
    let number =
        |name: &'static str, field: &'static str, what: &str| -> Result<Option<i64>, Problems> {
            let text = form.get(name).trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<i64>()
                .map(Some)
                .map_err(|_| Problems::field(field, format!("{what} must be a whole number.")))
        };
    let ips: Vec<String> = form
        .get("allowed_ips")
        .split(|c: char| c == '\n' || c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let rate = match (
        number("rate_requests", "rate_limit", "The number of uses")?,
        number("rate_seconds", "rate_limit", "The period")?,
    ) {
        (Some(requests), Some(per_seconds)) => Some(RateLimit {
            requests,
            per_seconds,
        }),
        (None, None) => None,
        _ => {
            return Err(Problems::field(
                "rate_limit",
                "Give both the number of uses and the period, or neither.",
            ))
        }
    };
    let refill = match (
        number("refill_amount", "quota", "The refill amount")?,
        form.get("refill_interval"),
    ) {
        (None, "") => None,
        (Some(amount), "day") => Some(QuotaRefill {
            amount,
            interval: RefillInterval::Day,
        }),
        (Some(amount), "month") => Some(QuotaRefill {
            amount,
            interval: RefillInterval::Month,
        }),
        _ => {
            return Err(Problems::field(
                "quota",
                "A refill needs an amount and an interval (day or month).",
            ))
        }
    };
    let quota = match number("quota", "quota", "The quota")? {
        Some(remaining) => Some(Quota { remaining, refill }),
        None if refill.is_some() => {
            return Err(Problems::field("quota", "A refill needs a quota."))
        }
        None => None,
    };
    Ok(UpdateTokenRequest {
        allowed_ips: Some((!ips.is_empty()).then_some(ips)),
        rate_limit: Some(rate),
        // Only sent when changed: sending a quota sets its count anew.
        quota: Some(quota),
        ..UpdateTokenRequest::default()
    })
}

/// A bar per day (valid uses, and refusals stacked on top), with the
/// counts in each bar's title for screen readers and hovering.
fn chart(days: &[tessera_api::UsageDay]) -> (String, i64) {
    const WIDTH: usize = 600;
    const HEIGHT: i64 = 80;
    let refused = |d: &tessera_api::UsageDay| {
        d.denied + d.rate_limited + d.quota_exhausted + d.ip_not_allowed
    };
    let max = days
        .iter()
        .map(|d| d.valid + refused(d))
        .max()
        .unwrap_or(0)
        .max(1);
    let total: i64 = days.iter().map(|d| d.valid + refused(d)).sum();
    let step = WIDTH / days.len().max(1);
    let mut svg = format!(
        "<svg class=\"usage-chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {}\" width=\"100%\" \
         height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" aria-labelledby=\"usage-title\">\
         <title id=\"usage-title\">Uses per day over the last {} days: {total} in all</title>\
         <line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\" stroke=\"#888\" stroke-width=\"1\"/>",
        HEIGHT + 14,
        HEIGHT + 14,
        days.len()
    );
    for (i, d) in days.iter().enumerate() {
        let x = i * step + 1;
        let w = step.saturating_sub(2).max(1);
        let valid_h = d.valid * HEIGHT / max;
        let refused_h = refused(d) * HEIGHT / max;
        let _ = write!(
            svg,
            "<g><title>{}: {} valid, {} denied, {} rate limited, {} quota exhausted, {} address not allowed</title>\
             <rect x=\"{x}\" y=\"{}\" width=\"{w}\" height=\"{valid_h}\" fill=\"#2f7d4f\"/>\
             <rect x=\"{x}\" y=\"{}\" width=\"{w}\" height=\"{refused_h}\" fill=\"#c0392b\"/></g>",
            d.date,
            d.valid,
            d.denied,
            d.rate_limited,
            d.quota_exhausted,
            d.ip_not_allowed,
            HEIGHT - valid_h,
            HEIGHT - valid_h - refused_h,
        );
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"11\" fill=\"#555\">{}</text>\
             <text x=\"{WIDTH}\" y=\"{}\" font-size=\"11\" fill=\"#555\" text-anchor=\"end\">{}</text>",
            HEIGHT + 12,
            first.date,
            HEIGHT + 12,
            last.date
        );
    }
    svg.push_str("</svg>");
    (svg, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormData {
        FormData::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn the_form_becomes_the_api_request() {
        let r = request(&form(&[
            ("allowed_ips", "10.0.0.0/8\n 192.168.1.1, ::1"),
            ("rate_requests", "100"),
            ("rate_seconds", "60"),
            ("quota", "5"),
            ("refill_amount", "10"),
            ("refill_interval", "day"),
        ]))
        .expect("request");
        assert_eq!(r.allowed_ips.flatten().map(|v| v.len()), Some(3));
        assert_eq!(r.rate_limit.flatten().map(|r| r.requests), Some(100));
        assert_eq!(
            r.quota.flatten().and_then(|q| q.refill).map(|r| r.amount),
            Some(10)
        );
        let empty = request(&form(&[])).expect("request");
        assert_eq!(empty.allowed_ips, Some(None));
        assert_eq!(empty.rate_limit, Some(None));
        assert!(request(&form(&[("rate_requests", "5")])).is_err());
        assert!(request(&form(&[("quota", "x")])).is_err());
        assert!(request(&form(&[("refill_amount", "5"), ("refill_interval", "day")])).is_err());
    }

    #[test]
    fn the_chart_has_a_bar_per_day_and_no_script() {
        let days: Vec<tessera_api::UsageDay> = (1..=3)
            .map(|i| tessera_api::UsageDay {
                date: format!("2026-01-0{i}"),
                valid: i,
                denied: 0,
                rate_limited: 1,
                quota_exhausted: 0,
                ip_not_allowed: 0,
            })
            .collect();
        let (svg, total) = chart(&days);
        assert_eq!(total, 9);
        assert_eq!(svg.matches("<g>").count(), 3);
        assert!(!svg.contains("script") && !svg.contains("style="));
    }
}
