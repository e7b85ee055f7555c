//! The caches behind verification, and how they stay correct.
//!
//! Reads are lock-free (`papaya` maps): a verification that hits takes no
//! lock a writer could hold. Every change this node commits invalidates
//! what it touched *after* the database commit (the store calls the
//! engine's listener, `NodeStore::on_commit`); other nodes' changes arrive
//! through the change feed.
//!
//! The one subtle case is a miss that loads from storage while a change
//! commits: the loader could insert the old record after the writer's
//! invalidation. So every invalidation first bumps an epoch, then waits for
//! any insert in progress (a brief write lock that only loaders' inserts
//! contend for, never a cache hit), then removes. A loader inserts under
//! the read side of that lock, and only if the epoch is still the one it
//! started loading in. Either its insert finished before the writer's
//! removal (and is removed), or it sees the new epoch and does not insert;
//! a stale entry is never visible once the invalidation has returned.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tessera_core::model::{Member, Org, ServiceAccount, Token};
use tessera_core::permission::ResolvedScope;
use tessera_core::policy::CompiledPolicy;
use tessera_core::{MemberPermissions, RoleKey, TokenScope};
use tessera_store::Change;

use crate::activity::Slot;

/// A token as verification needs it: the record and its compiled scope,
/// and its uses not yet written.
#[derive(Debug)]
pub struct CachedToken {
    pub token: Token,
    pub scope: ResolvedScope,
    pub(crate) activity: Slot,
}

impl CachedToken {
    pub fn new(token: Token, scope: ResolvedScope) -> Self {
        Self {
            token,
            scope,
            activity: Slot::default(),
        }
    }
}

/// A member and their current permissions, compiled.
#[derive(Debug)]
pub struct CachedMember {
    pub member: Member,
    pub permissions: MemberPermissions,
}

/// A service account and its current permissions, compiled.
#[derive(Debug)]
pub struct CachedServiceAccount {
    pub account: ServiceAccount,
    pub permissions: MemberPermissions,
}

/// An org's custom roles, compiled.
#[derive(Debug, Default)]
pub struct OrgRoles {
    roles: Vec<(RoleKey, CompiledPolicy)>,
}

impl OrgRoles {
    pub fn new(roles: Vec<(RoleKey, CompiledPolicy)>) -> Self {
        Self { roles }
    }

    fn pick<'a>(&'a self, keys: &'a [RoleKey]) -> impl Iterator<Item = &'a CompiledPolicy> + 'a {
        self.roles
            .iter()
            .filter(move |(key, _)| keys.contains(key))
            .map(|(_, policy)| policy)
    }

    pub fn member_permissions(&self, member: &Member) -> MemberPermissions {
        MemberPermissions::new(
            member.id.clone(),
            member.role,
            self.pick(&member.custom_roles),
        )
    }

    pub fn service_account_permissions(&self, account: &ServiceAccount) -> MemberPermissions {
        MemberPermissions::service_account(account.role, self.pick(&account.custom_roles))
    }

    pub fn resolve_scope(&self, token: &Token) -> ResolvedScope {
        let keys: &[RoleKey] = match &token.scope {
            TokenScope::CustomRoles(keys) => keys,
            _ => &[],
        };
        ResolvedScope::new(&token.scope, self.pick(keys))
    }
}

/// The maps of records that exist: tokens, members, service accounts,
/// orgs, roles. Their
/// keys are ids the server generated, inserted only after storage returned
/// the record, so nobody outside can choose what goes in, and a fast
/// seeded hash is safe (three lookups per verification: SipHash cost
/// about a fifth of a cache hit).
pub(crate) type Map<V> = papaya::HashMap<String, V, foldhash::fast::RandomState>;

/// The map of ids storage did not know. Anyone can fill it with ids of
/// their choosing, so it keeps std's SipHash with its random keys: a hash
/// whose collisions cannot be computed from the outside (HashDoS).
pub(crate) type UnknownMap = papaya::HashMap<String, i64>;

#[derive(Default)]
pub(crate) struct Cache {
    epoch: AtomicU64,
    /// Held (shared) by loaders while they insert, and briefly (exclusive)
    /// by invalidations between bumping the epoch and removing.
    inserting: RwLock<()>,
    pub tokens: Map<Arc<CachedToken>>,
    pub members: Map<Arc<CachedMember>>,
    pub service_accounts: Map<Arc<CachedServiceAccount>>,
    pub orgs: Map<Arc<Org>>,
    pub roles: Map<Arc<OrgRoles>>,
    /// Well-formed ids that storage did not know, until (Unix seconds).
    pub unknown: UnknownMap,
}

impl Cache {
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Starts an invalidation: loads begun before it can no longer insert,
    /// and inserts already under way have finished when this returns.
    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        drop(
            self.inserting
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Inserts what a load read at `epoch`, unless something was
    /// invalidated meanwhile (see the module docs).
    pub fn insert_loaded<V: Clone, S: BuildHasher>(
        &self,
        map: &papaya::HashMap<String, V, S>,
        key: &str,
        value: &V,
        epoch: u64,
    ) {
        let _inserting = self
            .inserting
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if self.epoch() == epoch {
            map.pin().insert(key.to_owned(), value.clone());
        }
    }

    pub fn invalidate_token(&self, id: &str) {
        self.bump();
        self.tokens.pin().remove(id);
        self.unknown.pin().remove(id);
    }

    /// A member changed: their permissions are recomputed on next use. When
    /// removed, their cached tokens go too (storage deleted them).
    pub fn invalidate_member(&self, id: &str, removed: bool) {
        self.bump();
        self.members.pin().remove(id);
        if removed {
            self.tokens
                .pin()
                .retain(|_, t| t.token.owner.member().is_none_or(|m| m.as_str() != id));
        }
    }

    /// A service account changed: its permissions are recomputed on next
    /// use. When deleted, its cached tokens go too (storage deleted them).
    pub fn invalidate_service_account(&self, id: &str, removed: bool) {
        self.bump();
        self.service_accounts.pin().remove(id);
        if removed {
            self.tokens.pin().retain(|_, t| {
                t.token
                    .owner
                    .service_account()
                    .is_none_or(|a| a.as_str() != id)
            });
        }
    }

    pub fn invalidate_org(&self, id: &str) {
        self.bump();
        self.orgs.pin().remove(id);
    }

    /// The org was deleted: everything cached of it goes (storage deleted
    /// it all), so none of its tokens is answered from memory again.
    pub fn invalidate_org_removed(&self, org: &str) {
        self.bump();
        self.orgs.pin().remove(org);
        self.roles.pin().remove(org);
        self.tokens
            .pin()
            .retain(|_, t| t.token.org_id.as_str() != org);
        self.members
            .pin()
            .retain(|_, m| m.member.org_id.as_str() != org);
        self.service_accounts
            .pin()
            .retain(|_, a| a.account.org_id.as_str() != org);
    }

    /// A custom role changed: every member of the org, and every token
    /// scoped to custom roles there, is recompiled on next use.
    pub fn invalidate_roles(&self, org: &str) {
        self.bump();
        self.roles.pin().remove(org);
        self.members
            .pin()
            .retain(|_, m| m.member.org_id.as_str() != org);
        self.service_accounts
            .pin()
            .retain(|_, a| a.account.org_id.as_str() != org);
        self.tokens.pin().retain(|_, t| {
            !(t.token.org_id.as_str() == org && matches!(t.token.scope, TokenScope::CustomRoles(_)))
        });
    }

    /// Drops what a committed change made stale.
    pub fn invalidate_changed(&self, change: &Change) {
        match change {
            Change::Token(id) => self.invalidate_token(id.as_str()),
            Change::Member { id, removed } => self.invalidate_member(id.as_str(), *removed),
            Change::Org(id) => self.invalidate_org(id.as_str()),
            Change::OrgRemoved(id) => self.invalidate_org_removed(id.as_str()),
            Change::Roles(org) => self.invalidate_roles(org.as_str()),
            Change::ServiceAccount { id, removed } => {
                self.invalidate_service_account(id.as_str(), *removed)
            }
        }
    }

    /// Drops everything (after losing track of changes, e.g. a lost
    /// notification connection).
    pub fn invalidate_all(&self) {
        self.bump();
        self.tokens.pin().clear();
        self.members.pin().clear();
        self.service_accounts.pin().clear();
        self.orgs.pin().clear();
        self.roles.pin().clear();
        self.unknown.pin().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Arc<OrgRoles> {
        Arc::new(OrgRoles::default())
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_kept() {
        let cache = Cache::default();
        // The loader read storage at this epoch...
        let epoch = cache.epoch();
        // ...a change committed and invalidated meanwhile...
        cache.invalidate_roles("org");
        // ...so what the loader read may be stale and must not stay.
        cache.insert_loaded(&cache.roles, "org", &entry(), epoch);
        assert!(cache.roles.pin().get("org").is_none());
    }

    #[test]
    fn nothing_loaded_before_an_invalidation_is_visible_after_it() {
        // Loaders keep inserting, each value tagged with the epoch its load
        // started in, while invalidations run. Once an invalidation has
        // returned, a visible value must come from a load that started
        // after it began.
        let cache = Arc::new(Cache::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let loaders: Vec<_> = (0..2)
            .map(|_| {
                let (cache, stop) = (Arc::clone(&cache), Arc::clone(&stop));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let epoch = cache.epoch();
                        std::hint::spin_loop();
                        cache.insert_loaded(&cache.unknown, "id", &(epoch as i64), epoch);
                    }
                })
            })
            .collect();
        for _ in 0..20_000 {
            let before = cache.epoch() as i64;
            cache.invalidate_token("id");
            if let Some(loaded_at) = cache.unknown.pin().get("id") {
                assert!(
                    *loaded_at > before,
                    "a load from before the invalidation survived it"
                );
            }
        }
        stop.store(true, Ordering::SeqCst);
        for loader in loaders {
            loader.join().expect("loader");
        }
    }

    #[test]
    fn an_invalidation_after_the_insert_removes_it() {
        let cache = Cache::default();
        let epoch = cache.epoch();
        cache.insert_loaded(&cache.roles, "org", &entry(), epoch);
        assert!(cache.roles.pin().get("org").is_some());
        cache.invalidate_roles("org");
        assert!(cache.roles.pin().get("org").is_none());
    }
}
