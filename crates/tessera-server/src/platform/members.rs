//! `/platform/orgs/{key}/members/{external_id}`: the host product's people
//! in an org, by the product's own user id.
//!
//! `PUT` makes the member match what the product says (201 when it made
//! them, 200 otherwise, and the same answer when sent again). A member
//! made in Tessera with the same email and no `external_id` yet is adopted
//! (given this `external_id`), so that an org from `tessera init` can be
//! taken over by the product. The org's last owner is never demoted or
//! removed (409). Changes are audited in the platform log and still tell
//! the org's webhooks, with the event the org API's change would write.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tessera_api::{MemberResponse, PutMemberRequest};
use tessera_core::lifecycle::{normalize_email, validate_name};
use tessera_core::model::{Actor, AuditEvent, Member, Org};
use tessera_core::{resource, ExternalId, OrgKey};

use super::orgs::find_org;
use super::{external_id, path_org_key, PlatformCall};
use crate::api::ApiJson;
use crate::error::ApiResult;
use crate::service::members::{member_response, optional_role_keys};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/orgs/{key}/members/{external_id}",
        get(get_member).put(put_member).delete(delete_member),
    )
}

/// The org and the external id a path names (`400` if malformed, `404`
/// for an unknown org).
pub(super) async fn org_and_id(
    call: &PlatformCall,
    key: &str,
    id: &str,
) -> ServiceResult<(Org, ExternalId)> {
    let key = path_org_key(key)?;
    let external_id = external_id(id)?;
    Ok((find_org(call, &key).await?, external_id))
}

/// The member the product calls `external_id` in `org`, or `404`.
pub(super) async fn find_member(
    call: &PlatformCall,
    org: &Org,
    external_id: &ExternalId,
) -> ServiceResult<Member> {
    call.state
        .store
        .get_member_by_external_id(&org.id, external_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("member"))
}

/// The org audit event the org's webhooks are told about (it is not
/// written to the org's audit log): what the org API's change would write,
/// by no member.
fn org_event(call: &PlatformCall, member: &Member, action: &str) -> AuditEvent {
    call.state.audit(
        &member.org_id,
        Actor::default(),
        call.ip.clone(),
        action,
        resource::member(&member.id),
        json!({
            "email": member.email,
            "role": member.role,
            "custom_roles": member.custom_roles,
            "external_id": member.external_id,
        }),
    )
}

/// Create or update a member by the product's user id.
#[utoipa::path(put, path = "/api/v1/platform/orgs/{key}/members/{external_id}", tag = "platform",
    request_body = PutMemberRequest,
    responses((status = 201, body = MemberResponse, description = "created"),
        (status = 200, body = MemberResponse, description = "updated (or already so)"),
        (status = 400, body = tessera_api::ErrorBody), (status = 404, body = tessera_api::ErrorBody),
        (status = 409, body = tessera_api::ErrorBody), (status = 422, body = tessera_api::ErrorBody)))]
pub async fn put_member(
    call: PlatformCall,
    Path((key, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PutMemberRequest>,
) -> ApiResult<Response> {
    let (org, external_id) = org_and_id(&call, &key, &id).await?;
    let (status, member) = put(&call, &org, external_id, body).await?;
    Ok((status, Json(member_response(&member))).into_response())
}

async fn put(
    call: &PlatformCall,
    org: &Org,
    external_id: ExternalId,
    body: PutMemberRequest,
) -> ServiceResult<(StatusCode, Member)> {
    let store = &call.state.store;
    let email = normalize_email(&body.email)?;
    if let Some(name) = &body.name {
        validate_name("name", name)?;
    }
    let custom_roles = optional_role_keys(body.custom_roles)?;
    let existing = match store
        .get_member_by_external_id(&org.id, &external_id)
        .await?
    {
        Some(member) => Some(member),
        // Adopt a local member with this email (see the module docs).
        None => store
            .members_by_email(&email)
            .await?
            .into_iter()
            .find(|m| m.org_id == org.id && m.external_id.is_none()),
    };
    let Some(before) = existing else {
        let name = body
            .name
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        let mut member = Member::new(&org.id, email, name, body.role, call.state.now());
        member.custom_roles = custom_roles;
        member.external_id = Some(external_id);
        let event = put_event(call, &org.key, &member, true);
        let org_event = org_event(call, &member, "member:create");
        store
            .platform_create_member(&member, &org_event, &event)
            .await?;
        return Ok((StatusCode::CREATED, member));
    };
    let mut member = before.clone();
    member.email = email;
    if let Some(name) = body.name {
        member.name = name;
    }
    member.role = body.role;
    member.custom_roles = custom_roles;
    member.external_id = Some(external_id.clone());
    if member == before {
        // Already so: nothing to write, the call is still audited.
        call.audit_read("member:put", Some(&org.key), Some(&external_id))
            .await?;
        return Ok((StatusCode::OK, member));
    }
    let mut event = put_event(call, &org.key, &member, false);
    if before.external_id.is_none() {
        event.details["adopted"] = json!(true);
    }
    let org_event = org_event(call, &member, "member:update");
    store
        .platform_update_member(&member, &org_event, &event)
        .await?;
    Ok((StatusCode::OK, member))
}

fn put_event(
    call: &PlatformCall,
    org: &OrgKey,
    member: &Member,
    created: bool,
) -> tessera_core::platform::PlatformAuditEvent {
    call.event(
        "member:put",
        Some(org),
        member.external_id.as_ref(),
        json!({
            "created": created,
            "member_id": member.id,
            "email": member.email,
            "role": member.role,
            "custom_roles": member.custom_roles,
        }),
    )
}

/// One member, by the product's user id.
#[utoipa::path(get, path = "/api/v1/platform/orgs/{key}/members/{external_id}", tag = "platform",
    responses((status = 200, body = MemberResponse), (status = 400, body = tessera_api::ErrorBody),
        (status = 404, body = tessera_api::ErrorBody)))]
pub async fn get_member(
    call: PlatformCall,
    Path((key, id)): Path<(String, String)>,
) -> ApiResult<Json<MemberResponse>> {
    let (org, external_id) = org_and_id(&call, &key, &id).await?;
    let member = find_member(&call, &org, &external_id).await?;
    call.audit_read("member:read", Some(&org.key), Some(&external_id))
        .await?;
    Ok(Json(member_response(&member)))
}

/// Remove a member: their tokens, sessions and login links end at once.
#[utoipa::path(delete, path = "/api/v1/platform/orgs/{key}/members/{external_id}", tag = "platform",
    responses((status = 204), (status = 400, body = tessera_api::ErrorBody),
        (status = 404, body = tessera_api::ErrorBody), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn delete_member(
    call: PlatformCall,
    Path((key, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (org, external_id) = org_and_id(&call, &key, &id).await?;
    let member = find_member(&call, &org, &external_id).await?;
    let event = call.event(
        "member:delete",
        Some(&org.key),
        Some(&external_id),
        json!({ "member_id": member.id, "email": member.email }),
    );
    let org_event = org_event(&call, &member, "member:delete");
    call.state
        .store
        .platform_delete_member(&org.id, &member.id, &org_event, &event)
        .await
        .map_err(ServiceError::from)?;
    Ok(StatusCode::NO_CONTENT)
}
