//! Service accounts over the real API: their life cycle, their tokens'
//! permissions (the account's current role, at every use), the grant
//! bounds, ids of one kind refused as the other, and how `/verify`,
//! `/auth` and the audit log name them.

use serde_json::{json, Value};

use crate::harness::{in_days, start, Reply, TestServer};

/// The owner makes account `name` with `role`; its id.
async fn owner_makes_account(s: &TestServer, name: &str, role: &str) -> String {
    let body = json!({ "name": name, "role": role });
    s.owner_post("/api/v1/service-accounts", body)
        .await
        .expect(201)
        .string("id")
}

/// `caller` mints a token for account `id` with `body`: (token id, value).
async fn account_token(s: &TestServer, caller: &str, id: &str, body: Value) -> (String, String) {
    let reply = s
        .post(
            &format!("/api/v1/service-accounts/{id}/tokens"),
            caller,
            body,
        )
        .await
        .expect(201);
    (reply.string("id"), reply.string("token"))
}

async fn may(s: &TestServer, token: &str, action: &str, resource: &str) -> bool {
    s.verify_allows(token, action, resource).await
}

#[tokio::test]
async fn accounts_are_managed_and_their_tokens_outlive_their_maker() {
    let s = start().await;
    let (ada_id, ada) = s.member_with_token("ada@acme.test", "admin").await;
    let created = s
        .post(
            "/api/v1/service-accounts",
            &ada,
            json!({ "name": "ci", "description": "deploys web", "role": "writer" }),
        )
        .await
        .expect(201);
    let id = created.string("id");
    assert_eq!(created.body["role"], "writer");
    assert_eq!(created.body["created_by"], ada_id.as_str());
    assert_eq!(created.body["description"], "deploys web");
    s.owner_post(
        "/api/v1/service-accounts",
        json!({ "name": "ci", "role": "reader" }),
    )
    .await
    .expect_error(409, "already_exists");

    let list = s.owner_get("/api/v1/service-accounts").await.expect(200);
    assert_eq!(list.items().len(), 1);
    assert_eq!(list.items()[0]["id"], id.as_str());
    let path = format!("/api/v1/service-accounts/{id}");
    let shown = s.owner_get(&path).await.expect(200);
    assert_eq!(shown.body, created.body);
    let renamed = s
        .owner_patch(&path, json!({ "name": "ci-deploy", "description": "" }))
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "ci-deploy");
    assert_eq!(renamed.body["description"], Value::Null);
    assert_eq!(renamed.body["role"], "writer");

    let (token_id, token) = account_token(&s, &ada, &id, json!({ "name": "deploy" })).await;
    let listed = s.owner_get(&format!("{path}/tokens")).await.expect(200);
    assert_eq!(listed.items().len(), 1);
    assert_eq!(listed.items()[0]["member_id"], Value::Null);
    assert_eq!(listed.items()[0]["service_account_id"], id.as_str());
    assert!(listed.text.contains(&token_id) && !listed.text.contains(&token));

    // The token acts as the account, on Tessera's own API too.
    let me = s.get("/api/v1/me", &token).await.expect(200);
    assert_eq!(me.body["member"], Value::Null);
    assert_eq!(me.body["service_account"]["id"], id.as_str());
    assert!(may(&s, &token, "flag:update", "proj/web:flag/x").await);
    assert!(!may(&s, &token, "member:create", "member/x").await);

    // Removing the member who made the account and its token changes nothing.
    s.owner_delete(&format!("/api/v1/members/{ada_id}"))
        .await
        .expect(204);
    s.get("/api/v1/me", &token).await.expect(200);
    assert!(may(&s, &token, "flag:update", "proj/web:flag/x").await);

    // The audit log names the account as the target of every change.
    let audit = s
        .owner_get("/api/v1/audit?action=service_account:")
        .await
        .expect(200);
    let targets: Vec<&str> = audit
        .items()
        .iter()
        .filter_map(|e| e["target"].as_str())
        .collect();
    let account = format!("service_account/{id}");
    assert_eq!(
        targets,
        [account.as_str(), account.as_str()],
        "{}",
        audit.text
    );
    let minted = s
        .owner_get("/api/v1/audit?action=token:create")
        .await
        .expect(200);
    assert!(minted.items()[0]["target"]
        .as_str()
        .is_some_and(|t| t == format!("{account}:token/{token_id}")));
    // ...and in words: the account by its name, its tokens as its own.
    assert_eq!(
        audit.items()[0]["target_name"],
        "service account \u{201c}ci-deploy\u{201d}"
    );
    assert_eq!(
        minted.items()[0]["target_name"],
        "token \u{201c}deploy\u{201d} of service account \u{201c}ci-deploy\u{201d}"
    );

    // Deleting the account ends its tokens at once.
    s.owner_delete(&path).await.expect(204);
    s.assert_token_refused(&token).await;
    let verdict = s.verify(json!({ "token": token })).await;
    assert_eq!(verdict.body["valid"], false);
    s.owner_get(&path).await.expect_error(404, "not_found");
    let deleted = s
        .owner_get("/api/v1/audit?action=service_account:delete")
        .await
        .expect(200);
    assert_eq!(deleted.items()[0]["target"], account.as_str());
}

#[tokio::test]
async fn an_accounts_tokens_follow_its_current_role_at_once() {
    let s = start().await;
    s.add_role(json!({ "key": "auditor", "policy": [
        { "effect": "allow", "actions": ["audit:read"], "resources": ["audit/*"] }
    ] }))
    .await;
    let id = owner_makes_account(&s, "ci", "writer").await;
    let (_, token) = account_token(&s, &s.owner_token, &id, json!({ "name": "t" })).await;
    let (_, admin_scoped) = account_token(
        &s,
        &s.owner_token,
        &id,
        json!({ "name": "wide", "role": "admin" }),
    )
    .await;
    let path = format!("/api/v1/service-accounts/{id}");
    assert!(may(&s, &token, "flag:update", "proj/web:flag/x").await);
    assert!(
        !may(&s, &admin_scoped, "member:create", "member/x").await,
        "a token never exceeds its account"
    );
    assert!(!may(&s, &token, "audit:read", "audit/log").await);

    s.owner_patch(&path, json!({ "custom_roles": ["auditor"] }))
        .await
        .expect(200);
    assert!(may(&s, &token, "audit:read", "audit/log").await);
    s.owner_patch(&path, json!({ "role": "reader", "custom_roles": [] }))
        .await
        .expect(200);
    assert!(!may(&s, &token, "flag:update", "proj/web:flag/x").await);
    assert!(!may(&s, &token, "audit:read", "audit/log").await);
    assert!(may(&s, &token, "flag:read", "proj/web:flag/x").await);
    // A reader account's token reads no token, not even its own account's.
    assert!(
        !may(
            &s,
            &token,
            "token:read",
            &format!("service_account/{id}:token/x")
        )
        .await
    );
    s.owner_patch(&path, json!({ "role": "admin" }))
        .await
        .expect(200);
    assert!(may(&s, &admin_scoped, "member:create", "member/x").await);
}

#[tokio::test]
async fn nobody_gives_an_account_more_than_they_have() {
    let s = start().await;
    let (_, ada) = s.member_with_token("ada@acme.test", "admin").await;
    let before = s.owner_get("/api/v1/service-accounts").await.expect(200);

    // An admin cannot make an owner-level account...
    s.post(
        "/api/v1/service-accounts",
        &ada,
        json!({ "name": "root", "role": "owner" }),
    )
    .await
    .expect_error(403, "forbidden");
    let after = s.owner_get("/api/v1/service-accounts").await.expect(200);
    assert_eq!(before.body, after.body, "nothing was made");

    // ...nor change, delete or mint a token of one the owner made.
    let root = owner_makes_account(&s, "root", "owner").await;
    let path = format!("/api/v1/service-accounts/{root}");
    s.patch(&path, &ada, json!({ "role": "reader" }))
        .await
        .expect_error(403, "forbidden");
    s.delete(&path, &ada).await.expect_error(403, "forbidden");
    s.post(&format!("{path}/tokens"), &ada, json!({ "name": "mine" }))
        .await
        .expect_error(403, "forbidden");
    assert!(s
        .owner_get(&format!("{path}/tokens"))
        .await
        .expect(200)
        .items()
        .is_empty());
    assert_eq!(s.owner_get(&path).await.expect(200).body["role"], "owner");

    // A writer whose custom role allows `service_account:*` may make and
    // manage accounts up to a writer, never above.
    s.add_role(json!({ "key": "sa-admin", "policy": [
        { "effect": "allow", "actions": ["service_account:*"], "resources": ["service_account/*"] }
    ] }))
    .await;
    let (wes_id, wes) = s.member_with_token("wes@acme.test", "writer").await;
    s.owner_updates_member(&wes_id, json!({ "custom_roles": ["sa-admin"] }))
        .await;
    let bot = s
        .post(
            "/api/v1/service-accounts",
            &wes,
            json!({ "name": "bot", "role": "reader" }),
        )
        .await
        .expect(201)
        .string("id");
    let bot_path = format!("/api/v1/service-accounts/{bot}");
    s.patch(&bot_path, &wes, json!({ "role": "admin" }))
        .await
        .expect_error(403, "forbidden");
    s.patch(&bot_path, &wes, json!({ "custom_roles": ["sa-admin"] }))
        .await
        .expect_error(403, "forbidden");
    let unchanged = s.owner_get(&bot_path).await.expect(200);
    assert_eq!(unchanged.body["role"], "reader");
    assert_eq!(unchanged.body["custom_roles"], json!([]));
    s.patch(&bot_path, &wes, json!({ "role": "writer" }))
        .await
        .expect(200);
    let (_, bot_token) = account_token(&s, &wes, &bot, json!({ "name": "ci" })).await;
    assert!(may(&s, &bot_token, "flag:update", "proj/web:flag/x").await);
    // An admin account's token is out of the writer's reach.
    let ops = owner_makes_account(&s, "ops", "admin").await;
    s.post(
        &format!("/api/v1/service-accounts/{ops}/tokens"),
        &wes,
        json!({ "name": "x" }),
    )
    .await
    .expect_error(403, "forbidden");
    // And a plain reader may see accounts but not touch them.
    let (_, rita) = s.member_with_token("rita@acme.test", "reader").await;
    assert_eq!(
        s.get("/api/v1/service-accounts", &rita)
            .await
            .expect(200)
            .items()
            .len(),
        3
    );
    s.patch(&bot_path, &rita, json!({ "name": "x" }))
        .await
        .expect_error(403, "forbidden");
    s.get(&format!("{bot_path}/tokens"), &rita)
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn an_id_of_one_kind_is_not_found_as_the_other() {
    let s = start().await;
    let account = owner_makes_account(&s, "ci", "reader").await;
    let member = s.owner_id.clone();
    for path in [
        format!("/api/v1/service-accounts/{member}"),
        format!("/api/v1/service-accounts/{member}/tokens"),
        format!("/api/v1/members/{account}"),
        format!("/api/v1/members/{account}/tokens"),
    ] {
        s.owner_get(&path).await.expect_error(404, "not_found");
    }
    s.owner_patch(
        &format!("/api/v1/service-accounts/{member}"),
        json!({ "role": "reader" }),
    )
    .await
    .expect_error(404, "not_found");
    s.owner_delete(&format!("/api/v1/service-accounts/{member}"))
        .await
        .expect_error(404, "not_found");
    s.owner_post(
        &format!("/api/v1/service-accounts/{member}/tokens"),
        json!({ "name": "x" }),
    )
    .await
    .expect_error(404, "not_found");
    s.owner_patch(
        &format!("/api/v1/members/{account}"),
        json!({ "role": "reader" }),
    )
    .await
    .expect_error(404, "not_found");
    s.owner_delete(&format!("/api/v1/members/{account}"))
        .await
        .expect_error(404, "not_found");
    // Nothing changed: the owner is still a member, the account still there.
    s.owner_get(&format!("/api/v1/members/{member}"))
        .await
        .expect(200);
    s.owner_get(&format!("/api/v1/service-accounts/{account}"))
        .await
        .expect(200);
    s.owner_get("/api/v1/service-accounts/not-an-id")
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn verify_and_auth_name_the_account_not_a_member() {
    let s = start().await;
    let id = owner_makes_account(&s, "ci", "writer").await;
    let (token_id, token) =
        account_token(&s, &s.owner_token, &id, json!({ "name": "deploy" })).await;
    let verdict = s
        .verify(json!({ "token": token, "action": "flag:update", "resource": "proj/web:flag/x" }))
        .await;
    assert_eq!(verdict.body["valid"], true);
    assert_eq!(verdict.body["allowed"], true);
    assert_eq!(verdict.body["token"]["member"], Value::Null);
    assert_eq!(
        verdict.body["token"]["service_account"],
        json!({ "id": id, "name": "ci" })
    );
    assert_eq!(verdict.body["token"]["id"], token_id.as_str());
    // A member's answer is as it was: no service_account key.
    let (_, mine, _) = s.owner_creates_token("mine").await;
    let member_verdict = s.verify(json!({ "token": mine })).await;
    assert_eq!(member_verdict.body["token"]["member"], s.owner_id.as_str());
    assert!(member_verdict.body["token"]
        .get("service_account")
        .is_none());

    let auth: Reply = s.get("/api/v1/auth", &token).await.expect(200);
    let header = |name: &str| {
        auth.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("x-tessera-service-account"), Some(id.clone()));
    assert_eq!(header("x-tessera-role").as_deref(), Some("writer"));
    assert_eq!(header("x-tessera-token-id"), Some(token_id));
    assert_eq!(header("x-tessera-member"), None);
    assert_eq!(header("x-tessera-email"), None);
    s.get(
        "/api/v1/auth?action=member:create&resource=member/x",
        &token,
    )
    .await
    .expect(403);
}

#[tokio::test]
async fn the_token_endpoints_work_on_an_accounts_tokens_for_its_managers() {
    let s = start().await;
    let id = owner_makes_account(&s, "ci", "writer").await;
    let (token_id, token) = account_token(
        &s,
        &s.owner_token,
        &id,
        json!({ "name": "deploy", "expires_at": in_days(30) }),
    )
    .await;
    let path = format!("/api/v1/tokens/{token_id}");
    let shown = s.owner_get(&path).await.expect(200);
    assert_eq!(shown.body["service_account_id"], id.as_str());
    s.owner_patch(&path, json!({ "name": "deploy-web" }))
        .await
        .expect(200);
    let clone = s
        .owner_post(&format!("{path}/clone"), json!({}))
        .await
        .expect(201);
    assert_eq!(clone.body["service_account_id"], id.as_str());
    assert_eq!(clone.body["name"], "deploy-web (copy)");
    let rotated = s
        .owner_post(
            &format!("{path}/rotate"),
            json!({ "expires_at": in_days(60) }),
        )
        .await
        .expect(200)
        .string("token");
    s.assert_token_refused(&token).await;
    s.get("/api/v1/me", &rotated).await.expect(200);

    // A member who may not manage the account sees none of it.
    let (_, wes) = s.member_with_token("wes@acme.test", "writer").await;
    s.get(&path, &wes).await.expect_error(403, "forbidden");
    s.delete(&path, &wes).await.expect_error(403, "forbidden");
    s.post(&format!("{path}/clone"), &wes, json!({}))
        .await
        .expect_error(403, "forbidden");
    // A writer account's token mints nothing for itself.
    s.post("/api/v1/tokens", &rotated, json!({ "name": "more" }))
        .await
        .expect_error(403, "forbidden");

    s.owner_delete(&path).await.expect(204);
    s.assert_token_refused(&rotated).await;
    let left = s
        .owner_get(&format!("/api/v1/service-accounts/{id}/tokens"))
        .await
        .expect(200);
    assert_eq!(left.items().len(), 1, "the clone is left");
}

#[tokio::test]
async fn the_admin_pages_show_accounts_and_their_tokens() {
    use crate::harness::{OWNER_EMAIL, OWNER_PASSWORD};
    use reqwest::Method;

    let s = start().await;
    let id = owner_makes_account(&s, "ci <deploy>", "writer").await;
    account_token(&s, &s.owner_token, &id, json!({ "name": "web deploy" })).await;
    let cookie = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    let list = s
        .call_with_cookie(Method::GET, "/admin/service-accounts", &cookie, None)
        .await
        .expect(200);
    assert!(list.text.contains("ci &#60;deploy&#62;"), "{}", list.text);
    assert!(list.text.contains("Make a service account"));
    let page = s
        .call_with_cookie(
            Method::GET,
            &format!("/admin/service-accounts/{id}"),
            &cookie,
            None,
        )
        .await
        .expect(200);
    assert!(page.text.contains("web deploy"), "{}", page.text);
    assert!(page
        .text
        .contains(&format!("/admin/service-accounts/{id}/delete")));
    let member = s.owner_id.clone();
    s.call_with_cookie(
        Method::GET,
        &format!("/admin/service-accounts/{member}"),
        &cookie,
        None,
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn the_inventory_filters_by_account_and_never_confuses_the_kinds() {
    use crate::harness::{OWNER_EMAIL, OWNER_PASSWORD};
    use reqwest::Method;

    let s = start().await;
    let ci = owner_makes_account(&s, "ci", "writer").await;
    let bot = owner_makes_account(&s, "bot", "reader").await;
    for name in ["deploy", "release"] {
        account_token(&s, &s.owner_token, &ci, json!({ "name": name })).await;
    }
    account_token(&s, &s.owner_token, &bot, json!({ "name": "nightly" })).await;
    s.owner_creates_token("laptop").await;
    let names = |r: &Reply| -> Vec<String> {
        let mut names: Vec<String> = r
            .items()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let theirs = s
        .owner_get(&format!("/api/v1/tokens?all=true&service_account={ci}"))
        .await
        .expect(200);
    assert_eq!(names(&theirs), ["deploy", "release"]);
    assert!(theirs
        .items()
        .iter()
        .all(|t| t["service_account_id"] == ci.as_str() && t["member_id"].is_null()));
    let owner = s.owner_id.clone();
    let mine = s
        .owner_get(&format!("/api/v1/tokens?all=true&member={owner}"))
        .await
        .expect(200);
    assert!(mine
        .items()
        .iter()
        .all(|t| t["member_id"] == owner.as_str()));
    assert!(names(&mine).contains(&"laptop".to_owned()));

    // A well-formed id of the other kind names nothing: 404, not an
    // empty page; a malformed one is a 400.
    for query in [format!("service_account={owner}"), format!("member={ci}")] {
        s.owner_get(&format!("/api/v1/tokens?all=true&{query}"))
            .await
            .expect_error(404, "not_found");
    }
    for query in [
        "all=true&service_account=nope",
        &format!("service_account={ci}"),
    ] {
        s.owner_get(&format!("/api/v1/tokens?{query}"))
            .await
            .expect_error(400, "bad_request");
    }

    // The web page offers the accounts and filters the same way.
    let cookie = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    let page = async |path: String| s.call_with_cookie(Method::GET, &path, &cookie, None).await;
    let all = page("/admin/tokens".into()).await.expect(200);
    assert!(
        all.text.contains(&format!("<option value=\"{ci}\"")),
        "{}",
        all.text
    );
    let filtered = page(format!("/admin/tokens?service_account={bot}"))
        .await
        .expect(200);
    assert!(filtered.text.contains("nightly"), "{}", filtered.text);
    assert!(!filtered.text.contains("deploy") && !filtered.text.contains("laptop"));
    assert!(filtered.text.contains("service account bot"));
    page(format!("/admin/tokens?service_account={owner}"))
        .await
        .expect(404);
}

#[tokio::test]
async fn the_account_page_makes_a_token_shown_once_and_its_page_manages_it() {
    use crate::harness::field_value;
    use crate::web::{shown_token, start_as_owner, Browser};

    let (s, owner) = start_as_owner().await;
    let id = owner_makes_account(&s, "ci", "writer").await;
    let account_page = format!("/admin/service-accounts/{id}");
    let shown = owner.get(&account_page).await.expect(200);
    shown
        .assert_shows(&format!("action=\"/admin/service-accounts/{id}/tokens\""))
        .assert_shows("Inherit the service account's permissions");
    let form_id = field_value(&shown.html, "name=\"form_id\"");
    let post = format!("/admin/service-accounts/{id}/tokens");
    let tokens = async || {
        s.owner_get(&format!("/api/v1/service-accounts/{id}/tokens"))
            .await
            .expect(200)
            .items()
            .to_vec()
    };

    // A mistake is answered beside its field, nothing made, and the same
    // form (not yet "sent") works once corrected.
    let bad = [
        ("name", ""),
        ("expiry", "30"),
        ("form_id", form_id.as_str()),
    ];
    owner
        .post(&post, &bad)
        .await
        .expect(422)
        .assert_field_error("name");
    assert!(tokens().await.is_empty());
    let fields = [
        ("name", "deploy web"),
        ("scope", "role"),
        ("role", "reader"),
        ("expiry", "30"),
        ("form_id", form_id.as_str()),
    ];
    let created = owner.post(&post, &fields).await.expect(201);
    assert_eq!(created.headers["cache-control"], "no-store");
    assert!(
        created.headers.get("location").is_none(),
        "never a redirect"
    );
    created.assert_shows(&format!("href=\"{account_page}\""));
    let value = shown_token(&created.html);
    assert!(value.starts_with("tsr_"), "{value}");
    let made = tokens().await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["name"], "deploy web");
    assert_eq!(made[0]["role"], "reader");
    assert_eq!(made[0]["service_account_id"], id.as_str());
    let answer = s.verify(json!({ "token": value })).await;
    assert_eq!(answer.body["valid"], true);
    assert_eq!(answer.body["token"]["service_account"]["id"], id.as_str());
    assert!(answer.body["token"]["member"].is_null());

    // Sent again (a reload): nothing more is made, the value not shown.
    let again = owner.post(&post, &fields).await.expect(409);
    again.assert_shows("already sent").assert_hides(&value);
    assert_eq!(tokens().await.len(), 1);
    // The account page lists it, never its value.
    owner
        .get(&account_page)
        .await
        .expect(200)
        .assert_shows("deploy web")
        .assert_hides(&value[value.len() - 20..]);

    // The token's page offers what manage_tokens allows: edit, rotate (an
    // expiring token), clone, disable, delete back to the account.
    let token_id = made[0]["id"].as_str().unwrap().to_owned();
    let token_page = format!("/tokens/{token_id}");
    let page = owner.get(&token_page).await.expect(200);
    for form in ["/rotate\"", "/clone\"", "/disable\""] {
        page.assert_shows(&format!("action=\"{token_page}{form}"));
    }
    page.assert_shows(&format!(
        "<a href=\"{account_page}\">The service account</a>"
    ))
    .assert_shows(&format!("{token_page}/delete?back={account_page}"))
    .assert_shows("Inherit the service account's permissions");
    let rotate_id = field_value(
        &page.html[page.html.find("/rotate\"").expect("rotate form")..],
        "name=\"form_id\"",
    );
    let rotate = [
        ("expiry", "30"),
        ("grace", "0"),
        ("form_id", rotate_id.as_str()),
    ];
    let rotated = owner
        .post(&format!("{token_page}/rotate"), &rotate)
        .await
        .expect(200);
    let new_value = shown_token(&rotated.html);
    assert_eq!(
        s.verify(json!({ "token": new_value })).await.body["valid"],
        true
    );
    assert_eq!(
        s.verify(json!({ "token": value })).await.body["valid"],
        false
    );
    owner
        .post(&format!("{token_page}/disable"), &[])
        .await
        .expect(303);
    let off = s.verify(json!({ "token": new_value })).await;
    assert_eq!(off.body["code"], "token_disabled");
    owner
        .post(&format!("{token_page}/enable"), &[])
        .await
        .expect(303);
    let back = [("back", account_page.as_str())];
    let deleted = owner
        .post(&format!("{token_page}/delete"), &back)
        .await
        .expect(303);
    assert_eq!(
        deleted.headers["location"],
        format!("{account_page}?done=deleted").as_str()
    );
    assert!(tokens().await.is_empty());

    // Who may not manage the account's tokens makes none through the form.
    let writer = Browser::new_member(&s, "writer").await;
    let refused = writer.post(&post, &fields[..4]).await;
    assert!(
        refused.status == 403 || refused.status == 404,
        "{}",
        refused.html
    );
    assert!(tokens().await.is_empty());
}
