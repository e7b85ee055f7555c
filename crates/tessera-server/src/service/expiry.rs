//! Expiry notices: every node runs [`scan`] once a minute (tests call it
//! after moving the server's clock). It reads the tokens inside one of
//! their org's warning windows (`token_policy.expiry_warning_days`) or
//! expired in the last 7 days that have no notice yet for that window,
//! and records each one's notice: `token.expiring` (with `days`) or
//! `token.expired`, and for a warning the owner's email. The store makes
//! each notice happen once per token, `expires_at` and threshold, whatever
//! the number of nodes scanning and across restarts (see
//! `tessera_store::NoticeStore`); which window is due is
//! [`tessera_core::notices::ExpiryWarnings::due`].

use super::ServiceResult;
use crate::state::AppState;

/// Tokens read per round of a scan.
const BATCH: u32 = 500;
/// Most rounds one scan makes; what is left waits for the next scan.
const MAX_ROUNDS: u32 = 20;

/// Records every expiry notice due at the server's current time; how many
/// this call recorded.
pub async fn scan(state: &AppState) -> ServiceResult<u64> {
    let now = state.now();
    let mut recorded = 0;
    for _ in 0..MAX_ROUNDS {
        let found = state.store.expiry_candidates(now, BATCH).await?;
        let mut acted = 0;
        for candidate in &found {
            let token = &candidate.token;
            let Some(due) = token
                .expires_at
                .and_then(|at| candidate.warnings.due(at, now))
            else {
                continue;
            };
            if state.store.record_expiry_notice(token, due, now).await? {
                acted += 1;
            }
        }
        recorded += acted;
        // A short batch was the last; a batch of which nothing was recorded
        // (another node got there first) would only be read again.
        if found.len() < BATCH as usize || acted == 0 {
            break;
        }
    }
    Ok(recorded)
}
