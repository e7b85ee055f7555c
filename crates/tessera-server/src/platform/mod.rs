//! The platform API (`/api/v1/platform/*`): the host product's backend
//! manages orgs and their people with a platform key, and hands its people
//! one-time login links (`GET /login-link/{secret}`).
//!
//! A platform key belongs to no org. It is refused everywhere else (its
//! prefix is not the tokens' prefix, so org endpoints see a malformed
//! token: `401 invalid_token`), and an org token or a session is refused
//! here (`403 forbidden`). Keys are read from storage on every call, never
//! cached, so a key deleted by `tessera platform-key delete` (which writes
//! the database directly) stops working at the next call on every node.
//!
//! Every call is audited in the platform audit log, never an org's: changes
//! in their own transaction, reads after they answered. Member changes
//! still tell the org's webhooks (`member.added`, `member.updated`,
//! `member.removed`, `token.revoked`), as the org API's would.

pub mod audit;
pub mod keys;
pub mod links;
pub mod members;
pub mod orgs;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Router;
use serde_json::Value;
use tessera_core::platform::PlatformAuditEvent;
use tessera_core::{ExternalId, OrgKey};

use crate::auth::{cookie, presented_credential, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::peer::client_addr;
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// The routes under `/api/v1/platform`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(orgs::router())
        .merge(members::router())
        .merge(links::api_router())
        .merge(audit::router())
}

/// The page a login link opens (outside `/api`).
pub fn web_router() -> Router<AppState> {
    links::web_router()
}

/// An authenticated platform call: which key made it, from where.
pub struct PlatformCall {
    pub state: AppState,
    /// The platform key's id (the KSUID inside it).
    pub key_id: String,
    pub ip: Option<String>,
}

impl FromRequestParts<AppState> for PlatformCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let key_id = authenticate(parts, state).await?;
        let ip = client_addr(parts, state).map(|a| a.to_string());
        Ok(Self {
            state: state.clone(),
            key_id,
            ip,
        })
    }
}

/// The platform key presented, checked: its id. An org token or a session
/// is `403` (a credential, but not for this API); anything else `401`.
async fn authenticate(parts: &Parts, state: &AppState) -> ApiResult<String> {
    let Some(presented) = presented_credential(&parts.headers)? else {
        if cookie(&parts.headers, SESSION_COOKIE).is_some() {
            return Err(not_for_platform());
        }
        return Err(ApiError::unauthenticated(
            "missing credential: send Authorization: Bearer <platform key>",
        ));
    };
    let Ok(parsed) = state.config.platform_key_format().parse(presented) else {
        if state.format.parse(presented).is_ok() {
            return Err(not_for_platform());
        }
        return Err(ApiError::InvalidToken);
    };
    // Hashed before the lookup, so unknown ids and wrong secrets cost the
    // same; compared in constant time.
    let hash = parsed.secret_hash();
    let key = state.store.get_platform_key(parsed.id_str()).await?;
    match key {
        Some(key) if key.secret_hash.matches(&hash) => {
            let store = state.store.clone();
            let (id, now) = (key.id.clone(), state.now());
            tokio::spawn(async move {
                if let Err(e) = store.touch_platform_key(&id, now).await {
                    tracing::warn!(error = %e, "could not record a platform key's use");
                }
            });
            Ok(key.id)
        }
        _ => Err(ApiError::InvalidToken),
    }
}

fn not_for_platform() -> ApiError {
    ServiceError::NotAllowed(
        "the platform API takes a platform key; org tokens and login sessions cannot use it".into(),
    )
    .into()
}

impl PlatformCall {
    /// A platform audit event by this call's key.
    pub fn event(
        &self,
        action: &str,
        org: Option<&OrgKey>,
        external_id: Option<&ExternalId>,
        details: Value,
    ) -> PlatformAuditEvent {
        PlatformAuditEvent {
            id: self.state.next_audit_id(),
            at: self.state.now(),
            actor_key: Some(self.key_id.clone()),
            action: action.to_owned(),
            org_key: org.cloned(),
            external_id: external_id.cloned(),
            ip: self.ip.clone(),
            details,
        }
    }

    /// Audits a call that changed nothing (a read), once it answered.
    pub async fn audit_read(
        &self,
        action: &str,
        org: Option<&OrgKey>,
        external_id: Option<&ExternalId>,
    ) -> ServiceResult<()> {
        let event = self.event(action, org, external_id, serde_json::json!({}));
        self.state.store.append_platform_audit(&event).await?;
        Ok(())
    }
}

/// An org key from a path: malformed is `400`.
fn path_org_key(raw: &str) -> ServiceResult<OrgKey> {
    OrgKey::parse(raw).map_err(|e| ServiceError::BadRequest(e.to_string()))
}

/// An external id from a path or a body: empty, longer than 255 bytes or
/// with control characters is `400`.
fn external_id(raw: &str) -> ServiceResult<ExternalId> {
    ExternalId::parse(raw).map_err(|e| ServiceError::BadRequest(e.to_string()))
}

/// A page size: 1 to 500, default 100 (as `/audit`).
fn page_limit(limit: Option<u32>) -> ServiceResult<u32> {
    let limit = limit.unwrap_or(100);
    if (1..=500).contains(&limit) {
        Ok(limit)
    } else {
        Err(ServiceError::BadRequest(
            "limit must be between 1 and 500".into(),
        ))
    }
}
