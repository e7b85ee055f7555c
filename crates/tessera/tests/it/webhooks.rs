//! Webhooks: endpoints, the durable outbox and signed delivery, against a
//! receiver in the test (a bare HTTP/1.1 server on 127.0.0.1, which the
//! servers here may reach because they set `webhook_allow_private`), on
//! the backend under test; the two-node case always on PostgreSQL.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{postgres_schema, start_with, TestServer};

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// `302` to another place.
    Redirect,
    /// Waits this long before answering `200`.
    Slow(Duration),
    /// `200` with a 1 MiB body.
    Huge,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: String,
}

/// A webhook receiver: answers as scripted (then `200`), records all.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    script: Arc<Mutex<VecDeque<Answer>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        Self::start_on(0).await
    }

    /// A receiver on `port` (0: any free one).
    pub(crate) async fn start_on(port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            script: Arc::default(),
            received: Arc::default(),
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let r = r.clone();
                tokio::spawn(async move { r.serve(stream).await });
            }
        });
        receiver
    }

    fn answer_next(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits up to 10 s until `n` requests came.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait_for_within(n, Duration::from_secs(10)).await
    }

    /// Waits up to `limit` until `n` requests came.
    pub(crate) async fn wait_for_within(&self, n: usize, limit: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n || start.elapsed() > limit {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn serve(&self, mut stream: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            let Ok(n) = stream.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let headers: HashMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let Ok(n) = stream.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
        self.received
            .lock()
            .unwrap()
            .push(Received { headers, body });
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Answer::Status(200));
        let response = match answer {
            Answer::Status(code) => {
                format!("HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            }
            Answer::Redirect => "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/\r\n\
                 content-length: 0\r\nconnection: close\r\n\r\n"
                .to_owned(),
            Answer::Slow(wait) => {
                tokio::time::sleep(wait).await;
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_owned()
            }
            Answer::Huge => {
                let big = "x".repeat(1024 * 1024);
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{big}",
                    big.len()
                )
            }
        };
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

/// A server on the backend under test that may send to 127.0.0.1.
async fn server() -> TestServer {
    start_with(|c| c.webhooks.allow_private = true).await
}

/// Makes an endpoint for `events`: (its id, its `whsec_` secret).
pub(crate) async fn endpoint(s: &TestServer, url: &str, events: Value) -> (String, String) {
    let reply = s
        .owner_post("/api/v1/webhooks", json!({ "url": url, "events": events }))
        .await
        .expect(201);
    (reply.string("id"), reply.string("secret"))
}

/// Recomputes the Standard Webhooks signature of a received request.
fn signature_holds(secret: &str, got: &Received) -> bool {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let id = &got.headers["webhook-id"];
    let timestamp = &got.headers["webhook-timestamp"];
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", got.body).as_bytes());
    let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    got.headers["webhook-signature"]
        .split(' ')
        .any(|s| s == expected)
}

/// One delivery pass of this node, as the worker makes every second.
pub(crate) async fn pass(s: &TestServer) -> usize {
    tessera_server::service::webhooks::deliver_due(s.state())
        .await
        .expect("delivery pass")
}

async fn deliveries(s: &TestServer, webhook: &str) -> Vec<Value> {
    s.owner_get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
        .await
        .expect(200)
        .items()
        .to_vec()
}

/// Waits until the endpoint's newest delivery has `attempts` attempts.
async fn wait_attempts(s: &TestServer, webhook: &str, attempts: u64) -> Value {
    let start = Instant::now();
    loop {
        pass(s).await;
        let items = deliveries(s, webhook).await;
        if let Some(d) = items.first() {
            if d["attempts"].as_u64() >= Some(attempts) || start.elapsed() > Duration::from_secs(20)
            {
                return d.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_new_token_is_announced_signed_and_without_its_value() {
    let s = server().await;
    let receiver = Receiver::start().await;
    let (webhook, secret) = endpoint(&s, &receiver.url, json!(["token.created"])).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let raw = BASE64.decode(&secret["whsec_".len()..]).unwrap();
    assert!((24..=32).contains(&raw.len()));

    let (token_id, token_value, _) = s.owner_creates_token("ci deploy").await;
    pass(&s).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let delivery = &got[0];
    assert!(signature_holds(&secret, delivery), "{delivery:?}");
    let body: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body["type"], "token.created");
    assert_eq!(body["data"]["token_id"], token_id.as_str());
    assert_eq!(body["data"]["name"], "ci deploy");
    assert!(body["timestamp"].is_string());
    assert!(
        !delivery.body.contains(&token_value),
        "a token value was sent"
    );
    let secret_part = token_value.rsplit('_').next().unwrap();
    assert!(!delivery.body.contains(secret_part));
    assert!(delivery.headers["webhook-id"].starts_with("msg_"));

    let items = deliveries(&s, &webhook).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["status"], "succeeded");
    assert_eq!(items[0]["type"], "token.created");
    assert_eq!(items[0]["attempts"], 1);
    assert_eq!(items[0]["last_response_code"], 200);
    assert_eq!(items[0]["id"], delivery.headers["webhook-id"].as_str());

    // The secret is shown once: never in a read, a list or the audit log.
    let shown = s
        .owner_get(&format!("/api/v1/webhooks/{webhook}"))
        .await
        .expect(200);
    assert!(shown.body.get("secret").is_none());
    let listed = s.owner_get("/api/v1/webhooks").await.expect(200);
    let audit = s
        .owner_get("/api/v1/audit?action=webhook:")
        .await
        .expect(200);
    for text in [&shown.text, &listed.text, &audit.text] {
        assert!(!text.contains(&secret["whsec_".len()..]));
    }
    assert_eq!(audit.items().len(), 1);

    // Not subscribed: a deleted token sends nothing to this endpoint.
    s.owner_delete(&format!("/api/v1/tokens/{token_id}"))
        .await
        .expect(204);
    pass(&s).await;
    assert_eq!(deliveries(&s, &webhook).await.len(), 1);
}

#[tokio::test]
async fn revocations_say_why_and_everything_reaches_a_star_endpoint() {
    let s = server().await;
    let receiver = Receiver::start().await;
    let (_, secret) = endpoint(&s, &receiver.url, json!(["*"])).await;
    let (token_id, _, _) = s.owner_creates_token("short lived").await;
    s.owner_delete(&format!("/api/v1/tokens/{token_id}"))
        .await
        .expect(204);
    s.add_member("new@acme.test", "reader", "member-password-1")
        .await;
    pass(&s).await;
    let got = receiver.wait_for(3).await;
    let mut types: Vec<String> = got
        .iter()
        .map(|r| {
            assert!(signature_holds(&secret, r));
            let body: Value = serde_json::from_str(&r.body).unwrap();
            if body["type"] == "token.revoked" {
                assert_eq!(body["data"]["reason"], "deleted");
            }
            body["type"].as_str().unwrap().to_owned()
        })
        .collect();
    types.sort();
    assert_eq!(types, ["member.added", "token.created", "token.revoked"]);
}

#[tokio::test]
async fn tokens_that_go_with_their_owner_are_revoked_with_a_reason() {
    let s = server().await;
    let receiver = Receiver::start().await;
    endpoint(&s, &receiver.url, json!(["token.revoked"])).await;
    let (member, _) = s.member_with_token("leaving@acme.test", "writer").await;
    let account = s
        .owner_post(
            "/api/v1/service-accounts",
            json!({ "name": "ci", "role": "reader" }),
        )
        .await
        .expect(201)
        .string("id");
    let account_token = s
        .owner_post(
            &format!("/api/v1/service-accounts/{account}/tokens"),
            json!({ "name": "deploy" }),
        )
        .await
        .expect(201)
        .string("id");
    s.owner_delete(&format!("/api/v1/members/{member}"))
        .await
        .expect(204);
    s.owner_delete(&format!("/api/v1/service-accounts/{account}"))
        .await
        .expect(204);
    pass(&s).await;
    let got = receiver.wait_for(2).await;
    let mut reasons: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(body["type"], "token.revoked");
            (
                body["data"]["reason"].as_str().unwrap().to_owned(),
                body["data"]["token_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, "member_removed");
    assert_eq!(
        reasons[1],
        ("service_account_deleted".into(), account_token)
    );
}

#[tokio::test]
async fn failed_attempts_are_retried_on_the_schedule_with_the_same_id() {
    let s = server().await;
    let receiver = Receiver::start().await;
    let (webhook, secret) = endpoint(&s, &receiver.url, json!(["token.created"])).await;
    receiver.answer_next(&[Answer::Status(500), Answer::Status(503)]);
    s.owner_creates_token("retried").await;

    let first = wait_attempts(&s, &webhook, 1).await;
    assert_eq!(first["status"], "pending", "{first}");
    assert_eq!(first["last_response_code"], 500);
    assert!(first["last_error"].as_str().unwrap().contains("500"));
    assert!(first["next_attempt_at"].is_string());
    // Not before its time (5 s after the failure)...
    pass(&s).await;
    assert_eq!(receiver.received().len(), 1);
    // ...then again at 5 s, and at 5 min.
    s.clock.advance(time::Duration::seconds(6));
    let second = wait_attempts(&s, &webhook, 2).await;
    assert_eq!(second["last_response_code"], 503);
    s.clock.advance(time::Duration::minutes(6));
    let third = wait_attempts(&s, &webhook, 3).await;
    assert_eq!(third["status"], "succeeded", "{third}");
    assert_eq!(third["next_attempt_at"], Value::Null);

    let got = receiver.received();
    assert_eq!(got.len(), 3);
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].as_str())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(got.iter().all(|r| signature_holds(&secret, r)));
}

#[tokio::test]
async fn redirects_timeouts_and_huge_answers_are_failed_attempts() {
    let s = server().await;
    s.state()
        .webhook_timeout_ms
        .store(2000, std::sync::atomic::Ordering::Relaxed);
    for (answer, reason) in [
        (Answer::Redirect, "redirect"),
        (Answer::Slow(Duration::from_secs(6)), "no answer within"),
        (Answer::Huge, "KiB"),
    ] {
        // An endpoint (and receiver) per case: retries of one case's
        // delivery never take another case's scripted answer.
        let receiver = Receiver::start().await;
        let (webhook, _) = endpoint(&s, &receiver.url, json!(["token.created"])).await;
        receiver.answer_next(&[answer]);
        s.owner_creates_token(&format!("{answer:?}")).await;
        let d = wait_attempts(&s, &webhook, 1).await;
        assert_eq!(d["status"], "pending", "{answer:?}: {d}");
        let error = d["last_error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{answer:?}: {error}");
        s.owner_delete(&format!("/api/v1/webhooks/{webhook}"))
            .await
            .expect(204);
    }
}

#[tokio::test]
async fn retry_and_ping_send_at_once() {
    let s = server().await;
    let receiver = Receiver::start().await;
    let (webhook, secret) = endpoint(&s, &receiver.url, json!(["token.created"])).await;
    receiver.answer_next(&[Answer::Status(500)]);
    s.owner_creates_token("retry me").await;
    let failed = wait_attempts(&s, &webhook, 1).await;
    let id = failed["id"].as_str().unwrap();
    let retried = s
        .owner_post(
            &format!("/api/v1/webhooks/{webhook}/deliveries/{id}/retry"),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(retried.body["status"], "succeeded");
    assert_eq!(retried.body["attempts"], 2);
    let got = receiver.received();
    assert_eq!(got[1].headers["webhook-id"], id);
    // Whatever its status: a succeeded one is sent again too.
    s.owner_post(
        &format!("/api/v1/webhooks/{webhook}/deliveries/{id}/retry"),
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(receiver.received().len(), 3);

    let ping = s
        .owner_post(&format!("/api/v1/webhooks/{webhook}/ping"), json!({}))
        .await
        .expect(200);
    assert_eq!(ping.body["type"], "webhook.ping");
    assert_eq!(ping.body["status"], "succeeded");
    let last = receiver.received().pop().unwrap();
    assert!(signature_holds(&secret, &last));
    assert!(last.body.contains("webhook.ping"));
    s.owner_post(
        &format!("/api/v1/webhooks/{webhook}/deliveries/msg_nope/retry"),
        json!({}),
    )
    .await
    .expect_error(404, "not_found");

    let metrics = crate::harness::metrics_of(&s.http, &s.base).await;
    assert!(
        metrics.contains("tessera_webhook_deliveries_total{outcome=\"succeeded\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("tessera_webhook_queue_depth"));
    assert!(metrics.contains("tessera_webhook_oldest_pending_seconds"));
}

#[tokio::test]
async fn endpoints_are_checked_and_only_admins_manage_them() {
    // Without the setting: private and loopback addresses are refused.
    let s = start_with(|_| {}).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://localhost/hook",
    ] {
        s.owner_post("/api/v1/webhooks", json!({ "url": url, "events": ["*"] }))
            .await
            .expect_error(422, "validation_failed");
    }
    for url in [
        "ftp://example.com/",
        "https://user:pw@example.com/",
        "not a url",
    ] {
        s.owner_post("/api/v1/webhooks", json!({ "url": url, "events": ["*"] }))
            .await
            .expect_error(400, "bad_request");
    }
    s.owner_post(
        "/api/v1/webhooks",
        json!({ "url": "http://127.0.0.1/", "events": ["token.exploded"] }),
    )
    .await
    .expect_error(400, "bad_request");
    s.owner_get("/api/v1/webhooks").await.expect(200);

    // Readers and writers neither make nor read them.
    let s = server().await;
    let receiver = Receiver::start().await;
    let (webhook, _) = endpoint(&s, &receiver.url, json!(["*"])).await;
    for role in ["reader", "writer"] {
        let (_, token) = s
            .member_with_token(&format!("{role}@acme.test"), role)
            .await;
        s.post(
            "/api/v1/webhooks",
            &token,
            json!({ "url": receiver.url, "events": ["*"] }),
        )
        .await
        .expect_error(403, "forbidden");
        s.get(&format!("/api/v1/webhooks/{webhook}"), &token)
            .await
            .expect_error(403, "forbidden");
        let listed = s.get("/api/v1/webhooks", &token).await.expect(200);
        assert!(listed.items().is_empty());
        s.delete(&format!("/api/v1/webhooks/{webhook}"), &token)
            .await
            .expect_error(403, "forbidden");
    }

    let patched = s
        .owner_patch(
            &format!("/api/v1/webhooks/{webhook}"),
            json!({ "events": ["member.added"], "description": "members" }),
        )
        .await
        .expect(200);
    assert_eq!(patched.body["events"], json!(["member.added"]));
    assert_eq!(patched.body["description"], "members");
    s.owner_delete(&format!("/api/v1/webhooks/{webhook}"))
        .await
        .expect(204);
    s.owner_get(&format!("/api/v1/webhooks/{webhook}"))
        .await
        .expect_error(404, "not_found");
}

/// `tessera` with this server and the owner's token: stdout, stderr and
/// whether it succeeded.
async fn cli(s: &TestServer, args: &[&str]) -> (String, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = crate::cli::tessera(dir.path());
    cmd.env("TESSERA_URL", &s.base)
        .env("TESSERA_TOKEN", &s.owner_token)
        .args(args);
    let out = tokio::task::spawn_blocking(move || crate::cli::run(cmd, ""))
        .await
        .unwrap();
    (
        crate::cli::text(&out.stdout),
        crate::cli::text(&out.stderr),
        out.status.success(),
    )
}

#[tokio::test]
async fn the_cli_manages_endpoints_and_shows_deliveries() {
    let s = server().await;
    let receiver = Receiver::start().await;
    let (secret, stderr, ok) = cli(
        &s,
        &[
            "webhook",
            "create",
            &receiver.url,
            "--event",
            "token.created",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(secret.trim().starts_with("whsec_"), "{secret}");
    assert!(stderr.contains("will not be shown again"), "{stderr}");
    let listed = s.owner_get("/api/v1/webhooks").await.expect(200);
    let id = listed.items()[0]["id"].as_str().unwrap().to_owned();
    let (out, stderr, ok) = cli(&s, &["webhook", "ping", &id]).await;
    assert!(ok, "{stderr}");
    assert!(out.contains("succeeded"), "{out}");
    let (out, _, ok) = cli(&s, &["webhook", "deliveries", &id]).await;
    assert!(ok && out.contains("webhook.ping"), "{out}");
    let (out, _, ok) = cli(&s, &["webhook", "list"]).await;
    assert!(ok && out.contains(&id) && !out.contains("whsec_"), "{out}");
    let (_, stderr, ok) = cli(&s, &["webhook", "delete", &id, "--yes"]).await;
    assert!(ok, "{stderr}");
    assert!(s
        .owner_get("/api/v1/webhooks")
        .await
        .expect(200)
        .items()
        .is_empty());
}

#[tokio::test]
async fn admins_see_endpoints_and_deliveries_on_the_web_page() {
    let s = server().await;
    let receiver = Receiver::start().await;
    let (_, secret) = endpoint(&s, &receiver.url, json!(["token.created"])).await;
    s.owner_creates_token("shown").await;
    pass(&s).await;
    receiver.wait_for(1).await;
    let cookie = s
        .login(crate::harness::OWNER_EMAIL, crate::harness::OWNER_PASSWORD)
        .await;
    let tokens_page = s
        .call_with_cookie(reqwest::Method::GET, "/tokens", &cookie, None)
        .await
        .expect(200);
    assert!(tokens_page.text.contains("href=\"/admin/webhooks\""));
    let shown = s
        .call_with_cookie(reqwest::Method::GET, "/admin/webhooks", &cookie, None)
        .await
        .expect(200);
    assert!(shown.text.contains(&receiver.url), "{}", shown.text);
    assert!(shown.text.contains("token.created"));
    assert!(shown.text.contains("succeeded"));
    assert!(!shown.text.contains(&secret["whsec_".len()..]));
}

/// Two nodes on one PostgreSQL database, each running its delivery
/// worker: every event is delivered exactly once.
#[tokio::test]
async fn two_nodes_deliver_each_event_once() {
    if std::env::var("TESSERA_TEST_BACKEND").as_deref() != Ok("postgres") {
        return;
    }
    let (first, second, receiver) = two_nodes_announcing_new_tokens().await;
    const N: usize = 30;
    for i in 0..N {
        first.owner_creates_token(&format!("token {i}")).await;
    }
    // Both nodes' workers, and passes from here, race for the deliveries.
    let other = second.state.clone();
    let racing = tokio::spawn(async move {
        for _ in 0..20 {
            tessera_server::service::webhooks::deliver_due(&other)
                .await
                .unwrap();
        }
    });
    for _ in 0..20 {
        pass(&first).await;
    }
    racing.await.unwrap();
    let got = receiver.wait_for(N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = receiver.received();
    assert_eq!(got.len(), N);
    let mut ids: Vec<&str> = got_after
        .iter()
        .map(|r| r.headers["webhook-id"].as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), got_after.len(), "a delivery was sent twice");
    assert_eq!(got_after.len(), N);
}

/// Two nodes on a new PostgreSQL schema, both allowed private webhook
/// URLs, and a receiver that an endpoint sends `token.created` to.
pub(crate) async fn two_nodes_announcing_new_tokens(
) -> (TestServer, tessera_server::RunningServer, Receiver) {
    let url = postgres_schema().await;
    let first = {
        let url = url.clone();
        start_with(move |c| {
            c.database.url = url.into();
            c.webhooks.allow_private = true;
        })
        .await
    };
    let (_, second) = start_node_allowing_private(&url).await;
    let receiver = Receiver::start().await;
    endpoint(&first, &receiver.url, json!(["token.created"])).await;
    (first, second, receiver)
}

pub(crate) async fn start_node_allowing_private(
    url: &str,
) -> (String, tessera_server::RunningServer) {
    let mut config = tessera_server::Config::with_database_url(url);
    config.webhooks.allow_private = true;
    let state = tessera_server::open(config).await.expect("open store");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = tessera_server::start(state, listener, std::future::pending()).expect("start");
    (format!("http://{}", server.addr), server)
}
