//! Rate limits and quotas, spent from memory in slices reserved from
//! storage (docs/scale-out.md, "Rate limits and quotas across nodes").
//!
//! Only tokens with a rate limit or a quota get here, and only they get a
//! state in [`Limiter`]. A token's state sits behind an async mutex: the
//! uses of one token on one node queue for it, so while one of them waits
//! for a reservation the others wait for its slice instead of each asking
//! storage.
//!
//! - **Rate limit**: windows of `per_seconds` aligned to the Unix epoch.
//!   A node reserves a slice of the window's `requests` (a twentieth, at
//!   least 1) and spends it; when the slice is spent it reserves again,
//!   until storage has granted the whole budget, after which the node
//!   refuses until the window ends. Grants never add up to more than
//!   `requests`, so the limit is never exceeded while storage answers; a
//!   slice a node holds unspent at the window's end is the only shortfall.
//!   If storage cannot be reached the node keeps counting on its own, up
//!   to `requests` in the window (so N nodes could let N× through).
//! - **Quota**: a node reserves a slice (a hundredth of what is left, at
//!   least the use's cost), spends from it, and gives back what it has
//!   not spent at every flush. Storage never goes below 0, so the quota is
//!   never overspent; a node that cannot reserve refuses (`Err`: the
//!   server answers 503), it never lets a use through unbudgeted.

use std::sync::Arc;

use tessera_core::controls::{Quota, RateLimit, TokenControls};
use tessera_core::TokenId;
use tessera_store::{Store, StoreError};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::cache::CachedToken;

/// Why a token's controls refused a use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    IpNotAllowed,
    RateLimited,
    QuotaExhausted,
}

impl Denial {
    /// The code `/verify` and the API answer with.
    pub fn code(self) -> &'static str {
        match self {
            Self::IpNotAllowed => "ip_not_allowed",
            Self::RateLimited => "rate_limited",
            Self::QuotaExhausted => "quota_exhausted",
        }
    }
}

/// A rate limit's state after a use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub limit: i64,
    /// Left in this window, this use counted.
    pub remaining: i64,
    /// Seconds until the window resets.
    pub reset: i64,
}

/// What the controls said about one use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    pub denial: Option<Denial>,
    pub rate: Option<RateState>,
    /// The quota left after this use (as this node knows it).
    pub quota_remaining: Option<i64>,
}

/// One token's spending on this node.
#[derive(Default)]
struct State {
    /// The cached record this state was made for: a new record (the
    /// controls changed, or the cache was refilled) starts a new state.
    source: usize,
    window: i64,
    /// Reserved in this window and not yet spent.
    rate_held: i64,
    /// Reserved by all nodes in this window, as of the last reservation.
    rate_used: i64,
    /// Allowed by this node in this window.
    rate_spent: i64,
    /// Storage has nothing left in this window.
    rate_done: bool,
    /// Storage could not be reached in this window: counting alone.
    rate_alone: bool,
    quota_held: i64,
    quota_version: i64,
    /// Left in storage after the last reservation.
    quota_stored: i64,
    quota_period: Option<i64>,
    /// Storage had too little at this Unix second: refuse without asking
    /// again until the next second.
    quota_empty_at: Option<i64>,
    last_use: i64,
}

/// The node's spending of all controlled tokens.
#[derive(Default)]
pub struct Limiter {
    states: papaya::HashMap<TokenId, Arc<Mutex<State>>, foldhash::fast::RandomState>,
}

/// How long a reservation may wait for storage before the node decides
/// alone (rate limit) or refuses (quota).
const RESERVE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

impl Limiter {
    /// Checks `entry`'s rate limit and quota for one use costing `cost`,
    /// spending from them when allowed. `Err` only when a quota could not
    /// be reserved (storage unreachable): the use must be refused.
    pub(crate) async fn check(
        &self,
        store: &dyn Store,
        entry: &Arc<CachedToken>,
        controls: &TokenControls,
        cost: i64,
        now: OffsetDateTime,
    ) -> Result<Checked, StoreError> {
        let id = &entry.token.id;
        let state = {
            let states = self.states.pin();
            match states.get(id) {
                Some(state) => Arc::clone(state),
                None => Arc::clone(states.get_or_insert_with(id.clone(), Arc::default)),
            }
        };
        let mut state = state.lock().await;
        let source = Arc::as_ptr(entry) as usize;
        if state.source != source {
            // Given back under the old version: a no-op if the count was
            // set anew (which is why the record changed).
            if state.quota_held > 0 {
                let _ = store
                    .return_quota(id, state.quota_held, state.quota_version)
                    .await;
            }
            *state = State {
                source,
                quota_stored: controls.quota.map_or(0, |q| q.remaining),
                ..State::default()
            };
        }
        state.last_use = now.unix_timestamp();
        let mut checked = Checked::default();
        if let Some(limit) = controls.rate_limit {
            let (allowed, rate) = spend_rate(&mut state, store, id, limit, now).await;
            checked.rate = Some(rate);
            if !allowed {
                checked.denial = Some(Denial::RateLimited);
                checked.quota_remaining = controls
                    .quota
                    .map(|_| state.quota_stored + state.quota_held);
                return Ok(checked);
            }
        }
        if let Some(quota) = controls.quota {
            let allowed = spend_quota(&mut state, store, id, quota, cost, now).await?;
            checked.quota_remaining = Some(state.quota_stored + state.quota_held);
            if !allowed {
                checked.denial = Some(Denial::QuotaExhausted);
            }
        }
        Ok(checked)
    }

    /// What this node holds of `token`'s quota, unspent (added to the
    /// stored count, it is the live figure).
    pub fn quota_held(&self, token: &TokenId) -> i64 {
        let states = self.states.pin();
        states
            .get(token)
            .and_then(|s| s.try_lock().ok().map(|s| s.quota_held))
            .unwrap_or(0)
    }

    /// Gives every unspent quota slice back, and forgets tokens unused
    /// since `idle_before` (Unix seconds). Run with the last-used flush
    /// and at shutdown.
    pub async fn flush(&self, store: &dyn Store, idle_before: i64) -> Result<usize, StoreError> {
        let entries: Vec<(TokenId, Arc<Mutex<State>>)> = self
            .states
            .pin()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        let mut returned = 0;
        let mut failed = None;
        for (id, state) in entries {
            // A busy token is left for the next flush.
            let Ok(mut s) = state.try_lock() else {
                continue;
            };
            if s.quota_held > 0 {
                match store.return_quota(&id, s.quota_held, s.quota_version).await {
                    Ok(()) => {
                        s.quota_stored += s.quota_held;
                        s.quota_held = 0;
                        returned += 1;
                    }
                    Err(e) => failed = Some(e),
                }
            }
            if s.quota_held == 0 && s.last_use < idle_before {
                drop(s);
                self.states.pin().remove(&id);
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(returned),
        }
    }
}

/// One use against the rate limit: (allowed, state after it).
async fn spend_rate(
    state: &mut State,
    store: &dyn Store,
    id: &TokenId,
    limit: RateLimit,
    now: OffsetDateTime,
) -> (bool, RateState) {
    let window = limit.window_start(now);
    if state.window != window {
        *state = State {
            source: state.source,
            window,
            quota_held: state.quota_held,
            quota_version: state.quota_version,
            quota_stored: state.quota_stored,
            quota_period: state.quota_period,
            quota_empty_at: state.quota_empty_at,
            last_use: state.last_use,
            ..State::default()
        };
    }
    if state.rate_held == 0 && !state.rate_done && !state.rate_alone {
        let slice = (limit.requests / 20).max(1);
        let reserved = tokio::time::timeout(
            RESERVE_TIMEOUT,
            store.reserve_rate(id, window, slice, limit.requests),
        )
        .await;
        match reserved {
            Ok(Ok(Some(grant))) => {
                state.rate_held += grant.granted;
                state.rate_used = grant.used;
                state.rate_done = grant.granted == 0;
            }
            Ok(Ok(None)) => state.rate_done = true,
            Ok(Err(_)) | Err(_) => state.rate_alone = true,
        }
    }
    let allowed = if state.rate_alone {
        state.rate_spent < limit.requests
    } else {
        state.rate_held > 0
    };
    if allowed {
        state.rate_spent += 1;
        if !state.rate_alone {
            state.rate_held -= 1;
        }
    }
    let used = if state.rate_alone {
        state.rate_spent.max(state.rate_used - state.rate_held)
    } else {
        state.rate_used - state.rate_held
    };
    let remaining = if allowed {
        (limit.requests - used).max(0)
    } else {
        0
    };
    let rate = RateState {
        limit: limit.requests,
        remaining,
        reset: limit.reset_after(now),
    };
    (allowed, rate)
}

/// One use costing `cost` against the quota: whether it is allowed.
async fn spend_quota(
    state: &mut State,
    store: &dyn Store,
    id: &TokenId,
    quota: Quota,
    cost: i64,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let refill = quota.refill.map(|r| (r.amount, r.period(now)));
    if let Some((_, period)) = refill {
        // A new period: what was held belongs to the old count.
        if state.quota_period.is_some_and(|p| p < period) {
            state.quota_held = 0;
            state.quota_empty_at = None;
        }
    }
    if state.quota_held >= cost {
        state.quota_held -= cost;
        return Ok(true);
    }
    let second = now.unix_timestamp();
    let refill_due = refill.is_some_and(|(_, p)| state.quota_period.is_none_or(|q| q < p));
    if state.quota_empty_at == Some(second) && !refill_due {
        return Ok(false);
    }
    let slice = (state.quota_stored / 100).max(1);
    let want = (cost - state.quota_held).max(slice);
    let grant = tokio::time::timeout(RESERVE_TIMEOUT, store.reserve_quota(id, want, refill))
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "storage did not answer a quota reservation in time".into(),
            ))
        })?;
    let Some(grant) = grant else {
        state.quota_empty_at = Some(second);
        return Ok(false);
    };
    if grant.version != state.quota_version {
        // The count was set anew (a refill) since the slice held was
        // reserved: that slice is not part of it.
        state.quota_held = 0;
    }
    state.quota_held += grant.granted;
    state.quota_version = grant.version;
    state.quota_stored = grant.remaining;
    state.quota_period = refill.map(|(_, p)| p);
    if state.quota_held >= cost {
        state.quota_held -= cost;
        Ok(true)
    } else {
        state.quota_empty_at = Some(second);
        Ok(false)
    }
}
