//! Sending one webhook request, per Standard Webhooks
//! (<https://www.standardwebhooks.com/>), and the checks on where it goes.
//!
//! - **Signing**: `webhook-signature: v1,<base64(HMAC-SHA256(secret,
//!   "{webhook-id}.{webhook-timestamp}.{body}"))>`, where the secret is the
//!   bytes after `whsec_`, base64-decoded.
//! - **Where**: `http` or `https` only, no credentials in the URL. The
//!   host is resolved and every address it resolves to must be public
//!   (not loopback, private, link-local, the cloud metadata address, …)
//!   unless `webhook_allow_private` is set; the request then connects to
//!   an address that was checked, so a name that resolves differently a
//!   moment later (DNS rebinding) cannot redirect it.
//! - **Bounds**: the whole attempt (connect, TLS, request, answer) within a
//!   timeout (15 s); redirects are not followed (a `3xx` is a failure);
//!   at most 64 KiB of the answer is read, a longer one is a failure.
//!
//! The server does not depend on reqwest; this is hyper's own client over
//! a socket this module opened.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, Request, Uri};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::secrets::fill_random;
use crate::webhook_connections::{Conn, Connections, Destination};

/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Most of an answer read; a longer answer fails the attempt.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The whole attempt's bound.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// `whsec_`: how Standard Webhooks libraries recognize a secret.
const SECRET_PREFIX: &str = "whsec_";

/// Why a URL cannot be a webhook's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL this accepts at all (`400`).
    #[error("{0}")]
    Malformed(String),
    /// A well-formed URL to a place webhooks may not go (`422`).
    #[error("{0}")]
    Refused(String),
}

/// A parsed webhook URL.
#[derive(Debug, Clone)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// `Host` header: the URL's authority.
    pub authority: String,
    /// Path and query.
    pub path: String,
}

/// Checks a URL's form: `http(s)://host[:port]/path?query`, no
/// credentials, no fragment, at most [`MAX_URL_BYTES`].
pub fn parse_url(url: &str) -> Result<Target, UrlError> {
    let bad = |why: &str| UrlError::Malformed(format!("url: {why}"));
    if url.len() > MAX_URL_BYTES {
        return Err(bad(&format!("at most {MAX_URL_BYTES} bytes")));
    }
    if url.contains('#') {
        return Err(bad("a fragment (`#…`) is not sent; leave it out"));
    }
    let uri: Uri = url.parse().map_err(|_| bad("not a valid absolute URL"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad("must start with http:// or https://")),
    };
    let authority = uri.authority().ok_or_else(|| bad("must name a host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("must not hold credentials (`user:password@`)"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("must name a host"));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    Ok(Target {
        https,
        host: host.to_ascii_lowercase(),
        port,
        authority: authority.as_str().to_owned(),
        path: if path.is_empty() { "/".into() } else { path },
    })
}

/// Whether an address is on the public internet. Refused: unspecified,
/// loopback, private (RFC 1918, IPv6 unique local), link-local (which
/// holds the cloud metadata address 169.254.169.254), shared (CGNAT),
/// benchmarking, documentation, multicast, broadcast and reserved ranges,
/// and IPv4-mapped or NAT64 forms of any of them.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) embeds an IPv4 address.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::from([0u16, 0, 0, 0, 0, 0, 0, 1]))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Resolves the target's host and checks every address: the addresses to
/// connect to.
pub async fn resolve(target: &Target, allow_private: bool) -> Result<Vec<SocketAddr>, UrlError> {
    let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| UrlError::Refused(format!("url: resolving {} timed out", target.host)))?
        .map_err(|_| UrlError::Refused(format!("url: {} does not resolve", target.host)))?
        .collect(),
    };
    if addrs.is_empty() {
        return Err(UrlError::Refused(format!(
            "url: {} does not resolve",
            target.host
        )));
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(UrlError::Refused(format!(
                "url: {} is a private, loopback or link-local address ({}); \
                 webhooks go to public addresses unless `webhook_allow_private` is set",
                target.host,
                bad.ip()
            )));
        }
    }
    Ok(addrs)
}

/// A new signing secret: its raw bytes and the `whsec_…` form shown once.
pub fn new_secret() -> (Vec<u8>, String) {
    let mut bytes = vec![0u8; 32];
    fill_random(&mut bytes);
    let shown = format!("{SECRET_PREFIX}{}", BASE64.encode(&bytes));
    (bytes, shown)
}

/// `v1,<base64 signature>` of one message.
#[allow(clippy::expect_used)]
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status, when one came back.
    pub code: Option<u16>,
    /// Why it failed; `None`: it succeeded (a `2xx` with a body that fit).
    pub error: Option<String>,
}

impl Answer {
    fn failed(code: Option<u16>, why: impl Into<String>) -> Self {
        Self {
            code,
            error: Some(why.into()),
        }
    }
}

/// One signed message to send.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub url: &'a str,
    pub id: &'a str,
    pub timestamp: i64,
    pub body: &'a [u8],
    pub secret: &'a [u8],
}

/// Sends one message, within `timeout`, checking its destination again
/// first. A connection kept alive from an earlier delivery to the same
/// checked address is reused (see [`crate::webhook_connections`]).
pub async fn send(
    connections: &Connections,
    message: &Message<'_>,
    allow_private: bool,
    timeout: Duration,
) -> Answer {
    match tokio::time::timeout(timeout, attempt(connections, message, allow_private)).await {
        Ok(answer) => answer,
        Err(_) => Answer::failed(
            None,
            format!("no answer within {} s", timeout.as_secs_f32()),
        ),
    }
}

async fn attempt(connections: &Connections, message: &Message<'_>, allow_private: bool) -> Answer {
    let target = match parse_url(message.url) {
        Ok(t) => t,
        Err(e) => return Answer::failed(None, e.to_string()),
    };
    let addrs = match resolve(&target, allow_private).await {
        Ok(a) => a,
        Err(e) => return Answer::failed(None, e.to_string()),
    };
    let signature = sign(message.secret, message.id, message.timestamp, message.body);
    let request = || build_request(&target, message, &signature);
    // A kept connection first. One the receiver closed while it waited
    // fails before any answer: the message goes again on a new connection
    // (receivers tell repeats apart by `webhook-id`).
    for addr in &addrs {
        let to = destination(&target, *addr);
        if let Some(conn) = connections.take(&to) {
            if let Some(answer) = exchange(connections, to, conn, request()).await {
                return answer;
            }
        }
    }
    let mut last_error = String::from("could not connect");
    for addr in addrs {
        let to = destination(&target, addr);
        let conn = match connect(connections, &target, addr).await {
            Ok(conn) => conn,
            Err(e) => {
                last_error = e;
                continue;
            }
        };
        return exchange(connections, to, conn, request())
            .await
            .unwrap_or_else(|| Answer::failed(None, "the connection closed before an answer"));
    }
    Answer::failed(None, last_error)
}

fn destination(target: &Target, addr: SocketAddr) -> Destination {
    Destination {
        https: target.https,
        host: target.host.clone(),
        addr,
    }
}

/// A new connection to `addr` (with TLS for `https`), its driver running.
async fn connect(
    connections: &Connections,
    target: &Target,
    addr: SocketAddr,
) -> Result<Conn, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("could not connect to {addr}: {e}"))?;
    if !target.https {
        return handshake(stream).await;
    }
    let tls = connections
        .tls()?
        .connect(&target.host, stream)
        .await
        .map_err(|e| format!("TLS with {}: {e}", target.host))?;
    handshake(tls).await
}

async fn handshake<S>(stream: S) -> Result<Conn, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // Runs until the receiver closes the connection or the `Conn` is
    // dropped.
    let driver = tokio::spawn(connection).abort_handle();
    Ok(Conn { sender, driver })
}

fn build_request(
    target: &Target,
    message: &Message<'_>,
    signature: &str,
) -> Result<Request<Full<Bytes>>, String> {
    Request::post(target.path.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "Tessera-Webhooks")
        .header("webhook-id", message.id)
        .header("webhook-timestamp", message.timestamp.to_string())
        .header("webhook-signature", signature)
        .body(Full::new(bytes_of(message.body)))
        .map_err(|e| format!("building the request: {e}"))
}

/// Sends `request` on `sender` and reads the answer; the connection is
/// kept for the next delivery when the answer was read whole. `None` when
/// the connection failed before any answer came.
async fn exchange(
    connections: &Connections,
    to: Destination,
    mut conn: Conn,
    request: Result<Request<Full<Bytes>>, String>,
) -> Option<Answer> {
    let request = match request {
        Ok(r) => r,
        Err(e) => return Some(Answer::failed(None, e)),
    };
    let response = match conn.sender.send_request(request).await {
        Ok(response) => response,
        Err(e) if conn.sender.is_closed() || e.is_canceled() || e.is_incomplete_message() => {
            return None
        }
        Err(e) => return Some(Answer::failed(None, format!("sending: {e}"))),
    };
    let code = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await;
    let answer = match body {
        // Not read whole: the connection is dropped, so closed.
        Err(_) => {
            return Some(Answer::failed(
                Some(code),
                format!(
                    "the answer's body is over {} KiB, or broke off",
                    MAX_RESPONSE_BYTES / 1024
                ),
            ))
        }
        Ok(_) if (200..300).contains(&code) => Answer {
            code: Some(code),
            error: None,
        },
        Ok(_) if (300..400).contains(&code) => {
            Answer::failed(Some(code), format!("{code}: redirects are not followed"))
        }
        Ok(_) => Answer::failed(Some(code), format!("answered {code}")),
    };
    connections.put(to, conn);
    Some(answer)
}

fn bytes_of(body: &[u8]) -> Bytes {
    Bytes::copy_from_slice(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn urls_are_http_without_credentials() {
        assert!(parse_url("https://hooks.example.com/x?y=1").is_ok());
        let t = parse_url("http://127.0.0.1:8080/hook").expect("ok");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8080, "/hook")
        );
        let t = parse_url("http://[::1]:9/").expect("ok");
        assert_eq!(t.host, "::1");
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "",
        ] {
            assert!(
                matches!(parse_url(bad), Err(UrlError::Malformed(_))),
                "{bad}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(parse_url(&long).is_err());
    }

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(private.parse().expect("ip")), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's test suite.
        let secret = BASE64
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("base64");
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// A receiver on loopback answering 200 to every request, counting
    /// the connections it accepted; with `close_after_answer`, it closes
    /// each connection after one answer, without saying so.
    async fn receiver(close_after_answer: bool) -> (String, Arc<AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = socket.read(&mut buf).await {
                        seen.extend_from_slice(&buf[..n]);
                        // One whole request: its head and `content-length` bytes.
                        let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if seen.len() < end + 4 + length {
                            continue;
                        }
                        seen.drain(..end + 4 + length);
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if socket.write_all(ok).await.is_err() || close_after_answer {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    fn message(url: &str) -> Message<'_> {
        Message {
            url,
            id: "msg_1",
            timestamp: 1,
            body: b"{}",
            secret: b"secret",
        }
    }

    /// Five deliveries, one after the other, each succeeding: the
    /// connections used, the receiver's URL and how many it accepted.
    async fn deliver_five(close_after_answer: bool) -> (Connections, String, usize) {
        let (url, accepted) = receiver(close_after_answer).await;
        let connections = Connections::default();
        for _ in 0..5 {
            let answer = send(&connections, &message(&url), true, TIMEOUT).await;
            assert_eq!(answer.error, None);
        }
        let accepted = accepted.load(Ordering::SeqCst);
        (connections, url, accepted)
    }

    #[tokio::test]
    async fn deliveries_to_one_receiver_reuse_a_kept_connection() {
        let (connections, url, accepted) = deliver_five(false).await;
        assert_eq!(accepted, 1);
        assert_eq!(connections.idle(), 1);

        // Reuse never skips the destination check: without
        // `webhook_allow_private`, loopback is refused, connection or not.
        let refused = send(&connections, &message(&url), false, TIMEOUT).await;
        assert!(refused.error.expect("refused").contains("private"));
    }

    #[tokio::test]
    async fn a_receiver_that_closes_kept_connections_loses_no_delivery() {
        let (_, _, accepted) = deliver_five(true).await;
        assert_eq!(accepted, 5);
    }

    /// A receiver that trickles an endless answer: the attempt fails at its
    /// bound, and its connection is closed then, not kept or left open.
    #[tokio::test]
    async fn an_attempt_that_times_out_closes_its_connection() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let (closed, hung_up) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n";
            let mut sent = socket.write_all(head).await;
            while sent.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                sent = socket.write_all(b"x").await;
            }
            let _ = closed.send(());
        });
        let connections = Connections::default();
        let bound = Duration::from_millis(300);
        let answer = send(&connections, &message(&url), true, bound).await;
        assert!(answer.error.expect("failed").contains("no answer within"));
        assert_eq!(connections.idle(), 0);
        tokio::time::timeout(Duration::from_secs(5), hung_up)
            .await
            .expect("the connection was closed")
            .expect("the receiver saw it");
    }

    #[test]
    fn secrets_are_whsec_and_32_bytes() {
        let (raw, shown) = new_secret();
        assert_eq!(raw.len(), 32);
        let decoded = BASE64
            .decode(shown.strip_prefix("whsec_").expect("prefix"))
            .expect("base64");
        assert_eq!(decoded, raw);
    }
}
