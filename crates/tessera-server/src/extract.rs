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
use crate::redact::redact;

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
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        parse_json(&bytes).map(Self)
    }
}

/// A JSON body's bytes, not yet parsed: for a handler that must check them
/// as sent (a signature over them) before parsing them with
/// [`parse_json`]. The same content types and body limit as [`ApiJson`].
pub struct JsonBytes(pub Bytes);

impl<S> FromRequest<S> for JsonBytes
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        // `Bytes` honours the router's body limit (`DefaultBodyLimit`).
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_error(e.status(), &e.body_text()))?;
        Ok(Self(bytes))
    }
}

/// A raw body, for the endpoints that read it their own way (a form, a
/// signed payload): too large is a 413 JSON error, like [`ApiJson`]'s.
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|e| body_error(e.status(), &e.body_text()))
    }
}

/// The error for a body that could not be read: too large, or broken off.
pub(crate) fn body_error(status: axum::http::StatusCode, text: &str) -> ApiError {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::bad_request(format!("unreadable request body: {text}"))
    }
}

/// Is the body declared as JSON (`application/json`, or any
/// `application/*+json`)? The same rule as axum's `Json` extractor.
pub(crate) fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    // What nearly every client sends, without parsing a media type (that
    // costs about 1,000 instructions, 3% of a verification).
    if value.as_bytes().eq_ignore_ascii_case(b"application/json") {
        return true;
    }
    value
        .to_str()
        .ok()
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|mime| {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        })
}

/// Parses a JSON body. The plain parse comes first, because it is the
/// fast one; only a body it refuses is parsed again through axum's `Json`,
/// whose tracking of the path to the bad field (`token: invalid type ...`)
/// costs about as much as the parse itself and is only needed for the
/// message.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(_) => Json::<T>::from_bytes(bytes)
            .map(|Json(value)| value)
            .map_err(json_rejection),
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request(redact(&format!("malformed JSON: {}", source_text(&e))))
        }
        JsonRejection::JsonDataError(e) => ApiError::bad_request(redact(&format!(
            "invalid request body: {}",
            source_text(&e)
        ))),
        JsonRejection::BytesRejection(e) => body_error(e.status(), &e.body_text()),
        other => ApiError::bad_request(format!("unreadable request body: {}", other.body_text())),
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
    ApiError::bad_request(redact(&format!(
        "invalid query string: {}",
        source_text(&rejection)
    )))
}

/// A JSON body that may be left out entirely (then `T::default()`). A body
/// that is there is read by [`ApiJson`]'s rules: the same content types,
/// the same messages.
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = is_json_content_type(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_error(e.status(), &e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(Self)
    }
}
