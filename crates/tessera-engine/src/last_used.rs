//! "Last used" without a storage write per request.
//!
//! Each use is recorded in a lock-free map (no I/O, no lock shared with
//! other requests). The server flushes the batch every few seconds and once
//! more on shutdown, so storage lags by at most the flush interval. Reads
//! overlay the pending value, so an owner sees the latest use at once.

use std::net::IpAddr;

use tessera_core::TokenId;
use tessera_store::{LastUsed, Store};
use time::OffsetDateTime;

/// A use not yet written: the address stays an `IpAddr` (no allocation)
/// until the flush turns it into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Use {
    at: OffsetDateTime,
    ip: Option<IpAddr>,
}

#[derive(Default)]
pub struct LastUsedTracker {
    /// Keyed by tokens that verified, so only real ids go in: a fast
    /// seeded hash is safe here (see `cache::Map`).
    pending: papaya::HashMap<TokenId, Use, foldhash::fast::RandomState>,
    /// Uses a flush has taken and not yet written: still shown by
    /// [`Self::pending`], so a read during the write does not fall back
    /// to the older stored value.
    in_flight: papaya::HashMap<TokenId, Use, foldhash::fast::RandomState>,
}

impl LastUsedTracker {
    pub fn record(&self, token: &TokenId, at: OffsetDateTime, ip: Option<IpAddr>) {
        let fresh = Use { at, ip };
        let pending = self.pending.pin();
        // Most uses are a repeat within the same second from the same
        // address: nothing to change, so no allocation.
        if let Some(existing) = pending.get(token) {
            if existing.at > at || *existing == fresh {
                return;
            }
        }
        pending.update_or_insert_with(
            token.clone(),
            |existing| {
                if existing.at > fresh.at {
                    *existing
                } else {
                    fresh
                }
            },
            || fresh,
        );
    }

    /// The not-yet-flushed use of `token`, if any.
    pub fn pending(&self, token: &TokenId) -> Option<LastUsed> {
        let used = match self.pending.pin().get(token) {
            Some(used) => *used,
            None => *self.in_flight.pin().get(token)?,
        };
        Some(last_used(token.clone(), used))
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Writes the batch to storage. On failure the entries go back, unless a
    /// newer use arrived meanwhile, so a transient error loses nothing.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, tessera_store::StoreError> {
        let batch: Vec<LastUsed> = {
            let pending = self.pending.pin();
            let in_flight = self.in_flight.pin();
            let keys: Vec<TokenId> = pending.keys().cloned().collect();
            keys.into_iter()
                .filter_map(|k| {
                    let used = *pending.remove(&k)?;
                    in_flight.insert(k.clone(), used);
                    Some(last_used(k, used))
                })
                .collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let count = batch.len();
        let written = store.record_last_used(&batch).await;
        {
            let in_flight = self.in_flight.pin();
            for used in &batch {
                in_flight.remove(&used.token);
            }
        }
        if let Err(err) = written {
            for used in batch {
                let ip = used.ip.and_then(|ip| ip.parse().ok());
                self.record(&used.token, used.at, ip);
            }
            return Err(err);
        }
        Ok(count)
    }
}

fn last_used(token: TokenId, used: Use) -> LastUsed {
    LastUsed {
        token,
        at: used.at,
        ip: used.ip.map(|ip| ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keeps_the_newest_use() {
        let t = LastUsedTracker::default();
        let id = TokenId::generate(datetime!(2026-01-01 0:00 UTC));
        t.record(
            &id,
            datetime!(2026-01-01 0:00:05 UTC),
            Some([10, 0, 0, 1].into()),
        );
        t.record(
            &id,
            datetime!(2026-01-01 0:00:03 UTC),
            Some([10, 0, 0, 2].into()),
        );
        let p = t.pending(&id).expect("pending");
        assert_eq!(p.at, datetime!(2026-01-01 0:00:05 UTC));
        assert_eq!(p.ip.as_deref(), Some("10.0.0.1"));
        t.record(&id, datetime!(2026-01-01 0:00:09 UTC), None);
        assert_eq!(t.pending(&id).expect("pending").ip, None);
        assert_eq!(t.pending_count(), 1);
    }
}
