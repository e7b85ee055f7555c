//! The client's one error type, and how an HTTP error response becomes one.
//!
//! Invariant: no variant's `Display` ever contains a token, a session cookie
//! or a password. Messages carry the server's URL (without user info), the
//! API's stable error code and its human message, which the server promises
//! to keep free of secrets.

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;
use tessera_api::ErrorCode;
use thiserror::Error;

/// Everything a [`crate::Client`] call can fail with.
#[derive(Debug, Error)]
pub enum Error {
    /// The server answered with an error status. `code` is the API's stable
    /// code (`forbidden`, `token_expired`, ...) or `http_<status>` when the
    /// body was not Tessera's error shape (a proxy's error page, say).
    #[error("{code}: {message}{}{}", retry_hint(message, *.retry_after), server_hint(*.status))]
    Api {
        status: u16,
        code: String,
        message: String,
        /// From `Retry-After` on a 429: seconds to wait before trying again.
        retry_after: Option<u64>,
    },
    /// The endpoint needs a credential and the client has none.
    #[error(
        "no API token: set TESSERA_TOKEN or pass --token (or log in first with `tessera login`)"
    )]
    MissingCredential,
    /// The server URL cannot be used.
    #[error("invalid server URL: {0}")]
    InvalidUrl(String),
    /// An argument cannot be sent as given (an empty id, a token with
    /// characters that HTTP headers cannot carry).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No answer: connection refused, DNS failure, TLS failure, timeout.
    #[error("cannot reach the Tessera server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The server answered with success but a body this client does not
    /// understand (usually a client/server version mismatch).
    #[error("unexpected response from the server: {0}")]
    Decode(String),
    /// A download could not be written where it was asked to go.
    #[error("could not write the download: {0}")]
    Output(std::io::Error),
}

/// Names the wait unless the server's message already does.
fn retry_hint(message: &str, retry_after: Option<u64>) -> String {
    match retry_after {
        Some(secs) if !message.contains(&secs.to_string()) => {
            format!(" (retry after {secs} seconds)")
        }
        _ => String::new(),
    }
}

/// A 5xx is not the caller's mistake: say so, and what to do, since the
/// server's own message for it is deliberately generic.
fn server_hint(status: u16) -> &'static str {
    if status >= 500 {
        " (the Tessera server failed, not your request; try again later or ask its operator)"
    } else {
        ""
    }
}

impl Error {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API's error code as sent, when the server answered (also
    /// `http_<status>` for a body that was not Tessera's).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The API's error code to match on, when the server answered;
    /// [`ErrorCode::Unknown`] for a code newer than this client (or a body
    /// that was not Tessera's), whose text [`Error::code`] still gives.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code().map(ErrorCode::parse)
    }

    /// Builds the error for a non-success response from its status, headers
    /// and body.
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let (code, message) = match serde_json::from_slice::<RawErrorBody>(body) {
            Ok(parsed) => (parsed.error.code, parsed.error.message),
            Err(_) => (
                format!("http_{}", status.as_u16()),
                fallback_message(status, headers),
            ),
        };
        Self::Api {
            status: status.as_u16(),
            code,
            message,
            retry_after,
        }
    }
}

/// `tessera_api::ErrorBody` with the code as sent: a code newer than this
/// client is shown as the server spelled it, not as `unknown`.
#[derive(Deserialize)]
struct RawErrorBody {
    error: RawErrorDetail,
}

#[derive(Deserialize)]
struct RawErrorDetail {
    code: String,
    message: String,
}

/// What [`tessera_api::Verifier`] callers (the tower layer) see: the API's
/// answer when there was one, otherwise that Tessera could not be asked.
impl From<Error> for tessera_api::VerifyError {
    fn from(error: Error) -> Self {
        match error {
            Error::Api {
                status,
                code,
                message,
                ..
            } => Self::Api {
                status,
                code,
                message,
            },
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// A short message for a response that is not Tessera's error shape. The
/// body is not echoed: it may be a large HTML page from a proxy.
fn fallback_message(status: StatusCode, headers: &HeaderMap) -> String {
    let reason = status.canonical_reason().unwrap_or("unknown status");
    if status.is_redirection() {
        let target = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("elsewhere");
        return format!(
            "the server redirected to {target}; use that address as the server URL \
             (--url or TESSERA_URL)"
        );
    }
    format!(
        "the server answered {} {reason} without a Tessera error body",
        status.as_u16()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn parses_the_api_error_shape() {
        let body = br#"{"error":{"code":"forbidden","message":"not permitted: token:create on member/x"}}"#;
        let err = Error::from_response(StatusCode::FORBIDDEN, &HeaderMap::new(), body);
        assert_eq!(err.status(), Some(403));
        assert_eq!(err.code(), Some("forbidden"));
        assert_eq!(err.error_code(), Some(ErrorCode::Forbidden));
        assert_eq!(
            err.to_string(),
            "forbidden: not permitted: token:create on member/x"
        );
    }

    #[test]
    fn a_429_carries_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1800"));
        let body =
            br#"{"error":{"code":"rate_limited","message":"rotated less than an hour ago"}}"#;
        let err = Error::from_response(StatusCode::TOO_MANY_REQUESTS, &headers, body);
        match &err {
            Error::Api { retry_after, .. } => assert_eq!(*retry_after, Some(1800)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().ends_with("(retry after 1800 seconds)"));

        let body = br#"{"error":{"code":"rate_limited","message":"retry in 1800 seconds"}}"#;
        let err = Error::from_response(StatusCode::TOO_MANY_REQUESTS, &headers, body);
        assert_eq!(err.to_string(), "rate_limited: retry in 1800 seconds");
    }

    #[test]
    fn a_server_error_says_it_is_the_servers() {
        let body = br#"{"error":{"code":"internal","message":"internal error"}}"#;
        let err = Error::from_response(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), body);
        assert_eq!((err.status(), err.code()), (Some(500), Some("internal")));
        let text = err.to_string();
        assert!(text.starts_with("internal: internal error"), "{text}");
        assert!(
            text.contains("server failed") && text.contains("try again later"),
            "{text}"
        );
        // A client's mistake gets no such hint.
        let body = br#"{"error":{"code":"not_found","message":"no such token"}}"#;
        let err = Error::from_response(StatusCode::NOT_FOUND, &HeaderMap::new(), body);
        assert_eq!(err.to_string(), "not_found: no such token");
    }

    #[test]
    fn a_foreign_body_becomes_http_status() {
        let err = Error::from_response(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html>bad gateway</html>",
        );
        assert_eq!(err.code(), Some("http_502"));
        assert_eq!(err.error_code(), Some(ErrorCode::Unknown));
        assert!(err.to_string().contains("502 Bad Gateway"));
        assert!(!err.to_string().contains("<html>"));
    }

    #[test]
    fn a_code_newer_than_the_client_keeps_its_text() {
        let body = br#"{"error":{"code":"quota_exceeded","message":"too many tokens"}}"#;
        let err = Error::from_response(StatusCode::CONFLICT, &HeaderMap::new(), body);
        assert_eq!(err.code(), Some("quota_exceeded"));
        assert_eq!(err.error_code(), Some(ErrorCode::Unknown));
        assert_eq!(err.to_string(), "quota_exceeded: too many tokens");
    }

    #[test]
    fn a_redirect_names_where_to() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LOCATION,
            HeaderValue::from_static("https://tessera.example/api/v1/me"),
        );
        let err = Error::from_response(StatusCode::MOVED_PERMANENTLY, &headers, b"");
        assert_eq!(err.code(), Some("http_301"));
        assert!(err.to_string().contains("https://tessera.example"));
    }

    #[test]
    fn missing_credential_names_both_ways_to_give_one() {
        let text = Error::MissingCredential.to_string();
        assert!(text.contains("TESSERA_TOKEN"));
        assert!(text.contains("--token"));
    }
}
