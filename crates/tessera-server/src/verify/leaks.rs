//! `POST /leaks`: tokens found where they should not be, revoked at once.
//! Two shapes of report come here, a plain one and GitHub secret
//! scanning's signed one ([`crate::github_scanning`]), and both revoke
//! through [`revoke_leaked`]. Routed by [`super::routes::router`].

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::json;
use tessera_api::{
    GithubLeakLabel, GithubLeakReport, LeakLabel, LeakReport, LeakReportAnswer, LeakReportResponse,
};
use tessera_core::model::Actor;
use tessera_core::resource;

use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, JsonBytes};
use crate::github_scanning;
use crate::peer::ClientAddr;
use crate::service::ServiceError;
use crate::state::AppState;

/// Most tokens one leak report may carry.
const MAX_LEAK_TOKENS: usize = 1000;

/// Report tokens found where they should not be; each live one is revoked
/// at once and the revocation audited.
///
/// Two shapes. A plain report, `{"tokens": [...], "url"?}`, is answered
/// with counts. GitHub secret scanning's partner report is a JSON array
/// of `{"token", "type", "url", "source"}`, signed by GitHub: its
/// `Github-Public-Key-Identifier` and `Github-Public-Key-Signature`
/// headers must verify over the raw body against a key of
/// `leaks.github_scanning_keys`, or it is `401 invalid_signature` and
/// nothing in it is looked at. It is answered in GitHub's format, one
/// `{"token_raw", "token_type", "label"}` per match: `true_positive` for a
/// live token this report revoked, `false_positive` for any other string.
/// Either report holds at most 1000 tokens (see docs/leaks.md).
///
/// Anyone may call it and each token in a report costs a storage read, so
/// reports of both shapes are limited per client IP (`leak_reports_per_ip`
/// per `leak_report_window_seconds`; `429 rate_limited` with
/// `Retry-After`). The limit is checked before a signature or any token in
/// the report is looked at.
#[utoipa::path(post, path = "/api/v1/leaks", tag = "verify", request_body = tessera_api::AnyLeakReport,
    params(
        ("Github-Public-Key-Identifier" = Option<String>, Header, nullable = false,
            description = "GitHub's report (a JSON array) only: which of GitHub's keys signed it"),
        ("Github-Public-Key-Signature" = Option<String>, Header, nullable = false,
            description = "GitHub's report only: base64 of the DER ECDSA P-256/SHA-256 signature over the raw body"),
    ),
    responses((status = 200, body = LeakReportAnswer,
            description = "counts for a plain report; one label per match for GitHub's"),
        (status = 400, body = tessera_api::ErrorBody),
        (status = 401, body = tessera_api::ErrorBody,
            description = "`invalid_signature`: a JSON array not signed by a configured GitHub key"),
        (status = 429, body = tessera_api::ErrorBody)))]
pub async fn report_leaks(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> ApiResult<Json<LeakReportAnswer>> {
    let ip = addr.map(|addr| addr.to_string());
    if let Some(addr) = ip.as_deref() {
        let key = crate::throttle::ip_key(addr);
        if let Err(blocked) = state.leak_reports.hit(&key, state.now()) {
            tracing::info!("leak report refused by the rate limit");
            return Err(ServiceError::TooManyRequests {
                message: "too many leak reports from this address; try again later".into(),
                retry_after_secs: blocked.retry_after_secs,
            }
            .into());
        }
    }
    if github_scanning::is_array(&body) {
        let labels = report_from_github(&state, ip.as_deref(), &headers, &body).await?;
        return Ok(Json(LeakReportAnswer::Github(labels)));
    }
    let body: LeakReport = parse_json(&body)?;
    if body.tokens.len() > MAX_LEAK_TOKENS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_LEAK_TOKENS} tokens per report"
        )));
    }
    if body
        .url
        .as_ref()
        .is_some_and(|u| u.len() > MAX_LEAK_URL_LEN)
    {
        return Err(ApiError::bad_request(format!(
            "url is too long (at most {MAX_LEAK_URL_LEN} bytes)"
        )));
    }
    // Where a token was found often contains it (a paste's URL, a commit's
    // diff link): the audit log keeps the place, not the token.
    let found = FoundAt {
        url: body.url.as_deref().map(crate::redact::redact),
        source: None,
    };
    let now = state.now();
    let (mut revoked, mut ignored) = (0u32, 0u32);
    for presented in &body.tokens {
        if revoke_leaked(&state, ip.as_deref(), presented, &found, now).await? {
            revoked += 1;
        } else {
            ignored += 1;
        }
    }
    Ok(Json(LeakReportAnswer::Plain(LeakReportResponse {
        revoked,
        ignored,
    })))
}

/// Longest `url` of a report (and of each match of GitHub's).
const MAX_LEAK_URL_LEN: usize = 2048;

/// Where a reported token was found, as the audit log keeps it (redacted).
struct FoundAt {
    url: Option<String>,
    /// GitHub's `source` (`content`, `commit`, ...); `None` for a plain
    /// report, whose audit details have no `source`.
    source: Option<String>,
}

/// GitHub's report: its signature checked on the raw bytes before they are
/// parsed, then each match revoked as a plain report's tokens are.
async fn report_from_github(
    state: &AppState,
    ip: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Vec<GithubLeakLabel>> {
    let signed = match state.config.leaks.github_scanning_keys.as_ref() {
        Some(keys) => keys.verify(headers, body),
        None => Err(github_scanning::SignatureError::NotConfigured),
    };
    if let Err(why) = signed {
        tracing::info!(reason = %why, "GitHub leak report refused");
        return Err(ApiError::InvalidSignature(why.to_string()));
    }
    let GithubLeakReport(matches) = parse_json(body)?;
    if matches.len() > MAX_LEAK_TOKENS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_LEAK_TOKENS} matches per report"
        )));
    }
    for (i, found) in matches.iter().enumerate() {
        let fields = [
            ("token", Some(&found.token), 1024),
            ("type", Some(&found.token_type), 256),
            ("url", found.url.as_ref(), MAX_LEAK_URL_LEN),
            ("source", found.source.as_ref(), 256),
        ];
        for (name, value, max) in fields {
            if value.is_some_and(|v| v.len() > max) {
                return Err(ApiError::bad_request(format!(
                    "[{i}].{name} is too long (at most {max} bytes)"
                )));
            }
        }
    }
    let now = state.now();
    // A string GitHub found twice is looked up once, and labelled alike.
    let mut seen: HashMap<&str, bool> = HashMap::with_capacity(matches.len());
    let mut labels = Vec::with_capacity(matches.len());
    for found in &matches {
        let revoked = match seen.get(found.token.as_str()) {
            Some(&revoked) => revoked,
            None => {
                let at = FoundAt {
                    url: found
                        .url
                        .as_deref()
                        .filter(|u| !u.is_empty())
                        .map(crate::redact::redact),
                    source: found.source.as_deref().map(crate::redact::redact),
                };
                let revoked = revoke_leaked(state, ip, &found.token, &at, now).await?;
                seen.insert(&found.token, revoked);
                revoked
            }
        };
        labels.push(GithubLeakLabel {
            token_raw: found.token.clone(),
            token_type: found.token_type.clone(),
            label: if revoked {
                LeakLabel::TruePositive
            } else {
                LeakLabel::FalsePositive
            },
        });
    }
    let revoked = labels
        .iter()
        .filter(|l| l.label == LeakLabel::TruePositive)
        .count();
    tracing::info!(matches = labels.len(), revoked, "GitHub leak report");
    Ok(labels)
}

/// Revokes `presented` if it is a token of this deployment that still
/// authenticates (or did until it expired: a leaked string should not come
/// back to life through a rotation's grace period or a clone), auditing it
/// as `token:delete` with `reason: "leak_report"` and where it was found.
/// Whether it was revoked now; both report shapes come through here.
async fn revoke_leaked(
    state: &AppState,
    ip: Option<&str>,
    presented: &str,
    found: &FoundAt,
    now: time::OffsetDateTime,
) -> ApiResult<bool> {
    let Ok(parsed) = state.format.parse(presented) else {
        return Ok(false);
    };
    let hash = parsed.secret_hash();
    let token = match state.store.get_token(&parsed.id()).await? {
        Some(t) if t.secret_matches(&hash, now) => t,
        _ => return Ok(false),
    };
    let mut details = json!({
        "reason": "leak_report", "url": found.url, "name": token.name, "snippet": token.snippet,
    });
    if let Some(source) = &found.source {
        details["source"] = source.as_str().into();
    }
    let event = state.audit(
        &token.org_id,
        Actor::default(),
        ip.map(str::to_owned),
        "token:delete",
        resource::owned_token(&token.owner, &token.id),
        details,
    );
    match state.store.delete_token(&token.id, &event).await {
        Ok(()) => Ok(true),
        Err(tessera_store::StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
