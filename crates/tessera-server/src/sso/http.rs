//! The HTTP client the OpenID Connect library talks to the provider with
//! (discovery, JWKS, the token endpoint): hyper's own client over a socket
//! opened here, as webhook deliveries do — the server does not depend on
//! reqwest. Bounded: one request within [`TIMEOUT`], at most
//! [`MAX_BODY_BYTES`] of answer, no redirects followed (the library treats
//! a non-2xx answer as the provider's failure).

use std::time::Duration;

use axum::http::header;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use openidconnect::{HttpRequest, HttpResponse};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::webhook_sender::parse_url;

/// The bound on one request to the provider.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer read (a JWKS or discovery document is a few KiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a request to the provider failed (for logs and the failure page;
/// it never holds the request's body, which may carry the client secret).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Sends `request` to the provider and reads its answer.
pub async fn send(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    match tokio::time::timeout(TIMEOUT, attempt(request)).await {
        Ok(answer) => answer,
        Err(_) => Err(HttpError(format!(
            "the provider did not answer within {} s",
            TIMEOUT.as_secs()
        ))),
    }
}

async fn attempt(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let target = parse_url(&request.uri().to_string()).map_err(|e| HttpError(e.to_string()))?;
    let addrs: Vec<_> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| HttpError(format!("cannot resolve {}: {e}", target.host)))?
        .collect();
    let mut last = format!("no address for {}", target.host);
    for addr in addrs {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                last = format!("cannot connect to {addr}: {e}");
                continue;
            }
        };
        if !target.https {
            return exchange(stream, &target, request).await;
        }
        let connector = tokio_native_tls::native_tls::TlsConnector::new()
            .map(tokio_native_tls::TlsConnector::from)
            .map_err(|e| HttpError(format!("TLS setup: {e}")))?;
        let tls = connector
            .connect(&target.host, stream)
            .await
            .map_err(|e| HttpError(format!("TLS with {}: {e}", target.host)))?;
        return exchange(tls, &target, request).await;
    }
    Err(HttpError(last))
}

async fn exchange<S>(
    stream: S,
    target: &crate::webhook_sender::Target,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError(format!("HTTP handshake: {e}")))?;
    let driver = tokio::spawn(connection);
    let (parts, body) = request.into_parts();
    let mut builder = axum::http::Request::builder()
        .method(parts.method)
        .uri(target.path.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::USER_AGENT, "Tessera-SSO");
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Full::new(axum::body::Bytes::from(body)))
        .map_err(|e| HttpError(format!("building the request: {e}")))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| HttpError(format!("sending: {e}")))?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|_| {
                HttpError(format!(
                    "the provider's answer is over {} KiB, or broke off",
                    MAX_BODY_BYTES / 1024
                ))
            })?
            .to_bytes();
        Ok(HttpResponse::from_parts(parts, bytes.to_vec()))
    }
    .await;
    driver.abort();
    result
}
