//! The JSON request bodies: the first byte picks a request type of
//! `tessera-api`, the rest is its body. Deserializing never panics; what
//! deserializes goes through the validation the server applies (keys,
//! names, emails, passwords, policies, expiry rules, token format), which
//! must not panic either; and every accepted body survives a JSON round
//! trip unchanged (what the client library sends is what the server reads).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_api as api;
use tessera_core::lifecycle::{check_grace, normalize_email, validate_name, validate_password};
use tessera_core::policy::check_resource_shape;
use tessera_core::{OrgKey, Policy, ProjectKey, RoleKey, TokenFormat, TokenPolicy};
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn parse<T: Serialize + DeserializeOwned>(body: &[u8]) -> Option<T> {
    let value: T = serde_json::from_slice(body).ok()?;
    let once = serde_json::to_string(&value).unwrap();
    let back: T = serde_json::from_str(&once).expect("a request type reads back what it writes");
    assert_eq!(serde_json::to_string(&back).unwrap(), once);
    Some(value)
}

fn keys<K>(list: &Option<Vec<String>>, parse: fn(&str) -> Result<K, tessera_core::Error>) {
    for key in list.iter().flatten() {
        let _ = parse(key);
    }
}

fn policy(p: &Option<Policy>) {
    if let Some(p) = p {
        let _ = p.compile();
    }
}

fn expiry(at: Option<OffsetDateTime>) {
    for rules in [
        TokenPolicy::default(),
        TokenPolicy {
            require_expiration: true,
            max_lifetime_days: Some(30),
            ..TokenPolicy::default()
        },
    ] {
        let _ = rules.check_expiry(now(), at);
        let _ = rules.check_expiry_change(now(), now(), at);
    }
}

fn name(n: &Option<String>) {
    if let Some(n) = n {
        let _ = validate_name("name", n);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 14 {
        0 => {
            if let Some(r) = parse::<api::LoginRequest>(body) {
                let _ = normalize_email(&r.email);
                r.org.as_deref().map(OrgKey::parse);
            }
        }
        1 => {
            if let Some(r) = parse::<api::ChangePasswordRequest>(body) {
                let _ = validate_password(&r.new_password);
            }
        }
        2 => {
            if let Some(r) = parse::<api::CreateMemberRequest>(body) {
                let _ = normalize_email(&r.email);
                name(&r.name);
                r.password.as_deref().map(validate_password);
                keys(&r.custom_roles, RoleKey::parse);
            }
        }
        3 => {
            if let Some(r) = parse::<api::UpdateMemberRequest>(body) {
                keys(&r.custom_roles, RoleKey::parse);
            }
        }
        4 => {
            if let Some(r) = parse::<api::CreateRoleRequest>(body) {
                let _ = RoleKey::parse(&r.key);
                name(&r.name);
                policy(&Some(r.policy));
            }
        }
        5 => {
            if let Some(r) = parse::<api::UpdateRoleRequest>(body) {
                name(&r.name);
                policy(&Some(r.policy));
            }
        }
        6 => {
            if let Some(r) = parse::<api::CreateProjectRequest>(body) {
                let _ = ProjectKey::parse(&r.key);
                name(&r.name);
            }
        }
        7 => {
            if let Some(r) = parse::<api::UpdateOrgRequest>(body) {
                name(&r.name);
                if let Some(patch) = r.token_policy {
                    let rules = TokenPolicy {
                        require_expiration: patch.require_expiration.unwrap_or(false),
                        max_lifetime_days: patch.max_lifetime_days.flatten(),
                        inactive_days: patch.inactive_days.flatten(),
                        inactive_action: patch.inactive_action.unwrap_or_default(),
                        expiry_warning_days: patch
                            .expiry_warning_days
                            .and_then(|d| tessera_core::ExpiryWarnings::new(&d).ok())
                            .unwrap_or_default(),
                    };
                    if rules.validate().is_ok() {
                        let _ = rules.check_expiry(now(), Some(now()));
                    }
                }
            }
        }
        8 => {
            if let Some(r) = parse::<api::CreateTokenRequest>(body) {
                let _ = validate_name("name", &r.name);
                keys(&r.custom_roles, RoleKey::parse);
                keys(&r.projects, ProjectKey::parse);
                policy(&r.policy);
                expiry(r.expires_at);
            }
        }
        9 => {
            if let Some(r) = parse::<api::UpdateTokenRequest>(body) {
                name(&r.name);
                keys(&r.custom_roles.flatten(), RoleKey::parse);
                keys(&r.projects.flatten(), ProjectKey::parse);
                policy(&r.policy.flatten());
                if let Some(at) = r.expires_at {
                    expiry(at);
                }
            }
        }
        10 => {
            if let Some(r) = parse::<api::CloneTokenRequest>(body) {
                name(&r.name);
            }
        }
        11 => {
            if let Some(r) = parse::<api::RotateTokenRequest>(body) {
                let _ = check_grace(r.grace_period_seconds.unwrap_or(0));
                expiry(Some(r.expires_at));
            }
        }
        12 => {
            if let Some(r) = parse::<api::VerifyRequest>(body) {
                let _ = TokenFormat::default().parse(&r.token);
                if let Some(resource) = &r.resource {
                    let _ = check_resource_shape(resource, false);
                }
            }
        }
        _ => {
            if let Some(r) = parse::<api::LeakReport>(body) {
                let format = TokenFormat::default();
                for token in &r.tokens {
                    let _ = format.parse(token);
                }
            }
        }
    }
});
