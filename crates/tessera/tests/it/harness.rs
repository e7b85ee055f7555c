//! Starts a server in-process on a free port, with an org "acme" whose
//! owner has a token, and offers small HTTP helpers.

use std::future::pending;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tessera_server::{setup, Clock, Config, RunningServer};
use tokio::net::TcpListener;

pub const OWNER_EMAIL: &str = "owner@acme.test";
pub const OWNER_PASSWORD: &str = "owner-password-1";

pub struct TestServer {
    pub base: String,
    /// The database this server uses (SQLite file or PostgreSQL schema).
    pub database_url: String,
    pub owner_token: String,
    pub owner_id: String,
    pub clock: Clock,
    pub http: reqwest::Client,
    /// Holds the SQLite file (if any) until the server is dropped.
    _dir: TempDir,
    server: Option<RunningServer>,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The error code of a JSON error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The string `field` of the JSON body.
    #[track_caller]
    pub fn string(&self, field: &str) -> String {
        match self.body[field].as_str() {
            Some(value) => value.to_owned(),
            None => panic!("no string {field:?} in the body: {}", self.text),
        }
    }

    /// The `items` of a JSON list page.
    #[track_caller]
    pub fn items(&self) -> &[Value] {
        match self.body["items"].as_array() {
            Some(items) => items,
            None => panic!("no items in the body: {}", self.text),
        }
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a JSON error: the status, the error code, and a message.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let this = self.expect(status);
        assert_eq!(this.code(), code, "unexpected code; body: {}", this.text);
        assert!(
            this.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error without a message: {}",
            this.text
        );
        this
    }
}

/// `days` from now (negative: in the past), as the API writes times.
pub fn in_days(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::with_database_url(database_url(dir.path()).await);
    config.tokens.last_used_flush_seconds = 1;
    tweak(&mut config);
    let database_url = config.database.url.as_str().to_owned();
    let state = tessera_server::open(config).await.expect("open store");
    let created = setup::create_org(&state, "acme", OWNER_EMAIL, Some(OWNER_PASSWORD.into()))
        .await
        .expect("create org");
    let owner_token = setup::create_owner_token(&state, &created, "owner token")
        .await
        .expect("owner token");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let clock = state.clock.clone();
    let server = tessera_server::start(state, listener, pending()).expect("start");
    TestServer {
        base: format!("http://{}", server.addr),
        database_url,
        owner_token,
        owner_id: created.owner.id.to_string(),
        clock,
        http: reqwest::Client::new(),
        _dir: dir,
        server: Some(server),
    }
}

/// A new server and a token its owner created named `name` (with the
/// owner's role): the server, then the token's id, value and JSON body.
pub async fn start_with_owner_token(name: &str) -> (TestServer, String, String, Value) {
    let s = start().await;
    let (id, token, body) = s.owner_creates_token(name).await;
    (s, id, token, body)
}

/// A server whose header timeout is `seconds`, with the request timeout
/// at 30 s, far above it: what cuts a slow client off within the test's
/// time is the header timeout, not the request timeout.
pub async fn start_with_header_timeout(seconds: u64) -> TestServer {
    start_with(|c| {
        c.http.header_timeout_seconds = seconds;
        c.http.request_timeout_seconds = 30;
    })
    .await
}

/// Another node on an existing database: no org is created.
pub async fn start_node(database_url: &str) -> (String, RunningServer) {
    let mut config = Config::with_database_url(database_url);
    config.tokens.last_used_flush_seconds = 1;
    let state = tessera_server::open(config).await.expect("open store");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = tessera_server::start(state, listener, pending()).expect("start");
    (format!("http://{}", server.addr), server)
}

/// Starts the first node on `database_url`, with org "acme" and an owner.
pub async fn start_on(database_url: &str) -> TestServer {
    let url = database_url.to_owned();
    start_with(move |c| c.database.url = url.into()).await
}

/// The backend under test: SQLite by default; with
/// `TESSERA_TEST_BACKEND=postgres`, a fresh schema on the PostgreSQL
/// server at `TESSERA_TEST_POSTGRES_URL` (default: local `test` database).
pub async fn database_url(dir: &std::path::Path) -> String {
    if std::env::var("TESSERA_TEST_BACKEND").as_deref() != Ok("postgres") {
        return format!("sqlite://{}", dir.join("tessera.db").display());
    }
    postgres_schema().await
}

pub fn postgres_admin_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Creates an empty schema and returns a URL whose connections use it.
pub async fn postgres_schema() -> String {
    use sqlx::Connection;
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {admin}: {e}"));
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("random");
    let schema = format!(
        "it_{}",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let separator = if admin.contains('?') { '&' } else { '?' };
    format!("{admin}{separator}options=-c%20search_path%3D{schema}")
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `host:port`, to open raw TCP connections to the server.
    pub fn address(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// The running server's state, to call the library beside the HTTP API.
    pub fn state(&self) -> &tessera_server::AppState {
        &self.server.as_ref().expect("the server is running").state
    }

    /// Sends `body` (if any) as JSON with `Authorization: Bearer <token>`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// `GET path` as the owner (with the owner's token).
    pub async fn owner_get(&self, path: &str) -> Reply {
        self.get(path, &self.owner_token).await
    }

    /// `POST path` with `body`, as the owner.
    pub async fn owner_post(&self, path: &str, body: Value) -> Reply {
        self.post(path, &self.owner_token, body).await
    }

    /// `PATCH path` with `body`, as the owner.
    pub async fn owner_patch(&self, path: &str, body: Value) -> Reply {
        self.patch(path, &self.owner_token, body).await
    }

    /// `DELETE path` as the owner.
    pub async fn owner_delete(&self, path: &str) -> Reply {
        self.delete(path, &self.owner_token).await
    }

    /// Creates a token for the caller; returns (id, token string, body).
    pub async fn create_token(&self, caller: &str, body: Value) -> (String, String, Value) {
        let reply = self.post("/api/v1/tokens", caller, body).await.expect(201);
        let id = reply.string("id");
        let token = reply.string("token");
        (id, token, reply.body)
    }

    /// The owner creates a token as `body` asks; returns (id, token string,
    /// body).
    pub async fn owner_creates_token_with(&self, body: Value) -> (String, String, Value) {
        self.create_token(&self.owner_token, body).await
    }

    /// The owner creates a token with only a name; returns (id, token
    /// string, body).
    pub async fn owner_creates_token(&self, name: &str) -> (String, String, Value) {
        self.owner_creates_token_with(json!({ "name": name })).await
    }

    /// The owner creates a reader-scoped token; returns (id, token string,
    /// body).
    pub async fn owner_creates_reader_token(&self, name: &str) -> (String, String, Value) {
        let body = json!({ "name": name, "role": "reader" });
        self.owner_creates_token_with(body).await
    }

    /// The owner adds a member with `role` and `password`; returns the
    /// member's id.
    /// The owner asks for a token with `body` and is refused with
    /// `status` and the error `code`.
    pub async fn owner_cannot_create_token(&self, body: Value, status: u16, code: &str) -> Reply {
        self.owner_post("/api/v1/tokens", body)
            .await
            .expect_error(status, code)
    }

    /// `caller` rotates the token `id` (or `self`) with `body`; the
    /// answer (200) carries the new string in `token`.
    pub async fn rotate_token(&self, id: &str, caller: &str, body: Value) -> Reply {
        let path = format!("/api/v1/tokens/{id}/rotate");
        self.post(&path, caller, body).await.expect(200)
    }

    /// `caller` rotates the token `id` (or `self`) to a new string that
    /// expires in 60 days, keeping the old one valid for `grace_seconds`;
    /// returns the new string.
    pub async fn rotate_with_grace(&self, id: &str, caller: &str, grace_seconds: u64) -> String {
        let body = json!({ "expires_at": in_days(60), "grace_period_seconds": grace_seconds });
        self.rotate_token(id, caller, body).await.string("token")
    }

    /// The owner creates a token `name` that expires in `days` (only an
    /// expiring token may be rotated): (id, value, JSON body).
    pub async fn owner_creates_expiring_token(
        &self,
        name: &str,
        days: i64,
    ) -> (String, String, Value) {
        self.owner_creates_token_with(json!({ "name": name, "expires_at": in_days(days) }))
            .await
    }

    pub async fn add_member(&self, email: &str, role: &str, password: &str) -> String {
        let body = json!({ "email": email, "role": role, "password": password });
        let reply = self.owner_post("/api/v1/members", body).await.expect(201);
        reply.string("id")
    }

    /// The owner adds a custom role (`body`: its key, policy and maybe a
    /// name); the reply.
    pub async fn add_role(&self, body: Value) -> Reply {
        self.owner_post("/api/v1/roles", body).await.expect(201)
    }

    /// The owner adds a project (`body`: its key and maybe a name); the
    /// reply.
    pub async fn add_project(&self, body: Value) -> Reply {
        self.owner_post("/api/v1/projects", body).await.expect(201)
    }

    /// The owner changes member `id` (`changes`: a role, custom roles);
    /// the reply.
    pub async fn owner_updates_member(&self, id: &str, changes: Value) -> Reply {
        let path = format!("/api/v1/members/{id}");
        self.owner_patch(&path, changes).await.expect(200)
    }

    /// Logs in as `email` and creates a token named `name` with that
    /// session (as the member would on the page); returns the token string.
    pub async fn token_of(&self, email: &str, password: &str, name: &str) -> String {
        let cookie = self.login(email, password).await;
        let reply = self
            .call_with_cookie(
                Method::POST,
                "/api/v1/tokens",
                &cookie,
                Some(json!({ "name": name })),
            )
            .await
            .expect(201);
        reply.string("token")
    }

    /// Adds a member with `role` and gives back (member id, a token of theirs).
    pub async fn member_with_token(&self, email: &str, role: &str) -> (String, String) {
        let password = "member-password-1";
        let id = self.add_member(email, role, password).await;
        let token = self.token_of(email, password, "their token").await;
        (id, token)
    }

    /// `POST /session` with an email and password: the answer, whatever
    /// it is.
    pub async fn try_login(&self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({ "email": email, "password": password })),
        )
        .await
    }

    /// A wrong password for `email` and the same password for `unknown`
    /// (no such account) get the same 401 `invalid_credentials` body;
    /// returns both answers.
    pub async fn wrong_logins(&self, email: &str, unknown: &str, password: &str) -> (Reply, Reply) {
        let real = self
            .try_login(email, password)
            .await
            .expect_error(401, "invalid_credentials");
        let ghost = self
            .try_login(unknown, password)
            .await
            .expect_error(401, "invalid_credentials");
        assert_eq!(real.text, ghost.text);
        (real, ghost)
    }

    /// Logs in and returns the `Cookie` header value.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let reply = self.try_login(email, password).await.expect(200);
        let set_cookie = reply
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("set-cookie");
        set_cookie
            .split(';')
            .next()
            .expect("cookie pair")
            .to_owned()
    }

    pub async fn call_with_cookie(
        &self,
        method: Method,
        path: &str,
        cookie: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("cookie", cookie);
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request).await
    }

    /// `POST /verify` with `question` (no credential), which must answer
    /// 200.
    pub async fn verify(&self, question: Value) -> Reply {
        self.post("/api/v1/verify", "", question).await.expect(200)
    }

    /// `POST /verify`'s answer: may `token` do `action` on `resource`?
    pub async fn verify_allows(&self, token: &str, action: &str, resource: &str) -> bool {
        let reply = self
            .verify(json!({ "token": token, "action": action, "resource": resource }))
            .await;
        reply.body["allowed"] == true
    }

    /// `token` no longer authenticates (`GET /me` is a 401
    /// `invalid_token`); the answer.
    pub async fn assert_token_refused(&self, token: &str) -> Reply {
        self.get("/api/v1/me", token)
            .await
            .expect_error(401, "invalid_token")
    }

    /// The server still answers `GET /healthz` with 200.
    pub async fn assert_serving(&self) {
        self.call(Method::GET, "/healthz", None, None)
            .await
            .expect(200);
    }

    /// Stops the server gracefully (flushing last-used times).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// `name=value` of the response's first `Set-Cookie` for `name`.
pub fn set_cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The `value` attribute of the first HTML input marked by `marker` (a
/// page's hidden or read-only field).
pub fn field_value(html: &str, marker: &str) -> String {
    let at = html.find(marker).expect("field on the page");
    let rest = &html[at..];
    let start = rest.find("value=\"").expect("value") + 7;
    let end = rest[start..].find('"').expect("end of value");
    rest[start..start + end].to_owned()
}

/// The server at `base`'s `/metrics` text.
pub async fn metrics_of(http: &reqwest::Client, base: &str) -> String {
    let answer = http.get(format!("{base}/metrics")).send().await;
    answer.expect("metrics").text().await.expect("text")
}
