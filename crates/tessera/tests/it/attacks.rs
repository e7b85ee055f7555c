//! The adversarial findings, one test each (the security issue's numbers):
//! role self-escalation (1), dropping a deny role from yourself (2), open
//! redirects and header injection through `next` (4, 5), the client
//! overriding `/auth`'s question (6), database file modes (7), token values
//! in error messages (8) and in logs (9), a superseded string managing
//! tokens (10), and login CSRF with a planted cookie (12).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{
    in_days, send, set_cookie_pair, start, start_with_owner_token, Reply, TestServer, OWNER_EMAIL,
    OWNER_PASSWORD,
};
use crate::process::{init, ServeProcess};

const MEMBER_PASSWORD: &str = "member-password-1";

/// Creates a custom role `key` allowing (`allow`) or denying (`deny`)
/// `actions` on `resources`.
async fn role(s: &TestServer, key: &str, effect: &str, actions: &[&str], resources: &[&str]) {
    s.add_role(json!({ "key": key, "policy": [{ "effect": effect, "actions": actions, "resources": resources }] })).await;
}

async fn give_roles(s: &TestServer, member: &str, roles: &[&str]) {
    s.owner_updates_member(member, json!({ "custom_roles": roles }))
        .await;
}

/// The holder of `token` replaces role `key`'s policy with `policy`.
async fn put_role_as(s: &TestServer, token: &str, key: &str, policy: Value) -> Reply {
    let path = format!("/api/v1/roles/{key}");
    s.call(
        Method::PUT,
        &path,
        Some(token),
        Some(json!({ "policy": policy })),
    )
    .await
}

/// The member's own view: may they do `action` on `resource`? (asked with
/// their inheriting token, so it is exactly the member's permission).
async fn may(s: &TestServer, token: &str, action: &str, resource: &str) -> bool {
    s.verify_allows(token, action, resource).await
}

// ------------------------------------------------------------- finding 1

#[tokio::test]
async fn a_role_editor_cannot_widen_a_role_they_hold_or_write_policies_above_their_rank() {
    let s = start().await;
    role(&s, "role-keeper", "allow", &["role:*"], &["role/*"]).await;
    let (writer, writer_token) = s.member_with_token("w@acme.test", "writer").await;
    give_roles(&s, &writer, &["role-keeper"]).await;
    assert!(!may(&s, &writer_token, "audit:read", "audit/log").await);

    // The attack: make the role one holds allow everything.
    let everything = json!([{ "effect": "allow", "actions": ["*"], "resources": ["*"] }]);
    put_role_as(&s, &writer_token, "role-keeper", everything)
        .await
        .expect_error(403, "forbidden");
    assert!(!may(&s, &writer_token, "audit:read", "audit/log").await);
    s.get("/api/v1/audit", &writer_token)
        .await
        .expect_error(403, "forbidden");
    // Nor write a new all-powerful role, which only admins could grant.
    s.post(
        "/api/v1/roles",
        &writer_token,
        json!({ "key": "god", "policy": [{ "effect": "allow", "actions": ["*"], "resources": ["*"] }] }),
    )
    .await
    .expect_error(403, "forbidden");
    let role = s.owner_get("/api/v1/roles/role-keeper").await.expect(200);
    assert_eq!(role.body["policy"][0]["actions"], json!(["role:*"]));

    // An admin held back by a deny role cannot lift it by editing it.
    role_with_deny_for_admin(&s).await;
}

async fn role_with_deny_for_admin(s: &TestServer) {
    role(s, "no-audit", "deny", &["audit:read"], &["*"]).await;
    let (admin, admin_token) = s.member_with_token("a@acme.test", "admin").await;
    give_roles(s, &admin, &["no-audit"]).await;
    assert!(!may(s, &admin_token, "audit:read", "audit/log").await);
    let milder = json!([{ "effect": "deny", "actions": ["flag:delete"], "resources": ["*"] }]);
    put_role_as(s, &admin_token, "no-audit", milder.clone())
        .await
        .expect_error(403, "forbidden");
    assert!(!may(s, &admin_token, "audit:read", "audit/log").await);
    // The owner (who does not hold it) may change it.
    put_role_as(s, &s.owner_token, "no-audit", milder)
        .await
        .expect(200);
    assert!(may(s, &admin_token, "audit:read", "audit/log").await);
}

// ------------------------------------------------------------- finding 2

/// The holder of `token` changes `member` (role, custom roles).
async fn update_member_as(s: &TestServer, token: &str, member: &str, changes: Value) -> Reply {
    s.patch(&format!("/api/v1/members/{member}"), token, changes)
        .await
}

/// The holder of `token` sets `member`'s custom roles to `roles`.
async fn set_roles_as(s: &TestServer, token: &str, member: &str, roles: &[&str]) -> Reply {
    update_member_as(s, token, member, json!({ "custom_roles": roles })).await
}

/// The holder of `token` adds a member `email` with `role`.
async fn add_member_as(s: &TestServer, token: &str, email: &str, role: &str) -> Reply {
    s.post(
        "/api/v1/members",
        token,
        json!({ "email": email, "role": role, "password": MEMBER_PASSWORD }),
    )
    .await
}

/// The holder of `token` creates a token named `name`.
async fn mint_as(s: &TestServer, token: &str, name: &str) -> Reply {
    s.post("/api/v1/tokens", token, json!({ "name": name }))
        .await
}

#[tokio::test]
async fn nobody_drops_a_deny_role_from_themselves_and_only_admins_remove_custom_roles() {
    let s = start().await;
    role(&s, "member-keeper", "allow", &["member:*"], &["member/*"]).await;
    role(&s, "no-tokens", "deny", &["token:create"], &["*"]).await;
    let (writer, writer_token) = s.member_with_token("w@acme.test", "writer").await;
    give_roles(&s, &writer, &["member-keeper", "no-tokens"]).await;
    mint_as(&s, &writer_token, "nope")
        .await
        .expect_error(403, "forbidden");

    // The attack: remove the deny role from oneself.
    set_roles_as(&s, &writer_token, &writer, &["member-keeper"])
        .await
        .expect_error(403, "forbidden");
    mint_as(&s, &writer_token, "nope")
        .await
        .expect_error(403, "forbidden");
    // Nor from someone else: removing custom roles is granting, admins only.
    let (other, _) = s.member_with_token("o@acme.test", "reader").await;
    give_roles(&s, &other, &["no-tokens"]).await;
    set_roles_as(&s, &writer_token, &other, &[])
        .await
        .expect_error(403, "forbidden");

    // An admin cannot strip a deny role from themselves either...
    let (admin, admin_token) = s.member_with_token("a@acme.test", "admin").await;
    give_roles(&s, &admin, &["no-tokens"]).await;
    set_roles_as(&s, &admin_token, &admin, &[])
        .await
        .expect_error(403, "forbidden");
    mint_as(&s, &admin_token, "nope")
        .await
        .expect_error(403, "forbidden");
    // Nor, held back by that deny, from anyone else: the owner may.
    set_roles_as(&s, &admin_token, &other, &[])
        .await
        .expect_error(403, "forbidden");
    give_roles(&s, &admin, &[]).await;
    let reply = set_roles_as(&s, &admin_token, &other, &[])
        .await
        .expect(200);
    assert_eq!(reply.body["custom_roles"], json!([]));
    mint_as(&s, &admin_token, "now").await.expect(201);
}

// ------------------------------------------------------------- findings 4, 5, 12

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value a response sets for cookie `name`, unless it clears it.
fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookie_pair(response, name)
        .and_then(|pair| pair.split_once('=').map(|(_, v)| v.to_owned()))
        .filter(|v| !v.is_empty())
}

/// The login form's CSRF cookie and field value, and its `next` field.
async fn login_form(s: &TestServer, query: &str) -> (String, String) {
    let response = no_redirects()
        .get(s.url(&format!("/login{query}")))
        .send()
        .await
        .expect("login page");
    assert_eq!(response.status(), 200);
    let csrf = cookie_value(&response, "tessera_login_csrf").expect("csrf cookie");
    let html = response.text().await.expect("html");
    let next = crate::harness::field_value(&html, "name=\"next\"");
    (csrf, next)
}

async fn post_login(s: &TestServer, csrf: &str, next: &str) -> reqwest::Response {
    no_redirects()
        .post(s.url("/login"))
        .header("cookie", format!("tessera_login_csrf={csrf}"))
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", OWNER_PASSWORD),
            ("csrf_token", csrf),
            ("next", next),
        ])
        .send()
        .await
        .expect("post login")
}

#[tokio::test]
async fn next_never_leads_off_site_or_breaks_the_answer() {
    let s = start().await;
    // Browsers drop tabs and newlines from URLs: `/\t/evil` is `//evil`.
    for hostile in [
        "/%09/evil.example/x",
        "/%0A/evil.example/x",
        "/%0D%0A/evil.example",
        "/%20/evil.example",
        "/%5C/evil.example",
        "%2F%2Fevil.example",
        "/%00/x",
        "/%7F/x",
        "/tokens%0D%0ASet-Cookie:%20x=y",
    ] {
        let (_, next) = login_form(&s, &format!("?next={hostile}")).await;
        assert_eq!(next, "/tokens", "GET /login?next={hostile}");
    }
    for hostile in [
        "/\t/evil.example/x",
        "/\n/evil.example/x",
        "/tokens\r\nSet-Cookie: x=y",
        "/\0/x",
        "/\x7f/x",
        "/ /evil.example",
        "/\\/evil.example",
        "//evil.example",
    ] {
        let (csrf, _) = login_form(&s, "").await;
        let response = post_login(&s, &csrf, hostile).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{hostile:?}");
        let location = response.headers()["location"].to_str().expect("text");
        assert_eq!(location, "/tokens", "POST next={hostile:?}");
    }
    // A local path is kept, query and all.
    let (csrf, next) = login_form(&s, "?next=%2Fadmin%2Fmembers%3Fq%3D1").await;
    assert_eq!(next, "/admin/members?q=1");
    let response = post_login(&s, &csrf, &next).await;
    assert_eq!(response.headers()["location"], "/admin/members?q=1");
}

#[tokio::test]
async fn a_planted_login_csrf_cookie_does_not_log_anyone_in() {
    let s = start().await;
    for planted in [
        "abc",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        let response = post_login(&s, planted, "/tokens").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{planted}");
        assert!(cookie_value(&response, "tessera_session").is_none());
    }
    // A value the server issued still works.
    let (csrf, _) = login_form(&s, "").await;
    let response = post_login(&s, &csrf, "/tokens").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(cookie_value(&response, "tessera_session").is_some());
}

// ------------------------------------------------------------- finding 6

#[tokio::test]
async fn auth_refuses_a_client_header_that_contradicts_the_query() {
    let s = start().await;
    let (_, reader, _) = s.owner_creates_reader_token("r").await;
    let auth = |query: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let mut request = s
            .http
            .get(s.url(&format!("/api/v1/auth{query}")))
            .bearer_auth(&reader);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        send(request)
    };
    let question = "?action=flag:update&resource=proj/web";
    auth(question, vec![]).await.expect_error(403, "forbidden");
    // The bypass: the client adds its own, weaker question.
    auth(question, vec![("x-tessera-action", "flag:read")])
        .await
        .expect_error(400, "bad_request");
    auth(question, vec![("x-tessera-resource", "proj/other")])
        .await
        .expect_error(400, "bad_request");
    // The same question twice is no contradiction.
    auth(question, vec![("x-tessera-action", "flag:update")])
        .await
        .expect_error(403, "forbidden");
    // Two different header values are ambiguous as well.
    auth(
        "",
        vec![
            ("x-tessera-action", "flag:update"),
            ("x-tessera-action", "flag:read"),
            ("x-tessera-resource", "proj/web"),
        ],
    )
    .await
    .expect_error(400, "bad_request");
    auth(
        "",
        vec![
            ("x-tessera-action", "flag:read"),
            ("x-tessera-resource", "proj/web"),
        ],
    )
    .await
    .expect(200);
}

// ------------------------------------------------------------- finding 7

#[cfg(unix)]
#[tokio::test]
async fn database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    if std::env::var("TESSERA_TEST_BACKEND").as_deref() == Ok("postgres") {
        return; // PostgreSQL keeps its own files.
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // A file an older version left world-readable is tightened too.
    let old = dir.path().join("old.db");
    std::fs::write(&old, b"").expect("create");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for name in ["fresh.db", "old.db"] {
        let url = format!("sqlite://{}", dir.path().join(name).display());
        let s = crate::harness::start_with(|c| c.database.url = url.into()).await;
        // A write, so the WAL and shared-memory files exist.
        s.owner_creates_token("t").await;
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(name))
            .collect();
        assert!(files.len() >= 2, "expected the database and its WAL");
        for file in files {
            let mode = file.metadata().expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", file.path().display());
        }
    }
}

// ------------------------------------------------------------- finding 8

#[tokio::test]
async fn no_error_message_echoes_a_token() {
    let (s, _, token, _) = start_with_owner_token("t").await;
    let secret = &token[4..];
    let bad_policies = [
        json!([{ "effect": "allow", "actions": ["flag:read"], "resources": [token] }]),
        json!([{ "effect": "allow", "actions": [token], "resources": ["*"] }]),
        json!([{ "effect": "allow", "actions": ["flag:read"], "resources": [format!("proj/web:{token}")] }]),
        json!([{ "effect": "allow", "actions": ["flag:read"], "not_resources": [token], "resources": ["*"] }]),
    ];
    let mut replies = Vec::new();
    for policy in &bad_policies {
        replies.push(
            s.owner_post("/api/v1/roles", json!({ "key": "r", "policy": policy }))
                .await,
        );
        replies.push(
            s.owner_post("/api/v1/tokens", json!({ "name": "x", "policy": policy }))
                .await,
        );
    }
    replies.push(
        s.owner_post("/api/v1/tokens", json!({ "name": "x", "role": token }))
            .await,
    );
    replies.push(
        s.owner_post(
            "/api/v1/tokens",
            json!({ "name": "x", "projects": [token] }),
        )
        .await,
    );
    replies.push(
        s.post(
            "/api/v1/verify",
            "",
            json!({ "token": token, "action": token, "resource": "*" }),
        )
        .await,
    );
    for reply in replies {
        assert!(
            !reply.text.contains(secret),
            "a token came back in: {}",
            reply.text.replace(secret, "<SECRET>")
        );
    }
}

// ------------------------------------------------------------- finding 9

#[tokio::test]
async fn escaped_tokens_in_paths_stay_out_of_the_logs_at_every_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = crate::harness::database_url(dir.path()).await;
    let owner_token = init(dir.path(), &database_url, OWNER_EMAIL, OWNER_PASSWORD);
    let secret = owner_token[4..].to_owned();
    let escaped_prefix = owner_token.replacen('_', "%5F", 1);
    let escaped_twice = owner_token.replacen('_', "%255F", 1);
    // Every character escaped.
    let all_escaped: String = owner_token.bytes().map(|b| format!("%{b:02X}")).collect();
    for level in ["error", "warn", "info", "debug", "trace"] {
        let mut server = ServeProcess::start(
            dir.path(),
            &database_url,
            level,
            &[("TESSERA_LOG", level), ("RUST_LOG", level)],
        )
        .await;
        let http = reqwest::Client::new();
        for path in [
            format!("/api/v1/tokens/{escaped_prefix}"),
            format!("/api/v1/tokens/{escaped_twice}"),
            format!("/api/v1/tokens/{all_escaped}"),
            format!("/tokens/{escaped_prefix}"),
            format!("/api/v1/auth?x={escaped_prefix}"),
            format!("/nowhere/{all_escaped}?t={escaped_prefix}"),
        ] {
            http.get(format!("{}{path}", server.base))
                .bearer_auth(&owner_token)
                .send()
                .await
                .expect("request");
        }
        server.terminate();
        let logs = server.log_text();
        if level == "trace" {
            assert!(
                logs.contains("TRACE") || logs.contains("DEBUG"),
                "{logs:.2000}"
            );
        }
        for needle in [secret.as_str(), &escaped_prefix[4..], &all_escaped[12..]] {
            assert!(
                !logs.contains(needle),
                "{level}: a token reached the logs: {}",
                logs.replace(needle, "<SECRET>")
            );
        }
    }
}

// ------------------------------------------------------------- finding 10

#[tokio::test]
async fn a_superseded_string_authenticates_but_cannot_manage_tokens() {
    let s = start().await;
    let (id, old, _) = s.owner_creates_expiring_token("ci", 30).await;
    let new = s.rotate_with_grace(&id, &old, 3600).await;

    // During grace the old string still authenticates and verifies...
    s.get("/api/v1/me", &old).await.expect(200);
    s.get("/api/v1/tokens", &old).await.expect(200);
    let verified = s.verify(json!({ "token": old })).await;
    assert_eq!(verified.body["valid"], true);
    // ...but manages no token: not itself, not a clone, not a new one.
    let refused: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/tokens/self/clone".into(),
            Some(json!({ "name": "copy" })),
        ),
        (
            Method::POST,
            format!("/api/v1/tokens/{id}/clone"),
            Some(json!({ "name": "copy" })),
        ),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            Some(json!({ "name": "fresh" })),
        ),
        (
            Method::PATCH,
            "/api/v1/tokens/self".into(),
            Some(json!({ "expires_at": null })),
        ),
        (
            Method::POST,
            "/api/v1/tokens/self/rotate".into(),
            Some(json!({ "expires_at": in_days(90) })),
        ),
        (Method::DELETE, "/api/v1/tokens/self".into(), None),
    ];
    for (method, path, body) in refused {
        let reply = s.call(method.clone(), &path, Some(&old), body).await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.text);
        assert_eq!(reply.code(), "forbidden", "{}", reply.text);
        assert!(reply.text.contains("rotat"), "says why: {}", reply.text);
    }
    let listed = s.get("/api/v1/tokens", &new).await.expect(200);
    let items = listed.items();
    assert_eq!(items.len(), 2, "the owner token and this one: {items:?}");
    let token = s.get("/api/v1/tokens/self", &new).await.expect(200);
    assert!(token.body["expires_at"].is_string(), "the expiry was kept");
    // The new string manages as usual.
    s.post("/api/v1/tokens/self/clone", &new, json!({ "name": "copy" }))
        .await
        .expect(201);
}

// ------------------------------------------------------------- the same class

/// A deny is real: a member held back by one cannot make someone else do
/// what they may not (add an admin, raise a member), and a token scoped to
/// a narrow policy cannot mint a member wider than itself.
#[tokio::test]
async fn restricted_callers_give_nobody_permissions() {
    let s = start().await;
    role(&s, "no-audit", "deny", &["audit:read"], &["*"]).await;
    let (admin, admin_token) = s.member_with_token("a@acme.test", "admin").await;
    give_roles(&s, &admin, &["no-audit"]).await;
    add_member_as(&s, &admin_token, "stooge@acme.test", "admin")
        .await
        .expect_error(403, "forbidden");
    let (reader, _) = s.member_with_token("r@acme.test", "reader").await;
    update_member_as(&s, &admin_token, &reader, json!({ "role": "admin" }))
        .await
        .expect_error(403, "forbidden");
    // Lowering is not giving: still allowed.
    let (writer, _) = s.member_with_token("w@acme.test", "writer").await;
    update_member_as(&s, &admin_token, &writer, json!({ "role": "reader" }))
        .await
        .expect(200);

    // The owner's token limited to managing members.
    let (_, narrow, _) = s.owner_creates_token_with(json!({ "name": "hr", "policy": [{ "effect": "allow", "actions": ["member:*"], "resources": ["member/*"] }] }))
        .await;
    add_member_as(&s, &narrow, "stooge2@acme.test", "owner")
        .await
        .expect_error(403, "forbidden");
    let members = s.owner_get("/api/v1/members").await.expect(200);
    let emails: Vec<&str> = members
        .items()
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert!(
        !emails.iter().any(|e| e.starts_with("stooge")),
        "{emails:?}"
    );
}
