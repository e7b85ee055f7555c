//! `/platform/orgs`: the host product's tenants. It creates each with its
//! first owner (a person of the product, by `external_id`), lists, renames,
//! suspends and deletes them; the org `tessera init` made is one of them.
//!
//! Suspending saves `suspended_at` and announces the org as any org change
//! is announced: every node's cache drops it, and its tokens answer
//! `org_suspended` from the next verification on (the same bound as a
//! revocation). Deleting removes the org and everything in it in one
//! transaction, and every node drops all it cached of it. The org's
//! webhooks are deleted with it, so they are told nothing: the product
//! knows, it asked.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tessera_api::{
    CreatePlatformOrgRequest, CreatedPlatformOrg, PlatformOrg, PlatformOrgPage,
    UpdatePlatformOrgRequest,
};
use tessera_core::lifecycle::{normalize_email, validate_name};
use tessera_core::model::{Member, Org};
use tessera_core::{BuiltinRole, OrgId, OrgKey};

use super::{external_id, page_limit, path_org_key, PlatformCall};
use crate::api::{ApiJson, ApiQuery, Created};
use crate::error::ApiResult;
use crate::service::members::member_response;
use crate::service::org::apply_token_policy;
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs", get(list_orgs).post(create_org))
        .route(
            "/orgs/{key}",
            get(get_org).patch(update_org).delete(delete_org),
        )
}

pub fn platform_org(o: &Org) -> PlatformOrg {
    PlatformOrg {
        id: o.id.to_string(),
        key: o.key.to_string(),
        name: o.name.clone(),
        token_policy: o.token_policy,
        suspended: o.suspended_at.is_some(),
        suspended_at: o.suspended_at,
        created_at: o.created_at,
    }
}

/// The org `key` names, or `404`.
pub(super) async fn find_org(call: &PlatformCall, key: &OrgKey) -> ServiceResult<Org> {
    call.state
        .store
        .get_org_by_key(key)
        .await?
        .ok_or_else(|| ServiceError::not_found("organization"))
}

/// Create an org with its first owner.
#[utoipa::path(post, path = "/api/v1/platform/orgs", tag = "platform",
    request_body = CreatePlatformOrgRequest,
    responses((status = 201, body = CreatedPlatformOrg), (status = 400, body = tessera_api::ErrorBody),
        (status = 401, body = tessera_api::ErrorBody), (status = 403, body = tessera_api::ErrorBody),
        (status = 409, body = tessera_api::ErrorBody), (status = 422, body = tessera_api::ErrorBody)))]
pub async fn create_org(
    call: PlatformCall,
    ApiJson(body): ApiJson<CreatePlatformOrgRequest>,
) -> ApiResult<Created<CreatedPlatformOrg>> {
    Ok(Created(create(&call, body).await?))
}

async fn create(
    call: &PlatformCall,
    body: CreatePlatformOrgRequest,
) -> ServiceResult<CreatedPlatformOrg> {
    let key = OrgKey::parse(&body.key)?;
    let name = body.name.unwrap_or_else(|| key.to_string());
    validate_name("name", &name)?;
    let owner_id = external_id(&body.owner.external_id)?;
    let email = normalize_email(&body.owner.email)?;
    let owner_name = body
        .owner
        .name
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    validate_name("owner.name", &owner_name)?;
    let now = call.state.now();
    let org = Org::new(key, name, now);
    let mut owner = Member::new(&org.id, email, owner_name, BuiltinRole::Owner, now);
    owner.external_id = Some(owner_id);
    let event = call.event(
        "org:create",
        Some(&org.key),
        owner.external_id.as_ref(),
        json!({ "name": org.name, "owner": { "email": owner.email, "member_id": owner.id } }),
    );
    call.state
        .store
        .platform_create_org(&org, &owner, &event)
        .await?;
    Ok(CreatedPlatformOrg {
        org: platform_org(&org),
        owner: member_response(&owner),
    })
}

/// `GET /platform/orgs`'s query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrgListParams {
    /// The previous page's `next_cursor`.
    pub before: Option<String>,
    /// 1 to 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Every org of the deployment, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/platform/orgs", tag = "platform", params(OrgListParams),
    responses((status = 200, body = PlatformOrgPage), (status = 400, body = tessera_api::ErrorBody),
        (status = 401, body = tessera_api::ErrorBody), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn list_orgs(
    call: PlatformCall,
    ApiQuery(params): ApiQuery<OrgListParams>,
) -> ApiResult<Json<PlatformOrgPage>> {
    let limit = page_limit(params.limit)?;
    let before = params
        .before
        .as_deref()
        .map(|b| {
            OrgId::parse(b).map_err(|_| {
                ServiceError::BadRequest("before must be a cursor returned as next_cursor".into())
            })
        })
        .transpose()?;
    let mut orgs = call
        .state
        .store
        .list_orgs(before.as_ref(), limit + 1)
        .await
        .map_err(ServiceError::from)?;
    let more = orgs.len() > limit as usize;
    orgs.truncate(limit as usize);
    let next_cursor = more
        .then(|| orgs.last().map(|o| o.id.to_string()))
        .flatten();
    call.audit_read("org:list", None, None).await?;
    Ok(Json(PlatformOrgPage {
        items: orgs.iter().map(platform_org).collect(),
        next_cursor,
    }))
}

/// One org.
#[utoipa::path(get, path = "/api/v1/platform/orgs/{key}", tag = "platform",
    responses((status = 200, body = PlatformOrg), (status = 400, body = tessera_api::ErrorBody),
        (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_org(call: PlatformCall, Path(key): Path<String>) -> ApiResult<Json<PlatformOrg>> {
    let key = path_org_key(&key)?;
    let org = find_org(&call, &key).await?;
    call.audit_read("org:read", Some(&key), None).await?;
    Ok(Json(platform_org(&org)))
}

/// Rename, suspend or lift a suspension, or change the token policy.
#[utoipa::path(patch, path = "/api/v1/platform/orgs/{key}", tag = "platform",
    request_body = UpdatePlatformOrgRequest,
    responses((status = 200, body = PlatformOrg), (status = 400, body = tessera_api::ErrorBody),
        (status = 404, body = tessera_api::ErrorBody), (status = 422, body = tessera_api::ErrorBody)))]
pub async fn update_org(
    call: PlatformCall,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<UpdatePlatformOrgRequest>,
) -> ApiResult<Json<PlatformOrg>> {
    let key = path_org_key(&key)?;
    Ok(Json(update(&call, &key, body).await?))
}

async fn update(
    call: &PlatformCall,
    key: &OrgKey,
    body: UpdatePlatformOrgRequest,
) -> ServiceResult<PlatformOrg> {
    let before = find_org(call, key).await?;
    let mut org = before.clone();
    if let Some(name) = body.name {
        validate_name("name", &name)?;
        org.name = name;
    }
    if let Some(patch) = body.token_policy {
        apply_token_policy(&mut org.token_policy, patch)?;
    }
    match body.suspended {
        Some(true) if org.suspended_at.is_none() => org.suspended_at = Some(call.state.now()),
        Some(false) => org.suspended_at = None,
        _ => {}
    }
    // What changed, named by the action when it is a suspension.
    let action = match (before.suspended_at.is_some(), org.suspended_at.is_some()) {
        (false, true) => "org:suspend",
        (true, false) => "org:unsuspend",
        _ => "org:update",
    };
    let details = json!({
        "name": org.name,
        "suspended": org.suspended_at.is_some(),
        "token_policy": { "from": before.token_policy, "to": org.token_policy },
    });
    let event = call.event(action, Some(key), None, details);
    call.state.store.platform_update_org(&org, &event).await?;
    Ok(platform_org(&org))
}

/// Delete an org for good: its tokens, members, sessions, service
/// accounts, roles, projects, webhooks and audit log.
#[utoipa::path(delete, path = "/api/v1/platform/orgs/{key}", tag = "platform",
    responses((status = 204), (status = 400, body = tessera_api::ErrorBody),
        (status = 404, body = tessera_api::ErrorBody)))]
pub async fn delete_org(call: PlatformCall, Path(key): Path<String>) -> ApiResult<StatusCode> {
    let key = path_org_key(&key)?;
    let org = find_org(&call, &key).await?;
    let event = call.event(
        "org:delete",
        Some(&key),
        None,
        json!({ "id": org.id, "name": org.name }),
    );
    call.state
        .store
        .delete_org(&org.id, &event)
        .await
        .map_err(ServiceError::from)?;
    Ok(StatusCode::NO_CONTENT)
}
