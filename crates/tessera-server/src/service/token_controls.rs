//! Disabling and enabling a token: a disabled token is refused
//! (`token_disabled`) wherever it is presented, until it is enabled again.
//!
//! The token's owner or anyone allowed `token:disable` / `token:enable` on
//! it (admins and owners) may. A token the caller may not read is a 404,
//! as if it did not exist. Asking for the state a token is already in
//! changes nothing, writes no audit event, and answers 200 all the same.
//!
//! The change reaches every node's verification cache as any token change
//! does (the store's commit, and on PostgreSQL its change feed), so the
//! hot path keeps answering from memory.

use serde_json::json;
use tessera_api::TokenResponse;
use tessera_core::model::Token;
use tessera_core::resource;

use super::tokens::{load, token_event, token_response};
use super::{not_found_as, Call, Caller, ServiceError, ServiceResult};

/// Disables a token of the org; the answer is its metadata.
pub async fn disable(call: &Call, id: &str) -> ServiceResult<TokenResponse> {
    let (state, _, now) = call.parts();
    let token = visible(call, id, "token:disable").await?;
    let event = token_event(call, "token:disable", &token, json!({}));
    let saved = state
        .store
        .disable_token(&token.id, now, None, &event)
        .await
        .map_err(not_found_as("token"))?;
    Ok(token_response(state, saved.as_ref().unwrap_or(&token)))
}

/// Enables a disabled token again; the answer is its metadata.
pub async fn enable(call: &Call, id: &str) -> ServiceResult<TokenResponse> {
    let (state, _, now) = call.parts();
    let token = visible(call, id, "token:enable").await?;
    let event = token_event(call, "token:enable", &token, json!({}));
    let saved = state
        .store
        .enable_token(&token.id, now, &event)
        .await
        .map_err(not_found_as("token"))?;
    Ok(token_response(state, saved.as_ref().unwrap_or(&token)))
}

/// May the caller disable (or, when it is disabled, enable) this token?
/// For front ends that offer only buttons that can work.
pub fn may_toggle(caller: &Caller, token: &TokenResponse) -> bool {
    let action = match token.disabled_at {
        Some(_) => "token:enable",
        None => "token:disable",
    };
    let Ok(id) = token.id.parse::<tessera_core::TokenId>() else {
        return false;
    };
    match (&token.member_id, &token.service_account_id) {
        (Some(member), _) => member
            .parse()
            .is_ok_and(|m| caller.allows_on(action, &resource::token(&m, &id), &id)),
        // A service account's tokens are managed as the account's.
        (None, Some(account)) => account.parse().is_ok_and(|a| {
            caller.allows(super::caller::MANAGE_TOKENS, &resource::service_account(&a))
        }),
        (None, None) => false,
    }
}

/// The token `id` names, if the caller may read it (else 404), and may
/// take `action` on it (else 403).
async fn visible(call: &Call, id: &str, action: &str) -> ServiceResult<Token> {
    let (_, caller, _) = call.parts();
    let token = load(call, id).await?;
    if !caller.allows_token("token:read", &token) {
        return Err(ServiceError::not_found("token"));
    }
    caller.require_token(action, &token)?;
    Ok(token)
}
