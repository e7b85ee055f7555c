//! Login links: the host product asks for one (`POST …/login-links`) and
//! sends its person there; opening it (`GET /login-link/{secret}`) starts a
//! web session as that member and lands on `/tokens` or `return_to`.
//!
//! A link is a 256-bit random secret; only its hash is stored. It is valid
//! once, for at most 5 minutes (60 s by default): spending it is one
//! conditional `UPDATE` (unused and unexpired), so of several requests, on
//! any nodes, exactly one opens a session. A used, expired or unknown link
//! shows a page saying which and opens nothing. `return_to` is checked when
//! the link is made (a local path only, by the rule the login form's `next`
//! follows), and the redirect goes to what was stored.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tessera_api::{CreateLoginLinkRequest, LoginLinkResponse};
use tessera_core::model::{Actor, Session};
use tessera_core::platform::{LinkUse, LoginLink};
use tessera_core::{resource, SecretHash};
use time::Duration;

use super::members::{find_member, org_and_id};
use super::PlatformCall;
use crate::api::{Created, OptionalJson};
use crate::auth::session_cookie;
use crate::error::ApiResult;
use crate::headers::Https;
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::web::{is_local_path, page, Layout};

/// Default and longest life of a link, in seconds.
const DEFAULT_SECONDS: u32 = 60;
const MAX_SECONDS: u32 = 300;
const MAX_RETURN_TO: usize = 2048;
/// Where the link opens (`/login-link/<secret>`).
const PATH: &str = "/login-link";

pub fn api_router() -> Router<AppState> {
    Router::new().route(
        "/orgs/{key}/members/{external_id}/login-links",
        post(create_link),
    )
}

pub fn web_router() -> Router<AppState> {
    Router::new().route("/login-link/{secret}", get(open_link))
}

/// A one-time link that opens a web session as the member.
#[utoipa::path(post, path = "/api/v1/platform/orgs/{key}/members/{external_id}/login-links",
    tag = "platform", request_body(content = Option<CreateLoginLinkRequest>),
    responses((status = 201, body = LoginLinkResponse), (status = 400, body = tessera_api::ErrorBody),
        (status = 404, body = tessera_api::ErrorBody), (status = 409, body = tessera_api::ErrorBody)))]
pub async fn create_link(
    call: PlatformCall,
    Path((key, id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<CreateLoginLinkRequest>,
) -> ApiResult<Created<LoginLinkResponse>> {
    Ok(Created(create(&call, &key, &id, body).await?))
}

async fn create(
    call: &PlatformCall,
    key: &str,
    id: &str,
    body: CreateLoginLinkRequest,
) -> ServiceResult<LoginLinkResponse> {
    let return_to = body.return_to.unwrap_or_else(|| "/tokens".to_owned());
    if return_to.len() > MAX_RETURN_TO || !is_local_path(&return_to) {
        return Err(ServiceError::BadRequest(
            "return_to must be a path on this site, such as /tokens (not another host, no \
             backslashes, spaces or control characters)"
                .into(),
        ));
    }
    let seconds = body.expires_in.unwrap_or(DEFAULT_SECONDS);
    if !(1..=MAX_SECONDS).contains(&seconds) {
        return Err(ServiceError::BadRequest(format!(
            "expires_in must be between 1 and {MAX_SECONDS} seconds"
        )));
    }
    let (org, external_id) = org_and_id(call, key, id).await?;
    let member = find_member(call, &org, &external_id).await?;
    if org.suspended_at.is_some() {
        return Err(ServiceError::Conflict {
            code: tessera_api::ErrorCode::OrgSuspended,
            message: "the organization is suspended: a login link could not open a session".into(),
        });
    }
    let now = call.state.now();
    let (secret, id_hash) = crate::secrets::new_session_secret();
    let link = LoginLink {
        id_hash,
        org_id: org.id.clone(),
        member_id: member.id.clone(),
        return_to,
        created_at: now,
        expires_at: now + Duration::seconds(i64::from(seconds)),
    };
    let event = call.event(
        "login_link:create",
        Some(&org.key),
        Some(&external_id),
        json!({ "member_id": member.id, "return_to": link.return_to, "expires_at": link.expires_at.unix_timestamp() }),
    );
    call.state.store.create_login_link(&link, &event).await?;
    Ok(LoginLinkResponse {
        url: format!("{}{PATH}/{secret}", base_url(&call.state)),
        expires_at: link.expires_at,
    })
}

/// Where people reach this deployment: `public_url`, else this node's
/// address (as introspection's issuer).
fn base_url(state: &AppState) -> String {
    match state.config.http.public_url.trim_end_matches('/') {
        "" => format!("http://{}", state.config.http.listen),
        url => url.to_owned(),
    }
}

#[derive(askama::Template)]
#[template(path = "login_link.html")]
struct LinkProblem {
    layout: Layout,
    problem: &'static str,
    message: &'static str,
}

/// `GET /login-link/{secret}`: spends the link and opens the session.
pub async fn open_link(
    State(state): State<AppState>,
    https: Https,
    Path(secret): Path<String>,
) -> Response {
    // Only the shape a link is made with reaches storage.
    let well_formed = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    let used = if well_formed {
        state
            .store
            .use_login_link(&SecretHash::of(&secret), state.now())
            .await
    } else {
        Ok(LinkUse::Unknown)
    };
    let link = match used {
        Ok(LinkUse::Opened(link)) => link,
        Ok(LinkUse::Used) => return problem("used", "This login link was already used. A login link opens one session, once."),
        Ok(LinkUse::Expired) => return problem("expired", "This login link has expired. Login links are valid for a few minutes only."),
        Ok(LinkUse::Unknown) => return problem("invalid", "This login link is not valid: it was never issued here, or its member or organization is gone."),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    match start_session(&state, &link).await {
        Ok((secret, max_age)) => {
            let mut response = Redirect::to(&link.return_to).into_response();
            let cookie = session_cookie(https, &secret, max_age);
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, cookie);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Err(ServiceError::OrgSuspended) => problem(
            "suspended",
            "This organization is suspended: nobody can sign in to it for now.",
        ),
        Err(ServiceError::NotFound(_)) => problem(
            "invalid",
            "This login link is not valid: its member or organization is gone.",
        ),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// A session for the link's member, as a password login starts one.
async fn start_session(state: &AppState, link: &LoginLink) -> ServiceResult<(String, i64)> {
    let org = state
        .engine
        .org(&link.org_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("organization"))?;
    if org.suspended_at.is_some() {
        return Err(ServiceError::OrgSuspended);
    }
    let now = state.now();
    let ttl = Duration::hours(i64::try_from(state.config.sessions.ttl_hours).unwrap_or(12));
    let (secret, id_hash) = crate::secrets::new_session_secret();
    let session = Session {
        id_hash,
        member_id: link.member_id.clone(),
        org_id: link.org_id.clone(),
        created_at: now,
        expires_at: now + ttl,
    };
    let event = state.audit(
        &link.org_id,
        Actor {
            member: Some(link.member_id.clone()),
            token: None,
        },
        None,
        "session:create",
        resource::member(&link.member_id),
        json!({ "via": "login_link" }),
    );
    // The member may have been removed since the link was spent: the
    // session's foreign key refuses it then.
    state
        .store
        .create_session(&session, &event)
        .await
        .map_err(|e| match e {
            tessera_store::StoreError::UnknownReference(_) => ServiceError::not_found("member"),
            e => e.into(),
        })?;
    Ok((secret, ttl.whole_seconds()))
}

/// The page for a link that opens nothing: `problem` names why, for
/// scripts and tests (`data-link-problem`).
fn problem(problem: &'static str, message: &'static str) -> Response {
    let (status, title) = match problem {
        "used" => (StatusCode::GONE, "Login link already used"),
        "expired" => (StatusCode::GONE, "Login link expired"),
        "suspended" => (StatusCode::FORBIDDEN, "Organization suspended"),
        _ => (StatusCode::NOT_FOUND, "Login link not valid"),
    };
    let mut response = page(
        status,
        &LinkProblem {
            layout: Layout::anonymous(title),
            problem,
            message,
        },
    );
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
