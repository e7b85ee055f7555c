//! Service accounts: org-owned identities for automation, and their
//! tokens. An account holds a built-in role and custom roles as a member
//! does, and the same rules bound who gives it what (nobody grants more
//! than they have): the rank rule and the grant rules of
//! [`members`](super::members), through the same functions. Minting a
//! token for an account hands out the account's permissions, so it needs
//! `service_account:manage_tokens` on the account *and* those same grant
//! bounds (an admin cannot mint an owner-level account's token).
//!
//! A service-account id is its own type: an id that parses but names no
//! account of this org is a 404, whatever else it may name.

use serde_json::json;
use tessera_api::{
    CreateServiceAccountRequest, CreateTokenRequest, CreatedTokenResponse, ErrorCode,
    ServiceAccountList, ServiceAccountResponse, TokenList, TokenResponse,
    UpdateServiceAccountRequest,
};
use tessera_core::lifecycle::validate_name;
use tessera_core::model::ServiceAccount;
use tessera_core::permission::check_member_change;
use tessera_core::{resource, ServiceAccountId, TokenOwner};

use super::caller::MANAGE_TOKENS;
use super::members::{check_new_member_grant, optional_role_keys, role_change};
use super::tokens::{create_for, readable_list};
use super::{event, not_found_as, Call, Caller, ServiceError, ServiceResult};

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

pub fn account_response(a: &ServiceAccount) -> ServiceAccountResponse {
    ServiceAccountResponse::from(a)
}

/// The org's service accounts the caller may read, by name.
pub async fn list(call: &Call) -> ServiceResult<ServiceAccountList> {
    let (state, caller, _) = call.parts();
    let accounts = state.store.list_service_accounts(&caller.org.id).await?;
    let items = caller.readable("service_account:read", &accounts, account_response);
    Ok(ServiceAccountList { items })
}

/// Makes a service account with a role (and custom roles) the caller may
/// give.
pub async fn create(
    call: &Call,
    request: CreateServiceAccountRequest,
) -> ServiceResult<ServiceAccountResponse> {
    let (state, caller, now) = call.parts();
    validate_name("name", &request.name)?;
    let description = description(request.description)?;
    let custom_roles = optional_role_keys(request.custom_roles)?;
    let id = ServiceAccountId::generate(now);
    caller.require("service_account:create", &resource::service_account(&id))?;
    check_new_member_grant(caller, request.role, &custom_roles)?;
    let account = ServiceAccount {
        id,
        org_id: caller.org.id.clone(),
        name: request.name,
        description,
        role: request.role,
        custom_roles,
        created_at: now,
        created_by: caller.member().map(|m| m.id.clone()),
    };
    let details = json!({ "name": account.name, "role": account.role,
                          "custom_roles": account.custom_roles });
    let target = resource::service_account(&account.id);
    let event = event(
        state,
        caller,
        now,
        "service_account:create",
        target,
        details,
    );
    state.store.create_service_account(&account, &event).await?;
    Ok(account_response(&account))
}

/// One service account.
pub async fn show(call: &Call, id: &str) -> ServiceResult<ServiceAccountResponse> {
    let (_, caller, _) = call.parts();
    let account = load(call, id).await?;
    caller.require(
        "service_account:read",
        &resource::service_account(&account.id),
    )?;
    Ok(account_response(&account))
}

/// Renames, re-describes or re-roles an account; its tokens follow its new
/// role at once.
pub async fn update(
    call: &Call,
    id: &str,
    request: UpdateServiceAccountRequest,
) -> ServiceResult<ServiceAccountResponse> {
    let (state, caller, now) = call.parts();
    let mut account = load(call, id).await?;
    let target = resource::service_account(&account.id);
    caller.require("service_account:update", &target)?;
    let on_self = caller
        .service_account()
        .is_some_and(|me| me.id == account.id);
    let (role, custom_roles) = role_change(
        caller,
        (account.role, &account.custom_roles),
        (request.role, request.custom_roles),
        on_self,
    )?;
    let before = json!({ "name": account.name, "role": account.role,
                         "custom_roles": account.custom_roles });
    if let Some(name) = request.name {
        validate_name("name", &name)?;
        account.name = name;
    }
    if let Some(text) = request.description {
        account.description = description(Some(text))?;
    }
    account.role = role;
    account.custom_roles = custom_roles;
    let details = json!({ "from": before, "to": { "name": account.name, "role": account.role,
                          "custom_roles": account.custom_roles } });
    let event = event(
        state,
        caller,
        now,
        "service_account:update",
        target,
        details,
    );
    state
        .store
        .update_service_account(&account, &event)
        .await
        .map_err(not_found_as("service account"))?;
    Ok(account_response(&account))
}

/// Deletes an account: its tokens stop working at once, on every node.
pub async fn delete(call: &Call, id: &str) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    let account = load(call, id).await?;
    let target = resource::service_account(&account.id);
    caller.require("service_account:delete", &target)?;
    check_member_change(caller.grantor().effective_rank(), Some(account.role), None)?;
    let details = json!({ "name": account.name });
    let event = event(
        state,
        caller,
        now,
        "service_account:delete",
        target,
        details,
    );
    state
        .store
        .delete_service_account(&caller.org.id, &account.id, &event)
        .await
        .map_err(not_found_as("service account"))
}

/// An account's tokens: metadata only, never values.
pub async fn list_tokens(call: &Call, id: &str) -> ServiceResult<TokenList> {
    let (state, caller, _) = call.parts();
    let account = load(call, id).await?;
    caller.require(MANAGE_TOKENS, &resource::service_account(&account.id))?;
    let tokens = state
        .store
        .list_service_account_tokens(&caller.org.id, &account.id)
        .await?;
    Ok(readable_list(call, tokens))
}

/// A new token for an account (the body of `POST /tokens`); the answer
/// carries its value, this once.
pub async fn create_token(
    call: &Call,
    id: &str,
    request: CreateTokenRequest,
) -> ServiceResult<CreatedTokenResponse> {
    let account = load(call, id).await?;
    create_for(call, TokenOwner::ServiceAccount(account.id), request).await
}

/// May the caller make accounts at all (permission, a role they may give,
/// the grant rules)? For front ends that offer only forms that can
/// succeed; `create` checks it all again.
pub fn may_create(caller: &Caller) -> bool {
    caller.allows("service_account:create", "service_account/*")
        && caller.grantor().check_member_grant().is_ok()
        && !super::members::grantable_roles(caller).is_empty()
}

/// May the caller delete `account` (permission and rank)?
pub fn may_delete(caller: &Caller, account: &ServiceAccountResponse) -> bool {
    ServiceAccountId::parse(&account.id).is_ok_and(|id| {
        caller.allows("service_account:delete", &resource::service_account(&id))
            && check_member_change(caller.grantor().effective_rank(), Some(account.role), None)
                .is_ok()
    })
}

/// May the caller manage `account`'s tokens at all? For front ends that
/// offer only what can succeed.
pub fn may_manage_tokens(caller: &Caller, account: &ServiceAccountResponse) -> bool {
    ServiceAccountId::parse(&account.id)
        .is_ok_and(|id| caller.allows(MANAGE_TOKENS, &resource::service_account(&id)))
}

/// May the caller change `token`, a service account's token (rename,
/// re-scope, rotate, clone)? `manage_tokens` on its account; `false` for
/// a member's token. For front ends that offer only what can succeed; each
/// operation checks again, with the grant bounds.
pub fn may_change_token(caller: &Caller, token: &TokenResponse) -> bool {
    token
        .service_account_id
        .as_deref()
        .and_then(|id| ServiceAccountId::parse(id).ok())
        .is_some_and(|id| caller.allows(MANAGE_TOKENS, &resource::service_account(&id)))
}

fn description(text: Option<String>) -> ServiceResult<Option<String>> {
    match text {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => {
            Err(ServiceError::unprocessable(
                ErrorCode::ValidationFailed,
                format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ))
        }
        Some(text) => Ok(Some(text)),
    }
}

/// The account `id` names in the caller's org. An id that is not a KSUID
/// is a 400; one that names no account here (a member's id, say) a 404.
async fn load(call: &Call, id: &str) -> ServiceResult<ServiceAccount> {
    let (state, caller, _) = call.parts();
    let id = ServiceAccountId::parse(id).map_err(|_| {
        ServiceError::BadRequest("not a service account id: expected 27 base62 characters".into())
    })?;
    state
        .store
        .get_service_account(&caller.org.id, &id)
        .await?
        .ok_or_else(|| ServiceError::not_found("service account"))
}
