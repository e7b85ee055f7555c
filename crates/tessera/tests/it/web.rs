//! The web page over plain HTTP: what is cheaper to check without a
//! browser. Login required, CSRF on every form, the token value only in
//! the `no-store` creation response, bad input answered next to the field
//! with nothing saved, and the API's permission rules on the page.
//! (tests/browser drives the same pages in a real chromium.)

use reqwest::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::harness::{field_value, start, TestServer, OWNER_EMAIL, OWNER_PASSWORD};

/// A form's fields.
type Fields<'a> = &'a [(&'a str, &'a str)];

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// A logged-in browser: its session cookie and the session's CSRF token.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    html: String,
}

async fn page(response: reqwest::Response) -> Page {
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        html: response.text().await.expect("body"),
    }
}

impl Browser {
    async fn login(server: &TestServer, email: &str, password: &str) -> Self {
        let response = client()
            .post(server.url("/api/v1/session"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200);
        let cookie = set_cookie(&response, "tessera_session").expect("session cookie");
        let body: Value = response.json().await.expect("json");
        Self {
            http: client(),
            base: server.base.clone(),
            cookie,
            csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        page(
            request
                .header("cookie", &self.cookie)
                .send()
                .await
                .expect("get"),
        )
        .await
    }

    /// Posts a form with the session's CSRF token added.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &self.csrf));
        self.post_raw(path, &form).await
    }

    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(fields);
        page(request.send().await.expect("post")).await
    }
}

/// `name=value` of a Set-Cookie header for `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of the page's read-only token field.
fn shown_token(html: &str) -> String {
    field_value(html, "id=\"token-value\"")
}

async fn token_names(server: &TestServer) -> Vec<String> {
    let list = server.get("/api/v1/tokens", &server.owner_token).await;
    list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn pages_require_a_login() {
    let server = start().await;
    for path in ["/tokens", "/tokens/new", "/admin/members", "/admin/audit"] {
        let response = client().get(server.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()[LOCATION].to_str().expect("location");
        assert!(location.starts_with("/login?next="), "{path}: {location}");
    }
    // A token is not a login for the page.
    let response = client()
        .get(server.url("/tokens"))
        .bearer_auth(&server.owner_token)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 303);
    // Posting without a session changes nothing.
    let response = client()
        .post(server.url("/tokens"))
        .form(&[("name", "sneaky")])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
    assert!(!token_names(&server).await.contains(&"sneaky".to_owned()));
}

#[tokio::test]
async fn login_form_checks_the_password_and_its_csrf_field() {
    let server = start().await;
    let http = client();
    let response = http
        .get(server.url("/login"))
        .send()
        .await
        .expect("login page");
    let csrf_cookie = set_cookie(&response, "tessera_login_csrf").expect("login csrf cookie");
    let csrf = csrf_cookie.split_once('=').expect("pair").1.to_owned();
    let html = response.text().await.expect("html");
    assert!(html.contains(&csrf), "the form carries the token");

    let post = |fields: Vec<(&'static str, String)>, cookie: Option<String>| {
        let mut request = http.post(server.url("/login")).form(&fields);
        if let Some(c) = cookie {
            request = request.header("cookie", c);
        }
        request.send()
    };
    let wrong = post(
        vec![
            ("email", OWNER_EMAIL.into()),
            ("password", "not-the-password".into()),
            ("csrf_token", csrf.clone()),
        ],
        Some(csrf_cookie.clone()),
    )
    .await
    .expect("post");
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie(&wrong, "tessera_session").is_none());
    assert!(wrong
        .text()
        .await
        .expect("html")
        .contains("Wrong email or password"));

    let forged = post(
        vec![
            ("email", OWNER_EMAIL.into()),
            ("password", OWNER_PASSWORD.into()),
            ("csrf_token", "forged".into()),
        ],
        Some(csrf_cookie.clone()),
    )
    .await
    .expect("post");
    assert_eq!(forged.status(), 403);
    assert!(set_cookie(&forged, "tessera_session").is_none());

    let ok = post(
        vec![
            ("email", OWNER_EMAIL.into()),
            ("password", OWNER_PASSWORD.into()),
            ("csrf_token", csrf),
            ("next", "/admin/members".into()),
        ],
        Some(csrf_cookie),
    )
    .await
    .expect("post");
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()[LOCATION], "/admin/members");
    let session = set_cookie(&ok, "tessera_session").expect("session cookie");
    let me = http
        .get(server.url("/tokens"))
        .header("cookie", session)
        .send()
        .await
        .expect("tokens");
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_change_nothing() {
    let server = start().await;
    let browser = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let missing = browser
        .post_raw("/tokens", &[("name", "no csrf"), ("expiry", "30")])
        .await;
    assert_eq!(missing.status, 403);
    let wrong = browser
        .post_raw(
            "/tokens",
            &[
                ("name", "wrong csrf"),
                ("expiry", "30"),
                ("csrf_token", "x"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 403);
    // Another session's token does not fit this one.
    let other = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let crossed = browser
        .post_raw(
            "/tokens",
            &[
                ("name", "crossed"),
                ("expiry", "30"),
                ("csrf_token", &other.csrf),
            ],
        )
        .await;
    assert_eq!(crossed.status, 403);
    assert!(crossed.html.contains("nothing was changed"));
    let names = token_names(&server).await;
    for name in ["no csrf", "wrong csrf", "crossed"] {
        assert!(!names.contains(&name.to_owned()), "{name} was saved");
    }
    // Log-out is a form too.
    let logout = browser.post_raw("/logout", &[]).await;
    assert_eq!(logout.status, 403);
    assert_eq!(browser.get("/tokens").await.status, 200);
}

#[tokio::test]
async fn the_value_is_shown_once_in_a_no_store_response() {
    let server = start().await;
    server
        .post(
            "/api/v1/members",
            &server.owner_token,
            json!({ "email": "writer@acme.test", "role": "writer", "password": "writer-password-1" }),
        )
        .await
        .expect(201);
    let browser = Browser::login(&server, "writer@acme.test", "writer-password-1").await;
    let empty = browser.get("/tokens").await;
    assert!(empty.html.contains("You have no tokens yet"));
    let created = browser
        .post(
            "/tokens",
            &[
                ("name", "deploy bot"),
                ("scope", "inherit"),
                ("expiry", "30"),
            ],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.html);
    assert!(created.headers.get(LOCATION).is_none(), "never a redirect");
    assert_eq!(created.headers[CACHE_CONTROL], "no-store");
    let value = shown_token(&created.html);
    assert!(value.starts_with("tsr_"), "{value}");
    assert!(created.html.contains("will not be shown again"));
    assert!(created
        .html
        .contains(&format!("Authorization: Bearer {value}")));
    assert!(created
        .html
        .contains(&format!("export TESSERA_TOKEN={value}")));

    // It works against the API.
    let me = server.get("/api/v1/me", &value).await.expect(200);
    assert_eq!(me.body["token"]["name"], "deploy bot");

    // The list shows the snippet, never the value; nor does the token's page.
    let snippet = me.body["token"]["snippet"].as_str().expect("snippet");
    let id = me.body["token"]["id"].as_str().expect("id");
    let list = browser.get("/tokens").await;
    assert_eq!(list.headers[CACHE_CONTROL], "no-store");
    assert!(list.html.contains(snippet));
    assert!(list.html.contains("deploy bot"));
    let secret_part = &value[value.len() - 20..];
    assert!(!list.html.contains(secret_part));
    let detail = browser.get(&format!("/tokens/{id}")).await;
    assert_eq!(detail.status, 200);
    assert!(!detail.html.contains(secret_part));
}

/// The admin links follow permissions, whether they come from a built-in
/// role or from custom roles.
#[tokio::test]
async fn the_admin_links_follow_the_members_permissions() {
    let server = start().await;
    server
        .post(
            "/api/v1/roles",
            &server.owner_token,
            json!({ "key": "people", "policy": [
                { "effect": "allow", "actions": ["member:*"], "resources": ["member/*"] }
            ] }),
        )
        .await
        .expect(201);
    for (email, role, custom) in [
        ("reader@acme.test", "reader", json!([])),
        ("writer@acme.test", "writer", json!([])),
        ("hr@acme.test", "reader", json!(["people"])),
    ] {
        server
            .post(
                "/api/v1/members",
                &server.owner_token,
                json!({ "email": email, "role": role, "custom_roles": custom, "password": "member-password-1" }),
            )
            .await
            .expect(201);
    }
    let links = |html: &str| {
        ["members", "roles", "projects", "policy", "audit"]
            .into_iter()
            .filter(|page| html.contains(&format!("href=\"/admin/{page}\"")))
            .collect::<Vec<_>>()
    };
    let nav_of = |email: &'static str, password: &'static str| {
        let server = &server;
        async move {
            let browser = Browser::login(server, email, password).await;
            links(&browser.get("/tokens").await.html)
        }
    };
    assert_eq!(
        nav_of(OWNER_EMAIL, OWNER_PASSWORD).await,
        ["members", "roles", "projects", "policy", "audit"]
    );
    assert!(nav_of("reader@acme.test", "member-password-1")
        .await
        .is_empty());
    assert_eq!(
        nav_of("writer@acme.test", "member-password-1").await,
        ["projects"]
    );
    assert_eq!(
        nav_of("hr@acme.test", "member-password-1").await,
        ["members"]
    );
    // And the linked page works for them.
    let hr = Browser::login(&server, "hr@acme.test", "member-password-1").await;
    let members = hr.get("/admin/members").await;
    assert_eq!(members.status, 200);
    assert!(
        members.html.contains("writer@acme.test"),
        "{}",
        members.html
    );
}

/// Members change their own password on the account page: the current
/// one is checked, the two new ones must match, the new one must be long
/// enough; on success only the new password logs in and other sessions end.
#[tokio::test]
async fn members_change_their_password_on_the_account_page() {
    let server = start().await;
    let browser = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let other = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let account = browser.get("/account").await;
    assert_eq!(account.status, 200);
    assert!(account.html.contains(OWNER_EMAIL), "{}", account.html);

    let browser = &browser;
    let try_change = |current: &'static str, new: &'static str, again: &'static str| async move {
        let fields = [
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", again),
        ];
        browser.post("/account/password", &fields).await
    };
    let wrong = try_change("not-the-password", "brand-new-pass-1", "brand-new-pass-1").await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.html.contains("id=\"current_password-error\""),
        "{}",
        wrong.html
    );
    let differ = try_change(OWNER_PASSWORD, "brand-new-pass-1", "brand-new-pass-2").await;
    assert!(
        differ.html.contains("id=\"confirm_password-error\""),
        "{}",
        differ.html
    );
    let short = try_change(OWNER_PASSWORD, "short", "short").await;
    assert_eq!(short.status, 422);
    assert!(
        short.html.contains("id=\"new_password-error\""),
        "{}",
        short.html
    );
    let login = |password: &'static str| {
        client()
            .post(server.url("/api/v1/session"))
            .json(&json!({ "email": OWNER_EMAIL, "password": password }))
            .send()
    };
    // None of these changed anything.
    assert_eq!(login(OWNER_PASSWORD).await.expect("login").status(), 200);

    let changed = try_change(OWNER_PASSWORD, "brand-new-pass-1", "brand-new-pass-1").await;
    assert_eq!(changed.status, 303, "{}", changed.html);
    assert_eq!(changed.headers[LOCATION], "/account?done=password");
    assert!(browser
        .get("/account?done=password")
        .await
        .html
        .contains("Your password was changed"));
    assert_eq!(login(OWNER_PASSWORD).await.expect("login").status(), 401);
    assert_eq!(
        login("brand-new-pass-1").await.expect("login").status(),
        200
    );
    // The other session ended; this one goes on.
    assert_eq!(other.get("/tokens").await.status, 303);
    assert_eq!(browser.get("/tokens").await.status, 200);
}

/// Reloading the page that shows a new value sends its form again (the
/// browser re-POSTs it): that must not create a second token or rotate
/// again, and must not show the value again.
#[tokio::test]
async fn a_value_form_sent_twice_acts_once() {
    let server = start().await;
    let browser = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let form_page = browser.get("/tokens/new").await;
    let form_id = field_value(&form_page.html, "name=\"form_id\"");

    // A first try with a mistake is not "sent": corrected, the same form works.
    let bad = browser
        .post(
            "/tokens",
            &[("name", ""), ("expiry", "30"), ("form_id", &form_id)],
        )
        .await;
    assert_eq!(bad.status, 422);
    let fields = [
        ("name", "once"),
        ("expiry", "30"),
        ("form_id", form_id.as_str()),
    ];
    let created = browser.post("/tokens", &fields).await;
    assert_eq!(created.status, 201, "{}", created.html);
    let value = shown_token(&created.html);
    let again = browser.post("/tokens", &fields).await;
    assert_eq!(again.status, 409, "{}", again.html);
    assert!(again.html.contains("already sent"), "{}", again.html);
    assert!(
        !again.html.contains(&value),
        "the value is never shown again"
    );
    let named_once = token_names(&server).await;
    assert_eq!(named_once.iter().filter(|n| *n == "once").count(), 1);

    // Rotation and clone: the same, and the value shown first keeps working.
    let id = token_named(&server, "once").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let show = browser.get(&format!("/tokens/{id}")).await;
    let rotate_id = field_value(
        &show.html[show.html.find("/rotate\"").expect("rotate form")..],
        "name=\"form_id\"",
    );
    let rotate = [
        ("expiry", "30"),
        ("grace", "0"),
        ("form_id", rotate_id.as_str()),
    ];
    let rotated = browser.post(&format!("/tokens/{id}/rotate"), &rotate).await;
    assert_eq!(rotated.status, 200, "{}", rotated.html);
    let new_value = shown_token(&rotated.html);
    let again = browser.post(&format!("/tokens/{id}/rotate"), &rotate).await;
    assert_eq!(again.status, 409, "{}", again.html);
    server.get("/api/v1/me", &new_value).await.expect(200);
    server.get("/api/v1/me", &value).await.expect(401);

    let clone_id = field_value(
        &show.html[show.html.find("/clone\"").expect("clone form")..],
        "name=\"form_id\"",
    );
    let clone = [("name", "twin"), ("form_id", clone_id.as_str())];
    assert_eq!(
        browser
            .post(&format!("/tokens/{id}/clone"), &clone)
            .await
            .status,
        201
    );
    assert_eq!(
        browser
            .post(&format!("/tokens/{id}/clone"), &clone)
            .await
            .status,
        409
    );
    let names = token_names(&server).await;
    assert_eq!(names.iter().filter(|n| *n == "twin").count(), 1);
}

#[tokio::test]
async fn bad_input_is_answered_next_to_the_field_and_nothing_is_saved() {
    let server = start().await;
    let browser = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    // (form fields, id of the error element, text it must contain)
    let cases: [(Fields, &str, &str); 4] = [
        (
            &[("name", "  "), ("expiry", "30")],
            "name-error",
            "Must not be empty",
        ),
        (
            &[
                ("name", "bad policy"),
                ("scope", "policy"),
                ("policy", "[{\"effect\": "),
                ("expiry", "30"),
            ],
            "policy-error",
            "not a valid policy",
        ),
        (
            &[
                ("name", "empty policy"),
                ("scope", "policy"),
                ("policy", "[]"),
                ("expiry", "30"),
            ],
            "policy-error",
            "at least one statement",
        ),
        (
            &[
                ("name", "past"),
                ("expiry", "custom"),
                ("expires_on", "2001-01-01"),
            ],
            "expires_at-error",
            "future",
        ),
    ];
    for (fields, error_id, text) in cases {
        let reply = browser.post("/tokens", fields).await;
        assert_eq!(reply.status, 422, "{fields:?}: {}", reply.html);
        let at = reply
            .html
            .find(&format!("id=\"{error_id}\""))
            .unwrap_or_else(|| panic!("{error_id} missing for {fields:?}: {}", reply.html));
        let message = &reply.html[at..at + 300.min(reply.html.len() - at)];
        assert!(
            message.to_lowercase().contains(&text.to_lowercase()),
            "{fields:?}: {message}"
        );
        assert!(reply.html.contains("aria-invalid=\"true\""));
    }
    let names = token_names(&server).await;
    assert_eq!(names, vec!["owner token".to_owned()], "nothing was saved");
}

#[tokio::test]
async fn the_page_enforces_the_apis_permission_rules() {
    let server = start().await;
    server
        .post(
            "/api/v1/members",
            &server.owner_token,
            json!({ "email": "reader@acme.test", "role": "reader", "password": "reader-password-1" }),
        )
        .await
        .expect(201);
    let reader = Browser::login(&server, "reader@acme.test", "reader-password-1").await;
    // The form offers a reader only the reader role...
    let form = reader.get("/tokens/new").await;
    assert!(form.html.contains("<option value=\"reader\""));
    assert!(!form.html.contains("<option value=\"writer\""));
    // ...and a hand-made request for more gets the API's answer.
    let reply = reader
        .post(
            "/tokens",
            &[
                ("name", "too much"),
                ("scope", "role"),
                ("role", "admin"),
                ("expiry", "7"),
            ],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(reply.html.contains("id=\"scope-error\""), "{}", reply.html);
    // Admin pages answer a reader with the API's 403, as a message.
    let members = reader
        .post(
            "/admin/members",
            &[("email", "x@acme.test"), ("role", "reader")],
        )
        .await;
    assert_eq!(members.status, 403, "{}", members.html);
    let list = server.get("/api/v1/members", &server.owner_token).await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn static_assets_are_files_and_pages_have_no_inline_code() {
    let server = start().await;
    let css = client()
        .get(server.url("/static/app.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/css"));
    let js = client()
        .get(server.url("/static/app.js"))
        .send()
        .await
        .expect("js");
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/javascript"));
    let browser = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    for path in [
        "/tokens",
        "/tokens/new",
        "/admin/members",
        "/admin/roles",
        "/admin/projects",
        "/admin/policy",
        "/admin/audit",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.html);
        assert!(!page.html.contains("<script>"), "{path}: inline script");
        assert!(!page.html.contains("style="), "{path}: inline style");
        assert!(!page.html.contains("<style"), "{path}: inline style");
        assert!(
            !page.html.contains("http://") && !page.html.contains("https://"),
            "{path}: external reference"
        );
    }
}

/// The id of the owner's token called `name`, and its metadata.
async fn token_named(server: &TestServer, name: &str) -> Value {
    let list = server.get("/api/v1/tokens", &server.owner_token).await;
    list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no token {name}: {}", list.text))
}

#[tokio::test]
async fn edit_clone_and_the_rotation_rules_through_the_page() {
    let server = start().await;
    let browser = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let created = browser
        .post("/tokens", &[("name", "forever"), ("expiry", "none")])
        .await;
    assert_eq!(created.status, 201, "{}", created.html);
    let id = token_named(&server, "forever").await["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // A token that never expires cannot be rotated: the spec's rule, as a
    // message next to the expiry.
    let rotate = browser
        .post(
            &format!("/tokens/{id}/rotate"),
            &[("expiry", "30"), ("grace", "0")],
        )
        .await;
    assert_eq!(rotate.status, 422, "{}", rotate.html);
    let at = rotate.html.find("id=\"expires_at-error\"").expect("error");
    assert!(rotate.html[at..].contains("cannot be rotated"));

    // Rename and re-scope.
    let saved = browser
        .post(
            &format!("/tokens/{id}"),
            &[("name", "renamed"), ("scope", "role"), ("role", "reader")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let token = token_named(&server, "renamed").await;
    assert_eq!(token["role"], "reader");

    // Clone: an empty name is refused next to the field; a name works.
    let bad = browser
        .post(&format!("/tokens/{id}/clone"), &[("name", "")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("id=\"clone-name-error\""), "{}", bad.html);
    let clone = browser
        .post(&format!("/tokens/{id}/clone"), &[("name", "the copy")])
        .await;
    assert_eq!(clone.status, 201, "{}", clone.html);
    let value = shown_token(&clone.html);
    let me = server.get("/api/v1/me", &value).await.expect(200);
    assert_eq!(me.body["token"]["name"], "the copy");
    assert_eq!(me.body["token"]["role"], "reader");
}

#[tokio::test]
async fn admins_change_roles_within_the_rank_rules() {
    let server = start().await;
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let added = owner
        .post(
            "/admin/members",
            &[
                ("email", "ann@acme.test"),
                ("role", "admin"),
                ("password", "ann-password-1"),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.html);
    assert!(added.html.contains("ann@acme.test was added"));
    let duplicate = owner
        .post(
            "/admin/members",
            &[("email", "ann@acme.test"), ("role", "reader")],
        )
        .await;
    assert_eq!(duplicate.status, 409);
    assert!(
        duplicate.html.contains("id=\"email-error\""),
        "{}",
        duplicate.html
    );

    let members = server.get("/api/v1/members", &server.owner_token).await;
    let ann = members.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["email"] == "ann@acme.test")
        .expect("ann")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // An admin may not make anyone an owner; the page says so and nothing changes.
    let admin = Browser::login(&server, "ann@acme.test", "ann-password-1").await;
    let refused = admin
        .post(&format!("/admin/members/{ann}"), &[("role", "owner")])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.html);
    let now = server
        .get(&format!("/api/v1/members/{ann}"), &server.owner_token)
        .await;
    assert_eq!(now.body["role"], "admin");

    // The owner may downgrade her.
    let saved = owner
        .post(&format!("/admin/members/{ann}"), &[("role", "reader")])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let now = server
        .get(&format!("/api/v1/members/{ann}"), &server.owner_token)
        .await;
    assert_eq!(now.body["role"], "reader");
}
