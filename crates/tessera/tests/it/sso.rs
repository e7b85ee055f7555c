//! Single sign-on's settings and the ways back in without it: `"sso"` on
//! `/org`, `password_login: false` → `403 sso_required` (API and web
//! form), an admin setting a member's password, `tessera reset-password`,
//! and the page's framing and brand headers. (The sign-in itself, through
//! a real OpenID provider in chromium, is tests/browser/sso.test.mjs; the
//! ID token's checks are unit tests in tessera-server's `sso::checks`.)

use reqwest::Method;
use serde_json::json;

use crate::cli::{run, tessera, text};
use crate::harness::{send, start, start_with, TestServer, OWNER_EMAIL, OWNER_PASSWORD};

async fn set_password(
    s: &TestServer,
    cookie: &str,
    id: &str,
    password: &str,
) -> crate::harness::Reply {
    let path = format!("/api/v1/members/{id}/password");
    s.call_with_cookie(
        Method::PUT,
        &path,
        cookie,
        Some(json!({ "password": password })),
    )
    .await
}

#[tokio::test]
async fn org_sso_settings_are_shown_checked_and_audited() {
    let s = start().await;
    let org = s.owner_get("/api/v1/org").await.expect(200);
    assert_eq!(
        org.body["sso"],
        json!({ "allowed_domains": [], "default_role": "reader", "password_login": true })
    );

    let set = s
        .owner_patch(
            "/api/v1/org",
            json!({ "sso": { "allowed_domains": ["Acme.TEST", "acme.test", "corp.example"], "default_role": "writer" } }),
        )
        .await
        .expect(200);
    assert_eq!(
        set.body["sso"]["allowed_domains"],
        json!(["acme.test", "corp.example"])
    );
    assert_eq!(set.body["sso"]["default_role"], "writer");
    assert_eq!(
        set.body["sso"]["password_login"], true,
        "absent fields stay"
    );
    let shown = s.owner_get("/api/v1/org").await.expect(200);
    assert_eq!(shown.body["sso"], set.body["sso"]);
    assert_eq!(
        shown.body["name"], "acme",
        "the rest of the org is untouched"
    );

    // Bad input: nothing saved.
    for (body, status, code) in [
        (
            json!({ "sso": { "allowed_domains": ["*.acme.test"] } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "sso": { "allowed_domains": ["localhost"] } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "sso": { "allowed_domains": ["a@b.test"] } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "sso": { "default_role": "owner" } }),
            422,
            "validation_failed",
        ),
        (
            json!({ "sso": { "default_role": "boss" } }),
            400,
            "bad_request",
        ),
        (
            json!({ "sso": { "password_login": "no" } }),
            400,
            "bad_request",
        ),
        (
            json!({ "sso": { "allowed_domains": "acme.test" } }),
            400,
            "bad_request",
        ),
        (json!({ "sso": { "surprise": true } }), 400, "bad_request"),
    ] {
        s.owner_patch("/api/v1/org", body.clone())
            .await
            .expect_error(status, code);
    }
    let after = s.owner_get("/api/v1/org").await.expect(200);
    assert_eq!(
        after.body["sso"], set.body["sso"],
        "refused changes saved nothing"
    );

    // Only who may update the org; never above one's own role.
    let (_, writer) = s.member_with_token("w@acme.test", "writer").await;
    s.patch(
        "/api/v1/org",
        &writer,
        json!({ "sso": { "password_login": false } }),
    )
    .await
    .expect_error(403, "forbidden");
    let (_, admin) = s.member_with_token("a@acme.test", "admin").await;
    s.patch(
        "/api/v1/org",
        &admin,
        json!({ "sso": { "default_role": "admin" } }),
    )
    .await
    .expect(200);

    let audit = s
        .owner_get("/api/v1/audit?action=org:sso")
        .await
        .expect(200);
    let event = &audit.items()[1];
    assert_eq!(event["action"], "org:sso");
    assert_eq!(event["details"]["from"]["default_role"], "reader");
    assert_eq!(event["details"]["to"]["default_role"], "writer");
}

#[tokio::test]
async fn password_login_off_refuses_passwords_with_sso_required() {
    let s = start().await;
    s.add_member("m@acme.test", "writer", "member-password-1")
        .await;
    s.owner_patch("/api/v1/org", json!({ "sso": { "password_login": false } }))
        .await
        .expect(200);
    s.try_login("m@acme.test", "member-password-1")
        .await
        .expect_error(403, "sso_required");
    s.try_login(OWNER_EMAIL, OWNER_PASSWORD)
        .await
        .expect_error(403, "sso_required");
    // A wrong password learns nothing about the org's settings.
    s.try_login("m@acme.test", "wrong-password")
        .await
        .expect_error(401, "invalid_credentials");
    // Tokens keep working.
    s.owner_get("/api/v1/me").await.expect(200);

    // The web form says so.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http.get(s.url("/login")).send().await.expect("login page");
    let csrf_cookie =
        crate::harness::set_cookie_pair(&page, "tessera_login_csrf").expect("csrf cookie");
    let html = page.text().await.expect("html");
    let csrf = crate::harness::field_value(&html, "name=\"csrf_token\"");
    let form = send(
        http.post(s.url("/login"))
            .header("cookie", csrf_cookie)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", "m@acme.test"),
                ("password", "member-password-1"),
                ("next", "/tokens"),
            ]),
    )
    .await;
    assert_eq!(form.status, 403, "{}", form.text);
    assert!(
        form.text.contains("signs in with single sign-on"),
        "{}",
        form.text
    );

    s.owner_patch("/api/v1/org", json!({ "sso": { "password_login": true } }))
        .await
        .expect(200);
    s.try_login("m@acme.test", "member-password-1")
        .await
        .expect(200);
}

#[tokio::test]
async fn an_admin_sets_a_members_password_and_their_sessions_end() {
    let s = start().await;
    let member = s
        .add_member("m@acme.test", "writer", "member-password-1")
        .await;
    let other_owner = s
        .add_member("o2@acme.test", "owner", "owner-password-2")
        .await;
    let member_session = s.login("m@acme.test", "member-password-1").await;
    let owner = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;

    // A token cannot, whatever its role.
    send(
        s.http
            .put(s.url(&format!("/api/v1/members/{member}/password")))
            .bearer_auth(&s.owner_token)
            .json(&json!({ "password": "new-password-1" })),
    )
    .await
    .expect_error(403, "session_required");
    // Bad input.
    set_password(&s, &owner, &member, "short")
        .await
        .expect_error(422, "validation_failed");
    set_password(&s, &owner, "not-an-id", "new-password-1")
        .await
        .expect_error(400, "bad_request");
    set_password(&s, &owner, "2Ab3Cd4Ef5Gh6Ij7Kl8Mn9Op0Q1", "new-password-1")
        .await
        .expect_error(404, "not_found");
    set_password(&s, &owner, &s.owner_id, "new-password-1")
        .await
        .expect_error(403, "forbidden");

    set_password(&s, &owner, &member, "new-password-1")
        .await
        .expect(204);
    crate::harness::send(
        s.http
            .get(s.url("/api/v1/me"))
            .header("cookie", &member_session),
    )
    .await
    .expect_error(401, "unauthenticated");
    s.try_login("m@acme.test", "member-password-1")
        .await
        .expect_error(401, "invalid_credentials");
    s.try_login("m@acme.test", "new-password-1")
        .await
        .expect(200);

    // Rank rules: an admin cannot set an owner's password.
    s.add_member("admin@acme.test", "admin", "admin-password-1")
        .await;
    let admin = s.login("admin@acme.test", "admin-password-1").await;
    set_password(&s, &admin, &other_owner, "taken-over-1")
        .await
        .expect_error(403, "forbidden");
    set_password(&s, &admin, &member, "admin-set-1")
        .await
        .expect(204);

    let audit = s
        .owner_get("/api/v1/audit?action=member:password")
        .await
        .expect(200);
    assert_eq!(audit.items().len(), 2);
    assert_eq!(audit.items()[0]["target"], format!("member/{member}"));
    assert!(
        !audit.text.contains("admin-set-1"),
        "the password is never in the log"
    );
}

#[tokio::test]
async fn reset_password_on_the_servers_machine() {
    let s = start().await;
    let cookie = s.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let reset = |args: &[&str], stdin: &str| {
        let mut cmd = tessera(dir.path());
        cmd.env("TESSERA_DATABASE_URL", &s.database_url);
        cmd.arg("reset-password").args(args);
        run(cmd, stdin)
    };

    let out = reset(
        &["--email", OWNER_EMAIL, "--password-stdin"],
        "recovered-password-1\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("sessions ended"),
        "{}",
        text(&out.stderr)
    );
    send(s.http.get(s.url("/api/v1/me")).header("cookie", &cookie))
        .await
        .expect_error(401, "unauthenticated");
    s.try_login(OWNER_EMAIL, "recovered-password-1")
        .await
        .expect(200);

    // Generated when not given, printed once on stderr.
    let out = reset(&["--email", OWNER_EMAIL], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let generated = stderr
        .lines()
        .find_map(|l| l.strip_prefix(&format!("Generated password for {OWNER_EMAIL}: ")))
        .expect("a generated password");
    s.try_login(OWNER_EMAIL, generated).await.expect(200);

    // Mistakes: exit 1 with a message, nothing changed.
    for (args, stdin, says) in [
        (vec!["--email", "nobody@acme.test"], "", "no member"),
        (
            vec!["--email", OWNER_EMAIL, "--org", "nope"],
            "",
            "no organization",
        ),
        (
            vec!["--email", OWNER_EMAIL, "--password-stdin"],
            "",
            "empty",
        ),
        (
            vec!["--email", OWNER_EMAIL, "--password-stdin"],
            "short\n",
            "8",
        ),
    ] {
        let out = reset(&args, stdin);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    s.try_login(OWNER_EMAIL, generated).await.expect(200);

    let audit = s
        .owner_get("/api/v1/audit?action=member:password")
        .await
        .expect(200);
    assert_eq!(audit.items().len(), 2);
}

#[tokio::test]
async fn the_page_is_framable_only_by_configured_origins_and_carries_the_brand() {
    let plain = start().await;
    let page = send(plain.http.get(plain.url("/login"))).await;
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(page.text.contains("Log in to Tessera"));
    assert!(
        !page.text.contains("Sign in with"),
        "no SSO without oidc_issuer"
    );

    let s = start_with(|c| {
        c.web.frame_ancestors =
            tessera_server::config::FrameAncestors(vec!["https://app.example.com".into()]);
        c.web.brand_name = "Lightdash".into();
        c.web.brand_logo_url = Some(
            <tessera_server::config::LogoUrl as tessera_server::config::Value>::from_text(
                "https://cdn.example.com/logo.svg",
            )
            .expect("logo"),
        );
    })
    .await;
    let page = send(s.http.get(s.url("/login"))).await;
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("frame-ancestors https://app.example.com;"),
        "{csp}"
    );
    assert!(
        csp.contains("img-src 'self' https://cdn.example.com"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(page.headers.get("x-frame-options").is_none());
    assert!(
        page.text.contains("<title>Log in · Lightdash</title>"),
        "{}",
        page.text
    );
    assert!(page
        .text
        .contains("src=\"https://cdn.example.com/logo.svg\""));
    // The API is never framable.
    let api = send(s.http.get(s.url("/api/v1/me")).bearer_auth(&s.owner_token)).await;
    assert_eq!(api.headers["x-frame-options"], "DENY");
    assert!(api.headers["content-security-policy"]
        .to_str()
        .expect("csp")
        .contains("frame-ancestors 'none'"));
}
