//! The policy parser and evaluator. Input: a JSON policy, then an action
//! and a resource, one per line. Parsing, validation and compiling never
//! panic, and the compiled policy's answer is the definition: allowed
//! exactly when some allow statement applies and no deny statement does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::policy::{check_resource_shape, Decision};
use tessera_core::{Effect, Policy, Statement};

/// Does `statement` apply to (action, resource)? Asked of a one-statement
/// allow policy, so the oracle shares only the pattern matcher.
fn applies(statement: &Statement, action: &str, resource: &str) -> bool {
    let mut as_allow = statement.clone();
    as_allow.effect = Effect::Allow;
    Policy(vec![as_allow])
        .compile()
        .is_ok_and(|p| p.allows(action, resource))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let (Some(json), action, resource) = (lines.next(), lines.next(), lines.next()) else {
        return;
    };
    let action = action.unwrap_or("token:read");
    let resource = resource.unwrap_or("member/m:token/t");
    let _ = check_resource_shape(resource, false);
    let _ = check_resource_shape(resource, true);
    let Ok(policy) = serde_json::from_str::<Policy>(json) else {
        return;
    };
    let Ok(compiled) = policy.compile() else {
        return;
    };
    let allowed = compiled.allows(action, resource);
    let decision = compiled.decide(action, resource);
    assert_eq!(allowed, decision == Decision::Allow);
    let allow_applies = policy
        .0
        .iter()
        .any(|s| s.effect == Effect::Allow && applies(s, action, resource));
    let deny_applies = policy
        .0
        .iter()
        .any(|s| s.effect == Effect::Deny && applies(s, action, resource));
    assert_eq!(allowed, allow_applies && !deny_applies, "deny must win");
    // A validated policy survives a round trip through JSON unchanged.
    let again: Policy = serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
    assert_eq!(again, policy);
});
