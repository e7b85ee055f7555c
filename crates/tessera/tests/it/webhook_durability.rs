//! Webhook durability, the issue's must-shows:
//! - events acknowledged before `tessera serve` is killed with SIGKILL
//!   (the receiver down all along) are all delivered after the restart,
//!   none twice;
//! - two nodes on PostgreSQL deliver 1,000 events, counting duplicates.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{json, Value};

use crate::harness::database_url;
use crate::process::{init, ServeProcess};
use crate::webhooks::{pass, two_nodes_announcing_new_tokens, Receiver};

/// Events acknowledged while the receiver is unreachable survive a
/// SIGKILL and are delivered after the restart, each once.
#[tokio::test]
async fn events_acknowledged_before_a_kill_are_all_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path()).await;
    let owner = init(dir.path(), &url, "owner@acme.test", "owner-password-1");
    let env = [("TESSERA_WEBHOOK_ALLOW_PRIVATE", "true")];
    let mut server = ServeProcess::start(dir.path(), &url, "before", &env).await;
    let http = Client::new();
    // The receiver's port, with nothing listening on it yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hook = http
        .post(format!("{}/api/v1/webhooks", server.base))
        .bearer_auth(&owner)
        .json(
            &json!({ "url": format!("http://127.0.0.1:{port}/hook"), "events": ["token.created"] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    let hook: Value = hook.json().await.unwrap();
    const N: usize = 25;
    let mut acknowledged = Vec::new();
    for i in 0..N {
        let reply = http
            .post(format!("{}/api/v1/tokens", server.base))
            .bearer_auth(&owner)
            .json(&json!({ "name": format!("before the kill {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        let body: Value = reply.json().await.unwrap();
        acknowledged.push(body["id"].as_str().unwrap().to_owned());
    }
    server.kill9();

    let receiver = Receiver::start_on(port).await;
    let server = ServeProcess::start(dir.path(), &url, "after", &env).await;
    // A delivery the killed node had claimed (its attempt cut off) waits
    // for that claim's lease, 2 minutes, before the new run takes it.
    let got = receiver.wait_for_within(N, Duration::from_secs(150)).await;
    // Anything more would come now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_after = receiver.received();
    assert_eq!(got.len(), N, "delivered after the restart");
    let mut ids: Vec<&str> = got_after
        .iter()
        .map(|r| r.headers["webhook-id"].as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), got_after.len(), "a delivery was sent twice");
    let mut delivered: Vec<String> = got_after
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            body["data"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    delivered.sort();
    acknowledged.sort();
    assert_eq!(delivered, acknowledged);
    // The delivery log agrees: each succeeded, once.
    let log: Value = http
        .get(format!(
            "{}/api/v1/webhooks/{}/deliveries",
            server.base,
            hook["id"].as_str().unwrap()
        ))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), N);
    assert!(items.iter().all(|d| d["status"] == "succeeded"), "{log}");
}

/// Two nodes on one PostgreSQL database, both delivering, 1,000 events:
/// each delivered, and the number of duplicates printed (target 0).
#[tokio::test]
async fn two_nodes_deliver_a_thousand_events() {
    if std::env::var("TESSERA_TEST_BACKEND").as_deref() != Ok("postgres") {
        return;
    }
    let (first, second, receiver) = two_nodes_announcing_new_tokens().await;
    const N: usize = 1000;
    let started = Instant::now();
    // Four writers at once, as clients would.
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (base, token) = (first.base.clone(), first.owner_token.clone());
        writers.spawn(async move {
            let http = Client::new();
            for i in 0..N / 4 {
                let reply = http
                    .post(format!("{base}/api/v1/tokens"))
                    .bearer_auth(&token)
                    .json(&json!({ "name": format!("w{w} token {i}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 201);
            }
        });
    }
    // Both nodes' workers run each second; these passes race them too.
    let other = second.state.clone();
    let racing = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if tessera_server::service::webhooks::deliver_due(&other)
                .await
                .unwrap()
                == 0
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    while writers.join_next().await.is_some() {}
    let got = loop {
        pass(&first).await;
        let got = receiver.received();
        if got.len() >= N || started.elapsed() > Duration::from_secs(120) {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    racing.abort();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = receiver.received();
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for r in &all {
        *per_id.entry(r.headers["webhook-id"].clone()).or_default() += 1;
    }
    let duplicates: usize = per_id.values().map(|n| n - 1).sum();
    println!(
        "two nodes, {N} events: {} delivered ({} distinct) in {:.1} s, {duplicates} duplicate deliveries",
        all.len(),
        per_id.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(got.len() >= N);
    assert_eq!(per_id.len(), N, "each event delivered");
    assert_eq!(
        duplicates, 0,
        "duplicate deliveries while both nodes were up"
    );
}

/// A TLS receiver: Python's `http.server` behind `ssl`, with a self-signed
/// certificate for `localhost`, appending each `webhook-id` to a file.
const TLS_RECEIVER: &str = r#"
import http.server, ssl, sys
port, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(log, "a") as f:
            f.write(self.headers.get("webhook-id", "") + "\n")
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", port), Hook)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

/// Deliveries go over HTTPS with the certificate checked: a self-signed
/// receiver is refused until its certificate is trusted through
/// `SSL_CERT_FILE` (what OpenSSL, under native-tls, reads).
#[tokio::test]
async fn https_deliveries_check_the_certificate_and_trust_ssl_cert_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("received.txt");
    let mut receiver = std::process::Command::new("python3")
        .args(["-c", TLS_RECEIVER, &port.to_string()])
        .args([&cert, &key, &log])
        .spawn()
        .expect("python3 runs");
    let url = database_url(dir.path()).await;
    let owner = init(dir.path(), &url, "owner@acme.test", "owner-password-1");
    let http = Client::new();
    let allow = ("TESSERA_WEBHOOK_ALLOW_PRIVATE", "true");
    let ping = async |base: &str, hook: &str| {
        let reply = http
            .post(format!("{base}/api/v1/webhooks/{hook}/ping"))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{}", reply.status());
        // A ping is sent at once; the answer is its delivery.
        reply.json::<Value>().await.unwrap()
    };

    let mut untrusting = ServeProcess::start(dir.path(), &url, "untrusting", &[allow]).await;
    let hook: Value = http
        .post(format!("{}/api/v1/webhooks", untrusting.base))
        .bearer_auth(&owner)
        .json(&json!({ "url": format!("https://localhost:{port}/hook"), "events": ["*"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook = hook["id"].as_str().unwrap().to_owned();
    let refused = ping(&untrusting.base, &hook).await;
    assert_eq!(refused["status"], "pending", "{refused}");
    assert!(refused["last_response_code"].is_null(), "{refused}");
    untrusting.kill9();

    let cert_file = cert.to_str().unwrap();
    let trusting = ServeProcess::start(
        dir.path(),
        &url,
        "trusting",
        &[allow, ("SSL_CERT_FILE", cert_file)],
    )
    .await;
    let sent = ping(&trusting.base, &hook).await;
    let _ = receiver.kill();
    let _ = receiver.wait();
    assert_eq!(sent["status"], "succeeded", "{sent}");
    assert_eq!(sent["last_response_code"], 200);
    let received = std::fs::read_to_string(&log).unwrap_or_default();
    // The first ping's delivery, retried by the trusting run, may be there too.
    let mut ids: Vec<&str> = received.lines().collect();
    assert!(ids.contains(&sent["id"].as_str().unwrap()), "{received}");
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all, "{received}");
}
