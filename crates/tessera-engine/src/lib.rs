//! Tessera's verification engine: from a presented string to "who is
//! this, and may they do ACTION on RESOURCE?", at memory speed.
//!
//! The order of checks puts the cheapest first: format and checksum (no
//! storage, no allocation), the token by id from a lock-free cache, the
//! SHA-256 of the secret compared in constant time (current secret, or the
//! previous one during a rotation's grace period), expiry, disabling, the owner's
//! current membership and compiled permissions, the org. A cache hit
//! touches no storage and takes no lock shared with writers.
//!
//! Misses load from storage once (concurrent misses for one id share the
//! load; total concurrent loads are bounded). Well-formed ids that storage
//! does not know are remembered for a short time, so repeating a random
//! token cannot reach the database.
//!
//! Writes must go through [`Engine::store`], which invalidates the cache
//! after each change; the HTTP server does, and so does any Rust service
//! that embeds the engine:
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn tessera_store::Store>) -> Result<(), tessera_store::StoreError> {
//! use tessera_engine::Engine;
//! let engine = Engine::new(store, tessera_core::TokenFormat::default());
//! let now = time::OffsetDateTime::now_utc();
//! match engine.verify("tsr_...", now).await? {
//!     Ok(verified) if verified.allows("flag:read", "proj/web:flag/checkout") => { /* serve */ }
//!     Ok(_) => { /* 403 */ }
//!     Err(rejection) => { /* 401, rejection.code() */ }
//! }
//! # Ok(()) }
//! ```

mod activity;
mod cache;
mod limits;
mod verified;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use tessera_core::lifecycle::check_not_expired;
use tessera_core::model::{Org, SecretMatch, TokenOwner};
use tessera_core::policy::CompiledPolicy;
use tessera_core::{MemberId, OrgId, ServiceAccountId, TokenFormat, TokenId, TokenScope};
use tessera_store::{Change, FeedEvent, Store, StoreError};
use time::{Duration, OffsetDateTime};
use tokio::sync::{OnceCell, Semaphore};

pub use activity::{ActivityTracker, Outcome, PendingUsage};
pub use cache::{CachedMember, CachedServiceAccount, CachedToken, OrgRoles};
pub use limits::{Checked, Denial, Limiter, RateState};
pub use verified::{Principal, Verified};

use cache::Cache;

/// The engine's one reading of the system clock, for real-time events (a
/// lost change feed); verification itself takes `now` from its caller.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Why a presented token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Wrong prefix, length, alphabet or checksum: never reached storage.
    Malformed,
    /// Unknown, revoked, wrong secret, or its owner is no longer a member.
    Invalid,
    Expired,
    /// Disabled (by hand or by the org's inactivity rule) until enabled.
    Disabled,
    /// The host product suspended the token's org (platform API) until it
    /// lifts the suspension.
    OrgSuspended,
}

impl Rejection {
    /// The stable code services see (`POST /verify`'s `code`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_token",
            Self::Invalid => "invalid_token",
            Self::Expired => "token_expired",
            Self::Disabled => "token_disabled",
            Self::OrgSuspended => "org_suspended",
        }
    }
}

/// Tuning; the defaults suit most deployments.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long an id storage did not know is answered from memory.
    pub unknown_ttl: Duration,
    /// Most remembered unknown ids; past it the set starts over.
    pub max_unknown: usize,
    /// Most storage loads in flight at once.
    pub max_concurrent_loads: usize,
    /// While the change feed is down *and* storage cannot be read, cached
    /// answers are still given for this long after the feed was lost;
    /// afterwards verification fails (503) until storage is back.
    pub outage_grace: Duration,
    /// During such an outage, how long a verification waits for storage
    /// before answering from the cache.
    pub outage_load_timeout: std::time::Duration,
    /// Longest a cache miss waits for storage before failing with
    /// `Unavailable`. Only misses pay for this timer, so verification
    /// needs no per-request timeout around it.
    pub load_timeout: std::time::Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            unknown_ttl: Duration::seconds(30),
            max_unknown: 100_000,
            max_concurrent_loads: 32,
            outage_grace: Duration::seconds(30),
            outage_load_timeout: std::time::Duration::from_millis(250),
            load_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Storage reads the engine made, by kind: what the cache saved shows here.
#[derive(Debug, Default)]
pub struct Stats {
    pub token_loads: AtomicU64,
    pub member_loads: AtomicU64,
    pub service_account_loads: AtomicU64,
    pub org_loads: AtomicU64,
    pub role_loads: AtomicU64,
}

impl Stats {
    /// All storage reads so far.
    pub fn storage_reads(&self) -> u64 {
        self.token_loads.load(Ordering::Relaxed)
            + self.member_loads.load(Ordering::Relaxed)
            + self.service_account_loads.load(Ordering::Relaxed)
            + self.org_loads.load(Ordering::Relaxed)
            + self.role_loads.load(Ordering::Relaxed)
    }
}

/// A token load in flight, shared by the verifications that miss on one id
/// at once. It remembers the cache epoch it started in: a verification that
/// starts after an invalidation must not take the answer of a load that may
/// have read storage before the change committed.
struct TokenLoad {
    epoch: u64,
    result: OnceCell<Option<Arc<CachedToken>>>,
}

struct Inner {
    store: Arc<dyn Store>,
    format: TokenFormat,
    config: EngineConfig,
    cache: Arc<Cache>,
    loading: papaya::HashMap<String, Arc<TokenLoad>>,
    loads: Semaphore,
    activity: ActivityTracker,
    limiter: Limiter,
    stats: Stats,
    /// False between a lost change feed and its resumption: the cache may
    /// have missed changes, so answers come from storage.
    trusted: AtomicBool,
    /// When the feed was lost (Unix seconds).
    lost_at: AtomicI64,
}

/// The verification engine. Clone it freely: clones share one cache.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, format: TokenFormat) -> Self {
        Self::with_config(store, format, EngineConfig::default())
    }

    pub fn with_config(store: Arc<dyn Store>, format: TokenFormat, config: EngineConfig) -> Self {
        let cache = Arc::new(Cache::default());
        // Every write this node commits reaches the cache before the call
        // that made it returns, whichever front end made it.
        let listening = Arc::downgrade(&cache);
        store.on_commit(Arc::new(move |change: &Change| {
            if let Some(cache) = listening.upgrade() {
                cache.invalidate_changed(change);
            }
        }));
        let inner = Arc::new(Inner {
            store,
            format,
            loads: Semaphore::new(config.max_concurrent_loads.max(1)),
            config,
            cache,
            loading: papaya::HashMap::new(),
            activity: ActivityTracker::default(),
            limiter: Limiter::default(),
            stats: Stats::default(),
            trusted: AtomicBool::new(true),
            lost_at: AtomicI64::new(0),
        });
        Self { inner }
    }

    /// The store the engine reads; its commits keep the cache correct.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn format(&self) -> &TokenFormat {
        &self.inner.format
    }

    /// Last uses, usage counts and client addresses not yet written.
    pub fn activity(&self) -> &ActivityTracker {
        &self.inner.activity
    }

    pub fn limiter(&self) -> &Limiter {
        &self.inner.limiter
    }

    /// Checks a verified token's controls for one use from `ip` costing
    /// `cost` (quota units), spending its rate limit and quota when
    /// allowed. A token without controls answers at once. `Err` when a
    /// quota could not be reserved: refuse the use (503), never allow it.
    pub async fn check_controls(
        &self,
        verified: &Verified,
        ip: Option<std::net::IpAddr>,
        cost: i64,
        now: OffsetDateTime,
    ) -> Result<Checked, StoreError> {
        let Some(controls) = verified.token().controls.as_deref() else {
            return Ok(Checked::default());
        };
        if !controls.ip_allowed(ip) {
            return Ok(Checked {
                denial: Some(Denial::IpNotAllowed),
                ..Checked::default()
            });
        }
        if controls.rate_limit.is_none() && controls.quota.is_none() {
            return Ok(Checked::default());
        }
        let store = self.inner.store.as_ref();
        self.inner
            .limiter
            .check(store, &verified.token, controls, cost, now)
            .await
    }

    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Forgets everything cached, for when changes may have been missed.
    pub fn invalidate_all(&self) {
        self.inner.cache.invalidate_all();
    }

    /// Is the cache following every change (true unless a shared
    /// backend's change feed is down)?
    pub fn is_following(&self) -> bool {
        self.inner.trusted.load(Ordering::SeqCst)
    }

    /// Subscribes to the store's change feed (shared backends have one)
    /// and applies changes made by other nodes to this cache for as long
    /// as the engine lives. Returns whether there is a feed to follow.
    pub async fn follow_changes(&self) -> Result<bool, StoreError> {
        let Some(mut feed) = self.inner.store.subscribe().await? else {
            return Ok(false);
        };
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while let Some(event) = feed.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                Engine { inner }.apply(&event);
            }
        });
        Ok(true)
    }

    /// Applies one change-feed event.
    pub fn apply(&self, event: &FeedEvent) {
        let cache = &self.inner.cache;
        match event {
            FeedEvent::Change(change) => cache.invalidate_changed(change),
            FeedEvent::Lost => {
                let now = wall_clock().unix_timestamp();
                self.inner.lost_at.store(now, Ordering::SeqCst);
                self.inner.trusted.store(false, Ordering::SeqCst);
            }
            FeedEvent::Resumed => {
                // Whatever changed while deaf is unknown: start over.
                cache.invalidate_all();
                self.inner.trusted.store(true, Ordering::SeqCst);
            }
        }
    }

    /// May a cached answer be given without asking storage?
    fn trusting(&self) -> bool {
        self.inner.trusted.load(Ordering::SeqCst)
    }

    /// Storage failed while the feed is down: may a cached answer stand in?
    /// (Wall-clock time: the outage is a real-time event.)
    fn within_outage_grace(&self) -> bool {
        let lost_at = self.inner.lost_at.load(Ordering::SeqCst);
        let now = wall_clock().unix_timestamp();
        !self.trusting() && now - lost_at < self.inner.config.outage_grace.whole_seconds()
    }

    /// Loads from storage; while the feed is down and a cached answer
    /// exists, waits at most `outage_load_timeout` for storage and falls
    /// back to the cached answer if storage fails or is too slow (within
    /// the outage grace), so an unreachable database does not make every
    /// verification wait for the pool's acquire timeout.
    async fn load_or_cached<T>(
        &self,
        load: impl std::future::Future<Output = Result<T, StoreError>>,
        cached: Option<T>,
    ) -> Result<T, StoreError> {
        let Some(cached) = cached.filter(|_| self.within_outage_grace()) else {
            return tokio::time::timeout(self.inner.config.load_timeout, load)
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::Unavailable(
                        "storage did not answer in time".into(),
                    ))
                });
        };
        match tokio::time::timeout(self.inner.config.outage_load_timeout, load).await {
            Ok(Ok(loaded)) => Ok(loaded),
            Ok(Err(_)) | Err(_) => Ok(cached),
        }
    }

    /// Verifies `presented` at `now`.
    pub async fn verify(
        &self,
        presented: &str,
        now: OffsetDateTime,
    ) -> Result<Result<Verified, Rejection>, StoreError> {
        let Ok(parsed) = self.inner.format.parse(presented) else {
            return Ok(Err(Rejection::Malformed));
        };
        // Hashed before the lookup so unknown ids and wrong secrets cost the same.
        let presented_hash = parsed.secret_hash();
        let Some(entry) = self.token(parsed.id_str(), now).await? else {
            return Ok(Err(Rejection::Invalid));
        };
        let Some(matched) = entry.token.secret_match(&presented_hash, now) else {
            return Ok(Err(Rejection::Invalid));
        };
        if check_not_expired(now, entry.token.expires_at).is_err() {
            return Ok(Err(Rejection::Expired));
        }
        // From the cached record: disabling commits a token change, which
        // drops the entry here and, through the feed, on every other node.
        if entry.token.disabled_at.is_some() {
            return Ok(Err(Rejection::Disabled));
        }
        let org_id = &entry.token.org_id;
        let principal = match &entry.token.owner {
            TokenOwner::Member(id) => self.member(org_id, id).await?.map(Principal::Member),
            TokenOwner::ServiceAccount(id) => self
                .service_account(org_id, id)
                .await?
                .map(Principal::ServiceAccount),
        };
        let Some(principal) = principal else {
            return Ok(Err(Rejection::Invalid));
        };
        let Some(org) = self.org(&entry.token.org_id).await? else {
            return Ok(Err(Rejection::Invalid));
        };
        // From the cached org: suspending commits an org change, which
        // drops it here and, through the feed, on every other node.
        if org.suspended_at.is_some() {
            return Ok(Err(Rejection::OrgSuspended));
        }
        Ok(Ok(Verified {
            token: entry,
            principal,
            org,
            superseded: matched == SecretMatch::Superseded,
        }))
    }

    /// Records a use of a token and how it ended, for "last used" and its
    /// usage (no I/O).
    pub fn record_use(
        &self,
        verified: &Verified,
        outcome: Outcome,
        at: OffsetDateTime,
        ip: Option<std::net::IpAddr>,
    ) {
        self.inner.activity.record(&verified.token, outcome, ip, at);
    }

    async fn token(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Arc<CachedToken>>, StoreError> {
        let inner = &self.inner;
        let cached = inner.cache.tokens.pin().get(id).cloned();
        if self.trusting() {
            if cached.is_some() {
                return Ok(cached);
            }
            let known_unknown = inner
                .cache
                .unknown
                .pin()
                .get(id)
                .is_some_and(|until| *until > now.unix_timestamp());
            if known_unknown {
                return Ok(None);
            }
        }
        let cell = self.join_or_start_load(id);
        let load = async {
            let loaded = cell
                .result
                .get_or_try_init(|| self.load_token(id, now))
                .await
                .cloned();
            inner
                .loading
                .pin()
                .remove_if(id, |_, c| Arc::ptr_eq(c, &cell))
                .ok();
            loaded
        };
        self.load_or_cached(load, cached.map(Some)).await
    }

    /// One load per id, however many requests miss on it at once; but only
    /// loads started since the last invalidation are joined, so a load begun
    /// before a delete committed cannot answer for a verification that began
    /// after the delete returned.
    fn join_or_start_load(&self, id: &str) -> Arc<TokenLoad> {
        let epoch = self.inner.cache.epoch();
        let fresh = Arc::new(TokenLoad {
            epoch,
            result: OnceCell::new(),
        });
        let loading = self.inner.loading.pin();
        let joined = loading.compute(id.to_owned(), |pending| match pending {
            Some((_, load)) if load.epoch == epoch => papaya::Operation::Abort(Arc::clone(load)),
            _ => papaya::Operation::Insert(Arc::clone(&fresh)),
        });
        match joined {
            papaya::Compute::Aborted(load) => load,
            _ => fresh,
        }
    }

    async fn load_token(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Arc<CachedToken>>, StoreError> {
        let inner = &self.inner;
        let _permit = inner
            .loads
            .acquire()
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let epoch = inner.cache.epoch();
        inner.stats.token_loads.fetch_add(1, Ordering::Relaxed);
        let Some(token) = inner
            .store
            .get_token(&TokenId::from_trusted(id.to_owned()))
            .await?
        else {
            self.remember_unknown(id, now, epoch);
            return Ok(None);
        };
        let scope = match &token.scope {
            TokenScope::CustomRoles(_) => self.roles(&token.org_id).await?.resolve_scope(&token),
            _ => OrgRoles::default().resolve_scope(&token),
        };
        let entry = Arc::new(CachedToken::new(token, scope));
        inner
            .cache
            .insert_loaded(&inner.cache.tokens, id, &entry, epoch);
        Ok(Some(entry))
    }

    fn remember_unknown(&self, id: &str, now: OffsetDateTime, epoch: u64) {
        let cache = &self.inner.cache;
        if cache.unknown.len() >= self.inner.config.max_unknown {
            cache.unknown.pin().clear();
        }
        let until = (now + self.inner.config.unknown_ttl).unix_timestamp();
        cache.insert_loaded(&cache.unknown, id, &until, epoch);
    }

    /// A member with compiled permissions; `None` when not (or no longer) a
    /// member of `org`.
    pub async fn member(
        &self,
        org: &OrgId,
        id: &MemberId,
    ) -> Result<Option<Arc<CachedMember>>, StoreError> {
        let cached = self.inner.cache.members.pin().get(id.as_str()).cloned();
        let cached = cached.filter(|m| &m.member.org_id == org);
        if self.trusting() && cached.is_some() {
            return Ok(cached);
        }
        self.load_or_cached(self.load_member(org, id), cached.map(Some))
            .await
    }

    async fn load_member(
        &self,
        org: &OrgId,
        id: &MemberId,
    ) -> Result<Option<Arc<CachedMember>>, StoreError> {
        let inner = &self.inner;
        let epoch = inner.cache.epoch();
        inner.stats.member_loads.fetch_add(1, Ordering::Relaxed);
        let Some(member) = inner.store.get_member(org, id).await? else {
            return Ok(None);
        };
        let permissions = if member.custom_roles.is_empty() {
            OrgRoles::default().member_permissions(&member)
        } else {
            self.roles(org).await?.member_permissions(&member)
        };
        let entry = Arc::new(CachedMember {
            member,
            permissions,
        });
        inner
            .cache
            .insert_loaded(&inner.cache.members, id.as_str(), &entry, epoch);
        Ok(Some(entry))
    }

    /// A service account with compiled permissions; `None` when it does
    /// not (or no longer) exist in `org`.
    pub async fn service_account(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<Option<Arc<CachedServiceAccount>>, StoreError> {
        let cached = self
            .inner
            .cache
            .service_accounts
            .pin()
            .get(id.as_str())
            .cloned();
        let cached = cached.filter(|a| &a.account.org_id == org);
        if self.trusting() && cached.is_some() {
            return Ok(cached);
        }
        self.load_or_cached(self.load_service_account(org, id), cached.map(Some))
            .await
    }

    async fn load_service_account(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<Option<Arc<CachedServiceAccount>>, StoreError> {
        let inner = &self.inner;
        let epoch = inner.cache.epoch();
        inner
            .stats
            .service_account_loads
            .fetch_add(1, Ordering::Relaxed);
        let Some(account) = inner.store.get_service_account(org, id).await? else {
            return Ok(None);
        };
        let permissions = if account.custom_roles.is_empty() {
            OrgRoles::default().service_account_permissions(&account)
        } else {
            self.roles(org).await?.service_account_permissions(&account)
        };
        let entry = Arc::new(CachedServiceAccount {
            account,
            permissions,
        });
        inner
            .cache
            .insert_loaded(&inner.cache.service_accounts, id.as_str(), &entry, epoch);
        Ok(Some(entry))
    }

    pub async fn org(&self, id: &OrgId) -> Result<Option<Arc<Org>>, StoreError> {
        let inner = &self.inner;
        let cached = inner.cache.orgs.pin().get(id.as_str()).cloned();
        if self.trusting() && cached.is_some() {
            return Ok(cached);
        }
        let load = async {
            let epoch = inner.cache.epoch();
            inner.stats.org_loads.fetch_add(1, Ordering::Relaxed);
            inner.store.get_org(id).await.map(|org| {
                org.map(|org| {
                    let entry = Arc::new(org);
                    inner
                        .cache
                        .insert_loaded(&inner.cache.orgs, id.as_str(), &entry, epoch);
                    entry
                })
            })
        };
        self.load_or_cached(load, cached.map(Some)).await
    }

    async fn roles(&self, org: &OrgId) -> Result<Arc<OrgRoles>, StoreError> {
        let inner = &self.inner;
        if self.trusting() {
            if let Some(hit) = inner.cache.roles.pin().get(org.as_str()) {
                return Ok(Arc::clone(hit));
            }
        }
        let epoch = inner.cache.epoch();
        inner.stats.role_loads.fetch_add(1, Ordering::Relaxed);
        let roles = inner.store.list_roles(org).await?;
        let compiled = roles
            .into_iter()
            .map(|r| (r.key, CompiledPolicy::from_statements(&r.policy.0)))
            .collect();
        let entry = Arc::new(OrgRoles::new(compiled));
        inner
            .cache
            .insert_loaded(&inner.cache.roles, org.as_str(), &entry, epoch);
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_store::SqlStore;

    #[tokio::test]
    async fn a_load_begun_before_an_invalidation_is_not_joined_after_it() {
        let store = SqlStore::connect("sqlite::memory:").await.expect("store");
        let engine = Engine::new(Arc::new(store), TokenFormat::default());
        let first = engine.join_or_start_load("id");
        let joined = engine.join_or_start_load("id");
        assert!(
            Arc::ptr_eq(&first, &joined),
            "concurrent misses share a load"
        );

        // A delete commits and invalidates while `first` is still loading:
        // what it read may predate the delete.
        engine.inner.cache.invalidate_token("id");
        let after = engine.join_or_start_load("id");
        assert!(
            !Arc::ptr_eq(&first, &after),
            "joined a load from before the change"
        );
    }

    /// A flood of distinct well-formed unknown ids cannot put more than
    /// `max_concurrent_loads` reads on storage at once: further misses wait.
    #[tokio::test]
    async fn misses_beyond_the_load_bound_wait_for_a_slot() {
        let store = SqlStore::connect("sqlite::memory:").await.expect("store");
        let config = EngineConfig {
            max_concurrent_loads: 2,
            ..EngineConfig::default()
        };
        let engine = Engine::with_config(Arc::new(store), TokenFormat::default(), config);
        let now = wall_clock();
        // Two loads in progress (their slots held here).
        let first = engine.inner.loads.acquire().await.expect("slot");
        let _second = engine.inner.loads.acquire().await.expect("slot");
        let unknown = engine.format().generate(now).token;
        let waiting = engine.verify(&unknown, now);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(300), &mut waiting)
                .await
                .is_err(),
            "a third load ran beside two in progress"
        );
        assert_eq!(engine.stats().token_loads.load(Ordering::Relaxed), 0);
        drop(first);
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
            .await
            .expect("loaded once a slot was free")
            .expect("storage");
        assert!(answer.is_err(), "an unknown id verified");
        assert_eq!(engine.stats().token_loads.load(Ordering::Relaxed), 1);
    }
}
