//! The platform API: the host product's backend manages orgs and people
//! with a platform key; login links open one session once; suspension and
//! deletion take effect on the next verification.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{send, start, start_with, Reply, TestServer, OWNER_EMAIL, OWNER_PASSWORD};

/// A platform key made as `tessera platform-key create` makes one.
pub(crate) async fn platform_key(s: &TestServer) -> String {
    tessera_server::platform::keys::create(s.state(), "backend")
        .await
        .expect("platform key")
        .secret
}

pub(crate) async fn platform(
    s: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    s.call(method, &format!("/api/v1/platform{path}"), Some(key), body)
        .await
}

pub(crate) async fn new_org(s: &TestServer, key: &str, org: &str, owner: &str) -> Value {
    platform(
        s,
        key,
        Method::POST,
        "/orgs",
        Some(json!({ "key": org, "owner": { "external_id": owner, "email": format!("{owner}@{org}.test") } })),
    )
    .await
    .expect(201)
    .body
}

async fn put_member(s: &TestServer, key: &str, org: &str, id: &str, body: Value) -> Reply {
    platform(
        s,
        key,
        Method::PUT,
        &format!("/orgs/{org}/members/{id}"),
        Some(body),
    )
    .await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Opens a login link: the answer, and the session cookie it set.
async fn open(url: &str) -> (u16, Option<String>, String, String) {
    let response = no_redirects().get(url).send().await.expect("open link");
    let status = response.status().as_u16();
    let cookie = crate::harness::set_cookie_pair(&response, "tessera_session");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        status,
        cookie,
        location,
        response.text().await.expect("body"),
    )
}

async fn login_link(s: &TestServer, key: &str, org: &str, id: &str, body: Value) -> Reply {
    platform(
        s,
        key,
        Method::POST,
        &format!("/orgs/{org}/members/{id}/login-links"),
        Some(body),
    )
    .await
}

/// A token of the member `id` of `org`, made through a login link's session.
pub(crate) async fn member_token(s: &TestServer, key: &str, org: &str, id: &str) -> String {
    let link = login_link(s, key, org, id, json!({})).await.expect(201);
    let (status, cookie, _, _) = open(&link.string("url")).await;
    assert_eq!(status, 303);
    let cookie = cookie.expect("session cookie");
    s.call_with_cookie(
        Method::POST,
        "/api/v1/tokens",
        &cookie,
        Some(json!({ "name": "from link" })),
    )
    .await
    .expect(201)
    .string("token")
}

#[tokio::test]
async fn a_platform_key_reaches_only_the_platform_api() {
    let s = start().await;
    let key = platform_key(&s).await;
    assert!(key.starts_with("tsp_"), "own prefix");
    // It manages the org `tessera init` made.
    let orgs = platform(&s, &key, Method::GET, "/orgs", None)
        .await
        .expect(200);
    assert!(
        orgs.items().iter().any(|o| o["key"] == "acme"),
        "{}",
        orgs.text
    );
    platform(&s, &key, Method::GET, "/orgs/acme", None)
        .await
        .expect(200);

    // Elsewhere it is not a credential at all.
    for path in ["/api/v1/me", "/api/v1/tokens", "/api/v1/members"] {
        let refused = s.get(path, &key).await.expect_error(401, "invalid_token");
        assert!(refused.headers.contains_key("www-authenticate"));
    }
    let verdict = s.verify(json!({ "token": key })).await;
    assert_eq!(verdict.body["valid"], false);

    // An org token or a session is a credential, but not for this API.
    platform(&s, &s.owner_token, Method::GET, "/orgs", None)
        .await
        .expect_error(403, "forbidden");
    let cookie = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    s.call_with_cookie(Method::GET, "/api/v1/platform/orgs", &cookie, None)
        .await
        .expect_error(403, "forbidden");
    // No key, a forged one, a mistyped one: 401.
    s.call(Method::GET, "/api/v1/platform/orgs", None, None)
        .await
        .expect(401);
    let forged = tessera_server::platform::keys::format(s.state())
        .generate(time::OffsetDateTime::now_utc())
        .token;
    for bad in [forged.as_str(), "tsp_nope", &key[..key.len() - 1]] {
        platform(&s, bad, Method::GET, "/orgs", None)
            .await
            .expect_error(401, "invalid_token");
    }

    // Listed without its value; deleted, it stops working.
    let keys = tessera_server::platform::keys::list(s.state())
        .await
        .expect("list");
    assert_eq!(keys.len(), 1);
    assert!(!format!("{keys:?}").contains(&key[20..]));
    tessera_server::platform::keys::delete(s.state(), &keys[0].id)
        .await
        .expect("delete");
    platform(&s, &key, Method::GET, "/orgs", None)
        .await
        .expect_error(401, "invalid_token");
}

#[tokio::test]
async fn orgs_are_created_listed_shown_changed_and_deleted() {
    let s = start().await;
    let key = platform_key(&s).await;
    let created = new_org(&s, &key, "globex", "u-1").await;
    assert_eq!(created["key"], "globex");
    assert_eq!(created["name"], "globex");
    assert_eq!(created["suspended"], false);
    assert_eq!(created["owner"]["external_id"], "u-1");
    assert_eq!(created["owner"]["role"], "owner");
    assert_eq!(created["owner"]["email"], "u-1@globex.test");

    // Bad input.
    let again = json!({ "key": "globex", "owner": { "external_id": "x", "email": "x@y.z" } });
    platform(&s, &key, Method::POST, "/orgs", Some(again))
        .await
        .expect_error(409, "already_exists");
    for (external_id, why) in [
        ("", "empty"),
        (&"x".repeat(256) as &str, "256 bytes"),
        ("a\u{7}b", "control"),
    ] {
        let body =
            json!({ "key": "initech", "owner": { "external_id": external_id, "email": "x@y.z" } });
        let r = platform(&s, &key, Method::POST, "/orgs", Some(body)).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
    }
    let body = json!({ "key": "Not A Key", "owner": { "external_id": "x", "email": "x@y.z" } });
    platform(&s, &key, Method::POST, "/orgs", Some(body))
        .await
        .expect(422);
    let body =
        json!({ "key": "ok", "owner": { "external_id": "x", "email": "x@y.z" }, "extra": 1 });
    platform(&s, &key, Method::POST, "/orgs", Some(body))
        .await
        .expect(400);

    // Paginated like /audit, newest first.
    new_org(&s, &key, "initech", "u-2").await;
    let first = platform(&s, &key, Method::GET, "/orgs?limit=2", None)
        .await
        .expect(200);
    assert_eq!(first.items().len(), 2);
    let cursor = first.string("next_cursor");
    let rest = platform(
        &s,
        &key,
        Method::GET,
        &format!("/orgs?limit=2&before={cursor}"),
        None,
    )
    .await
    .expect(200);
    assert_eq!(rest.items().len(), 1);
    assert!(rest.body["next_cursor"].is_null());
    // Ids are KSUIDs: newest first to the second, each org on one page.
    let mut keys: Vec<&str> = first
        .items()
        .iter()
        .chain(rest.items())
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["acme", "globex", "initech"]);
    for bad in [
        "/orgs?limit=0",
        "/orgs?limit=501",
        "/orgs?before=nope",
        "/orgs?color=red",
    ] {
        platform(&s, &key, Method::GET, bad, None).await.expect(400);
    }

    // Shown and changed.
    let token = member_token(&s, &key, "globex", "u-1").await;
    platform(&s, &key, Method::GET, "/orgs/nope", None)
        .await
        .expect_error(404, "not_found");
    platform(&s, &key, Method::GET, "/orgs/Bad%20Key", None)
        .await
        .expect(400);
    let changed = platform(
        &s,
        &key,
        Method::PATCH,
        "/orgs/globex",
        Some(json!({ "name": "Globex Corp", "token_policy": { "max_lifetime_days": 30 } })),
    )
    .await
    .expect(200);
    assert_eq!(changed.body["name"], "Globex Corp");
    assert_eq!(changed.body["token_policy"]["max_lifetime_days"], 30);
    platform(
        &s,
        &key,
        Method::PATCH,
        "/orgs/globex",
        Some(json!({ "token_policy": { "max_lifetime_days": 0 } })),
    )
    .await
    .expect(422);

    // Deleted for good: its owner's token and session end.
    s.get("/api/v1/me", &token).await.expect(200);
    platform(&s, &key, Method::DELETE, "/orgs/globex", None)
        .await
        .expect(204);
    s.assert_token_refused(&token).await;
    platform(&s, &key, Method::GET, "/orgs/globex", None)
        .await
        .expect(404);
    platform(&s, &key, Method::DELETE, "/orgs/globex", None)
        .await
        .expect(404);
    // The key can be made again (nothing of the old org is left).
    new_org(&s, &key, "globex", "u-1").await;

    // Every call is in the platform audit log, naming the org, never in
    // the org's own log.
    let log = platform(&s, &key, Method::GET, "/audit?limit=500", None)
        .await
        .expect(200);
    let actions: Vec<(String, String)> = log
        .items()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["org"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for expected in [
        ("org:create", "globex"),
        ("org:update", "globex"),
        ("org:delete", "globex"),
        ("org:create", "initech"),
    ] {
        assert!(
            actions.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {actions:?}"
        );
    }
    assert!(log.items()[0]["platform_key"].is_string());
    let page = platform(&s, &key, Method::GET, "/audit?limit=1", None)
        .await
        .expect(200);
    let cursor = page.string("next_cursor");
    platform(
        &s,
        &key,
        Method::GET,
        &format!("/audit?limit=1&before={cursor}"),
        None,
    )
    .await
    .expect(200);
    platform(&s, &key, Method::GET, "/audit?before=zz", None)
        .await
        .expect(400);
    let org_log = s.owner_get("/api/v1/audit?limit=500").await.expect(200);
    assert!(!org_log
        .text
        .contains("org:create\",\"target\":\"org/globex"));
}

#[tokio::test]
async fn a_suspended_orgs_tokens_and_sessions_are_refused_until_lifted() {
    let s = start().await;
    let key = platform_key(&s).await;
    let cookie = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    let token = s.owner_token.clone();
    assert_eq!(
        s.verify(json!({ "token": token })).await.body["valid"],
        true
    );

    let suspended = platform(
        &s,
        &key,
        Method::PATCH,
        "/orgs/acme",
        Some(json!({ "suspended": true })),
    )
    .await
    .expect(200);
    assert_eq!(suspended.body["suspended"], true);
    assert!(suspended.body["suspended_at"].is_string());
    let verdict = s
        .verify(json!({ "token": token, "action": "token:read", "resource": "x/y" }))
        .await;
    assert_eq!(verdict.body["valid"], false);
    assert_eq!(verdict.body["code"], "org_suspended");
    assert_eq!(verdict.body["allowed"], false);
    let refused = s
        .get("/api/v1/me", &token)
        .await
        .expect_error(401, "org_suspended");
    assert!(refused.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("Bearer"));
    let auth = s
        .get("/api/v1/auth", &token)
        .await
        .expect_error(401, "org_suspended");
    assert!(auth.headers.contains_key("www-authenticate"));
    s.call_with_cookie(Method::GET, "/api/v1/me", &cookie, None)
        .await
        .expect_error(401, "org_suspended");
    s.try_login(OWNER_EMAIL, OWNER_PASSWORD)
        .await
        .expect_error(401, "org_suspended");
    // The platform still manages it, and refuses it login links.
    platform(&s, &key, Method::GET, "/orgs/acme", None)
        .await
        .expect(200);

    platform(
        &s,
        &key,
        Method::PATCH,
        "/orgs/acme",
        Some(json!({ "suspended": false })),
    )
    .await
    .expect(200);
    assert_eq!(
        s.verify(json!({ "token": token })).await.body["valid"],
        true
    );
    s.get("/api/v1/me", &token).await.expect(200);
    s.call_with_cookie(Method::GET, "/api/v1/me", &cookie, None)
        .await
        .expect(200);
    let log = platform(&s, &key, Method::GET, "/audit", None)
        .await
        .expect(200);
    let actions: Vec<&str> = log
        .items()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"org:suspend") && actions.contains(&"org:unsuspend"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn members_are_put_by_external_id_idempotently_and_removed() {
    let s = start_with(|c| c.webhooks.allow_private = true).await;
    let key = platform_key(&s).await;
    let hook = s
        .owner_post(
            "/api/v1/webhooks",
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["*"] }),
        )
        .await
        .expect(201)
        .string("id");

    let body = json!({ "email": "Ana@Acme.test", "name": "Ana", "role": "writer" });
    let created = put_member(&s, &key, "acme", "user|42", body.clone())
        .await
        .expect(201);
    assert_eq!(created.body["external_id"], "user|42");
    assert_eq!(created.body["email"], "ana@acme.test");
    let again = put_member(&s, &key, "acme", "user|42", body)
        .await
        .expect(200);
    assert_eq!(again.body, created.body);
    let promoted = put_member(
        &s,
        &key,
        "acme",
        "user|42",
        json!({ "email": "ana@acme.test", "role": "admin" }),
    )
    .await
    .expect(200);
    assert_eq!(promoted.body["role"], "admin");
    assert_eq!(
        promoted.body["name"], "Ana",
        "an update without a name keeps it"
    );
    assert_eq!(promoted.body["id"], created.body["id"]);
    let shown = platform(&s, &key, Method::GET, "/orgs/acme/members/user%7C42", None)
        .await
        .expect(200);
    assert_eq!(shown.body["role"], "admin");
    // Shown in the org's own API too.
    let listed = s.owner_get("/api/v1/members").await.expect(200);
    let ana = listed
        .items()
        .iter()
        .find(|m| m["email"] == "ana@acme.test")
        .expect("listed");
    assert_eq!(ana["external_id"], "user|42");
    let owner = listed
        .items()
        .iter()
        .find(|m| m["email"] == OWNER_EMAIL)
        .expect("owner");
    assert!(owner["external_id"].is_null());

    // Bad input.
    let long = "x".repeat(256);
    for bad in [long.as_str(), "a%0Ab", "tab%09"] {
        let r = put_member(
            &s,
            &key,
            "acme",
            bad,
            json!({ "email": "b@acme.test", "role": "reader" }),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        platform(
            &s,
            &key,
            Method::GET,
            &format!("/orgs/acme/members/{bad}"),
            None,
        )
        .await
        .expect(400);
    }
    put_member(
        &s,
        &key,
        "acme",
        &"x".repeat(255),
        json!({ "email": "c@acme.test", "role": "reader" }),
    )
    .await
    .expect(201);
    put_member(
        &s,
        &key,
        "acme",
        "u2",
        json!({ "email": "ana@acme.test", "role": "reader" }),
    )
    .await
    .expect_error(409, "already_exists");
    put_member(
        &s,
        &key,
        "acme",
        "u2",
        json!({ "email": "d@acme.test", "role": "reader", "custom_roles": ["nope"] }),
    )
    .await
    .expect(422);
    put_member(
        &s,
        &key,
        "nope",
        "u2",
        json!({ "email": "d@acme.test", "role": "reader" }),
    )
    .await
    .expect(404);
    platform(&s, &key, Method::GET, "/orgs/acme/members/unknown", None)
        .await
        .expect(404);

    // /verify and /auth name the member by the product's id.
    let token = member_token(&s, &key, "acme", "user|42").await;
    let verdict = s.verify(json!({ "token": token })).await;
    assert_eq!(verdict.body["token"]["external_id"], "user|42");
    let auth = s.get("/api/v1/auth", &token).await.expect(200);
    assert_eq!(auth.headers["x-tessera-external-id"], "user|42");
    let local = s.get("/api/v1/auth", &s.owner_token).await.expect(200);
    assert!(!local.headers.contains_key("x-tessera-external-id"));
    assert!(
        s.verify(json!({ "token": s.owner_token })).await.body["token"]["external_id"].is_null()
    );

    // The org's last owner is not demoted: adopt the local owner by email,
    // then try to demote them.
    let adopted = put_member(
        &s,
        &key,
        "acme",
        "boss",
        json!({ "email": OWNER_EMAIL, "role": "owner" }),
    )
    .await
    .expect(200);
    assert_eq!(adopted.body["id"], s.owner_id.as_str());
    assert_eq!(adopted.body["external_id"], "boss");
    put_member(
        &s,
        &key,
        "acme",
        "boss",
        json!({ "email": OWNER_EMAIL, "role": "admin" }),
    )
    .await
    .expect_error(409, "last_owner");
    platform(&s, &key, Method::DELETE, "/orgs/acme/members/boss", None)
        .await
        .expect_error(409, "last_owner");

    // Removed: their token dies.
    platform(
        &s,
        &key,
        Method::DELETE,
        "/orgs/acme/members/user%7C42",
        None,
    )
    .await
    .expect(204);
    s.assert_token_refused(&token).await;
    platform(&s, &key, Method::GET, "/orgs/acme/members/user%7C42", None)
        .await
        .expect(404);

    // The org's webhooks heard it all; its audit log did not.
    let deliveries = s
        .owner_get(&format!("/api/v1/webhooks/{hook}/deliveries"))
        .await
        .expect(200);
    let types: Vec<&str> = deliveries
        .items()
        .iter()
        .filter_map(|d| d["type"].as_str())
        .collect();
    for ty in [
        "member.added",
        "member.updated",
        "member.removed",
        "token.revoked",
    ] {
        assert!(types.contains(&ty), "{ty} in {types:?}");
    }
    let org_log = s
        .owner_get("/api/v1/audit?action=member:&limit=500")
        .await
        .expect(200);
    assert!(org_log.items().is_empty(), "{}", org_log.text);
    let log = platform(&s, &key, Method::GET, "/audit?limit=500", None)
        .await
        .expect(200);
    let put = log
        .items()
        .iter()
        .find(|e| e["action"] == "member:delete")
        .expect("member:delete audited");
    assert_eq!(put["org"], "acme");
    assert_eq!(put["external_id"], "user|42");
}

#[tokio::test]
async fn a_login_link_opens_one_session_once_and_says_why_not() {
    let s = start().await;
    let key = platform_key(&s).await;
    put_member(
        &s,
        &key,
        "acme",
        "u1",
        json!({ "email": "u1@acme.test", "role": "reader" }),
    )
    .await
    .expect(201);

    let link = login_link(
        &s,
        &key,
        "acme",
        "u1",
        json!({ "return_to": "/tokens/new" }),
    )
    .await
    .expect(201);
    let url = link.string("url");
    assert!(url.starts_with(&s.base), "{url}");
    let expires = time::OffsetDateTime::parse(
        &link.string("expires_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let life = expires - time::OffsetDateTime::now_utc();
    assert!(
        life <= time::Duration::seconds(61) && life >= time::Duration::seconds(50),
        "{life}"
    );
    let (status, cookie, location, _) = open(&url).await;
    assert_eq!((status, location.as_str()), (303, "/tokens/new"));
    let cookie = cookie.expect("a session");
    let me = s
        .call_with_cookie(Method::GET, "/api/v1/me", &cookie, None)
        .await
        .expect(200);
    assert_eq!(me.body["member"]["external_id"], "u1");

    // Used twice: a page says so, no session.
    let (status, cookie, _, page) = open(&url).await;
    assert_eq!(status, 410);
    assert!(cookie.is_none());
    assert!(page.contains("already used"), "{page}");

    // Expired, by the server's clock.
    let link = login_link(&s, &key, "acme", "u1", json!({ "expires_in": 5 }))
        .await
        .expect(201);
    s.clock.advance(time::Duration::seconds(6));
    let (status, cookie, _, page) = open(&link.string("url")).await;
    assert_eq!(status, 410);
    assert!(cookie.is_none());
    assert!(page.contains("expired"), "{page}");

    // Forged or mangled.
    let forged = format!("{}/login-link/{}", s.base, "ab".repeat(32));
    for url in [
        forged,
        format!("{}/login-link/short", s.base),
        format!("{}/login-link/%00", s.base),
    ] {
        let (status, cookie, _, page) = open(&url).await;
        assert_eq!(status, 404, "{url}");
        assert!(cookie.is_none());
        assert!(page.contains("not valid"), "{page}");
    }

    // Only local paths: no open redirect.
    for bad in [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "evil",
        "/a\nb",
        "/\t/evil.example",
        "/é",
    ] {
        login_link(&s, &key, "acme", "u1", json!({ "return_to": bad }))
            .await
            .expect_error(400, "bad_request");
    }
    for bad in [
        json!({ "expires_in": 0 }),
        json!({ "expires_in": 301 }),
        json!({ "to": "/x" }),
    ] {
        login_link(&s, &key, "acme", "u1", bad).await.expect(400);
    }
    login_link(&s, &key, "acme", "nobody", json!({}))
        .await
        .expect(404);

    // A removed member's unused link opens nothing.
    let link = login_link(&s, &key, "acme", "u1", json!({}))
        .await
        .expect(201);
    platform(&s, &key, Method::DELETE, "/orgs/acme/members/u1", None)
        .await
        .expect(204);
    let (status, cookie, _, _) = open(&link.string("url")).await;
    assert_eq!(status, 404);
    assert!(cookie.is_none());

    let log = platform(&s, &key, Method::GET, "/audit", None)
        .await
        .expect(200);
    let made = log
        .items()
        .iter()
        .find(|e| e["action"] == "login_link:create")
        .expect("audited");
    assert_eq!(made["external_id"], "u1");
    assert!(
        !log.text.contains(&link.string("url")),
        "the link's secret is never logged"
    );
}

/// Deleting an org while its tokens are verified without pause: no
/// verification that starts after the delete returned says valid.
#[tokio::test]
async fn no_verification_after_an_org_is_deleted_answers_valid() {
    let s = start().await;
    let key = platform_key(&s).await;
    new_org(&s, &key, "victim", "v1").await;
    let token = member_token(&s, &key, "victim", "v1").await;
    let deleted_at: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (http, url, token) = (s.http.clone(), s.url("/api/v1/verify"), token.clone());
        let (deleted_at, stop) = (deleted_at.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let (mut checked, mut valid_before) = (0u32, 0u32);
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let answer = send(http.post(&url).json(&json!({ "token": token }))).await;
                let valid = answer.body["valid"] == true;
                let after_delete = deleted_at.lock().unwrap().is_some_and(|d| started >= d);
                if after_delete {
                    assert!(
                        !valid,
                        "a verification started after the delete answered valid"
                    );
                    checked += 1;
                } else if valid {
                    valid_before += 1;
                }
            }
            (checked, valid_before)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    platform(&s, &key, Method::DELETE, "/orgs/victim", None)
        .await
        .expect(204);
    *deleted_at.lock().unwrap() = Some(Instant::now());
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut checked, mut valid_before) = (0, 0);
    for worker in workers {
        let (c, v) = worker.await.expect("worker");
        checked += c;
        valid_before += v;
    }
    assert!(
        valid_before > 0,
        "the load verified the token before the delete"
    );
    assert!(checked > 0, "verifications ran after the delete");
}

/// `tessera platform-key` works on the database of a running server, and
/// `tessera platform …` drives the API with the key it printed; a key the
/// CLI deletes stops working on the running server within 2 seconds.
/// (Two worker threads: the CLI is waited for while the server answers it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_keys_beside_a_running_server_and_drives_the_api() {
    use crate::cli::{run, tessera, text};
    let s = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cli = |args: &[&str], key: Option<&str>| {
        let mut cmd = tessera(dir.path());
        cmd.env("TESSERA_DATABASE_URL", &s.database_url)
            .env("TESSERA_URL", &s.base)
            .args(args);
        if let Some(key) = key {
            cmd.env("TESSERA_PLATFORM_KEY", key);
        }
        run(cmd, "")
    };
    let made = cli(
        &["platform-key", "create", "--name", "billing backend"],
        None,
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let key = text(&made.stdout).trim().to_owned();
    assert!(key.starts_with("tsp_"), "{key}");
    platform(&s, &key, Method::GET, "/orgs", None)
        .await
        .expect(200);

    let listed = cli(&["platform-key", "list"], None);
    let table = text(&listed.stdout);
    assert!(
        table.contains("billing backend") && table.contains("tsp_"),
        "{table}"
    );
    assert!(!table.contains(&key), "a key is never listed");
    let listed = cli(&["platform-key", "list", "--json"], None);
    let keys: Value = serde_json::from_slice(&listed.stdout).expect("json");
    let id = keys[0]["id"].as_str().expect("id").to_owned();
    assert!(key.contains(&id), "the id is the KSUID inside the key");

    let org = cli(
        &[
            "platform",
            "org",
            "create",
            "globex",
            "--owner-external-id",
            "u1",
            "--owner-email",
            "u1@globex.test",
            "--json",
        ],
        Some(&key),
    );
    assert!(org.status.success(), "{}", text(&org.stderr));
    let org: Value = serde_json::from_slice(&org.stdout).expect("json");
    assert_eq!(org["owner"]["external_id"], "u1");
    let put = cli(
        &[
            "platform",
            "member",
            "put",
            "globex",
            "u2",
            "--email",
            "u2@globex.test",
            "--role",
            "writer",
        ],
        Some(&key),
    );
    assert!(put.status.success(), "{}", text(&put.stderr));
    assert!(text(&put.stdout).contains("u2"), "{}", text(&put.stdout));
    let link = cli(
        &["platform", "member", "login-link", "globex", "u2"],
        Some(&key),
    );
    assert!(text(&link.stdout)
        .trim()
        .starts_with(&format!("{}/login-link/", s.base)));
    let suspended = cli(
        &["platform", "org", "suspend", "globex", "--json"],
        Some(&key),
    );
    let suspended: Value = serde_json::from_slice(&suspended.stdout).expect("json");
    assert_eq!(suspended["suspended"], true);
    let bad = cli(&["platform", "member", "show", "globex", "u9"], Some(&key));
    assert!(!bad.status.success());
    let none = cli(&["platform", "org", "list"], None);
    assert!(!none.status.success());
    assert!(
        text(&none.stderr).contains("TESSERA_PLATFORM_KEY"),
        "{}",
        text(&none.stderr)
    );

    let deleted = cli(&["platform-key", "delete", &id, "--yes"], None);
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    let started = Instant::now();
    loop {
        let r = platform(&s, &key, Method::GET, "/orgs", None).await;
        if r.status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the deleted key still works"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = cli(&["platform-key", "delete", &id, "--yes"], None);
    assert!(!again.status.success());
}
