//! Secret hygiene: the whole acceptance flow against a real `tessera serve`
//! logging at TRACE, then a search of everything it leaves behind — its
//! stdout and stderr, the audit log, `/metrics` and the database files
//! (including SQLite's `-wal`) — for every token and password it saw.

use reqwest::{Client, Method};
use serde_json::{json, Value};

use crate::harness::{field_value, set_cookie_pair};
use crate::process::{init, ServeProcess};

const OWNER_EMAIL: &str = "owner@acme.test";
const OWNER_PASSWORD: &str = "Owner-Pass-Hygiene-1";
const MEMBER_PASSWORD: &str = "Member-Pass-Hygiene-2";
const NEW_PASSWORD: &str = "Owner-Pass-Hygiene-3";
const WRONG_PASSWORD: &str = "Wrong-Guess-Hygiene-4";
const WEB_PASSWORD: &str = "Web-Pass-Hygiene-5";
const WEB_WRONG_PASSWORD: &str = "Web-Wrong-Hygiene-6";

struct Api {
    http: Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> (u16, Value, String) {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        request = match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::ApiKey(token) => request.header("authorization", format!("ApiKey {token}")),
            Auth::Cookie(cookie) => request.header("cookie", cookie),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .to_owned();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, cookie)
    }

    /// `POST /session` as the owner, with `password`.
    async fn owner_login(&self, password: &str) -> (u16, Value, String) {
        let body = json!({"email": OWNER_EMAIL, "password": password});
        self.call(Method::POST, "/session", Auth::None, Some(body))
            .await
    }
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    ApiKey(&'a str),
    Cookie(&'a str),
}

fn token_of(body: &Value) -> String {
    body["token"].as_str().expect("token in answer").to_owned()
}

/// The flow; returns every secret it handled.
async fn acceptance_flow(api: &Api, owner_token: &str) -> Vec<String> {
    let mut secrets = vec![owner_token.to_owned()];
    let owner = Auth::Bearer(owner_token);
    // Log in (once wrongly), make a member with a password.
    let (status, _, _) = api.owner_login(WRONG_PASSWORD).await;
    assert_eq!(status, 401);
    let (status, session, cookie) = api.owner_login(OWNER_PASSWORD).await;
    assert_eq!(status, 200);
    secrets.push(cookie.trim_start_matches("tessera_session=").to_owned());
    secrets.push(session["csrf_token"].as_str().expect("csrf").to_owned());
    let (status, _, _) = api
        .call(
            Method::POST,
            "/members",
            owner,
            Some(json!({"email": "dev@acme.test", "role": "reader", "password": MEMBER_PASSWORD})),
        )
        .await;
    assert_eq!(status, 201);
    // Create, clone, rotate (with grace), update, use, verify, delete.
    let expires = "2099-01-01T00:00:00Z";
    let (status, created, _) = api
        .call(
            Method::POST,
            "/tokens",
            Auth::Cookie(&cookie),
            Some(json!({"name": "ci", "expires_at": expires})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let first = token_of(&created);
    let id = created["id"].as_str().expect("id").to_owned();
    let (status, cloned, _) = api
        .call(
            Method::POST,
            &format!("/tokens/{id}/clone"),
            owner,
            Some(json!({"name": "ci copy"})),
        )
        .await;
    assert_eq!(status, 201, "{cloned}");
    let copy = token_of(&cloned);
    let (status, rotated, _) = api
        .call(
            Method::POST,
            &format!("/tokens/{id}/rotate"),
            Auth::Bearer(&first),
            Some(json!({"expires_at": expires, "grace_period_seconds": 600})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let second = token_of(&rotated);
    api.call(
        Method::PATCH,
        &format!("/tokens/{id}"),
        Auth::ApiKey(&second),
        Some(json!({"name": "ci renamed"})),
    )
    .await;
    api.call(Method::GET, "/me", Auth::ApiKey(&copy), None)
        .await;
    for token in [&first, &second, &copy] {
        let (status, verified, _) = api
            .call(
                Method::POST,
                "/verify",
                Auth::None,
                Some(json!({"token": token, "action": "token:read", "resource": "token/x"})),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(verified["valid"], true, "{verified}");
        // Forward-auth with the token in a header.
        let reply = api
            .http
            .get(format!("{}/api/v1/auth", api.base))
            .bearer_auth(token)
            .header("x-tessera-action", "token:read")
            .header("x-tessera-resource", "token/x")
            .send()
            .await
            .expect("auth");
        assert!(reply.status().is_success() || reply.status() == 403);
    }
    let cloned_id = cloned["id"].as_str().expect("id");
    let (status, _, _) = api
        .call(Method::DELETE, &format!("/tokens/{cloned_id}"), owner, None)
        .await;
    assert_eq!(status, 204);
    // A revoked token, a malformed one and a leak report (with the token in
    // a URL too).
    api.call(Method::GET, "/me", Auth::Bearer(&copy), None)
        .await;
    api.call(Method::GET, &format!("/tokens/{second}"), owner, None)
        .await;
    let (status, leak, _) = api
        .call(
            Method::POST,
            "/leaks",
            Auth::None,
            Some(json!({"tokens": [second], "url": format!("https://paste.example/{second}")})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(leak["revoked"], 1, "{leak}");
    secrets.extend([first, second, copy]);
    // Change the password, log in with the new one.
    let csrf = session["csrf_token"].as_str().expect("csrf");
    let reply = api
        .http
        .put(format!("{}/api/v1/me/password", api.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({"current_password": OWNER_PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), 204);
    let (status, _, _) = api.owner_login(NEW_PASSWORD).await;
    assert_eq!(status, 200);
    secrets.extend(
        [
            OWNER_PASSWORD,
            MEMBER_PASSWORD,
            NEW_PASSWORD,
            WRONG_PASSWORD,
        ]
        .map(str::to_owned),
    );
    secrets
}

/// The 32-character secret part of a token (after prefix, `_` and id).
fn secret_part(token: &str) -> Option<&str> {
    token
        .get(4 + 27..4 + 27 + 32)
        .filter(|_| token.starts_with("tsr_"))
}

fn assert_absent(place: &str, haystack: &[u8], secrets: &[String]) {
    for secret in secrets {
        let needles = std::iter::once(secret.as_str()).chain(secret_part(secret));
        for needle in needles {
            let found = haystack
                .windows(needle.len())
                .position(|w| w == needle.as_bytes());
            if let Some(at) = found {
                // Show where, with the secret itself masked.
                let from = at.saturating_sub(200);
                let to = (at + needle.len() + 100).min(haystack.len());
                let context =
                    String::from_utf8_lossy(&haystack[from..to]).replace(needle, "<SECRET>");
                panic!("a secret appears in {place}: …{context}…");
            }
        }
    }
}

#[tokio::test]
async fn no_token_or_password_reaches_logs_audit_metrics_or_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = crate::harness::database_url(dir.path()).await;
    let owner_token = init(dir.path(), &database_url, OWNER_EMAIL, OWNER_PASSWORD);
    let mut server = ServeProcess::start(
        dir.path(),
        &database_url,
        "serve",
        &[("TESSERA_LOG", "trace"), ("RUST_LOG", "trace")],
    )
    .await;
    let api = Api {
        http: Client::new(),
        base: server.base.clone(),
    };
    let mut secrets = acceptance_flow(&api, &owner_token).await;
    secrets.extend(web_flow(&api, &owner_token).await);

    // The audit log, every page.
    let new_owner = init_token_after_password_change(&api).await;
    let mut audit = String::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(cursor) => format!("/audit?limit=500&before={cursor}"),
            None => "/audit?limit=500".to_owned(),
        };
        let (status, page, _) = api
            .call(Method::GET, &path, Auth::Bearer(&new_owner), None)
            .await;
        assert_eq!(status, 200, "{page}");
        audit.push_str(&page.to_string());
        match page["next_cursor"].as_str() {
            Some(cursor) => before = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert!(
        audit.contains("token:rotate") && audit.contains("session:login_failed"),
        "{audit}"
    );
    assert_absent("the audit log", audit.as_bytes(), &secrets);
    let metrics = crate::harness::metrics_of(&api.http, &api.base).await;
    assert_absent("/metrics", metrics.as_bytes(), &secrets);

    // The database files while running (WAL not yet checkpointed), then
    // after a graceful stop.
    let db_files = || {
        std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("tessera.db"))
            .map(|e| (e.path(), std::fs::read(e.path()).expect("read db file")))
            .collect::<Vec<_>>()
    };
    for (path, bytes) in db_files() {
        assert_absent(&path.display().to_string(), &bytes, &secrets);
    }
    server.terminate();
    for (path, bytes) in db_files() {
        assert_absent(&path.display().to_string(), &bytes, &secrets);
    }
    if database_url.starts_with("sqlite") {
        assert!(!db_files().is_empty(), "no database files found to search");
    } else {
        postgres_dump_is_clean(&database_url, &secrets).await;
    }

    // The logs: at TRACE they must be busy, and clean.
    let logs = server.log_text();
    assert!(
        logs.contains("DEBUG") && logs.contains("tower_http") && logs.lines().count() > 50,
        "expected trace logging, got:\n{logs:.2000}"
    );
    assert_absent("the server's logs", logs.as_bytes(), &secrets);
}

/// The web page's flow: a form login (once wrongly), then a token
/// created, rotated and cloned through the forms, each value read off the
/// page that shows it once. Returns every secret it saw.
async fn web_flow(api: &Api, owner_token: &str) -> Vec<String> {
    let (status, _, _) = api
        .call(
            Method::POST,
            "/members",
            Auth::Bearer(owner_token),
            Some(json!({"email": "web@acme.test", "role": "writer", "password": WEB_PASSWORD})),
        )
        .await;
    assert_eq!(status, 201);
    let mut secrets = vec![WEB_PASSWORD.to_owned(), WEB_WRONG_PASSWORD.to_owned()];
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = |path: &str| format!("{}{path}", api.base);
    let login_page = http.get(url("/login")).send().await.expect("login page");
    let login_cookie = set_cookie_pair(&login_page, "tessera_login_csrf").expect("login csrf");
    let login_csrf = login_cookie.split_once('=').expect("pair").1.to_owned();
    let login = |password: &'static str| {
        http.post(url("/login"))
            .header("cookie", &login_cookie)
            .form(&[
                ("email", "web@acme.test"),
                ("password", password),
                ("csrf_token", &login_csrf),
            ])
            .send()
    };
    assert_eq!(
        login(WEB_WRONG_PASSWORD).await.expect("login").status(),
        401
    );
    let logged_in = login(WEB_PASSWORD).await.expect("login");
    assert_eq!(logged_in.status(), 303);
    let session = set_cookie_pair(&logged_in, "tessera_session").expect("session cookie");
    secrets.push(session.split_once('=').expect("pair").1.to_owned());

    let page = |path: &str| http.get(url(path)).header("cookie", &session).send();
    let tokens_page = page("/tokens")
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let csrf = field_value(&tokens_page, "name=\"csrf_token\"");
    secrets.push(csrf.clone());
    let post = |path: String, fields: Vec<(&'static str, &'static str)>| {
        let mut form: Vec<(&str, &str)> = fields;
        form.push(("csrf_token", &csrf));
        http.post(url(&path))
            .header("cookie", &session)
            .form(&form)
            .send()
    };
    let shown = |html: &str| field_value(html, "id=\"token-value\"");

    let created = post(
        "/tokens".into(),
        vec![("name", "web hygiene"), ("expiry", "30")],
    )
    .await
    .expect("create");
    assert_eq!(created.status(), 201);
    secrets.push(shown(&created.text().await.expect("html")));
    let (status, mine, _) = api
        .call(Method::GET, "/tokens", Auth::Cookie(&session), None)
        .await;
    assert_eq!(status, 200, "{mine}");
    let id = mine["items"][0]["id"].as_str().expect("id").to_owned();
    let rotated = post(
        format!("/tokens/{id}/rotate"),
        vec![("expiry", "30"), ("grace", "0")],
    )
    .await
    .expect("rotate");
    assert_eq!(rotated.status(), 200, "a rotation creates nothing new");
    secrets.push(shown(&rotated.text().await.expect("html")));
    let cloned = post(format!("/tokens/{id}/clone"), vec![("name", "web copy")])
        .await
        .expect("clone");
    assert_eq!(cloned.status(), 201);
    secrets.push(shown(&cloned.text().await.expect("html")));
    assert!(secrets.iter().all(|s| !s.is_empty()));
    secrets
}

/// A fresh owner token, made through the new login (the old owner token
/// is still valid; this also exercises the new password end to end).
async fn init_token_after_password_change(api: &Api) -> String {
    let (_, _, cookie) = api.owner_login(NEW_PASSWORD).await;
    let (status, body, _) = api
        .call(
            Method::POST,
            "/tokens",
            Auth::Cookie(&cookie),
            Some(json!({"name": "auditor"})),
        )
        .await;
    assert_eq!(status, 201);
    token_of(&body)
}

/// On PostgreSQL, every row of every table, as text.
async fn postgres_dump_is_clean(database_url: &str, secrets: &[String]) {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .expect("connect");
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables")
    .iter()
    .map(|r| r.get(0))
    .collect();
    assert!(!tables.is_empty());
    for table in tables {
        let rows = sqlx::query(&format!("SELECT row_to_json(t)::text FROM \"{table}\" t"))
            .fetch_all(&mut conn)
            .await
            .expect("rows");
        let text: String = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        assert_absent(&format!("table {table}"), text.as_bytes(), secrets);
    }
}
