//! "Last used" without a storage write per request.
//!
//! Each use is recorded in memory (one short lock, no I/O). A background
//! task flushes the batch every few seconds, and once more on shutdown, so
//! storage lags by at most the flush interval. Reads overlay the pending
//! value, so an owner listing tokens sees the latest use at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tessera_core::TokenId;
use tessera_store::{LastUsed, Store};
use time::OffsetDateTime;

#[derive(Debug, Default, Clone)]
pub struct LastUsedTracker {
    pending: Arc<Mutex<HashMap<TokenId, LastUsed>>>,
}

impl LastUsedTracker {
    fn lock(&self) -> MutexGuard<'_, HashMap<TokenId, LastUsed>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every update is a single insert), so a poisoned lock is usable.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn record(&self, token: &TokenId, at: OffsetDateTime, ip: Option<String>) {
        let mut pending = self.lock();
        match pending.get_mut(token) {
            Some(existing) if existing.at > at => {}
            Some(existing) => {
                existing.at = at;
                existing.ip = ip;
            }
            None => {
                pending.insert(
                    token.clone(),
                    LastUsed {
                        token: token.clone(),
                        at,
                        ip,
                    },
                );
            }
        }
    }

    /// The not-yet-flushed use of `token`, if any.
    pub fn pending(&self, token: &TokenId) -> Option<LastUsed> {
        self.lock().get(token).cloned()
    }

    pub fn pending_count(&self) -> usize {
        self.lock().len()
    }

    /// Writes the batch to storage. On failure the entries go back, unless a
    /// newer use arrived meanwhile, so nothing is lost to a transient error.
    pub async fn flush(&self, store: &dyn Store) -> Result<usize, tessera_store::StoreError> {
        let batch: Vec<LastUsed> = {
            let mut pending = self.lock();
            if pending.is_empty() {
                return Ok(0);
            }
            std::mem::take(&mut *pending).into_values().collect()
        };
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
