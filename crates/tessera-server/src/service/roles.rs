//! The org's custom roles: named policies that members and tokens hold.
//! Changing one changes every holder at once. Writing a role is bound by
//! `Grantor::check_role_write`: nobody writes a role they hold themselves.

use serde_json::json;
use tessera_api::{CreateRoleRequest, RoleList, RoleResponse, UpdateRoleRequest};
use tessera_core::lifecycle::validate_name;
use tessera_core::model::CustomRole;
use tessera_core::{resource, Policy, RoleKey};

use super::{
    check_on_key, event, not_found_as, parse_or_not_found, Call, Caller, ServiceError,
    ServiceResult,
};

pub fn role_response(r: &CustomRole) -> RoleResponse {
    RoleResponse {
        key: r.key.to_string(),
        name: r.name.clone(),
        policy: r.policy.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// The role, or a 404.
async fn load(call: &Call, key: &RoleKey) -> ServiceResult<CustomRole> {
    let (state, caller, _) = call.parts();
    state
        .store
        .get_role(&caller.org.id, key)
        .await?
        .ok_or_else(|| ServiceError::not_found("role"))
}

/// Writing a role (creating or replacing it, with `policy`): the policy is
/// valid, the caller has `action` on it, and does not hold it
/// (`Grantor::check_role_write`).
fn check_write(caller: &Caller, action: &str, key: &RoleKey, policy: &Policy) -> ServiceResult<()> {
    check_policy(policy)?;
    caller.require(action, &resource::role(key))?;
    caller
        .grantor()
        .check_role_write(key, caller.custom_roles())?;
    Ok(())
}

/// May the caller create custom roles? For front ends that offer only
/// forms that can succeed; `create` checks again, with the key.
pub fn may_create(caller: &Caller) -> bool {
    caller.allows("role:create", "role/*")
}

/// May the caller replace role `key`'s policy: `role:update` on it, and
/// not a role they hold (`check_write`)?
pub fn may_update(caller: &Caller, key: &str) -> bool {
    RoleKey::parse(key).is_ok_and(|key| {
        caller.allows("role:update", &resource::role(&key))
            && caller
                .grantor()
                .check_role_write(&key, caller.custom_roles())
                .is_ok()
    })
}

/// May the caller delete role `key`?
pub fn may_delete(caller: &Caller, key: &str) -> bool {
    check_deletable(caller, key).is_ok()
}

/// [`may_delete`], with the refusal `delete` would answer (before it
/// looks the role up): for a confirmation page.
pub fn check_deletable(caller: &Caller, key: &str) -> ServiceResult<()> {
    check_on_key(caller, ("role:delete", "role"), key, resource::role)
}

/// The check every write of a policy makes (a role's, or a token's inline
/// policy), alone: for a front end that shows what a policy means before
/// it is saved.
pub fn check_policy(policy: &Policy) -> ServiceResult<()> {
    policy.validate()?;
    Ok(())
}

/// The org's custom roles the caller may read.
pub async fn list(call: &Call) -> ServiceResult<RoleList> {
    let (state, caller, _) = call.parts();
    let roles = state.store.list_roles(&caller.org.id).await?;
    let items = caller.readable("role:read", &roles, role_response);
    Ok(RoleList { items })
}

/// A new custom role from policy statements.
pub async fn create(call: &Call, request: CreateRoleRequest) -> ServiceResult<RoleResponse> {
    let (state, caller, now) = call.parts();
    let key = RoleKey::parse(&request.key)?;
    let name = request.name.unwrap_or_else(|| key.to_string());
    validate_name("name", &name)?;
    check_write(caller, "role:create", &key, &request.policy)?;
    let role = CustomRole {
        org_id: caller.org.id.clone(),
        key,
        name,
        policy: request.policy,
        created_at: now,
        updated_at: now,
    };
    let details = json!({ "policy": role.policy });
    let target = resource::role(&role.key);
    let event = event(state, caller, now, "role:create", target, details);
    state.store.create_role(&role, &event).await?;
    Ok(role_response(&role))
}

/// One custom role.
pub async fn show(call: &Call, key: &str) -> ServiceResult<RoleResponse> {
    let (_, caller, _) = call.parts();
    let key: RoleKey = parse_or_not_found(key, "role")?;
    caller.require("role:read", &resource::role(&key))?;
    let role = load(call, &key).await?;
    Ok(role_response(&role))
}

/// Replaces a custom role's name and policy; every member and token
/// holding it changes at once.
pub async fn update(
    call: &Call,
    key: &str,
    request: UpdateRoleRequest,
) -> ServiceResult<RoleResponse> {
    let (state, caller, now) = call.parts();
    let key: RoleKey = parse_or_not_found(key, "role")?;
    check_write(caller, "role:update", &key, &request.policy)?;
    let mut role = load(call, &key).await?;
    if let Some(name) = request.name {
        validate_name("name", &name)?;
        role.name = name;
    }
    role.policy = request.policy;
    role.updated_at = now;
    let details = json!({ "policy": role.policy });
    let event = event(
        state,
        caller,
        now,
        "role:update",
        resource::role(&key),
        details,
    );
    state
        .store
        .update_role(&role, &event)
        .await
        .map_err(not_found_as("role"))?;
    Ok(role_response(&role))
}

/// Deletes a custom role that no member or token holds.
pub async fn delete(call: &Call, key: &str) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    let key: RoleKey = parse_or_not_found(key, "role")?;
    caller.require("role:delete", &resource::role(&key))?;
    let target = resource::role(&key);
    let event = event(state, caller, now, "role:delete", target, json!({}));
    state
        .store
        .delete_role(&caller.org.id, &key, &event)
        .await
        .map_err(not_found_as("role"))
}
