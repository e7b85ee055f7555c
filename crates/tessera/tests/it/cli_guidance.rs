//! The real `tessera` binary on the mistakes a new user makes (issue 15):
//! each is refused with what was understood and what to type, or taken as
//! meant; and `login` asks for the password on a terminal.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::cli::{free_port, run, serve, tessera, text, wait_healthy, BIN};
use super::forward_auth::serve_with_owner;

/// Runs `cmd` (stdin empty, not a terminal), which must exit with `code`
/// and say each of `needles` on stderr; the output.
#[track_caller]
fn fails_with(cmd: Command, code: i32, needles: &[&str]) -> Output {
    let out = run(cmd, "");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    out
}

/// `tessera ARGS` in `dir` with `env`.
fn cmd(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = tessera(dir);
    cmd.args(args).envs(env.iter().copied());
    cmd
}

#[test]
fn listen_mistakes_are_refused_with_the_fix_and_a_host_name_is_resolved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let serve_on = |listen: &str| cmd(d, &["serve", "--listen", listen], &[]);
    fails_with(
        serve_on(":8080"),
        1,
        &["--listen :8080: no address before the port; type --listen 127.0.0.1:8080"],
    );
    fails_with(serve_on("localhost"), 1, &["no port", "127.0.0.1:8080"]);
    fails_with(
        serve_on("no-such-host.invalid:8080"),
        1,
        &["cannot resolve the host name", "type an IP address"],
    );
    fails_with(
        cmd(d, &["serve"], &[("TESSERA_LISTEN", ":9")]),
        1,
        &["TESSERA_LISTEN :9: no address before the port"],
    );
    // None of them got as far as creating the database's org.
    assert!(!d.join("cli.db").exists());

    // A host name is resolved: localhost:PORT serves on 127.0.0.1:PORT.
    let port = free_port();
    let mut child = serve_on(&format!("localhost:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    wait_healthy(&format!("http://127.0.0.1:{port}"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn url_mistakes_a_lone_token_and_a_login_elsewhere_say_what_to_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let token = [("TESSERA_TOKEN", "tsr_x")];
    fails_with(
        cmd(d, &["token", "list", "--url", "127.0.0.1:8080"], &token),
        1,
        &["no scheme; type http://127.0.0.1:8080"],
    );
    fails_with(
        cmd(d, &["me"], &[("TESSERA_URL", "http://127.0.0.1:9/api/v1/"), token[0]]),
        1,
        &["includes the API path /api/v1; give the server's address without it, http://127.0.0.1:9"],
    );
    let login = ["login", "--email", "a@b.c", "--password-stdin"];
    fails_with(
        cmd(d, &[&login[..], &["--url", "localhost:8080"]].concat(), &[]),
        1,
        &["type http://localhost:8080"],
    );

    // TESSERA_TOKEN with no TESSERA_URL: not sent to a guessed server.
    let out = fails_with(
        cmd(d, &["token", "list"], &token),
        1,
        &["set TESSERA_URL too, e.g. `export TESSERA_URL=http://127.0.0.1:8080`"],
    );
    assert!(!text(&out.stderr).contains("tsr_x"));

    // A saved login for another server: which one, and how to use it.
    let config = d.join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    let saved = r#"{"url": "http://127.0.0.1:1", "token": "tsr_saved"}"#;
    std::fs::write(config.join("credentials.json"), saved).expect("saved login");
    fails_with(
        cmd(d, &["token", "list", "--url", "http://127.0.0.1:2"], &[]),
        1,
        &[
            "no API token for http://127.0.0.1:2: the saved login is for http://127.0.0.1:1",
            "--url http://127.0.0.1:1",
            "`tessera login --url http://127.0.0.1:2 --email EMAIL`",
        ],
    );
}

#[test]
fn dates_rotation_without_expiry_and_empty_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // The owner token `init --print-token` prints has no expiry.
    let (_server, url, owner) = serve_with_owner(d);
    let as_owner =
        |args: &[&str]| cmd(d, args, &[("TESSERA_URL", &url), ("TESSERA_TOKEN", &owner)]);

    // A bare date is midnight UTC.
    let date = (time::OffsetDateTime::now_utc() + time::Duration::days(400)).date();
    let out = run(
        as_owner(&[
            "token",
            "create",
            "--name",
            "dated",
            "--json",
            "--expires-at",
            &date.to_string(),
        ]),
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(body["expires_at"], format!("{date}T00:00:00Z"));
    fails_with(
        as_owner(&[
            "token",
            "create",
            "--name",
            "x",
            "--expires-at",
            "2027-01-01T10",
        ]),
        2,
        &["use a date like 2026-12-31 (midnight UTC) or an RFC 3339 time"],
    );

    // Rotation without an expiry names the command that sets one; that
    // command works, and then so does the rotation.
    let fix = "tessera token update self --expires-in 90d";
    fails_with(
        as_owner(&["token", "rotate", "self", "--expires-in", "30d"]),
        1,
        &["token self has no expiry", &format!("`{fix}`")],
    );
    let out = run(as_owner(&fix.split(' ').skip(1).collect::<Vec<_>>()), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        as_owner(&["token", "rotate", "self", "--expires-in", "30d"]),
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let owner = text(&out.stdout).trim().to_owned();
    let as_owner =
        |args: &[&str]| cmd(d, args, &[("TESSERA_URL", &url), ("TESSERA_TOKEN", &owner)]);

    // A member without tokens, and a token that may not read tokens: the
    // empty lists say so in words.
    let out = run(
        as_owner(&[
            "member",
            "create",
            "--email",
            "new@acme.test",
            "--role",
            "reader",
            "--json",
        ]),
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let member: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = member["id"].as_str().expect("id");
    let out = run(as_owner(&["member", "tokens", id]), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("Member {id} has no tokens.\n"));

    let policy = r#"[{"effect": "allow", "actions": ["project:read"], "resources": ["*"]}]"#;
    let mut create = as_owner(&[
        "token",
        "create",
        "--name",
        "projects only",
        "--policy-file",
        "-",
    ]);
    create.stdin(Stdio::piped());
    let out = run(create, policy);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let narrow = text(&out.stdout).trim().to_owned();
    let out = run(
        cmd(
            d,
            &["token", "list"],
            &[("TESSERA_URL", &url), ("TESSERA_TOKEN", &narrow)],
        ),
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "You have no tokens.\n");
}

#[test]
fn first_start_and_login_keep_the_password_off_command_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let port = free_port();
    let (_server, printed) = serve(d, port);
    let url = format!("http://127.0.0.1:{port}");
    let password = first_start_password(&printed);
    let hint = format!("tessera login --url {url} --email admin@example.com");
    assert!(printed.lines().any(|l| l.trim() == hint), "{printed}");
    assert_eq!(printed.matches(&password).count(), 1, "{printed}");

    // No terminal and no --password-stdin: refused, with the flag to use.
    let login = ["login", "--url", &url, "--email", "admin@example.com"];
    fails_with(
        cmd(d, &login, &[]),
        1,
        &[
            "standard input is not a terminal",
            &format!("`{hint} --password-stdin < pw.txt`"),
        ],
    );

    // On a terminal (script(1) gives it one): asked for, not echoed.
    let line = std::iter::once(BIN)
        .chain(login)
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = with_tessera_env(Command::new("script"), d);
    script.args(["-qec", &line, "/dev/null"]).current_dir(d);
    let (status, shown) = on_terminal(script, "Password for admin@example.com: ", &password);
    assert!(status, "login on a terminal failed: {shown}");
    assert!(shown.contains("Logged in to"), "{shown}");
    assert!(
        !shown.contains(&password),
        "the password was echoed: {shown}"
    );
    let out = run(cmd(d, &["me"], &[]), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The password the first start of `serve` printed (`printed`: its
/// stdout).
#[track_caller]
pub(crate) fn first_start_password(printed: &str) -> String {
    printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .map(|p| p.trim().to_owned())
        .unwrap_or_else(|| panic!("no password line in: {printed}"))
}

/// `cmd` with the environment [`tessera`] gives the binary, for a
/// program that runs it (script(1), a shell).
pub(crate) fn with_tessera_env(mut cmd: Command, dir: &Path) -> Command {
    for (key, value) in tessera(dir).get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// Runs `cmd` (a command that gives its child a terminal), types `input`
/// once `prompt` is shown; whether it succeeded, and everything shown.
fn on_terminal(mut cmd: Command, prompt: &str, input: &str) -> (bool, String) {
    let mut child = crate::cli::spawn_piped(&mut cmd);
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut shown = Vec::new();
    let mut typed = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(bytes) => shown.extend(bytes),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if !typed && String::from_utf8_lossy(&shown).contains(prompt) {
            // The prompt is written just before echo is turned off.
            std::thread::sleep(Duration::from_millis(300));
            let stdin = child.stdin.as_mut().expect("stdin");
            stdin
                .write_all(format!("{input}\n").as_bytes())
                .expect("type");
            typed = true;
        }
    }
    let status = child.wait().expect("wait");
    (
        typed && status.success(),
        String::from_utf8_lossy(&shown).into_owned(),
    )
}
