//! `GET /platform/audit`: the platform audit log, newest first, paginated
//! as the org's `/audit` (`limit`, `before`, `next_cursor`).

use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tessera_api::{PlatformAuditEventResponse, PlatformAuditPage};
use tessera_core::platform::PlatformAuditEvent;

use super::{page_limit, PlatformCall};
use crate::api::ApiQuery;
use crate::error::ApiResult;
use crate::service::ServiceError;
use crate::state::{AppState, AuditIds};

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit))
}

/// `GET /platform/audit`'s query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlatformAuditParams {
    /// The previous page's `next_cursor`.
    #[param(pattern = r"^[0-9a-f]{24}$")]
    pub before: Option<String>,
    /// 1 to 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn response(e: PlatformAuditEvent) -> PlatformAuditEventResponse {
    PlatformAuditEventResponse {
        id: e.id,
        at: e.at,
        platform_key: e.actor_key,
        action: e.action,
        org: e.org_key.map(|k| k.to_string()),
        external_id: e.external_id.map(|x| x.to_string()),
        ip: e.ip,
        details: e.details,
    }
}

/// The platform audit log, newest first.
#[utoipa::path(get, path = "/api/v1/platform/audit", tag = "platform", params(PlatformAuditParams),
    responses((status = 200, body = PlatformAuditPage), (status = 400, body = tessera_api::ErrorBody),
        (status = 401, body = tessera_api::ErrorBody), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn list_audit(
    call: PlatformCall,
    ApiQuery(params): ApiQuery<PlatformAuditParams>,
) -> ApiResult<Json<PlatformAuditPage>> {
    let limit = page_limit(params.limit)?;
    if let Some(before) = &params.before {
        if !AuditIds::is_valid(before) {
            return Err(ServiceError::BadRequest(
                "before must be a cursor returned as next_cursor".into(),
            )
            .into());
        }
    }
    // Audited first, so that this read is in the log it reads.
    call.audit_read("audit:read", None, None).await?;
    let mut events = call
        .state
        .store
        .list_platform_audit(params.before.as_deref(), limit + 1)
        .await
        .map_err(ServiceError::from)?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = more.then(|| events.last().map(|e| e.id.clone())).flatten();
    Ok(Json(PlatformAuditPage {
        items: events.into_iter().map(response).collect(),
        next_cursor,
    }))
}
