//! What each token did since the last flush, without a storage write per
//! use: its last use (for "last used"), its uses per UTC day by outcome,
//! and the last client addresses it came from.
//!
//! A use is written into the cached token itself (its [`Slot`]): one
//! uncontended lock, no map lookup, which keeps the hot path as cheap as it
//! was before usage was counted. A token's first use after a flush also
//! lists that cached entry under the token's id, which is how the flush and
//! the reads find it. The server flushes every few seconds and once more on
//! shutdown, so storage lags by at most the flush interval; reads overlay
//! what is pending, so an owner sees a use at once.
//!
//! One entry per id is listed, and only a listed entry's slot is filled: a
//! use whose own slot is empty goes to the listed entry of its id (a token
//! reloaded into the cache after a change, or loaded afresh per request
//! while the change feed is down, is a new entry), or lists its own. The
//! flush unlists an entry before it empties it, so a use is either taken by
//! this flush or listed for the next one; none is lost.

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
    /// For each token with uses not yet written, the cached entry whose
    /// slot holds them. Keyed by tokens that verified, so only real ids go
    /// in: a fast seeded hash is safe here (see `cache::Map`).
    listed: papaya::HashMap<TokenId, Arc<CachedToken>, foldhash::fast::RandomState>,
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
        if let Some(pending) = token.activity.lock().as_mut() {
            pending.record(outcome, used);
            return;
        }
        self.in_listed(token, |pending| pending.record(outcome, used));
    }

    /// Applies `apply` to the pending uses of `token`'s id: in the slot of
    /// the entry listed for it, else in `token`'s own, listing it.
    fn in_listed(&self, token: &Arc<CachedToken>, apply: impl FnOnce(&mut Pending)) {
        let id = &token.token.id;
        let listed = self.listed.pin();
        loop {
            let holder = match listed.get(id) {
                Some(holder) => holder,
                None => listed.get_or_insert(id.clone(), Arc::clone(token)),
            };
            let mut slot = holder.activity.lock();
            // Empty: listed a moment ago (by this call or another use, which
            // is filling it or will find it filled), or taken by a flush
            // that unlisted it after it was found here; only the first may
            // be filled.
            if slot.is_none() && !listed.get(id).is_some_and(|h| Arc::ptr_eq(h, holder)) {
                continue;
            }
            apply(slot.get_or_insert_with(Box::default));
            return;
        }
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
        let pending = listed.get(token)?.activity.lock().as_deref().cloned();
        pending
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

    /// Unlists and empties every listed entry: by token id, the entry (to
    /// put back what a failed write held) and what its slot held.
    fn take(&self) -> HashMap<TokenId, (Arc<CachedToken>, Pending)> {
        let mut taken = HashMap::new();
        let listed = self.listed.pin();
        let keys: Vec<TokenId> = listed.keys().cloned().collect();
        for id in keys {
            let Some(holder) = listed.remove(&id) else {
                continue;
            };
            let Some(pending) = holder.activity.lock().take() else {
                continue;
            };
            taken.insert(id, (Arc::clone(holder), *pending));
        }
        taken
    }

    fn put_back(&self, token: &Arc<CachedToken>, pending: Pending) {
        self.in_listed(token, |newer| newer.merge(pending));
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
