//! `tessera backup` and `tessera migrate` through the real binary, on a
//! deployment that `tessera serve` (also the real binary) is serving:
//! a backup taken under write load is a sound database that serves the
//! tokens it holds, and a migration to PostgreSQL carries every table, so
//! tokens keep working there with their last use and the audit log.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, SqliteConnection};

use super::cli::text;
use super::harness::postgres_schema;
use super::process::{init, tessera, ServeProcess};

const EMAIL: &str = "ops@acme.test";
const PASSWORD: &str = "ops-password-1";

/// `tessera ARGS` against `database_url`, run off the async runtime so the
/// server's clients keep going meanwhile.
async fn run_tessera(dir: &Path, database_url: &str, args: &[&str]) -> Output {
    let mut cmd = tessera(dir, database_url);
    cmd.args(args);
    tokio::task::spawn_blocking(move || cmd.output().expect("run tessera"))
        .await
        .expect("join")
}

/// `tessera ARGS` failed with exit status 1 and said `what` on stderr.
#[track_caller]
fn assert_refused(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(what),
        "{stderr}"
    );
}

/// One API call with a bearer token: the status and the JSON body.
async fn api(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The owner creates a token with `body`: its id and value.
async fn create_token(
    http: &reqwest::Client,
    base: &str,
    owner: &str,
    body: Value,
) -> (String, String) {
    let (status, reply) = api(
        http,
        reqwest::Method::POST,
        format!("{base}/api/v1/tokens"),
        owner,
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    (
        reply["id"].as_str().expect("id").to_owned(),
        reply["token"].as_str().expect("token").to_owned(),
    )
}

/// `GET path` on the server at `base` with `token`, which must answer
/// 200: the JSON body.
async fn get_json(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    let url = format!("{base}{path}");
    let (status, body) = api(http, reqwest::Method::GET, url, token, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// `token` authenticates on the server at `base`.
async fn assert_token_works(http: &reqwest::Client, base: &str, token: &str) {
    get_json(http, base, token, "/api/v1/me").await;
}

/// The tables of the SQLite file at `path` (not SQLite's or sqlx's own)
/// and their row counts.
/// A token inside an expiry window (for `token_expiry_notices`) and one
/// revoked as leaked (an email in `email_outbox`).
async fn notices(http: &reqwest::Client, base: &str, owner: &str) {
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::days(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for body in [
        json!({ "name": "expiring soon", "expires_at": soon }),
        json!({ "name": "to be leaked" }),
    ] {
        let reply = http
            .post(format!("{base}/api/v1/tokens"))
            .bearer_auth(owner)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        let created: Value = reply.json().await.unwrap();
        if body["name"] == "to be leaked" {
            let leaked = http
                .post(format!("{base}/api/v1/leaks"))
                .json(&json!({ "tokens": [created["token"]] }))
                .send()
                .await
                .unwrap();
            assert_eq!(leaked.status(), 200);
        }
    }
}

async fn sqlite_counts(path: &Path) -> Vec<(String, i64)> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("open sqlite");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut counts = Vec::new();
    for table in tables {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .fetch_one(&mut conn)
            .await
            .expect("count");
        counts.push((table, rows));
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_is_sound_and_serves_its_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = format!("sqlite://{}", dir.path().join("live.db").display());
    let owner = init(dir.path(), &live, EMAIL, PASSWORD);
    let server = ServeProcess::start(dir.path(), &live, "live", &[]).await;
    let http = reqwest::Client::new();
    let (_, before) = create_token(
        &http,
        &server.base,
        &owner,
        json!({ "name": "made before the backup" }),
    )
    .await;

    // Writers: tokens created through the API for as long as the backup
    // runs, each one its own transaction with its audit event.
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, created) = (stop.clone(), created.clone());
        let (http, base, owner) = (http.clone(), server.base.clone(), owner.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = created.load(Ordering::Relaxed);
                create_token(&http, &base, &owner, json!({ "name": format!("load {n}") })).await;
                created.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while created.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let copy = dir.path().join("backup.db");
    let out = run_tessera(dir.path(), &live, &["backup", "backup.db"]).await;
    let during = created.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.expect("the writers never failed");
    assert!(out.status.success(), "backup failed: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("backup.db"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        created.load(Ordering::Relaxed) > during,
        "the writers stopped during the backup"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy)
            .expect("backup file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the backup holds password hashes");
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&copy)
        .read_only(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("the backup opens");
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity_check");
    assert_eq!(check, "ok");
    let tokens: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    // The owner's token from init, the one made before, and 20 or more
    // of the load's, all committed before the backup began.
    assert!(tokens >= 22, "{tokens} tokens in the backup");
    conn.close().await.expect("close");

    // Never over an existing file.
    let again = run_tessera(dir.path(), &live, &["backup", "backup.db"]).await;
    assert_refused(&again, "already exists");

    // The copy is a deployment of its own: a server on it knows the token.
    let restored_url = format!("sqlite://{}", copy.display());
    let restored = ServeProcess::start(dir.path(), &restored_url, "restored", &[]).await;
    assert_token_works(&http, &restored.base, &before).await;
}

/// A serving node copies SQLite's write-ahead log into the database file
/// within seconds (its connections never do): the file alone, copied
/// without its log, holds a token made through the API.
#[tokio::test]
async fn the_server_keeps_the_database_file_current() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("live.db");
    let live = format!("sqlite://{}", file.display());
    let owner = init(dir.path(), &live, EMAIL, PASSWORD);
    let server = ServeProcess::start(dir.path(), &live, "live", &[]).await;
    let http = reqwest::Client::new();
    let (id, _) = create_token(&http, &server.base, &owner, json!({ "name": "ci" })).await;
    let copy = dir.path().join("file-alone.db");
    let mut found = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::fs::copy(&file, &copy).expect("copy the database file");
        let mut conn = SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
            .await
            .expect("open the copy");
        // A copy taken during a checkpoint may be torn: look again.
        let n: Result<i64, _> = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut conn)
            .await;
        conn.close().await.expect("close");
        std::fs::remove_file(&copy).expect("remove the copy");
        if n.is_ok_and(|n| n == 1) {
            found = true;
            break;
        }
    }
    assert!(found, "the token never reached the database file itself");
}

#[tokio::test]
async fn backup_refuses_postgresql_and_says_to_use_pg_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = "postgres://tessera@127.0.0.1:1/tessera";
    let out = run_tessera(dir.path(), url, &["backup", "copy.db"]).await;
    assert_refused(&out, "pg_dump");
    assert!(!dir.path().join("copy.db").exists());
}

/// Fills every table of a SQLite deployment through the API: a custom role
/// held by a member and by a token, a project, a session, the login
/// form's key, last use and the audit log. Returns the token that has been
/// used, its id, and the token holding the custom role.
async fn populate(http: &reqwest::Client, base: &str, owner: &str) -> (String, String, String) {
    use reqwest::Method;
    let policy = json!([{ "effect": "allow", "actions": ["token:read"], "resources": ["*"] }]);
    let member =
        json!({ "email": "dev@acme.test", "role": "reader", "password": "dev-password-1" });
    let mut member_id = String::new();
    let steps = [
        (
            Method::POST,
            "/roles",
            json!({ "key": "auditor", "policy": policy }),
            201,
        ),
        (Method::POST, "/projects", json!({ "key": "web" }), 201),
        (Method::POST, "/members", member, 201),
        (
            Method::PATCH,
            "/members/",
            json!({ "custom_roles": ["auditor"] }),
            200,
        ),
    ];
    for (method, path, body, expected) in steps {
        // The PATCH goes to the member the step before created.
        let url = format!("{base}/api/v1{path}{member_id}");
        let (status, reply) = api(http, method, url, owner, Some(body)).await;
        assert_eq!(status, expected, "{path}: {reply}");
        member_id = reply["id"].as_str().unwrap_or_default().to_owned();
    }
    // A webhook endpoint (to a closed port: its deliveries stay pending),
    // so that the changes below leave events and deliveries to copy.
    let hook = json!({ "url": "http://127.0.0.1:9/hook", "events": ["*"] });
    let url = format!("{base}/api/v1/webhooks");
    let (status, reply) = api(http, Method::POST, url, owner, Some(hook)).await;
    assert_eq!(status, 201, "{reply}");
    // A service account with a custom role, and a token of it.
    let account = json!({ "name": "ci", "role": "reader", "custom_roles": ["auditor"] });
    let url = format!("{base}/api/v1/service-accounts");
    let (status, reply) = api(http, Method::POST, url, owner, Some(account)).await;
    assert_eq!(status, 201, "{reply}");
    let url = format!(
        "{base}/api/v1/service-accounts/{}/tokens",
        reply["id"].as_str().unwrap_or_default()
    );
    let (status, reply) = api(
        http,
        Method::POST,
        url,
        owner,
        Some(json!({ "name": "ci" })),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    // Single sign-on settings, with an allowed domain.
    let sso = json!({ "sso": { "allowed_domains": ["acme.test"] } });
    let (status, reply) = api(
        http,
        Method::PATCH,
        format!("{base}/api/v1/org"),
        owner,
        Some(sso),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let custom = json!({ "name": "auditing", "custom_roles": ["auditor"] });
    let (_, custom) = create_token(http, base, owner, custom).await;
    let used = json!({ "name": "used", "projects": ["web"] });
    let (used_id, used) = create_token(http, base, owner, used).await;
    assert_token_works(http, base, &used).await;
    let login = json!({ "email": EMAIL, "password": PASSWORD });
    let session = http.post(format!("{base}/api/v1/session")).json(&login);
    assert_eq!(session.send().await.expect("login").status().as_u16(), 200);
    let login_page = http.get(format!("{base}/login")).send().await;
    assert_eq!(login_page.expect("login page").status().as_u16(), 200);
    (used, used_id, custom)
}

/// The table's count in `migrate`'s output (a line `TABLE  COUNT`).
fn printed_count(stdout: &str, table: &str) -> Option<i64> {
    stdout.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(table)).then(|| words.next()?.parse().ok())?
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_to_postgres_copies_every_table_and_tokens_keep_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("live.db");
    let sqlite = format!("sqlite://{}", file.display());
    let owner = init(dir.path(), &sqlite, EMAIL, PASSWORD);
    // Email on (to a port nobody answers: the emails stay in the outbox).
    let flush = [
        ("TESSERA_LAST_USED_FLUSH_SECONDS", "1"),
        ("TESSERA_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("TESSERA_SMTP_URL", "smtp://127.0.0.1:1"),
        ("TESSERA_SMTP_FROM", "tessera@acme.test"),
    ];
    let mut server = ServeProcess::start(dir.path(), &sqlite, "sqlite", &flush).await;
    let http = reqwest::Client::new();
    let (used, used_id, custom) = populate(&http, &server.base, &owner).await;
    // The platform API's tables: a key (made beside the running server), a
    // member by external id, a login link, and their audit events.
    let made = run_tessera(
        dir.path(),
        &sqlite,
        &["platform-key", "create", "--name", "b"],
    )
    .await;
    let key = text(&made.stdout).trim().to_owned();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let platform = format!("{}/api/v1/platform/orgs/acme/members/u1", server.base);
    let member = json!({ "email": "u1@acme.test", "role": "reader" });
    let (status, reply) = api(
        &http,
        reqwest::Method::PUT,
        platform.clone(),
        &key,
        Some(member),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let link = format!("{platform}/login-links");
    let (status, reply) = api(&http, reqwest::Method::POST, link, &key, Some(json!({}))).await;
    assert_eq!(status, 201, "{reply}");
    notices(&http, &server.base, &owner).await;
    // A node checks expiry as it starts: restart it to record the notice.
    server.terminate();
    let mut server = ServeProcess::start(dir.path(), &sqlite, "sqlite-again", &flush).await;
    for _ in 0..100 {
        let counts = sqlite_counts(&file).await;
        if counts
            .iter()
            .any(|(t, n)| t == "token_expiry_notices" && *n > 0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Last use reaches the database within a flush.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let token_path = format!("/api/v1/tokens/{used_id}");
    let token_before = get_json(&http, &server.base, &owner, &token_path).await;
    assert!(token_before["last_used_at"].is_string(), "{token_before}");
    let audit_before = get_json(&http, &server.base, &owner, "/api/v1/audit?limit=100").await;
    server.terminate();

    let counts = sqlite_counts(&file).await;
    // A sign-in under way needs an OpenID provider to start; its table is
    // copied like every other (the copy is generic).
    for (table, rows) in counts.iter().filter(|(t, _)| t.as_str() != "sso_flows") {
        assert!(
            *rows > 0,
            "the test left table {table} empty, so it does not show it is copied"
        );
    }

    let postgres = postgres_schema().await;
    let out = run_tessera(dir.path(), &sqlite, &["migrate", "--to", &postgres]).await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "migrate failed: {}{stdout}",
        text(&out.stderr)
    );
    let mut pg = sqlx::PgConnection::connect(&postgres)
        .await
        .expect("postgres");
    for (table, rows) in &counts {
        assert_eq!(
            printed_count(&stdout, table),
            Some(*rows),
            "{table} in:\n{stdout}"
        );
        let landed: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .fetch_one(&mut pg)
            .await
            .expect("count");
        assert_eq!(landed, *rows, "table {table}");
    }
    pg.close().await.expect("close");

    // A server on PostgreSQL: the same tokens, last use and audit log.
    let moved = ServeProcess::start(dir.path(), &postgres, "postgres", &[]).await;
    let token_after = get_json(&http, &moved.base, &owner, &token_path).await;
    assert_eq!(token_after, token_before);
    let audit_after = get_json(&http, &moved.base, &owner, "/api/v1/audit?limit=100").await;
    assert_eq!(audit_after, audit_before);
    assert_token_works(&http, &moved.base, &used).await;
    assert_token_works(&http, &moved.base, &custom).await;
    drop(moved);

    // Into a database that is no longer empty: refused, nothing written.
    let again = run_tessera(dir.path(), &sqlite, &["migrate", "--to", &postgres]).await;
    assert_refused(&again, "not empty");
}

#[tokio::test]
async fn migrate_refuses_another_applications_database_and_a_non_postgres_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite://{}", dir.path().join("live.db").display());
    init(dir.path(), &sqlite, EMAIL, PASSWORD);
    let postgres = postgres_schema().await;
    let mut pg = sqlx::PgConnection::connect(&postgres)
        .await
        .expect("postgres");
    sqlx::query("CREATE TABLE invoices (id BIGINT)")
        .execute(&mut pg)
        .await
        .expect("create table");
    let out = run_tessera(dir.path(), &sqlite, &["migrate", "--to", &postgres]).await;
    assert_refused(&out, "invoices");
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(&mut pg)
    .await
    .expect("tables");
    assert_eq!(
        tables, 1,
        "migrate created tables beside another application's"
    );
    pg.close().await.expect("close");

    let elsewhere = format!("sqlite://{}", dir.path().join("other.db").display());
    let out = run_tessera(dir.path(), &sqlite, &["migrate", "--to", &elsewhere]).await;
    assert_refused(&out, "PostgreSQL URL");
    assert!(!dir.path().join("other.db").exists());

    // A SQLite database an older tessera left (its last migration not yet
    // applied) is refused, and left as it was: it is the way back, and
    // its server may still be that older version.
    let file = dir.path().join("live.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&file);
    let mut older = SqliteConnection::connect_with(&options)
        .await
        .expect("open");
    let forget = "DELETE FROM _sqlx_migrations \
                  WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)";
    sqlx::query(forget)
        .execute(&mut older)
        .await
        .expect("forget");
    let applied = "SELECT COUNT(*) FROM _sqlx_migrations";
    let before: i64 = sqlx::query_scalar(applied)
        .fetch_one(&mut older)
        .await
        .expect("count");
    older.close().await.expect("close");
    let out = run_tessera(
        dir.path(),
        &sqlite,
        &["migrate", "--to", &postgres_schema().await],
    )
    .await;
    assert_refused(&out, "run this version's `tessera serve` on it once");
    let mut older = SqliteConnection::connect_with(&options)
        .await
        .expect("open");
    let after: i64 = sqlx::query_scalar(applied)
        .fetch_one(&mut older)
        .await
        .expect("count");
    assert_eq!(after, before, "migrate migrated its source");
}
