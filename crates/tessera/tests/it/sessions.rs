//! Logging in with a password: the cookie, CSRF, session-only endpoints.

use reqwest::Method;
use serde_json::json;

use crate::harness::{send, start, Reply, TestServer, OWNER_EMAIL, OWNER_PASSWORD};

/// `GET /me` with a session cookie.
async fn get_me(s: &TestServer, cookie: &str) -> Reply {
    s.call_with_cookie(Method::GET, "/api/v1/me", cookie, None)
        .await
}

/// The session `cookie` no longer authenticates.
async fn assert_session_ended(s: &TestServer, cookie: &str) {
    get_me(s, cookie).await.expect_error(401, "unauthenticated");
}

/// `PUT /me/password` through a session.
async fn change_password(s: &TestServer, cookie: &str, current: &str, new: &str) -> Reply {
    let body = json!({ "current_password": current, "new_password": new });
    s.call_with_cookie(Method::PUT, "/api/v1/me/password", cookie, Some(body))
        .await
}

#[tokio::test]
async fn login_cookie_and_session_only_endpoints() {
    let s = start().await;
    // Wrong password and unknown email look the same.
    s.wrong_logins(OWNER_EMAIL, "who@acme.test", "nope-nope")
        .await;

    let login = s
        .try_login("OWNER@acme.test", OWNER_PASSWORD)
        .await
        .expect(200);
    let set_cookie = login.headers["set-cookie"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert_eq!(login.body["member"]["role"], "owner");
    let csrf = login.string("csrf_token");
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();

    let me = get_me(&s, &cookie).await.expect(200);
    assert_eq!(me.body["authenticated_by"], "session");
    assert!(me.body["token"].is_null());

    // State changes through the cookie need JSON or the CSRF token.
    let form = send(
        s.http
            .post(s.url("/api/v1/projects"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("key=evil"),
    )
    .await;
    assert_eq!(form.status, 403, "{}", form.text);
    assert_eq!(form.code(), "csrf_failed");
    let (id, _, _) = s.owner_creates_token("to delete").await;
    let no_csrf = send(
        s.http
            .delete(s.url(&format!("/api/v1/tokens/{id}")))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(no_csrf.status, 403);
    let with_csrf = send(
        s.http
            .delete(s.url(&format!("/api/v1/tokens/{id}")))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf),
    )
    .await;
    assert_eq!(with_csrf.status, 204, "{}", with_csrf.text);

    // Session-only endpoints refuse tokens.
    s.call(
        Method::PUT,
        "/api/v1/me/password",
        Some(&s.owner_token),
        Some(json!({ "current_password": OWNER_PASSWORD, "new_password": "another-password" })),
    )
    .await
    .expect_error(403, "session_required");
    s.call(
        Method::DELETE,
        "/api/v1/session",
        Some(&s.owner_token),
        None,
    )
    .await
    .expect_error(403, "session_required");

    // Change the password through the session: wrong current, weak new, then fine.
    change_password(&s, &cookie, "wrong-one", "another-password")
        .await
        .expect_error(403, "forbidden");
    change_password(&s, &cookie, OWNER_PASSWORD, "short")
        .await
        .expect_error(422, "validation_failed");
    let other_session = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    change_password(&s, &cookie, OWNER_PASSWORD, "another-password")
        .await
        .expect(204);
    // Other sessions end; this one stays.
    assert_session_ended(&s, &other_session).await;
    get_me(&s, &cookie).await.expect(200);
    s.login(OWNER_EMAIL, "another-password").await;

    // Log out: the cookie stops working.
    s.call_with_cookie(Method::DELETE, "/api/v1/session", &cookie, Some(json!({})))
        .await
        .expect(204);
    assert_session_ended(&s, &cookie).await;
}

#[tokio::test]
async fn sessions_expire() {
    let s = start().await;
    let cookie = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    get_me(&s, &cookie).await.expect(200);
    s.clock.advance(time::Duration::hours(13));
    assert_session_ended(&s, &cookie).await;
}

#[tokio::test]
async fn an_email_in_two_orgs_needs_the_org_key() {
    let s = start().await;
    // A second org with the same owner email, set up the way `tessera init` does.
    let config = tessera_server::Config::with_database_url(s.database_url.clone());
    let state = tessera_server::open(config).await.expect("open");
    tessera_server::setup::create_org(&state, "beta", OWNER_EMAIL, Some("beta-password-1".into()))
        .await
        .expect("second org");
    // Without `org`, one password check (as for any login): against one of
    // the memberships. Its right password learns that `org` is needed; the
    // other org's password gets the same 401 as any wrong password.
    let mut answers = Vec::new();
    for password in [OWNER_PASSWORD, "beta-password-1"] {
        let reply = s.try_login(OWNER_EMAIL, password).await;
        answers.push((reply.status.as_u16(), reply.code().to_owned(), reply.text));
    }
    answers.sort();
    assert_eq!(answers[0].0, 400, "{answers:?}");
    assert!(answers[0].2.contains("org"), "{answers:?}");
    assert_eq!(
        (answers[1].0, answers[1].1.as_str()),
        (401, "invalid_credentials")
    );
    let beta = s
        .call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({ "email": OWNER_EMAIL, "password": "beta-password-1", "org": "beta" })),
        )
        .await
        .expect(200);
    assert_eq!(beta.body["org"]["key"], "beta");
    // Each org's members and tokens stay apart.
    let cookie = beta.headers["set-cookie"]
        .to_str()
        .expect("text")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let members = s
        .call_with_cookie(Method::GET, "/api/v1/members", &cookie, None)
        .await
        .expect(200);
    assert_eq!(members.items().len(), 1);
    let acme_token_id = &s.owner_token[4..31];
    s.call_with_cookie(
        Method::GET,
        &format!("/api/v1/tokens/{acme_token_id}"),
        &cookie,
        None,
    )
    .await
    .expect_error(404, "not_found");
}
