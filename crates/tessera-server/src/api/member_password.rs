//! `PUT /members/{id}/password`: an admin sets a member's password (the
//! rules are in [`crate::service::member_password`]).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::put;
use axum::Router;
use tessera_api::SetPasswordRequest;

use super::ApiJson;
use crate::auth::SessionCall;
use crate::error::ApiResult;
use crate::service::member_password;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/members/{id}/password", put(set_member_password))
}

/// Set a member's password (session only, the same rank rules as
/// changing their role). Ends all of that member's sessions.
#[utoipa::path(put, path = "/api/v1/members/{id}/password", tag = "members",
    request_body = SetPasswordRequest,
    responses((status = 204), (status = 403, body = tessera_api::ErrorBody),
        (status = 404, body = tessera_api::ErrorBody), (status = 422, body = tessera_api::ErrorBody)))]
pub async fn set_member_password(
    SessionCall(call): SessionCall,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetPasswordRequest>,
) -> ApiResult<StatusCode> {
    member_password::set(&call, &id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
