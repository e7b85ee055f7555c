//! Request smuggling hygiene, over raw TCP: request heads whose body
//! framing is ambiguous (`Content-Length` and `Transfer-Encoding` together,
//! several `Content-Length`s, a coding other than `chunked`) are refused
//! with a JSON `400` and the connection closed, so a request hidden in a
//! body is never run; oversized heads are a JSON `431`; a body that stops
//! arriving does not hold its connection until the request timeout; and
//! ordinary keep-alive and pipelined traffic is untouched.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::hardening::read_until_closed;
use crate::harness::{
    start, start_with, start_with_header_timeout, start_with_owner_token, TestServer,
};

/// Sends `request` on a new connection and returns everything the server
/// answered before closing it (failing if it kept it open for 10 s).
async fn exchange(s: &TestServer, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(s.address()).await.expect("connect");
    // The server may stop reading early (an oversized head); that is fine.
    let _ = stream.write_all(request).await;
    read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the server did not close the connection within 10 s")
}

/// Splits a sequence of answers (each with a `Content-Length`) into
/// (status, head, body) triples.
fn answers(mut raw: &str) -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    while let Some(end) = raw.find("\r\n\r\n") {
        let head = &raw[..end];
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an answer: {raw:.300}"));
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().expect("length"))
            })
            .unwrap_or(0);
        let body_end = (end + 4 + length).min(raw.len());
        out.push((status, head.to_owned(), raw[end + 4..body_end].to_owned()));
        raw = &raw[body_end..];
    }
    assert!(raw.is_empty(), "trailing bytes after the answers: {raw:?}");
    out
}

/// Asserts that `raw` is exactly one answer: `status`, a JSON error body
/// with `code`, the security headers, and `Connection: close`.
#[track_caller]
fn assert_json_error(raw: &str, status: u16, code: &str) -> String {
    let all = answers(raw);
    assert_eq!(all.len(), 1, "expected one answer, got: {raw:.600}");
    let (got, head, body) = &all[0];
    assert_eq!(*got, status, "unexpected answer: {raw:.600}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("\r\ncontent-type: application/json"),
        "{head}"
    );
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert!(head.contains("\r\ncache-control: no-store"), "{head}");
    assert!(
        head.contains("\r\nx-content-type-options: nosniff"),
        "{head}"
    );
    let body: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("the {status} answer has no JSON body ({e}): {raw:.600}"));
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "{body}");
    message.to_owned()
}

/// A request for `/healthz` whose framing headers are `framing`, with
/// `body` after the head.
fn healthz_with(framing: &str, body: &str) -> String {
    format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n{body}")
}

/// A request for `/healthz` with each of `framings` and `body` is
/// refused with the JSON 400.
async fn assert_each_refused(s: &TestServer, framings: &[&str], body: &str) {
    for framing in framings {
        let answer = exchange(s, healthz_with(framing, body).as_bytes()).await;
        assert_json_error(&answer, 400, "bad_request");
    }
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_400_json_and_nothing_is_smuggled() {
    let (s, id, _, _) = start_with_owner_token("victim").await;
    // Read as chunked, the body ends at `0\r\n\r\n` and a DELETE by the
    // owner follows; read by its length, it is all body.
    let smuggled = format!(
        "DELETE /api/v1/tokens/{id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        s.owner_token
    );
    let body = format!("0\r\n\r\n{smuggled}");
    let length = body.len();
    for framing in [
        format!("Content-Length: {length}\r\nTransfer-Encoding: chunked"),
        format!("Transfer-Encoding: chunked\r\nContent-Length: {length}"),
        format!("content-length: {length}\r\ntransfer-encoding: CHUNKED"),
    ] {
        let answer = exchange(&s, healthz_with(&framing, &body).as_bytes()).await;
        let message = assert_json_error(&answer, 400, "bad_request");
        assert!(message.contains("Content-Length"), "{message}");
    }
    // The hidden DELETE never ran.
    s.owner_get(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(200);
}

/// On a keep-alive connection, a refused request after good ones: the
/// good ones are answered, in order, then the JSON 400, then the close.
#[tokio::test]
async fn a_refused_request_after_good_ones_is_answered_in_order() {
    let s = start().await;
    let verify = r#"{"token":"tsr_not-a-token"}"#;
    let good = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
         POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{verify}",
        verify.len()
    );
    let bad = healthz_with(
        "Content-Length: 5\r\nTransfer-Encoding: chunked",
        "0\r\n\r\n",
    );
    // All at once, and the bad one a moment later (the good ones answered).
    for pause in [None, Some(Duration::from_millis(300))] {
        let mut stream = TcpStream::connect(s.address()).await.expect("connect");
        match pause {
            None => stream
                .write_all(format!("{good}{bad}").as_bytes())
                .await
                .expect("write"),
            Some(pause) => {
                stream.write_all(good.as_bytes()).await.expect("write");
                tokio::time::sleep(pause).await;
                stream.write_all(bad.as_bytes()).await.expect("write");
            }
        }
        let raw = read_until_closed(&mut stream, Duration::from_secs(10))
            .await
            .expect("closed");
        let all = answers(&raw);
        let statuses: Vec<u16> = all.iter().map(|a| a.0).collect();
        assert_eq!(statuses, [200, 200, 400], "{raw}");
        let last = &raw[raw.rfind("HTTP/1.1 400").expect("the 400")..];
        assert_json_error(last, 400, "bad_request");
    }
}

#[tokio::test]
async fn several_content_lengths_are_400_json() {
    let s = start().await;
    let framings = [
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5\r\nContent-Length: 5",
        "Content-Length: 5, 5",
        "Content-Length: +5",
    ];
    assert_each_refused(&s, &framings, "hello!").await;
}

#[tokio::test]
async fn a_transfer_encoding_other_than_chunked_is_400_json() {
    let s = start().await;
    let framings = [
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: gzip, chunked",
        "Transfer-Encoding: chunked, gzip",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
    ];
    assert_each_refused(&s, &framings, "0\r\n\r\n").await;
    // HTTP/1.0 has no chunked coding at all.
    let answer = exchange(
        &s,
        b"GET /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert_json_error(&answer, 400, "bad_request");
}

#[tokio::test]
async fn oversized_heads_are_431_json_and_others_are_served() {
    let s = start_with(|c| c.http.max_header_bytes = 16 * 1024).await;
    let long = healthz_with(&format!("X-Big: {}", "a".repeat(20 * 1024)), "");
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    for request in [long, many] {
        let answer = exchange(&s, request.as_bytes()).await;
        assert_json_error(&answer, 431, "bad_request");
    }
    s.assert_serving().await;
}

/// A client announces a body and sends less: the connection is closed
/// after `header_timeout_seconds` without a byte, not after
/// `request_timeout_seconds`, with a JSON 408; others are served meanwhile.
#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_cut_off_early() {
    let s = start_with_header_timeout(2).await;
    for path in ["/api/v1/verify", "/api/v1/tokens"] {
        let mut stream = TcpStream::connect(s.address()).await.expect("connect");
        stream
            .write_all(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
                     Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"token\":",
                    s.owner_token
                )
                .as_bytes(),
            )
            .await
            .expect("write");
        let started = Instant::now();
        let (answer, ()) = tokio::join!(
            read_until_closed(&mut stream, Duration::from_secs(10)),
            async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                // A new client: a pooled connection may be the one the
                // server is closing for idling past the 2 s header timeout.
                let other = reqwest::get(s.url("/healthz")).await.expect("sent");
                assert_eq!(other.status(), 200);
            }
        );
        let answer = answer.expect("the connection was still open after 10 s");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{path}: closed only after {:?}",
            started.elapsed()
        );
        assert_json_error(&answer, 408, "bad_request");
    }
}

#[tokio::test]
async fn pipelined_keep_alive_requests_are_all_answered() {
    let s = start().await;
    let verify = r#"{"token":"tsr_not-a-token"}"#;
    let (first, second) = verify.split_at(10);
    let requests = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
         POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{verify}\
         POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x};name=value\r\n{first}\r\n{:X}\r\n{second}\r\n0\r\nX-Trailer: t\r\n\r\n\
         GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        verify.len(),
        first.len(),
        second.len(),
    );
    // All in one write, then in pieces of every size from 1 to 13 bytes.
    for piece in [requests.len(), 1, 2, 3, 5, 7, 13] {
        let mut stream = TcpStream::connect(s.address()).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        for part in requests.as_bytes().chunks(piece) {
            stream.write_all(part).await.expect("write");
            if piece < requests.len() && piece > 3 {
                tokio::task::yield_now().await;
            }
        }
        let raw = read_until_closed(&mut stream, Duration::from_secs(10))
            .await
            .expect("closed after the last request");
        let all = answers(&raw);
        let statuses: Vec<u16> = all.iter().map(|a| a.0).collect();
        assert_eq!(statuses, [200, 200, 200, 200], "pieces of {piece}: {raw}");
        assert!(all[1].2.contains(r#""valid":false"#), "{}", all[1].2);
        assert_eq!(all[1].2, all[2].2);
    }
}

/// hyper is not asked to hand upgraded connections over, so after an
/// `Upgrade` request that is answered normally it goes on reading HTTP
/// requests: they must still be checked.
#[tokio::test]
async fn an_upgrade_request_does_not_turn_the_checks_off() {
    let s = start().await;
    let request =
        format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n{}",
        healthz_with("Content-Length: 5\r\nTransfer-Encoding: chunked", "0\r\n\r\n")
    );
    let raw = exchange(&s, request.as_bytes()).await;
    let all = answers(&raw);
    let statuses: Vec<u16> = all.iter().map(|a| a.0).collect();
    assert_eq!(statuses, [200, 400], "{raw}");
    let last = &raw[raw.rfind("HTTP/1.1 400").expect("the 400")..];
    assert_json_error(last, 400, "bad_request");
}

/// A chunked body that breaks its own framing is refused (JSON 400) and
/// the connection closed.
#[tokio::test]
async fn a_malformed_chunked_body_is_400_json() {
    let s = start().await;
    let answer = exchange(
        &s,
        b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n",
    )
    .await;
    assert_json_error(&answer, 400, "bad_request");
}
