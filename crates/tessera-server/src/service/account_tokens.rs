//! Who may hand out a service account's secrets: the one check that
//! creating, cloning, rotating or re-scoping an account's token makes
//! (`tokens` and `service_accounts` both use it).

use tessera_core::model::ServiceAccount;
use tessera_core::permission::check_member_change;
use tessera_core::{resource, RoleKey, ServiceAccountId};

use super::caller::MANAGE_TOKENS;
use super::{Call, Caller, ServiceError, ServiceResult};

/// May the caller hand out a new secret of account `id` (create, clone,
/// rotate or re-scope one of its tokens)? `manage_tokens` on it, not
/// through a superseded string, and the grant bounds for giving the
/// account's role and custom roles. 404 when the account is gone.
pub(crate) async fn check_may_mint(call: &Call, id: &ServiceAccountId) -> ServiceResult<()> {
    let (state, caller, _) = call.parts();
    let account = state
        .store
        .get_service_account(&caller.org.id, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("service account"))?;
    caller.check_not_superseded("token:create")?;
    caller.require(MANAGE_TOKENS, &resource::service_account(&account.id))?;
    check_holds(caller, &account)
}

/// Could the caller have given `account` what it holds (its role, its
/// custom roles)? Then a token of it gives the caller nothing more.
fn check_holds(caller: &Caller, account: &ServiceAccount) -> ServiceResult<()> {
    let grantor = caller.grantor();
    check_member_change(grantor.effective_rank(), None, Some(account.role))?;
    grantor.check_member_grant()?;
    let none: &[RoleKey] = &[];
    grantor.check_custom_roles_change(false, &account.custom_roles, none)?;
    Ok(())
}
