//! Tessera's own resource names, in the `type/name` path syntax that
//! policies match (see [`crate::policy`]). Products add their own.
//!
//! | resource | actions |
//! | --- | --- |
//! | `member/<member id>:token/<token id>` | `token:read|create|update|rotate|clone|delete` |
//! | `member/<member id>` | `member:read|create|update|delete` |
//! | `role/<key>` | `role:read|create|update|delete` |
//! | `proj/<key>` | `project:read|create|delete` |
//! | `org/<key>` | `org:read|update` |
//! | `audit/log` | `audit:read` |

use crate::model::{CustomRole, Member, Org, Project, Token};
use crate::{MemberId, OrgKey, ProjectKey, RoleKey, TokenId};

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
    Token => |t| token(&t.member_id, &t.id);
    Member => |m| member(&m.id);
    CustomRole => |r| role(&r.key);
    Project => |p| project(&p.key);
    Org => |o| org(&o.key);
}

pub fn token(member: &MemberId, token: &TokenId) -> String {
    format!("member/{member}:token/{token}")
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
