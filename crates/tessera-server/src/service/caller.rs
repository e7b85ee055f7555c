//! Who an operation acts for, and the permission checks every operation
//! makes on them.
//!
//! A token acts within its owner's permissions, its scope and its project
//! restriction at once; a session acts with the member's own permissions.
//! A string a rotation replaced (still in its grace period) authenticates
//! but manages no tokens.

use tessera_core::model::{Actor, Member, Org, ServiceAccount, Token, TokenOwner};
use tessera_core::permission::ResolvedScope;
use tessera_core::resource::{self, Resource};
use tessera_core::{BuiltinRole, Grantor, MemberPermissions, RoleKey, SecretHash, TokenScope};

use super::{ServiceError, ServiceResult};

/// How the caller authenticated.
#[derive(Clone)]
pub enum Via {
    Session {
        id_hash: SecretHash,
    },
    Token {
        token: Box<Token>,
        scope: ResolvedScope,
        /// The string presented was the one a rotation replaced, still in
        /// its grace period: it may authenticate, not manage tokens.
        superseded: bool,
    },
}

/// The action that lets a caller manage a service account's tokens.
pub const MANAGE_TOKENS: &str = "service_account:manage_tokens";

/// Token actions a superseded string may not take: all but reading.
fn manages_tokens(action: &str) -> bool {
    action.starts_with("token:") && action != "token:read"
}

/// Who a call acts as: a member (through a session or one of their
/// tokens), or a service account (through one of its tokens; it never has
/// a session).
#[derive(Clone)]
pub enum Identity {
    Member(Member),
    ServiceAccount(ServiceAccount),
}

/// An authenticated member or service account of an org: who every
/// operation acts for. Only authentication makes one (`crate::auth`, from
/// a token or a session), so an operation that takes a `Caller` cannot run
/// without a valid credential.
#[derive(Clone)]
pub struct Caller {
    pub identity: Identity,
    pub org: Org,
    pub permissions: MemberPermissions,
    pub via: Via,
    pub ip: Option<String>,
}

impl Caller {
    /// The full permission check for this call: for a token, owner ∧ scope ∧
    /// projects; for a session, the member's own permissions.
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        match &self.via {
            Via::Session { .. } => self.permissions.allows(action, resource),
            Via::Token {
                superseded: true, ..
            } if manages_tokens(action) => false,
            Via::Token { token, scope, .. } => tessera_core::permission::token_allows(
                &self.permissions,
                scope,
                &token.projects,
                action,
                resource,
            ),
        }
    }

    /// The `items` this caller may `action` (a `*:read`), as `response`
    /// answers them: what a list shows.
    pub fn readable<T: Resource, R>(
        &self,
        action: &str,
        items: &[T],
        response: impl Fn(&T) -> R,
    ) -> Vec<R> {
        items
            .iter()
            .filter(|item| self.allows(action, &item.resource()))
            .map(response)
            .collect()
    }

    /// Like [`Caller::allows`], but for a token acting on itself (`self`):
    /// reading and rotating itself are not bound by its project
    /// restriction (see `token_allows_on_itself`).
    pub fn allows_on(&self, action: &str, resource: &str, target: &tessera_core::TokenId) -> bool {
        match &self.via {
            Via::Token {
                superseded: true, ..
            } if manages_tokens(action) => false,
            Via::Token { token, scope, .. } if &token.id == target => {
                self.allows(action, resource)
                    || tessera_core::permission::token_allows_on_itself(
                        &self.permissions,
                        scope,
                        action,
                        resource,
                    )
            }
            _ => self.allows(action, resource),
        }
    }

    /// 403 naming the action unless allowed.
    pub fn require(&self, action: &str, resource: &str) -> ServiceResult<()> {
        self.check_not_superseded(action)?;
        if self.allows(action, resource) {
            Ok(())
        } else {
            Err(ServiceError::forbidden(action, resource))
        }
    }

    /// [`Caller::require`] for an action on token `target` (see
    /// [`Caller::allows_on`]).
    pub fn require_on(
        &self,
        action: &str,
        resource: &str,
        target: &tessera_core::TokenId,
    ) -> ServiceResult<()> {
        self.check_not_superseded(action)?;
        if self.allows_on(action, resource, target) {
            Ok(())
        } else {
            Err(ServiceError::forbidden(action, resource))
        }
    }

    /// May this call take token `action` (`token:read`, `token:rotate`,
    /// ...) on `token`? A member's token: the action on its resource. A
    /// service account's: `service_account:manage_tokens` on the account
    /// (or, for the calling token itself, what it may do to itself). A
    /// superseded string manages no token of either kind.
    pub fn allows_token(&self, action: &str, token: &Token) -> bool {
        let target = token.resource();
        match &token.owner {
            TokenOwner::Member(_) => self.allows_on(action, &target, &token.id),
            TokenOwner::ServiceAccount(account) => {
                let on_itself = self.token().is_some_and(|t| t.id == token.id);
                (on_itself && self.allows_on(action, &target, &token.id))
                    || (self.check_not_superseded(action).is_ok()
                        && self.allows(MANAGE_TOKENS, &resource::service_account(account)))
            }
        }
    }

    /// [`Caller::allows_token`], or the 403 that names what was missing.
    pub fn require_token(&self, action: &str, token: &Token) -> ServiceResult<()> {
        self.check_not_superseded(action)?;
        if self.allows_token(action, token) {
            return Ok(());
        }
        Err(match &token.owner {
            TokenOwner::Member(_) => ServiceError::forbidden(action, &token.resource()),
            TokenOwner::ServiceAccount(account) => {
                ServiceError::forbidden(MANAGE_TOKENS, &resource::service_account(account))
            }
        })
    }

    /// A 403 that says why, for a superseded string managing tokens.
    pub(crate) fn check_not_superseded(&self, action: &str) -> ServiceResult<()> {
        match &self.via {
            Via::Token {
                superseded: true, ..
            } if manages_tokens(action) => Err(ServiceError::NotAllowed(
                "this token was rotated: until its grace period ends the old string can authenticate and be verified, but not manage tokens; use the new string".into(),
            )),
            _ => Ok(()),
        }
    }

    pub fn token(&self) -> Option<&Token> {
        match &self.via {
            Via::Token { token, .. } => Some(token),
            Via::Session { .. } => None,
        }
    }

    /// The session's id hash; 403 `session_required` for a token.
    pub fn require_session(&self) -> ServiceResult<SecretHash> {
        match &self.via {
            Via::Session { id_hash } => Ok(*id_hash),
            Via::Token { .. } => Err(ServiceError::SessionRequired),
        }
    }

    /// The member this call acts as; `None` for a service account.
    pub fn member(&self) -> Option<&Member> {
        match &self.identity {
            Identity::Member(m) => Some(m),
            Identity::ServiceAccount(_) => None,
        }
    }

    /// The service account this call acts as, if it is one.
    pub fn service_account(&self) -> Option<&ServiceAccount> {
        match &self.identity {
            Identity::ServiceAccount(a) => Some(a),
            Identity::Member(_) => None,
        }
    }

    /// The member this call acts as; a 403 that says so for a service
    /// account (for what only people do: passwords, sessions).
    pub fn require_member(&self) -> ServiceResult<&Member> {
        self.member().ok_or_else(|| {
            ServiceError::NotAllowed(
                "a service account cannot do this; it is for members (people) only".into(),
            )
        })
    }

    /// Whose tokens "my tokens" are: the member's, or the account's.
    pub fn owner(&self) -> TokenOwner {
        match &self.identity {
            Identity::Member(m) => TokenOwner::Member(m.id.clone()),
            Identity::ServiceAccount(a) => TokenOwner::ServiceAccount(a.id.clone()),
        }
    }

    /// The caller's current built-in role.
    pub fn role(&self) -> BuiltinRole {
        match &self.identity {
            Identity::Member(m) => m.role,
            Identity::ServiceAccount(a) => a.role,
        }
    }

    /// The custom roles the caller holds.
    pub fn custom_roles(&self) -> &[RoleKey] {
        match &self.identity {
            Identity::Member(m) => &m.custom_roles,
            Identity::ServiceAccount(a) => &a.custom_roles,
        }
    }

    pub fn grantor(&self) -> Grantor<'_> {
        Grantor {
            role: self.role(),
            via_token: self.token().map(|t| &t.scope),
            held_back: self.permissions.held_back(),
        }
    }

    /// The token scope this call acts under, if any.
    pub fn token_scope(&self) -> Option<&TokenScope> {
        self.token().map(|t| &t.scope)
    }

    pub fn actor(&self) -> Actor {
        Actor {
            member: self.member().map(|m| m.id.clone()),
            token: self.token().map(|t| t.id.clone()),
        }
    }
}
