//! Who an operation acts for, and the permission checks every operation
//! makes on them.
//!
//! A token acts within its owner's permissions, its scope and its project
//! restriction at once; a session acts with the member's own permissions.
//! A string a rotation replaced (still in its grace period) authenticates
//! but manages no tokens.

use tessera_core::model::{Actor, Member, Org, Token};
use tessera_core::permission::ResolvedScope;
use tessera_core::resource::Resource;
use tessera_core::{Grantor, MemberPermissions, SecretHash, TokenScope};

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

/// Token actions a superseded string may not take: all but reading.
fn manages_tokens(action: &str) -> bool {
    action.starts_with("token:") && action != "token:read"
}

/// An authenticated member of an org: who every operation acts for. Only
/// authentication makes one (`crate::auth`, from a token or a session), so
/// an operation that takes a `Caller` cannot run without a valid
/// credential.
#[derive(Clone)]
pub struct Caller {
    pub member: Member,
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

    /// A 403 that says why, for a superseded string managing tokens.
    fn check_not_superseded(&self, action: &str) -> ServiceResult<()> {
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

    pub fn grantor(&self) -> Grantor<'_> {
        Grantor {
            role: self.member.role,
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
            member: Some(self.member.id.clone()),
            token: self.token().map(|t| t.id.clone()),
        }
    }
}
