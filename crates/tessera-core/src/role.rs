//! Built-in member roles and the policies that define them.
//!
//! Ranked `reader < writer < admin < owner`:
//! - **reader** reads everything except other members' tokens and the audit
//!   log (which records those tokens), and manages its own tokens;
//! - **writer** also changes everything under `proj/*`;
//! - **admin** may do everything; what it may not do is owner-only: give
//!   the owner role, or change or remove an owner (see
//!   [`crate::permission::check_member_change`]);
//! - **owner** may do everything.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::policy::{CompiledPolicy, Effect, Statement};
use crate::{Error, MemberId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuiltinRole {
    Reader,
    Writer,
    Admin,
    Owner,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 4] = [Self::Reader, Self::Writer, Self::Admin, Self::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// The role's statements for `member` (readers and writers manage only
    /// their own tokens, so the policy names the member).
    pub fn statements(self, member: &MemberId) -> Vec<Statement> {
        let own_tokens = format!("member/{member}:token/*");
        let read_all_but_others_tokens = Statement {
            effect: Effect::Allow,
            actions: Some(vec!["*:read".into()]),
            not_actions: None,
            resources: None,
            // Others' tokens are private, and the audit log shows them.
            not_resources: Some(vec!["member/*:token/*".into(), "audit/*".into()]),
        };
        match self {
            Self::Reader => vec![
                read_all_but_others_tokens,
                Statement::allow(&["token:*"], &[&own_tokens]),
            ],
            Self::Writer => vec![
                read_all_but_others_tokens,
                Statement::allow(&["token:*"], &[&own_tokens]),
                Statement::allow(&["*"], &["proj/*", "proj/*:*"]),
            ],
            Self::Admin | Self::Owner => vec![Statement::allow(&["*"], &["*"])],
        }
    }

    pub fn compiled(self, member: &MemberId) -> CompiledPolicy {
        CompiledPolicy::from_statements(&self.statements(member))
    }
}

impl fmt::Display for BuiltinRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BuiltinRole {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::invalid("role", "must be one of reader, writer, admin, owner"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn built_in_roles_grant_what_the_spec_says() {
        let me = MemberId::generate(datetime!(2026-01-01 0:00 UTC));
        let mine = format!("member/{me}:token/abc");
        let theirs = "member/someoneelse0000000000000:token/abc";
        let reader = BuiltinRole::Reader.compiled(&me);
        let writer = BuiltinRole::Writer.compiled(&me);
        let admin = BuiltinRole::Admin.compiled(&me);

        assert!(reader.allows("project:read", "proj/web"));
        assert!(reader.allows("flag:read", "proj/web:env/prod:flag/x"));
        assert!(reader.allows("token:create", &mine));
        assert!(reader.allows("token:delete", &mine));
        assert!(!reader.allows("token:read", theirs));
        assert!(!reader.allows("flag:update", "proj/web:env/prod:flag/x"));
        assert!(!reader.allows("member:create", "member/x"));
        assert!(!reader.allows("audit:read", "audit/log"));
        assert!(!writer.allows("audit:read", "audit/log"));
        assert!(admin.allows("audit:read", "audit/log"));

        assert!(writer.allows("flag:update", "proj/web:env/prod:flag/x"));
        assert!(writer.allows("project:create", "proj/web"));
        assert!(!writer.allows("role:create", "role/x"));
        assert!(!writer.allows("token:read", theirs));

        assert!(admin.allows("token:delete", theirs));
        assert!(admin.allows("member:delete", "member/x"));
    }

    #[test]
    fn ranks_and_names() {
        assert!(BuiltinRole::Reader < BuiltinRole::Writer);
        assert!(BuiltinRole::Admin < BuiltinRole::Owner);
        assert_eq!("writer".parse::<BuiltinRole>(), Ok(BuiltinRole::Writer));
        assert!("root".parse::<BuiltinRole>().is_err());
    }
}
