//! What each token did since the last flush, without a storage write per
//! use: its last use (for "last used"), its uses per UTC day by outcome,
//! and the last client addresses it came from.
//!
//! A use is written into the cached token itself (its [`Slot`]): one
//! uncontended lock, no map lookup, which keeps the hot path as cheap as it
//! was before usage was counted. A token's first use after a flush also
//! lists it in the tracker, which is how the flush and the reads find it.
//! The server flushes every few seconds and once more on shutdown, so
//! storage lags by at most the flush interval; reads overlay what is
//! pending, so an owner sees a use at once.
//!
//! A slot is listed exactly while it holds something: a use that finds it
//! empty lists it (under the slot's lock), and the flush unlists it before
//! it empties it. So a use is either taken by this flush or lists the slot
//! for the next one; none is lost. A token reloaded into the cache while it
//! has pending uses has two slots for a while; both are listed under its id
//! and merged when read or written.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tessera_core::TokenId;
use tessera_store::{LastUsed, SeenIp, Store, StoreError, UsageCounts, UsageDelta};
use time::OffsetDateTime;

use crate::cache::CachedToken;

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

impl Outcome {
    /// Did the token get past its controls? Only then is it "last used":
    /// a refused attempt is counted, but does not keep a token alive.
    fn admitted(self) -> bool {
        matches!(self, Self::Valid | Self::Denied)
    }
}

/// A token's counts not yet written, per day (days since 1970-01-01), and
/// its addresses (newest first, with Unix seconds).
pub type PendingUsage = (Vec<(i64, UsageCounts)>, Vec<(IpAddr, i64)>);

/// Distinct addresses kept per token (the API shows 5).
const RECENT_IPS: usize = 5;

/// A cached token's uses not yet written. Empty (one pointer) for a token
/// not used since the last flush, so an idle cached token costs 16 bytes.
#[derive(Debug, Default)]
pub(crate) struct Slot(Mutex<Option<Box<Pending>>>);

// Every cached token has one: keep it this small (docs/benchmarks.md).
const _: () = assert!(std::mem::size_of::<Slot>() <= 16);

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Option<Box<Pending>>> {
        // A panic cannot leave counts half-updated in a way that matters
        // more than losing them would.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A use: Unix seconds and the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Use {
    at: i64,
    ip: Option<IpAddr>,
}

#[derive(Debug, Default, Clone)]
struct Pending {
    /// The newest admitted use.
    last: Option<Use>,
    /// (day, counts): almost always one day; two around midnight.
    days: Vec<(i64, UsageCounts)>,
    /// Newest first, distinct.
    ips: Vec<(IpAddr, i64)>,
}

impl Pending {
    fn record(&mut self, outcome: Outcome, used: Use) {
        if outcome.admitted() {
            self.note_use(used);
        }
        let counts = self.counts(used.at.div_euclid(86_400));
        let n = match outcome {
            Outcome::Valid => &mut counts.valid,
            Outcome::Denied => &mut counts.denied,
            Outcome::RateLimited => &mut counts.rate_limited,
            Outcome::QuotaExhausted => &mut counts.quota_exhausted,
            Outcome::IpNotAllowed => &mut counts.ip_not_allowed,
        };
        *n += 1;
        if let Some(ip) = used.ip {
            note_ip(&mut self.ips, ip, used.at);
        }
    }

    fn note_use(&mut self, used: Use) {
        if self.last.is_none_or(|last| last.at <= used.at) {
            self.last = Some(used);
        }
    }

    fn counts(&mut self, day: i64) -> &mut UsageCounts {
        let i = match self.days.iter().position(|(d, _)| *d == day) {
            Some(i) => i,
            None => {
                self.days.push((day, UsageCounts::default()));
                self.days.len() - 1
            }
        };
        &mut self.days[i].1
    }

    fn merge(&mut self, other: Pending) {
        if let Some(used) = other.last {
            self.note_use(used);
        }
        for (day, counts) in other.days {
            self.counts(day).add(&counts);
        }
        // Oldest first, so the newest ends up first.
        for (ip, at) in other.ips.into_iter().rev() {
            note_ip(&mut self.ips, ip, at);
        }
    }
}

#[derive(Default)]
pub struct ActivityTracker {
    /// The cached tokens whose slots hold something, by id. Keyed by
    /// tokens that verified, so only real ids go in: a fast seeded hash is
    /// safe here (see `cache::Map`).
    listed: papaya::HashMap<TokenId, Vec<Arc<CachedToken>>, foldhash::fast::RandomState>,
    /// Last uses a flush has taken and not yet written: still shown by
    /// [`Self::last_used`], so a read during the write does not fall back
    /// to the older stored value.
    in_flight: papaya::HashMap<TokenId, Use, foldhash::fast::RandomState>,
}

impl ActivityTracker {
    /// Records one use of `token` at `at`, from `ip` when known.
    pub(crate) fn record(
        &self,
        token: &Arc<CachedToken>,
        outcome: Outcome,
        ip: Option<IpAddr>,
        at: OffsetDateTime,
    ) {
        let used = Use {
            at: at.unix_timestamp(),
            ip: ip.map(|ip| ip.to_canonical()),
        };
        let mut slot = token.activity.lock();
        match slot.as_mut() {
            Some(pending) => pending.record(outcome, used),
            None => {
                self.list(token);
                slot.insert(Box::default()).record(outcome, used);
            }
        }
    }

    fn list(&self, token: &Arc<CachedToken>) {
        self.listed.pin().update_or_insert_with(
            token.token.id.clone(),
            |listed| {
                let mut more = listed.clone();
                more.push(Arc::clone(token));
                more
            },
            || vec![Arc::clone(token)],
        );
    }

    /// The not-yet-written last use of `token`, if any.
    pub fn last_used(&self, token: &TokenId) -> Option<LastUsed> {
        let used = match self.pending(token).and_then(|p| p.last) {
            Some(used) => used,
            None => *self.in_flight.pin().get(token)?,
        };
        last_used(token.clone(), used)
    }

    /// Counts of `token` not yet written, per day, and its addresses.
    pub fn usage(&self, token: &TokenId) -> PendingUsage {
        let pending = self.pending(token).unwrap_or_default();
        (pending.days, pending.ips)
    }

    fn pending(&self, token: &TokenId) -> Option<Pending> {
        let listed = self.listed.pin();
        let mut merged: Option<Pending> = None;
        for cached in listed.get(token)? {
            if let Some(pending) = cached.activity.lock().as_deref() {
                match merged.as_mut() {
                    Some(merged) => merged.merge(pending.clone()),
                    None => merged = Some(pending.clone()),
                }
            }
        }
        merged
    }

    /// Tokens with activity not yet written.
    pub fn pending_count(&self) -> usize {
        self.listed.len()
    }

    /// Writes everything gathered, returning how many tokens it covered.
    /// What a failed write held is put back (a newer last use wins), so a
    /// transient error loses nothing; the first error is returned.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let taken = self.take();
        if taken.is_empty() {
            return Ok(0);
        }
        let mut last_uses = Vec::new();
        let mut counts = Vec::new();
        let mut seen = Vec::new();
        {
            let in_flight = self.in_flight.pin();
            for (id, (_, pending)) in &taken {
                if let Some(used) = pending.last {
                    if let Some(row) = last_used(id.clone(), used) {
                        in_flight.insert(id.clone(), used);
                        last_uses.push(row);
                    }
                }
                for (day, c) in &pending.days {
                    counts.push(UsageDelta {
                        token: id.clone(),
                        day: *day,
                        counts: *c,
                    });
                }
                for (ip, at) in &pending.ips {
                    if let Ok(at) = OffsetDateTime::from_unix_timestamp(*at) {
                        seen.push(SeenIp {
                            token: id.clone(),
                            ip: ip.to_string(),
                            at,
                        });
                    }
                }
            }
        }
        let wrote_last_used = if last_uses.is_empty() {
            Ok(())
        } else {
            store.record_last_used(&last_uses).await
        };
        {
            let in_flight = self.in_flight.pin();
            for used in &last_uses {
                in_flight.remove(&used.token);
            }
        }
        let wrote_usage = if counts.is_empty() && seen.is_empty() {
            Ok(())
        } else {
            store.record_usage(&counts, &seen).await
        };
        let tokens = taken.len();
        for (cached, mut pending) in taken.into_values() {
            if wrote_last_used.is_ok() {
                pending.last = None;
            }
            if wrote_usage.is_ok() {
                pending.days.clear();
                pending.ips.clear();
            }
            if pending.last.is_some() || !pending.days.is_empty() || !pending.ips.is_empty() {
                self.put_back(&cached, pending);
            }
        }
        wrote_last_used.and(wrote_usage).map(|()| tokens)
    }

    /// Empties every listed slot, merged per token id, with one of the
    /// token's cached entries (to put back what a failed write held).
    fn take(&self) -> HashMap<TokenId, (Arc<CachedToken>, Pending)> {
        let mut taken: HashMap<TokenId, (Arc<CachedToken>, Pending)> = HashMap::new();
        let listed = self.listed.pin();
        let keys: Vec<TokenId> = listed.keys().cloned().collect();
        for id in keys {
            let Some(entries) = listed.remove(&id) else {
                continue;
            };
            for cached in entries {
                let Some(pending) = cached.activity.lock().take() else {
                    continue;
                };
                match taken.get_mut(&id) {
                    Some((_, merged)) => merged.merge(*pending),
                    None => {
                        taken.insert(id.clone(), (Arc::clone(cached), *pending));
                    }
                }
            }
        }
        taken
    }

    fn put_back(&self, token: &Arc<CachedToken>, pending: Pending) {
        let mut slot = token.activity.lock();
        match slot.as_mut() {
            Some(newer) => newer.merge(pending),
            None => {
                self.list(token);
                *slot = Some(Box::new(pending));
            }
        }
    }
}

fn last_used(token: TokenId, used: Use) -> Option<LastUsed> {
    Some(LastUsed {
        token,
        at: OffsetDateTime::from_unix_timestamp(used.at).ok()?,
        ip: used.ip.map(|ip| ip.to_string()),
    })
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
#[path = "activity_tests.rs"]
mod tests;
