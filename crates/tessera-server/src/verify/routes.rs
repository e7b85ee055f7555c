//! For services: `POST /verify` and `POST /leaks` (and the routing of
//! `GET /auth`, whose handler is [`super::forward_auth`]). None needs a
//! credential of its own: holding the token is the proof.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::io::Write;

use tessera_api::{
    QuotaState, RateLimitState, VerifiedServiceAccount, VerifiedToken, VerifyRequest,
    VerifyResponse,
};

use super::{check_question, verify_token};
use crate::error::ApiError;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::peer::ClientAddr;
use crate::state::AppState;
use tessera_engine::{Checked, Outcome, Verified};

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
        .route("/api/v1/auth", get(super::forward_auth::forward_auth))
}

fn verified_token(v: &Verified) -> VerifiedToken {
    VerifiedToken {
        id: v.token().id.to_string(),
        name: v.token().name.clone(),
        member: v.member().map(|m| m.id.to_string()),
        external_id: v
            .member()
            .and_then(|m| m.external_id.as_ref())
            .map(|e| e.to_string()),
        service_account: v.service_account().map(|a| VerifiedServiceAccount {
            id: a.id.to_string(),
            name: a.name.clone(),
        }),
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
    /// The end client's address, when the service sent it.
    pub ip: Option<std::net::IpAddr>,
    /// What this use spends of a quota (checked: 1 to 1000000).
    pub cost: Option<i64>,
}

impl<'a> From<&'a VerifyRequest> for Question<'a> {
    fn from(request: &'a VerifyRequest) -> Self {
        Self {
            token: &request.token,
            action: request.action.as_deref(),
            resource: request.resource.as_deref(),
            ip: request.ip,
            cost: request.cost,
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
    let cost = match question.cost {
        Some(cost) => tessera_core::controls::check_cost(cost)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => 1,
    };
    let now = state.now();
    let verified = verify_token(state, question.token, now).await?;
    // The end client's address when the service sent it, else the caller's.
    // An IPv4 client seen through an IPv6 socket counts as IPv4.
    let ip = question.ip.or(ip).map(|ip| ip.to_canonical());
    let mut checked = Checked::default();
    let allowed = match &verified {
        Ok(verified) => {
            // Tested here too, not only inside: a plain token then never
            // builds (or polls) the check's future.
            if verified.token().controls.is_some() {
                checked = super::controls::check(state, verified, ip, cost, now).await?;
            }
            if let Some(denial) = checked.denial {
                let outcome = super::controls::outcome(denial);
                state.engine.record_use(verified, outcome, now, ip);
                question.action.map(|_| false)
            } else {
                let allowed = match (question.action, question.resource) {
                    (Some(a), Some(r)) => Some(verified.allows(a, r)),
                    _ => None,
                };
                let outcome = match allowed {
                    Some(false) => Outcome::Denied,
                    _ => Outcome::Valid,
                };
                state.engine.record_use(verified, outcome, now, ip);
                allowed
            }
        }
        Err(_) => question.action.map(|_| false),
    };
    Ok(Answer {
        verified,
        allowed,
        checked,
    })
}

/// A decided verify question.
pub(crate) struct Answer {
    verified: Result<Verified, tessera_engine::Rejection>,
    allowed: Option<bool>,
    /// What the token's controls said (all `None` for a token without).
    checked: Checked,
}

impl Answer {
    fn code(&self) -> &'static str {
        match (&self.verified, self.checked.denial) {
            (Ok(_), None) => "valid",
            (Ok(_), Some(denial)) => denial.code(),
            (Err(rejection), _) => rejection.code(),
        }
    }

    /// Valid, and not refused by its controls.
    fn valid(&self) -> Option<&Verified> {
        match (&self.verified, self.checked.denial) {
            (Ok(v), None) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn to_response(&self) -> VerifyResponse {
        VerifyResponse {
            valid: self.valid().is_some(),
            code: self.code().into(),
            allowed: self.allowed,
            token: self.valid().map(verified_token),
            ratelimit: self.checked.rate.map(|r| RateLimitState {
                limit: r.limit,
                remaining: r.remaining,
                reset: r.reset,
            }),
            quota: self
                .checked
                .quota_remaining
                .map(|remaining| QuotaState { remaining }),
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
        out.extend_from_slice(if self.valid().is_some() {
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
        if let Some(v) = self.valid() {
            out.extend_from_slice(b",\"token\":{\"id\":");
            write_json_str(out, v.token().id.as_str());
            out.extend_from_slice(b",\"name\":");
            write_json_str(out, &v.token().name);
            out.extend_from_slice(b",\"member\":");
            match v.member() {
                Some(member) => write_json_str(out, member.id.as_str()),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"external_id\":");
            match v.member().and_then(|m| m.external_id.as_ref()) {
                Some(external_id) => write_json_str(out, external_id.as_str()),
                None => out.extend_from_slice(b"null"),
            }
            if let Some(account) = v.service_account() {
                out.extend_from_slice(b",\"service_account\":{\"id\":");
                write_json_str(out, account.id.as_str());
                out.extend_from_slice(b",\"name\":");
                write_json_str(out, &account.name);
                out.push(b'}');
            }
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
        if let Some(rate) = &self.checked.rate {
            let _ = write!(
                out,
                ",\"ratelimit\":{{\"limit\":{},\"remaining\":{},\"reset\":{}}}",
                rate.limit, rate.remaining, rate.reset
            );
        }
        if let Some(remaining) = self.checked.quota_remaining {
            let _ = write!(out, ",\"quota\":{{\"remaining\":{remaining}}}");
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
