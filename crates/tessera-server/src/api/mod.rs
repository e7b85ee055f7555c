//! The REST API under `/api/v1`: one module per resource, each with a
//! `router()`, merged here.
//!
//! Handlers only translate: extract the caller and the body, call the
//! operation in [`crate::service`] (which checks permission, applies the
//! domain rules and makes the storage call), answer with its result as
//! JSON and the status the operation implies.

pub mod admin;
pub mod members;
pub mod session;
pub mod tokens;

use axum::Router;

pub use crate::extract::{ApiJson, ApiQuery, OptionalJson};

use crate::state::AppState;

/// Every `/api/v1` route but verification's (`crate::verify::routes`) and
/// the OpenAPI document (`crate::openapi`), which the server adds beside
/// these so that neither depends on this module's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(members::router())
        .merge(admin::router())
        .merge(tokens::router())
}
