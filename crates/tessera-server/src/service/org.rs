//! The org itself: its name and its token policy. New policy rules apply to
//! tokens created, re-dated or rotated from then on.

use serde_json::json;
use tessera_api::{OrgResponse, UpdateOrgRequest};
use tessera_core::lifecycle::validate_name;
use tessera_core::model::Org;
use tessera_core::resource;

use super::{event, Call, Caller, ServiceResult};

pub fn org_response(o: &Org) -> OrgResponse {
    OrgResponse {
        id: o.id.to_string(),
        key: o.key.to_string(),
        name: o.name.clone(),
        token_policy: o.token_policy,
        sso: None,
        created_at: o.created_at,
    }
}

/// The caller's org and its token policy.
pub fn show(caller: &Caller) -> ServiceResult<OrgResponse> {
    caller.require("org:read", &resource::org(&caller.org.key))?;
    Ok(org_response(&caller.org))
}

/// The caller's org as `GET /org` shows it, with its SSO settings.
pub async fn show_org(call: &Call) -> ServiceResult<OrgResponse> {
    let mut response = show(&call.caller)?;
    response.sso = Some(super::org_sso::settings_response(
        &super::org_sso::settings(&call.state, &call.caller.org.id).await?,
    ));
    Ok(response)
}

/// May the caller change the org (its token policy)? For front ends that
/// offer only forms that can succeed.
pub fn may_update(caller: &Caller) -> bool {
    caller.allows("org:update", &resource::org(&caller.org.key))
}

/// Changes the org's name, token policy or single sign-on settings
/// (checked before anything is saved).
pub async fn update(call: &Call, mut request: UpdateOrgRequest) -> ServiceResult<OrgResponse> {
    let (state, caller, now) = call.parts();
    caller.require("org:update", &resource::org(&caller.org.key))?;
    let sso = match request.sso.take() {
        Some(patch) => Some(super::org_sso::patched(call, patch).await?),
        None => None,
    };
    let only_sso = sso.is_some() && request.name.is_none() && request.token_policy.is_none();
    let mut org = caller.org.clone();
    if let Some(name) = request.name {
        validate_name("name", &name)?;
        org.name = name;
    }
    if let Some(patch) = request.token_policy {
        apply_token_policy(&mut org.token_policy, patch)?;
    }
    let details =
        json!({ "from": caller.org.token_policy, "to": org.token_policy, "name": org.name });
    let event = event(
        state,
        caller,
        now,
        "org:update",
        resource::org(&org.key),
        details,
    );
    if !only_sso {
        state.store.update_org(&org, &event).await?;
    }
    if let Some(sso) = &sso {
        super::org_sso::save(call, sso).await?;
    }
    let mut response = org_response(&org);
    response.sso = Some(super::org_sso::settings_response(
        &super::org_sso::settings(state, &org.id).await?,
    ));
    Ok(response)
}

/// Applies a token policy patch (`PATCH /org`, and the platform API's
/// `PATCH /platform/orgs/{key}`): absent fields stay as they are.
pub fn apply_token_policy(
    policy: &mut tessera_core::TokenPolicy,
    patch: tessera_api::TokenPolicyPatch,
) -> ServiceResult<()> {
    if let Some(required) = patch.require_expiration {
        policy.require_expiration = required;
    }
    if let Some(max) = patch.max_lifetime_days {
        policy.max_lifetime_days = max;
    }
    if let Some(days) = patch.inactive_days {
        policy.inactive_days = days;
    }
    if let Some(action) = patch.inactive_action {
        policy.inactive_action = action;
    }
    if let Some(days) = patch.expiry_warning_days {
        policy.expiry_warning_days = tessera_core::ExpiryWarnings::new(&days)?;
    }
    policy.validate()?;
    Ok(())
}
