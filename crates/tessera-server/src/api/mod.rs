//! The REST API under `/api/v1`: one module per resource, each with a
//! `router()`, merged here.
//!
//! Handlers only translate: extract the caller and the body, call the
//! operation in [`crate::service`] (which checks permission, applies the
//! domain rules and makes the storage call), answer with its result as
//! JSON and the status the operation implies.

pub mod admin;
pub mod audit;
pub mod introspect;
pub mod member_password;
pub mod members;
pub mod service_accounts;
pub mod session;
pub mod tokens;
pub mod webhooks;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

pub use crate::extract::{ApiJson, ApiQuery, OptionalJson};

use crate::state::AppState;

/// `201 Created`, with what was created as JSON.
pub struct Created<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, Json(self.0)).into_response()
    }
}

/// Every `/api/v1` route but verification's (`crate::verify::routes`) and
/// the OpenAPI document (`crate::openapi`), which the server adds beside
/// these so that neither depends on this module's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(members::router())
        .merge(member_password::router())
        .merge(service_accounts::router())
        .merge(admin::router())
        .merge(audit::router())
        .merge(tokens::router())
        .merge(introspect::router())
        .merge(webhooks::router())
}
