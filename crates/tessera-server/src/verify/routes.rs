//! For services: `POST /verify`, `GET /auth` (reverse-proxy forward-auth)
//! and `POST /leaks`. None needs a credential of its own: holding the
//! token is the proof.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use tessera_api::{VerifiedToken, VerifyRequest, VerifyResponse};
use tessera_core::policy::check_resource_shape;

use super::{presented_credential, rejection_error, verify_token};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::peer::ClientAddr;
use crate::service::ServiceError;
use crate::state::AppState;
use tessera_engine::Verified;

/// Longest action or resource a service may ask about.
const MAX_CHECK_LEN: usize = 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/leaks", post(super::leaks::report_leaks))
}

/// `POST /api/v1/verify` and `GET /api/v1/auth`, by their full paths: the
/// server routes them outside the nested `/api/v1` router (see
/// `crate::router`), and [`super::hot`] answers them before that.
pub fn hot_router(body_timeout: std::time::Duration) -> Router<AppState> {
    Router::new()
        // Its body must arrive in time (a client trickling it would
        // otherwise hold the connection), so this one keeps the request
        // timeout; `/auth` has no body to wait for.
        .route(
            "/api/v1/verify",
            post(verify).layer(axum::middleware::from_fn_with_state(
                body_timeout,
                crate::request_timeout,
            )),
        )
        .route("/api/v1/auth", get(forward_auth))
}

/// Checks an action/resource pair a service asks about.
pub(crate) fn check_question(action: Option<&str>, resource: Option<&str>) -> ApiResult<()> {
    match (action, resource) {
        (None, None) => Ok(()),
        (Some(action), Some(resource)) => {
            if action.is_empty() || action.len() > MAX_CHECK_LEN || !action.contains(':') {
                return Err(ApiError::bad_request("action must look like `type:verb`"));
            }
            if resource.len() > MAX_CHECK_LEN || check_resource_shape(resource, false).is_err() {
                return Err(ApiError::bad_request(
                    "resource must be `:`-separated `type/name` segments, like `proj/web:env/prod`",
                ));
            }
            Ok(())
        }
        _ => Err(ApiError::bad_request(
            "give both `action` and `resource`, or neither",
        )),
    }
}

fn verified_token(v: &Verified) -> VerifiedToken {
    VerifiedToken {
        id: v.token().id.to_string(),
        name: v.token().name.clone(),
        member: v.member().id.to_string(),
        org: v.org().key.to_string(),
        projects: v.token().projects.iter().map(|p| p.to_string()).collect(),
        expires_at: v.token().expires_at,
    }
}

/// Is this token valid, and may it do ACTION on RESOURCE? Always 200 for a
/// well-formed question; the answer is in the body.
#[utoipa::path(post, path = "/api/v1/verify", tag = "verify", request_body = VerifyRequest,
    responses((status = 200, body = VerifyResponse), (status = 400, body = tessera_api::ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    ip: ClientAddr,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> ApiResult<Json<VerifyResponse>> {
    answer(&state, &body, ip.0).await.map(Json)
}

/// The answer to a verify question, as `POST /verify` gives it; also used
/// in process by [`super::embedded::EmbeddedVerifier`]. A use by a valid
/// token is recorded (with `ip`, the client's address, when known).
pub async fn answer(
    state: &AppState,
    body: &VerifyRequest,
    ip: Option<std::net::IpAddr>,
) -> ApiResult<VerifyResponse> {
    decide(state, Question::from(body), ip)
        .await
        .map(|a| a.to_response())
}

/// A verify question, borrowed from a [`VerifyRequest`] or straight from
/// the request's body (see [`super::hot`]).
#[derive(Clone, Copy)]
pub(crate) struct Question<'a> {
    pub token: &'a str,
    pub action: Option<&'a str>,
    pub resource: Option<&'a str>,
}

impl<'a> From<&'a VerifyRequest> for Question<'a> {
    fn from(request: &'a VerifyRequest) -> Self {
        Self {
            token: &request.token,
            action: request.action.as_deref(),
            resource: request.resource.as_deref(),
        }
    }
}

/// [`answer`] before it is written out: the verified token itself, so that
/// the hot path can write the JSON from it without copying its fields
/// (see [`Answer::write_json`]).
pub(crate) async fn decide(
    state: &AppState,
    question: Question<'_>,
    ip: Option<std::net::IpAddr>,
) -> ApiResult<Answer> {
    check_question(question.action, question.resource)?;
    let now = state.now();
    let verified = verify_token(state, question.token, now).await?;
    let allowed = match &verified {
        Ok(verified) => {
            state.engine.record_use(&verified.token().id, now, ip);
            match (question.action, question.resource) {
                (Some(a), Some(r)) => Some(verified.allows(a, r)),
                _ => None,
            }
        }
        Err(_) => question.action.map(|_| false),
    };
    Ok(Answer { verified, allowed })
}

/// A decided verify question.
pub(crate) struct Answer {
    verified: Result<Verified, tessera_engine::Rejection>,
    allowed: Option<bool>,
}

impl Answer {
    fn code(&self) -> &'static str {
        match &self.verified {
            Ok(_) => "valid",
            Err(rejection) => rejection.code(),
        }
    }

    pub(crate) fn to_response(&self) -> VerifyResponse {
        VerifyResponse {
            valid: self.verified.is_ok(),
            code: self.code().into(),
            allowed: self.allowed,
            token: self.verified.as_ref().ok().map(verified_token),
        }
    }

    /// Appends exactly the JSON of [`Answer::to_response`] to `out`,
    /// written from the cached token's borrowed fields: no copy of each
    /// string first, and no escaping pass over strings that need none (the
    /// unit tests hold this to serde_json's bytes; the test
    /// `the_hot_verify_answer_is_the_library_answer` to the library's
    /// answer). Fails only for an expiry RFC 3339 cannot write (a year
    /// beyond 9999), as serde would.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), time::error::Format> {
        out.extend_from_slice(if self.verified.is_ok() {
            b"{\"valid\":true,\"code\":"
        } else {
            b"{\"valid\":false,\"code\":"
        });
        write_json_str(out, self.code());
        if let Some(allowed) = self.allowed {
            out.extend_from_slice(if allowed {
                b",\"allowed\":true"
            } else {
                b",\"allowed\":false"
            });
        }
        if let Ok(v) = &self.verified {
            out.extend_from_slice(b",\"token\":{\"id\":");
            write_json_str(out, v.token().id.as_str());
            out.extend_from_slice(b",\"name\":");
            write_json_str(out, &v.token().name);
            out.extend_from_slice(b",\"member\":");
            write_json_str(out, v.member().id.as_str());
            out.extend_from_slice(b",\"org\":");
            write_json_str(out, v.org().key.as_str());
            out.extend_from_slice(b",\"projects\":[");
            for (i, project) in v.token().projects.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, project.as_str());
            }
            out.extend_from_slice(b"],\"expires_at\":");
            match v.token().expires_at {
                Some(at) => {
                    out.push(b'"');
                    at.format_into(out, &time::format_description::well_known::Rfc3339)?;
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            }
            out.push(b'}');
        }
        out.push(b'}');
        Ok(())
    }
}

/// A JSON string as serde_json writes it. Almost every string in an answer
/// (ids, keys, codes, most names) has nothing to escape, and one pass that
/// finds that out is several times cheaper than serde_json's escaping,
/// which looks each byte up and copies the string in pieces.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes exactly these bytes: `"`, `\` and controls. A
    // fold with no early exit, so that the compiler can check many bytes
    // at once (the strings are short: an early exit would save little).
    let needs_escape = s.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Forward-auth for reverse proxies: 200 with identity headers, 401, or
/// 403. The question comes from `X-Tessera-Action`/`X-Tessera-Resource`
/// headers or `action`/`resource` query parameters.
#[utoipa::path(get, path = "/api/v1/auth", tag = "verify",
    params(("action" = Option<String>, Query, description = "or header X-Tessera-Action"),
           ("resource" = Option<String>, Query, description = "or header X-Tessera-Resource")),
    responses((status = 200, description = "allowed; identity in X-Tessera-Member, X-Tessera-Org, X-Tessera-Token-Id, X-Tessera-Email, X-Tessera-Role"),
        (status = 401, body = tessera_api::ErrorBody), (status = 403, body = tessera_api::ErrorBody)))]
pub async fn forward_auth(
    State(state): State<AppState>,
    ip: ClientAddr,
    // The whole request, to read headers and query in place rather than
    // copy them (this is the hot path of every proxied request).
    request: Request,
) -> ApiResult<Response> {
    auth_answer(&state, ip.0, request.headers(), request.uri()).await
}

/// `GET /auth`'s answer from the request's head: what [`forward_auth`]
/// does, also called directly by [`super::hot`].
pub(crate) async fn auth_answer(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    uri: &Uri,
) -> ApiResult<Response> {
    let query = match uri.query() {
        Some(_) => {
            Query::<AuthQuery>::try_from_uri(uri)
                .map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))?
                .0
        }
        None => AuthQuery::default(),
    };
    // Borrowed from the request, not copied: this runs for every request
    // a proxy forwards.
    let action = header_or_query(headers, "x-tessera-action", query.action.as_deref())?;
    let resource = header_or_query(headers, "x-tessera-resource", query.resource.as_deref())?;
    check_question(action, resource)?;
    let presented = presented_credential(headers)?.ok_or_else(|| {
        ApiError::unauthenticated("missing credential: send Authorization: Bearer <token>")
    })?;
    let now = state.now();
    let verified = verify_token(state, presented, now)
        .await?
        .map_err(rejection_error)?;
    state.engine.record_use(&verified.token().id, now, ip);
    if let (Some(a), Some(r)) = (action, resource) {
        if !verified.allows(a, r) {
            return Err(ServiceError::forbidden(a, r).into());
        }
    }
    // 200 with no body; the security headers are in place from the start
    // (this is a hot path: see `crate::headers::secured_headers`).
    let mut response = Response::new(axum::body::Body::empty());
    *response.headers_mut() = crate::headers::secured_headers(false);
    let out = response.headers_mut();
    let member = verified.member();
    for (name, value) in [
        (&X_TESSERA_MEMBER, member.id.as_str()),
        (&X_TESSERA_ORG, verified.org().key.as_str()),
        (&X_TESSERA_TOKEN_ID, verified.token().id.as_str()),
        // An email that is not header-safe text (non-ASCII) is left out
        // rather than mangled; the member id always identifies.
        (&X_TESSERA_EMAIL, member.email.as_str()),
        (&X_TESSERA_ROLE, member.role.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name.clone(), v);
        }
    }
    Ok(response)
}

// Made at compile time: `HeaderName::from_static` at run time would look
// each name up among the standard ones on every answer of this hot path.
const X_TESSERA_MEMBER: HeaderName = HeaderName::from_static("x-tessera-member");
const X_TESSERA_ORG: HeaderName = HeaderName::from_static("x-tessera-org");
const X_TESSERA_TOKEN_ID: HeaderName = HeaderName::from_static("x-tessera-token-id");
const X_TESSERA_EMAIL: HeaderName = HeaderName::from_static("x-tessera-email");
const X_TESSERA_ROLE: HeaderName = HeaderName::from_static("x-tessera-role");

/// `/auth`'s question: the header if sent, else the query parameter. The
/// operator's proxy sets one of them; a client that adds its own copy (a
/// proxy passing client headers, as Traefik does by default) must not
/// change the question, so a header that disagrees with the query, or with
/// another copy of itself, is refused rather than one of them chosen.
fn header_or_query<'a>(
    headers: &'a HeaderMap,
    header: &str,
    param: Option<&'a str>,
) -> ApiResult<Option<&'a str>> {
    let mut copies = headers.get_all(header).iter();
    let Some(first) = copies.next() else {
        return Ok(param);
    };
    let value = first
        .to_str()
        .map_err(|_| ApiError::bad_request(format!("{header} is not valid text")))?;
    if copies.any(|other| other != first) {
        return Err(ApiError::bad_request(format!(
            "several different {header} headers: the proxy must set it once and remove any copy the client sent"
        )));
    }
    if param.is_some_and(|p| p != value) {
        let name = header.trim_start_matches("x-tessera-");
        return Err(ApiError::bad_request(format!(
            "{header} and the `{name}` query parameter disagree: the proxy must ask one question, and remove any {header} the client sent"
        )));
    }
    Ok(Some(value))
}

/// `GET /auth`'s query parameters (other parameters are ignored: proxies
/// may add their own).
#[derive(Debug, Default, serde::Deserialize)]
struct AuthQuery {
    action: Option<String>,
    resource: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::write_json_str;

    fn written(s: &str) -> String {
        let mut out = Vec::new();
        write_json_str(&mut out, s);
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in [
            "",
            "3MWtzvtRPQkdDOlKOWvtce37PhL",
            "a \"quoted\" name ✓",
            "back\\slash",
            "tab\there, newline\n, nul\u{0}, unit sep\u{1f}",
            "space ~ and DEL \u{7f}",
            "emoji 🦀 and é",
            "</script>",
        ] {
            assert_eq!(written(s), serde_json::to_string(s).expect("json"), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(written(&s), serde_json::to_string(&s).expect("json"));
        }
    }
}
