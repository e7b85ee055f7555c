//! Extractors that answer bad input with Tessera's JSON errors instead of
//! axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::Json;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Malformed JSON, wrong types and unknown fields are 400s, a
/// missing JSON content type 415, an oversized body 413.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(redact(&format!("malformed JSON: {}", source_text(&e))))
        }
        JsonRejection::JsonDataError(e) => ApiError::BadRequest(redact(&format!(
            "invalid request body: {}",
            source_text(&e)
        ))),
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge
        }
        other => ApiError::BadRequest(format!("unreadable request body: {}", other.body_text())),
    }
}

/// The innermost error's text (serde's own message, without axum's preamble).
fn source_text(e: &dyn std::error::Error) -> String {
    let mut current: &dyn std::error::Error = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Replaces anything that looks like a token (`<prefix>_` followed by
/// base62) with a marker: serde quotes offending values, and a token pasted
/// into the wrong field must not come back in an error.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(pos) = rest.find('_') {
        let (before, after) = rest.split_at(pos);
        let word_start = before
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map_or(0, |i| i + 1);
        let tail_len = after[1..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len() - 1);
        out.push_str(before);
        if word_start < before.len() && tail_len >= 16 {
            out.push_str("_<redacted>");
            rest = &after[1 + tail_len..];
        } else {
            out.push('_');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Query parameters, with a 400 that says which one is wrong.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(redact(&format!(
        "invalid query string: {}",
        source_text(&rejection)
    )))
}

/// A JSON body that may be left out entirely (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(format!("unreadable request body: {}", e.body_text()))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::BadRequest(redact(&format!("invalid request body: {e}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn token_like_values_are_redacted() {
        let msg =
            "invalid type: string \"tsr_2GdXMflhJ0123456789abcdefABCDEF\", expected a sequence";
        let out = redact(msg);
        assert!(!out.contains("2GdXMflhJ"), "{out}");
        assert!(out.contains("tsr_<redacted>"));
        assert_eq!(
            redact("unknown field `not_actions`"),
            "unknown field `not_actions`"
        );
        assert_eq!(redact("a_b _ c_"), "a_b _ c_");
    }
}
