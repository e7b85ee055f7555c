//! The real `tessera` binary: init, serve's first start, and API commands.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A `tessera` command with a clean environment: no stray TESSERA_* from
/// the developer's shell, and a private config dir.
pub(crate) fn tessera(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env(
        "TESSERA_DATABASE_URL",
        format!("sqlite://{}", dir.join("cli.db").display()),
    )
    .env("TESSERA_CONFIG_DIR", dir.join("config"))
    .env("HOME", dir)
    .current_dir(dir);
    cmd
}

/// Starts `cmd` with its stdin, stdout and stderr piped to the test.
pub(crate) fn spawn_piped(cmd: &mut Command) -> std::process::Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

pub(crate) fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = spawn_piped(&mut cmd);
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("wait")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `tessera init` for org "acme", the owner's password on stdin, printing
/// the owner token.
pub(crate) fn init_printing_token(dir: &std::path::Path, email: &str, password: &str) -> Output {
    let mut cmd = tessera(dir);
    cmd.args(["init", "--org", "acme", "--email", email]);
    cmd.args(["--password-stdin", "--print-token"]);
    run(cmd, &format!("{password}\n"))
}

/// `out`'s stderr says `what` (and is shown whole if not).
#[track_caller]
pub(crate) fn assert_stderr_has(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert!(stderr.contains(what), "{stderr}");
}

/// The token a command that succeeded printed, alone, on stdout.
#[track_caller]
pub(crate) fn printed_token(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert!(
        tessera_core::TokenFormat::default().parse(&token).is_ok(),
        "stdout is not a token: {token:?}"
    );
    token
}

#[test]
fn init_prints_a_working_owner_token_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = init_printing_token(dir.path(), "ops@acme.test", "a-long-password");
    let token = printed_token(&out);
    assert!(
        !text(&out.stderr).contains(&token),
        "the token went to stderr too"
    );

    // Again with the same org: a clear error, exit 1.
    let mut cmd = tessera(dir.path());
    cmd.args(["init", "--org", "acme", "--email", "ops@acme.test"]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("already exists"),
        "{err}"
    );

    // Bad flags: usage errors, exit 2; empty password on stdin: exit 1.
    let mut cmd = tessera(dir.path());
    cmd.args(["init", "--org", "Bad Key", "--email", "x@y.z"]);
    assert_eq!(run(cmd, "").status.code(), Some(1));
    let mut cmd = tessera(dir.path());
    cmd.args([
        "init",
        "--org",
        "other",
        "--email",
        "x@y.z",
        "--password-stdin",
    ]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let mut cmd = tessera(dir.path());
    cmd.args(["init", "--nonsense"]);
    assert_eq!(run(cmd, "").status.code(), Some(2));
}

/// Kills the child on drop so a failing test leaves no server behind.
pub(crate) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub(crate) fn wait_healthy(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if healthz_answers(url.trim_start_matches("http://")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server at {url} did not start");
}

/// Whether `GET /healthz` answers 200. An open port is not enough: `serve`
/// binds before it prints the first-start message and starts answering,
/// so only an answer proves that message was written.
fn healthz_answers(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Starts `tessera serve`; returns the server and its first stdout lines
/// (up to the CLI hint, if a bootstrap message is printed).
pub(crate) fn serve(dir: &std::path::Path, port: u16) -> (Server, String) {
    serve_with(dir, port, |_| {})
}

/// [`serve`], with the command adjusted by `configure` first (a config
/// file, an environment variable).
pub(crate) fn serve_with(
    dir: &std::path::Path,
    port: u16,
    configure: impl FnOnce(&mut Command),
) -> (Server, String) {
    let mut cmd = tessera(dir);
    configure(&mut cmd);
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let url = format!("http://127.0.0.1:{port}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let server = Server(child);
    wait_healthy(&url);
    std::thread::sleep(Duration::from_millis(200));
    let printed: Vec<String> = rx.try_iter().collect();
    (server, printed.join("\n"))
}

#[test]
fn serve_bootstraps_an_owner_once_and_the_cli_works_against_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (server, printed) = serve(dir.path(), port);
    assert!(
        printed.contains("admin@example.com"),
        "no login hint printed: {printed}"
    );
    let password = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .map(|p| p.trim().to_owned())
        .expect("password line");
    drop(server);

    // Second start: nothing printed, same database.
    let (server, printed) = serve(dir.path(), port);
    assert!(
        !printed.contains("password"),
        "bootstrap printed twice: {printed}"
    );

    // Log in from the CLI, then create and list a token.
    let url = format!("http://127.0.0.1:{port}");
    let mut cmd = tessera(dir.path());
    cmd.args([
        "login",
        "--url",
        &url,
        "--email",
        "admin@example.com",
        "--password-stdin",
    ]);
    let out = run(cmd, &format!("{password}\n"));
    assert!(out.status.success(), "login failed: {}", text(&out.stderr));

    let mut cmd = tessera(dir.path());
    cmd.args([
        "token",
        "create",
        "--name",
        "from the cli",
        "--expires-in",
        "30d",
    ]);
    let token = printed_token(&run(cmd, ""));

    let mut cmd = tessera(dir.path());
    cmd.args(["token", "list", "--json"])
        .env("TESSERA_TOKEN", &token)
        .env("TESSERA_URL", &url);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let text_out = listed.to_string();
    assert!(text_out.contains("from the cli"), "{text_out}");
    assert!(!text_out.contains(&token[31..]), "the list shows a secret");

    // Projects: create, show (text and JSON), and a missing one.
    let project = |args: &[&str]| {
        let mut cmd = tessera(dir.path());
        cmd.arg("project")
            .args(args)
            .env("TESSERA_TOKEN", &token)
            .env("TESSERA_URL", &url);
        run(cmd, "")
    };
    let out = project(&["create", "--key", "web", "--name", "Web app"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = project(&["show", "web"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("web") && shown.contains("Web app"),
        "{shown}"
    );
    let out = project(&["show", "web", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (shown["key"].as_str(), shown["name"].as_str()),
        (Some("web"), Some("Web app"))
    );
    let out = project(&["show", "nope"]);
    assert!(!out.status.success());
    assert_stderr_has(&out, "not_found");

    let mut cmd = tessera(dir.path());
    cmd.args(["verify", "-"]).env("TESSERA_URL", &url);
    let out = run(cmd, &format!("{token}\n"));
    assert!(out.status.success(), "verify: {}", text(&out.stderr));
    let mut cmd = tessera(dir.path());
    cmd.args(["verify", "-"]).env("TESSERA_URL", &url);
    let out = run(cmd, "tsr_not_a_token\n");
    assert_eq!(out.status.code(), Some(1));
    drop(server);
}

/// Runs `cmd`, which must fail with exit 1 and a one-line error; the error.
#[track_caller]
fn one_line_error(cmd: Command) -> String {
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    err
}

#[test]
fn a_missing_token_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = tessera(dir.path());
    cmd.args(["token", "list"])
        .env("TESSERA_URL", "http://127.0.0.1:9");
    let err = one_line_error(cmd);
    assert!(err.contains("TESSERA_TOKEN"), "{err}");

    // An unreachable server is a clear error too.
    let mut cmd = tessera(dir.path());
    cmd.args(["token", "list"])
        .env("TESSERA_URL", "http://127.0.0.1:9")
        .env("TESSERA_TOKEN", "tsr_x");
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: cannot reach the Tessera server at http://127.0.0.1:9"),
        "{err}"
    );
    assert!(!err.contains("tsr_x"), "{err}");
}

/// A server that answers every request with `status` and Tessera's error
/// body for `code`.
pub(crate) fn failing_server(status: &'static str, code: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let body = format!(r#"{{"error":{{"code":"{code}","message":"internal error"}}}}"#);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn malformed_tokens_and_failing_servers_are_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, url, _owner) = super::forward_auth::serve_with_owner(dir.path());
    // Not a token at all, and a token with a broken checksum: the API's
    // code, one line, the value never echoed.
    let mut broken = tessera_core::TokenFormat::default()
        .generate(time::OffsetDateTime::now_utc())
        .token
        .into_bytes();
    let last = broken.len() - 1;
    broken[last] = if broken[last] == b'A' { b'B' } else { b'A' };
    let broken = String::from_utf8(broken).expect("ascii");
    for bad in ["hunter2", broken.as_str()] {
        let mut cmd = tessera(dir.path());
        cmd.args(["token", "list", "--url", &url])
            .env("TESSERA_TOKEN", bad);
        let err = one_line_error(cmd);
        assert!(err.starts_with("error: invalid_token: "), "{err}");
        assert!(!err.contains(bad), "{err}");
    }

    // A server error: the code, and that it is the server's fault.
    let failing = failing_server("500 Internal Server Error", "internal");
    let mut cmd = tessera(dir.path());
    cmd.args(["token", "list", "--url", &failing])
        .env("TESSERA_TOKEN", "tsr_x");
    let err = one_line_error(cmd);
    assert!(err.starts_with("error: internal: internal error"), "{err}");
    assert!(err.contains("the Tessera server failed"), "{err}");
}
