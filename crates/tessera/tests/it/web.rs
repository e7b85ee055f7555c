//! The web page over plain HTTP: what is cheaper to check without a
//! browser. Login required, CSRF on every form, the token value only in
//! the `no-store` creation response, bad input answered next to the field
//! with nothing saved, and the API's permission rules on the page.
//! (tests/browser drives the same pages in a real chromium.)

use reqwest::header::{CACHE_CONTROL, LOCATION};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::harness::{
    field_value, in_days, set_cookie_pair, start, TestServer, OWNER_EMAIL, OWNER_PASSWORD,
};

/// A form's fields.
type Fields<'a> = &'a [(&'a str, &'a str)];

/// A client that shows redirects instead of following them.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// A server, its owner logged in, and the id of the owner's token
/// "forever", which never expires.
pub(crate) async fn owner_with_token_that_never_expires() -> (TestServer, Browser, String) {
    let (server, owner) = start_as_owner().await;
    let id = owner
        .create_token(&server, &[("name", "forever"), ("expiry", "none")])
        .await;
    (server, owner, id)
}

/// `GET path` without a session (a file, or a page anyone may see).
pub(crate) async fn fetch(server: &TestServer, path: &str) -> reqwest::Response {
    client().get(server.url(path)).send().await.expect(path)
}

/// A logged-in browser: its session cookie and the session's CSRF token.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) html: String,
}

impl Page {
    /// Asserts the status, showing the page when it is another.
    #[track_caller]
    pub(crate) fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{}", self.html);
        self
    }

    /// Asserts the page holds `needle`, showing the page when it does not.
    #[track_caller]
    pub(crate) fn assert_shows(&self, needle: &str) -> &Self {
        assert!(self.html.contains(needle), "no {needle:?} in {}", self.html);
        self
    }

    /// Asserts the page does not hold `needle`.
    #[track_caller]
    pub(crate) fn assert_hides(&self, needle: &str) -> &Self {
        assert!(!self.html.contains(needle), "{needle:?} in {}", self.html);
        self
    }

    /// Asserts the page shows an error next to the form field `field`.
    #[track_caller]
    pub(crate) fn assert_field_error(&self, field: &str) {
        assert!(
            self.html.contains(&format!("id=\"{field}-error\"")),
            "no error for {field}: {}",
            self.html
        );
    }
}

async fn page(response: reqwest::Response) -> Page {
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        html: response.text().await.expect("body"),
    }
}

impl Browser {
    pub(crate) async fn login(server: &TestServer, email: &str, password: &str) -> Self {
        let response = client()
            .post(server.url("/api/v1/session"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200);
        let cookie = set_cookie_pair(&response, "tessera_session").expect("session cookie");
        let body: Value = response.json().await.expect("json");
        Self {
            http: client(),
            base: server.base.clone(),
            cookie,
            csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
        }
    }

    /// The owner adds a member with `role` and `password`, who logs in.
    /// A new member with built-in `role`, `<role>@acme.test`, logged in.
    pub(crate) async fn new_member(server: &TestServer, role: &str) -> Self {
        let (email, password) = (format!("{role}@acme.test"), format!("{role}-password-1"));
        server.add_member(&email, role, &password).await;
        Self::login(server, &email, &password).await
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
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
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &self.csrf));
        self.post_raw(path, &form).await
    }

    /// Sends the "Add a member" form for `email` with `role`.
    pub(crate) async fn add_member(&self, email: &str, role: &str) -> Page {
        let fields = [("email", email), ("role", role)];
        self.post("/admin/members", &fields).await
    }

    /// Creates one of the owner's tokens with the form's `fields`
    /// (a name among them); its id.
    pub(crate) async fn create_token(&self, server: &TestServer, fields: Fields<'_>) -> String {
        self.post("/tokens", fields).await.expect(201);
        let name = fields.iter().find(|(k, _)| *k == "name").expect("name").1;
        token_named(server, name).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    pub(crate) async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(fields);
        page(request.send().await.expect("post")).await
    }
}

/// A new server and its owner, logged in to the page.
pub(crate) async fn start_as_owner() -> (TestServer, Browser) {
    let server = start().await;
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    (server, owner)
}

/// The value of the page's read-only token field.
pub(crate) fn shown_token(html: &str) -> String {
    field_value(html, "id=\"token-value\"")
}

async fn token_names(server: &TestServer) -> Vec<String> {
    let list = server.owner_get("/api/v1/tokens").await;
    list.items()
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
    let csrf_cookie = set_cookie_pair(&response, "tessera_login_csrf").expect("login csrf cookie");
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
    assert!(set_cookie_pair(&wrong, "tessera_session").is_none());
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
    assert!(set_cookie_pair(&forged, "tessera_session").is_none());

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
    let session = set_cookie_pair(&ok, "tessera_session").expect("session cookie");
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
    let (server, browser) = start_as_owner().await;
    browser
        .post_raw("/tokens", &[("name", "no csrf"), ("expiry", "30")])
        .await
        .expect(403);
    browser
        .post_raw(
            "/tokens",
            &[
                ("name", "wrong csrf"),
                ("expiry", "30"),
                ("csrf_token", "x"),
            ],
        )
        .await
        .expect(403);
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
        .await
        .expect(403);
    assert!(crossed.html.contains("nothing was changed"));
    let names = token_names(&server).await;
    for name in ["no csrf", "wrong csrf", "crossed"] {
        assert!(!names.contains(&name.to_owned()), "{name} was saved");
    }
    // Log-out is a form too.
    browser.post_raw("/logout", &[]).await.expect(403);
    assert_eq!(browser.get("/tokens").await.status, 200);
}

#[tokio::test]
async fn the_value_is_shown_once_in_a_no_store_response() {
    let server = start().await;
    let browser = Browser::new_member(&server, "writer").await;
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
        .await
        .expect(201);
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
    let detail = browser.get(&format!("/tokens/{id}")).await.expect(200);
    assert!(!detail.html.contains(secret_part));
}

/// The admin links follow permissions, whether they come from a built-in
/// role or from custom roles.
#[tokio::test]
async fn the_admin_links_follow_the_members_permissions() {
    let server = start().await;
    server.add_role(json!({ "key": "people", "policy": [{ "effect": "allow", "actions": ["member:*"], "resources": ["member/*"] }] })).await;
    for (email, role, custom) in [
        ("reader@acme.test", "reader", json!([])),
        ("writer@acme.test", "writer", json!([])),
        ("hr@acme.test", "reader", json!(["people"])),
    ] {
        server.owner_post("/api/v1/members", json!({ "email": email, "role": role, "custom_roles": custom, "password": "member-password-1" }))
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
    let members = hr.get("/admin/members").await.expect(200);
    members.assert_shows("writer@acme.test");
}

/// Members change their own password on the account page: the current
/// one is checked, the two new ones must match, the new one must be long
/// enough; on success only the new password logs in and other sessions end.
#[tokio::test]
async fn members_change_their_password_on_the_account_page() {
    let (server, browser) = start_as_owner().await;
    let other = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let account = browser.get("/account").await.expect(200);
    account.assert_shows(OWNER_EMAIL);

    let browser = &browser;
    let try_change = |current: &'static str, new: &'static str, again: &'static str| async move {
        let fields = [
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", again),
        ];
        browser.post("/account/password", &fields).await
    };
    let wrong = try_change("not-the-password", "brand-new-pass-1", "brand-new-pass-1")
        .await
        .expect(422);
    wrong.assert_field_error("current_password");
    let differ = try_change(OWNER_PASSWORD, "brand-new-pass-1", "brand-new-pass-2").await;
    differ.assert_field_error("confirm_password");
    let short = try_change(OWNER_PASSWORD, "short", "short")
        .await
        .expect(422);
    short.assert_field_error("new_password");
    let login = |password: &'static str| {
        client()
            .post(server.url("/api/v1/session"))
            .json(&json!({ "email": OWNER_EMAIL, "password": password }))
            .send()
    };
    // None of these changed anything.
    assert_eq!(login(OWNER_PASSWORD).await.expect("login").status(), 200);

    let changed = try_change(OWNER_PASSWORD, "brand-new-pass-1", "brand-new-pass-1")
        .await
        .expect(303);
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
    let (server, browser) = start_as_owner().await;
    let form_page = browser.get("/tokens/new").await;
    let form_id = field_value(&form_page.html, "name=\"form_id\"");

    // A first try with a mistake is not "sent": corrected, the same form works.
    browser
        .post(
            "/tokens",
            &[("name", ""), ("expiry", "30"), ("form_id", &form_id)],
        )
        .await
        .expect(422);
    let fields = [
        ("name", "once"),
        ("expiry", "30"),
        ("form_id", form_id.as_str()),
    ];
    let created = browser.post("/tokens", &fields).await.expect(201);
    let value = shown_token(&created.html);
    let again = browser.post("/tokens", &fields).await.expect(409);
    again.assert_shows("already sent");
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
    let rotated = browser
        .post(&format!("/tokens/{id}/rotate"), &rotate)
        .await
        .expect(200);
    let new_value = shown_token(&rotated.html);
    browser
        .post(&format!("/tokens/{id}/rotate"), &rotate)
        .await
        .expect(409);
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
    let (server, browser) = start_as_owner().await;
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
    // Several mistakes at once: each is next to its own field.
    let reply = browser
        .post(
            "/tokens",
            &[
                ("name", ""),
                ("scope", "policy"),
                ("policy", "[{"),
                ("expiry", "custom"),
                ("expires_on", "someday"),
            ],
        )
        .await
        .expect(422);
    for id in ["name-error", "policy-error", "expires_at-error"] {
        assert!(
            reply.html.contains(&format!("id=\"{id}\"")),
            "{id}: {}",
            reply.html
        );
    }
    let names = token_names(&server).await;
    assert_eq!(names, vec!["owner token".to_owned()], "nothing was saved");
}

#[tokio::test]
async fn the_page_enforces_the_apis_permission_rules() {
    let server = start().await;
    let reader = Browser::new_member(&server, "reader").await;
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
        .await
        .expect(403);
    reply.assert_field_error("scope");
    // Admin pages answer a reader with the API's 403, as a message, said
    // though the form it would stand beside is not shown to them.
    let members = reader.add_member("x@acme.test", "reader").await.expect(403);
    members.assert_shows("class=\"alert error\"");
    let list = server.owner_get("/api/v1/members").await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn static_assets_are_files_and_pages_have_no_inline_code() {
    let server = start().await;
    let css = fetch(&server, "/static/app.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/css"));
    let js = fetch(&server, "/static/app.js").await;
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
pub(crate) async fn token_named(server: &TestServer, name: &str) -> Value {
    let list = server.owner_get("/api/v1/tokens").await;
    list.items()
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no token {name}: {}", list.text))
}

#[tokio::test]
async fn edit_clone_and_the_rotation_rules_through_the_page() {
    let (server, browser, id) = owner_with_token_that_never_expires().await;

    // A token that never expires cannot be rotated: the spec's rule, as a
    // message next to the expiry.
    let rotate = browser
        .post(
            &format!("/tokens/{id}/rotate"),
            &[("expiry", "30"), ("grace", "0")],
        )
        .await
        .expect(422);
    let at = rotate.html.find("id=\"expires_at-error\"").expect("error");
    assert!(rotate.html[at..].contains("cannot be rotated"));

    // Rename and re-scope.
    browser
        .post(
            &format!("/tokens/{id}"),
            &[("name", "renamed"), ("scope", "role"), ("role", "reader")],
        )
        .await
        .expect(303);
    let token = token_named(&server, "renamed").await;
    assert_eq!(token["role"], "reader");

    // Clone: an empty name is refused next to the field; a name works.
    let bad = browser
        .post(&format!("/tokens/{id}/clone"), &[("name", "")])
        .await
        .expect(422);
    bad.assert_field_error("clone-name");
    let clone = browser
        .post(&format!("/tokens/{id}/clone"), &[("name", "the copy")])
        .await
        .expect(201);
    let value = shown_token(&clone.html);
    let me = server.get("/api/v1/me", &value).await.expect(200);
    assert_eq!(me.body["token"]["name"], "the copy");
    assert_eq!(me.body["token"]["role"], "reader");
}

#[tokio::test]
async fn admins_change_roles_within_the_rank_rules() {
    let (server, owner) = start_as_owner().await;
    let added = owner
        .post(
            "/admin/members",
            &[
                ("email", "ann@acme.test"),
                ("role", "admin"),
                ("password", "ann-password-1"),
            ],
        )
        .await
        .expect(200);
    assert!(added.html.contains("ann@acme.test was added"));
    let duplicate = owner
        .add_member("ann@acme.test", "reader")
        .await
        .expect(409);
    duplicate.assert_field_error("email");

    let members = server.owner_get("/api/v1/members").await;
    let ann = members
        .items()
        .iter()
        .find(|m| m["email"] == "ann@acme.test")
        .expect("ann")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // An admin may not make anyone an owner; the page says so and nothing changes.
    let admin = Browser::login(&server, "ann@acme.test", "ann-password-1").await;
    admin
        .post(&format!("/admin/members/{ann}"), &[("role", "owner")])
        .await
        .expect(403);
    let now = server.owner_get(&format!("/api/v1/members/{ann}")).await;
    assert_eq!(now.body["role"], "admin");
    // Looking at the owner, she sees the owner's real role and why she
    // cannot change it, not a form preset to a role the owner lacks.
    let owner_page = admin
        .get(&format!("/admin/members/{}", server.owner_id))
        .await
        .expect(200);
    owner_page.assert_shows("<dd>owner</dd>");
    assert!(owner_page
        .html
        .contains("cannot change or remove a member whose role is owner"));
    assert!(!owner_page
        .html
        .contains(&format!("action=\"/admin/members/{}\"", server.owner_id)));
    let list = admin.get("/admin/members").await;
    assert!(!list
        .html
        .contains(&format!("/admin/members/{}/remove", server.owner_id)));
    assert!(list.html.contains(&format!("/admin/members/{ann}/remove")));

    // The owner may downgrade her.
    owner
        .post(&format!("/admin/members/{ann}"), &[("role", "reader")])
        .await
        .expect(303);
    let now = server.owner_get(&format!("/api/v1/members/{ann}")).await;
    assert_eq!(now.body["role"], "reader");
}

/// What the forms below may change, as the API reports it (last-used
/// fields left out: the API calls that read this are uses too).
async fn snapshot(server: &TestServer, member: &str) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("last_used_at");
                map.remove("last_used_ip");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut all = json!({});
    for path in [
        "/api/v1/tokens".to_owned(),
        format!("/api/v1/members/{member}/tokens"),
        "/api/v1/members".into(),
        "/api/v1/roles".into(),
        "/api/v1/projects".into(),
        "/api/v1/org".into(),
    ] {
        let reply = server.owner_get(&path).await.expect(200);
        all[path] = reply.body;
    }
    strip(&mut all);
    all
}

/// A custom role `ops` (anything on projects) and a project `web`, for the
/// forms that offer custom roles and projects.
async fn add_ops_role_and_web_project(server: &TestServer) {
    server.add_role(json!({ "key": "ops", "policy": [{ "effect": "allow", "actions": ["*"], "resources": ["proj/*"] }] })).await;
    server.add_project(json!({ "key": "web" })).await;
}

/// Every kind of form on the page refuses a missing, wrong or other
/// session's CSRF token and changes nothing; the same forms with the
/// right token do what they say (so the refusals are about the token).
#[tokio::test]
async fn every_form_refuses_a_bad_csrf_token_and_changes_nothing() {
    let server = start().await;
    let (member, member_value) = server.member_with_token("dev@acme.test", "writer").await;
    let member_token = server.get("/api/v1/me", &member_value).await.body["token"]["id"]
        .as_str()
        .expect("member token id")
        .to_owned();
    let in_30_days = in_days(30);
    let (mine, mine_value, _) = server
        .owner_creates_token_with(json!({ "name": "mine", "expires_at": in_30_days }))
        .await;
    add_ops_role_and_web_project(&server).await;

    let policy = r#"[{"effect": "allow", "actions": ["flag:read"], "resources": ["proj/*"]}]"#;
    let member_back = format!("/admin/members/{member}");
    // In an order where each one can succeed in the second pass.
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/tokens".into(),
            vec![("name", "new one"), ("expiry", "30")],
        ),
        (
            format!("/tokens/{mine}"),
            vec![("name", "renamed"), ("scope", "role"), ("role", "reader")],
        ),
        (
            format!("/tokens/{mine}/rotate"),
            vec![("expiry", "7"), ("grace", "0")],
        ),
        (format!("/tokens/{mine}/clone"), vec![("name", "copy")]),
        (
            "/account/password".into(),
            vec![
                ("current_password", OWNER_PASSWORD),
                ("new_password", "another-password-1"),
                ("confirm_password", "another-password-1"),
            ],
        ),
        (
            "/admin/members".into(),
            vec![("email", "new@acme.test"), ("role", "reader")],
        ),
        (
            format!("/admin/members/{member}"),
            vec![("role", "reader"), ("custom_roles", "ops")],
        ),
        (
            "/admin/roles".into(),
            vec![("key", "auditor"), ("policy", policy)],
        ),
        (
            "/admin/roles/ops".into(),
            vec![("name", "Operators"), ("policy", policy)],
        ),
        ("/admin/projects".into(), vec![("key", "api")]),
        (
            "/admin/policy".into(),
            vec![("require_expiration", "on"), ("max_lifetime_days", "60")],
        ),
        (format!("/tokens/{mine}/delete"), vec![]),
        (
            format!("/tokens/{member_token}/delete"),
            vec![("back", member_back.as_str())],
        ),
        ("/admin/roles/auditor/delete".into(), vec![]),
        ("/admin/projects/api/delete".into(), vec![]),
        (format!("/admin/members/{member}/remove"), vec![]),
        ("/logout".into(), vec![]),
    ];

    let browser = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let other = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let before = snapshot(&server, &member).await;
    for (path, fields) in &forms {
        let bad_tokens = [None, Some(""), Some("forged"), Some(other.csrf.as_str())];
        for bad in bad_tokens {
            let mut sent = fields.clone();
            if let Some(csrf) = bad {
                sent.push(("csrf_token", csrf));
            }
            let reply = browser.post_raw(path, &sent).await;
            assert_eq!(reply.status, 403, "{path} with {bad:?}: {}", reply.html);
            assert!(reply.html.contains("nothing was changed"), "{path}");
        }
    }
    assert_eq!(snapshot(&server, &member).await, before, "nothing changed");
    server.get("/api/v1/me", &mine_value).await.expect(200);
    server.get("/api/v1/me", &member_value).await.expect(200);
    assert_eq!(browser.get("/tokens").await.status, 200, "still logged in");

    // The same forms with the session's token: each does its work.
    for (path, fields) in &forms {
        let reply = browser.post(path, fields).await;
        assert!(
            [200, 201, 303].contains(&reply.status),
            "{path}: {} {}",
            reply.status,
            reply.html
        );
    }
    server.get("/api/v1/me", &mine_value).await.expect(401);
    server.get("/api/v1/me", &member_value).await.expect(401);
    let org = server.owner_get("/api/v1/org").await;
    assert_eq!(org.body["token_policy"]["max_lifetime_days"], 60);
    assert_eq!(browser.get("/tokens").await.status, 303, "logged out");
}

/// The cells of one column (by its `data-label`) of a page's table.
fn column(html: &str, label: &str) -> Vec<String> {
    let marker = format!("data-label=\"{label}\"");
    html.split(&marker)
        .skip(1)
        .filter_map(|rest| {
            let start = rest.find('>')? + 1;
            let end = rest.find("</t")?;
            (start <= end).then(|| rest[start..end].to_owned())
        })
        .collect()
}

/// An admin sees a member's tokens (metadata only) and deletes one after
/// a confirmation naming it; they cannot edit, rotate or clone it, and a
/// member without the permission sees none of it.
#[tokio::test]
async fn admins_see_and_delete_a_members_tokens_but_never_their_values() {
    let server = start().await;
    let (member, value) = server.member_with_token("dev@acme.test", "writer").await;
    let me = server.get("/api/v1/me", &value).await.expect(200);
    let id = me.body["token"]["id"].as_str().expect("id").to_owned();
    let snippet = me.body["token"]["snippet"].as_str().expect("snippet");
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;

    let page = owner
        .get(&format!("/admin/members/{member}"))
        .await
        .expect(200);
    assert!(page.html.contains("their token"));
    assert!(page.html.contains(snippet));
    assert!(!page.html.contains(&value[value.len() - 20..]), "no value");
    let delete_link = format!("/tokens/{id}/delete?back=/admin/members/{member}");
    page.assert_shows(&delete_link);

    // Their token's page: metadata, but no forms that change or mint it.
    let detail = owner.get(&format!("/tokens/{id}")).await.expect(200);
    assert!(!detail.html.contains("/rotate\""));
    assert!(!detail.html.contains("/clone\""));
    assert!(
        detail.html.contains(&delete_link),
        "deleting leads back to their page"
    );
    owner
        .post(
            &format!("/tokens/{id}/rotate"),
            &[("expiry", "7"), ("grace", "0")],
        )
        .await
        .expect(403);
    owner
        .post(&format!("/tokens/{id}"), &[("name", "hijacked")])
        .await
        .expect(403);
    owner
        .post(&format!("/tokens/{id}/clone"), &[("name", "mine now")])
        .await
        .expect(403);
    server.get("/api/v1/me", &value).await.expect(200);

    // A fellow writer may not look.
    server.member_with_token("peer@acme.test", "writer").await;
    let peer = Browser::login(&server, "peer@acme.test", "member-password-1").await;
    // (Members may read who is in the org, not each other's tokens.)
    let theirs = peer.get(&format!("/admin/members/{member}")).await;
    theirs.assert_hides(snippet);
    assert!(!theirs.html.contains(&delete_link));
    assert_eq!(peer.get(&format!("/tokens/{id}")).await.status, 403);
    peer.post(&format!("/tokens/{id}/delete"), &[])
        .await
        .expect(403);
    server.get("/api/v1/me", &value).await.expect(200);

    let confirm = owner.get(&delete_link).await.expect(200);
    assert!(confirm.html.contains("Delete the token “their token”?"));
    assert!(
        confirm
            .html
            .contains(&format!("href=\"/admin/members/{member}\"")),
        "cancel goes back"
    );
    let deleted = owner
        .post(
            &format!("/tokens/{id}/delete"),
            &[("back", &format!("/admin/members/{member}"))],
        )
        .await
        .expect(303);
    assert_eq!(
        deleted.headers[LOCATION],
        format!("/admin/members/{member}?done=deleted").as_str()
    );
    server.get("/api/v1/me", &value).await.expect(401);
    let after = owner
        .get(&format!("/admin/members/{member}?done=deleted"))
        .await;
    assert!(!after.html.contains("their token"));
    // The back address is only ever a member page of this site.
    let (_, other) = server.member_with_token("third@acme.test", "reader").await;
    let other_id = server.get("/api/v1/me", &other).await.body["token"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let elsewhere = owner
        .post(
            &format!("/tokens/{other_id}/delete"),
            &[("back", "https://evil.example/")],
        )
        .await;
    assert_eq!(elsewhere.headers[LOCATION], "/tokens?done=deleted");
}

/// Custom roles are created and edited with their policy checked; an
/// admin gives members custom roles and takes them away.
#[tokio::test]
async fn custom_roles_are_edited_with_their_policy_checked() {
    let (server, owner) = start_as_owner().await;
    let allow = r#"[{"effect": "allow", "actions": ["flag:read"], "resources": ["proj/*"]}]"#;
    // (fields, id of the error element)
    let bad: [(Fields, &str); 3] = [
        (&[("key", "ops"), ("policy", "not json")], "policy-error"),
        (
            &[
                ("key", "ops"),
                ("policy", r#"[{"effect": "maybe", "actions": ["*"]}]"#),
            ],
            "policy-error",
        ),
        (&[("key", "Not A Key!"), ("policy", allow)], "key-error"),
    ];
    for (fields, error_id) in bad {
        let reply = owner.post("/admin/roles", fields).await;
        assert!(reply.status >= 400, "{fields:?}");
        assert!(
            reply.html.contains(&format!("id=\"{error_id}\"")),
            "{fields:?}: {}",
            reply.html
        );
    }
    let roles = server.owner_get("/api/v1/roles").await;
    assert_eq!(roles.body["items"], json!([]), "nothing saved");

    owner
        .post(
            "/admin/roles",
            &[("key", "ops"), ("name", "Ops"), ("policy", allow)],
        )
        .await
        .expect(303);
    let edit = owner.get("/admin/roles/ops").await;
    edit.assert_shows("flag:read");

    // Editing: a broken policy is refused next to it and nothing changes.
    let broken = owner
        .post("/admin/roles/ops", &[("name", "Ops"), ("policy", "[{")])
        .await
        .expect(422);
    broken.assert_field_error("policy");
    assert!(
        broken.html.contains("[{"),
        "the input is kept for correction"
    );
    let role = server.owner_get("/api/v1/roles/ops").await;
    assert_eq!(role.body["policy"][0]["actions"], json!(["flag:read"]));
    let new_policy = r#"[{"effect": "allow", "actions": ["flag:*"], "resources": ["proj/web:*"]}]"#;
    owner
        .post(
            "/admin/roles/ops",
            &[("name", "Operators"), ("policy", new_policy)],
        )
        .await
        .expect(303);
    let role = server.owner_get("/api/v1/roles/ops").await;
    assert_eq!(role.body["name"], "Operators");
    assert_eq!(role.body["policy"][0]["actions"], json!(["flag:*"]));

    // Members get it and lose it on their page.
    owner
        .post(
            "/admin/members",
            &[
                ("email", "ann@acme.test"),
                ("role", "reader"),
                ("custom_roles", "ops"),
            ],
        )
        .await
        .expect(200);
    let members = server.owner_get("/api/v1/members").await;
    let ann = members
        .items()
        .iter()
        .find(|m| m["email"] == "ann@acme.test")
        .cloned()
        .expect("ann");
    assert_eq!(ann["custom_roles"], json!(["ops"]));
    let ann_id = ann["id"].as_str().expect("id");
    let page = owner.get(&format!("/admin/members/{ann_id}")).await;
    assert!(page
        .html
        .contains("id=\"cr-ops\" name=\"custom_roles\" value=\"ops\" checked"));
    let unknown = owner
        .post(
            &format!("/admin/members/{ann_id}"),
            &[("role", "reader"), ("custom_roles", "ghost")],
        )
        .await
        .expect(422);
    unknown.assert_field_error("custom_roles");
    owner
        .post(&format!("/admin/members/{ann_id}"), &[("role", "writer")])
        .await
        .expect(303);
    let now = server.owner_get(&format!("/api/v1/members/{ann_id}")).await;
    assert_eq!(now.body["custom_roles"], json!([]));
    assert_eq!(now.body["role"], "writer");
}

/// The create form's choices: custom roles and projects, and expiry
/// presets and "Never" only as the org's policy allows (and the server
/// refusing what the form did not offer).
#[tokio::test]
async fn the_create_form_follows_the_orgs_roles_projects_and_policy() {
    let server = start().await;
    add_ops_role_and_web_project(&server).await;
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let form = owner.get("/tokens/new").await;
    for id in [
        "scope-inherit",
        "scope-role",
        "scope-custom",
        "scope-policy",
        "cr-ops",
        "pj-web",
        "exp-7",
        "exp-30",
        "exp-90",
        "exp-custom",
        "exp-none",
    ] {
        assert!(form.html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    owner
        .post(
            "/tokens",
            &[
                ("name", "ops bot"),
                ("scope", "custom"),
                ("custom_roles", "ops"),
                ("projects", "web"),
                ("expiry", "7"),
            ],
        )
        .await
        .expect(201);
    let token = token_named(&server, "ops bot").await;
    assert_eq!(token["custom_roles"], json!(["ops"]));
    assert_eq!(token["projects"], json!(["web"]));
    assert!(token["expires_at"].is_string());

    let cases: [(Fields, &str); 3] = [
        (
            &[("name", "x"), ("scope", "custom"), ("expiry", "7")],
            "custom_roles-error",
        ),
        (
            &[("name", "x"), ("projects", "ghost"), ("expiry", "7")],
            "projects-error",
        ),
        (
            &[
                ("name", "x"),
                ("expiry", "custom"),
                ("expires_on", "someday"),
            ],
            "expires_at-error",
        ),
    ];
    for (fields, error_id) in cases {
        let reply = owner.post("/tokens", fields).await;
        assert_eq!(reply.status, 422, "{fields:?}: {}", reply.html);
        assert!(
            reply.html.contains(&format!("id=\"{error_id}\"")),
            "{fields:?}: {}",
            reply.html
        );
    }

    // The org requires an expiry of at most 30 days.
    server
        .owner_patch(
            "/api/v1/org",
            json!({ "token_policy": { "require_expiration": true, "max_lifetime_days": 30 } }),
        )
        .await
        .expect(200);
    let form = owner.get("/tokens/new").await;
    assert!(form.html.contains("id=\"exp-30\""));
    assert!(!form.html.contains("id=\"exp-90\""));
    assert!(!form.html.contains("id=\"exp-none\""));
    assert!(form.html.contains("at most 30 days"), "the rule is stated");
    for expiry in ["none", "90"] {
        let reply = owner
            .post("/tokens", &[("name", "too long"), ("expiry", expiry)])
            .await;
        assert_eq!(reply.status, 422, "{expiry}: {}", reply.html);
        assert!(reply.html.contains("id=\"expires_at-error\""), "{expiry}");
    }
    let names = token_names(&server).await;
    assert_eq!(
        names.len(),
        2,
        "only the owner token and ops bot: {names:?}"
    );
}

/// The list is newest first.
#[tokio::test]
async fn my_tokens_are_listed_newest_first() {
    let (server, browser) = start_as_owner().await;
    for name in ["first", "second", "third"] {
        server.clock.advance(time::Duration::seconds(2));
        browser
            .post("/tokens", &[("name", name), ("expiry", "30")])
            .await
            .expect(201);
    }
    let list = browser.get("/tokens").await;
    let names: Vec<String> = column(&list.html, "Name")
        .iter()
        .map(|cell| {
            let start = cell.find('>').map_or(0, |i| i + 1);
            cell[start..].trim_end_matches("</a>").to_owned()
        })
        .collect();
    assert_eq!(names[..3], ["third", "second", "first"], "{names:?}");
}

/// The audit log reads as people say it: who by email (also once removed,
/// the id on hover), which token by name, the time to the second, the
/// action whole, the details as fields; and it offers the export.
#[tokio::test]
async fn the_audit_log_names_people_and_tokens_and_offers_the_export() {
    let server = start().await;
    let (gone, token) = server.member_with_token("gone@acme.test", "writer").await;
    server
        .create_token(&token, json!({ "name": "nightly" }))
        .await;
    server
        .owner_delete(&format!("/api/v1/members/{gone}"))
        .await
        .expect(204);
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;
    let page = owner.get("/admin/audit").await.expect(200);
    let actors = column(&page.html, "Actor");
    let removed = format!("<span title=\"{gone}\">gone@acme.test</span>");
    assert!(actors.iter().any(|a| a.starts_with(&removed)), "{actors:?}");
    assert!(
        actors
            .iter()
            .any(|a| a.contains("with token \u{201c}their token\u{201d}")),
        "{actors:?}"
    );
    let targets = column(&page.html, "Target");
    let nightly = "token \u{201c}nightly\u{201d} of gone@acme.test";
    assert!(targets.iter().any(|t| t.contains(nightly)), "{targets:?}");
    let times = column(&page.html, "Time");
    // To the second: "2026-12-07 09:02:34 UTC".
    let to_the_second = |t: &String| t.trim_start_matches("<time>").len() == 23;
    assert!(times.iter().all(to_the_second), "{times:?}");
    page.assert_shows("<dt>name</dt><dd>nightly</dd>")
        .assert_shows("<td data-label=\"Action\" class=\"nowrap\"><code>token:create</code>")
        .assert_shows("/api/v1/audit?format=csv&amp;")
        .assert_hides("{&quot;");
    // The export link works with the page's login.
    let csv = owner.get("/api/v1/audit?format=csv").await.expect(200);
    assert!(csv.html.starts_with("id,at,actor_member,"), "{}", csv.html);
}

/// The audit log page filters by actor, action and target, with the API's
/// own parameters; a filter it cannot read is a message, not a failure.
#[tokio::test]
async fn the_audit_log_filters_by_actor_action_and_target() {
    let server = start().await;
    let (ann, _) = server.member_with_token("ann@acme.test", "writer").await;
    server.add_project(json!({ "key": "web" })).await;
    let owner = Browser::login(&server, OWNER_EMAIL, OWNER_PASSWORD).await;

    let by_ann = owner
        .get(&format!("/admin/audit?actor={ann}"))
        .await
        .expect(200);
    let actors = column(&by_ann.html, "Actor");
    assert!(!actors.is_empty(), "{}", by_ann.html);
    assert!(
        actors.iter().all(|a| a.contains(">ann@acme.test</span>")),
        "{actors:?}"
    );
    assert!(by_ann
        .html
        .contains(&format!("<option value=\"{ann}\" selected")));

    let creates = owner.get("/admin/audit?action=token%3Acreate").await;
    let actions = column(&creates.html, "Action");
    assert!(actions.len() >= 2, "{actions:?}");
    assert!(
        actions.iter().all(|a| a == "<code>token:create</code>"),
        "{actions:?}"
    );

    let projects = owner.get("/admin/audit?target=proj%2F").await;
    let targets = column(&projects.html, "Target");
    assert_eq!(
        targets,
        ["<span title=\"proj/web\">proj/web</span>"],
        "{}",
        projects.html
    );

    let unreadable = owner
        .get("/admin/audit?before=not-a-cursor")
        .await
        .expect(400);
    assert!(unreadable.html.contains("role=\"alert\""));
    // A writer cannot read it.
    let writer = Browser::login(&server, "ann@acme.test", "member-password-1").await;
    let refused = writer.get("/admin/audit").await.expect(403);
    assert!(column(&refused.html, "Action").is_empty());
}
