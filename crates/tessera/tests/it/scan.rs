//! `tessera scan` through the real binary: files, git history, staged
//! changes, exit codes, and `--report` revoking a real token on a real
//! server.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use tessera_core::TokenFormat;
use time::OffsetDateTime;

use super::cli::{assert_stderr_has, run, tessera, text};
use super::forward_auth::{create_token, serve_with_owner};

/// A token of the default format with a valid checksum (not on any server).
fn planted() -> String {
    TokenFormat::default()
        .generate(OffsetDateTime::now_utc())
        .token
}

fn snippet(token: &str) -> String {
    TokenFormat::default().snippet_of(token)
}

fn scan(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = tessera(dir);
    cmd.arg("scan").args(args);
    run(cmd, "")
}

#[track_caller]
fn assert_never_printed(out: &Output, token: &str) {
    assert!(
        !text(&out.stdout).contains(token) && !text(&out.stderr).contains(token),
        "the full token was printed"
    );
}

#[test]
fn scan_finds_real_tokens_in_files_and_skips_lookalikes_and_binaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("src")).expect("mkdir");
    let (a, b, in_binary) = (planted(), planted(), planted());

    std::fs::write(
        root.join("src/config.env"),
        format!("# settings\nNAME=demo\nAPI_TOKEN={a}\n"),
    )
    .expect("write");
    // A token with one checksum character changed, and a random string of
    // the right shape: neither is a token.
    let mut broken = b.clone().into_bytes();
    let last = broken.len() - 1;
    broken[last] = if broken[last] == b'x' { b'y' } else { b'x' };
    let broken = String::from_utf8(broken).expect("ascii");
    std::fs::write(
        root.join("lookalikes.txt"),
        format!("{broken}\ntsr_{}\n", "Ab3".repeat(21)),
    )
    .expect("write");
    // A binary file (NUL bytes) holding a token: skipped.
    std::fs::write(
        root.join("blob.bin"),
        [&[0u8, 1, 2, 0][..], in_binary.as_bytes()].concat(),
    )
    .expect("write");
    // A large file, streamed: the token on line 200001, then one long line
    // without newlines ending in a token.
    {
        let mut big =
            std::io::BufWriter::new(std::fs::File::create(root.join("big.log")).expect("create"));
        for i in 0..200_000 {
            writeln!(big, "{i:08} nothing to see here, just log lines").expect("write");
        }
        writeln!(big, "leaked: {b}").expect("write");
        big.write_all(&vec![b'z'; 3 * 1024 * 1024]).expect("write");
        write!(big, " {a}").expect("write");
    }

    let out = scan(dir.path(), &[root.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let root_s = root.display();
    let expected = [
        format!("{root_s}/big.log:200001: {}", snippet(&b)),
        format!("{root_s}/big.log:200002: {}", snippet(&a)),
        format!("{root_s}/src/config.env:3: {}", snippet(&a)),
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{stdout}");
    assert_stderr_has(&out, "skipped 1 binary");
    for token in [&a, &b, &in_binary] {
        assert_never_printed(&out, token);
    }

    // Only lookalikes: nothing found, exit 0.
    let out = scan(
        dir.path(),
        &[root.join("lookalikes.txt").to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");

    // --json for scripts.
    let out = scan(
        dir.path(),
        &["--json", root.join("src").to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(body["found"][0]["snippet"], snippet(&a));
    assert_eq!(
        body["found"][0]["location"],
        format!("{root_s}/src/config.env:3")
    );
    assert_never_printed(&out, &a);
}

#[test]
fn scan_exit_codes_for_usage_and_unreadable_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("clean.txt"), "nothing here\n").expect("write");

    // Nothing given, an unknown flag, a bad prefix: usage errors, exit 2.
    for args in [&[][..], &["--bogus", "."], &["--prefix", "Not_OK", "."]] {
        let out = scan(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // Nothing could be read: exit 2 with a message naming the path.
    let out = scan(dir.path(), &["does-not-exist"]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_has(&out, "cannot read does-not-exist");
    // One unreadable among readable ones: a warning, and the scan goes on.
    let out = scan(dir.path(), &["does-not-exist", "clean.txt"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot read does-not-exist"));
    // --git outside a repository: git's reason, exit 2.
    let out = scan(dir.path(), &["--git", "does-not-exist"]);
    assert_eq!(out.status.code(), Some(2));
    // An empty directory is fine.
    std::fs::create_dir(dir.path().join("empty")).expect("mkdir");
    assert_eq!(scan(dir.path(), &["empty"]).status.code(), Some(0));

    // A fifo (named or inside a directory) would block a reader forever,
    // and a dangling link cannot be opened: skipped with a warning, and
    // the rest is scanned. (Reading a fifo would hang this test.)
    let odd = dir.path().join("odd");
    std::fs::create_dir(&odd).expect("mkdir");
    let made = Command::new("mkfifo")
        .arg(odd.join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink(odd.join("gone"), odd.join("dangling")).expect("symlink");
    let token = planted();
    std::fs::write(odd.join("real.txt"), format!("x {token}\n")).expect("write");
    let out = scan(
        dir.path(),
        &["odd", "odd/pipe", "odd/dangling", "odd/real.txt"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "found once per naming: {stdout}");
    assert!(stdout.contains(&format!("odd/real.txt:1: {}", snippet(&token))));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("odd/pipe: not a regular file"), "{stderr}");
    assert!(stderr.contains("cannot read odd/dangling"), "{stderr}");
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(repo)
        .args(args)
        .env("HOME", repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.test")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.test")
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

fn head(repo: &Path, rev: &str) -> String {
    let out = Command::new("git")
        .current_dir(repo)
        .args(["rev-parse", "--short=7", rev])
        .output()
        .expect("git");
    text(&out.stdout).trim().to_owned()
}

#[test]
fn scan_finds_tokens_in_git_history_and_staged_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    let (a, in_message, staged) = (planted(), planted(), planted());
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("app.env"), format!("NAME=x\nTOKEN={a}\n")).expect("write");
    git(&repo, &["add", "app.env"]);
    git(&repo, &["commit", "-qm", "add config"]);
    let added = head(&repo, "HEAD");
    // The token is removed again: only history has it now.
    std::fs::write(repo.join("app.env"), "NAME=x\n").expect("write");
    git(
        &repo,
        &["commit", "-qam", &format!("remove it (was {in_message})")],
    );
    let message_commit = head(&repo, "HEAD");

    let repo_s = repo.to_str().expect("utf-8");
    let out = scan(dir.path(), &[repo_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let out = scan(dir.path(), &["--git", repo_s]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("{added}:app.env:2: {}", snippet(&a))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{message_commit} (commit message, line 1): {}",
            snippet(&in_message)
        )),
        "{stdout}"
    );
    assert_never_printed(&out, &a);
    assert_never_printed(&out, &in_message);

    // Staged changes only: what a pre-commit hook checks.
    std::fs::write(repo.join("new.txt"), format!("one\ntwo {staged}\n")).expect("write");
    let out = scan(dir.path(), &["--staged", repo_s]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "not staged yet: {}",
        text(&out.stdout)
    );
    git(&repo, &["add", "new.txt"]);
    let out = scan(dir.path(), &["--staged", repo_s]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("new.txt:2: {}", snippet(&staged))
    );
}

#[test]
fn scan_report_revokes_live_tokens_on_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, url, owner) = serve_with_owner(dir.path());
    let (_, live) = create_token(dir.path(), &url, &owner, &["--name", "leaky"]);
    let not_on_server = planted();
    std::fs::write(
        dir.path().join("leak.txt"),
        format!("{live}\n{not_on_server}\n{live}\n"),
    )
    .expect("write");

    // `--report URL`, with a space, as the issue and most people write it.
    let out = scan(dir.path(), &["--report", &url, "leak.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("1 revoked, 1 not live"), "{stderr}");
    assert_never_printed(&out, &live);

    // The leaked token no longer works; the owner's still does.
    let mut cmd = tessera(dir.path());
    cmd.args(["me", "--url", &url]).env("TESSERA_TOKEN", &live);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "invalid_token");

    // The revocation is in the audit log, with the reason.
    let mut cmd = tessera(dir.path());
    cmd.args(["audit", "--json", "--url", &url])
        .env("TESSERA_TOKEN", &owner);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("leak_report"),
        "{}",
        text(&out.stdout)
    );

    // Reporting again: nothing left to revoke. --report without a value
    // uses TESSERA_URL.
    let mut cmd = tessera(dir.path());
    cmd.args(["scan", "--report", "leak.txt"])
        .env("TESSERA_URL", &url);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "0 revoked, 2 not live");

    // A failing server: says so, and the findings are still printed.
    let failing = super::cli::failing_server("502 Bad Gateway", "unavailable");
    let out = scan(dir.path(), &["--report", &failing, "leak.txt"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("could not report the tokens found") && stderr.contains("server failed"),
        "{stderr}"
    );
    assert_eq!(
        text(&out.stdout).lines().count(),
        3,
        "{}",
        text(&out.stdout)
    );
    assert_never_printed(&out, &live);

    // An unreachable server: a clear error, still non-zero.
    let out = scan(dir.path(), &["--report=http://127.0.0.1:9", "leak.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "cannot reach");
}
