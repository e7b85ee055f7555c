//! The policy engine: LaunchDarkly-style statements, validated, compiled
//! once, evaluated without allocating.
//!
//! A policy is a list of statements:
//! `{"effect": "allow"|"deny", "actions"|"notActions": [...],
//!   "resources"|"notResources": [...]}`.
//!
//! Matching rules (documented for users in `docs/permissions.md`):
//! - An **action** is `type:verb` (`token:create`). In an action pattern `*`
//!   matches any run of characters, `:` included: `*`, `token:*`, `*:read`.
//! - A **resource** is a `:`-separated path of `type/name` segments
//!   (`proj/web:env/prod:flag/checkout`). A resource pattern has the same
//!   shape; in each segment `*` matches any run of characters within the
//!   type or within the name (never across `:`), so `proj/*` matches
//!   `proj/web` but not `proj/web:env/prod`. Two forms go further: the
//!   pattern `*` alone matches every resource, and a final segment `*`
//!   (`proj/web:*`) matches one or more further segments, i.e. everything
//!   beneath `proj/web`.
//! - A statement **applies** to (action, resource) when the action matches
//!   one of `actions` (or none of `notActions`) and the resource matches one
//!   of `resources` (or none of `notResources`).
//! - **Deny wins**: if any applying statement denies, the answer is no. If
//!   one allows and none denies, yes. If none applies, no.

use serde::{Deserialize, Serialize};

use crate::Error;

/// Most statements one policy may hold.
pub const MAX_STATEMENTS: usize = 100;
/// Most patterns one statement list may hold.
pub const MAX_PATTERNS: usize = 100;
/// Longest pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 256;

/// Stands, as a resource name, for "the member whose permissions are being
/// evaluated". The built-in roles use it so that one compiled copy of each
/// serves every member (and every token) instead of one copy per member.
/// Validation refuses control characters, so users cannot write it.
pub(crate) const SUBJECT: &str = "\u{1}self";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

/// One policy statement, as users write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Statement {
    pub effect: Effect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_actions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_resources: Option<Vec<String>>,
}

impl Statement {
    /// An allow statement over plain action and resource patterns.
    pub fn allow(actions: &[&str], resources: &[&str]) -> Self {
        Self::new(Effect::Allow, actions, resources)
    }

    /// A deny statement over plain action and resource patterns.
    pub fn deny(actions: &[&str], resources: &[&str]) -> Self {
        Self::new(Effect::Deny, actions, resources)
    }

    fn new(effect: Effect, actions: &[&str], resources: &[&str]) -> Self {
        let owned = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect());
        Self {
            effect,
            actions: owned(actions),
            not_actions: None,
            resources: owned(resources),
            not_resources: None,
        }
    }
}

/// A list of statements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Policy(pub Vec<Statement>);

impl Policy {
    /// Checks that every statement is well-formed; the error names the
    /// statement (counting from 0) and what is wrong with it.
    pub fn validate(&self) -> Result<(), Error> {
        if self.0.is_empty() {
            return Err(Error::InvalidPolicy(
                "a policy needs at least one statement".into(),
            ));
        }
        if self.0.len() > MAX_STATEMENTS {
            return Err(Error::InvalidPolicy(format!(
                "a policy may hold at most {MAX_STATEMENTS} statements"
            )));
        }
        for (i, statement) in self.0.iter().enumerate() {
            validate_statement(statement)
                .map_err(|reason| Error::InvalidPolicy(format!("statement {i}: {reason}")))?;
        }
        Ok(())
    }

    /// Validates and compiles.
    pub fn compile(&self) -> Result<CompiledPolicy, Error> {
        self.validate()?;
        Ok(CompiledPolicy::from_statements(&self.0))
    }
}

fn validate_statement(s: &Statement) -> Result<(), String> {
    let actions = exactly_one(&s.actions, &s.not_actions, "actions", "notActions")?;
    let resources = exactly_one(&s.resources, &s.not_resources, "resources", "notResources")?;
    for a in actions {
        check_pattern(a).map_err(|e| format!("action {a:?}: {e}"))?;
        if a != "*" && !a.contains(':') {
            return Err(format!(
                "action {a:?}: must be `*` or `type:verb` (like `token:create` or `token:*`)"
            ));
        }
    }
    for r in resources {
        check_pattern(r).map_err(|e| format!("resource {r:?}: {e}"))?;
        check_resource_shape(r, true).map_err(|e| format!("resource {r:?}: {e}"))?;
    }
    Ok(())
}

fn exactly_one<'a>(
    a: &'a Option<Vec<String>>,
    b: &'a Option<Vec<String>>,
    a_name: &str,
    b_name: &str,
) -> Result<&'a [String], String> {
    let list = match (a, b) {
        (Some(list), None) | (None, Some(list)) => list,
        _ => return Err(format!("needs exactly one of `{a_name}` and `{b_name}`")),
    };
    if list.is_empty() {
        return Err(format!("`{a_name}`/`{b_name}` must not be empty"));
    }
    if list.len() > MAX_PATTERNS {
        return Err(format!("at most {MAX_PATTERNS} entries per list"));
    }
    Ok(list)
}

fn check_pattern(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("must not be empty");
    }
    if p.len() > MAX_PATTERN_LEN {
        return Err("too long (at most 256 bytes)");
    }
    if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters");
    }
    Ok(())
}

/// Checks that a resource (or, with `pattern`, a resource pattern) is a
/// `:`-separated path of `type/name` segments.
pub fn check_resource_shape(r: &str, pattern: bool) -> Result<(), &'static str> {
    // Byte by byte and without collecting the segments: `POST /verify`
    // checks the resource it is asked about on every call.
    if pattern && r == "*" {
        return Ok(());
    }
    let mut rest = r.as_bytes();
    let mut first = true;
    loop {
        let (segment, next) = match rest.iter().position(|&b| b == b':') {
            Some(colon) => (&rest[..colon], Some(&rest[colon + 1..])),
            None => (rest, None),
        };
        let wildcard_tail = pattern && next.is_none() && !first && segment == b"*";
        if !wildcard_tail {
            match segment.iter().position(|&b| b == b'/') {
                Some(slash) if slash > 0 && slash + 1 < segment.len() => {}
                _ => return Err("each `:`-separated segment must look like `type/name`"),
            }
        }
        match next {
            Some(next) => rest = next,
            None => return Ok(()),
        }
        first = false;
    }
}

/// A `*`-glob, matched without allocating. The common shapes (no star,
/// `*` alone, one star) get their own variants: a policy check runs these
/// on every verification.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Glob {
    /// `*`: anything.
    Any,
    /// No star: exactly this text.
    Exact(String),
    /// One star: this prefix, then anything, then this suffix.
    Around(String, String),
    /// Two or more stars: the text split at them.
    Parts(Vec<String>),
}

impl Glob {
    fn new(pattern: &str) -> Self {
        let parts: Vec<&str> = pattern.split('*').collect();
        match parts.as_slice() {
            [exact] => Self::Exact((*exact).to_owned()),
            ["", ""] => Self::Any,
            [prefix, suffix] => Self::Around((*prefix).to_owned(), (*suffix).to_owned()),
            _ => Self::Parts(parts.into_iter().map(str::to_owned).collect()),
        }
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => text == exact,
            Self::Around(prefix, suffix) => {
                text.len() >= prefix.len() + suffix.len()
                    && text.starts_with(prefix.as_str())
                    && text.ends_with(suffix.as_str())
            }
            Self::Parts(parts) => Self::matches_parts(parts, text),
        }
    }

    fn matches_parts(parts: &[String], text: &str) -> bool {
        let (first, rest) = match parts.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some(last) = rest.last() else {
            return text == first; // no star at all
        };
        let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        for middle in &rest[..rest.len() - 1] {
            match remaining.find(middle.as_str()) {
                Some(at) => remaining = &remaining[at + middle.len()..],
                None => return false,
            }
        }
        remaining.len() >= last.len() && remaining.ends_with(last.as_str())
    }
}

/// Most resource segments split once per check; deeper resources (rare)
/// are matched by splitting as they go.
const INLINE_SEGMENTS: usize = 12;

/// One `type/name` segment of a resource; `name` is `None` when the
/// segment has no `/` (then no `type/name` pattern matches it).
#[derive(Debug, Clone, Copy, Default)]
struct Segment<'a> {
    ty: &'a str,
    name: Option<&'a str>,
}

impl<'a> Segment<'a> {
    fn of(text: &'a str) -> Self {
        match text.as_bytes().iter().position(|&b| b == b'/') {
            Some(at) => Self {
                ty: &text[..at],
                name: Some(&text[at + 1..]),
            },
            None => Self {
                ty: text,
                name: None,
            },
        }
    }
}

/// A resource split into its segments once, so that each pattern of a
/// policy does not split it again.
struct Resource<'a> {
    raw: &'a str,
    segments: [Segment<'a>; INLINE_SEGMENTS],
    /// How many segments; `None` when there are more than fit inline.
    len: Option<usize>,
}

impl<'a> Resource<'a> {
    fn parse(raw: &'a str) -> Self {
        let mut segments = [Segment::default(); INLINE_SEGMENTS];
        let mut len = 0;
        for part in raw.split(':') {
            if len == INLINE_SEGMENTS {
                return Self {
                    raw,
                    segments,
                    len: None,
                };
            }
            segments[len] = Segment::of(part);
            len += 1;
        }
        Self {
            raw,
            segments,
            len: Some(len),
        }
    }
}

/// One segment of a resource pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SegmentPattern {
    /// `type/name`, each side a glob.
    TypeName(Glob, Glob),
    /// `type/<the subject>`: the type a glob, the name exactly the id of
    /// the member being evaluated (see [`SUBJECT`]).
    TypeSubject(Glob),
    /// A final `*`: one or more further segments.
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ResourcePattern {
    Any,
    Path(Vec<SegmentPattern>),
}

impl ResourcePattern {
    fn new(pattern: &str) -> Self {
        if pattern == "*" {
            return Self::Any;
        }
        let segments = pattern
            .split(':')
            .map(|s| match s.split_once('/') {
                Some((ty, SUBJECT)) => SegmentPattern::TypeSubject(Glob::new(ty)),
                Some((ty, name)) => SegmentPattern::TypeName(Glob::new(ty), Glob::new(name)),
                None => SegmentPattern::Rest,
            })
            .collect();
        Self::Path(segments)
    }

    fn matches(&self, resource: &Resource<'_>, subject: &str) -> bool {
        let segments = match self {
            Self::Any => return true,
            Self::Path(segments) => segments,
        };
        let Some(len) = resource.len else {
            return Self::matches_by_splitting(segments, resource.raw, subject);
        };
        let mut parts = resource.segments[..len].iter().copied();
        Self::matches_segments(segments, &mut parts, subject)
    }

    fn matches_by_splitting(segments: &[SegmentPattern], resource: &str, subject: &str) -> bool {
        let mut parts = resource.split(':').map(Segment::of);
        Self::matches_segments(segments, &mut parts, subject)
    }

    fn matches_segments<'a>(
        segments: &[SegmentPattern],
        parts: &mut impl Iterator<Item = Segment<'a>>,
        subject: &str,
    ) -> bool {
        for segment in segments {
            let part = match segment {
                SegmentPattern::Rest => return parts.next().is_some(),
                _ => parts.next(),
            };
            let Some(Segment {
                ty: r_ty,
                name: Some(r_name),
            }) = part
            else {
                return false;
            };
            let matched = match segment {
                SegmentPattern::TypeName(ty, name) => ty.matches(r_ty) && name.matches(r_name),
                SegmentPattern::TypeSubject(ty) => {
                    !subject.is_empty() && r_name == subject && ty.matches(r_ty)
                }
                SegmentPattern::Rest => true,
            };
            if !matched {
                return false;
            }
        }
        parts.next().is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher<P> {
    AnyOf(Vec<P>),
    NoneOf(Vec<P>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CompiledStatement {
    effect: Effect,
    actions: Matcher<Glob>,
    resources: Matcher<ResourcePattern>,
}

impl CompiledStatement {
    fn applies(&self, subject: &str, action: &str, resource: &Resource<'_>) -> bool {
        let action_ok = match &self.actions {
            Matcher::AnyOf(globs) => globs.iter().any(|g| g.matches(action)),
            Matcher::NoneOf(globs) => !globs.iter().any(|g| g.matches(action)),
        };
        action_ok
            && match &self.resources {
                Matcher::AnyOf(p) => p.iter().any(|p| p.matches(resource, subject)),
                Matcher::NoneOf(p) => !p.iter().any(|p| p.matches(resource, subject)),
            }
    }
}

/// A policy with its globs pre-parsed, ready to evaluate many times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompiledPolicy {
    statements: Vec<CompiledStatement>,
}

/// What a policy says about one (action, resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// An applying statement denied.
    Deny,
    /// No statement applied: also a no.
    NoMatch,
}

impl CompiledPolicy {
    /// Compiles statements that were validated already (stored policies, or
    /// built-in role policies).
    pub fn from_statements(statements: &[Statement]) -> Self {
        let compile = |s: &Statement| {
            let actions = match (&s.actions, &s.not_actions) {
                (Some(a), _) => Matcher::AnyOf(a.iter().map(|p| Glob::new(p)).collect()),
                (None, Some(a)) => Matcher::NoneOf(a.iter().map(|p| Glob::new(p)).collect()),
                (None, None) => Matcher::AnyOf(Vec::new()),
            };
            let resources = match (&s.resources, &s.not_resources) {
                (Some(r), _) => Matcher::AnyOf(r.iter().map(|p| ResourcePattern::new(p)).collect()),
                (None, Some(r)) => {
                    Matcher::NoneOf(r.iter().map(|p| ResourcePattern::new(p)).collect())
                }
                (None, None) => Matcher::AnyOf(Vec::new()),
            };
            CompiledStatement {
                effect: s.effect,
                actions,
                resources,
            }
        };
        Self {
            statements: statements.iter().map(compile).collect(),
        }
    }

    /// Adds another policy's statements: the union, in which deny still wins.
    pub fn extend(&mut self, other: &CompiledPolicy) {
        self.statements.extend(other.statements.iter().cloned());
    }

    /// True when the policy has no statement (it allows nothing).
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// True when some statement denies.
    pub fn has_deny(&self) -> bool {
        self.statements.iter().any(|s| s.effect == Effect::Deny)
    }

    pub fn decide(&self, action: &str, resource: &str) -> Decision {
        self.decide_as("", action, resource)
    }

    /// Decides for the member `subject`: patterns that name "the member
    /// being evaluated" (the built-in roles' own-token rules) match that
    /// member's id.
    pub fn decide_as(&self, subject: &str, action: &str, resource: &str) -> Decision {
        let resource = Resource::parse(resource);
        let mut allowed = false;
        for statement in &self.statements {
            if statement.applies(subject, action, &resource) {
                match statement.effect {
                    Effect::Deny => return Decision::Deny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NoMatch
        }
    }

    pub fn allows(&self, action: &str, resource: &str) -> bool {
        self.decide(action, resource) == Decision::Allow
    }

    pub fn allows_as(&self, subject: &str, action: &str, resource: &str) -> bool {
        self.decide_as(subject, action, resource) == Decision::Allow
    }
}

impl Decision {
    /// The decision of two policies taken together: a deny in either wins,
    /// else an allow in either allows.
    pub fn union(self, other: Decision) -> Decision {
        match (self, other) {
            (Decision::Deny, _) | (_, Decision::Deny) => Decision::Deny,
            (Decision::Allow, _) | (_, Decision::Allow) => Decision::Allow,
            _ => Decision::NoMatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(json: &str) -> CompiledPolicy {
        let p: Policy = serde_json::from_str(json).expect("json");
        p.compile().expect("valid")
    }

    #[test]
    fn globs() {
        let g = |p: &str, t: &str| Glob::new(p).matches(t);
        assert!(g("*", ""));
        assert!(g("*", "anything"));
        assert!(g("token:*", "token:create"));
        assert!(!g("token:*", "tokens:create"));
        assert!(g("*:read", "token:read"));
        assert!(!g("*:read", "token:readx"));
        assert!(g("a*b*c", "abc"));
        assert!(g("a*b*c", "axxbyyc"));
        assert!(!g("a*b*c", "axxbyy"));
        assert!(!g("ab*ba", "aba"), "overlapping prefix and suffix");
        assert!(g("token:create", "token:create"));
        assert!(!g("token:create", "token:create2"));
    }

    #[test]
    fn resource_patterns_glob_within_names_only() {
        let m = |p: &str, r: &str| ResourcePattern::new(p).matches(&Resource::parse(r), "");
        assert!(m("proj/*", "proj/web"));
        assert!(!m("proj/*", "proj/web:env/prod"));
        assert!(m("proj/*:env/*", "proj/web:env/prod"));
        assert!(m("proj/web:*", "proj/web:env/prod"));
        assert!(m("proj/web:*", "proj/web:env/prod:flag/x"));
        assert!(!m("proj/web:*", "proj/web"));
        assert!(!m("proj/web:*", "proj/webx:env/prod"));
        assert!(m("*", "proj/web:env/prod"));
        assert!(m("proj/web-*", "proj/web-eu"));
        assert!(!m("proj/web-*", "proj/api"));
        assert!(m("*/web", "proj/web"));
        assert!(!m("proj/web", "proj/web:env/prod"));
        assert!(!m("proj/web:env/prod", "proj/web"));
        assert!(m("member/*:token/*", "member/abc:token/def"));
    }

    #[test]
    fn the_subject_placeholder_matches_only_the_evaluated_member() {
        let own = format!("member/{SUBJECT}:token/*");
        let p = CompiledPolicy::from_statements(&[Statement::allow(&["token:*"], &[&own])]);
        assert!(p.allows_as("alice", "token:read", "member/alice:token/t1"));
        assert!(!p.allows_as("bob", "token:read", "member/alice:token/t1"));
        assert!(!p.allows_as("alice", "token:read", "member/alice"));
        // Without a subject it matches nobody, not an empty name.
        assert!(!p.allows("token:read", "member/:token/t1"));
        // Users cannot write the placeholder themselves.
        let typed = Policy(vec![Statement::allow(&["token:*"], &[&own])]);
        assert!(typed.validate().is_err());
    }

    #[test]
    fn deny_wins_and_no_match_is_no() {
        let p = policy(
            r#"[{"effect":"allow","actions":["*"],"resources":["proj/*:*"]},
                {"effect":"deny","actions":["flag:delete"],"resources":["proj/*:env/prod:*"]}]"#,
        );
        assert!(p.allows("flag:update", "proj/web:env/prod:flag/x"));
        assert!(!p.allows("flag:delete", "proj/web:env/prod:flag/x"));
        assert!(p.allows("flag:delete", "proj/web:env/dev:flag/x"));
        assert_eq!(p.decide("project:read", "proj/web"), Decision::NoMatch);
    }

    #[test]
    fn not_actions_and_not_resources() {
        let p = policy(
            r#"[{"effect":"allow","notActions":["*:delete"],"notResources":["member/*:token/*"]}]"#,
        );
        assert!(p.allows("flag:update", "proj/web"));
        assert!(!p.allows("flag:delete", "proj/web"));
        assert!(!p.allows("token:read", "member/a:token/b"));
    }

    #[test]
    fn validation_messages_name_the_problem() {
        let err = |json: &str| {
            let p: Policy = serde_json::from_str(json).expect("json");
            p.validate().expect_err("invalid").to_string()
        };
        assert!(err("[]").contains("at least one"));
        assert!(err(r#"[{"effect":"allow","resources":["*"]}]"#).contains("actions"));
        assert!(err(
            r#"[{"effect":"allow","actions":["*"],"notActions":["x:y"],"resources":["*"]}]"#
        )
        .contains("exactly one"));
        assert!(
            err(r#"[{"effect":"allow","actions":["create"],"resources":["*"]}]"#)
                .contains("type:verb")
        );
        assert!(
            err(r#"[{"effect":"allow","actions":["*"],"resources":["proj"]}]"#)
                .contains("type/name")
        );
        assert!(err(r#"[{"effect":"allow","actions":["*"],"resources":[]}]"#).contains("empty"));
        assert!(
            err(r#"[{"effect":"allow","actions":["a b:c"],"resources":["*"]}]"#).contains("spaces")
        );
        assert!(
            err(r#"[{"effect":"allow","actions":["*"],"resources":["*"]},
                        {"effect":"allow","actions":["*"],"resources":["x:"]}]"#)
            .starts_with("invalid policy: statement 1")
        );
        // Unknown fields and bad effects are refused by the parser itself.
        assert!(serde_json::from_str::<Policy>(
            r#"[{"effect":"maybe","actions":["*"],"resources":["*"]}]"#
        )
        .is_err());
        assert!(serde_json::from_str::<Policy>(
            r#"[{"effect":"allow","action":["*"],"resources":["*"]}]"#
        )
        .is_err());
    }

    #[test]
    fn statements_round_trip_in_camel_case() {
        let json = r#"[{"effect":"deny","notActions":["token:read"],"resources":["*"]}]"#;
        let p: Policy = serde_json::from_str(json).expect("json");
        assert_eq!(serde_json::to_string(&p).expect("ser"), json);
    }

    fn arb_statement() -> impl Strategy<Value = Statement> {
        let action = prop::sample::select(vec![
            "*",
            "token:*",
            "token:read",
            "*:read",
            "flag:update",
            "proj:*",
        ]);
        let resource = prop::sample::select(vec![
            "*",
            "proj/*",
            "proj/web",
            "proj/web:*",
            "proj/*:env/prod",
            "member/*:token/*",
            "role/*",
        ]);
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(action, 1..3),
            prop::collection::vec(resource, 1..3),
        )
            .prop_map(|(allow, not_a, not_r, actions, resources)| {
                let list =
                    |v: Vec<&str>| Some(v.into_iter().map(str::to_owned).collect::<Vec<_>>());
                let (actions, not_actions) = if not_a {
                    (None, list(actions))
                } else {
                    (list(actions), None)
                };
                let (resources, not_resources) = if not_r {
                    (None, list(resources))
                } else {
                    (list(resources), None)
                };
                Statement {
                    effect: if allow { Effect::Allow } else { Effect::Deny },
                    actions,
                    not_actions,
                    resources,
                    not_resources,
                }
            })
    }

    proptest! {
        /// Adding a deny statement that applies always yields no, whatever else
        /// the policy holds.
        #[test]
        fn deny_always_wins(
            statements in prop::collection::vec(arb_statement(), 1..6),
            action in prop::sample::select(vec!["token:read", "flag:update", "proj:delete"]),
            resource in prop::sample::select(vec!["proj/web", "proj/web:env/prod", "member/a:token/b"]),
        ) {
            let mut with_deny = statements.clone();
            with_deny.push(Statement::deny(&[action], &[resource]));
            let p = Policy(with_deny).compile().unwrap();
            prop_assert_eq!(p.decide(action, resource), Decision::Deny);
        }

        /// The union of two policies never allows what one of them denies.
        #[test]
        fn union_keeps_every_deny(
            a in prop::collection::vec(arb_statement(), 1..5),
            b in prop::collection::vec(arb_statement(), 1..5),
            action in prop::sample::select(vec!["token:read", "flag:update", "proj:delete"]),
            resource in prop::sample::select(vec!["proj/web", "proj/web:env/prod", "member/a:token/b"]),
        ) {
            let pa = Policy(a).compile().unwrap();
            let pb = Policy(b).compile().unwrap();
            let mut both = pa.clone();
            both.extend(&pb);
            if pa.decide(action, resource) == Decision::Deny || pb.decide(action, resource) == Decision::Deny {
                prop_assert!(!both.allows(action, resource));
            }
            prop_assert_eq!(both.allows(action, resource),
                (pa.allows(action, resource) || pb.allows(action, resource))
                && pa.decide(action, resource) != Decision::Deny
                && pb.decide(action, resource) != Decision::Deny);
        }

        /// The byte-wise shape check agrees with the rule as written:
        /// split at `:`, each segment `type/name` split at its first `/`,
        /// both parts non-empty; a pattern may end in `:*` or be `*`.
        #[test]
        fn resource_shape_check_follows_the_rule(r in "[a/:*]{0,12}", pattern in any::<bool>()) {
            let segments: Vec<&str> = r.split(':').collect();
            let last = segments.len() - 1;
            let by_the_rule = (pattern && r == "*")
                || segments.iter().enumerate().all(|(i, segment)| {
                    (pattern && i == last && i > 0 && *segment == "*")
                        || segment.split_once('/').is_some_and(|(ty, name)| !ty.is_empty() && !name.is_empty())
                });
            prop_assert_eq!(check_resource_shape(&r, pattern).is_ok(), by_the_rule);
        }

        #[test]
        fn matching_never_panics(pattern in "[a-z*/:]{0,20}", text in "[a-z/:]{0,20}") {
            let _ = Glob::new(&pattern).matches(&text);
            let _ = ResourcePattern::new(&pattern).matches(&Resource::parse(&text), "me");
        }

        /// The shape-specific globs agree with the general matcher.
        #[test]
        fn glob_shapes_agree_with_the_general_matcher(pattern in "[ab:*]{0,6}", text in "[ab:]{0,6}") {
            let parts: Vec<String> = pattern.split('*').map(str::to_owned).collect();
            prop_assert_eq!(Glob::new(&pattern).matches(&text), Glob::matches_parts(&parts, &text));
        }

        /// Splitting once (inline segments) and splitting as it goes (deep
        /// resources) agree.
        #[test]
        fn inline_and_split_matching_agree(
            pattern in "(\\*|[ab*]{0,3}/[ab*]{0,3})(:(\\*|[ab*]{0,3}/[ab*]{0,3})){0,14}",
            text in "[ab]{0,2}/?[ab]{0,2}(:[ab]{0,2}/?[ab]{0,2}){0,15}",
        ) {
            let p = ResourcePattern::new(&pattern);
            if let ResourcePattern::Path(segments) = &p {
                prop_assert_eq!(
                    p.matches(&Resource::parse(&text), "a"),
                    ResourcePattern::matches_by_splitting(segments, &text, "a")
                );
            }
        }
    }
}
