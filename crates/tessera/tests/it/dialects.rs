//! `/auth` in the dialects of Traefik and Caddy (`X-Forwarded-Method`,
//! `X-Forwarded-Uri`), ingress-nginx (`X-Original-Method`,
//! `X-Original-URL`) and Envoy (`/auth/envoy/<path>`), mapped by the
//! `[[forward_auth.rules]]` of docs/forward-auth.md, and what a client
//! that adds its own headers can and cannot do. (The Caddy test in
//! forward_auth.rs runs the same rules behind a real Caddy.)

use reqwest::Method;

use crate::harness::{send, start_with, Reply, TestServer};

const DOC: &str = include_str!("../../../../docs/forward-auth.md");

/// The rules of docs/forward-auth.md, loaded as `serve` loads a file.
pub(crate) fn documented_rules_file(dir: &std::path::Path) -> std::path::PathBuf {
    let start = DOC.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + DOC[start..].find("```").expect("closed block");
    let path = dir.join("rules.toml");
    std::fs::write(&path, &DOC[start..end]).expect("write rules");
    path
}

async fn start_with_documented_rules() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = documented_rules_file(dir.path());
    let (loaded, warnings) =
        tessera_server::Config::load(Some(&file), &Default::default()).expect("rules load");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(loaded.forward_auth.rules.len(), 3);
    start_with(move |c| c.forward_auth = loaded.forward_auth).await
}

/// `method` on `path` with `token` and extra headers.
async fn ask(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = s
        .http
        .request(method, format!("{}{path}", s.base))
        .bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request).await
}

async fn traefik(s: &TestServer, token: &str, method: &str, uri: &str) -> Reply {
    let headers = [("X-Forwarded-Method", method), ("X-Forwarded-Uri", uri)];
    ask(s, Method::GET, "/api/v1/auth", token, &headers).await
}

async fn ingress(s: &TestServer, token: &str, method: &str, url: &str) -> Reply {
    let headers = [("X-Original-Method", method), ("X-Original-URL", url)];
    ask(s, Method::GET, "/api/v1/auth", token, &headers).await
}

async fn envoy(s: &TestServer, token: &str, method: Method, path: &str) -> Reply {
    ask(s, method, &format!("/api/v1/auth/envoy{path}"), token, &[]).await
}

#[tokio::test]
async fn each_dialect_is_mapped_by_the_first_matching_rule() {
    let s = start_with_documented_rules().await;
    let (_, reader, _) = s.owner_creates_reader_token("reader").await;
    let owner = s.owner_token.clone();

    // A reader may read flags (GET: flag:read), not change them
    // (PUT: flag:update), whichever dialect asks.
    let read = "/projects/web/flags/dark-mode?variant=b";
    for reply in [
        traefik(&s, &reader, "GET", read).await,
        ingress(
            &s,
            &reader,
            "GET",
            &format!("https://app.example.com{read}"),
        )
        .await,
        envoy(&s, &reader, Method::GET, read).await,
    ] {
        let reply = reply.expect(200);
        assert_eq!(reply.headers["x-tessera-org"], "acme");
    }
    for reply in [
        traefik(&s, &reader, "PUT", read).await,
        ingress(&s, &reader, "put", &format!("http://app{read}")).await,
        envoy(&s, &reader, Method::PUT, read).await,
        envoy(&s, &reader, Method::DELETE, read).await,
    ] {
        let reply = reply.expect_error(403, "forbidden");
        assert!(reply.text.contains("flag:update"), "{}", reply.text);
        assert!(
            reply.text.contains("proj/web:flag/dark-mode"),
            "{}",
            reply.text
        );
    }
    // The owner may do both.
    traefik(&s, &owner, "PUT", read).await.expect(200);
    envoy(&s, &owner, Method::POST, read).await.expect(200);

    // `/admin/*` needs org:update: the reader is refused, at any depth.
    for path in ["/admin", "/admin/", "/admin/users/7"] {
        traefik(&s, &reader, "GET", path)
            .await
            .expect_error(403, "forbidden");
    }
    traefik(&s, &owner, "DELETE", "/admin/users/7")
        .await
        .expect(200);

    // No rule matches: only authenticated.
    traefik(&s, &reader, "DELETE", "/healthz").await.expect(200);
    envoy(&s, &reader, Method::PATCH, "/").await.expect(200);
    envoy(&s, &reader, Method::GET, "").await.expect(200);
    // Still a token is needed, and a bad one is a 401.
    for token in ["", "tsr_garbage"] {
        let reply = traefik(&s, token, "GET", read).await;
        assert_eq!(reply.status.as_u16(), 401, "{}", reply.text);
        assert!(reply.headers.get("www-authenticate").is_some());
    }
}

#[tokio::test]
async fn paths_are_matched_as_the_upstream_will_route_them() {
    let s = start_with_documented_rules().await;
    let (_, reader, _) = s.owner_creates_reader_token("reader").await;
    // `%61dmin` is `admin` to the upstream: the rule for /admin applies.
    traefik(&s, &reader, "GET", "/%61dmin/users")
        .await
        .expect_error(403, "forbidden");
    traefik(&s, &reader, "GET", "//admin//users/")
        .await
        .expect_error(403, "forbidden");
    // An overlong original URI is refused, not matched.
    let overlong = format!("/projects/web/flags/{}", "a".repeat(9000));
    traefik(&s, &reader, "GET", &overlong)
        .await
        .expect_error(400, "bad_request");
    // Paths that could resolve elsewhere are refused, not guessed at: a
    // `..` could take a request the rules read as a flag's to /admin.
    for path in [
        "/projects/web/flags/x/../../../../admin",
        "/projects/web/flags/%2e%2e/x",
        "/admin%2Fusers",
        "/projects/web:flag/flags/x",
    ] {
        traefik(&s, &reader, "GET", path)
            .await
            .expect_error(400, "bad_request");
        // (The HTTP client resolves `..` and `%2e%2e` before sending, as
        // Envoy does with `normalize_path`; the rest arrive as written.)
        if !path.contains("..") && !path.contains("%2e") {
            envoy(&s, &reader, Method::GET, path)
                .await
                .expect_error(400, "bad_request");
        }
    }
}

#[tokio::test]
async fn a_client_cannot_change_the_question_with_its_own_headers() {
    let s = start_with_documented_rules().await;
    let (_, reader, _) = s.owner_creates_reader_token("reader").await;
    let admin = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/admin/users"),
    ];
    // An easier question in X-Tessera-* headers is refused, not believed.
    for extra in [
        ("X-Tessera-Action", "flag:read"),
        ("X-Tessera-Resource", "proj/web"),
    ] {
        let headers = [admin[0], admin[1], extra];
        ask(&s, Method::GET, "/api/v1/auth", &reader, &headers)
            .await
            .expect_error(400, "bad_request");
    }
    // A second dialect that describes another request is refused; one
    // that agrees is fine.
    let other = [
        admin[0],
        admin[1],
        ("X-Original-Method", "GET"),
        ("X-Original-URL", "https://app/projects/web/flags/a"),
    ];
    ask(&s, Method::GET, "/api/v1/auth", &reader, &other)
        .await
        .expect_error(400, "bad_request");
    let agreeing = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/projects/web/flags/a"),
        ("X-Original-Method", "GET"),
        ("X-Original-URL", "https://app/projects/web/flags/a"),
    ];
    ask(&s, Method::GET, "/api/v1/auth", &reader, &agreeing)
        .await
        .expect(200);
    // Under Envoy, a dialect header naming a readable path does not
    // override the real (admin) path.
    let reply = ask(
        &s,
        Method::GET,
        "/api/v1/auth/envoy/admin/users",
        &reader,
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/projects/web/flags/a"),
        ],
    )
    .await;
    assert_eq!(reply.status.as_u16(), 400, "{}", reply.text);
    // A header sent twice, or half a dialect, is refused.
    let request = s
        .http
        .get(format!("{}/api/v1/auth", s.base))
        .bearer_auth(&reader)
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/projects/web/flags/a")
        .header("X-Forwarded-Uri", "/admin");
    send(request).await.expect_error(400, "bad_request");
    ask(
        &s,
        Method::GET,
        "/api/v1/auth",
        &reader,
        &[("X-Forwarded-Uri", "/admin")],
    )
    .await
    .expect_error(400, "bad_request");

    // The auth URL's own question (the operator's) still wins over rules.
    let path = "/api/v1/auth?action=flag:read&resource=proj/web";
    ask(&s, Method::GET, path, &reader, &admin)
        .await
        .expect(200);
}

#[tokio::test]
async fn without_rules_dialect_headers_only_authenticate() {
    let s = start_with(|_| {}).await;
    let (_, reader, _) = s.owner_creates_reader_token("reader").await;
    traefik(&s, &reader, "DELETE", "/admin/users")
        .await
        .expect(200);
    envoy(&s, &reader, Method::DELETE, "/admin/users")
        .await
        .expect(200);
    // The nginx way keeps working alongside.
    let headers = [
        ("X-Tessera-Action", "flag:update"),
        ("X-Tessera-Resource", "proj/web"),
    ];
    ask(&s, Method::GET, "/api/v1/auth", &reader, &headers)
        .await
        .expect_error(403, "forbidden");
}
