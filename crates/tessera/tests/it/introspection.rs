//! OAuth 2.0 Token Introspection (RFC 7662) at `/api/v1/oauth/introspect`,
//! as a gateway calls it: a form body, the caller's own token as bearer or
//! as Basic client credentials. (tests/oauth drives it with a real OAuth
//! client library.)

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;

use crate::harness::{in_days, send, start, Reply, TestServer, OWNER_EMAIL};

const FORM: &str = "application/x-www-form-urlencoded";

async fn introspect(s: &TestServer, authorization: &str, body: &str) -> Reply {
    let mut request = s
        .http
        .post(format!("{}/api/v1/oauth/introspect", s.base))
        .header(CONTENT_TYPE, FORM)
        .body(body.to_owned());
    if !authorization.is_empty() {
        request = request.header(AUTHORIZATION, authorization);
    }
    send(request).await
}

fn form(token: &str) -> String {
    format!("token={token}&token_type_hint=access_token")
}

fn basic(client_id: &str, secret: &str) -> String {
    let pair = format!("{client_id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn inactive(reply: Reply) {
    let reply = reply.expect(200);
    assert_eq!(reply.body, json!({ "active": false }), "exactly inactive");
}

#[tokio::test]
async fn an_active_token_is_described_in_the_rfcs_words() {
    let s = start().await;
    let bearer = format!("Bearer {}", s.owner_token);
    let expires = in_days(30);
    let (id, token, created) = s
        .owner_creates_token_with(
            json!({ "name": "gateway", "role": "reader", "expires_at": expires }),
        )
        .await;
    let reply = introspect(&s, &bearer, &form(&token)).await.expect(200);
    let body = &reply.body;
    assert_eq!(body["active"], true, "{}", reply.text);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["client_id"], id.as_str());
    assert_eq!(body["sub"], s.owner_id.as_str());
    assert_eq!(body["username"], OWNER_EMAIL);
    assert_eq!(body["org"], "acme");
    assert_eq!(body["scope"], "role:reader");
    let created_at = time::OffsetDateTime::parse(
        created["created_at"].as_str().expect("created_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    assert_eq!(body["iat"], created_at.unix_timestamp());
    let expires_at =
        time::OffsetDateTime::parse(&expires, &time::format_description::well_known::Rfc3339)
            .expect("rfc3339");
    assert_eq!(body["exp"], expires_at.unix_timestamp());
    assert!(
        body["iss"].as_str().is_some_and(|i| i.starts_with("http")),
        "{body}"
    );
    assert_eq!(
        reply
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(
        reply.text.find(&token[10..]).is_none(),
        "the token itself is never echoed"
    );

    // The same through an OAuth client's Basic credentials: any client
    // id, the caller's token as its secret.
    let again = introspect(&s, &basic("my-gateway", &s.owner_token), &form(&token))
        .await
        .expect(200);
    assert_eq!(again.body, reply.body);

    // A token with no expiry has no `exp`; projects show in the scope.
    s.add_project(json!({ "key": "web" })).await;
    let (_, forever, _) = s
        .owner_creates_token_with(json!({ "name": "forever", "projects": ["web"] }))
        .await;
    let reply = introspect(&s, &bearer, &form(&forever)).await.expect(200);
    assert!(reply.body.get("exp").is_none(), "{}", reply.text);
    assert_eq!(reply.body["scope"], "role:owner project:web");
}

#[tokio::test]
async fn every_token_that_does_not_work_is_exactly_inactive() {
    let s = start().await;
    let bearer = format!("Bearer {}", s.owner_token);
    let (id, revoked, _) = s.owner_creates_token("revoked").await;
    s.owner_delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    let (_, expiring, _) = s
        .owner_creates_token_with(json!({ "name": "short", "expires_at": in_days(1) }))
        .await;
    s.clock.advance(time::Duration::days(2));
    for token in [
        revoked.as_str(),
        expiring.as_str(),
        "garbage",
        "tsr_nothing",
        "",
    ] {
        inactive(introspect(&s, &bearer, &form(token)).await);
    }

    // Another org's live token is simply inactive here.
    let config = tessera_server::Config::with_database_url(s.database_url.clone());
    let state = tessera_server::open(config).await.expect("open");
    let beta = tessera_server::setup::create_org(&state, "beta", "b@beta.test", None)
        .await
        .expect("second org");
    let foreign = tessera_server::setup::create_owner_token(&state, &beta, "beta owner")
        .await
        .expect("beta token");
    inactive(introspect(&s, &bearer, &form(&foreign)).await);
    // And the other way round.
    let (_, ours, _) = s.owner_creates_token("ours").await;
    inactive(introspect(&s, &format!("Bearer {foreign}"), &form(&ours)).await);
}

#[tokio::test]
async fn the_caller_needs_token_introspect_on_the_token() {
    let s = start().await;
    let (reader_id, reader_token) = s.member_with_token("reader@acme.test", "reader").await;
    let (_, owners, _) = s.owner_creates_token("owner's").await;
    // A reader may introspect its own tokens (its role has token:* on
    // them), not another member's: 403, naming the action.
    let reply = introspect(&s, &format!("Bearer {reader_token}"), &form(&owners))
        .await
        .expect_error(403, "forbidden");
    assert!(reply.text.contains("token:introspect"), "{}", reply.text);
    let own = introspect(&s, &format!("Bearer {reader_token}"), &form(&reader_token))
        .await
        .expect(200);
    assert_eq!(own.body["sub"], reader_id.as_str());

    // A custom role can grant it on every token, without admin.
    s.add_role(json!({
        "key": "gateway",
        "policy": [{ "effect": "allow", "actions": ["token:introspect"], "resources": ["member/*:token/*"] }]
    }))
    .await;
    let member = s
        .add_member("gw@acme.test", "reader", "gateway-password-1")
        .await;
    s.owner_updates_member(&member, json!({ "custom_roles": ["gateway"] }))
        .await;
    let gateway = s
        .token_of("gw@acme.test", "gateway-password-1", "introspector")
        .await;
    let reply = introspect(&s, &format!("Bearer {gateway}"), &form(&owners))
        .await
        .expect(200);
    assert_eq!(reply.body["active"], true);
}

#[tokio::test]
async fn bad_callers_and_bad_forms_are_clear_errors() {
    let s = start().await;
    let (_, token, _) = s.owner_creates_token("asked about").await;
    let bearer = format!("Bearer {}", s.owner_token);
    // Who asks comes first.
    for authorization in ["", "Bearer garbage", "Basic !!!", "Digest abc"] {
        let reply = introspect(&s, authorization, &form(&token)).await;
        assert_eq!(
            reply.status.as_u16(),
            401,
            "{authorization}: {}",
            reply.text
        );
        assert!(reply.headers.get("www-authenticate").is_some());
    }
    let reply = introspect(&s, &basic("id", ""), &form(&token)).await;
    assert_eq!(reply.status.as_u16(), 401);
    let reply = introspect(&s, &basic("id", "garbage"), &form(&token)).await;
    assert_eq!(reply.status.as_u16(), 401);
    // Then the form.
    for body in ["", "tokn=abc", "token=a&token=b", "%zz"] {
        introspect(&s, &bearer, body)
            .await
            .expect_error(400, "bad_request");
    }
    let json = s
        .post(
            "/api/v1/oauth/introspect",
            &s.owner_token,
            json!({ "token": token }),
        )
        .await;
    let json = json.expect_error(415, "unsupported_media_type");
    assert!(json.text.contains("x-www-form-urlencoded"), "{}", json.text);
    let huge = format!("token={}", "a".repeat(200 * 1024));
    introspect(&s, &bearer, &huge)
        .await
        .expect_error(413, "payload_too_large");
    let reply = s.get("/api/v1/oauth/introspect", &s.owner_token).await;
    assert_eq!(reply.status.as_u16(), 405);
}
