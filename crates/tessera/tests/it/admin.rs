//! Admin work: members and rank rules, roles, projects, the audit log.

use reqwest::Method;
use serde_json::json;

use crate::harness::{start, start_with_owner_token};

#[tokio::test]
async fn member_management_and_rank_rules() {
    let s = start().await;
    let created = s
        .owner_post(
            "/api/v1/members",
            json!({ "email": "Admin@Acme.test", "name": "Ada", "role": "admin" }),
        )
        .await
        .expect(201);
    assert_eq!(created.body["email"], "admin@acme.test");
    let initial = created.string("initial_password");
    assert!(initial.len() >= 16);
    let admin_id = created.string("id");
    let admin_cookie = s.login("admin@acme.test", &initial).await;
    s.owner_post(
        "/api/v1/members",
        json!({ "email": "admin@acme.test", "role": "reader" }),
    )
    .await
    .expect_error(409, "already_exists");
    s.owner_post(
        "/api/v1/members",
        json!({ "email": "not-an-email", "role": "reader" }),
    )
    .await
    .expect_error(422, "validation_failed");

    // An admin cannot make owners, nor change or remove the owner.
    let as_admin = |method: Method, path: String, body: serde_json::Value| {
        let s = &s;
        let cookie = admin_cookie.clone();
        async move { s.call_with_cookie(method, &path, &cookie, Some(body)).await }
    };
    as_admin(
        Method::POST,
        "/api/v1/members".into(),
        json!({ "email": "o2@acme.test", "role": "owner" }),
    )
    .await
    .expect_error(403, "forbidden");
    as_admin(
        Method::PATCH,
        format!("/api/v1/members/{}", s.owner_id),
        json!({ "role": "reader" }),
    )
    .await
    .expect_error(403, "forbidden");
    as_admin(
        Method::DELETE,
        format!("/api/v1/members/{}", s.owner_id),
        json!({}),
    )
    .await
    .expect_error(403, "forbidden");
    let writer = as_admin(
        Method::POST,
        "/api/v1/members".into(),
        json!({ "email": "w@acme.test", "role": "writer", "password": "writer-password" }),
    )
    .await
    .expect(201);
    assert!(writer.body.get("initial_password").is_none());

    // A writer cannot manage members at all.
    let writer_token = s.token_of("w@acme.test", "writer-password", "w").await;
    s.post(
        "/api/v1/members",
        &writer_token,
        json!({ "email": "x@acme.test", "role": "reader" }),
    )
    .await
    .expect_error(403, "forbidden");
    s.get("/api/v1/members", &writer_token).await.expect(200);
    // The audit log records everyone's tokens: admins only.
    s.get("/api/v1/audit", &writer_token)
        .await
        .expect_error(403, "forbidden");

    // The last owner stays.
    s.owner_patch(
        &format!("/api/v1/members/{}", s.owner_id),
        json!({ "role": "admin" }),
    )
    .await
    .expect_error(409, "last_owner");
    s.owner_delete(&format!("/api/v1/members/{}", s.owner_id))
        .await
        .expect_error(409, "last_owner");
    let listed = s.owner_get("/api/v1/members").await.expect(200);
    assert_eq!(listed.items().len(), 3);
    s.owner_get(&format!("/api/v1/members/{admin_id}"))
        .await
        .expect(200);
}

#[tokio::test]
async fn roles_and_projects_crud() {
    let s = start().await;
    let policy = json!([{ "effect": "allow", "actions": ["flag:*"], "resources": ["proj/*:*"] }]);
    let role = s
        .add_role(json!({ "key": "flags", "policy": policy }))
        .await;
    assert_eq!(role.body["name"], "flags");
    assert_eq!(role.body["policy"], policy);
    s.owner_post("/api/v1/roles", json!({ "key": "flags", "policy": policy }))
        .await
        .expect_error(409, "already_exists");
    s.owner_post(
        "/api/v1/roles",
        json!({ "key": "Bad Key", "policy": policy }),
    )
    .await
    .expect_error(422, "validation_failed");
    s.owner_post("/api/v1/roles", json!({ "key": "empty", "policy": [] }))
        .await
        .expect_error(422, "invalid_policy");
    let roles = s.owner_get("/api/v1/roles").await.expect(200);
    assert_eq!(roles.items().len(), 1);
    let updated = s
        .call(
            Method::PUT,
            "/api/v1/roles/flags",
            Some(&s.owner_token),
            Some(json!({ "name": "Flag editors", "policy": policy })),
        )
        .await
        .expect(200);
    assert_eq!(updated.body["name"], "Flag editors");
    s.owner_delete("/api/v1/roles/flags").await.expect(204);
    s.owner_get("/api/v1/roles/flags")
        .await
        .expect_error(404, "not_found");

    s.add_project(json!({ "key": "web" })).await;
    s.owner_post("/api/v1/projects", json!({ "key": "web" }))
        .await
        .expect_error(409, "already_exists");
    s.owner_get("/api/v1/projects/web").await.expect(200);
    s.owner_delete("/api/v1/projects/web").await.expect(204);
    s.owner_delete("/api/v1/projects/web")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn audit_log_records_every_change_newest_first() {
    let (s, id, token, _) = start_with_owner_token("audited").await;
    s.owner_patch(
        &format!("/api/v1/tokens/{id}"),
        json!({ "name": "renamed" }),
    )
    .await
    .expect(200);
    s.add_project(json!({ "key": "web" })).await;
    s.owner_delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    let _ = s
        .try_login(crate::harness::OWNER_EMAIL, "wrong-password")
        .await;

    // Failed logins are audited in the background (so they answer as fast
    // as unknown emails): give that write a moment.
    let mut page = s.owner_get("/api/v1/audit").await.expect(200);
    for _ in 0..100 {
        if page.body["items"][0]["action"] == "session:login_failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        page = s.owner_get("/api/v1/audit").await.expect(200);
    }
    let actions: Vec<&str> = page
        .items()
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "session:login_failed",
            "token:delete",
            "project:create",
            "token:update",
            "token:create",
            "token:create",
            "org:create"
        ],
        "{}",
        page.text
    );
    let event = &page.body["items"][1];
    assert_eq!(event["actor"]["member"], s.owner_id.as_str());
    assert_eq!(event["actor"]["token"], &s.owner_token[4..31]);
    assert_eq!(event["ip"], "127.0.0.1");
    assert!(event["at"].is_string());
    assert!(
        !page.text.contains(&token[4..]),
        "a token value is in the audit log"
    );

    // Pagination and filters.
    let first = s.owner_get("/api/v1/audit?limit=2").await.expect(200);
    assert_eq!(first.items().len(), 2);
    let cursor = first.string("next_cursor");
    let second = s
        .owner_get(&format!("/api/v1/audit?limit=2&before={cursor}"))
        .await
        .expect(200);
    assert_eq!(second.body["items"][0]["action"], "project:create");
    let tokens_only = s.owner_get("/api/v1/audit?action=token:").await.expect(200);
    assert_eq!(tokens_only.items().len(), 4);
    let by_target = s
        .owner_get(&format!(
            "/api/v1/audit?target=member/{}:token/{id}",
            s.owner_id
        ))
        .await
        .expect(200);
    assert_eq!(by_target.items().len(), 3);
}
