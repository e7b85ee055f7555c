//! Fixed-window throttles: login throttling (a brake on password guessing,
//! per account and per client IP) and [`RateLimit`], a plain per-key limit
//! (leak reports per client IP).
//!
//! Each key (a normalised email, or an IP address) has a fixed window
//! (`login_throttle_window_seconds`). Failed logins count up within it; once
//! a key reaches its limit, every further attempt for that key is refused
//! with `429 rate_limited` until the window ends — before the database is
//! read or a password is hashed, so a refused attempt costs almost nothing.
//! A successful login clears its account's count but not its IP's (or one
//! attacker-owned account would reset an IP's count between guesses).
//!
//! [`RateLimit`] counts every request of a key, not only failures: `limit`
//! requests per window, then `429` until the window ends.
//!
//! Invariants (of both):
//! - Emails are counted whether or not a member has them, so a `429` says
//!   nothing about whether an account exists.
//! - State is in memory and per node: a restart forgets it, and `n` nodes
//!   let through up to `n` times the limit.
//! - The table is bounded ([`MAX_KEYS`]); when full, keys that are not
//!   blocked are dropped first, so flooding it with junk keys cannot lift a
//!   block that is in force.
//! - Time is a parameter (`now`), never read here.
//! - An IPv6 client is counted by its /64 ([`ip_key`]): one host or
//!   subscriber usually holds a whole /64, and could otherwise take a new
//!   address for every attempt.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// Most keys kept per table (accounts, IPs). A window is a few dozen bytes,
/// so a full table is a few megabytes.
pub const MAX_KEYS: usize = 100_000;

/// The key a client address is counted under: an IPv4 address as it is
/// (also when written as an IPv4-mapped IPv6 address); an IPv6 address by
/// its /64, the smallest block one subscriber or host is usually given.
/// Anything that is not an address is its own key.
pub fn ip_key(ip: &str) -> Cow<'_, str> {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => Cow::Owned(v4.to_string()),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                Cow::Owned(format!("{a:x}:{b:x}:{c:x}:{d:x}::/64"))
            }
        },
        Ok(IpAddr::V4(_)) | Err(_) => Cow::Borrowed(ip),
    }
}

/// The limits, from the configuration. A limit of 0 turns that check off.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_account: u32,
    pub per_ip: u32,
    pub window: Duration,
}

/// Failures of one key in its current window (for a [`RateLimit`]: its
/// requests).
#[derive(Debug, Clone, Copy)]
struct Window {
    started: OffsetDateTime,
    failures: u32,
}

/// The throttle shared by every login path (API and web page).
#[derive(Debug)]
pub struct LoginThrottle {
    limits: Limits,
    accounts: Mutex<HashMap<String, Window>>,
    ips: Mutex<HashMap<String, Window>>,
}

/// Why an attempt was refused, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub retry_after_secs: u64,
}

impl LoginThrottle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            accounts: Mutex::new(HashMap::new()),
            ips: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a login attempt for `email` from `ip`: refused if either is
    /// blocked, otherwise counted as a failure straight away (and taken back
    /// by [`succeeded`](Self::succeeded)). Counting before the password is
    /// checked means a burst of parallel guesses cannot all slip in while
    /// the first ones are still hashing.
    pub fn attempt(
        &self,
        email: &str,
        ip: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), Blocked> {
        let Limits {
            per_account,
            per_ip,
            window,
        } = self.limits;
        let ip = ip.map(ip_key);
        let ip = ip.as_deref();
        // Always accounts, then IPs: one lock order, no deadlock.
        let mut accounts = lock(&self.accounts);
        let mut ips = lock(&self.ips);
        let account_wait = blocked_for(&accounts, email, per_account, window, now);
        let ip_wait = ip.and_then(|ip| blocked_for(&ips, ip, per_ip, window, now));
        if let Some(retry_after_secs) = account_wait.max(ip_wait) {
            return Err(Blocked { retry_after_secs });
        }
        if per_account > 0 {
            count(&mut accounts, email, per_account, window, now);
        }
        if let (Some(ip), true) = (ip, per_ip > 0) {
            count(&mut ips, ip, per_ip, window, now);
        }
        Ok(())
    }

    /// The attempt was a successful login: the account's failures are
    /// forgotten, and the IP gets back the one failure charged for it.
    pub fn succeeded(&self, email: &str, ip: Option<&str>) {
        lock(&self.accounts).remove(email);
        if let Some(ip) = ip.map(ip_key) {
            if let Some(w) = lock(&self.ips).get_mut(ip.as_ref()) {
                w.failures = w.failures.saturating_sub(1);
            }
        }
    }
}

/// At most `limit` requests per key per window (a limit of 0 turns it off),
/// with the login throttle's table and its bounds.
#[derive(Debug)]
pub struct RateLimit {
    limit: u32,
    window: Duration,
    keys: Mutex<Table>,
}

impl RateLimit {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// One request for `key`: refused if the key has used up its window,
    /// otherwise counted. Check and count happen under one lock, so
    /// parallel requests cannot all slip past the limit.
    pub fn hit(&self, key: &str, now: OffsetDateTime) -> Result<(), Blocked> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut keys = lock(&self.keys);
        if let Some(retry_after_secs) = blocked_for(&keys, key, self.limit, self.window, now) {
            return Err(Blocked { retry_after_secs });
        }
        count(&mut keys, key, self.limit, self.window, now);
        Ok(())
    }
}

type Table = HashMap<String, Window>;

fn lock(table: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    // Every update is a single insert or field write, so a table whose
    // lock was poisoned by a panic elsewhere is still consistent.
    table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds until `key` may try again, if it is blocked.
fn blocked_for(
    table: &Table,
    key: &str,
    limit: u32,
    window: Duration,
    now: OffsetDateTime,
) -> Option<u64> {
    if limit == 0 {
        return None;
    }
    let w = table.get(key)?;
    let ends = w.started + window;
    if w.failures < limit || ends <= now {
        return None;
    }
    // Round up, and never say 0: "retry after 0 s" invites a tight loop.
    let left = ends - now;
    let secs = left.whole_seconds() + i64::from(left.subsec_nanoseconds() > 0);
    Some(u64::try_from(secs).unwrap_or(1).max(1))
}

/// One more failure for `key`, in a fresh window if the last one ended.
fn count(table: &mut Table, key: &str, limit: u32, window: Duration, now: OffsetDateTime) {
    if !table.contains_key(key) && table.len() >= MAX_KEYS {
        make_room(table, limit, window, now);
    }
    let entry = table.entry(key.to_owned()).or_insert(Window {
        started: now,
        failures: 0,
    });
    if entry.started + window <= now {
        *entry = Window {
            started: now,
            failures: 0,
        };
    }
    entry.failures = entry.failures.saturating_add(1);
}

/// Drops expired windows, then windows that block nothing, then (only if
/// every key is blocked) the oldest tenth.
fn make_room(table: &mut Table, limit: u32, window: Duration, now: OffsetDateTime) {
    table.retain(|_, w| w.started + window > now);
    if table.len() >= MAX_KEYS {
        table.retain(|_, w| w.failures >= limit);
    }
    if table.len() >= MAX_KEYS {
        let mut starts: Vec<OffsetDateTime> = table.values().map(|w| w.started).collect();
        starts.sort_unstable();
        if let Some(cutoff) = starts.get(starts.len() / 10).copied() {
            table.retain(|_, w| w.started > cutoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_account: u32, per_ip: u32) -> LoginThrottle {
        LoginThrottle::new(Limits {
            per_account,
            per_ip,
            window: Duration::minutes(15),
        })
    }

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time")
    }

    #[test]
    fn an_account_is_blocked_after_its_limit_until_the_window_ends() {
        let t = throttle(3, 0);
        for _ in 0..3 {
            assert!(t.attempt("a@x.test", Some("1.1.1.1"), t0()).is_ok());
        }
        let blocked = t.attempt("a@x.test", Some("2.2.2.2"), t0() + Duration::minutes(5));
        assert_eq!(
            blocked,
            Err(Blocked {
                retry_after_secs: 600
            })
        );
        // Other accounts are unaffected; the block lifts when the window ends.
        assert!(t.attempt("b@x.test", Some("1.1.1.1"), t0()).is_ok());
        assert!(t
            .attempt("a@x.test", None, t0() + Duration::minutes(15))
            .is_ok());
    }

    #[test]
    fn an_ip_is_blocked_across_accounts_and_a_success_only_refunds_itself() {
        let t = throttle(0, 2);
        assert!(t.attempt("own@x.test", Some("9.9.9.9"), t0()).is_ok());
        t.succeeded("own@x.test", Some("9.9.9.9"));
        assert!(t.attempt("a@x.test", Some("9.9.9.9"), t0()).is_ok());
        assert!(t.attempt("b@x.test", Some("9.9.9.9"), t0()).is_ok());
        assert!(t.attempt("c@x.test", Some("9.9.9.9"), t0()).is_err());
        assert!(t.attempt("c@x.test", Some("8.8.8.8"), t0()).is_ok());
    }

    #[test]
    fn success_clears_the_account_count() {
        let t = throttle(2, 0);
        assert!(t.attempt("a@x.test", None, t0()).is_ok());
        t.succeeded("a@x.test", None);
        assert!(t.attempt("a@x.test", None, t0()).is_ok());
        assert!(t.attempt("a@x.test", None, t0()).is_ok());
        assert!(t.attempt("a@x.test", None, t0()).is_err());
    }

    #[test]
    fn a_rate_limit_refuses_the_request_after_its_limit_until_the_window_ends() {
        let r = RateLimit::new(3, Duration::minutes(1));
        for _ in 0..3 {
            assert!(r.hit("1.1.1.1", t0()).is_ok());
        }
        assert_eq!(
            r.hit("1.1.1.1", t0() + Duration::seconds(20)),
            Err(Blocked {
                retry_after_secs: 40
            })
        );
        // A refused request does not extend the block.
        assert_eq!(
            r.hit("1.1.1.1", t0() + Duration::milliseconds(59_500)),
            Err(Blocked {
                retry_after_secs: 1
            })
        );
        // Other keys are unaffected; the key is let in when the window ends,
        // and gets a full fresh window.
        assert!(r.hit("2.2.2.2", t0()).is_ok());
        for _ in 0..3 {
            assert!(r.hit("1.1.1.1", t0() + Duration::minutes(1)).is_ok());
        }
        assert!(r.hit("1.1.1.1", t0() + Duration::minutes(1)).is_err());
    }

    #[test]
    fn a_rate_limit_of_zero_is_off_and_keeps_no_state() {
        let r = RateLimit::new(0, Duration::minutes(1));
        for _ in 0..100 {
            assert!(r.hit("1.1.1.1", t0()).is_ok());
        }
        assert!(lock(&r.keys).is_empty());
    }

    #[test]
    fn a_full_rate_limit_table_keeps_blocked_keys() {
        let r = RateLimit::new(2, Duration::minutes(1));
        assert!(r.hit("victim", t0()).is_ok());
        assert!(r.hit("victim", t0()).is_ok());
        for i in 0..MAX_KEYS + 10 {
            let _ = r.hit(&format!("junk{i}"), t0());
        }
        assert!(lock(&r.keys).len() <= MAX_KEYS);
        assert!(r.hit("victim", t0()).is_err());
    }

    #[test]
    fn a_full_table_keeps_blocked_keys() {
        let t = throttle(5, 0);
        for _ in 0..5 {
            assert!(t.attempt("victim@x.test", None, t0()).is_ok());
        }
        // A flood of fresh keys, none of them blocked, fills the table.
        for i in 0..MAX_KEYS + 10 {
            let _ = t.attempt(&format!("junk{i}@x.test"), None, t0());
        }
        assert!(lock(&t.accounts).len() <= MAX_KEYS);
        assert!(t.attempt("victim@x.test", None, t0()).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(ip_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            ip_key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(ip_key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(ip_key("not an address"), "not an address");

        let throttle = LoginThrottle::new(Limits {
            per_account: 0,
            per_ip: 2,
            window: Duration::minutes(15),
        });
        let now = t0();
        let allowed = |who, ip| throttle.attempt(who, Some(ip), now).is_ok();
        assert!(allowed("a@x", "2001:db8:1:2::1"));
        assert!(allowed("b@x", "2001:db8:1:2::2"));
        // A third address of the same /64 is the same client.
        assert!(!allowed("c@x", "2001:db8:1:2::3"));
        // The neighbouring /64 is another.
        assert!(allowed("c@x", "2001:db8:1:3::3"));
        // A success from any address of the /64 gives its charge back.
        throttle.succeeded("a@x", Some("2001:db8:1:2::99"));
        assert!(allowed("d@x", "2001:db8:1:2::4"));
    }
}
