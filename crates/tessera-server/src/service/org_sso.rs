//! An org's single sign-on settings (`"sso"` on `/org`): who the
//! deployment's OpenID provider may let in without an invitation, as what,
//! and whether passwords still work. Apart from the sign-in rules
//! ([`super::sso`]) so that the org's operations and the password login
//! can read them without depending on the sign-in.

use serde_json::json;
use tessera_api::{OrgSsoPatch, OrgSsoSettings};
use tessera_core::resource;
use tessera_core::sso::OrgSso;
use tessera_core::OrgId;

use super::{event, Call, ServiceResult};
use crate::state::AppState;

pub fn settings_response(sso: &OrgSso) -> OrgSsoSettings {
    OrgSsoSettings {
        allowed_domains: sso.allowed_domains.clone(),
        default_role: sso.default_role,
        password_login: sso.password_login,
    }
}

/// The org's settings (the defaults until first set).
pub async fn settings(state: &AppState, org: &OrgId) -> ServiceResult<OrgSso> {
    Ok(state.store.get_org_sso(org).await?.unwrap_or_default())
}

/// May the org's members log in with a password?
pub async fn password_login(state: &AppState, org: &OrgId) -> ServiceResult<bool> {
    Ok(settings(state, org).await?.password_login)
}

/// The settings `patch` asks for, checked (the caller's permission is
/// checked by the operation that applies it).
pub(crate) async fn patched(call: &Call, patch: OrgSsoPatch) -> ServiceResult<OrgSso> {
    let current = settings(&call.state, &call.caller.org.id).await?;
    let next = OrgSso {
        allowed_domains: patch.allowed_domains.unwrap_or(current.allowed_domains),
        default_role: patch.default_role.unwrap_or(current.default_role),
        password_login: patch.password_login.unwrap_or(current.password_login),
    }
    .normalized()?;
    // Admitting people as a role is granting it: not above the caller's.
    let grantor = call.caller.grantor();
    tessera_core::permission::check_member_change(
        grantor.effective_rank(),
        None,
        Some(next.default_role),
    )?;
    Ok(next)
}

/// Saves the org's settings, audited as `org:sso` with before and after.
pub(crate) async fn save(call: &Call, sso: &OrgSso) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    caller.require("org:update", &resource::org(&caller.org.key))?;
    let before = settings(state, &caller.org.id).await?;
    let details = json!({ "from": settings_response(&before), "to": settings_response(sso) });
    let target = resource::org(&caller.org.key);
    let event = event(state, caller, now, "org:sso", target, details);
    state.store.set_org_sso(&caller.org.id, sso, &event).await?;
    Ok(())
}
