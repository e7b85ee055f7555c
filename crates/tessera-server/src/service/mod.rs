//! The service layer: every operation on the org's data, one function
//! each, shared by every front end (the REST API under `api`, the web page
//! under `web`).
//!
//! Invariants every function here keeps:
//! - It takes a [`Call`] (the app, the [`Caller`] and `now`) and the
//!   request (the `tessera_api` request types); it never reads the clock.
//! - It checks the caller's permission itself, before it changes anything,
//!   so a front end cannot forget one: front ends only translate (extract
//!   the request, call here, render the answer).
//! - A change is one storage call, which writes its audit event in the same
//!   transaction.
//! - It answers with `tessera_api` response types (what both front ends
//!   show) or a [`ServiceError`].

mod account_tokens;
pub mod audit;
pub mod caller;
mod error;
pub mod expiry;
pub mod inactivity;
pub mod introspect;
pub mod inventory;
pub mod member_password;
pub mod members;
pub mod org;
pub mod org_sso;
pub mod projects;
pub mod roles;
pub mod service_accounts;
pub mod sessions;
pub mod sso;
pub mod token_controls;
pub mod token_limits;
pub mod token_usage;
pub mod tokens;
pub mod webhooks;

use serde_json::Value;
use tessera_core::model::AuditEvent;
use tessera_store::StoreError;
use time::OffsetDateTime;

pub use caller::{Caller, Identity};
pub use error::{ServiceError, ServiceResult};

use crate::state::AppState;

/// One operation's context: the app it runs in, who it acts for, and the
/// instant it acts at. The front end makes one per request (the API's
/// handlers extract it; the web page's [`crate::web::session::WebUser`]
/// holds one), so the clock is read once, at the edge, and an operation's
/// checks, change and audit event share one time.
#[derive(Clone)]
pub struct Call {
    pub state: AppState,
    pub caller: Caller,
    pub now: OffsetDateTime,
}

impl Call {
    /// `caller`'s call, now.
    pub fn new(state: &AppState, caller: Caller) -> Self {
        Self {
            state: state.clone(),
            now: state.now(),
            caller,
        }
    }

    /// The three, borrowed: what an operation's body works with.
    pub(crate) fn parts(&self) -> (&AppState, &Caller, OffsetDateTime) {
        (&self.state, &self.caller, self.now)
    }
}

/// A new audit event: `caller` did `action` to `target` at `now`.
pub(crate) fn event(
    state: &AppState,
    caller: &Caller,
    now: OffsetDateTime,
    action: &str,
    target: String,
    details: Value,
) -> AuditEvent {
    AuditEvent {
        id: state.next_audit_id(),
        org_id: caller.org.id.clone(),
        at: now,
        actor: caller.actor(),
        action: action.to_owned(),
        target,
        ip: caller.ip.clone(),
        details,
    }
}

/// A key or id from a request's path, where one that does not parse names
/// nothing: `404` naming `what`, like a missing one (not a `400`).
pub(crate) fn parse_or_not_found<T: std::str::FromStr>(
    raw: &str,
    what: &'static str,
) -> ServiceResult<T> {
    raw.parse().map_err(|_| ServiceError::not_found(what))
}

/// Whether the caller may take `action` on the role or project (`what`)
/// that `key` names at the resource `name` gives, with the refusal the
/// operation would answer (a key that does not parse: the 404 of a missing
/// one). For front ends that ask before offering a link or a confirmation.
pub(crate) fn check_on_key<K: std::str::FromStr>(
    caller: &Caller,
    (action, what): (&str, &'static str),
    key: &str,
    name: impl Fn(&K) -> String,
) -> ServiceResult<()> {
    caller.require(action, &name(&parse_or_not_found(key, what)?))
}

/// The store's "not found" as a 404 that names `what`; other store errors
/// as they are.
pub(crate) fn not_found_as(what: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |err| match err {
        StoreError::NotFound => ServiceError::not_found(what),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests;
