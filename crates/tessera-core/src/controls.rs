//! Token controls checked at verification time: the addresses a token may
//! be used from, a rate limit, and a usage quota that may refill.
//!
//! Pure rules only: parsing and bounds (so every front end refuses the
//! same input the same way), whether an address is allowed, and which
//! refill period a moment falls in. Spending a quota or a rate limit's
//! budget is the engine's (in memory) and the store's (one conditional
//! `UPDATE` per batch), see docs/scale-out.md.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Error;

/// Most entries in `allowed_ips`: a list is checked entry by entry on
/// every use, and a longer one is a sign of a mistake (use wider ranges).
pub const MAX_ALLOWED_IPS: usize = 100;
/// Largest `rate_limit.requests`.
pub const MAX_RATE_REQUESTS: i64 = 1_000_000_000;
/// Longest rate-limit window: one day.
pub const MAX_RATE_SECONDS: i64 = 86_400;
/// Largest quota (and refill amount): 10^12 uses.
pub const MAX_QUOTA: i64 = 1_000_000_000_000;
/// Largest `cost` of one `/verify`.
pub const MAX_COST: i64 = 1_000_000;

/// An address range, `10.0.0.0/8` or `2001:db8::/32`; a bare address is
/// its own range (`/32`, `/128`). IPv4-mapped IPv6 ranges
/// (`::ffff:10.0.0.0/104`) are kept as the IPv4 range they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address (host bits cleared).
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Does the range hold `ip`? An IPv4-mapped IPv6 address is checked
    /// as the IPv4 address it carries.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask_v4(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask_v6(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }

    /// `0.0.0.0/0` or `::/0`: every address of its family.
    pub fn is_any(&self) -> bool {
        self.prefix == 0
    }
}

fn mask_v4(bits: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - u32::from(prefix)))
    }
}

fn mask_v6(bits: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(prefix)))
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{}` is not an IP address or CIDR range", s.escape_debug());
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // Digits only: `+8` or ` 8` are not CIDR.
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => max,
        };
        if prefix > max {
            return Err(format!(
                "`{}`: the prefix length is at most {max}",
                s.escape_debug()
            ));
        }
        // `::ffff:a.b.c.d/104` is the IPv4 range `a.b.c.d/8`.
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                (addr.to_canonical(), prefix - 96)
            }
            _ => (addr, prefix),
        };
        let addr = match addr {
            IpAddr::V4(v4) => IpAddr::V4(mask_v4(u32::from(v4), prefix).into()),
            IpAddr::V6(v6) => IpAddr::V6(mask_v6(u128::from(v6), prefix).into()),
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// At most `requests` uses per `per_seconds`-second window (windows are
/// aligned to the Unix epoch, so every node agrees where one starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub requests: i64,
    pub per_seconds: i64,
}

impl RateLimit {
    /// The start (Unix seconds) of the window `now` falls in.
    pub fn window_start(&self, now: OffsetDateTime) -> i64 {
        let t = now.unix_timestamp();
        t - t.rem_euclid(self.per_seconds.max(1))
    }

    /// Seconds until the window `now` falls in ends (at least 1).
    pub fn reset_after(&self, now: OffsetDateTime) -> i64 {
        (self.window_start(now) + self.per_seconds - now.unix_timestamp()).max(1)
    }
}

/// How often a quota refills: at the start of each UTC day or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefillInterval {
    Day,
    Month,
}

/// A quota's refill: back to `amount` uses at the start of each interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refill {
    pub amount: i64,
    pub interval: RefillInterval,
}

impl Refill {
    /// A number naming the interval `now` falls in; later intervals have
    /// larger numbers (days since the epoch, or months since year 0).
    pub fn period(&self, now: OffsetDateTime) -> i64 {
        match self.interval {
            RefillInterval::Day => now.unix_timestamp().div_euclid(86_400),
            RefillInterval::Month => i64::from(now.year()) * 12 + i64::from(u8::from(now.month())),
        }
    }
}

/// Uses left; each allowed use spends its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub remaining: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill: Option<Refill>,
}

/// A token's controls. A token without any has `None` in its record, so
/// verification of such a token checks one `Option` and nothing more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenControls {
    /// Empty: any address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<Cidr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
}

impl TokenControls {
    pub fn is_empty(&self) -> bool {
        self.allowed_ips.is_empty() && self.rate_limit.is_none() && self.quota.is_none()
    }

    /// Checks every bound; the controls as they will be kept.
    pub fn validate(self) -> Result<Self, Error> {
        let invalid = |field, reason: String| Error::Invalid { field, reason };
        if self.allowed_ips.len() > MAX_ALLOWED_IPS {
            return Err(invalid(
                "allowed_ips",
                format!(
                    "at most {MAX_ALLOWED_IPS} ranges ({} given); use wider ranges",
                    self.allowed_ips.len()
                ),
            ));
        }
        if let Some(r) = self.rate_limit {
            if !(1..=MAX_RATE_REQUESTS).contains(&r.requests) {
                return Err(invalid(
                    "rate_limit.requests",
                    format!("must be between 1 and {MAX_RATE_REQUESTS}"),
                ));
            }
            if !(1..=MAX_RATE_SECONDS).contains(&r.per_seconds) {
                return Err(invalid(
                    "rate_limit.per_seconds",
                    format!("must be between 1 and {MAX_RATE_SECONDS} (one day)"),
                ));
            }
        }
        if let Some(q) = self.quota {
            if !(0..=MAX_QUOTA).contains(&q.remaining) {
                return Err(invalid(
                    "quota.remaining",
                    format!("must be between 0 and {MAX_QUOTA}"),
                ));
            }
            if let Some(refill) = q.refill {
                if !(1..=MAX_QUOTA).contains(&refill.amount) {
                    return Err(invalid(
                        "quota.refill.amount",
                        format!("must be between 1 and {MAX_QUOTA}"),
                    ));
                }
            }
        }
        Ok(self)
    }

    /// Is `ip` allowed? With no list every address is; with one, an
    /// unknown address is not.
    pub fn ip_allowed(&self, ip: Option<IpAddr>) -> bool {
        if self.allowed_ips.is_empty() {
            return true;
        }
        ip.is_some_and(|ip| self.allowed_ips.iter().any(|c| c.contains(ip)))
    }
}

/// Checks a `/verify` `cost`.
pub fn check_cost(cost: i64) -> Result<i64, Error> {
    if (1..=MAX_COST).contains(&cost) {
        Ok(cost)
    } else {
        Err(Error::Invalid {
            field: "cost",
            reason: format!("must be between 1 and {MAX_COST}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cidr(s: &str) -> Cidr {
        s.parse().expect(s)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect(s)
    }

    #[test]
    fn ranges_hold_their_addresses() {
        assert!(cidr("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!cidr("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(cidr("10.1.2.3").contains(ip("10.1.2.3")));
        assert!(!cidr("10.1.2.3").contains(ip("10.1.2.4")));
        assert!(cidr("2001:db8::/32").contains(ip("2001:db8:1::5")));
        assert!(!cidr("2001:db8::/32").contains(ip("2001:db9::5")));
        assert!(cidr("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(cidr("0.0.0.0/0").is_any());
        assert!(cidr("::/0").contains(ip("::1")));
        assert!(!cidr("::/0").contains(ip("8.8.8.8")), "families differ");
    }

    #[test]
    fn ipv4_mapped_ipv6_is_ipv4() {
        assert!(cidr("10.0.0.0/8").contains(ip("::ffff:10.1.1.1")));
        assert_eq!(cidr("::ffff:10.0.0.0/104"), cidr("10.0.0.0/8"));
        assert_eq!(cidr("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn host_bits_are_cleared_and_shown() {
        assert_eq!(cidr("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("2001:db8::1").to_string(), "2001:db8::1/128");
    }

    #[test]
    fn malformed_ranges_are_refused() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/ 8",
            "nope",
            "10.0.0.0/8/8",
            "1.2.3.4/0008",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn bounds_are_checked() {
        let too_many = TokenControls {
            allowed_ips: vec![cidr("10.0.0.1"); MAX_ALLOWED_IPS + 1],
            ..Default::default()
        };
        assert!(too_many.validate().is_err());
        for (requests, per_seconds) in [(0, 60), (-1, 60), (10, 0), (10, 86_401), (i64::MAX, 1)] {
            let c = TokenControls {
                rate_limit: Some(RateLimit {
                    requests,
                    per_seconds,
                }),
                ..Default::default()
            };
            assert!(c.validate().is_err(), "{requests}/{per_seconds}");
        }
        let negative = TokenControls {
            quota: Some(Quota {
                remaining: -1,
                refill: None,
            }),
            ..Default::default()
        };
        assert!(negative.validate().is_err());
        assert!(
            check_cost(0).is_err() && check_cost(-3).is_err() && check_cost(MAX_COST + 1).is_err()
        );
        assert_eq!(check_cost(5), Ok(5));
    }

    #[test]
    fn an_address_list_needs_an_address() {
        let c = TokenControls {
            allowed_ips: vec![cidr("10.0.0.0/8")],
            ..Default::default()
        };
        assert!(c.ip_allowed(Some(ip("10.0.0.1"))));
        assert!(!c.ip_allowed(Some(ip("192.168.0.1"))));
        assert!(!c.ip_allowed(None));
        assert!(TokenControls::default().ip_allowed(None));
    }

    #[test]
    fn windows_and_periods() {
        let r = RateLimit {
            requests: 10,
            per_seconds: 60,
        };
        let now = datetime!(2026-03-01 10:00:45 UTC);
        assert_eq!(r.window_start(now), now.unix_timestamp() - 45);
        assert_eq!(r.reset_after(now), 15);
        let month = Refill {
            amount: 5,
            interval: RefillInterval::Month,
        };
        assert!(
            month.period(datetime!(2026-03-01 0:00 UTC))
                > month.period(datetime!(2026-02-28 23:59 UTC))
        );
        let day = Refill {
            amount: 5,
            interval: RefillInterval::Day,
        };
        assert_eq!(
            day.period(datetime!(2026-03-01 0:00 UTC)),
            day.period(datetime!(2026-03-01 23:59:59 UTC))
        );
    }
}
