//! Usage per token and UTC day, by outcome, and the last client
//! addresses, without a storage write per use: gathered here like
//! last-used times and written by the same periodic flush.
//!
//! Each token with uses since the last flush has one entry behind a small
//! mutex (only uses of that token on this node contend for it). The flush
//! takes each entry out of the map and closes it; a use that got hold of
//! an entry just before it was taken finds it closed and starts a new one,
//! so no use is lost between a flush and the next.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tessera_core::TokenId;
use tessera_store::{SeenIp, Store, StoreError, UsageCounts, UsageDelta};
use time::OffsetDateTime;

/// How a use of a token ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Valid,
    /// Valid, but not allowed what it asked.
    Denied,
    RateLimited,
    QuotaExhausted,
    IpNotAllowed,
}

/// A token's counts not yet written, per day (days since 1970-01-01), and
/// its addresses (newest first, with Unix seconds).
pub type PendingUsage = (Vec<(i64, UsageCounts)>, Vec<(IpAddr, i64)>);

/// Distinct addresses kept per token (the API shows 5).
const RECENT_IPS: usize = 5;

#[derive(Default)]
struct Pending {
    /// (day, counts): almost always one day; two around midnight.
    days: Vec<(i64, UsageCounts)>,
    /// Newest first, distinct.
    ips: Vec<(IpAddr, i64)>,
    closed: bool,
}

#[derive(Default)]
pub struct UsageTracker {
    pending: papaya::HashMap<TokenId, Arc<Mutex<Pending>>, foldhash::fast::RandomState>,
}

impl UsageTracker {
    /// Counts one use of `token` at `at`, from `ip` when known.
    pub fn record(
        &self,
        token: &TokenId,
        outcome: Outcome,
        ip: Option<IpAddr>,
        at: OffsetDateTime,
    ) {
        let second = at.unix_timestamp();
        let day = second.div_euclid(86_400);
        // The map's guard is held while the entry is locked, rather than
        // the entry's `Arc` cloned: no shared counter written per use.
        let pending = self.pending.pin();
        loop {
            let entry = match pending.get(token) {
                Some(entry) => entry,
                None => pending.get_or_insert_with(token.clone(), Arc::default),
            };
            let mut p = entry.lock().unwrap_or_else(PoisonError::into_inner);
            if p.closed {
                continue;
            }
            let counts = match p.days.iter_mut().find(|(d, _)| *d == day) {
                Some((_, counts)) => counts,
                None => {
                    p.days.push((day, UsageCounts::default()));
                    let last = p.days.len() - 1;
                    &mut p.days[last].1
                }
            };
            let n = match outcome {
                Outcome::Valid => &mut counts.valid,
                Outcome::Denied => &mut counts.denied,
                Outcome::RateLimited => &mut counts.rate_limited,
                Outcome::QuotaExhausted => &mut counts.quota_exhausted,
                Outcome::IpNotAllowed => &mut counts.ip_not_allowed,
            };
            *n += 1;
            if let Some(ip) = ip {
                note_ip(&mut p.ips, ip.to_canonical(), second);
            }
            return;
        }
    }

    /// Counts of `token` not yet written, per day.
    pub fn pending(&self, token: &TokenId) -> PendingUsage {
        let pending = self.pending.pin();
        match pending.get(token) {
            Some(entry) => {
                let p = entry.lock().unwrap_or_else(PoisonError::into_inner);
                (p.days.clone(), p.ips.clone())
            }
            None => (Vec::new(), Vec::new()),
        }
    }

    /// Writes everything gathered; on failure it is put back, so a
    /// transient error loses nothing.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut counts = Vec::new();
        let mut seen = Vec::new();
        let keys: Vec<TokenId> = self.pending.pin().keys().cloned().collect();
        for token in keys {
            let Some(entry) = self.pending.pin().remove(&token).map(Arc::clone) else {
                continue;
            };
            let mut p = entry.lock().unwrap_or_else(PoisonError::into_inner);
            p.closed = true;
            for (day, c) in p.days.drain(..) {
                counts.push(UsageDelta {
                    token: token.clone(),
                    day,
                    counts: c,
                });
            }
            for (ip, at) in p.ips.drain(..) {
                seen.push((token.clone(), ip, at));
            }
        }
        if counts.is_empty() && seen.is_empty() {
            return Ok(0);
        }
        let written: Vec<SeenIp> = seen
            .iter()
            .filter_map(|(token, ip, at)| {
                Some(SeenIp {
                    token: token.clone(),
                    ip: ip.to_string(),
                    at: OffsetDateTime::from_unix_timestamp(*at).ok()?,
                })
            })
            .collect();
        let n = counts.len();
        if let Err(e) = store.record_usage(&counts, &written).await {
            self.put_back(counts, seen);
            return Err(e);
        }
        Ok(n)
    }

    fn put_back(&self, counts: Vec<UsageDelta>, seen: Vec<(TokenId, IpAddr, i64)>) {
        for delta in counts {
            self.merge(&delta.token, |p| {
                match p.days.iter_mut().find(|(d, _)| *d == delta.day) {
                    Some((_, c)) => c.add(&delta.counts),
                    None => p.days.push((delta.day, delta.counts)),
                }
            });
        }
        for (token, ip, at) in seen {
            self.merge(&token, |p| note_ip(&mut p.ips, ip, at));
        }
    }

    fn merge(&self, token: &TokenId, apply: impl Fn(&mut Pending)) {
        loop {
            let entry = Arc::clone(
                self.pending
                    .pin()
                    .get_or_insert_with(token.clone(), Arc::default),
            );
            let mut p = entry.lock().unwrap_or_else(PoisonError::into_inner);
            if !p.closed {
                apply(&mut p);
                return;
            }
        }
    }
}

/// Puts `ip` first (seen at `at`, if later than what is known), keeping
/// at most [`RECENT_IPS`] distinct addresses.
fn note_ip(ips: &mut Vec<(IpAddr, i64)>, ip: IpAddr, at: i64) {
    if let Some(first) = ips.first_mut() {
        if first.0 == ip {
            first.1 = first.1.max(at);
            return;
        }
    }
    if let Some(i) = ips.iter().position(|(known, _)| *known == ip) {
        let (_, seen) = ips.remove(i);
        ips.insert(0, (ip, seen.max(at)));
    } else {
        ips.insert(0, (ip, at));
        ips.truncate(RECENT_IPS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn counts_by_day_and_keeps_five_addresses() {
        let t = UsageTracker::default();
        let id = TokenId::generate(datetime!(2026-01-01 0:00 UTC));
        let at = datetime!(2026-01-01 23:59:59 UTC);
        for i in 0..7u8 {
            t.record(&id, Outcome::Valid, Some([10, 0, 0, i].into()), at);
        }
        t.record(&id, Outcome::RateLimited, None, at);
        t.record(&id, Outcome::Valid, None, datetime!(2026-01-02 0:00 UTC));
        let (days, ips) = t.pending(&id);
        assert_eq!(days.len(), 2);
        assert_eq!((days[0].1.valid, days[0].1.rate_limited), (7, 1));
        assert_eq!(days[1].1.valid, 1);
        assert_eq!(ips.len(), 5);
        assert_eq!(ips[0].0, IpAddr::from([10, 0, 0, 6]));
    }
}
