//! The REST API under `/api/v1`: one module per resource, each with a
//! `router()`, merged here.
//!
//! Handlers are short: extract the caller and the body, check permission,
//! apply domain rules (from `tessera-core`), make one storage call (which
//! writes its audit event in the same transaction), answer.

pub mod admin;
pub(crate) mod extract;
pub mod members;
pub mod session;
pub mod tokens;
pub mod verify;

use axum::Router;

pub use crate::redact::redact;
pub use extract::{ApiJson, ApiQuery, OptionalJson};
pub use session::me_response_parts;
pub use tokens::token_response;

use crate::state::AppState;

/// Every `/api/v1` route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(members::router())
        .merge(admin::router())
        .merge(tokens::router())
        .merge(verify::router())
        .route("/openapi.json", axum::routing::get(crate::openapi::serve))
}
