//! What a new user and an operator trip over (issue 15), through HTTP:
//! who may call is decided before the body is read, `/auth` names the
//! member, token names are distinct per member, and
//! the audit log names people and tokens and exports whole.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{metrics_of, start, OWNER_EMAIL, OWNER_PASSWORD};

#[tokio::test]
async fn a_token_on_a_session_only_endpoint_is_403_whatever_its_body() {
    let s = start().await;
    let bodies = [
        None,
        Some(json!({})),
        Some(json!({ "nonsense": true })),
        Some(json!({ "current_password": OWNER_PASSWORD, "new_password": "long enough new one" })),
    ];
    for body in bodies {
        for (method, path) in [
            (Method::PUT, "/api/v1/me/password"),
            (Method::DELETE, "/api/v1/session"),
        ] {
            let token = Some(s.owner_token.as_str());
            s.call(method.clone(), path, token, body.clone())
                .await
                .expect_error(403, "session_required");
        }
    }
    // A body that is not even JSON is still refused as a token first.
    let raw = s
        .http
        .put(s.url("/api/v1/me/password"))
        .bearer_auth(&s.owner_token)
        .header("content-type", "text/plain")
        .body("{{{")
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), 403);
    // A session with a bad body still gets the 400 about its body.
    let cookie = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    let reply = s
        .call_with_cookie(Method::PUT, "/api/v1/me/password", &cookie, Some(json!({})))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
}

#[tokio::test]
async fn auth_names_the_members_email_and_role() {
    let s = start().await;
    let (_, writer) = s.member_with_token("writer@acme.test", "writer").await;
    for (token, email, role) in [
        (s.owner_token.as_str(), OWNER_EMAIL, "owner"),
        (writer.as_str(), "writer@acme.test", "writer"),
    ] {
        let answer = s
            .http
            .get(s.url("/api/v1/auth"))
            .bearer_auth(token)
            .send()
            .await
            .expect("auth");
        assert_eq!(answer.status(), 200);
        let header = |name: &str| answer.headers()[name].to_str().expect("text").to_owned();
        assert_eq!(header("x-tessera-email"), email);
        assert_eq!(header("x-tessera-role"), role);
    }
}

#[tokio::test]
async fn a_members_token_names_are_distinct() {
    let s = start().await;
    let (id, _, _) = s.owner_creates_token("deploy").await;
    let again = json!({ "name": "deploy" });
    s.owner_post("/api/v1/tokens", again)
        .await
        .expect_error(409, "already_exists");
    // Another member may use the name.
    let (_, writer) = s.member_with_token("writer@acme.test", "writer").await;
    s.create_token(&writer, json!({ "name": "deploy" })).await;
    // Renaming into a taken name is refused, and changes nothing.
    let (other, _, _) = s.owner_creates_token("other").await;
    let rename = json!({ "name": "deploy" });
    let path = format!("/api/v1/tokens/{other}");
    let refused = s.owner_patch(&path, rename).await;
    refused.expect_error(409, "already_exists");
    let names = |reply: crate::harness::Reply| -> Vec<Value> {
        reply.items().iter().map(|t| t["name"].clone()).collect()
    };
    let mut listed = names(s.owner_get("/api/v1/tokens").await.expect(200));
    listed.sort_by_key(Value::to_string);
    assert_eq!(listed, ["deploy", "other", "owner token"], "unchanged");
    // Clones without a name take the first free "(copy N)".
    for expected in ["deploy (copy)", "deploy (copy 2)", "deploy (copy 3)"] {
        let clone = s
            .owner_post(&format!("/api/v1/tokens/{id}/clone"), json!({}))
            .await
            .expect(201);
        assert_eq!(clone.body["name"], expected, "{}", clone.text);
    }
}

/// The owner's audit log after a writer was added, made a token, and was
/// removed: everyone and every token is named.
#[tokio::test]
async fn the_audit_log_names_people_and_tokens_even_once_removed() {
    let s = start().await;
    let (writer_id, writer) = s.member_with_token("gone@acme.test", "writer").await;
    let (token_id, _, _) = s.create_token(&writer, json!({ "name": "nightly" })).await;
    s.owner_delete(&format!("/api/v1/members/{writer_id}"))
        .await
        .expect(204);
    let page = s.owner_get("/api/v1/audit").await.expect(200);
    let event = |action: &str| -> Value {
        page.items()
            .iter()
            .find(|e| e["action"] == action)
            .cloned()
            .unwrap_or_else(|| panic!("no {action} in {}", page.text))
    };
    let removal = event("member:delete");
    assert_eq!(removal["actor"]["email"], OWNER_EMAIL);
    assert_eq!(removal["target_name"], "gone@acme.test");
    let creation = event("token:create");
    assert_eq!(
        creation["target"],
        format!("member/{writer_id}:token/{token_id}")
    );
    assert_eq!(
        creation["target_name"],
        "token \u{201c}nightly\u{201d} of gone@acme.test"
    );
    // The removed writer made that token: named by the log itself.
    assert_eq!(creation["actor"]["email"], "gone@acme.test");
    assert_eq!(creation["actor"]["token_name"], "their token");
}

#[tokio::test]
async fn the_audit_log_exports_as_json_lines_and_csv() {
    let s = start().await;
    // A token named like a spreadsheet formula, which then acts: its name
    // is a cell of its own (the actor's token name) in the export.
    let (_, hostile, _) = s.owner_creates_token("=cmd|' /C calc'!A0").await;
    for i in 1..7 {
        s.create_token(&hostile, json!({ "name": format!("made by it {i}") }))
            .await;
    }
    let all = s.owner_get("/api/v1/audit?limit=500").await.expect(200);
    let total = all.items().len();
    assert!(total >= 8, "{total}");

    let get = |query: &'static str| {
        s.http
            .get(s.url(&format!("/api/v1/audit?{query}")))
            .bearer_auth(&s.owner_token)
            .send()
    };
    // JSON Lines: every event, one per line, as in the JSON page, newest
    // first, read in pages smaller than the log.
    let lines = get("format=jsonl").await.expect("jsonl");
    assert_eq!(lines.status(), 200);
    assert_eq!(lines.headers()["content-type"], "application/x-ndjson");
    let text = lines.text().await.expect("body");
    let exported: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(exported.as_slice(), all.items());

    // limit caps an export; filters apply.
    let capped = get("format=jsonl&limit=3&action=token:create")
        .await
        .expect("capped");
    let text = capped.text().await.expect("body");
    assert_eq!(text.lines().count(), 3);
    assert!(text.lines().all(|l| l.contains("\"token:create\"")));

    // CSV: a header, a record per event, and no cell a spreadsheet would
    // run as a formula.
    let csv = get("format=csv").await.expect("csv");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.expect("body");
    let mut records = text.split("\r\n").filter(|r| !r.is_empty());
    assert!(records
        .next()
        .expect("header")
        .starts_with("id,at,actor_member,"));
    assert_eq!(records.clone().count(), total);
    assert!(records.all(|r| !r.contains(",\"=")), "{text}");
    assert!(text.contains("\"'=cmd|' /C calc'!A0\""), "{text}");

    // Bad formats and limits are 400s; a reader may not export.
    for query in ["format=xml", "format=csv&limit=0", "limit=501"] {
        let reply = s.owner_get(&format!("/api/v1/audit?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
    }
    let (_, reader) = s.member_with_token("reader@acme.test", "reader").await;
    s.get("/api/v1/audit?format=csv", &reader)
        .await
        .expect_error(403, "forbidden");
}

/// `/metrics` counts requests by route template (never a raw path), times
/// them, and counts failed logins; `/verify` and `/auth` are counted too,
/// though answered in front of the router.
#[tokio::test]
async fn metrics_count_requests_by_route_template_and_failed_logins() {
    let s = start().await;
    let (id, token, _) = s.owner_creates_token("metered").await;
    s.owner_get(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(200);
    s.owner_get("/api/v1/tokens/nope").await;
    s.verify(json!({ "token": token })).await;
    s.http
        .get(s.url("/api/v1/auth"))
        .send()
        .await
        .expect("auth without a credential");
    s.try_login(OWNER_EMAIL, "not the password").await;
    // A method of the client's invention is counted as OTHER: it adds no
    // series of its own.
    let invented = Method::from_bytes(b"BREW").expect("a method");
    s.call(invented, "/healthz", None, None).await;
    let metrics = metrics_of(&s.http, &s.base).await;
    for line in [
        r#"tessera_http_requests_total{route="/api/v1/tokens/{id}",method="GET",status="200"} 1"#,
        r#"tessera_http_requests_total{route="/api/v1/tokens",method="POST",status="201"} 1"#,
        r#"tessera_http_requests_total{route="/api/v1/verify",method="POST",status="200"} 1"#,
        r#"tessera_http_requests_total{route="/api/v1/auth",method="GET",status="401"} 1"#,
        r#"tessera_http_requests_total{route="/api/v1/session",method="POST",status="401"} 1"#,
        "tessera_login_failures_total 1",
        r#"tessera_http_requests_total{route="/healthz",method="OTHER",status="405"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    assert!(
        metrics.contains(
            r#"tessera_http_request_duration_seconds_count{route="/api/v1/tokens/{id}"} 2"#
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains(&id),
        "a raw path in the labels:\n{metrics}"
    );
}

/// The request log names route templates and statuses, never a token id
/// from a path, and leaves the hot endpoints out unless asked.
#[tokio::test]
async fn requests_are_logged_by_route_without_their_values() {
    use crate::process::{init, ServeProcess};
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = crate::harness::database_url(dir.path()).await;
    let owner = init(dir.path(), &database_url, OWNER_EMAIL, OWNER_PASSWORD);
    for (run, env, logs_verify) in [
        ("default", vec![], false),
        ("quiet", vec![("TESSERA_LOG_REQUESTS", "false")], false),
        (
            "verbose",
            vec![("TESSERA_LOG_VERIFY_REQUESTS", "true")],
            true,
        ),
    ] {
        let mut server = ServeProcess::start(dir.path(), &database_url, run, &env).await;
        let http = reqwest::Client::new();
        let me = http
            .get(format!("{}/api/v1/me", server.base))
            .bearer_auth(&owner)
            .send()
            .await
            .expect("me");
        let me: Value = me.json().await.expect("json");
        let token_id = me["token"]["id"].as_str().expect("token id").to_owned();
        http.get(format!("{}/api/v1/tokens/{token_id}", server.base))
            .bearer_auth(&owner)
            .send()
            .await
            .expect("token");
        http.post(format!("{}/api/v1/verify", server.base))
            .json(&json!({ "token": owner }))
            .send()
            .await
            .expect("verify");
        server.terminate();
        let log = server.log_text();
        // `INFO tessera::request: request method="GET" route="…" status=200 micros=…`
        let logged = |route: &str| {
            let field = format!("route=\"{route}\"");
            log.lines()
                .any(|l| l.contains("tessera::request") && l.contains(&field))
        };
        let quiet = run == "quiet";
        assert_eq!(logged("/api/v1/tokens/{id}"), !quiet, "{run}:\n{log}");
        assert_eq!(logged("/api/v1/me"), !quiet, "{run}:\n{log}");
        assert_eq!(logged("/api/v1/verify"), logs_verify, "{run}:\n{log}");
        assert!(
            !log.contains(&format!("/api/v1/tokens/{token_id}")),
            "{run}:\n{log}"
        );
        assert!(!log.contains(&owner), "{run}: the token in the log");
    }
}

/// `tessera audit` names people and tokens, and `--format csv|jsonl`
/// streams the whole log to stdout.
#[test]
fn the_cli_audit_names_people_and_exports() {
    use crate::cli::{run, tessera, text};
    use crate::forward_auth::{create_token, serve_with_owner};
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, url, owner) = serve_with_owner(dir.path());
    create_token(dir.path(), &url, &owner, &["--name", "audited"]);
    let audit = |extra: &[&str]| {
        let mut cmd = tessera(dir.path());
        cmd.args(["audit", "--url", &url])
            .args(extra)
            .env("TESSERA_TOKEN", &owner);
        let out = run(cmd, "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let table = audit(&[]);
    assert!(table.contains("owner@acme.test"), "{table}");
    assert!(
        table.contains("token \u{201c}audited\u{201d} of owner@acme.test"),
        "{table}"
    );
    let csv = audit(&["--format", "csv"]);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .expect("header")
            .starts_with("id,at,actor_member,"),
        "{csv}"
    );
    let records: Vec<&str> = lines.collect();
    assert!(
        records.iter().any(|r| r.contains("\"token:create\"")),
        "{csv}"
    );
    let jsonl = audit(&["--format", "jsonl", "--limit", "1"]);
    let events: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(events.len(), 1, "{jsonl}");
    assert_eq!(records.len(), audit(&["--format", "jsonl"]).lines().count());
}
