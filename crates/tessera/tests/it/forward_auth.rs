//! Forward-auth through a real nginx (the configuration in docs/nginx.md)
//! and a real Caddy (the Caddyfile and rules in docs/forward-auth.md), in
//! front of a real `tessera serve` and a stand-in upstream that echoes the
//! identity headers it receives.
//!
//! Needs the `nginx` and `caddy` binaries (Debian packages of those
//! names). Without one its test prints why and passes, unless it runs as
//! root (as in CI, which installs both), where a missing one is a failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::cli::{
    free_port, init_printing_token, printed_token, run, serve, serve_with, tessera, text,
    wait_healthy,
};

const DOC: &str = include_str!("../../../../docs/nginx.md");

/// nginx, if installed.
fn nginx_binary() -> Option<PathBuf> {
    installed("nginx")
}

/// `name` on the PATH or in an sbin directory, if installed.
fn installed(name: &str) -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()]);
    candidates
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

/// The ```nginx blocks of docs/nginx.md, in order.
fn doc_blocks() -> Vec<String> {
    let mut blocks = Vec::new();
    let mut rest = DOC;
    while let Some(start) = rest.find("```nginx\n") {
        let body = &rest[start + "```nginx\n".len()..];
        let end = body.find("```").expect("closed code block");
        blocks.push(body[..end].to_owned());
        rest = &body[end..];
    }
    blocks
}

/// A proxy process, killed on drop. nginx runs as one process
/// (`master_process off`): killing a master would leave its workers
/// running, holding the port.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `proxy` listens on `port`; if it exits first, fails with
/// its standard error and `log` (a log file of its own, if any).
fn wait_listening(mut proxy: Proxy, name: &str, port: u16, log: Option<&Path>) -> Proxy {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = proxy.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = proxy.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let log = log
                .and_then(|l| std::fs::read_to_string(l).ok())
                .unwrap_or_default();
            panic!("{name} exited ({status}): {err}\n{log}");
        }
        assert!(Instant::now() < deadline, "{name} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy
}

/// Starts nginx in the foreground with the documented configuration,
/// pointed at `tessera` and `app`, listening on a free port.
fn start_nginx(binary: &Path, dir: &Path, tessera: &str, app: &str) -> (Proxy, u16) {
    let blocks = doc_blocks();
    assert!(blocks.len() >= 3, "docs/nginx.md lost its configuration");
    let port = free_port();
    // The server block, with the JSON error pages added at its end.
    let server_end = blocks[0].rfind('}').expect("server block");
    let site = format!("{}{}}}\n", &blocks[0][..server_end], blocks[2]);
    let site = site
        .replace("127.0.0.1:8080", tessera)
        .replace("127.0.0.1:3000", app)
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    assert!(site.contains(tessera) && site.contains(app), "{site}");
    std::fs::write(dir.join("tessera-identity.conf"), &blocks[1]).expect("write include");
    let temp = dir.join("temp");
    std::fs::create_dir_all(&temp).expect("temp dir");
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/temp/body;\n  \
         proxy_temp_path {d}/temp/proxy;\n  fastcgi_temp_path {d}/temp/fastcgi;\n  \
         uwsgi_temp_path {d}/temp/uwsgi;\n  scgi_temp_path {d}/temp/scgi;\n{site}\n}}\n"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write conf");
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx");
    let log = dir.join("error.log");
    (
        wait_listening(Proxy(child), "nginx", port, Some(&log)),
        port,
    )
}

/// What the stand-in upstream saw of one request. A `HeaderMap`, so
/// lookups are case-insensitive and repeated headers are all kept.
#[derive(Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
}

impl Seen {
    /// Every value of the header `name`, in order.
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("ASCII header value"))
            .collect()
    }
}

/// An upstream that answers 200 "upstream" to everything and reports the
/// request line and headers it received.
fn upstream() -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut headers = HeaderMap::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.append(
                        HeaderName::try_from(k.trim()).expect("header name"),
                        HeaderValue::try_from(v.trim()).expect("header value"),
                    );
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_owned();
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nupstream",
            );
            if tx.send(Seen { path, headers }).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

/// One HTTP/1.0 GET through the proxy: (status, headers, body).
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    request(port, "GET", path, headers)
}

/// One HTTP/1.0 request through the proxy: (status, headers, body).
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// The code and message of the JSON error page nginx returns for a
/// refused request (Tessera's error body, passed on or written by nginx).
fn error_page(body: &str) -> (String, String) {
    let page: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("not a JSON error page ({e}): {body}"));
    let field = |name: &str| {
        page["error"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no error {name} in: {body}"))
            .to_owned()
    };
    (field("code"), field("message"))
}

/// `tessera init` + `tessera serve`: the server and an owner token.
pub(crate) fn serve_with_owner(dir: &Path) -> (super::cli::Server, String, String) {
    let out = init_printing_token(dir, "owner@acme.test", "owner-password-1");
    let owner = printed_token(&out);
    let port = free_port();
    let (server, _) = serve(dir, port);
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy(&url);
    (server, url, owner)
}

/// `tessera token create --json` as `caller`: (id, token).
pub(crate) fn create_token(
    dir: &Path,
    url: &str,
    caller: &str,
    extra: &[&str],
) -> (String, String) {
    let mut cmd = tessera(dir);
    cmd.args(["token", "create", "--json", "--url", url])
        .args(extra)
        .env("TESSERA_TOKEN", caller);
    let out = run(cmd, "");
    assert!(out.status.success(), "token create: {}", text(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    (
        body["id"].as_str().expect("id").to_owned(),
        body["token"].as_str().expect("token").to_owned(),
    )
}

#[test]
fn nginx_auth_request_passes_identity_and_refuses_401_403() {
    let Some(binary) = nginx_binary() else {
        assert!(
            !is_root(),
            "nginx is not installed; CI (root) must install it (apt-get install nginx)"
        );
        println!("SKIPPED nginx forward-auth test: nginx is not installed (apt-get install nginx)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, url, owner) = serve_with_owner(dir.path());
    let (token_id, writer) = create_token(dir.path(), &url, &owner, &["--name", "deploy"]);
    let (_, reader) = create_token(
        dir.path(),
        &url,
        &owner,
        &["--name", "read only", "--role", "reader"],
    );
    let (app, seen) = upstream();
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).expect("nginx dir");
    let (_nginx, port) = start_nginx(&binary, &nginx_dir, url.trim_start_matches("http://"), &app);

    // A valid token passes, with the identity Tessera vouched for; a
    // client's own X-Tessera-Member is replaced, not forwarded.
    let bearer = format!("Bearer {writer}");
    let (status, _, body) = get(
        port,
        "/flags/checkout",
        &[
            ("Authorization", &bearer),
            ("X-Tessera-Member", "someone-else"),
            ("X-Tessera-Role", "reader"),
        ],
    );
    assert_eq!((status, body.as_str()), (200, "upstream"));
    let request = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("upstream called");
    assert_eq!(request.path, "/flags/checkout");
    let me = whoami(dir.path(), &url, &writer);
    // One value each: the client's own X-Tessera-Member is not passed on.
    assert_eq!(request.header_values("x-tessera-member"), [me.as_str()]);
    assert_eq!(request.header_values("x-tessera-org"), ["acme"]);
    assert_eq!(
        request.header_values("x-tessera-token-id"),
        [token_id.as_str()]
    );
    // The email and the member's built-in role too; a client's own claim
    // is replaced.
    assert_eq!(request.header_values("x-tessera-role"), ["owner"]);
    assert_eq!(request.header_values("x-tessera-email").len(), 1);

    // ApiKey works too, on a location that only authenticates.
    let (status, _, _) = get(
        port,
        "/me/x",
        &[("Authorization", &format!("ApiKey {reader}"))],
    );
    assert_eq!(status, 200);
    seen.recv_timeout(Duration::from_secs(5))
        .expect("upstream called");

    // Missing, malformed-looking and unknown tokens: 401 with the
    // challenge, upstream not called.
    let unknown = tessera_core::TokenFormat::default()
        .generate(time::OffsetDateTime::now_utc())
        .token;
    for auth in [
        None,
        Some("Bearer not-a-token".to_owned()),
        Some(format!("Bearer {unknown}")),
    ] {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let (status, head, body) = get(port, "/flags/checkout", &headers);
        assert_eq!(status, 401, "{auth:?}: {head}");
        assert_eq!(error_page(&body).0, "unauthenticated", "{auth:?}: {body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("www-authenticate: bearer realm=\"tessera\""),
            "{head}"
        );
    }

    // A reader token may read but not update: 403.
    let reader_bearer = format!("Bearer {reader}");
    let (status, _, _) = get(port, "/flags/x", &[("Authorization", &reader_bearer)]);
    assert_eq!(status, 200);
    seen.recv_timeout(Duration::from_secs(5))
        .expect("upstream called");
    let (status, _, body) = get(port, "/admin/x", &[("Authorization", &reader_bearer)]);
    assert_eq!(status, 403);
    assert_eq!(error_page(&body).0, "forbidden", "{body}");
    let (status, _, _) = get(port, "/admin/x", &[("Authorization", &bearer)]);
    assert_eq!(status, 200);
    seen.recv_timeout(Duration::from_secs(5))
        .expect("upstream called");

    // Revoked: 401 on the next request.
    let mut cmd = tessera(dir.path());
    cmd.args(["token", "delete", &token_id, "--yes", "--url", &url])
        .env("TESSERA_TOKEN", &owner);
    assert!(run(cmd, "").status.success());
    let (status, _, _) = get(port, "/flags/checkout", &[("Authorization", &bearer)]);
    assert_eq!(status, 401);

    // Tessera unreachable: nginx fails closed, with a message that says
    // the token could not be checked (not that it is bad).
    drop(server);
    let (status, head, body) = get(port, "/flags/x", &[("Authorization", &reader_bearer)]);
    assert_eq!(status, 503, "{head}");
    let (code, message) = error_page(&body);
    assert_eq!(code, "unavailable", "{body}");
    assert!(message.contains("could not be checked"), "{body}");

    // None of the refused requests reached the upstream.
    assert!(
        seen.try_recv().is_err(),
        "a refused request reached the upstream"
    );
}

/// The member id behind `token`, from `tessera me --json`.
fn whoami(dir: &Path, url: &str, token: &str) -> String {
    let mut cmd = tessera(dir);
    cmd.args(["me", "--json", "--url", url])
        .env("TESSERA_TOKEN", token);
    let out = run(cmd, "");
    assert!(out.status.success(), "me: {}", text(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    body["member"]["id"]
        .as_str()
        .or_else(|| body["id"].as_str())
        .expect("member id")
        .to_owned()
}

const FORWARD_AUTH_DOC: &str = include_str!("../../../../docs/forward-auth.md");

/// Starts Caddy with the documented Caddyfile, pointed at `tessera` and
/// `app`, on a free port; no admin endpoint, no automatic HTTPS.
fn start_caddy(binary: &Path, dir: &Path, tessera: &str, app: &str) -> (Proxy, u16) {
    let start = FORWARD_AUTH_DOC.find("```caddy\n").expect("a Caddyfile") + "```caddy\n".len();
    let end = start + FORWARD_AUTH_DOC[start..].find("```").expect("closed block");
    let port = free_port();
    let site = FORWARD_AUTH_DOC[start..end]
        .replace("127.0.0.1:8080", tessera)
        .replace("127.0.0.1:3000", app)
        .replace(":80 {", &format!(":{port} {{"));
    assert!(site.contains(tessera) && site.contains(app), "{site}");
    let caddyfile = dir.join("Caddyfile");
    std::fs::write(
        &caddyfile,
        format!("{{\n\tadmin off\n\tauto_https off\n}}\n{site}"),
    )
    .expect("write Caddyfile");
    let child = Command::new(binary)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&caddyfile)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start caddy");
    (wait_listening(Proxy(child), "caddy", port, None), port)
}

#[test]
fn caddy_forward_auth_maps_the_original_request_by_the_rules() {
    let Some(binary) = installed("caddy") else {
        assert!(
            !is_root(),
            "caddy is not installed; CI (root) must install it (apt-get install caddy)"
        );
        println!("SKIPPED Caddy forward-auth test: caddy is not installed (apt-get install caddy)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = init_printing_token(dir.path(), "owner@acme.test", "owner-password-1");
    let owner = printed_token(&out);
    let rules = super::dialects::documented_rules_file(dir.path());
    let port = free_port();
    let (_server, _) = serve_with(dir.path(), port, |cmd| {
        cmd.env("TESSERA_CONFIG", &rules);
    });
    let url = format!("http://127.0.0.1:{port}");
    let (_, reader) = create_token(
        dir.path(),
        &url,
        &owner,
        &["--name", "read only", "--role", "reader"],
    );
    let (app, seen) = upstream();
    let caddy_dir = dir.path().join("caddy");
    std::fs::create_dir_all(&caddy_dir).expect("caddy dir");
    let (_caddy, port) = start_caddy(&binary, &caddy_dir, url.trim_start_matches("http://"), &app);
    let reader_bearer = format!("Bearer {reader}");
    let owner_bearer = format!("Bearer {owner}");
    let flag = "/projects/web/flags/dark-mode?variant=b";

    // GET on a flag is flag:read: the reader passes, with the identity
    // Tessera vouched for in place of the one the client claimed.
    let (status, head, body) = request(
        port,
        "GET",
        flag,
        &[
            ("Authorization", &reader_bearer),
            ("X-Tessera-Member", "someone-else"),
        ],
    );
    assert_eq!((status, body.as_str()), (200, "upstream"), "{head}");
    let passed = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("upstream called");
    assert_eq!(passed.path, flag);
    let me = whoami(dir.path(), &url, &reader);
    assert_eq!(passed.header_values("x-tessera-member"), [me.as_str()]);
    assert_eq!(passed.header_values("x-tessera-org"), ["acme"]);
    assert_eq!(passed.header_values("x-tessera-role"), ["owner"]);

    // PUT on it is flag:update: 403 for the reader, as Tessera wrote it.
    let (status, _, body) = request(port, "PUT", flag, &[("Authorization", &reader_bearer)]);
    assert_eq!(status, 403, "{body}");
    let (code, message) = error_page(&body);
    assert_eq!(code, "forbidden");
    assert!(
        message.contains("flag:update on proj/web:flag/dark-mode"),
        "{message}"
    );
    // The owner may.
    let (status, _, _) = request(port, "PUT", flag, &[("Authorization", &owner_bearer)]);
    assert_eq!(status, 200);
    seen.recv_timeout(Duration::from_secs(5))
        .expect("upstream called");

    // /admin/* needs org:update; the client's own question is refused.
    let (status, _, _) = request(
        port,
        "DELETE",
        "/admin/users/7",
        &[("Authorization", &reader_bearer)],
    );
    assert_eq!(status, 403);
    let (status, _, body) = request(
        port,
        "DELETE",
        "/admin/users/7",
        &[
            ("Authorization", &reader_bearer),
            ("X-Tessera-Action", "flag:read"),
        ],
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_page(&body).0, "bad_request");

    // A path no rule names: any valid token; no token: 401 + challenge.
    let (status, _, _) = request(port, "GET", "/status", &[("Authorization", &reader_bearer)]);
    assert_eq!(status, 200);
    seen.recv_timeout(Duration::from_secs(5))
        .expect("upstream called");
    let (status, head, body) = request(port, "GET", "/status", &[]);
    assert_eq!(status, 401, "{head}");
    assert_eq!(error_page(&body).0, "unauthenticated");
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{head}"
    );

    assert!(
        seen.try_recv().is_err(),
        "a refused request reached the upstream"
    );
}
