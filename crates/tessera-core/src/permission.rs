//! What a member, and a token, may do; and who may grant what.
//!
//! A token's permission is computed at every use as
//! `owner's current permissions ∧ token scope ∧ project restriction`, so a
//! token never does more than its owner, shrinks the moment its owner is
//! downgraded, and does nothing outside its projects.
//!
//! Grant rules bound what a caller may hand to a token it creates,
//! re-scopes, clones or rotates: never more than the caller itself holds.

use serde::{Deserialize, Serialize};

use crate::policy::{CompiledPolicy, Decision};
use crate::{BuiltinRole, Error, MemberId, Policy, ProjectKey, RoleKey};

/// A member's (or a service account's) current permissions: its built-in
/// role's statements plus those of every custom role it holds (deny
/// anywhere wins).
#[derive(Debug, Clone)]
pub struct MemberPermissions {
    /// Whom "the member being evaluated" names in policies: a member's id;
    /// empty for a service account, which is nobody's `<me>` (the empty
    /// subject matches no resource), so it has no "own tokens" through its
    /// role.
    subject: String,
    pub role: BuiltinRole,
    /// The union of the member's custom roles (empty when it has none);
    /// the built-in role's policy is shared, see [`BuiltinRole::policy`].
    custom: CompiledPolicy,
}

impl MemberPermissions {
    /// `custom_roles` are the compiled policies of the member's custom roles.
    pub fn new<'a>(
        member: MemberId,
        role: BuiltinRole,
        custom_roles: impl IntoIterator<Item = &'a CompiledPolicy>,
    ) -> Self {
        Self::of_subject(member.as_str().to_owned(), role, custom_roles)
    }

    /// A service account's permissions: its role and custom roles, where
    /// "the member's own" names nothing.
    pub fn service_account<'a>(
        role: BuiltinRole,
        custom_roles: impl IntoIterator<Item = &'a CompiledPolicy>,
    ) -> Self {
        Self::of_subject(String::new(), role, custom_roles)
    }

    fn of_subject<'a>(
        subject: String,
        role: BuiltinRole,
        custom_roles: impl IntoIterator<Item = &'a CompiledPolicy>,
    ) -> Self {
        let mut custom = CompiledPolicy::default();
        for policy in custom_roles {
            custom.extend(policy);
        }
        Self {
            subject,
            role,
            custom,
        }
    }

    /// What the built-in `role` alone allows this subject.
    fn role_allows(&self, role: BuiltinRole, action: &str, resource: &str) -> bool {
        role.policy().decide_as(&self.subject, action, resource) == Decision::Allow
    }

    pub fn decide(&self, action: &str, resource: &str) -> Decision {
        let by_role = self
            .role
            .policy()
            .decide_as(&self.subject, action, resource);
        if self.custom.is_empty() {
            return by_role;
        }
        by_role.union(self.custom.decide_as(&self.subject, action, resource))
    }

    pub fn allows(&self, action: &str, resource: &str) -> bool {
        self.decide(action, resource) == Decision::Allow
    }

    /// Does one of the member's custom roles deny something? Then the
    /// member holds less than its built-in role (see [`Grantor::held_back`]).
    pub fn held_back(&self) -> bool {
        self.custom.has_deny()
    }
}

/// The scope a token was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum TokenScope {
    /// No scope: the owner's own permissions.
    Inherit,
    /// A built-in role's permissions (still bounded by the owner's).
    Role(BuiltinRole),
    /// The union of one or more custom roles.
    CustomRoles(Vec<RoleKey>),
    /// An inline policy.
    Policy(Policy),
}

/// A token's scope with its custom roles looked up and compiled.
#[derive(Debug, Clone)]
pub enum ResolvedScope {
    Inherit,
    /// A built-in role: its shared compiled policy, evaluated for the owner.
    Role(BuiltinRole),
    Policy(CompiledPolicy),
}

impl ResolvedScope {
    /// Resolves `scope`; `custom_roles` are the compiled policies of the
    /// roles a `CustomRoles` scope names.
    pub fn new<'a>(
        scope: &TokenScope,
        custom_roles: impl IntoIterator<Item = &'a CompiledPolicy>,
    ) -> Self {
        match scope {
            TokenScope::Inherit => Self::Inherit,
            TokenScope::Role(role) => Self::Role(*role),
            TokenScope::Policy(policy) => Self::Policy(CompiledPolicy::from_statements(&policy.0)),
            TokenScope::CustomRoles(_) => {
                let mut union = CompiledPolicy::default();
                for custom in custom_roles {
                    union.extend(custom);
                }
                Self::Policy(union)
            }
        }
    }

    /// Owner ∧ scope (no project restriction).
    fn allows_for(&self, owner: &MemberPermissions, action: &str, resource: &str) -> bool {
        match self {
            Self::Inherit => owner.allows(action, resource),
            // Built-in roles are nested (each allows all a lower one does;
            // `roles_are_nested` proves it), so without custom roles to add
            // denies, owner ∧ role is simply the lower of the two roles.
            Self::Role(role) if owner.custom.is_empty() => {
                owner.role_allows((*role).min(owner.role), action, resource)
            }
            Self::Role(role) => {
                owner.role_allows(*role, action, resource) && owner.allows(action, resource)
            }
            Self::Policy(policy) => {
                policy.allows_as(&owner.subject, action, resource) && owner.allows(action, resource)
            }
        }
    }
}

/// True when `resource` lies inside one of `projects` (an empty list means
/// the token is not restricted to projects).
pub fn within_projects(projects: &[ProjectKey], resource: &str) -> bool {
    if projects.is_empty() {
        return true;
    }
    let first = resource.split(':').next().unwrap_or("");
    match first.strip_prefix("proj/") {
        Some(key) => projects.iter().any(|p| p.as_str() == key),
        None => false,
    }
}

/// The whole answer for a token: owner ∧ scope ∧ projects.
pub fn token_allows(
    owner: &MemberPermissions,
    scope: &ResolvedScope,
    projects: &[ProjectKey],
    action: &str,
    resource: &str,
) -> bool {
    within_projects(projects, resource) && scope.allows_for(owner, action, resource)
}

/// What a token may do to *itself* (read its own metadata, rotate itself):
/// owner ∧ scope, but not the project restriction. A token restricted to
/// projects can do nothing outside them, except keep itself alive — a CI
/// token scoped to one project must still be able to rotate itself.
pub fn token_allows_on_itself(
    owner: &MemberPermissions,
    scope: &ResolvedScope,
    action: &str,
    own_resource: &str,
) -> bool {
    matches!(action, "token:read" | "token:rotate") && scope.allows_for(owner, action, own_resource)
}

/// Who is granting a scope: a member, through a session or a token.
#[derive(Debug, Clone, Copy)]
pub struct Grantor<'a> {
    /// The member's current built-in role.
    pub role: BuiltinRole,
    /// The scope of the token the call was made with; `None` for a session.
    pub via_token: Option<&'a TokenScope>,
    /// The member holds a custom role that denies something. What such a
    /// member may do is not a whole built-in role, so no grant to a member
    /// can be proven to fit inside it (see [`Grantor::check_member_grant`]).
    pub held_back: bool,
}

impl Grantor<'_> {
    /// The highest built-in role this caller can act as.
    pub fn effective_rank(&self) -> BuiltinRole {
        match self.via_token {
            Some(TokenScope::Role(r)) => (*r).min(self.role),
            _ => self.role,
        }
    }

    /// May this caller give a token `requested`? Readers grant only reader
    /// tokens, writers reader or writer, admins and owners anything. A call
    /// made with a custom-role or inline-policy token can only hand on that
    /// same scope, because no wider one can be proven to fit inside it.
    pub fn check_grant(&self, requested: &TokenScope) -> Result<(), Error> {
        let rank = self.effective_rank();
        if let Some(caller @ (TokenScope::CustomRoles(_) | TokenScope::Policy(_))) = self.via_token
        {
            if caller == requested {
                return Ok(());
            }
            return Err(Error::ScopeExceedsCaller(
                "a token scoped to custom roles or an inline policy can only grant that same scope"
                    .into(),
            ));
        }
        match requested {
            TokenScope::Inherit if rank == self.role => Ok(()),
            TokenScope::Inherit => Err(Error::ScopeExceedsCaller(format!(
                "this call's token is limited to the {rank} role; request `\"role\": \"{rank}\"` instead of inheriting all of the member's permissions"
            ))),
            TokenScope::Role(role) if *role <= rank => Ok(()),
            TokenScope::Role(role) => Err(Error::ScopeExceedsCaller(format!(
                "{} cannot grant {} token; ask for {rank} or lower",
                with_article(rank),
                with_article(*role)
            ))),
            TokenScope::CustomRoles(_) | TokenScope::Policy(_) if rank >= BuiltinRole::Admin => {
                Ok(())
            }
            TokenScope::CustomRoles(_) | TokenScope::Policy(_) => Err(Error::ScopeExceedsCaller(
                format!("only admins and owners can grant custom roles or inline policies; {} can grant built-in roles up to {rank}", with_article(rank)),
            )),
        }
    }
}

impl Grantor<'_> {
    /// May this caller give a member permissions (add a member, raise a
    /// member's built-in role, add or remove custom roles, write a role's
    /// policy)? Only when what it gives can be proven to fit inside what the
    /// caller holds: a whole built-in role, through a session or a token
    /// scoped to a built-in role. A member held back by a deny, or a call
    /// through a token scoped to custom roles or an inline policy, holds
    /// less than its rank says, and could otherwise make someone else do
    /// what it may not (an admin denied the audit log adding an admin).
    pub fn check_member_grant(&self) -> Result<(), Error> {
        if matches!(
            self.via_token,
            Some(TokenScope::CustomRoles(_) | TokenScope::Policy(_))
        ) {
            return Err(Error::ScopeExceedsCaller(
                "a token scoped to custom roles or an inline policy cannot give members permissions: use a session or a token with a built-in role".into(),
            ));
        }
        if self.held_back {
            return Err(Error::ScopeExceedsCaller(
                "you hold a custom role that denies you some actions, so you cannot give members permissions (they could include what you are denied); ask an unrestricted admin or an owner".into(),
            ));
        }
        Ok(())
    }

    /// May this caller write the policy of custom role `role` (create or
    /// replace it)? Writing a role's policy grants it to everyone holding
    /// the role, so it follows the rules for granting custom roles (admins
    /// and owners, [`Grantor::check_member_grant`]), and nobody writes a
    /// role they hold (`held`) or that the calling token is scoped to:
    /// that would be granting it to themselves, and could lift a deny
    /// meant for them.
    pub fn check_role_write(&self, role: &RoleKey, held: &[RoleKey]) -> Result<(), Error> {
        let rank = self.effective_rank();
        if rank < BuiltinRole::Admin {
            return Err(Error::ScopeExceedsCaller(format!(
                "writing a custom role's policy grants it, and only admins and owners grant custom roles; {} cannot",
                with_article(rank)
            )));
        }
        if held.contains(role) {
            return Err(Error::ScopeExceedsCaller(format!(
                "you hold the role {role} yourself, so changing it would change your own permissions; ask another admin or an owner"
            )));
        }
        self.check_member_grant()
    }

    /// May this caller change a member's custom roles? Adding and removing
    /// both change what the member may do (removing can lift a deny), so
    /// both are granting: admins and owners only, never on themselves.
    pub fn check_custom_roles_change(
        &self,
        on_self: bool,
        added: &[RoleKey],
        removed: &[RoleKey],
    ) -> Result<(), Error> {
        if added.is_empty() && removed.is_empty() {
            return Ok(());
        }
        if on_self {
            return Err(Error::ScopeExceedsCaller(
                "nobody changes their own custom roles; ask another admin or an owner".into(),
            ));
        }
        let rank = self.effective_rank();
        if rank < BuiltinRole::Admin {
            return Err(Error::ScopeExceedsCaller(format!(
                "only admins and owners add or remove custom roles; {} cannot",
                with_article(rank)
            )));
        }
        self.check_member_grant()
    }
}

/// "a reader", "an admin".
fn with_article(role: BuiltinRole) -> String {
    let article = if role.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {role}")
}

/// Rank rules for managing members: nobody acts on a member ranked above
/// them or grants a role above their own, so only owners make or unmake
/// owners.
pub fn check_member_change(
    actor_rank: BuiltinRole,
    target_current: Option<BuiltinRole>,
    new_role: Option<BuiltinRole>,
) -> Result<(), Error> {
    if let Some(current) = target_current {
        if current > actor_rank {
            return Err(Error::ScopeExceedsCaller(format!(
                "{} cannot change or remove a member whose role is {current}",
                with_article(actor_rank)
            )));
        }
    }
    if let Some(role) = new_role {
        if role > actor_rank {
            return Err(Error::ScopeExceedsCaller(format!(
                "{} cannot give the {role} role",
                with_article(actor_rank)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Statement;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn member() -> MemberId {
        MemberId::generate(datetime!(2026-01-01 0:00 UTC))
    }

    fn owner(role: BuiltinRole, custom: &[CompiledPolicy]) -> MemberPermissions {
        MemberPermissions::new(member(), role, custom)
    }

    #[test]
    fn downgraded_owner_shrinks_a_writer_token() {
        let me = member();
        let scope = ResolvedScope::new(&TokenScope::Role(BuiltinRole::Writer), []);
        let as_writer = MemberPermissions::new(me.clone(), BuiltinRole::Writer, []);
        let as_reader = MemberPermissions::new(me.clone(), BuiltinRole::Reader, []);
        let write = ("flag:update", "proj/web:flag/x");
        assert!(token_allows(&as_writer, &scope, &[], write.0, write.1));
        assert!(!token_allows(&as_reader, &scope, &[], write.0, write.1));
    }

    #[test]
    fn custom_role_can_deny_token_actions() {
        let deny_tokens = Policy(vec![Statement::deny(&["token:*"], &["*"])])
            .compile()
            .expect("valid");
        let me = member();
        let perms = MemberPermissions::new(me.clone(), BuiltinRole::Writer, [&deny_tokens]);
        assert!(!perms.allows("token:create", &format!("member/{me}:token/x")));
        assert!(perms.allows("flag:update", "proj/web:flag/x"));
    }

    #[test]
    fn project_restriction() {
        let web = ProjectKey::parse("web").expect("key");
        let projects = vec![web];
        assert!(within_projects(&projects, "proj/web"));
        assert!(within_projects(&projects, "proj/web:env/prod:flag/x"));
        assert!(!within_projects(&projects, "proj/api:env/prod"));
        assert!(!within_projects(&projects, "proj/webx"));
        assert!(!within_projects(&projects, "member/a:token/b"));
        assert!(within_projects(&[], "member/a:token/b"));
        let o = owner(BuiltinRole::Admin, &[]);
        assert!(!token_allows(
            &o,
            &ResolvedScope::Inherit,
            &projects,
            "flag:read",
            "proj/api"
        ));
        assert!(token_allows(
            &o,
            &ResolvedScope::Inherit,
            &projects,
            "flag:read",
            "proj/web"
        ));
    }

    #[test]
    fn grant_bounds_follow_the_role_ladder() {
        use BuiltinRole::*;
        let session = |role| Grantor {
            role,
            via_token: None,
            held_back: false,
        };
        let custom = TokenScope::CustomRoles(vec![RoleKey::parse("x").expect("key")]);
        assert!(session(Reader)
            .check_grant(&TokenScope::Role(Reader))
            .is_ok());
        assert!(session(Reader).check_grant(&TokenScope::Inherit).is_ok());
        assert!(session(Reader)
            .check_grant(&TokenScope::Role(Writer))
            .is_err());
        assert!(session(Writer)
            .check_grant(&TokenScope::Role(Writer))
            .is_ok());
        assert!(session(Writer)
            .check_grant(&TokenScope::Role(Admin))
            .is_err());
        assert!(session(Writer).check_grant(&custom).is_err());
        assert!(session(Admin).check_grant(&custom).is_ok());
        assert!(session(Admin)
            .check_grant(&TokenScope::Role(Owner))
            .is_err());
        assert!(session(Owner).check_grant(&TokenScope::Role(Owner)).is_ok());
    }

    #[test]
    fn a_narrow_token_cannot_mint_a_wider_one() {
        use BuiltinRole::*;
        let reader_scope = TokenScope::Role(Reader);
        let via_reader = Grantor {
            role: Owner,
            via_token: Some(&reader_scope),
            held_back: false,
        };
        assert_eq!(via_reader.effective_rank(), Reader);
        assert!(via_reader.check_grant(&TokenScope::Role(Reader)).is_ok());
        assert!(via_reader.check_grant(&TokenScope::Role(Admin)).is_err());
        assert!(via_reader.check_grant(&TokenScope::Inherit).is_err());

        let inline = TokenScope::Policy(Policy(vec![Statement::allow(&["*:read"], &["*"])]));
        let via_inline = Grantor {
            role: Owner,
            via_token: Some(&inline),
            held_back: false,
        };
        assert!(via_inline.check_grant(&inline).is_ok());
        assert!(via_inline.check_grant(&TokenScope::Role(Reader)).is_err());
        assert!(via_inline.check_grant(&TokenScope::Inherit).is_err());
    }

    #[test]
    fn a_project_token_may_rotate_itself_but_nothing_else_outside() {
        let me = member();
        let perms = MemberPermissions::new(me.clone(), BuiltinRole::Writer, []);
        let own = format!("member/{me}:token/abc");
        let scope = ResolvedScope::new(&TokenScope::Inherit, []);
        let web = vec![ProjectKey::parse("web").expect("key")];
        assert!(!token_allows(&perms, &scope, &web, "token:rotate", &own));
        assert!(token_allows_on_itself(&perms, &scope, "token:rotate", &own));
        assert!(token_allows_on_itself(&perms, &scope, "token:read", &own));
        assert!(!token_allows_on_itself(
            &perms,
            &scope,
            "token:delete",
            &own
        ));
        let reader_scope = ResolvedScope::new(
            &TokenScope::Policy(Policy(vec![Statement::allow(&["*:read"], &["*"])])),
            [],
        );
        assert!(
            !token_allows_on_itself(&perms, &reader_scope, "token:rotate", &own),
            "the scope still applies"
        );
        assert_eq!(
            Grantor {
                role: BuiltinRole::Writer,
                via_token: None,
                held_back: false,
            }
            .check_grant(&TokenScope::Role(BuiltinRole::Admin))
            .map_err(|e| e.to_string()),
            Err("a writer cannot grant an admin token; ask for writer or lower".into())
        );
    }

    #[test]
    fn granting_to_members_needs_a_whole_role_and_never_oneself() {
        use BuiltinRole::*;
        let key = RoleKey::parse("ops").expect("key");
        let other = RoleKey::parse("other").expect("key");
        let grantor = |role, held_back| Grantor {
            role,
            via_token: None,
            held_back,
        };
        assert!(grantor(Admin, false).check_role_write(&key, &[]).is_ok());
        assert!(grantor(Admin, false)
            .check_role_write(&key, std::slice::from_ref(&key))
            .is_err());
        assert!(grantor(Admin, true).check_role_write(&key, &[]).is_err());
        assert!(grantor(Writer, false).check_role_write(&key, &[]).is_err());
        let custom = TokenScope::CustomRoles(vec![other.clone()]);
        let via_custom = Grantor {
            role: Owner,
            via_token: Some(&custom),
            held_back: false,
        };
        assert!(via_custom.check_role_write(&key, &[]).is_err());
        assert!(via_custom.check_member_grant().is_err());
        let as_admin = TokenScope::Role(Admin);
        let via_role = Grantor {
            role: Owner,
            via_token: Some(&as_admin),
            held_back: false,
        };
        assert!(via_role.check_member_grant().is_ok());

        let one = [key.clone()];
        let (one, none): (&[RoleKey], &[RoleKey]) = (&one, &[]);
        // (grantor's role, held back, on self, added, removed, allowed)
        let cases = [
            (Admin, false, false, one, none, true),
            (Admin, false, false, none, one, true),
            (Owner, false, true, none, one, false),
            (Writer, false, false, none, one, false),
            (Admin, true, false, none, one, false),
            // No change is no grant, even on oneself.
            (Reader, true, true, none, none, true),
        ];
        for (role, held_back, on_self, added, removed, allowed) in cases {
            let result =
                grantor(role, held_back).check_custom_roles_change(on_self, added, removed);
            assert_eq!(
                result.is_ok(),
                allowed,
                "{role:?} (held back: {held_back}) on self: {on_self}, +{added:?} -{removed:?}"
            );
        }
    }

    #[test]
    fn member_rank_rules() {
        use BuiltinRole::*;
        assert!(check_member_change(Admin, Some(Writer), Some(Admin)).is_ok());
        assert!(check_member_change(Admin, Some(Owner), None).is_err());
        assert!(check_member_change(Admin, Some(Writer), Some(Owner)).is_err());
        assert!(check_member_change(Owner, Some(Owner), Some(Reader)).is_ok());
        assert!(check_member_change(Admin, None, Some(Admin)).is_ok());
    }

    fn arb_role() -> impl Strategy<Value = BuiltinRole> {
        prop::sample::select(BuiltinRole::ALL.to_vec())
    }

    fn arb_policy() -> impl Strategy<Value = Policy> {
        let action =
            prop::sample::select(vec!["*", "token:*", "*:read", "flag:update", "member:*"]);
        let resource = prop::sample::select(vec![
            "*",
            "proj/*",
            "proj/*:*",
            "proj/web:*",
            "member/*:token/*",
        ]);
        prop::collection::vec(
            (
                any::<bool>(),
                prop::collection::vec(action, 1..3),
                prop::collection::vec(resource, 1..3),
            ),
            1..4,
        )
        .prop_map(|statements| {
            Policy(
                statements
                    .into_iter()
                    .map(|(allow, a, r)| {
                        if allow {
                            Statement::allow(&a, &r)
                        } else {
                            Statement::deny(&a, &r)
                        }
                    })
                    .collect(),
            )
        })
    }

    proptest! {
        /// For any owner role, custom role, token scope and project list, a
        /// token never allows what its owner does not.
        #[test]
        fn a_token_never_exceeds_its_owner(
            owner_role in arb_role(),
            custom in proptest::option::of(arb_policy()),
            scope_role in arb_role(),
            inline in arb_policy(),
            which in 0u8..3,
            restricted in any::<bool>(),
            action in prop::sample::select(vec!["token:read", "token:create", "flag:update", "member:delete", "project:read"]),
            resource in prop::sample::select(vec!["proj/web", "proj/web:env/prod", "proj/api", "member/x:token/y", "role/r", "own"]),
        ) {
            let me = member();
            let own = format!("member/{me}:token/t");
            let resource = if resource == "own" { own.as_str() } else { resource };
            let custom_compiled = custom.map(|p| p.compile().unwrap());
            let perms = MemberPermissions::new(me.clone(), owner_role, custom_compiled.iter());
            let scope = match which {
                0 => TokenScope::Inherit,
                1 => TokenScope::Role(scope_role),
                _ => TokenScope::Policy(inline),
            };
            let resolved = ResolvedScope::new(&scope, []);
            let projects = if restricted { vec![ProjectKey::parse("web").unwrap()] } else { vec![] };
            let allowed = token_allows(&perms, &resolved, &projects, action, resource);
            if allowed {
                prop_assert!(perms.allows(action, resource));
            }
            // The evaluation shortcuts agree with the definition:
            // projects ∧ scope ∧ owner, each evaluated on its own.
            let by_scope = match &scope {
                TokenScope::Inherit => true,
                TokenScope::Role(r) => r.allows(&me, action, resource),
                TokenScope::Policy(p) => p.compile().unwrap().allows(action, resource),
                TokenScope::CustomRoles(_) => unreachable!(),
            };
            prop_assert_eq!(
                allowed,
                within_projects(&projects, resource) && by_scope && perms.allows(action, resource)
            );
        }

        /// Re-scoping or downgrading never widens anything: with a lower
        /// owner role, a lower token role, an added deny statement or an
        /// added project restriction, a token allows a subset of what it did.
        #[test]
        fn rescoping_or_downgrading_never_widens(
            owner_high in arb_role(),
            owner_low in arb_role(),
            scope_high in arb_role(),
            scope_low in arb_role(),
            inline in arb_policy(),
            deny in arb_policy(),
            custom in proptest::option::of(arb_policy()),
            which in 0u8..3,
            action in prop::sample::select(vec!["token:read", "token:create", "flag:update", "member:delete", "project:read", "role:update"]),
            resource in prop::sample::select(vec!["proj/web", "proj/web:env/prod", "proj/api", "member/x:token/y", "role/r", "org/acme"]),
        ) {
            let (owner_high, owner_low) = (owner_high.max(owner_low), owner_high.min(owner_low));
            let (scope_high, scope_low) = (scope_high.max(scope_low), scope_high.min(scope_low));
            let me = member();
            let custom: Vec<_> = custom.map(|p| p.compile().unwrap()).into_iter().collect();
            let allows = |owner: BuiltinRole, scope: &TokenScope, projects: &[ProjectKey]| {
                let perms = MemberPermissions::new(me.clone(), owner, custom.iter());
                token_allows(&perms, &ResolvedScope::new(scope, []), projects, action, resource)
            };
            // Every deny statement added to the inline policy.
            let mut narrower = inline.clone();
            narrower.0.extend(deny.0.into_iter().map(|mut st| { st.effect = crate::Effect::Deny; st }));
            let scopes = [
                (TokenScope::Role(scope_high), TokenScope::Role(scope_low)),
                (TokenScope::Policy(inline.clone()), TokenScope::Policy(narrower)),
                (TokenScope::Inherit, TokenScope::Role(scope_low)),
            ];
            let (wide, narrow) = &scopes[usize::from(which)];
            let web = [ProjectKey::parse("web").unwrap()];
            if allows(owner_low, wide, &[]) {
                prop_assert!(allows(owner_high, wide, &[]), "downgrading the owner widened the token");
            }
            if allows(owner_high, narrow, &[]) {
                prop_assert!(allows(owner_high, wide, &[]), "re-scoping widened the token");
            }
            if allows(owner_high, wide, &web) {
                prop_assert!(allows(owner_high, wide, &[]), "a project restriction widened the token");
            }
        }

        /// Deny always wins: adding a deny statement that covers an
        /// (action, resource) makes every policy refuse it.
        #[test]
        fn deny_always_wins(
            policy in arb_policy(),
            action in prop::sample::select(vec!["token:read", "flag:update", "member:delete"]),
            resource in prop::sample::select(vec!["proj/web", "proj/web:env/prod", "member/x:token/y"]),
        ) {
            let mut with_deny = policy;
            with_deny.0.push(Statement::deny(&[action], &[resource]));
            prop_assert!(!with_deny.compile().unwrap().allows(action, resource));
        }

        /// However a service account's role and custom roles change, and
        /// whatever its token's scope and projects, after every change the
        /// token allows only what the account allows *now*; and an account
        /// never reaches members' tokens through the "own tokens" rule of
        /// its role (its id is nobody's member id).
        #[test]
        fn no_sequence_of_account_changes_lets_a_token_exceed_the_account(
            changes in prop::collection::vec((arb_role(), proptest::option::of(arb_policy())), 1..6),
            scope_role in arb_role(),
            inline in arb_policy(),
            which in 0u8..3,
            restricted in any::<bool>(),
            action in prop::sample::select(vec!["token:read", "token:create", "flag:update", "member:delete", "project:read", "service_account:manage_tokens"]),
            resource in prop::sample::select(vec!["proj/web", "proj/web:env/prod", "member/x:token/y", "own-member", "own-account", "service_account/a", "role/r"]),
        ) {
            let account = crate::ServiceAccountId::generate(datetime!(2026-01-01 0:00 UTC));
            let resource = match resource {
                "own-member" => format!("member/{account}:token/t"),
                "own-account" => format!("service_account/{account}:token/t"),
                other => other.to_owned(),
            };
            let scope = match which {
                0 => TokenScope::Inherit,
                1 => TokenScope::Role(scope_role),
                _ => TokenScope::Policy(inline),
            };
            let resolved = ResolvedScope::new(&scope, []);
            let projects = if restricted { vec![ProjectKey::parse("web").unwrap()] } else { vec![] };
            for (role, custom) in changes {
                let custom: Vec<_> = custom.map(|p| p.compile().unwrap()).into_iter().collect();
                let now = MemberPermissions::service_account(role, custom.iter());
                if token_allows(&now, &resolved, &projects, action, &resource) {
                    prop_assert!(now.allows(action, &resource), "{role} account, token beyond it");
                    if resource.starts_with("member/") && custom.is_empty() {
                        prop_assert!(role >= BuiltinRole::Admin, "a {role} account reached a member's token");
                    }
                }
            }
        }

        /// Whatever a role-scoped token grants is within its own rank.
        #[test]
        fn grants_never_exceed_the_caller(
            member_role in arb_role(),
            token_role in proptest::option::of(arb_role()),
            requested in arb_role(),
        ) {
            let via = token_role.map(TokenScope::Role);
            let grantor = Grantor { role: member_role, via_token: via.as_ref(), held_back: false };
            if grantor.check_grant(&TokenScope::Role(requested)).is_ok() {
                prop_assert!(requested <= member_role);
                if let Some(t) = token_role {
                    prop_assert!(requested <= t);
                }
            }
        }
    }
}
