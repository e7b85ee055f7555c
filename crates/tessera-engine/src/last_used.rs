//! "Last used" without a storage write per request.
//!
//! Each use is recorded in a lock-free map (no I/O, no lock shared with
//! other requests). The server flushes the batch every few seconds and once
//! more on shutdown, so storage lags by at most the flush interval. Reads
//! overlay the pending value, so an owner sees the latest use at once.

use tessera_core::TokenId;
use tessera_store::{LastUsed, Store};
use time::OffsetDateTime;

#[derive(Default)]
pub struct LastUsedTracker {
    pending: papaya::HashMap<TokenId, LastUsed>,
}

impl LastUsedTracker {
    pub fn record(&self, token: &TokenId, at: OffsetDateTime, ip: Option<String>) {
        let pending = self.pending.pin();
        // Most uses are a repeat within the same second from the same
        // address: nothing to change, so no allocation.
        if let Some(existing) = pending.get(token) {
            if existing.at > at || (existing.at == at && existing.ip == ip) {
                return;
            }
        }
        let fresh = LastUsed {
            token: token.clone(),
            at,
            ip,
        };
        pending.update_or_insert_with(
            token.clone(),
            |existing| {
                if existing.at > fresh.at {
                    existing.clone()
                } else {
                    fresh.clone()
                }
            },
            || fresh.clone(),
        );
    }

    /// The not-yet-flushed use of `token`, if any.
    pub fn pending(&self, token: &TokenId) -> Option<LastUsed> {
        self.pending.pin().get(token).cloned()
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Writes the batch to storage. On failure the entries go back, unless a
    /// newer use arrived meanwhile, so a transient error loses nothing.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, tessera_store::StoreError> {
        let batch: Vec<LastUsed> = {
            let pending = self.pending.pin();
            let keys: Vec<TokenId> = pending.keys().cloned().collect();
            keys.iter()
                .filter_map(|k| pending.remove(k).cloned())
                .collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let count = batch.len();
        if let Err(err) = store.record_last_used(&batch).await {
            for used in batch {
                self.record(&used.token, used.at, used.ip);
            }
            return Err(err);
        }
        Ok(count)
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
            Some("10.0.0.1".into()),
        );
        t.record(
            &id,
            datetime!(2026-01-01 0:00:03 UTC),
            Some("10.0.0.2".into()),
        );
        let p = t.pending(&id).expect("pending");
        assert_eq!(p.at, datetime!(2026-01-01 0:00:05 UTC));
        assert_eq!(p.ip.as_deref(), Some("10.0.0.1"));
        t.record(&id, datetime!(2026-01-01 0:00:09 UTC), None);
        assert_eq!(t.pending(&id).expect("pending").ip, None);
        assert_eq!(t.pending_count(), 1);
    }
}
