//! Built-in member roles and the policies that define them.
//!
//! Ranked `reader < writer < admin < owner`:
//! - **reader** reads everything except other members' tokens, webhooks and the audit
//!   log (which records those tokens), and manages its own tokens;
//! - **writer** also changes everything under `proj/*`;
//! - **admin** may do everything; what it may not do is owner-only: give
//!   the owner role, or change or remove an owner (see
//!   [`crate::permission::check_member_change`]);
//! - **owner** may do everything.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::policy::{CompiledPolicy, Decision, Effect, Statement, SUBJECT};
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
        self.statements_naming(member.as_str())
    }

    fn statements_naming(self, member: &str) -> Vec<Statement> {
        let own_tokens = format!("member/{member}:token/*");
        let read_all_but_others_tokens = Statement {
            effect: Effect::Allow,
            actions: Some(vec!["*:read".into()]),
            not_actions: None,
            resources: None,
            // Others' tokens are private (service accounts' too: reading
            // them is managing them), and the audit log shows them.
            not_resources: Some(vec![
                "member/*:token/*".into(),
                "service_account/*:token/*".into(),
                "audit/*".into(),
                // Webhook URLs may hold the receiver's own secret.
                "webhook/*".into(),
            ]),
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

    /// The role's policy, compiled once for every member: its own-token
    /// rule names "the member being evaluated", so evaluate it with
    /// [`BuiltinRole::decide`] (or `decide_as` and the member's id).
    pub fn policy(self) -> &'static CompiledPolicy {
        static COMPILED: LazyLock<[CompiledPolicy; 4]> = LazyLock::new(|| {
            BuiltinRole::ALL
                .map(|role| CompiledPolicy::from_statements(&role.statements_naming(SUBJECT)))
        });
        &COMPILED[self as usize]
    }

    /// What this role lets `member` do.
    pub fn decide(self, member: &MemberId, action: &str, resource: &str) -> Decision {
        self.policy().decide_as(member.as_str(), action, resource)
    }

    pub fn allows(self, member: &MemberId, action: &str, resource: &str) -> bool {
        self.decide(member, action, resource) == Decision::Allow
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
        struct As<'a>(BuiltinRole, &'a MemberId);
        impl As<'_> {
            fn allows(&self, action: &str, resource: &str) -> bool {
                self.0.allows(self.1, action, resource)
            }
        }
        let reader = As(BuiltinRole::Reader, &me);
        let writer = As(BuiltinRole::Writer, &me);
        let admin = As(BuiltinRole::Admin, &me);

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

    proptest::proptest! {
        /// Each role allows at least what every lower role allows, so a
        /// role-scoped token of an owner with no custom roles may be
        /// evaluated as the lower of the two roles alone.
        #[test]
        fn roles_are_nested(
            action in proptest::sample::select(vec![
                "token:read", "token:create", "token:delete", "flag:update", "project:read",
                "member:create", "audit:read", "role:update", "org:update",
            ]),
            resource in proptest::sample::select(vec![
                "own", "member/other:token/t", "proj/web", "proj/web:env/prod:flag/x",
                "member/other", "audit/log", "role/x", "org/o",
            ]),
        ) {
            let me = MemberId::generate(datetime!(2026-01-01 0:00 UTC));
            let resource = if resource == "own" { format!("member/{me}:token/t") } else { resource.to_owned() };
            for pair in BuiltinRole::ALL.windows(2) {
                if pair[0].allows(&me, action, &resource) {
                    proptest::prop_assert!(pair[1].allows(&me, action, &resource),
                        "{} allows {} on {} but {} does not", pair[0], action, resource, pair[1]);
                }
            }
        }
    }

    #[test]
    fn ranks_and_names() {
        assert!(BuiltinRole::Reader < BuiltinRole::Writer);
        assert!(BuiltinRole::Admin < BuiltinRole::Owner);
        assert_eq!("writer".parse::<BuiltinRole>(), Ok(BuiltinRole::Writer));
        assert!("root".parse::<BuiltinRole>().is_err());
    }
}
