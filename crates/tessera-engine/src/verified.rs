//! A verified token and whom it acts for: what a verification answers
//! with, and how it decides what the token may do.

use std::sync::Arc;

use tessera_core::model::{Member, Org, ServiceAccount, Token};
use tessera_core::permission::{token_allows, token_allows_on_itself, ResolvedScope};
use tessera_core::MemberPermissions;

use crate::cache::{CachedMember, CachedServiceAccount, CachedToken};

/// Whom a token acts for: its member, or its service account, with their
/// current permissions.
#[derive(Clone)]
pub enum Principal {
    Member(Arc<CachedMember>),
    ServiceAccount(Arc<CachedServiceAccount>),
}

impl Principal {
    pub fn permissions(&self) -> &MemberPermissions {
        match self {
            Self::Member(m) => &m.permissions,
            Self::ServiceAccount(a) => &a.permissions,
        }
    }
}

/// A token that is valid now, with everything needed to decide what it
/// may do. Cheap to clone (three `Arc`s).
#[derive(Clone)]
pub struct Verified {
    pub(crate) token: Arc<CachedToken>,
    pub(crate) principal: Principal,
    pub(crate) org: Arc<Org>,
    pub(crate) superseded: bool,
}

impl Verified {
    pub fn token(&self) -> &Token {
        &self.token.token
    }

    /// Was the string presented the one a rotation replaced (valid only
    /// during its grace period)? See
    /// [`SecretMatch::Superseded`](tessera_core::model::SecretMatch::Superseded).
    pub fn superseded(&self) -> bool {
        self.superseded
    }

    pub fn scope(&self) -> &ResolvedScope {
        &self.token.scope
    }

    /// The member a member's token acts for; `None` for a service
    /// account's.
    pub fn member(&self) -> Option<&Member> {
        match &self.principal {
            Principal::Member(m) => Some(&m.member),
            Principal::ServiceAccount(_) => None,
        }
    }

    /// The service account a service account's token acts for.
    pub fn service_account(&self) -> Option<&ServiceAccount> {
        match &self.principal {
            Principal::ServiceAccount(a) => Some(&a.account),
            Principal::Member(_) => None,
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The owner's current permissions (a service account's: its role's
    /// and custom roles' now, not when the token was made).
    pub fn permissions(&self) -> &MemberPermissions {
        self.principal.permissions()
    }

    pub fn org(&self) -> &Org {
        &self.org
    }

    /// owner's current permissions ∧ token scope ∧ project restriction.
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        token_allows(
            self.permissions(),
            &self.token.scope,
            &self.token.token.projects,
            action,
            resource,
        )
    }

    /// What the token may do to itself (read, rotate), whatever its projects.
    pub fn allows_on_itself(&self, action: &str, own_resource: &str) -> bool {
        token_allows_on_itself(self.permissions(), &self.token.scope, action, own_resource)
    }
}
