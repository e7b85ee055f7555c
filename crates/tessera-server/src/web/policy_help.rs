//! The reference beside every policy editor (custom roles, inline token
//! policies): the actions and resource shapes Tessera knows, read from
//! `tessera_core::resource::KINDS`, and what the policy in the editor
//! allows, in words, once the server has read it.

use tessera_core::policy::{Effect, Statement};
use tessera_core::resource::{ResourceKind, KINDS};
use tessera_core::Policy;

use crate::service::roles;

/// What a policy editor shows beside its field.
pub struct PolicyHelp {
    pub kinds: &'static [ResourceKind],
    /// The policy in the field, in words: one line per statement. Empty
    /// when the field is empty or holds no valid policy (its error says
    /// why, next to it).
    pub summary: Vec<String>,
}

impl PolicyHelp {
    /// The help for a field holding `text`.
    pub fn for_text(text: &str) -> Self {
        let summary = serde_json::from_str::<Policy>(text.trim())
            .ok()
            .filter(|p| roles::check_policy(p).is_ok())
            .map(|p| describe(&p))
            .unwrap_or_default();
        Self {
            kinds: KINDS,
            summary,
        }
    }
}

/// A valid policy in words, a statement a line: "Allows token:read on
/// proj/web:*", "Denies every action except token:read on everything".
pub fn describe(policy: &Policy) -> Vec<String> {
    policy.0.iter().map(statement).collect()
}

fn statement(s: &Statement) -> String {
    let verb = match s.effect {
        Effect::Allow => "Allows",
        Effect::Deny => "Denies",
    };
    let actions = listed(&s.actions, &s.not_actions, "every action");
    let resources = listed(&s.resources, &s.not_resources, "everything");
    format!("{verb} {actions} on {resources}")
}

/// `only` as a list, or everything but `except`; `*` as `all`.
fn listed(only: &Option<Vec<String>>, except: &Option<Vec<String>>, all: &str) -> String {
    match (only, except) {
        (Some(list), _) if list.iter().any(|p| p == "*") => all.to_owned(),
        (Some(list), _) => list.join(", "),
        (None, Some(list)) => format!("{all} except {}", list.join(", ")),
        (None, None) => all.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_read_as_sentences() {
        let policy: Policy = serde_json::from_str(
            r#"[{"effect": "allow", "actions": ["token:read", "token:create"], "resources": ["proj/web:*"]},
                {"effect": "deny", "notActions": ["token:read"], "resources": ["*"]},
                {"effect": "allow", "actions": ["*"], "notResources": ["audit/*"]}]"#,
        )
        .expect("policy");
        assert_eq!(
            describe(&policy),
            [
                "Allows token:read, token:create on proj/web:*",
                "Denies every action except token:read on everything",
                "Allows every action on everything except audit/*",
            ]
        );
    }

    #[test]
    fn only_a_valid_policy_is_described() {
        assert!(PolicyHelp::for_text("not json").summary.is_empty());
        assert!(PolicyHelp::for_text("[]").summary.is_empty());
        let help = PolicyHelp::for_text(
            r#"[{"effect": "allow", "actions": ["role:read"], "resources": ["role/*"]}]"#,
        );
        assert_eq!(help.summary, ["Allows role:read on role/*"]);
        assert!(!help.kinds.is_empty());
    }
}
