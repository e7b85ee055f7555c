//! The caches behind verification, and how they stay correct.
//!
//! Reads are lock-free (`papaya` maps): a verification that hits takes no
//! lock a writer could hold. Every change made through the store wrapper
//! ([`crate::InvalidatingStore`]) invalidates what it touched *after* the
//! database commit.
//!
//! The one subtle case is a miss that loads from storage while a change
//! commits: the loader could insert the old record after the writer's
//! invalidation. So invalidation bumps an epoch before removing, and a
//! loader that sees the epoch moved while it was loading removes what it
//! just inserted. Either the writer's removal comes after the insert, or
//! the loader notices; a stale entry never survives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tessera_core::model::{Member, Org, Token};
use tessera_core::permission::ResolvedScope;
use tessera_core::policy::CompiledPolicy;
use tessera_core::{MemberPermissions, RoleKey, TokenScope};

/// A token as verification needs it: the record and its compiled scope.
#[derive(Debug)]
pub struct CachedToken {
    pub token: Token,
    pub scope: ResolvedScope,
}

/// A member and their current permissions, compiled.
#[derive(Debug)]
pub struct CachedMember {
    pub member: Member,
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

    pub fn resolve_scope(&self, token: &Token) -> ResolvedScope {
        let keys: &[RoleKey] = match &token.scope {
            TokenScope::CustomRoles(keys) => keys,
            _ => &[],
        };
        ResolvedScope::new(&token.scope, &token.member_id, self.pick(keys))
    }
}

type Map<V> = papaya::HashMap<String, V>;

#[derive(Default)]
pub(crate) struct Cache {
    epoch: AtomicU64,
    pub tokens: Map<Arc<CachedToken>>,
    pub members: Map<Arc<CachedMember>>,
    pub orgs: Map<Arc<Org>>,
    pub roles: Map<Arc<OrgRoles>>,
    /// Well-formed ids that storage did not know, until (Unix seconds).
    pub unknown: Map<i64>,
}

impl Cache {
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Inserts what a load read at `epoch`, unless something was
    /// invalidated meanwhile (see the module docs).
    pub fn insert_loaded<V>(&self, map: &Map<Arc<V>>, key: &str, value: &Arc<V>, epoch: u64) {
        let pinned = map.pin();
        pinned.insert(key.to_owned(), Arc::clone(value));
        if self.epoch() != epoch {
            let _ = pinned.remove_if(key, |_, current| Arc::ptr_eq(current, value));
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
                .retain(|_, t| t.token.member_id.as_str() != id);
        }
    }

    pub fn invalidate_org(&self, id: &str) {
        self.bump();
        self.orgs.pin().remove(id);
    }

    /// A custom role changed: every member of the org, and every token
    /// scoped to custom roles there, is recompiled on next use.
    pub fn invalidate_roles(&self, org: &str) {
        self.bump();
        self.roles.pin().remove(org);
        self.members
            .pin()
            .retain(|_, m| m.member.org_id.as_str() != org);
        self.tokens.pin().retain(|_, t| {
            !(t.token.org_id.as_str() == org && matches!(t.token.scope, TokenScope::CustomRoles(_)))
        });
    }

    /// Drops everything (after losing track of changes, e.g. a lost
    /// notification connection).
    pub fn invalidate_all(&self) {
        self.bump();
        self.tokens.pin().clear();
        self.members.pin().clear();
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
    fn an_invalidation_after_the_insert_removes_it() {
        let cache = Cache::default();
        let epoch = cache.epoch();
        cache.insert_loaded(&cache.roles, "org", &entry(), epoch);
        assert!(cache.roles.pin().get("org").is_some());
        cache.invalidate_roles("org");
        assert!(cache.roles.pin().get("org").is_none());
    }
}
