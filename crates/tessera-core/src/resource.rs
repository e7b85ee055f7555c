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

impl Resource for Token {
    fn resource(&self) -> String {
        token(&self.member_id, &self.id)
    }
}

impl Resource for Member {
    fn resource(&self) -> String {
        member(&self.id)
    }
}

impl Resource for CustomRole {
    fn resource(&self) -> String {
        role(&self.key)
    }
}

impl Resource for Project {
    fn resource(&self) -> String {
        project(&self.key)
    }
}

impl Resource for Org {
    fn resource(&self) -> String {
        org(&self.key)
    }
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
