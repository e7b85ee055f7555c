//! Malformed, oversized and hostile input: always a 4xx JSON error that
//! says what is wrong, never a 500, and nothing changes.

use reqwest::Method;
use serde_json::json;

use crate::harness::{send, start, start_with_owner_token, Reply, TestServer};

/// POSTs `body` to `path` as the owner, with `content_type` (none when
/// empty), whatever the body holds.
async fn post_raw(s: &TestServer, path: &str, body: &'static str, content_type: &str) -> Reply {
    let mut request = s.http.post(s.url(path)).bearer_auth(&s.owner_token);
    if !content_type.is_empty() {
        request = request.header("content-type", content_type);
    }
    send(request.body(body)).await
}

/// POSTs `body` as JSON to `/tokens`, which must refuse it with a 400.
async fn bad_token_request(s: &TestServer, body: &'static str) -> Reply {
    post_raw(s, "/api/v1/tokens", body, "application/json")
        .await
        .expect_error(400, "bad_request")
}

#[tokio::test]
async fn malformed_bodies_are_400s_and_change_nothing() {
    let s = start().await;
    bad_token_request(&s, "{not json").await;
    bad_token_request(&s, "").await;
    bad_token_request(&s, "[]").await;
    let r = bad_token_request(&s, r#"{"name": "x", "nmae": "y"}"#).await;
    assert!(
        r.text.contains("nmae"),
        "the message names the unknown field: {}",
        r.text
    );
    let r = bad_token_request(&s, r#"{"name": 42}"#).await;
    assert!(r.text.contains("name"), "{}", r.text);
    bad_token_request(&s, r#"{"name": "x", "role": "superuser"}"#).await;
    bad_token_request(&s, r#"{"name": "x", "expires_at": "tomorrow"}"#).await;
    post_raw(&s, "/api/v1/tokens", r#"{"name": "x"}"#, "text/plain")
        .await
        .expect_error(415, "unsupported_media_type");
    bad_token_request(&s, r#"{"name": "x", "role": "reader", "policy": []}"#).await;

    // Nothing was created by any of those.
    let list = s.owner_get("/api/v1/tokens").await.expect(200);
    assert_eq!(
        list.items().len(),
        1,
        "only the owner's own token: {}",
        list.text
    );
}

#[tokio::test]
async fn rule_violations_are_422s() {
    let s = start().await;
    let post = |body| s.owner_post("/api/v1/tokens", body);
    post(json!({ "name": "" }))
        .await
        .expect_error(422, "validation_failed");
    post(json!({ "name": "   " }))
        .await
        .expect_error(422, "validation_failed");
    post(json!({ "name": "x".repeat(101) }))
        .await
        .expect_error(422, "validation_failed");
    post(json!({ "name": "x".repeat(100) })).await.expect(201);
    post(json!({ "name": "a\u{0}b" }))
        .await
        .expect_error(422, "validation_failed");
    post(json!({ "name": "x", "expires_at": "2001-01-01T00:00:00Z" }))
        .await
        .expect_error(422, "validation_failed");
    let r = post(json!({ "name": "x", "policy": [{ "effect": "allow", "actions": ["create"], "resources": ["*"] }] }))
        .await
        .expect_error(422, "invalid_policy");
    assert!(r.text.contains("statement 0"), "{}", r.text);
    post(json!({ "name": "x", "policy": [] }))
        .await
        .expect_error(422, "invalid_policy");
    post(json!({ "name": "x", "policy": [{ "effect": "allow", "actions": ["*"], "resources": ["*"], "extra": 1 }] }))
        .await
        .expect_error(400, "bad_request");
    post(json!({ "name": "x", "projects": ["Not A Key"] }))
        .await
        .expect_error(422, "validation_failed");
    post(json!({ "name": "x", "custom_roles": [] }))
        .await
        .expect_error(422, "validation_failed");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let s = start().await;
    let big = "x".repeat(200 * 1024);
    s.owner_cannot_create_token(json!({ "name": big }), 413, "payload_too_large")
        .await;
    s.post("/api/v1/verify", "", json!({ "token": big }))
        .await
        .expect_error(413, "payload_too_large");
}

#[tokio::test]
async fn garbage_credentials_are_401s() {
    let s = start().await;
    let with_header = |value: &'static str| {
        let s = &s;
        async move {
            send(
                s.http
                    .get(s.url("/api/v1/me"))
                    .header("authorization", value),
            )
            .await
        }
    };
    for value in [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer tsr_short",
        "Bearer not-a-token",
        "ApiKey 🦀",
    ] {
        let r = with_header(value).await;
        assert_eq!(r.status, 401, "{value:?}: {}", r.text);
        assert!(r.headers.get("www-authenticate").is_some(), "{value:?}");
        assert!(
            matches!(r.code(), "invalid_token" | "unauthenticated"),
            "{value:?}: {}",
            r.text
        );
    }
    // A well-formed token with a wrong checksum, and one that was never issued.
    let mut typo = s.owner_token.clone();
    let last = typo.pop().expect("char");
    typo.push(if last == 'a' { 'b' } else { 'a' });
    s.assert_token_refused(&typo).await;
    let format = tessera_core::TokenFormat::default();
    let never_issued = format.generate(time::OffsetDateTime::now_utc()).token;
    s.assert_token_refused(&never_issued).await;
    // No credential at all.
    s.call(Method::GET, "/api/v1/tokens", None, None)
        .await
        .expect_error(401, "unauthenticated");
    // Non-UTF-8 header bytes.
    let r = send(s.http.get(s.url("/api/v1/me")).header(
        "authorization",
        reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("bytes"),
    ))
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn unknown_ids_and_paths() {
    let s = start().await;
    let now = time::OffsetDateTime::now_utc();
    let unknown = tessera_core::TokenId::generate(now);
    let member = tessera_core::MemberId::generate(now);
    let (not_found, bad_request) = ((404, "not_found"), (400, "bad_request"));
    for (path, (status, code)) in [
        (format!("/api/v1/tokens/{unknown}"), not_found),
        ("/api/v1/tokens/not-an-id".into(), bad_request),
        ("/api/v1/members/nope".into(), bad_request),
        (format!("/api/v1/members/{member}"), not_found),
        ("/api/v1/roles/missing".into(), not_found),
        ("/api/v1/nowhere".into(), not_found),
        ("/api/v1/audit?limit=0".into(), bad_request),
        ("/api/v1/audit?limit=abc".into(), bad_request),
        ("/api/v1/audit?before=zzz".into(), bad_request),
        ("/api/v1/audit?color=red".into(), bad_request),
    ] {
        let reply = s.owner_get(&path).await;
        assert_eq!(reply.status.as_u16(), status, "{path}: {}", reply.text);
        reply.expect_error(status, code);
    }
    s.owner_get("/api/v1/tokens/self").await.expect(200);
    s.owner_delete("/api/v1/projects/missing")
        .await
        .expect_error(404, "not_found");
    let r = s
        .call(
            Method::PUT,
            "/api/v1/tokens",
            Some(&s.owner_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "bad_request");
}

#[tokio::test]
async fn tokens_never_come_back_in_errors() {
    let (s, _, token, _) = start_with_owner_token("secret").await;
    let r = s
        .owner_post("/api/v1/tokens", json!({ "name": "x", "projects": token }))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        !r.text.contains(&token[4..]),
        "the token came back in an error: {}",
        r.text
    );
    let r = s
        .post("/api/v1/verify", "", json!({ "token": 5, "action": token }))
        .await;
    assert_eq!(r.status, 400);
    assert!(!r.text.contains(&token[4..]), "{}", r.text);
}

#[tokio::test]
async fn verify_questions_must_be_well_formed() {
    let s = start().await;
    let t = s.owner_token.clone();
    for question in [
        json!({ "token": t, "action": "flag:read" }),
        json!({ "token": t, "action": "flag:read", "resource": "proj" }),
        json!({ "token": t, "action": "read", "resource": "proj/x" }),
    ] {
        s.post("/api/v1/verify", "", question)
            .await
            .expect_error(400, "bad_request");
    }
    s.post("/api/v1/leaks", "", json!({ "tokens": vec!["x"; 1001] }))
        .await
        .expect_error(400, "bad_request");
}

/// `POST /tokens/{id}/clone` may be sent without a body; one it is sent is
/// read by the rules of every other endpoint.
#[tokio::test]
async fn an_optional_body_is_read_by_the_same_rules_as_every_endpoint() {
    let (s, id, _, _) = start_with_owner_token("original").await;
    let clone = format!("/api/v1/tokens/{id}/clone");
    for (body, content_type, status) in [
        ("{not json", "application/json", 400),
        (r#"{"name": "x"}"#, "text/plain", 415),
        (r#"{"name": "x"}"#, "application/json; charset", 415),
        (r#"{"name": 5}"#, "application/json", 400),
    ] {
        let cloned = post_raw(&s, &clone, body, content_type).await;
        let leaks = post_raw(&s, "/api/v1/leaks", body, content_type).await;
        assert_eq!(cloned.status.as_u16(), status, "{body}: {}", cloned.text);
        if status == 415 || body.starts_with("{not") {
            assert_eq!(cloned.body["error"], leaks.body["error"], "{body:?}");
        }
    }
    let wrong_type = post_raw(&s, &clone, r#"{"name": 5}"#, "application/json").await;
    assert!(
        wrong_type.text.contains("name: invalid type"),
        "{}",
        wrong_type.text
    );
    // No body, or only whitespace: a copy with the default name.
    post_raw(&s, &clone, "", "").await.expect(201);
    post_raw(&s, &clone, " \n", "text/plain").await.expect(201);
    // Another `+json` type is JSON.
    let named = post_raw(
        &s,
        &clone,
        r#"{"name": "the copy"}"#,
        "application/vnd.api+json",
    )
    .await
    .expect(201);
    assert_eq!(named.body["name"], "the copy");
}

/// `POST /verify` reads its body in front of the router (for speed), so it
/// must answer bad bodies exactly as the routed endpoints do.
#[tokio::test]
async fn verify_reads_bodies_by_the_same_rules_as_every_endpoint() {
    let s = start().await;
    // Bodies that are not JSON at all: the same answer, word for word.
    for (body, content_type, status) in [
        ("{not json", "application/json", 400),
        ("", "application/json", 400),
        (r#"{"token": "x"}"#, "text/plain", 415),
        (r#"{"token": "x"}"#, "application/json; charset", 415),
    ] {
        let verify = post_raw(&s, "/api/v1/verify", body, content_type).await;
        let leaks = post_raw(&s, "/api/v1/leaks", body, content_type).await;
        assert_eq!(verify.status.as_u16(), status, "{body}: {}", verify.text);
        assert_eq!(
            verify.body["error"], leaks.body["error"],
            "/verify and the routed /leaks answer {body:?} ({content_type}) alike"
        );
    }
    // JSON of the wrong shape: a message that says what is wrong, and
    // names the field at fault.
    for (body, says) in [
        (r#"{"token": 42}"#, "token: invalid type"),
        (r#"{"token": "x", "tokn": "y"}"#, "unknown field `tokn`"),
        ("[]", "expected struct VerifyRequest"),
        (
            r#"{"token": "x"} trailing"#,
            "malformed JSON: trailing characters",
        ),
    ] {
        let r = post_raw(&s, "/api/v1/verify", body, "application/json")
            .await
            .expect_error(400, "bad_request");
        assert!(r.text.contains(says), "{body}: {}", r.text);
    }
    // JSON with another `+json` type is JSON.
    post_raw(
        &s,
        "/api/v1/verify",
        r#"{"token": "x"}"#,
        "application/vnd.api+json",
    )
    .await
    .expect(200);
}
