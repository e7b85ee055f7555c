//! Who is in the org, with which roles. Rank rules: nobody changes or
//! removes a member ranked above them, or grants a role above their own;
//! only admins and owners add or remove custom roles, never their own; and
//! a caller whose permissions are less than a whole built-in role (held
//! back by a deny, or calling through a custom-scoped token) gives nobody
//! permissions (`Grantor::check_member_grant`).

use serde_json::json;
use tessera_api::{
    CreateMemberRequest, CreatedMemberResponse, MemberList, MemberResponse, TokenList,
    UpdateMemberRequest,
};
use tessera_core::lifecycle::{normalize_email, validate_name, validate_password};
use tessera_core::model::Member;
use tessera_core::permission::check_member_change;
use tessera_core::{resource, BuiltinRole, MemberId, RoleKey};

use super::tokens::{parse_role_keys, readable_list};
use super::{event, not_found_as, Call, Caller, ServiceError, ServiceResult};
use crate::secrets;

/// Length of a generated initial password.
const INITIAL_PASSWORD_LEN: usize = 20;

pub fn member_response(m: &Member) -> MemberResponse {
    MemberResponse::from(m)
}

/// The org's members the caller may read.
pub async fn list(call: &Call) -> ServiceResult<MemberList> {
    let (state, caller, _) = call.parts();
    let members = state.store.list_members(&caller.org.id).await?;
    let items = caller.readable("member:read", &members, member_response);
    Ok(MemberList { items })
}

/// Adds a member. Without a password, one is generated and returned once.
pub async fn create(
    call: &Call,
    request: CreateMemberRequest,
) -> ServiceResult<CreatedMemberResponse> {
    let (state, caller, now) = call.parts();
    let email = normalize_email(&request.email)?;
    let name = request
        .name
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    validate_name("name", &name)?;
    let custom_roles = optional_role_keys(request.custom_roles)?;
    let id = MemberId::generate(now);
    caller.require("member:create", &resource::member(&id))?;
    check_new_member_grant(caller, request.role, &custom_roles)?;
    let (password, generated) = match request.password {
        Some(p) => {
            validate_password(&p)?;
            (p, false)
        }
        None => (secrets::random_password(INITIAL_PASSWORD_LEN), true),
    };
    let member = Member {
        id,
        org_id: caller.org.id.clone(),
        email,
        name,
        role: request.role,
        custom_roles,
        password_hash: Some(secrets::hash_password(password.clone()).await?),
        created_at: now,
        external_id: None,
    };
    let details =
        json!({ "email": member.email, "role": member.role, "custom_roles": member.custom_roles });
    let target = resource::member(&member.id);
    let event = event(state, caller, now, "member:create", target, details);
    state.store.create_member(&member, &event).await?;
    Ok(CreatedMemberResponse {
        member: member_response(&member),
        initial_password: generated.then_some(password),
    })
}

/// One member.
pub async fn show(call: &Call, id: &str) -> ServiceResult<MemberResponse> {
    let (_, caller, _) = call.parts();
    let member = load(call, id).await?;
    caller.require("member:read", &resource::member(&member.id))?;
    Ok(member_response(&member))
}

/// Changes a member's built-in role and custom roles; their tokens follow
/// at once.
pub async fn update(
    call: &Call,
    id: &str,
    request: UpdateMemberRequest,
) -> ServiceResult<MemberResponse> {
    let (state, caller, now) = call.parts();
    let mut member = load(call, id).await?;
    caller.require("member:update", &resource::member(&member.id))?;
    let on_self = caller.member().is_some_and(|me| me.id == member.id);
    let (role, custom_roles) = role_change(
        caller,
        (member.role, &member.custom_roles),
        (request.role, request.custom_roles),
        on_self,
    )?;
    let details = json!({ "from": { "role": member.role, "custom_roles": member.custom_roles },
                          "to": { "role": role, "custom_roles": custom_roles } });
    let target = resource::member(&member.id);
    let event = event(state, caller, now, "member:update", target, details);
    state
        .store
        .update_member_roles(&caller.org.id, &member.id, role, &custom_roles, &event)
        .await
        .map_err(not_found_as("member"))?;
    member.role = role;
    member.custom_roles = custom_roles;
    Ok(member_response(&member))
}

/// The built-in role and custom roles a change asks for (`requested`;
/// `None` keeps the `current` one, `[]` removes all custom roles), checked
/// against the grant rules: the rank rule, a whole role to raise a role,
/// and custom roles only by admins and owners, never on oneself
/// (`on_self`). Members and service accounts are given roles by this one
/// function.
pub(crate) fn role_change(
    caller: &Caller,
    current: (BuiltinRole, &[RoleKey]),
    requested: (Option<BuiltinRole>, Option<Vec<String>>),
    on_self: bool,
) -> ServiceResult<(BuiltinRole, Vec<RoleKey>)> {
    let (current_role, current_custom) = current;
    let role = requested.0.unwrap_or(current_role);
    let custom_roles = match requested.1 {
        Some(keys) if keys.is_empty() => Vec::new(),
        Some(keys) => parse_role_keys(&keys)?,
        None => current_custom.to_vec(),
    };
    let added: Vec<RoleKey> = custom_roles
        .iter()
        .filter(|k| !current_custom.contains(k))
        .cloned()
        .collect();
    let removed: Vec<RoleKey> = current_custom
        .iter()
        .filter(|k| !custom_roles.contains(k))
        .cloned()
        .collect();
    let grantor = caller.grantor();
    check_member_change(grantor.effective_rank(), Some(current_role), Some(role))?;
    if role > current_role {
        grantor.check_member_grant()?;
    }
    grantor.check_custom_roles_change(on_self, &added, &removed)?;
    Ok((role, custom_roles))
}

/// Removes a member: their tokens and sessions stop working at once.
pub async fn delete(call: &Call, id: &str) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    let member = load(call, id).await?;
    caller.require("member:delete", &resource::member(&member.id))?;
    check_member_change(caller.grantor().effective_rank(), Some(member.role), None)?;
    let details = json!({ "email": member.email });
    let target = resource::member(&member.id);
    let event = event(state, caller, now, "member:delete", target, details);
    state
        .store
        .delete_member(&caller.org.id, &member.id, &event)
        .await
        .map_err(not_found_as("member"))
}

/// An admin's view of a member's tokens: metadata only, never values.
pub async fn list_tokens(call: &Call, id: &str) -> ServiceResult<TokenList> {
    let (state, caller, _) = call.parts();
    let member = load(call, id).await?;
    if !tokens_listable(caller, &member.id) {
        let all = format!("{}:token/*", resource::member(&member.id));
        return Err(ServiceError::forbidden("token:read", &all));
    }
    let tokens = state.store.list_tokens(&caller.org.id, &member.id).await?;
    Ok(readable_list(call, tokens))
}

/// May the caller list `member`'s tokens (their own, or any member's)?
/// For front ends that show the list only to who may read it.
pub fn may_list_tokens(caller: &Caller, member: &MemberResponse) -> bool {
    MemberId::parse(&member.id).is_ok_and(|id| tokens_listable(caller, &id))
}

/// The rule `list_tokens` and [`may_list_tokens`] share.
fn tokens_listable(caller: &Caller, id: &MemberId) -> bool {
    let all = format!("{}:token/*", resource::member(id));
    caller.allows("token:read", &all) || caller.member().is_some_and(|me| me.id == *id)
}

/// May the caller change or remove a member holding `role` at all (the
/// rank rule)? For front ends that offer only forms that can succeed; the
/// operations check it again.
pub fn check_manageable(caller: &Caller, role: BuiltinRole) -> ServiceResult<()> {
    check_member_change(caller.grantor().effective_rank(), Some(role), None)?;
    Ok(())
}

/// May the caller add members at all: `member:create`, a role they may
/// give, and the grant rules (see the module docs)? For front ends that
/// offer only forms that can succeed; `create` checks it all again.
pub fn may_add(caller: &Caller) -> bool {
    caller.allows("member:create", "member/*")
        && caller.grantor().check_member_grant().is_ok()
        && !grantable_roles(caller).is_empty()
}

/// May the caller change `member`'s roles (permission and rank)?
pub fn may_update(caller: &Caller, member: &MemberResponse) -> bool {
    permitted(caller, "member:update", member) && check_manageable(caller, member.role).is_ok()
}

/// May the caller remove `member` (permission and rank)?
pub fn may_remove(caller: &Caller, member: &MemberResponse) -> bool {
    check_removable(caller, member).is_ok()
}

/// [`may_remove`], with the refusal `delete` would answer: for a
/// confirmation page that must not ask about what cannot be done.
pub fn check_removable(caller: &Caller, member: &MemberResponse) -> ServiceResult<()> {
    let id = MemberId::parse(&member.id).map_err(|_| ServiceError::not_found("member"))?;
    caller.require("member:delete", &resource::member(&id))?;
    check_manageable(caller, member.role)
}

/// Why the caller, who may change members, may not change this one: the
/// rank rule (an admin and an owner). `None` when they may, or when they
/// may change no member at all (nothing to explain to them).
pub fn rank_lock(caller: &Caller, member: &MemberResponse) -> Option<ServiceError> {
    if !permitted(caller, "member:update", member) {
        return None;
    }
    check_manageable(caller, member.role).err()
}

fn permitted(caller: &Caller, action: &str, member: &MemberResponse) -> bool {
    MemberId::parse(&member.id).is_ok_and(|id| caller.allows(action, &resource::member(&id)))
}

/// The built-in roles the caller may give a member, lowest first.
pub fn grantable_roles(caller: &Caller) -> Vec<BuiltinRole> {
    let rank = caller.grantor().effective_rank();
    BuiltinRole::ALL
        .into_iter()
        .filter(|r| check_member_change(rank, None, Some(*r)).is_ok())
        .collect()
}

pub(crate) fn optional_role_keys(keys: Option<Vec<String>>) -> ServiceResult<Vec<RoleKey>> {
    match keys {
        Some(keys) if !keys.is_empty() => parse_role_keys(&keys),
        _ => Ok(Vec::new()),
    }
}

/// The grant rules for a new member or service account (see the module
/// docs).
pub(crate) fn check_new_member_grant(
    caller: &Caller,
    role: BuiltinRole,
    new_custom_roles: &[RoleKey],
) -> ServiceResult<()> {
    let grantor = caller.grantor();
    check_member_change(grantor.effective_rank(), None, Some(role))?;
    grantor.check_member_grant()?;
    grantor.check_custom_roles_change(false, new_custom_roles, &[])?;
    Ok(())
}

pub(super) async fn load(call: &Call, id: &str) -> ServiceResult<Member> {
    let (state, caller, _) = call.parts();
    let id = MemberId::parse(id).map_err(|_| {
        ServiceError::BadRequest("not a member id: expected 27 base62 characters".into())
    })?;
    state
        .store
        .get_member(&caller.org.id, &id)
        .await?
        .ok_or_else(|| ServiceError::not_found("member"))
}
