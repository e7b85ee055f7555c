//! Abuse resistance and web security, over real HTTP and raw TCP: login
//! throttling, failed logins that do not reveal accounts, slowloris and
//! oversized headers, security headers and cookie flags.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{
    send, start, start_with, start_with_header_timeout, Reply, TestServer, OWNER_EMAIL,
    OWNER_PASSWORD,
};

/// A server that serves one connection at a time and gives a client 1 s
/// to send a request's head: a connection that holds the only slot
/// without progress must be closed for anyone else to be served.
async fn start_with_one_slot() -> TestServer {
    start_with(|c| {
        c.http.max_connections = 1;
        c.http.header_timeout_seconds = 1;
    })
    .await
}

/// A server behind a trusted proxy on 127.0.0.1 (the tests' own address),
/// so a test can give each request a client address in X-Forwarded-For;
/// `tweak` sets the rest.
async fn start_behind_proxy(tweak: impl FnOnce(&mut tessera_server::Config)) -> TestServer {
    start_with(|c| {
        c.http.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
        tweak(c);
    })
    .await
}

/// A server that throttles logins after `per_account` failures for one
/// account or `per_ip` from one address within `window_seconds`.
async fn start_with_login_limits(per_account: u32, per_ip: u32, window_seconds: u64) -> TestServer {
    start_with(|c| {
        c.login.failures_per_account = per_account;
        c.login.failures_per_ip = per_ip;
        c.login.window_seconds = window_seconds;
    })
    .await
}

/// A login that the throttle refuses, whatever the password.
async fn login_throttled(s: &TestServer, email: &str, password: &str) -> Reply {
    s.try_login(email, password)
        .await
        .expect_error(429, "rate_limited")
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds")
}

#[tokio::test]
async fn login_throttling_per_account_is_429_and_hides_which_accounts_exist() {
    let s = start_with_login_limits(3, 1000, 600).await;
    // Wrong password for a real account and any password for an unknown
    // one: the same 401 body.
    for _ in 0..3 {
        let (real, ghost) = s
            .wrong_logins(OWNER_EMAIL, "nobody@acme.test", "wrong-password")
            .await;
        assert_eq!(
            real.headers.get("www-authenticate"),
            ghost.headers.get("www-authenticate")
        );
    }
    // Both are now blocked, with the same answer — even the right password.
    let real = login_throttled(&s, OWNER_EMAIL, OWNER_PASSWORD).await;
    let ghost = login_throttled(&s, "nobody@acme.test", "x-password").await;
    assert_eq!(real.text, ghost.text);
    let wait = retry_after(&real);
    assert!((1..=600).contains(&wait), "Retry-After {wait}");
    // Email case and spacing do not give a fresh count.
    login_throttled(&s, " OWNER@ACME.TEST ", OWNER_PASSWORD).await;
    // Tokens keep working while password login is blocked.
    s.owner_get("/api/v1/me").await.expect(200);
    // When the window ends, the right password works again.
    s.clock.advance(time::Duration::seconds(601));
    s.try_login(OWNER_EMAIL, OWNER_PASSWORD).await.expect(200);
}

/// Guessing the current password from a stolen session is throttled like
/// logins: past the limit even the right password waits, and the throttle
/// is the account's, shared with the login form.
#[tokio::test]
async fn password_changes_share_the_login_throttle() {
    let s = start_with_login_limits(3, 1000, 900).await;
    let session = s.try_login(OWNER_EMAIL, OWNER_PASSWORD).await.expect(200);
    let cookie = set_cookie(&session);
    let change = |current: &'static str| {
        s.call_with_cookie(
            Method::PUT,
            "/api/v1/me/password",
            &cookie,
            Some(json!({ "current_password": current, "new_password": "a-new-password-1" })),
        )
    };
    for _ in 0..3 {
        change("wrong-password").await.expect(403);
    }
    let blocked = change(OWNER_PASSWORD)
        .await
        .expect_error(429, "rate_limited");
    assert!(retry_after(&blocked) > 0);
    // The account is blocked for logins too.
    login_throttled(&s, OWNER_EMAIL, OWNER_PASSWORD).await;
}

#[tokio::test]
async fn login_throttling_per_ip_spans_accounts_and_successes_do_not_reset_it() {
    let s = start_with_login_limits(100, 4, 900).await;
    for i in 0..4 {
        // A success in between gives back only its own charge.
        s.try_login(OWNER_EMAIL, OWNER_PASSWORD).await.expect(200);
        s.try_login(&format!("guess{i}@acme.test"), "wrong-password")
            .await
            .expect_error(401, "invalid_credentials");
    }
    let blocked = login_throttled(&s, "another@acme.test", "wrong-password").await;
    assert!(retry_after(&blocked) >= 1);
    login_throttled(&s, OWNER_EMAIL, OWNER_PASSWORD).await;
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_is_held_to_the_limit() {
    let s = start_with(|c| c.login.failures_per_account = 5).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let request = s
            .http
            .post(s.url("/api/v1/session"))
            .json(&json!({ "email": OWNER_EMAIL, "password": format!("guess-{i}") }));
        tasks.spawn(async move { request.send().await.expect("sent").status().as_u16() });
    }
    let statuses = tasks.join_all().await;
    let tried = statuses.iter().filter(|&&st| st == 401).count();
    let throttled = statuses.iter().filter(|&&st| st == 429).count();
    assert_eq!((tried, throttled), (5, 15), "{statuses:?}");
}

#[tokio::test]
async fn unknown_emails_cost_a_password_check_like_known_ones() {
    // A coarse check that an unknown email is not answered early: without
    // the dummy argon2 verification it would be ~50x faster. The bound is a
    // ratio of medians of interleaved samples, so machine speed cancels out.
    let s = start_with(|c| c.login.failures_per_account = 0).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..9 {
        let t = Instant::now();
        s.try_login(OWNER_EMAIL, "wrong-password").await.expect(401);
        known.push(t.elapsed());
        let t = Instant::now();
        s.try_login(&format!("ghost{i}@acme.test"), "wrong-password")
            .await
            .expect(401);
        unknown.push(t.elapsed());
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[4].as_secs_f64(), unknown[4].as_secs_f64());
    assert!(
        u > k / 4.0 && u < k * 4.0,
        "median known {k:.4}s vs unknown {u:.4}s"
    );
}

/// Reads until the server closes the connection (or `limit` passes);
/// returns what it sent.
pub(crate) async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into()),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_and_others_are_served() {
    let s = start_with(|c| c.http.header_timeout_seconds = 2).await;
    let addr = s.address();
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    // Trickle a header line every 300 ms; the deadline does not move.
    let trickle = async {
        for i in 0..40 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow
                .write_all(format!("X-Slow-{i}: a\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let probe = async {
        // Meanwhile, normal clients are answered at once.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let t = Instant::now();
            s.assert_serving().await;
            assert!(t.elapsed() < Duration::from_secs(2));
        }
    };
    tokio::join!(trickle, probe);
    let rest = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(rest.is_some(), "the slow connection was never closed");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "closed only after {:?}",
        started.elapsed()
    );
    // An idle connection that never sends anything is closed too.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    assert!(read_until_closed(&mut idle, Duration::from_secs(6))
        .await
        .is_some());
    s.assert_serving().await;
}

/// `POST /verify` runs without the per-request timer (it is the hot path),
/// so its body has a read deadline of its own.
/// The header timeout bounds the wait for a request's head, not the
/// request: a body that takes longer than it (but arrives within the
/// request timeout) is answered, and the connection then serves more.
#[tokio::test]
async fn the_header_timeout_does_not_cut_a_request_in_progress() {
    let s = start_with_header_timeout(1).await;
    let addr = s.address();
    let body = br#"{"token":"tsr_not-a-token"}"#;
    let mut conn = TcpStream::connect(&addr).await.expect("connect");
    conn.write_all(
        format!(
            "POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("head");
    // The body, a byte every 100 ms: 2.7 s, well past the header timeout.
    for byte in body {
        tokio::time::sleep(Duration::from_millis(100)).await;
        conn.write_all(&[*byte]).await.expect("still open");
    }
    let answer = read_answer_head(&mut conn).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    // Kept alive: a second request on the same connection is served.
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("second request");
    let answer = read_answer_head(&mut conn).await;
    assert!(answer.contains("HTTP/1.1 200"), "{answer:?}");
}

/// Reads until the end of an answer's head (or 8 s pass without a byte).
async fn read_answer_head(conn: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while let Ok(Ok(n @ 1..)) =
        tokio::time::timeout(Duration::from_secs(8), conn.read(&mut buf)).await
    {
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_trickled_verify_body_is_cut_off() {
    let s = start_with(|c| c.http.request_timeout_seconds = 2).await;
    let addr = s.address();
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(
        b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"token\":",
    )
    .await
    .expect("write");
    let started = Instant::now();
    let (mut reader, mut writer) = slow.into_split();
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let answer = read_answer_head(&mut reader);
    let (_, answer) = tokio::join!(trickle, answer);
    assert!(
        answer.starts_with("HTTP/1.1 4") || answer.starts_with("HTTP/1.1 5"),
        "the trickled body got: {answer:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "answered only after {:?}",
        started.elapsed()
    );
    s.assert_serving().await;
}

#[tokio::test]
async fn huge_headers_are_431_and_others_are_served() {
    let s = start_with(|c| c.http.max_header_bytes = 16 * 1024).await;
    let addr = s.address();
    // One enormous header, and many ordinary ones.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let many: String = (0..2000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    for request in [big, many] {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        // The server may close before reading it all; that is fine.
        let _ = stream.write_all(request.as_bytes()).await;
        let answer = read_until_closed(&mut stream, Duration::from_secs(5))
            .await
            .expect("connection closed");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
            "unexpected answer: {answer:.200}"
        );
    }
    // Headers within the limit are fine.
    let reply = s
        .http
        .get(s.url("/healthz"))
        .header("x-fine", "b".repeat(8 * 1024))
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let s = start().await;
    let created = s
        .owner_post("/api/v1/tokens", json!({ "name": "h" }))
        .await
        .expect(201);
    let replies = [
        created,
        s.call(Method::GET, "/healthz", None, None).await,
        s.call(Method::GET, "/metrics", None, None).await,
        s.call(Method::GET, "/api/v1/me", None, None)
            .await
            .expect(401),
        s.call(Method::GET, "/nowhere", None, None)
            .await
            .expect(404),
        s.call(Method::GET, "/api/v1/openapi.json", None, None)
            .await,
        s.try_login(OWNER_EMAIL, OWNER_PASSWORD).await.expect(200),
    ];
    // The verification endpoints are answered in front of the router
    // (`verify/hot.rs`), with their own copy of the headers: every kind of answer.
    let token = s.owner_token.clone();
    let auth = || s.http.get(s.url("/api/v1/auth"));
    let bearer = format!("Bearer {token}");
    let hot_replies = [
        s.verify(json!({ "token": token })).await,
        s.post("/api/v1/verify", "", json!({ "token": 5 }))
            .await
            .expect(400),
        s.post(
            "/api/v1/verify",
            "",
            json!({ "token": "x", "action": "a:b" }),
        )
        .await
        .expect(400),
        send(
            s.http
                .post(s.url("/api/v1/verify"))
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await
        .expect(415),
        send(auth().header("authorization", &bearer))
            .await
            .expect(200),
        send(auth()).await.expect(401),
        send(
            auth()
                .header("authorization", &bearer)
                .header("x-tessera-action", "a:b"),
        )
        .await
        .expect(400),
    ];
    assert_eq!(hot_replies[0].headers["content-type"], "application/json");
    for reply in replies.iter().chain(&hot_replies) {
        let h = |name: &str| {
            reply.headers.get(name).map_or_else(
                || panic!("{name} missing ({})", reply.status),
                |v| v.to_str().expect("text").to_owned(),
            )
        };
        assert_eq!(
            h("content-security-policy"),
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        );
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("referrer-policy"), "no-referrer");
        assert_eq!(h("x-frame-options"), "DENY");
    }
    // Nothing is stored by caches — the create answer holds the token's
    // only copy — except what says otherwise: the static assets.
    for reply in replies.iter().chain(&hot_replies) {
        assert_eq!(
            reply.headers["cache-control"], "no-store",
            "{}",
            reply.status
        );
    }
    let css = reqwest::get(s.url("/static/app.css")).await.expect("css");
    assert_eq!(css.headers()["cache-control"], "public, max-age=3600");
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
}

fn set_cookie(reply: &crate::harness::Reply) -> String {
    reply.headers["set-cookie"]
        .to_str()
        .expect("text")
        .to_owned()
}

/// Logs the owner in with `X-Forwarded-Proto: proto`.
async fn login_forwarded(s: &TestServer, proto: &str) -> crate::harness::Reply {
    let body = json!({ "email": OWNER_EMAIL, "password": OWNER_PASSWORD });
    let request = s
        .http
        .post(s.url("/api/v1/session"))
        .header("x-forwarded-proto", proto)
        .json(&body);
    send(request).await.expect(200)
}

#[tokio::test]
async fn the_session_cookie_is_secure_only_behind_https() {
    // Plain HTTP, no trusted proxy: X-Forwarded-Proto from a client is ignored.
    let s = start().await;
    let cookie = set_cookie(&login_forwarded(&s, "https").await);
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "{cookie}");

    // Behind a trusted TLS-terminating proxy, the cookie is Secure.
    let proxied = start_behind_proxy(|_| {}).await;
    let cookie = set_cookie(&login_forwarded(&proxied, "https").await);
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    // The same proxy forwarding plain HTTP: not Secure.
    assert!(!set_cookie(&login_forwarded(&proxied, "http").await).contains("Secure"));

    // cookie_secure forces it.
    let forced = start_with(|c| c.sessions.cookie_secure = true).await;
    let reply = forced
        .try_login(OWNER_EMAIL, OWNER_PASSWORD)
        .await
        .expect(200);
    assert!(set_cookie(&reply).contains("; Secure"));
}

#[tokio::test]
async fn a_member_removed_mid_flight_can_neither_mint_nor_use_tokens() {
    let s = start().await;
    for round in 0..3 {
        let email = format!("racer{round}@acme.test");
        let (member_id, their_token) = s.member_with_token(&email, "writer").await;
        // The member mints tokens as fast as possible while an owner removes them.
        let mut minting = tokio::task::JoinSet::new();
        for i in 0..16 {
            let request = s
                .http
                .post(s.url("/api/v1/tokens"))
                .bearer_auth(&their_token)
                .json(&json!({ "name": format!("race-{i}") }));
            minting.spawn(async move { send(request).await });
        }
        tokio::task::yield_now().await;
        s.owner_delete(&format!("/api/v1/members/{member_id}"))
            .await
            .expect(204);
        let replies = minting.join_all().await;
        let mut minted: Vec<String> = replies
            .iter()
            .filter(|r| r.status == 201)
            .map(|r| r.string("token"))
            .collect();
        for r in replies.iter().filter(|r| r.status != 201) {
            assert_eq!(r.status, 401, "a refused mint must be a 401: {}", r.text);
        }
        // Once the removal is acknowledged, nothing of theirs works —
        // including tokens whose creation raced it and was acknowledged.
        minted.push(their_token.clone());
        for token in &minted {
            let reply = s
                .call(
                    Method::POST,
                    "/api/v1/verify",
                    None,
                    Some(json!({ "token": token })),
                )
                .await
                .expect(200);
            assert_eq!(reply.body["valid"], false, "a removed member's token works");
            s.get("/api/v1/me", token).await.expect(401);
        }
        s.post("/api/v1/tokens", &their_token, json!({ "name": "after" }))
            .await
            .expect(401);
    }
}

/// Sends `GET path` on an open keep-alive connection and reads the whole
/// answer (head and `Content-Length` body); the connection stays open.
async fn get_on(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().expect("length"));
            if got.len() >= end + 4 + length {
                return String::from_utf8_lossy(&got).into_owned();
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("answered in time")
            .expect("read");
        assert!(
            n > 0,
            "closed mid-answer: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn at_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let s = start_with(|c| c.http.max_connections = 2).await;
    let addr = s.address();
    // Two keep-alive connections the server has accepted and answered.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = TcpStream::connect(&addr).await.expect("connect");
        assert!(get_on(&mut conn, "/healthz")
            .await
            .starts_with("HTTP/1.1 200"));
        held.push(conn);
    }
    // A third client connects (the kernel's backlog takes it) but is not
    // served while both slots are taken.
    let third_client = reqwest::Client::new();
    let mut third = tokio::spawn(third_client.get(s.url("/healthz")).send());
    assert!(
        tokio::time::timeout(Duration::from_secs(1), &mut third)
            .await
            .is_err(),
        "a third connection was served past max_connections = 2"
    );
    // The held connections were not dropped to make room.
    assert!(get_on(&mut held[0], "/healthz")
        .await
        .starts_with("HTTP/1.1 200"));
    // One closes: the waiting request is served.
    drop(held.pop());
    assert_served_within_10s(third, "a slot was free").await;
    // The open connections are a metric: the one still held and the third.
    let metrics = get_on(&mut held[0], "/metrics").await;
    assert!(
        metrics.contains("\ntessera_open_connections 2\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_frees_its_slot() {
    let s = start_with_one_slot().await;
    let addr = s.address();
    // A keep-alive connection makes a request, then sits idle holding the
    // only slot.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    assert!(get_on(&mut idle, "/healthz")
        .await
        .starts_with("HTTP/1.1 200"));
    let other = reqwest::Client::new();
    let waiting = tokio::spawn(other.get(s.url("/healthz")).send());
    // The server closes the idle connection (it does not wait for the
    // client to), and the waiting client gets the slot.
    assert!(
        read_until_closed(&mut idle, Duration::from_secs(10))
            .await
            .is_some(),
        "an idle keep-alive connection was kept open"
    );
    assert_served_within_10s(waiting, "the idle connection was closed").await;
}

/// Asserts that `waiting`, a request sent while no connection slot was
/// free, is answered 200 within 10 s, once `freed` (what gave up a slot).
async fn assert_served_within_10s(
    waiting: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
    freed: &str,
) {
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap_or_else(|_| panic!("not served within 10 s once {freed}"))
        .expect("task")
        .expect("sent");
    assert_eq!(answer.status(), 200, "once {freed}");
}

async fn report_from(s: &TestServer, ip: &str, tokens: &[&str]) -> crate::harness::Reply {
    send(
        s.http
            .post(s.url("/api/v1/leaks"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "tokens": tokens })),
    )
    .await
}

async fn is_valid(s: &TestServer, token: &str) -> bool {
    let reply = s.verify(json!({ "token": token })).await;
    reply.body["valid"] == true
}

#[tokio::test]
async fn an_ipv6_client_is_limited_by_its_64_not_per_address() {
    let s = start_behind_proxy(|c| {
        c.leaks.reports_per_ip = 2;
        c.login.failures_per_ip = 2;
        c.login.failures_per_account = 0;
    })
    .await;
    // Each request from another address of one /64.
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
        report_from(&s, ip, &["tsr_not_a_token"]).await.expect(200);
    }
    report_from(&s, "2001:db8:1:2:ffff::9", &["tsr_not_a_token"])
        .await
        .expect_error(429, "rate_limited");
    report_from(&s, "2001:db8:1:3::1", &["tsr_not_a_token"])
        .await
        .expect(200);

    let login_from = |ip: &'static str, email: String| {
        send(
            s.http
                .post(s.url("/api/v1/session"))
                .header("x-forwarded-for", ip)
                .json(&json!({ "email": email, "password": "wrong-password" })),
        )
    };
    for (i, ip) in ["2001:db8:9:9::1", "2001:db8:9:9::2"]
        .into_iter()
        .enumerate()
    {
        login_from(ip, format!("guess{i}@acme.test"))
            .await
            .expect_error(401, "invalid_credentials");
    }
    login_from("2001:db8:9:9::3", "guess3@acme.test".into())
        .await
        .expect_error(429, "rate_limited");
    login_from("2001:db8:9:a::1", "guess4@acme.test".into())
        .await
        .expect_error(401, "invalid_credentials");
}

#[tokio::test]
async fn leak_reports_are_rate_limited_per_ip_and_a_refused_one_is_not_processed() {
    // Behind a trusted proxy, so each test client can have its own address.
    let s = start_behind_proxy(|c| {
        c.leaks.reports_per_ip = 3;
        c.leaks.window_seconds = 600;
    })
    .await;
    let (_, victim, _) = s.owner_creates_token("victim").await;
    for _ in 0..3 {
        report_from(&s, "203.0.113.1", &["tsr_not_a_token"])
            .await
            .expect(200);
    }
    // The fourth report in the window is refused, and what it carries is
    // not looked at: the leaked token still works.
    let refused = report_from(&s, "203.0.113.1", &[&victim])
        .await
        .expect_error(429, "rate_limited");
    let wait = retry_after(&refused);
    assert!((1..=600).contains(&wait), "Retry-After {wait}");
    assert!(
        is_valid(&s, &victim).await,
        "a refused report revoked a token"
    );
    // Another address has its own count; its report is processed.
    let other = report_from(&s, "203.0.113.2", &[&victim]).await.expect(200);
    assert_eq!(other.body["revoked"], 1);
    assert!(!is_valid(&s, &victim).await);
    // When the window ends, the first address may report again.
    s.clock.advance(time::Duration::seconds(601));
    report_from(&s, "203.0.113.1", &["tsr_not_a_token"])
        .await
        .expect(200);
}

#[tokio::test]
async fn a_report_with_too_many_tokens_is_refused_whole() {
    // A body limit large enough that the token cap, not the body size,
    // is what refuses it.
    let s = start_with(|c| c.http.max_body_bytes = 1024 * 1024).await;
    let (_, victim, _) = s.owner_creates_token("victim").await;
    let mut tokens = vec!["tsr_not_a_token"; 1000];
    tokens.push(&victim);
    s.post("/api/v1/leaks", "", json!({ "tokens": tokens }))
        .await
        .expect_error(400, "bad_request");
    assert!(
        is_valid(&s, &victim).await,
        "a refused report revoked a token"
    );
    // 1000 is accepted.
    tokens.remove(0);
    let reply = s
        .post("/api/v1/leaks", "", json!({ "tokens": tokens }))
        .await
        .expect(200);
    assert_eq!(reply.body["revoked"], 1);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_frees_its_slot() {
    let s = start_with_one_slot().await;
    let addr = s.address().parse().expect("address");
    // A client with a tiny receive window pipelines requests for a large
    // public answer (the OpenAPI document) and never reads them: the server
    // is left with answers it cannot write, and no read timeout running.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let mut stalled = socket.connect(addr).await.expect("connect");
    stalled
        .write_all(&b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(200))
        .await
        .expect("write");
    // It holds the only slot until the server gives up on it.
    let other = reqwest::Client::new();
    let waiting = tokio::spawn(other.get(s.url("/healthz")).send());
    assert_served_within_10s(waiting, "the stalled connection was cut off").await;
    // The stalled connection was closed, before all its answers were sent.
    let received = read_until_closed(&mut stalled, Duration::from_secs(10))
        .await
        .expect("the stalled connection was closed");
    assert!(
        received.matches("HTTP/1.1 200").count() < 200,
        "every answer was sent"
    );
}
