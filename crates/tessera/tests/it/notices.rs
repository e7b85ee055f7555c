//! Events' `data` as the API shows it, expiry notices (moved by the
//! server's clock, never by sleeping), and notice emails received by a
//! real SMTP server (Python's aiosmtpd, see tests/email/requirements.txt).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::harness::{start_with, TestServer, OWNER_EMAIL};
use crate::webhooks::{endpoint, pass, start_node_allowing_private, Receiver};

async fn server() -> TestServer {
    start_with(|c| c.webhooks.allow_private = true).await
}

/// The event bodies the receiver got, in order.
fn bodies(receiver: &Receiver) -> Vec<Value> {
    receiver
        .received()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

/// Delivers and waits until `n` events arrived; their bodies.
async fn events(s: &TestServer, receiver: &Receiver, n: usize) -> Vec<Value> {
    pass(s).await;
    receiver.wait_for(n).await;
    bodies(receiver)
}

async fn scan(s: &TestServer) -> u64 {
    tessera_server::service::expiry::scan(s.state())
        .await
        .expect("expiry scan")
}

/// An RFC 3339 time `by` after the server's (moved) clock.
fn server_time_plus(s: &TestServer, by: time::Duration) -> String {
    (s.state().now() + by).format(&Rfc3339).unwrap()
}

#[tokio::test]
async fn event_data_is_the_metadata_the_api_shows() {
    let s = server().await;
    let receiver = Receiver::start().await;
    endpoint(&s, &receiver.url, json!(["*"])).await;
    let (token_id, value, created) = s
        .owner_creates_token_with(json!({ "name": "ci", "role": "reader",
            "expires_at": crate::harness::in_days(30) }))
        .await;
    let shown = s
        .owner_get(&format!("/api/v1/tokens/{token_id}"))
        .await
        .expect(200);
    s.owner_delete(&format!("/api/v1/tokens/{token_id}"))
        .await
        .expect(204);
    let member = s
        .owner_post(
            "/api/v1/members",
            json!({ "email": "new@acme.test", "name": "New", "role": "writer",
                "password": "member-password-1" }),
        )
        .await
        .expect(201);
    let account = s
        .owner_post(
            "/api/v1/service-accounts",
            json!({ "name": "deployer", "role": "reader", "description": "CI" }),
        )
        .await
        .expect(201);
    s.owner_delete(&format!(
        "/api/v1/service-accounts/{}",
        account.string("id")
    ))
    .await
    .expect(204);
    let got = events(&s, &receiver, 5).await;
    let of = |ty: &str| {
        got.iter()
            .find(|e| e["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty} in {got:?}"))["data"]
            .clone()
    };
    // Every field of the token's metadata, as GET /tokens/{id} shows it.
    let created_data = of("token.created");
    for (key, expected) in shown.body.as_object().unwrap() {
        assert_eq!(&created_data[key], expected, "token.created data.{key}");
    }
    assert_eq!(created_data["actor"]["member_id"], s.owner_id.as_str());
    assert_eq!(created["id"], created_data["id"]);
    let revoked = of("token.revoked");
    assert_eq!(revoked["reason"], "deleted");
    assert_eq!(revoked["id"], token_id.as_str());
    assert_eq!(revoked["snippet"], shown.body["snippet"]);
    assert_eq!(revoked["role"], "reader");
    let added = of("member.added");
    for key in ["id", "email", "name", "role", "custom_roles", "created_at"] {
        assert_eq!(added[key], member.body[key], "member.added data.{key}");
    }
    let deleted = of("service_account.deleted");
    for key in ["id", "name", "description", "role", "created_by"] {
        assert_eq!(
            deleted[key], account.body[key],
            "service_account.deleted data.{key}"
        );
    }
    let all: String = receiver.received().iter().map(|r| r.body.clone()).collect();
    assert!(!all.contains(&value), "a token value was sent");
    assert!(!all.contains("member-password-1"));
}

#[tokio::test]
async fn warning_days_are_part_of_the_policy_and_checked() {
    let s = server().await;
    let org = s.owner_get("/api/v1/org").await.expect(200);
    assert_eq!(
        org.body["token_policy"]["expiry_warning_days"],
        json!([7, 1])
    );
    let set = s
        .owner_patch(
            "/api/v1/org",
            json!({ "token_policy": { "expiry_warning_days": [1, 30, 7] } }),
        )
        .await
        .expect(200);
    assert_eq!(
        set.body["token_policy"]["expiry_warning_days"],
        json!([30, 7, 1])
    );
    let eleven: Vec<u32> = (1..=11).collect();
    for bad in [json!([0]), json!([366]), json!([7, 7]), json!(eleven)] {
        let reply = s
            .owner_patch(
                "/api/v1/org",
                json!({ "token_policy": { "expiry_warning_days": bad } }),
            )
            .await
            .expect_error(422, "validation_failed");
        assert!(reply.text.contains("expiry_warning_days"), "{}", reply.text);
    }
    for bad in [json!("7"), json!([-1]), json!([1.5])] {
        s.owner_patch(
            "/api/v1/org",
            json!({ "token_policy": { "expiry_warning_days": bad } }),
        )
        .await
        .expect(400);
    }
    let off = s
        .owner_patch(
            "/api/v1/org",
            json!({ "token_policy": { "expiry_warning_days": [] } }),
        )
        .await
        .expect(200);
    assert_eq!(off.body["token_policy"]["expiry_warning_days"], json!([]));
    // The policy page shows them.
    let cookie = s.login(OWNER_EMAIL, crate::harness::OWNER_PASSWORD).await;
    let page = s
        .call_with_cookie(reqwest::Method::GET, "/admin/policy", &cookie, None)
        .await;
    assert!(page.text.contains("expiry_warning_days"), "{}", page.text);
}

#[tokio::test]
async fn each_window_and_the_expiry_are_announced_once() {
    let s = server().await;
    let receiver = Receiver::start().await;
    endpoint(
        &s,
        &receiver.url,
        json!(["token.expiring", "token.expired"]),
    )
    .await;
    let hours = time::Duration::hours;
    let (soon, _, _) = s
        .owner_creates_token_with(
            json!({ "name": "soon", "expires_at": server_time_plus(&s, hours(72)) }),
        )
        .await;
    let (later, _, _) = s
        .owner_creates_token_with(
            json!({ "name": "later", "expires_at": server_time_plus(&s, hours(24 * 20)) }),
        )
        .await;
    // Created inside the 1-day window: only that window's warning.
    let (tonight, _, _) = s
        .owner_creates_token_with(
            json!({ "name": "tonight", "expires_at": server_time_plus(&s, hours(12)) }),
        )
        .await;
    // (Each node also checks as it starts, which may have come first: the
    // events below say what was sent, and that nothing was sent twice.)
    scan(&s).await;
    assert_eq!(scan(&s).await, 0, "a second check sends nothing again");

    s.clock.advance(hours(61)); // soon: 11 h left; tonight: expired
    assert_eq!(scan(&s).await, 2);
    assert_eq!(scan(&s).await, 0);
    s.clock.advance(hours(12)); // soon: expired
    assert_eq!(scan(&s).await, 1);
    s.clock.advance(hours(24 * 30)); // long after: nothing more
    assert_eq!(scan(&s).await, 0);

    // A new expiry inside a window starts afresh, each time it moves.
    for days in [5, 6] {
        s.owner_patch(
            &format!("/api/v1/tokens/{later}"),
            json!({ "expires_at": server_time_plus(&s, hours(24 * days)) }),
        )
        .await
        .expect(200);
        assert_eq!(scan(&s).await, 1, "moved to {days} days");
    }

    let got = events(&s, &receiver, 7).await;
    let mut seen: Vec<(String, String, u64)> = got
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["id"].as_str().unwrap().to_owned(),
                e["data"]["days"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    seen.sort();
    let expect = |ty: &str, id: &str, days: u64| (ty.to_owned(), id.to_owned(), days);
    let mut expected = vec![
        expect("token.expiring", &tonight, 1),
        expect("token.expiring", &soon, 7),
        expect("token.expired", &tonight, 0),
        expect("token.expiring", &soon, 1),
        expect("token.expired", &soon, 0),
        expect("token.expiring", &later, 7),
        expect("token.expiring", &later, 7),
    ];
    expected.sort();
    assert_eq!(seen, expected, "{got:#?}");
    let first = got
        .iter()
        .find(|e| e["data"]["id"] == tonight.as_str())
        .unwrap();
    assert_eq!(first["data"]["name"], "tonight");
    assert!(first["data"]["expires_at"].is_string());
}

/// Several nodes checking at once, and a node started afresh: each notice
/// is recorded once.
#[tokio::test]
async fn nodes_checking_at_once_record_each_notice_once() {
    let s = server().await;
    let receiver = Receiver::start().await;
    endpoint(&s, &receiver.url, json!(["token.expiring"])).await;
    const N: usize = 20;
    for i in 0..N {
        s.owner_creates_token_with(
            json!({ "name": format!("t{i}"), "expires_at": crate::harness::in_days(3) }),
        )
        .await;
    }
    let (_, second) = start_node_allowing_private(&s.database_url).await;
    let (_, third) = start_node_allowing_private(&s.database_url).await;
    let (a, b, c) = tokio::join!(
        tessera_server::service::expiry::scan(s.state()),
        tessera_server::service::expiry::scan(&second.state),
        tessera_server::service::expiry::scan(&third.state),
    );
    // Each node also checks once as it starts: these calls record what
    // those checks left, and never more than once in all.
    assert!(a.unwrap() + b.unwrap() + c.unwrap() <= N as u64);
    let (_, fresh) = start_node_allowing_private(&s.database_url).await;
    assert_eq!(
        tessera_server::service::expiry::scan(&fresh.state)
            .await
            .unwrap(),
        0
    );
    events(&s, &receiver, N).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    pass(&s).await;
    let mut ids: Vec<String> = bodies(&receiver)
        .iter()
        .map(|e| e["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), N, "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "a token was warned twice");
}

// ---------------------------------------------------------------- email

/// A real SMTP server on a free port, writing what it receives to a
/// maildir; stopped when dropped.
pub(crate) struct Smtp {
    child: Child,
    dir: tempfile::TempDir,
    pub(crate) url: String,
}

impl Smtp {
    pub(crate) fn start() -> Smtp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "aiosmtpd did not start: run scripts/setup-test-env (tests/email/requirements.txt)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Smtp {
            child,
            dir,
            url: format!("smtp://127.0.0.1:{port}"),
        }
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.path().join("mail").join(sub)) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
        }
        files.sort();
        files
    }

    /// Waits up to 15 s for `n` messages; each one parsed.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let start = Instant::now();
        while self.files().len() < n && start.elapsed() < Duration::from_secs(15) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.files().iter().map(|f| Mail::parse(f)).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received message, decoded by Python's `email` package.
#[derive(Debug)]
pub(crate) struct Mail {
    pub(crate) raw: String,
    pub(crate) to: String,
    pub(crate) from: String,
    pub(crate) subject: String,
    pub(crate) content_type: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

impl Mail {
    fn parse(path: &Path) -> Mail {
        const DECODE: &str = r#"
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
parts = {p.get_content_type(): p.get_content() for p in m.walk() if not p.is_multipart()}
print(json.dumps({"to": str(m["To"]), "from": str(m["From"]), "subject": str(m["Subject"]),
    "content_type": m.get_content_type(), "text": parts.get("text/plain", ""),
    "html": parts.get("text/html", "")}))
"#;
        let out = Command::new("python3")
            .args(["-c", DECODE])
            .arg(path)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Mail {
            raw: std::fs::read_to_string(path).unwrap_or_default(),
            to: field("to"),
            from: field("from"),
            subject: field("subject"),
            content_type: field("content_type"),
            text: field("text"),
            html: field("html"),
        }
    }

    /// Names the token by name and snippet (in both parts), not by value.
    fn tells_of(&self, name: &str, snippet: &str, value: &str) {
        assert!(self.subject.contains(name), "{self:?}");
        for part in [&self.text, &self.html] {
            assert!(part.contains(name) && part.contains(snippet), "{self:?}");
        }
        let secret = value.rsplit('_').next().unwrap();
        assert!(
            !self.raw.contains(secret) && !self.text.contains(secret),
            "{self:?}"
        );
        assert_eq!(self.content_type, "multipart/alternative");
        assert!(self.from.contains("tessera@acme.test"), "{self:?}");
    }
}

async fn mailing_server(smtp: &Smtp) -> TestServer {
    let url = smtp.url.clone();
    start_with(move |c| {
        c.email.smtp_url = Some(url.as_str().into());
        c.email.smtp_from = "Tessera <tessera@acme.test>".into();
        c.http.public_url = "https://tessera.acme.test".into();
    })
    .await
}

#[tokio::test]
async fn owners_are_emailed_before_expiry_and_when_a_leak_revoked_their_token() {
    let smtp = Smtp::start();
    let s = mailing_server(&smtp).await;
    let (_, value, body) = s
        .owner_creates_token_with(json!({ "name": "nightly backup",
            "expires_at": server_time_plus(&s, time::Duration::hours(30)) }))
        .await;
    let snippet = body["snippet"].as_str().unwrap().to_owned();
    scan(&s).await;
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    mail[0].tells_of("nightly backup", &snippet, &value);
    assert_eq!(mail[0].to, OWNER_EMAIL);
    assert!(mail[0].subject.contains("7 days"), "{:?}", mail[0]);
    assert!(mail[0].text.contains("https://tessera.acme.test/tokens"));

    let (_, leaked, body) = s.owner_creates_token("pasted in a gist").await;
    s.post("/api/v1/leaks", "", json!({ "tokens": [leaked] }))
        .await
        .expect(200);
    let mail = smtp.wait_for(2).await;
    assert_eq!(mail.len(), 2, "{mail:?}");
    let leak = mail
        .iter()
        .find(|m| m.subject.contains("leaked"))
        .expect("leak mail");
    leak.tells_of(
        "pasted in a gist",
        body["snippet"].as_str().unwrap(),
        &leaked,
    );
    assert_eq!(leak.to, OWNER_EMAIL);
}

#[tokio::test]
async fn admins_are_emailed_when_the_inactivity_rule_acts() {
    let smtp = Smtp::start();
    let s = mailing_server(&smtp).await;
    s.add_member("admin2@acme.test", "admin", "member-password-1")
        .await;
    s.add_member("reader@acme.test", "reader", "member-password-1")
        .await;
    let (_, value, body) = s.owner_creates_token("forgotten").await;
    s.owner_patch(
        "/api/v1/org",
        json!({ "token_policy": { "inactive_days": 1, "inactive_action": "revoke" } }),
    )
    .await
    .expect(200);
    s.clock.advance(time::Duration::days(2));
    // The owner's own token (the harness's) is idle too: two revocations,
    // each told to both admins.
    tessera_server::service::inactivity::sweep(s.state())
        .await
        .unwrap();
    let mail = smtp.wait_for(4).await;
    let about: Vec<&crate::notices::Mail> = mail
        .iter()
        .filter(|m| m.subject.contains("forgotten"))
        .collect();
    let mut to: Vec<&str> = about.iter().map(|m| m.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["admin2@acme.test", OWNER_EMAIL], "{mail:?}");
    about[0].tells_of("forgotten", body["snippet"].as_str().unwrap(), &value);
    assert!(about[0].subject.contains("revoked"), "{:?}", about[0]);
    assert!(mail.iter().all(|m| m.to != "reader@acme.test"));
}

#[tokio::test]
async fn without_smtp_no_email_is_kept() {
    let s = server().await;
    s.owner_creates_token_with(json!({ "name": "x",
        "expires_at": server_time_plus(&s, time::Duration::hours(30)) }))
        .await;
    scan(&s).await;
    let counts = s.state().store.email_counts().await.unwrap();
    assert_eq!(counts, tessera_store::EmailCounts::default());
}
