//! The org's inactivity rule (`token_policy.inactive_days` and
//! `inactive_action`): tokens unused that many days, counted from their
//! creation when never used, are disabled or revoked.
//!
//! Every node runs [`sweep`] once a minute (and tests call it after moving
//! the server's clock). It first flushes this node's not-yet-saved uses,
//! so a token just used here is not taken for idle, then acts on each
//! inactive token with one conditional statement that re-checks "enabled"
//! and "unused since" in the database: of several nodes sweeping at once,
//! exactly one disables (or revokes) a token and writes its audit event
//! (`token:disable` or `token:delete`, with `"reason": "inactive"`); the
//! others find nothing to do. A use another node has not flushed yet (at
//! most `last_used_flush_seconds` old) is not seen.

use serde_json::json;
use tessera_core::model::Actor;
use tessera_core::{resource, InactiveAction};
use tessera_store::InactiveToken;
use time::format_description::well_known::Rfc3339;

use super::ServiceResult;
use crate::state::AppState;

/// Tokens read per round of a sweep.
const BATCH: u32 = 500;
/// Most rounds one sweep makes; what is left waits for the next sweep.
const MAX_ROUNDS: u32 = 20;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub disabled: u64,
    pub revoked: u64,
}

/// Applies every org's inactivity rule at the server's current time.
pub async fn sweep(state: &AppState) -> ServiceResult<Swept> {
    state.engine.activity().flush(state.store.as_ref()).await?;
    let now = state.now();
    let mut swept = Swept::default();
    for _ in 0..MAX_ROUNDS {
        let found = state.store.inactive_tokens(now, BATCH).await?;
        let mut acted = 0;
        for inactive in &found {
            if act(state, inactive).await? {
                acted += 1;
                match inactive.action {
                    InactiveAction::Disable => swept.disabled += 1,
                    InactiveAction::Revoke => swept.revoked += 1,
                }
            }
        }
        // A short batch was the last; a batch of which nothing changed
        // (another node got there first) would only be read again.
        if found.len() < BATCH as usize || acted == 0 {
            break;
        }
    }
    Ok(swept)
}

/// Disables or revokes one token, if it is still inactive and no other
/// node did so first; whether this call did.
async fn act(state: &AppState, inactive: &InactiveToken) -> ServiceResult<bool> {
    let token = &inactive.token;
    let action = match inactive.action {
        InactiveAction::Disable => "token:disable",
        InactiveAction::Revoke => "token:delete",
    };
    let details = json!({
        "reason": "inactive",
        "inactive_days": inactive.days,
        "last_used_at": token.last_used_at.and_then(|t| t.format(&Rfc3339).ok()),
        "name": token.name,
        "snippet": token.snippet,
    });
    let event = state.audit(
        &token.org_id,
        Actor::default(),
        None,
        action,
        resource::owned_token(&token.owner, &token.id),
        details,
    );
    let store = &state.store;
    let acted = match inactive.action {
        InactiveAction::Disable => store
            .disable_token(&token.id, event.at, Some(inactive.unused_before), &event)
            .await
            .map(|saved| saved.is_some()),
        InactiveAction::Revoke => {
            store
                .revoke_inactive_token(&token.id, inactive.unused_before, &event)
                .await
        }
    };
    match acted {
        Ok(done) => Ok(done),
        // Deleted meanwhile (by its owner, or with its member).
        Err(tessera_store::StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
