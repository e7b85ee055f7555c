//! The service layer: every operation on the org's data, one function
//! each, shared by every front end (the REST API under `api`, the web page
//! under `web`).
//!
//! Invariants every function here keeps:
//! - It takes the [`Caller`], the request (the `tessera_api` request types),
//!   and `now`; it never reads the clock.
//! - It checks the caller's permission itself, before it changes anything,
//!   so a front end cannot forget one: front ends only translate (extract
//!   the request, call here, render the answer).
//! - A change is one storage call, which writes its audit event in the same
//!   transaction.
//! - It answers with `tessera_api` response types (what both front ends
//!   show) or a [`ServiceError`].

pub mod audit;
pub mod members;
pub mod org;
pub mod projects;
pub mod roles;
pub mod sessions;
pub mod tokens;

use serde_json::Value;
use tessera_core::model::AuditEvent;
use tessera_store::StoreError;
use time::OffsetDateTime;

use crate::auth::Caller;
use crate::state::AppState;

/// Why an operation was refused or failed.
///
/// This is the server's one error enum (`crate::error::ApiError`): its
/// variants say what went wrong (not found, not allowed, a rule broken, a
/// conflict), not how it travels, and `crate::error` is the one place that
/// maps each to an HTTP status and a stable code. The web page shows the
/// same error next to the field it is about. Named for this layer here, so
/// that service code reads as what it is.
pub use crate::error::ApiError as ServiceError;

pub type ServiceResult<T> = Result<T, ServiceError>;

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
