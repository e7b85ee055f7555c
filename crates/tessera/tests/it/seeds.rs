//! Each seed document's flow, end to end over HTTP.

use reqwest::Method;
use serde_json::json;
use time::Duration;

use crate::harness::{in_days, start, start_with_owner_token, Reply};

/// Groundlight: create → shown once → snippet and last used in the list →
/// revoke → 401.
#[tokio::test]
async fn groundlight_create_list_revoke() {
    let (s, id, token, created) = start_with_owner_token("CI deploy").await;
    assert!(token.starts_with("tsr_"), "{token}");
    assert_eq!(token.len(), 4 + 27 + 32 + 6);
    assert_eq!(&token[4..31], id, "the KSUID inside the token is its id");
    let snippet = created["snippet"].as_str().expect("snippet").to_owned();
    assert!(
        snippet.starts_with("tsr_") && snippet.len() < 16,
        "{snippet}"
    );

    // Shown once: no read returns the value again.
    let shown = s
        .owner_get(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(200);
    assert!(shown.body.get("token").is_none());
    assert!(!shown.text.contains(&token[31..]));
    let listed = s.owner_get("/api/v1/tokens").await.expect(200);
    assert!(!listed.text.contains(&token[31..]), "list leaks the secret");
    let item = find(&listed, &id);
    assert_eq!(item["name"], "CI deploy");
    assert_eq!(item["snippet"], snippet.as_str());
    assert!(item["last_used_at"].is_null(), "not used yet");

    // Using it shows up as last used, with the client IP.
    s.get("/api/v1/me", &token).await.expect(200);
    let listed = s.owner_get("/api/v1/tokens").await.expect(200);
    let item = find(&listed, &id);
    assert!(item["last_used_at"].is_string(), "{item}");
    assert_eq!(item["last_used_ip"], "127.0.0.1");

    // Revoke: the next request is a 401, and it cannot be restored.
    s.owner_delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    let denied = s.assert_token_refused(&token).await;
    assert!(denied.headers.get("www-authenticate").is_some());
    s.owner_get(&format!("/api/v1/tokens/{id}"))
        .await
        .expect_error(404, "not_found");
    s.owner_delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect_error(404, "not_found");
}

pub fn find<'a>(list: &'a Reply, id: &str) -> &'a serde_json::Value {
    list.items()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in list: {}", list.text))
}

/// Last used survives a restart: it is flushed on shutdown.
#[tokio::test]
async fn last_used_is_flushed_on_shutdown() {
    let mut s = start().await;
    let (id, token, _) = s.owner_creates_token("flushed").await;
    s.get("/api/v1/me", &token).await.expect(200);
    s.stop().await;
    let store = tessera_store::connect(&s.database_url)
        .await
        .expect("reopen");
    let stored = store
        .get_token(&tessera_core::TokenId::parse(&id).expect("id"))
        .await
        .expect("read")
        .expect("token exists");
    assert!(
        stored.last_used_at.is_some(),
        "last used was not flushed on shutdown"
    );
    assert_eq!(stored.last_used_ip.as_deref(), Some("127.0.0.1"));
}

/// LaunchDarkly: role bounds, downgrade shrinks, removal invalidates,
/// clone, re-scope, admin deletes but never sees values.
#[tokio::test]
async fn launchdarkly_roles_and_bounds() {
    let s = start().await;
    let (reader_id, reader_token) = s.member_with_token("reader@acme.test", "reader").await;
    let (writer_id, writer_token) = s.member_with_token("writer@acme.test", "writer").await;

    // A reader can only create reader tokens; a writer reader or writer,
    // and no token beyond its own rights.
    let everything = json!([{ "effect": "allow", "actions": ["*"], "resources": ["*"] }]);
    for (who, caller, body, status) in [
        (
            "reader",
            &reader_token,
            json!({ "name": "r", "role": "writer" }),
            403,
        ),
        (
            "reader",
            &reader_token,
            json!({ "name": "r", "role": "reader" }),
            201,
        ),
        (
            "writer",
            &writer_token,
            json!({ "name": "w", "role": "admin" }),
            403,
        ),
        (
            "writer",
            &writer_token,
            json!({ "name": "w", "policy": everything }),
            403,
        ),
    ] {
        let reply = s.post("/api/v1/tokens", caller, body.clone()).await;
        assert_eq!(
            reply.status, status,
            "{who} asks for {body}: {}",
            reply.text
        );
        if status == 403 {
            reply.expect_error(403, "forbidden");
        }
    }
    let (w_id, w_token, _) = s
        .create_token(
            &writer_token,
            json!({ "name": "writer token", "role": "writer" }),
        )
        .await;

    // A writer token writes under proj/*; after a downgrade to reader it can't.
    let may_write = |token: String| {
        let s = &s;
        async move {
            let r = s.verify(json!({ "token": token, "action": "flag:update", "resource": "proj/web:env/prod:flag/x" })).await;
            r.body["allowed"].as_bool().expect("allowed")
        }
    };
    assert!(may_write(w_token.clone()).await);
    s.owner_updates_member(&writer_id, json!({ "role": "reader" }))
        .await;
    assert!(
        !may_write(w_token.clone()).await,
        "the writer token must shrink with its owner"
    );
    s.owner_updates_member(&writer_id, json!({ "role": "writer" }))
        .await;
    assert!(may_write(w_token.clone()).await);

    // Clone: new id, new secret, same scope.
    let clone = s
        .post(
            &format!("/api/v1/tokens/{w_id}/clone"),
            &writer_token,
            json!({}),
        )
        .await
        .expect(201);
    assert_ne!(clone.body["id"], w_id.as_str());
    assert_eq!(clone.body["role"], "writer");
    assert_eq!(clone.body["name"], "writer token (copy)");
    let clone_token = clone.string("token");
    assert!(may_write(clone_token.clone()).await);

    // Re-scope to reader: the same string loses write at once.
    let rescoped = s
        .patch(
            &format!("/api/v1/tokens/{w_id}"),
            &writer_token,
            json!({ "role": "reader" }),
        )
        .await
        .expect(200);
    assert_eq!(rescoped.body["role"], "reader");
    assert!(!may_write(w_token.clone()).await);
    // ...and a writer cannot re-scope it above writer.
    s.patch(
        &format!("/api/v1/tokens/{w_id}"),
        &writer_token,
        json!({ "role": "owner" }),
    )
    .await
    .expect_error(403, "forbidden");

    // Others' tokens are private: a reader cannot list or read the writer's.
    s.get(
        &format!("/api/v1/members/{writer_id}/tokens"),
        &reader_token,
    )
    .await
    .expect_error(403, "forbidden");
    s.get(&format!("/api/v1/tokens/{w_id}"), &reader_token)
        .await
        .expect_error(403, "forbidden");

    // An admin lists them (metadata only) and deletes one; never updates or rotates.
    let listed = s
        .owner_get(&format!("/api/v1/members/{writer_id}/tokens"))
        .await
        .expect(200);
    assert!(listed.items().len() >= 3);
    assert!(!listed.text.contains(&w_token[31..]));
    assert!(listed.body["items"][0].get("token").is_none());
    s.owner_patch(
        &format!("/api/v1/tokens/{w_id}"),
        json!({ "name": "hijack" }),
    )
    .await
    .expect_error(403, "forbidden");
    s.owner_delete(&format!("/api/v1/tokens/{w_id}"))
        .await
        .expect(204);
    s.assert_token_refused(&w_token).await;

    // Removing a member invalidates all their tokens.
    s.owner_delete(&format!("/api/v1/members/{writer_id}"))
        .await
        .expect(204);
    s.assert_token_refused(&writer_token).await;
    s.assert_token_refused(&clone_token).await;
    let _ = reader_id;
}

/// LaunchDarkly: a custom role can deny a member the token actions.
#[tokio::test]
async fn custom_role_restricts_token_creation() {
    let s = start().await;
    s.add_role(json!({ "key": "no-tokens", "policy": [{ "effect": "deny", "actions": ["token:*"], "resources": ["*"] }] })).await;
    let (member_id, member_token) = s.member_with_token("dev@acme.test", "writer").await;
    s.owner_updates_member(&member_id, json!({ "custom_roles": ["no-tokens"] }))
        .await;
    let denied = s
        .post("/api/v1/tokens", &member_token, json!({ "name": "x" }))
        .await
        .expect_error(403, "forbidden");
    assert!(
        denied.text.contains("token:create"),
        "the 403 names the action: {}",
        denied.text
    );
    // The role cannot be deleted while held.
    s.owner_delete("/api/v1/roles/no-tokens")
        .await
        .expect_error(409, "in_use");
}

/// LaunchDarkly: tokens scoped to a custom role or an inline policy.
#[tokio::test]
async fn custom_role_and_inline_scopes() {
    let s = start().await;
    s.add_role(json!({ "key": "flag-reader", "name": "Flag reader", "policy": [{ "effect": "allow", "actions": ["flag:read"], "resources": ["proj/*:*"] }] })).await;
    let (_, custom, body) = s
        .owner_creates_token_with(json!({ "name": "c", "custom_roles": ["flag-reader"] }))
        .await;
    assert_eq!(body["custom_roles"], json!(["flag-reader"]));
    let ask = |token: String, action: &'static str, resource: &'static str| {
        let s = &s;
        async move {
            s.verify(json!({ "token": token, "action": action, "resource": resource }))
                .await
                .body["allowed"]
                .as_bool()
                .expect("allowed")
        }
    };
    assert!(ask(custom.clone(), "flag:read", "proj/web:flag/x").await);
    assert!(!ask(custom.clone(), "flag:update", "proj/web:flag/x").await);
    // Editing the role changes the token at once.
    s.call(
        Method::PUT,
        "/api/v1/roles/flag-reader",
        Some(&s.owner_token),
        Some(json!({ "policy": [
        { "effect": "allow", "actions": ["flag:*"], "resources": ["proj/*:*"] }
    ] })),
    )
    .await
    .expect(200);
    assert!(ask(custom.clone(), "flag:update", "proj/web:flag/x").await);

    let (_, inline, body) = s.owner_creates_token_with(json!({ "name": "i", "policy": [ { "effect": "allow", "actions": ["*"], "resources": ["proj/*:*"] }, { "effect": "deny", "actions": ["flag:delete"], "resources": ["proj/*:env/prod:*"] } ] }))
        .await;
    assert_eq!(body["policy"][1]["effect"], "deny");
    assert!(ask(inline.clone(), "flag:delete", "proj/web:env/dev:flag/x").await);
    assert!(
        !ask(inline.clone(), "flag:delete", "proj/web:env/prod:flag/x").await,
        "deny wins"
    );
    assert!(
        !ask(inline.clone(), "member:read", "member/x").await,
        "nothing matched means deny"
    );
}

/// GraphorLM: a token restricted to a project, used as a Bearer token.
#[tokio::test]
async fn graphorlm_project_scoped_token() {
    let s = start().await;
    s.add_project(json!({ "key": "rag", "name": "RAG pipeline" }))
        .await;
    s.add_project(json!({ "key": "other" })).await;
    let (id, token, body) = s
        .owner_creates_token_with(json!({ "name": "Claude Integration", "projects": ["rag"] }))
        .await;
    assert_eq!(body["projects"], json!(["rag"]));

    // Bearer works against forward-auth inside the project, not outside.
    let auth = |resource: &'static str| {
        let s = &s;
        let token = token.clone();
        async move {
            s.http
                .get(s.url("/api/v1/auth"))
                .bearer_auth(token)
                .header("x-tessera-action", "flow:run")
                .header("x-tessera-resource", resource)
                .send()
                .await
                .expect("sent")
        }
    };
    let ok = auth("proj/rag:flow/ingest").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-tessera-token-id"], id.as_str());
    assert_eq!(auth("proj/other:flow/ingest").await.status(), 403);
    // Outside every project it can do nothing, not even list tokens.
    s.get("/api/v1/projects", &token).await.expect(200);
    // Listing shows only itself: the one token it may read outside its projects.
    let mine = s.get("/api/v1/tokens", &token).await.expect(200);
    let ids: Vec<&str> = mine
        .items()
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [id.as_str()]);
    s.post("/api/v1/tokens", &token, json!({ "name": "escape" }))
        .await
        .expect_error(403, "forbidden");
    // ...except keep itself alive: it may read and rotate itself.
    s.get("/api/v1/tokens/self", &token).await.expect(200);
    s.delete("/api/v1/tokens/self", &token)
        .await
        .expect_error(403, "forbidden");
    let (ci_id, ci_token, _) = s
        .owner_creates_token_with(
            json!({ "name": "ci", "projects": ["rag"], "expires_at": in_days(7) }),
        )
        .await;
    let rotated = s
        .rotate_token("self", &ci_token, json!({ "expires_at": in_days(14) }))
        .await;
    assert_eq!(rotated.body["id"], ci_id.as_str());
    assert_eq!(rotated.body["projects"], json!(["rag"]));
}

/// Lightdash: the ApiKey scheme, expiry, and the rotation rules.
#[tokio::test]
async fn lightdash_apikey_expiry_and_rotation() {
    let s = start().await;
    let (id, token, _) = s.owner_creates_expiring_token("pat", 30).await;
    let apikey = s
        .http
        .get(s.url("/api/v1/me"))
        .header("authorization", format!("ApiKey {token}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(apikey.status(), 200);

    // A token without an expiration cannot be rotated.
    let (forever_id, _, _) = s.owner_creates_token("forever").await;
    s.owner_post(
        &format!("/api/v1/tokens/{forever_id}/rotate"),
        json!({ "expires_at": in_days(10) }),
    )
    .await
    .expect_error(422, "not_rotatable");
    // The new expiry is required and must be in the future.
    s.owner_post(&format!("/api/v1/tokens/{id}/rotate"), json!({}))
        .await
        .expect_error(400, "bad_request");
    s.owner_post(
        &format!("/api/v1/tokens/{id}/rotate"),
        json!({ "expires_at": in_days(-1) }),
    )
    .await
    .expect_error(422, "validation_failed");

    // Rotate (PATCH, Lightdash's camelCase): same id and name, new string, old dead at once.
    let rotated = s
        .owner_patch(
            &format!("/api/v1/tokens/{id}/rotate"),
            json!({ "expiresAt": in_days(60) }),
        )
        .await
        .expect(200);
    let new_token = rotated.string("token");
    assert_eq!(rotated.body["id"], id.as_str());
    assert_eq!(rotated.body["name"], "pat");
    assert_ne!(new_token, token);
    s.assert_token_refused(&token).await;
    s.get("/api/v1/me", &new_token).await.expect(200);

    // Once per hour: 429 with Retry-After, then fine an hour later.
    let again = s
        .owner_post(
            &format!("/api/v1/tokens/{id}/rotate"),
            json!({ "expires_at": in_days(60) }),
        )
        .await
        .expect_error(429, "rate_limited");
    // People read the wait in words; Retry-After keeps the seconds.
    let message = again.body["error"]["message"].as_str().expect("message");
    assert!(message.ends_with("retry in 60 minutes"), "{message}");
    let retry: u64 = again.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((3500..=3600).contains(&retry), "Retry-After {retry}");
    s.clock.advance(Duration::hours(1));

    // A token may rotate itself via `self`, with a grace period for the old string.
    let newest = s.rotate_with_grace("self", &new_token, 600).await;
    s.get("/api/v1/me", &new_token).await.expect(200);
    s.get("/api/v1/me", &newest).await.expect(200);
    s.clock.advance(Duration::seconds(601));
    s.assert_token_refused(&new_token).await;
    s.get("/api/v1/me", &newest).await.expect(200);

    // Expiry: past expires_at the token is 401 token_expired.
    s.clock.advance(Duration::days(61));
    let expired = s
        .get("/api/v1/me", &newest)
        .await
        .expect_error(401, "token_expired");
    assert!(expired.headers.get("www-authenticate").is_some());

    // An expired token can still be rotated back to life; grace is capped at 24 h.
    let later = in_days(90);
    s.owner_post(
        &format!("/api/v1/tokens/{id}/rotate"),
        json!({ "expires_at": later, "grace_period_seconds": 86401 }),
    )
    .await
    .expect_error(422, "validation_failed");
    let revived = s
        .owner_post(
            &format!("/api/v1/tokens/{id}/rotate"),
            json!({ "expires_at": later }),
        )
        .await
        .expect(200);
    s.get("/api/v1/me", revived.body["token"].as_str().expect("token"))
        .await
        .expect(200);
}

/// The org's token policy: required expiration and a maximum lifetime,
/// each a 422 naming its rule.
#[tokio::test]
async fn org_token_policy() {
    let s = start().await;
    s.owner_patch(
        "/api/v1/org",
        json!({ "token_policy": { "require_expiration": true, "max_lifetime_days": 30 } }),
    )
    .await
    .expect(200);
    let r = s
        .owner_cannot_create_token(json!({ "name": "x" }), 422, "expiration_required")
        .await;
    assert!(r.text.contains("require_expiration"));
    let r = s
        .owner_cannot_create_token(
            json!({ "name": "x", "expires_at": in_days(31) }),
            422,
            "lifetime_exceeded",
        )
        .await;
    assert!(r.text.contains("max_lifetime_days"));
    let (id, _, _) = s.owner_creates_expiring_token("x", 29).await;
    s.owner_patch(
        &format!("/api/v1/tokens/{id}"),
        json!({ "expires_at": null }),
    )
    .await
    .expect_error(422, "expiration_required");
    s.owner_post(
        &format!("/api/v1/tokens/{id}/rotate"),
        json!({ "expires_at": in_days(45) }),
    )
    .await
    .expect_error(422, "lifetime_exceeded");
    let org = s.owner_get("/api/v1/org").await.expect(200);
    assert_eq!(org.body["token_policy"]["max_lifetime_days"], 30);
    s.owner_patch(
        "/api/v1/org",
        json!({ "token_policy": { "max_lifetime_days": 0 } }),
    )
    .await
    .expect_error(422, "validation_failed");
}

/// A token scoped to a custom role or project the org does not have is
/// refused at creation (LaunchDarkly's custom roles, GraphorLM's projects).
#[tokio::test]
async fn unknown_scope_references_are_refused_at_creation() {
    let s = start().await;
    for (body, code) in [
        (
            json!({ "name": "x", "custom_roles": ["nope"] }),
            "unknown_reference",
        ),
        (
            json!({ "name": "x", "projects": ["nope"] }),
            "unknown_project",
        ),
    ] {
        let refused = s.owner_cannot_create_token(body.clone(), 422, code).await;
        assert!(refused.text.contains("nope"), "{body}: {}", refused.text);
    }
}
