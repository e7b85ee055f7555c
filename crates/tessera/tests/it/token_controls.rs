//! Token controls: disable and enable, the org-wide inventory
//! (`GET /tokens?all=true` and its web page), and the org's inactivity
//! rule, on the backend under test (the two-node case always on
//! PostgreSQL).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::harness::{postgres_schema, send, start, start_node, start_on, TestServer};

/// Audit events with `action`, newest first.
async fn audited(s: &TestServer, action: &str) -> Vec<Value> {
    s.owner_get(&format!("/api/v1/audit?action={action}&limit=500"))
        .await
        .expect(200)
        .items()
        .to_vec()
}

fn disabled_at(body: &Value) -> &Value {
    assert!(
        body.as_object()
            .is_some_and(|o| o.contains_key("disabled_at")),
        "no disabled_at in {body}"
    );
    &body["disabled_at"]
}

/// The server's time, `days` from its now, as the API writes times.
fn server_time(s: &TestServer, days: i64) -> String {
    (s.clock.now() + time::Duration::days(days))
        .format(&Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn a_disabled_token_is_refused_everywhere_until_enabled() {
    let s = start().await;
    let (id, token, created) = s.owner_creates_token("ci").await;
    assert!(disabled_at(&created).is_null());
    // Cached by a use first: disabling must reach the cache.
    s.get("/api/v1/me", &token).await.expect(200);
    let valid = s.verify(json!({ "token": token })).await;
    assert_eq!(valid.body["valid"], true);

    let path = format!("/api/v1/tokens/{id}/disable");
    let disabled = s.owner_post(&path, json!({})).await.expect(200);
    let at = disabled_at(&disabled.body).as_str().unwrap().to_owned();
    assert_eq!(disabled.string("id"), id);

    let refused = s
        .get("/api/v1/me", &token)
        .await
        .expect_error(401, "token_disabled");
    assert!(refused.headers.get("www-authenticate").is_some());
    let answer = s.verify(json!({ "token": token })).await;
    assert_eq!(answer.body["valid"], false);
    assert_eq!(answer.body["code"], "token_disabled");
    let auth = s.get("/api/v1/auth", &token).await;
    assert_eq!(auth.status.as_u16(), 401, "{}", auth.text);
    assert!(auth.headers.get("www-authenticate").is_some());

    // Shown wherever the token is; disabling again changes nothing.
    let shown = s
        .owner_get(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(200);
    assert_eq!(disabled_at(&shown.body), &json!(at));
    let listed = s.owner_get("/api/v1/tokens").await.expect(200);
    let item = listed.items().iter().find(|t| t["id"] == id).unwrap();
    assert_eq!(disabled_at(item), &json!(at));
    s.clock.advance(time::Duration::seconds(5));
    let again = s.owner_post(&path, json!({})).await.expect(200);
    assert_eq!(disabled_at(&again.body), &json!(at));
    let events = audited(&s, "token:disable").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["name"], "ci");
    assert!(events[0]["details"]["snippet"].is_string());

    let enabled = s
        .owner_post(&format!("/api/v1/tokens/{id}/enable"), json!({}))
        .await
        .expect(200);
    assert!(disabled_at(&enabled.body).is_null());
    s.get("/api/v1/me", &token).await.expect(200);
    assert_eq!(
        s.verify(json!({ "token": token })).await.body["valid"],
        true
    );
    s.get("/api/v1/auth", &token).await.expect(200);
    s.owner_post(&format!("/api/v1/tokens/{id}/enable"), json!({}))
        .await
        .expect(200);
    assert_eq!(audited(&s, "token:enable").await.len(), 1);
}

#[tokio::test]
async fn only_the_owner_or_an_admin_disables_and_others_see_nothing() {
    let s = start().await;
    let (owner_token_id, owner_token, _) = s.owner_creates_token("mine").await;
    let (writer_id, writer) = s.member_with_token("w@acme.test", "writer").await;
    let (_, other_writer) = s.member_with_token("x@acme.test", "writer").await;

    // A writer cannot see the owner's token: 404, and nothing changes.
    for verb in ["disable", "enable"] {
        s.post(
            &format!("/api/v1/tokens/{owner_token_id}/{verb}"),
            &writer,
            json!({}),
        )
        .await
        .expect_error(404, "not_found");
    }
    s.get("/api/v1/me", &owner_token).await.expect(200);
    // Malformed and unknown ids.
    s.owner_post("/api/v1/tokens/not-an-id/disable", json!({}))
        .await
        .expect_error(400, "bad_request");
    let unknown = "2GdXMflhJv1NwP0s3HqWz9pLmQa";
    s.owner_post(&format!("/api/v1/tokens/{unknown}/disable"), json!({}))
        .await
        .expect(404);
    assert!(audited(&s, "token:disable").await.is_empty());

    // A member disables their own token (here, the one calling: `self`),
    // an admin anyone's.
    let own = s
        .post("/api/v1/tokens/self/disable", &other_writer, json!({}))
        .await
        .expect(200);
    assert!(!disabled_at(&own.body).is_null());
    s.get("/api/v1/me", &other_writer)
        .await
        .expect_error(401, "token_disabled");
    let writers = s
        .owner_get(&format!("/api/v1/members/{writer_id}/tokens"))
        .await
        .expect(200);
    let writer_token_id = writers.items()[0]["id"].as_str().unwrap().to_owned();
    s.owner_post(
        &format!("/api/v1/tokens/{writer_token_id}/disable"),
        json!({}),
    )
    .await
    .expect(200);
    s.get("/api/v1/me", &writer)
        .await
        .expect_error(401, "token_disabled");
    let events = audited(&s, "token:disable").await;
    assert_eq!(events.len(), 2);
}

#[tokio::test]
async fn the_inventory_lists_every_token_with_filters_and_pages() {
    let s = start().await;
    let (writer_id, writer) = s.member_with_token("w@acme.test", "writer").await;
    for name in ["Deploy prod", "deploy_100%", "laptop"] {
        s.owner_creates_token(name).await;
    }
    let (exp_id, _, _) = s
        .owner_creates_token_with(json!({ "name": "soon", "expires_at": server_time(&s, 3) }))
        .await;

    let all = s.owner_get("/api/v1/tokens?all=true").await.expect(200);
    // The owner's 5 (their first, 4 made here), the writer's one.
    assert_eq!(all.items().len(), 6, "{}", all.text);
    assert!(all.body["next_cursor"].is_null());
    assert!(all.items().iter().all(|t| t["disabled_at"].is_null()));
    let names = |r: &crate::harness::Reply| -> Vec<String> {
        r.items()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let theirs = s
        .owner_get(&format!("/api/v1/tokens?all=true&member={writer_id}"))
        .await
        .expect(200);
    assert_eq!(names(&theirs), ["their token"]);
    let deploy = s
        .owner_get("/api/v1/tokens?all=true&q=DEPLOY")
        .await
        .expect(200);
    // Made in the same second: either order.
    let mut deploy = names(&deploy);
    deploy.sort();
    assert_eq!(deploy, ["Deploy prod", "deploy_100%"]);
    let literal = s
        .owner_get("/api/v1/tokens?all=true&q=%25")
        .await
        .expect(200);
    assert_eq!(names(&literal), ["deploy_100%"]);
    let before = server_time(&s, 4).replace('+', "%2B");
    let expiring = s
        .owner_get(&format!("/api/v1/tokens?all=true&expires_before={before}"))
        .await
        .expect(200);
    assert_eq!(expiring.items()[0]["id"], exp_id);
    assert_eq!(expiring.items().len(), 1);

    // Used tokens: the owner's own (every call above) and, now, the writer's.
    s.get("/api/v1/me", &writer).await.expect(200);
    let by_use = s
        .owner_get("/api/v1/tokens?all=true&sort=last_used")
        .await
        .expect(200);
    let used: Vec<bool> = by_use
        .items()
        .iter()
        .map(|t| !t["last_used_at"].is_null())
        .collect();
    // Used tokens first, as shown (this node's uses are saved first).
    assert!(used.windows(2).all(|w| w[0] || !w[1]), "{used:?}");
    assert_eq!(used.iter().filter(|u| **u).count(), 2, "{used:?}");
    s.clock.advance(time::Duration::days(10));
    s.get("/api/v1/me", &writer).await.expect(200);
    let since = server_time(&s, -1).replace('+', "%2B");
    let unused = s
        .owner_get(&format!("/api/v1/tokens?all=true&unused_since={since}"))
        .await
        .expect(200);
    assert!(!names(&unused).contains(&"their token".to_owned()));
    assert!(names(&unused).contains(&"laptop".to_owned()));

    // Pages of two, then the end; no token twice.
    let mut seen = Vec::new();
    let mut path = "/api/v1/tokens?all=true&limit=2".to_owned();
    loop {
        let page = s.owner_get(&path).await.expect(200);
        assert!(page.items().len() <= 2);
        seen.extend(names(&page));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/tokens?all=true&limit=2&before={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(seen, names(&all));
}

#[tokio::test]
async fn the_inventory_refuses_bad_input_and_non_admins() {
    let s = start().await;
    for i in 0..3 {
        s.owner_creates_token(&format!("t{i}")).await;
    }
    let (_, writer) = s.member_with_token("w@acme.test", "writer").await;
    s.get("/api/v1/tokens?all=true", &writer)
        .await
        .expect_error(403, "forbidden");
    // Without all=true a writer still lists their own.
    s.get("/api/v1/tokens", &writer).await.expect(200);

    let first = s
        .owner_get("/api/v1/tokens?all=true&limit=1")
        .await
        .expect(200);
    let cursor = first.string("next_cursor");
    let mut flipped = cursor.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let long = "x".repeat(101);
    let bad = [
        "all=true&expires_before=tomorrow".to_owned(),
        "all=true&unused_since=2026-13-01T00:00:00Z".to_owned(),
        "all=true&expires_before=2026-01-01".to_owned(),
        "all=true&member=nobody".to_owned(),
        format!("all=true&q={long}"),
        "all=true&limit=0".to_owned(),
        "all=true&limit=501".to_owned(),
        "all=true&limit=-1".to_owned(),
        "all=true&sort=oldest".to_owned(),
        "all=true&before=garbage".to_owned(),
        format!("all=true&before={flipped}"),
        format!("all=true&sort=last_used&before={cursor}"),
        "all=true&colour=blue".to_owned(),
        "q=t".to_owned(),
        "limit=5".to_owned(),
        "all=maybe".to_owned(),
    ];
    for query in bad {
        s.owner_get(&format!("/api/v1/tokens?{query}"))
            .await
            .expect_error(400, "bad_request");
    }
    // The real cursor still works.
    s.owner_get(&format!("/api/v1/tokens?all=true&limit=1&before={cursor}"))
        .await
        .expect(200);
}

#[tokio::test]
async fn the_inventory_page_filters_like_the_api() {
    let s = start().await;
    s.owner_creates_token("deploy").await;
    s.owner_creates_token("laptop").await;
    let cookie = s
        .login(crate::harness::OWNER_EMAIL, crate::harness::OWNER_PASSWORD)
        .await;
    let page = |path: &str| {
        let request = s.http.get(s.url(path)).header("cookie", &cookie);
        send(request)
    };
    let all = page("/admin/tokens").await.expect(200);
    assert!(all.text.contains("deploy") && all.text.contains("laptop"));
    let filtered = page("/admin/tokens?q=DEPL&sort=last_used&unused_since=2999-01-01")
        .await
        .expect(200);
    assert!(filtered.text.contains("deploy"));
    assert!(!filtered.text.contains("laptop"));
    let bad = page("/admin/tokens?expires_before=someday")
        .await
        .expect(400);
    assert!(bad.text.contains("RFC 3339"), "{}", bad.text);
    let (_, _) = s.member_with_token("w@acme.test", "writer").await;
    let writer = s.login("w@acme.test", "member-password-1").await;
    let refused = send(s.http.get(s.url("/admin/tokens")).header("cookie", &writer)).await;
    assert_eq!(refused.status.as_u16(), 403);
}

#[tokio::test]
async fn the_inactivity_policy_refuses_bad_values_and_changes_nothing() {
    let s = start().await;
    let before = s.owner_get("/api/v1/org").await.expect(200).body;
    for policy in [
        json!({ "inactive_days": 0 }),
        json!({ "inactive_days": -1 }),
        json!({ "inactive_days": 3651 }),
        json!({ "inactive_days": 99_999_999_999u64 }),
        json!({ "inactive_days": "30" }),
        json!({ "inactive_action": "delete" }),
        json!({ "inactive_days": 30, "inactive_action": "explode" }),
    ] {
        let reply = s
            .owner_patch("/api/v1/org", json!({ "token_policy": policy }))
            .await;
        assert!(
            reply.status.is_client_error(),
            "{policy}: {} {}",
            reply.status,
            reply.text
        );
        assert!(!reply.code().is_empty());
    }
    assert_eq!(s.owner_get("/api/v1/org").await.expect(200).body, before);
    assert!(before["token_policy"]["inactive_days"].is_null());
    assert_eq!(before["token_policy"]["inactive_action"], "disable");
    let set = s
        .owner_patch(
            "/api/v1/org",
            json!({ "token_policy": { "inactive_days": 90, "inactive_action": "revoke" } }),
        )
        .await
        .expect(200);
    assert_eq!(set.body["token_policy"]["inactive_days"], 90);
    assert_eq!(set.body["token_policy"]["inactive_action"], "revoke");
    let off = s
        .owner_patch(
            "/api/v1/org",
            json!({ "token_policy": { "inactive_days": null } }),
        )
        .await
        .expect(200);
    assert!(off.body["token_policy"]["inactive_days"].is_null());
}

/// Applies the inactivity rule on `s` now, as its minute timer would.
async fn sweep(s: &TestServer) -> tessera_server::service::inactivity::Swept {
    tessera_server::service::inactivity::sweep(s.state())
        .await
        .expect("sweep")
}

#[tokio::test]
async fn inactive_tokens_are_disabled_then_revoked_by_the_servers_clock() {
    let s = start().await;
    s.owner_patch(
        "/api/v1/org",
        json!({ "token_policy": { "inactive_days": 30 } }),
    )
    .await
    .expect(200);
    let (idle_id, idle, _) = s.owner_creates_token("idle").await;
    let (used_id, used, _) = s.owner_creates_token("used").await;
    assert_eq!(sweep(&s).await, Default::default());

    s.clock.advance(time::Duration::days(20));
    s.get("/api/v1/me", &used).await.expect(200);
    s.clock.advance(time::Duration::days(15));
    // The owner's own token is in use (this call) and stays.
    s.owner_get("/api/v1/me").await.expect(200);
    let swept = sweep(&s).await;
    assert_eq!((swept.disabled, swept.revoked), (1, 0));
    s.get("/api/v1/me", &idle)
        .await
        .expect_error(401, "token_disabled");
    s.get("/api/v1/me", &used).await.expect(200);
    let events = audited(&s, "token:disable").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["reason"], "inactive");
    assert_eq!(events[0]["details"]["name"], "idle");
    assert!(events[0]["target"].as_str().unwrap().ends_with(&idle_id));
    assert!(events[0]["actor"]["member"].is_null());
    // Nothing more to do, and nothing audited twice.
    assert_eq!(sweep(&s).await, Default::default());
    assert_eq!(audited(&s, "token:disable").await.len(), 1);

    // Enabled again by hand, it counts from then: not disabled again at
    // the next sweep, though still never used.
    s.owner_post(&format!("/api/v1/tokens/{idle_id}/enable"), json!({}))
        .await
        .expect(200);
    assert_eq!(sweep(&s).await, Default::default());
    s.get("/api/v1/me", &idle).await.expect(200);

    // Revoke: every token unused 30 days goes, disabled ones too.
    s.owner_patch(
        "/api/v1/org",
        json!({ "token_policy": { "inactive_action": "revoke" } }),
    )
    .await
    .expect(200);
    s.owner_post(&format!("/api/v1/tokens/{used_id}/disable"), json!({}))
        .await
        .expect(200);
    s.clock.advance(time::Duration::days(31));
    s.owner_get("/api/v1/me").await.expect(200);
    let swept = sweep(&s).await;
    assert_eq!((swept.disabled, swept.revoked), (0, 2));
    s.assert_token_refused(&idle).await;
    s.assert_token_refused(&used).await;
    s.get("/api/v1/me", &s.owner_token).await.expect(200);
    let revoked = audited(&s, "token:delete").await;
    assert_eq!(revoked.len(), 2);
    assert!(revoked.iter().all(|e| e["details"]["reason"] == "inactive"));
}

/// Two nodes sweep the same PostgreSQL database at once: each inactive
/// token is disabled once, audited once, and refused on both nodes.
#[tokio::test]
async fn two_nodes_sweeping_at_once_act_once() {
    let url = postgres_schema().await;
    let s = start_on(&url).await;
    let (other, node) = start_node(&url).await;
    s.owner_patch(
        "/api/v1/org",
        json!({ "token_policy": { "inactive_days": 1 } }),
    )
    .await
    .expect(200);
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(s.owner_creates_token(&format!("t{i}")).await.1);
    }
    let later = time::Duration::days(2);
    s.clock.advance(later);
    node.state.clock.advance(later);
    s.owner_get("/api/v1/me").await.expect(200);
    s.state()
        .engine
        .activity()
        .flush(s.state().store.as_ref())
        .await
        .unwrap();
    let b = tessera_server::service::inactivity::sweep(&node.state);
    let (a, b) = tokio::join!(sweep(&s), b);
    let b = b.expect("sweep");
    assert_eq!(a.disabled + b.disabled, 8, "{a:?} {b:?}");
    assert_eq!(audited(&s, "token:disable").await.len(), 8);
    for token in &tokens {
        let started = Instant::now();
        loop {
            let answer = send(
                s.http
                    .post(format!("{other}/api/v1/verify"))
                    .json(&json!({ "token": token })),
            )
            .await
            .expect(200);
            if answer.body["code"] == "token_disabled" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{}",
                answer.text
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    s.owner_get("/api/v1/me").await.expect(200);
}

/// The token page's button disables and enables, as the API does; a
/// member who may not see the token gets no button and no change.
#[tokio::test]
async fn the_token_page_disables_and_enables() {
    use crate::web::Browser;
    let s = start().await;
    let (id, token, _) = s.owner_creates_token("deploy").await;
    let owner = Browser::login(
        &s,
        crate::harness::OWNER_EMAIL,
        crate::harness::OWNER_PASSWORD,
    )
    .await;
    let shown = owner.get(&format!("/tokens/{id}")).await.expect(200);
    assert!(shown.html.contains("Disable token"), "{}", shown.html);
    let done = owner.post(&format!("/tokens/{id}/disable"), &[]).await;
    assert_eq!(done.status, 303, "{}", done.html);
    s.get("/api/v1/me", &token)
        .await
        .expect_error(401, "token_disabled");
    let shown = owner
        .get(&format!("/tokens/{id}?done=disabled"))
        .await
        .expect(200);
    assert!(shown.html.contains("Enable token") && shown.html.contains("disabled"));
    let all = owner.get("/admin/tokens").await.expect(200);
    assert!(all.html.contains("badge danger\">disabled"), "{}", all.html);
    owner.post(&format!("/tokens/{id}/enable"), &[]).await;
    s.get("/api/v1/me", &token).await.expect(200);

    let writer = Browser::new_member(&s, "writer").await;
    let refused = writer.post(&format!("/tokens/{id}/disable"), &[]).await;
    assert_eq!(refused.status, 404, "{}", refused.html);
    s.get("/api/v1/me", &token).await.expect(200);
}

#[tokio::test]
async fn the_policy_page_sets_the_inactivity_rule() {
    use crate::web::Browser;
    let s = start().await;
    let owner = Browser::login(
        &s,
        crate::harness::OWNER_EMAIL,
        crate::harness::OWNER_PASSWORD,
    )
    .await;
    for bad in ["0", "-1", "many", "3651"] {
        let fields = [("inactive_days", bad), ("inactive_action", "revoke")];
        let page = owner.post("/admin/policy", &fields).await;
        assert_eq!(page.status, 422, "{bad}: {}", page.html);
        assert!(page.html.contains("id=\"inactive-error\""), "{}", page.html);
    }
    let org = s.owner_get("/api/v1/org").await.expect(200);
    assert!(org.body["token_policy"]["inactive_days"].is_null());
    let fields = [("inactive_days", "45"), ("inactive_action", "revoke")];
    assert_eq!(owner.post("/admin/policy", &fields).await.status, 303);
    let org = s.owner_get("/api/v1/org").await.expect(200);
    assert_eq!(org.body["token_policy"]["inactive_days"], 45);
    assert_eq!(org.body["token_policy"]["inactive_action"], "revoke");
    let shown = owner.get("/admin/policy").await.expect(200);
    assert!(shown.html.contains("value=\"45\""), "{}", shown.html);
}
