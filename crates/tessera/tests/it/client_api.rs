//! `tessera-client` against the real server: every typed method of the
//! client, once, so each request it sends and each answer it decodes is
//! checked against the server's own (SPEC.md's whole API).

use serde_json::json;
use tessera_client::api::{
    ChangePasswordRequest, CloneTokenRequest, CreateMemberRequest, CreateProjectRequest,
    CreateRoleRequest, CreateTokenRequest, LeakReport, LoginRequest, RotateTokenRequest,
    UpdateMemberRequest, UpdateOrgRequest, UpdateRoleRequest, UpdateTokenRequest, VerifyRequest,
};
use tessera_client::{AuditFilter, Client, Error};
use time::{Duration, OffsetDateTime};

use super::harness::{start, OWNER_EMAIL, OWNER_PASSWORD};

/// A request type from its JSON, as a user of the API would write it.
fn req<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("request shape")
}

#[track_caller]
fn api_error<T: std::fmt::Debug>(result: Result<T, Error>, status: u16, code: &str) {
    let err = result.expect_err("should fail");
    assert_eq!(
        (err.status(), err.code()),
        (Some(status), Some(code)),
        "{err}"
    );
}

#[tokio::test]
async fn every_client_method_works_against_the_server() {
    let server = start().await;
    let owner = Client::new(&server.base, Some(server.owner_token.clone())).expect("client");

    // Server and you.
    owner.health().await.expect("healthz");
    owner.ready().await.expect("readyz");
    assert!(owner.openapi().await.expect("openapi")["paths"]["/api/v1/auth"].is_object());
    assert!(owner.metrics().await.expect("metrics").contains("# EOF"));
    let me = owner.me().await.expect("me");
    assert_eq!(me.member.as_ref().unwrap().email, OWNER_EMAIL);

    // Org, projects, roles.
    let org = owner
        .update_org(&req::<UpdateOrgRequest>(
            json!({"token_policy": {"max_lifetime_days": 400}}),
        ))
        .await
        .expect("update org");
    assert_eq!(owner.get_org().await.expect("org").key, org.key);
    owner
        .create_project(&req::<CreateProjectRequest>(json!({"key": "web"})))
        .await
        .expect("project");
    assert_eq!(
        owner.list_projects().await.expect("projects").items.len(),
        1
    );
    assert_eq!(owner.get_project("web").await.expect("project").key, "web");
    let policy = json!([{"effect": "allow", "actions": ["flag:read"], "resources": ["proj/web"]}]);
    owner
        .create_role(&req::<CreateRoleRequest>(
            json!({"key": "flags", "policy": policy}),
        ))
        .await
        .expect("role");
    owner
        .update_role(
            "flags",
            &req::<UpdateRoleRequest>(json!({"name": "Flag readers", "policy": policy})),
        )
        .await
        .expect("update role");
    assert_eq!(
        owner.get_role("flags").await.expect("role").name,
        "Flag readers"
    );
    assert_eq!(owner.list_roles().await.expect("roles").items.len(), 1);

    // Members.
    let created = owner
        .create_member(&req::<CreateMemberRequest>(json!({
            "email": "ana@acme.test", "role": "reader", "password": "ana-password-1"
        })))
        .await
        .expect("member");
    let ana = created.member.id.clone();
    owner
        .update_member(
            &ana,
            &req::<UpdateMemberRequest>(json!({"role": "writer", "custom_roles": ["flags"]})),
        )
        .await
        .expect("update member");
    assert_eq!(
        owner.get_member(&ana).await.expect("member").custom_roles,
        ["flags"]
    );
    assert_eq!(owner.list_members().await.expect("members").items.len(), 2);

    // A session: login, change password (session only), logout.
    let mut as_ana = Client::new(&server.base, None).expect("client");
    as_ana
        .login(&LoginRequest {
            email: "ana@acme.test".into(),
            password: "ana-password-1".into(),
            org: None,
        })
        .await
        .expect("login");
    as_ana
        .change_password(&ChangePasswordRequest {
            current_password: "ana-password-1".into(),
            new_password: "ana-password-2".into(),
        })
        .await
        .expect("change password");
    let ana_token = as_ana
        .create_token(&CreateTokenRequest {
            name: "ana's".into(),
            expires_at: Some(OffsetDateTime::now_utc() + Duration::days(7)),
            ..Default::default()
        })
        .await
        .expect("token as ana");
    as_ana.logout().await.expect("logout");
    assert!(matches!(as_ana.me().await, Err(Error::MissingCredential)));
    assert_eq!(
        owner
            .list_member_tokens(&ana)
            .await
            .expect("member tokens")
            .items[0]
            .id,
        ana_token.metadata.id
    );

    // Tokens.
    let expires = OffsetDateTime::now_utc() + Duration::days(30);
    let token = owner
        .create_token(&CreateTokenRequest {
            name: "ci".into(),
            projects: Some(vec!["web".into()]),
            expires_at: Some(expires),
            ..Default::default()
        })
        .await
        .expect("create token");
    let id = token.metadata.id.clone();
    assert_eq!(owner.get_token(&id).await.expect("get").name, "ci");
    owner
        .update_token(&id, &req::<UpdateTokenRequest>(json!({"name": "ci-2"})))
        .await
        .expect("update token");
    let cloned = owner
        .clone_token(&id, &CloneTokenRequest { name: None })
        .await
        .expect("clone");
    let rotated = owner
        .rotate_token(
            &id,
            &RotateTokenRequest {
                expires_at: expires + Duration::days(1),
                grace_period_seconds: None,
            },
        )
        .await
        .expect("rotate");
    assert_eq!(rotated.metadata.id, id);
    assert!(owner.list_tokens().await.expect("list").items.len() >= 3);

    // Services: verify, forward-auth, leaks.
    let answer = owner
        .verify(&VerifyRequest {
            token: rotated.token.clone(),
            action: Some("flag:read".into()),
            resource: Some("proj/web".into()),
            ip: None,
            cost: None,
        })
        .await
        .expect("verify");
    assert_eq!((answer.valid, answer.allowed), (true, Some(true)));
    let who = owner
        .forward_auth(&rotated.token, Some(("flag:read", "proj/web")))
        .await
        .expect("forward auth");
    assert_eq!(
        (
            who.member.as_deref().unwrap(),
            who.org.as_str(),
            who.token_id.as_str()
        ),
        (
            me.member.as_ref().unwrap().id.as_str(),
            org.key.as_str(),
            id.as_str()
        )
    );
    // Outside its projects: 403; no such token: 401; no question: 200.
    api_error(
        owner
            .forward_auth(&rotated.token, Some(("flag:read", "proj/api")))
            .await,
        403,
        "forbidden",
    );
    api_error(
        owner.forward_auth(&token.token, None).await,
        401,
        "invalid_token",
    );
    assert!(owner.forward_auth(&cloned.token, None).await.is_ok());
    let leaks = owner
        .report_leaks(&LeakReport {
            tokens: vec![cloned.token.clone(), "tsr_nothing".into()],
            url: Some("https://paste.example/1".into()),
        })
        .await
        .expect("leaks");
    assert_eq!((leaks.revoked, leaks.ignored), (1, 1));
    api_error(
        owner.forward_auth(&cloned.token, None).await,
        401,
        "invalid_token",
    );

    // Audit, then the deletes.
    let page = owner
        .list_audit(&AuditFilter {
            action: Some("token:delete".into()),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(page.items.len(), 1);
    owner.delete_token(&id).await.expect("delete token");
    owner.delete_member(&ana).await.expect("delete member");
    owner.delete_role("flags").await.expect("delete role");
    owner.delete_project("web").await.expect("delete project");
    api_error(owner.get_token(&id).await, 404, "not_found");
    api_error(owner.get_project("web").await, 404, "not_found");

    // The owner's password still logs in (the harness's fixture).
    let mut again = Client::new(&server.base, None).expect("client");
    again
        .login(&LoginRequest {
            email: OWNER_EMAIL.into(),
            password: OWNER_PASSWORD.into(),
            org: None,
        })
        .await
        .expect("owner login");
}
