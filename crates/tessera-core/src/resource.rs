//! Tessera's own resource names, in the `type/name` path syntax that
//! policies match (see [`crate::policy`]), and the actions on each:
//! [`KINDS`]. Products add their own resources beneath a project
//! (`proj/web:env/prod:flag/checkout`).

use crate::model::{CustomRole, Member, Org, Project, ServiceAccount, Token, TokenOwner};
use crate::{MemberId, OrgKey, ProjectKey, RoleKey, ServiceAccountId, TokenId, WebhookId};

/// A stored thing, by the resource name permissions on it are checked at.
pub trait Resource {
    fn resource(&self) -> String;
}

/// `impl Resource` for each stored type, from how its name is made.
macro_rules! resources {
    ($($stored:ty => |$it:ident| $name:expr;)*) => {$(
        impl Resource for $stored {
            fn resource(&self) -> String {
                let $it = self;
                $name
            }
        }
    )*};
}

resources! {
    Token => |t| owned_token(&t.owner, &t.id);
    Member => |m| member(&m.id);
    ServiceAccount => |a| service_account(&a.id);
    TokenOwner => |o| match o {
        TokenOwner::Member(id) => member(id),
        TokenOwner::ServiceAccount(id) => service_account(id),
    };
    CustomRole => |r| role(&r.key);
    Project => |p| project(&p.key);
    Org => |o| org(&o.key);
}

pub fn token(member: &MemberId, token: &TokenId) -> String {
    format!("member/{member}:token/{token}")
}

/// A token's name under its owner, whichever kind it is.
pub fn owned_token(owner: &TokenOwner, token: &TokenId) -> String {
    format!("{}:token/{token}", owner.resource())
}

pub fn service_account(account: &ServiceAccountId) -> String {
    format!("service_account/{account}")
}

pub fn webhook(id: &WebhookId) -> String {
    format!("webhook/{id}")
}

pub fn member(member: &MemberId) -> String {
    format!("member/{member}")
}

pub fn role(key: &RoleKey) -> String {
    format!("role/{key}")
}

pub fn project(key: &ProjectKey) -> String {
    format!("proj/{key}")
}

pub fn org(key: &OrgKey) -> String {
    format!("org/{key}")
}

pub const AUDIT_LOG: &str = "audit/log";

/// One kind of resource Tessera names: the shape of its name, an example
/// pattern, and the actions a policy can allow or deny on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceKind {
    pub shape: &'static str,
    pub example: &'static str,
    pub actions: &'static [&'static str],
}

/// Every resource Tessera itself checks, with its actions: one list, as
/// data, so that the web page's policy editor shows it rather than a copy.
pub const KINDS: &[ResourceKind] = &[
    ResourceKind {
        shape: "member/<member id>:token/<token id>",
        example: "member/*:token/*",
        actions: &[
            "token:read",
            "token:create",
            "token:update",
            "token:rotate",
            "token:clone",
            "token:delete",
            "token:disable",
            "token:enable",
            "token:introspect",
        ],
    },
    ResourceKind {
        shape: "service_account/<service account id>:token/<token id>",
        example: "service_account/*:token/*",
        // Managing them is `service_account:manage_tokens` on the account.
        actions: &["token:introspect"],
    },
    ResourceKind {
        shape: "service_account/<service account id>",
        example: "service_account/*",
        actions: &[
            "service_account:read",
            "service_account:create",
            "service_account:update",
            "service_account:delete",
            "service_account:manage_tokens",
        ],
    },
    ResourceKind {
        shape: "member/<member id>",
        example: "member/*",
        actions: &[
            "member:read",
            "member:create",
            "member:update",
            "member:delete",
        ],
    },
    ResourceKind {
        shape: "role/<key>",
        example: "role/*",
        actions: &["role:read", "role:create", "role:update", "role:delete"],
    },
    ResourceKind {
        shape: "proj/<key>",
        example: "proj/web",
        actions: &["project:read", "project:create", "project:delete"],
    },
    ResourceKind {
        shape: "org/<key>",
        example: "org/*",
        actions: &["org:read", "org:update"],
    },
    ResourceKind {
        shape: "webhook/<webhook id>",
        example: "webhook/*",
        actions: &[
            "webhook:read",
            "webhook:create",
            "webhook:update",
            "webhook:delete",
        ],
    },
    ResourceKind {
        shape: AUDIT_LOG,
        example: AUDIT_LOG,
        actions: &["audit:read"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::check_resource_shape;

    #[test]
    fn every_kind_is_a_valid_pattern_with_type_verb_actions() {
        for kind in KINDS {
            assert_eq!(check_resource_shape(kind.example, true), Ok(()), "{kind:?}");
            for action in kind.actions {
                let (ty, verb) = action.split_once(':').expect("type:verb");
                assert!(!ty.is_empty() && !verb.is_empty(), "{action}");
            }
        }
    }
}
