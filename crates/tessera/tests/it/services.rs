//! What services see: /verify, /auth, /leaks, health, metrics, OpenAPI.

use reqwest::Method;
use serde_json::json;

use crate::harness::{in_days, send, start, start_with_owner_token};

#[tokio::test]
async fn verify_answers_validity_and_permission() {
    let s = start().await;
    let (id, token, _) = s.owner_creates_reader_token("svc").await;
    let r = s.verify(json!({ "token": token })).await;
    assert_eq!(r.body["valid"], true);
    assert_eq!(r.body["code"], "valid");
    assert!(r.body.get("allowed").is_none());
    assert_eq!(r.body["token"]["id"], id.as_str());
    assert_eq!(r.body["token"]["name"], "svc");
    assert_eq!(r.body["token"]["member"], s.owner_id.as_str());
    assert_eq!(r.body["token"]["org"], "acme");
    assert!(r.body["token"]["projects"].is_array());

    let r = s
        .verify(json!({ "token": token, "action": "flag:read", "resource": "proj/web:flag/a" }))
        .await;
    assert_eq!(r.body["allowed"], true);
    let r = s
        .verify(json!({ "token": token, "action": "flag:update", "resource": "proj/web:flag/a" }))
        .await;
    assert_eq!(r.body["allowed"], false);
    assert_eq!(r.body["valid"], true);

    for (bad, code) in [("garbage", "malformed_token"), ("", "malformed_token")] {
        let r = s.verify(json!({ "token": bad })).await;
        assert_eq!(r.body["valid"], false);
        assert_eq!(r.body["code"], code);
        assert!(r.body.get("token").is_none());
    }
    s.owner_delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    let r = s.verify(json!({ "token": token })).await;
    assert_eq!(r.body["code"], "invalid_token");
}

/// A service passes its own client's address as `ip`: that address, not
/// the service's, is the token's last-used address (an IPv4 client seen
/// over IPv6 as IPv4); an `ip` that is not an address is a 400.
#[tokio::test]
async fn verify_records_the_end_clients_address() {
    let s = start().await;
    let (id, token, _) = s.owner_creates_reader_token("svc").await;
    let last_used_ip =
        |listed: &crate::harness::Reply| crate::seeds::find(listed, &id)["last_used_ip"].clone();
    let r = s
        .verify(json!({ "token": token, "ip": "::ffff:203.0.113.7" }))
        .await;
    assert_eq!(r.body["valid"], true, "{}", r.text);
    let listed = s.owner_get("/api/v1/tokens").await.expect(200);
    assert_eq!(last_used_ip(&listed), "203.0.113.7");
    s.verify(json!({ "token": token, "ip": "2001:db8::1" }))
        .await;
    let listed = s.owner_get("/api/v1/tokens").await.expect(200);
    assert_eq!(last_used_ip(&listed), "2001:db8::1");

    for bad in [
        json!("203.0.113"),
        json!("not an address"),
        json!(7),
        json!("10.0.0.0/8"),
    ] {
        s.post("/api/v1/verify", "", json!({ "token": token, "ip": bad }))
            .await
            .expect_error(400, "bad_request");
    }
    let listed = s.owner_get("/api/v1/tokens").await.expect(200);
    assert_eq!(
        last_used_ip(&listed),
        "2001:db8::1",
        "a refused question records nothing"
    );
}

#[tokio::test]
async fn forward_auth_for_reverse_proxies() {
    let s = start().await;
    let (id, token, _) = s.owner_creates_reader_token("proxy").await;
    let ok = send(s.http.get(s.url("/api/v1/auth")).bearer_auth(&token))
        .await
        .expect(200);
    assert_eq!(ok.headers["x-tessera-token-id"], id.as_str());
    assert_eq!(ok.headers["x-tessera-org"], "acme");
    assert_eq!(ok.headers["x-tessera-member"], s.owner_id.as_str());
    // Query parameters work as well as headers.
    send(
        s.http
            .get(s.url("/api/v1/auth?action=flag:read&resource=proj/web"))
            .bearer_auth(&token),
    )
    .await
    .expect(200);
    let denied = send(
        s.http
            .get(s.url("/api/v1/auth"))
            .bearer_auth(&token)
            .header("x-tessera-action", "flag:update")
            .header("x-tessera-resource", "proj/web:flag/a"),
    )
    .await
    .expect_error(403, "forbidden");
    assert!(denied.text.contains("flag:update"));
    let anonymous = send(s.http.get(s.url("/api/v1/auth")))
        .await
        .expect_error(401, "unauthenticated");
    assert!(anonymous.headers.get("www-authenticate").is_some());
    send(s.http.get(s.url("/api/v1/auth")).bearer_auth("tsr_nope"))
        .await
        .expect_error(401, "invalid_token");
}

#[tokio::test]
async fn leak_reports_revoke_and_audit() {
    let (s, id, leaked, _) = start_with_owner_token("leaked").await;
    let r = s
        .post("/api/v1/leaks", "", json!({ "tokens": [leaked, "tsr_random", "hello"], "url": "https://example.com/paste/1" }))
        .await
        .expect(200);
    assert_eq!(r.body["revoked"], 1);
    assert_eq!(r.body["ignored"], 2);
    s.assert_token_refused(&leaked).await;
    let again = s
        .post("/api/v1/leaks", "", json!({ "tokens": [leaked] }))
        .await
        .expect(200);
    assert_eq!(again.body["revoked"], 0);
    let audit = s
        .owner_get("/api/v1/audit?action=token:delete")
        .await
        .expect(200);
    let event = &audit.body["items"][0];
    assert_eq!(event["details"]["reason"], "leak_report");
    assert_eq!(event["details"]["url"], "https://example.com/paste/1");
    assert!(event["target"].as_str().expect("target").ends_with(&id));
    assert!(
        !audit.text.contains(&leaked[4..]),
        "the audit log holds a token"
    );
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let s = start().await;
    send(s.http.get(s.url("/healthz"))).await.expect(200);
    send(s.http.get(s.url("/readyz"))).await.expect(200);
    s.verify(json!({ "token": "garbage" })).await;
    s.owner_get("/api/v1/me").await.expect(200);
    let metrics = send(s.http.get(s.url("/metrics"))).await.expect(200);
    assert!(
        metrics
            .text
            .contains("tessera_verifications_total{outcome=\"malformed_token\"} 1"),
        "{}",
        metrics.text
    );
    assert!(metrics
        .text
        .contains("tessera_verifications_total{outcome=\"valid\"}"));
    assert!(metrics
        .text
        .contains("tessera_verification_duration_seconds_bucket"));
    assert!(!metrics.text.contains(&s.owner_token[4..]));

    let doc = send(s.http.get(s.url("/api/v1/openapi.json")))
        .await
        .expect(200);
    let paths = doc.body["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/session",
        "/api/v1/me",
        "/api/v1/me/password",
        "/api/v1/members",
        "/api/v1/members/{id}",
        "/api/v1/members/{id}/tokens",
        "/api/v1/roles",
        "/api/v1/roles/{key}",
        "/api/v1/projects",
        "/api/v1/projects/{key}",
        "/api/v1/org",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/tokens/{id}/clone",
        "/api/v1/tokens/{id}/rotate",
        "/api/v1/verify",
        "/api/v1/auth",
        "/api/v1/leaks",
        "/api/v1/audit",
    ] {
        assert!(paths.contains_key(path), "OpenAPI lacks {path}");
    }
    assert!(doc.body["components"]["schemas"]["CreateTokenRequest"].is_object());
    let _ = Method::GET;
}

/// `POST /verify` writes its JSON straight from the cached token (the hot
/// path); it must be exactly the library's `VerifyResponse`, field for
/// field, for every kind of answer.
#[tokio::test]
async fn the_hot_verify_answer_is_the_library_answer() {
    let s = start().await;
    s.add_project(json!({ "key": "web", "name": "Web" })).await;
    let expires = in_days(3);
    let (_, scoped, _) = s.owner_creates_token_with(json!({ "name": "a \"quoted\" name ✓", "role": "writer", "projects": ["web"], "expires_at": expires }))
        .await;
    let (_, plain, _) = s.owner_creates_token("plain").await;
    let account = s
        .owner_post(
            "/api/v1/service-accounts",
            json!({ "name": "ci \"bot\" ✓", "role": "writer" }),
        )
        .await
        .expect(201)
        .string("id");
    let robot = s
        .owner_post(
            &format!("/api/v1/service-accounts/{account}/tokens"),
            json!({ "name": "deploy", "expires_at": in_days(2) }),
        )
        .await
        .expect(201)
        .string("token");
    let mut broken = plain.clone();
    broken.pop();
    broken.push(if plain.ends_with('A') { 'B' } else { 'A' });
    let questions = [
        json!({ "token": scoped }),
        json!({ "token": scoped, "action": "flag:update", "resource": "proj/web:flag/x" }),
        json!({ "token": scoped, "action": "flag:update", "resource": "proj/other:flag/x" }),
        json!({ "token": plain }),
        json!({ "token": robot }),
        json!({ "token": robot, "action": "flag:update", "resource": "proj/web:flag/x" }),
        json!({ "token": robot, "action": "member:delete", "resource": "member/x" }),
        json!({ "token": plain, "action": "member:delete", "resource": "member/x" }),
        json!({ "token": broken }),
        json!({ "token": broken, "action": "flag:read", "resource": "proj/web" }),
        json!({ "token": format!("{}x", &plain[..plain.len() - 1]) }),
    ];
    for question in questions {
        let over_http = s.verify(question.clone()).await;
        let request: tessera_api::VerifyRequest =
            serde_json::from_value(question.clone()).expect("a verify request");
        let library = tessera_server::verify::answer(s.state(), &request, None)
            .await
            .expect("an answer");
        assert_eq!(
            over_http.body,
            serde_json::to_value(&library).expect("json"),
            "for {}",
            question["action"]
        );
    }
    // JSON escapes in the question (the hot path borrows strings that have
    // none and copies the others): the same answer as without them.
    let plain_question =
        json!({ "token": scoped, "action": "flag:update", "resource": "proj/web:flag/x" });
    let escaped = format!(
        r#"{{"token":"{}","action":"flag\u003aupdate","resource":"proj\/web:flag\/x"}}"#,
        scoped.replace('_', r"\u005f")
    );
    let over_http = send(
        s.http
            .post(s.url("/api/v1/verify"))
            .header("content-type", "application/json")
            .body(escaped),
    )
    .await
    .expect(200);
    let unescaped = s.verify(plain_question).await;
    assert_eq!(over_http.body, unescaped.body);
    assert_eq!(over_http.body["allowed"], true);
}
