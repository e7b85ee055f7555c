//! `POST /oauth/introspect`: OAuth 2.0 Token Introspection (RFC 7662) for
//! gateways that speak it (Kong, MuleSoft, any OAuth resource server).
//!
//! The caller authenticates with its own Tessera token, as a bearer token
//! or as an OAuth client's HTTP Basic credentials (`client_id` anything,
//! `client_secret` the token), which is how OAuth client libraries call
//! an introspection endpoint. The body is the RFC's form.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use tessera_api::{Introspection, IntrospectionRequest};

use crate::auth::{from_token, presented_token};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiBytes;
use crate::peer::ClientAddr;
use crate::service::{introspect, Call};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/oauth/introspect", post(introspect_token))
}

/// Is a token active, and what is it? RFC 7662: a form body with `token`
/// (`token_type_hint` is ignored); the caller authenticates with a Tessera
/// token (Bearer, or Basic with the token as the client secret) allowed
/// `token:introspect` on the token. An inactive token, including one of
/// another org, is exactly `{"active": false}`.
#[utoipa::path(post, path = "/api/v1/oauth/introspect", tag = "verify",
    security(("bearer" = []), ("basic" = []), ("apikey" = [])),
    request_body(content = IntrospectionRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection),
        (status = 400, body = tessera_api::ErrorBody), (status = 401, body = tessera_api::ErrorBody),
        (status = 403, body = tessera_api::ErrorBody), (status = 413, body = tessera_api::ErrorBody),
        (status = 415, body = tessera_api::ErrorBody)))]
pub async fn introspect_token(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<Introspection>> {
    // Who asks comes first: an unauthenticated caller learns nothing, not
    // even whether its form was well made.
    let credential = client_credential(&headers)?.ok_or_else(|| {
        ApiError::unauthenticated(
            "missing credential: send Authorization: Bearer <token>, or Basic with your token as the client secret",
        )
    })?;
    let caller = from_token(&state, &credential, addr, addr.map(|a| a.to_string())).await?;
    let call = Call::new(&state, caller);
    if !is_form(&headers) {
        return Err(ApiError::FormRequired);
    }
    let request: IntrospectionRequest = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::bad_request(format!("bad form: {e}")))?;
    let issuer = issuer(&state);
    Ok(Json(
        introspect::introspect(&call, &request.token, &issuer).await?,
    ))
}

/// The caller's token: `Bearer`/`ApiKey`, or the password of `Basic`
/// (RFC 6749 §2.3.1 form-encodes it first; Tessera tokens need no
/// encoding, so a token arrives as itself either way).
fn client_credential(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    let Some((_, encoded)) = basic else {
        return presented_token(headers);
    };
    let bad = || {
        ApiError::unauthenticated("malformed Basic credentials: send base64 of `client_id:token`")
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (_, secret) = text.split_once(':').ok_or_else(bad)?;
    if secret.is_empty() {
        return Err(bad());
    }
    Ok(Some(secret.to_owned()))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `iss`: the configured `public_url`, else the address this node serves.
fn issuer(state: &AppState) -> String {
    match state.config.http.public_url.trim_end_matches('/') {
        "" => format!("http://{}", state.config.http.listen),
        url => url.to_owned(),
    }
}
