//! OAuth 2.0 Token Introspection (RFC 7662): what a token is, asked by a
//! service that was handed it, in the standard's words.

use tessera_api::Introspection;
use tessera_core::permission::TokenScope;
use tessera_core::resource::Resource;
use tessera_engine::Verified;

use super::{Call, ServiceError, ServiceResult};

/// The action a caller needs on the introspected token's resource.
pub const INTROSPECT: &str = "token:introspect";

/// Introspects `presented` for the caller. Any token that does not verify
/// here, or belongs to another org, is inactive (the RFC's answer, which
/// says nothing about why); an active token of the caller's org needs
/// `token:introspect` on it (`403` without). A use is recorded as
/// `/verify` records one: the service asking was handed the token.
pub async fn introspect(
    call: &Call,
    presented: &str,
    issuer: &str,
) -> ServiceResult<Introspection> {
    let (state, caller, now) = call.parts();
    let Ok(verified) = state.engine.verify(presented, now).await? else {
        return Ok(Introspection::inactive());
    };
    if verified.org().id != caller.org.id {
        return Ok(Introspection::inactive());
    }
    let token = verified.token();
    let target = token.resource();
    if !caller.allows(INTROSPECT, &target) {
        return Err(ServiceError::forbidden(INTROSPECT, &target));
    }
    let ip = caller_ip(call);
    state
        .engine
        .record_use(&verified, tessera_engine::Outcome::Valid, now, ip);
    Ok(active(&verified, issuer))
}

fn caller_ip(call: &Call) -> Option<std::net::IpAddr> {
    call.caller.ip.as_deref().and_then(|ip| ip.parse().ok())
}

fn active(verified: &Verified, issuer: &str) -> Introspection {
    let token = verified.token();
    let (sub, username, role) = match (verified.member(), verified.service_account()) {
        (Some(m), _) => (m.id.to_string(), m.email.clone(), m.role),
        (None, Some(a)) => (a.id.to_string(), a.name.clone(), a.role),
        (None, None) => (String::new(), String::new(), verified.permissions().role),
    };
    let mut scope: Vec<String> = match &token.scope {
        TokenScope::Inherit => vec![format!("role:{role}")],
        TokenScope::Role(role) => vec![format!("role:{role}")],
        TokenScope::CustomRoles(keys) => keys.iter().map(|k| format!("role:{k}")).collect(),
        TokenScope::Policy(_) => vec!["policy".into()],
    };
    scope.extend(token.projects.iter().map(|p| format!("project:{p}")));
    Introspection {
        active: true,
        token_type: Some("bearer".into()),
        client_id: Some(token.id.to_string()),
        sub: Some(sub),
        username: Some(username),
        exp: token.expires_at.map(|at| at.unix_timestamp()),
        iat: Some(token.created_at.unix_timestamp()),
        iss: Some(issuer.to_owned()),
        scope: Some(scope.join(" ")),
        org: Some(verified.org().key.to_string()),
    }
}
