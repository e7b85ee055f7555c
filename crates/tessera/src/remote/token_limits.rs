//! The token-control flags of `token create` / `token update` (and
//! `service-account token create`): `--allow-ip`, `--rate-limit`,
//! `--quota`, `--refill`; and `tessera token usage`.
//!
//! Each flag's form is checked here, so a typo is a message and a
//! non-zero exit before anything is sent; the bounds are the server's.

use clap::Args;
use tessera_api::{
    CreateTokenRequest, Quota, QuotaRefill, RateLimit, RefillInterval, TokenUsage,
    UpdateTokenRequest,
};
use tessera_core::controls::Cidr;

use super::input::parse_duration;
use super::output;
use super::Connection;
use crate::error::CliError;

/// The controls a new token gets.
#[derive(Debug, Default, Args)]
pub struct LimitArgs {
    /// Allow the token only from this address or CIDR range (repeatable;
    /// IPv4 or IPv6, e.g. 203.0.113.0/24).
    #[arg(long = "allow-ip", value_name = "CIDR", value_parser = parse_cidr)]
    pub allow_ips: Vec<String>,
    /// At most N uses per period: 100/60s, 1000/1h, 5/1m.
    #[arg(long, value_name = "N/DURATION", value_parser = parse_rate)]
    pub rate_limit: Option<RateLimit>,
    /// Allow this many uses in all (each use spends one, or /verify's cost).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub quota: Option<i64>,
    /// Refill the quota to N at the start of each UTC day or month:
    /// 1000/month, 50/day.
    #[arg(long, value_name = "N/day|month", value_parser = parse_refill, requires = "quota")]
    pub refill: Option<QuotaRefill>,
}

impl LimitArgs {
    pub fn apply(&self, request: &mut CreateTokenRequest) {
        if !self.allow_ips.is_empty() {
            request.allowed_ips = Some(self.allow_ips.clone());
        }
        request.rate_limit = self.rate_limit;
        request.quota = self.quota.map(|remaining| Quota {
            remaining,
            refill: self.refill,
        });
    }
}

/// The controls `token update` changes.
#[derive(Debug, Default, Args)]
pub struct UpdateLimitArgs {
    #[command(flatten)]
    pub set: LimitArgs,
    /// Allow the token from any address again.
    #[arg(long, conflicts_with = "allow_ips")]
    pub no_allow_ip: bool,
    /// Remove the rate limit.
    #[arg(long, conflicts_with = "rate_limit")]
    pub no_rate_limit: bool,
    /// Remove the quota.
    #[arg(long, conflicts_with = "quota")]
    pub no_quota: bool,
}

impl UpdateLimitArgs {
    pub fn apply(&self, request: &mut UpdateTokenRequest) {
        if self.no_allow_ip {
            request.allowed_ips = Some(None);
        } else if !self.set.allow_ips.is_empty() {
            request.allowed_ips = Some(Some(self.set.allow_ips.clone()));
        }
        if self.no_rate_limit {
            request.rate_limit = Some(None);
        } else if let Some(rate) = self.set.rate_limit {
            request.rate_limit = Some(Some(rate));
        }
        if self.no_quota {
            request.quota = Some(None);
        } else if let Some(remaining) = self.set.quota {
            request.quota = Some(Some(Quota {
                remaining,
                refill: self.set.refill,
            }));
        }
    }
}

fn parse_cidr(text: &str) -> Result<String, String> {
    text.trim().parse::<Cidr>().map(|c| c.to_string())
}

/// `100/60s`: N uses per duration (`/60s`, `/1m`, `/1h`, `/1d`; a bare
/// number is seconds).
pub(crate) fn parse_rate(text: &str) -> Result<RateLimit, String> {
    let usage = || format!("{text:?} is not a rate limit: use N/DURATION, like 100/60s or 1000/1h");
    let (n, per) = text.trim().split_once('/').ok_or_else(usage)?;
    let requests: i64 = n.trim().parse().map_err(|_| usage())?;
    if requests <= 0 {
        return Err(format!("{text:?}: the number of requests must be positive"));
    }
    let per = per.trim();
    let per_seconds = match per.parse::<i64>() {
        Ok(seconds) if seconds > 0 => seconds,
        Ok(_) => return Err(format!("{text:?}: the period must be positive")),
        Err(_) => parse_duration(per)?.whole_seconds(),
    };
    Ok(RateLimit {
        requests,
        per_seconds,
    })
}

/// `1000/month` or `50/day`.
pub(crate) fn parse_refill(text: &str) -> Result<QuotaRefill, String> {
    let usage = || format!("{text:?} is not a refill: use N/day or N/month, like 1000/month");
    let (n, interval) = text.trim().split_once('/').ok_or_else(usage)?;
    let amount: i64 = n.trim().parse().map_err(|_| usage())?;
    if amount <= 0 {
        return Err(format!("{text:?}: the refill amount must be positive"));
    }
    let interval = match interval.trim() {
        "day" | "daily" => RefillInterval::Day,
        "month" | "monthly" => RefillInterval::Month,
        _ => return Err(usage()),
    };
    Ok(QuotaRefill { amount, interval })
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// The token's id, or `self`.
    pub id: String,
    /// Days to show, today included (1 to 90).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=90))]
    pub days: u32,
    #[command(flatten)]
    pub conn: Connection,
}

/// `tessera token usage ID [--days N]`.
pub async fn usage(args: UsageArgs) -> Result<(), CliError> {
    let days = args.days;
    args.conn
        .show(async |c| c.token_usage(&args.id, Some(days)).await, table)
        .await
        .map(drop)
}

fn table(usage: &TokenUsage) -> String {
    let mut out =
        String::from("date        valid  denied  rate_limited  quota_exhausted  ip_not_allowed\n");
    for d in &usage.days {
        out.push_str(&format!(
            "{}  {:>5}  {:>6}  {:>12}  {:>15}  {:>14}\n",
            d.date, d.valid, d.denied, d.rate_limited, d.quota_exhausted, d.ip_not_allowed
        ));
    }
    if usage.recent_ips.is_empty() {
        out.push_str("\nNo client addresses seen yet.");
    } else {
        out.push_str("\nrecent addresses:\n");
        for ip in &usage.recent_ips {
            out.push_str(&format!("  {}  {}\n", ip.ip, output::time(ip.last_seen_at)));
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_forms() {
        assert_eq!(
            parse_rate("100/60s"),
            Ok(RateLimit {
                requests: 100,
                per_seconds: 60
            })
        );
        assert_eq!(parse_rate("5/1h").map(|r| r.per_seconds), Ok(3600));
        assert_eq!(parse_rate("5/30").map(|r| r.per_seconds), Ok(30));
        for bad in [
            "100", "0/60s", "-1/60s", "x/60s", "10/0s", "10/0", "10/soon",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_refill("1000/month"),
            Ok(QuotaRefill {
                amount: 1000,
                interval: RefillInterval::Month
            })
        );
        for bad in ["1000", "0/day", "10/week", "x/day"] {
            assert!(parse_refill(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_cidr("10.1.2.3/8"), Ok("10.0.0.0/8".into()));
        assert!(parse_cidr("10.0.0.0/33").is_err());
    }
}
