//! Request-level tests against a canned HTTP responder on loopback: what
//! the client sends (credentials, CSRF, bodies) and how it reads answers.
//! The real server is exercised by the workspace's integration tests.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use tessera_api::{CloneTokenRequest, LoginRequest, VerifyRequest};

use crate::{Client, Error};

/// What the fake server saw of one request.
#[derive(Debug)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers each incoming connection with the next canned response (one
/// request per connection) and reports what it received.
fn serve(responses: Vec<String>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for response in responses {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            reader.read_line(&mut request_line).expect("line");
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("header");
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            let length = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
            let mut stream = stream;
            stream.write_all(response.as_bytes()).expect("write");
            let _ = tx.send(Seen {
                request_line: request_line.trim_end().to_owned(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
    });
    (url, rx)
}

fn response(status: &str, extra_headers: &[&str], body: &str) -> String {
    let mut out = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for h in extra_headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    if !body.is_empty() {
        out.push_str("content-type: application/json\r\n");
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    out
}

const TOKEN_JSON: &str = r#"{"id":"2GdXMflhJ0000000000000000","name":"ci","snippet":"tsr_2GdX…abcd",
"member_id":"m1","role":"writer","custom_roles":null,"policy":null,"projects":[],
"created_at":"2026-01-01T00:00:00Z","expires_at":null,"last_used_at":null,
"last_used_ip":null,"rotated_at":null}"#;

/// The log-in both session tests send (the member of `session_json`).
fn login_request() -> LoginRequest {
    LoginRequest {
        email: "a@example.com".into(),
        password: "pw".into(),
        org: None,
    }
}

fn session_json() -> String {
    r#"{"member":{"id":"m1","email":"a@example.com","name":"A","role":"owner","custom_roles":[],
    "created_at":"2026-01-01T00:00:00Z"},"org":{"id":"o1","key":"acme","name":"Acme",
    "token_policy":{"require_expiration":false,"max_lifetime_days":null},
    "created_at":"2026-01-01T00:00:00Z"},"csrf_token":"csrf123","expires_at":"2026-01-02T00:00:00Z"}"#
        .replace('\n', "")
}

#[tokio::test]
async fn missing_credential_fails_before_any_request() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let client = Client::new(url, None).expect("client");
    let err = client.list_tokens().await.expect_err("no credential");
    assert!(matches!(err, Error::MissingCredential), "{err:?}");
    let err = client.delete_token("x").await.expect_err("no credential");
    assert!(matches!(err, Error::MissingCredential), "{err:?}");
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the client connected: {other:?}"),
    }
}

#[tokio::test]
async fn sends_the_bearer_token_and_decodes_the_answer() {
    let body = format!(r#"{{"items":[{TOKEN_JSON}]}}"#).replace('\n', "");
    let (url, seen) = serve(vec![response("200 OK", &[], &body)]);
    let client = Client::new(url, Some("tsr_secret".into())).expect("client");
    let list = client.list_tokens().await.expect("list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].name, "ci");
    let seen = seen.recv().expect("request");
    assert_eq!(seen.request_line, "GET /api/v1/tokens HTTP/1.1");
    assert_eq!(seen.header("authorization"), Some("Bearer tsr_secret"));
}

#[tokio::test]
async fn api_errors_keep_code_and_retry_after() {
    let body = r#"{"error":{"code":"rate_limited","message":"rotated less than an hour ago"}}"#;
    let (url, _seen) = serve(vec![response(
        "429 Too Many Requests",
        &["retry-after: 120"],
        body,
    )]);
    let client = Client::new(url, Some("tsr_secret".into())).expect("client");
    let err = client
        .clone_token("self", &CloneTokenRequest::default())
        .await
        .expect_err("429");
    match &err {
        Error::Api {
            status,
            code,
            retry_after,
            ..
        } => {
            assert_eq!(
                (*status, code.as_str(), *retry_after),
                (429, "rate_limited", Some(120))
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.to_string().contains("tsr_secret"));
}

#[tokio::test]
async fn login_switches_to_the_session_and_logout_back_to_the_token() {
    let (url, seen) = serve(vec![
        response(
            "200 OK",
            &["set-cookie: tessera_session=sess42; Path=/; HttpOnly"],
            &session_json(),
        ),
        response("204 No Content", &[], ""),
        response("204 No Content", &[], ""),
        response("204 No Content", &[], ""),
    ]);
    let mut client = Client::new(url, Some("tsr_secret".into())).expect("client");
    let session = client.login(&login_request()).await.expect("login");
    assert_eq!(session.org.key, "acme");
    assert!(client.is_logged_in());
    assert!(!format!("{client:?}").contains("sess42"));

    let login = seen.recv().expect("login request");
    assert_eq!(login.request_line, "POST /api/v1/session HTTP/1.1");
    assert_eq!(login.header("authorization"), None);
    assert!(login.body.contains(r#""email":"a@example.com""#));

    client.delete_token("t1").await.expect("delete");
    let delete = seen.recv().expect("delete request");
    assert_eq!(delete.request_line, "DELETE /api/v1/tokens/t1 HTTP/1.1");
    assert_eq!(delete.header("cookie"), Some("tessera_session=sess42"));
    assert_eq!(delete.header("x-csrf-token"), Some("csrf123"));
    assert_eq!(delete.header("content-type"), Some("application/json"));
    assert_eq!(delete.body, "{}");
    assert_eq!(delete.header("authorization"), None);

    client.logout().await.expect("logout");
    let logout = seen.recv().expect("logout request");
    assert_eq!(logout.request_line, "DELETE /api/v1/session HTTP/1.1");
    assert!(!client.is_logged_in());

    client.delete_token("t2").await.expect("delete");
    let delete = seen.recv().expect("delete request");
    assert_eq!(delete.header("authorization"), Some("Bearer tsr_secret"));
    assert_eq!(delete.header("cookie"), None);
    assert_eq!(delete.body, "");
}

#[tokio::test]
async fn login_without_a_cookie_is_an_error() {
    let (url, _seen) = serve(vec![response("200 OK", &[], &session_json())]);
    let mut client = Client::new(url, None).expect("client");
    let err = client.login(&login_request()).await.expect_err("no cookie");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(!client.is_logged_in());
}

#[tokio::test]
async fn verify_needs_no_credential_and_sends_none() {
    let (url, seen) = serve(vec![response(
        "200 OK",
        &[],
        r#"{"valid":false,"code":"invalid_token"}"#,
    )]);
    let client = Client::new(url, Some("tsr_mine".into())).expect("client");
    let answer = client
        .verify(&VerifyRequest {
            token: "tsr_presented".into(),
            action: None,
            resource: None,
            ip: None,
            cost: None,
        })
        .await
        .expect("verify");
    assert!(!answer.valid);
    let seen = seen.recv().expect("request");
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.body, r#"{"token":"tsr_presented"}"#);
}

#[tokio::test]
async fn a_body_that_does_not_match_is_a_decode_error() {
    let (url, _seen) = serve(vec![response("200 OK", &[], r#"{"unexpected":true}"#)]);
    let client = Client::new(url, Some("tsr_secret".into())).expect("client");
    let err = client.me().await.expect_err("decode");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(err.to_string().contains("/api/v1/me"));
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::new(url.clone(), Some("tsr_secret".into())).expect("client");
    let err = client.me().await.expect_err("unreachable");
    match &err {
        Error::Unreachable { url: named, .. } => assert_eq!(named, &url),
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(!text.contains("tsr_secret"), "{text}");
}
