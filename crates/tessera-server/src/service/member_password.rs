//! An admin sets a member's password (`PUT /members/{id}/password`): the
//! way back in for someone who forgot theirs where there is no single
//! sign-on. Login sessions only (a leaked token must not be able to take
//! over accounts), the same rank rules as changing the member's role, and
//! every session the member had ends, so whoever knew the old password
//! is out.

use serde_json::json;
use tessera_api::SetPasswordRequest;
use tessera_core::lifecycle::validate_password;
use tessera_core::resource;

use super::members::load;
use super::{event, Call, ServiceError, ServiceResult};
use crate::secrets;

/// Sets another member's password; audited as `member:password`.
pub async fn set(call: &Call, id: &str, request: SetPasswordRequest) -> ServiceResult<()> {
    let (state, caller, now) = call.parts();
    caller.require_session()?;
    let member = load(call, id).await?;
    caller.require("member:update", &resource::member(&member.id))?;
    if caller.member().is_some_and(|me| me.id == member.id) {
        return Err(ServiceError::NotAllowed(
            "change your own password with your current one (PUT /api/v1/me/password)".into(),
        ));
    }
    let grantor = caller.grantor();
    tessera_core::permission::check_member_change(
        grantor.effective_rank(),
        Some(member.role),
        None,
    )?;
    // Taking over an account is at least as much as granting its role.
    grantor.check_member_grant()?;
    validate_password(&request.password)?;
    let hash = secrets::hash_password(request.password).await?;
    let target = resource::member(&member.id);
    let details = json!({ "email": member.email });
    let event = event(state, caller, now, "member:password", target, details);
    state.store.set_password(&member.id, &hash, &event).await?;
    state.store.delete_member_sessions(&member.id, None).await?;
    Ok(())
}
