//! The examples of docs/cli.md run as written on a fresh install: every
//! ```sh block, in order, in one shell (so a variable one block sets is
//! there for the next, as for a reader following along), against a fresh
//! `tessera serve` whose first-start password the reader saved in pw.txt.
//!
//! Blocks that cannot run here (starting a server, a hook file, a prompt
//! on a terminal) are tagged ```shell in the document instead.

use std::path::Path;
use std::process::Command;

use super::cli::{free_port, serve, text, BIN};
use super::cli_guidance::{first_start_password, with_tessera_env};

const DOC: &str = include_str!("../../../../docs/cli.md");

/// The ```sh blocks of `doc`: (line number of the fence, the block's text).
fn sh_blocks(doc: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        match (&mut open, line.trim_end()) {
            (None, "```sh") => open = Some((i + 1, String::new())),
            (Some(_), "```") => blocks.extend(open.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(open.is_none(), "an unclosed ```sh block in docs/cli.md");
    blocks
}

/// The whole script: `tessera` is this build's binary, and every call of
/// it that fails is written to `$FAILURES` (a failure inside `$(...)` or
/// an `export` would not stop `set -e`). The examples' server addresses
/// are the test server's.
fn script(blocks: &[(usize, String)], url: &str) -> String {
    let mut script = String::from(
        "set -e -o pipefail\n\
         tessera() {\n  \
           \"$TESSERA_BIN\" \"$@\" && return 0\n  \
           status=$?\n  \
           echo \"docs/cli.md:$DOC_LINE: tessera $* exited $status\" >> \"$FAILURES\"\n  \
           return $status\n\
         }\n",
    );
    for (line, block) in blocks {
        let block = block
            .replace("http://127.0.0.1:8080", url)
            .replace("https://tessera.example.com", url);
        script.push_str(&format!("DOC_LINE={line}\n{block}"));
    }
    script
}

#[test]
fn every_sh_example_in_cli_md_runs_on_a_fresh_install() {
    let jq = Command::new("jq").arg("--version").output();
    assert!(
        jq.is_ok_and(|o| o.status.success()),
        "docs/cli.md's examples use jq: install it (apt-get install jq)"
    );
    let blocks = sh_blocks(DOC);
    assert!(blocks.len() >= 10, "too few ```sh blocks: {}", blocks.len());

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let port = free_port();
    let (_server, printed) = serve(d, port);
    let password = first_start_password(&printed);

    // The reader's working directory: a git repository (for `scan
    // --git`) with the files the examples read. The saved login and the
    // database stay outside it, as they would.
    let work = d.join("work");
    std::fs::create_dir(&work).expect("work dir");
    std::fs::write(work.join("pw.txt"), format!("{password}\n")).expect("pw.txt");
    std::fs::write(work.join("owner-password.txt"), "owner-password-1\n").expect("file");
    git(&work, &["init", "-q"]);
    git(&work, &["commit", "-q", "--allow-empty", "-m", "start"]);

    let failures = d.join("failures");
    let script_file = d.join("cli-md-examples.sh");
    let url = format!("http://127.0.0.1:{port}");
    std::fs::write(&script_file, script(&blocks, &url)).expect("script");
    let out = with_tessera_env(Command::new("bash"), d)
        .arg(&script_file)
        .current_dir(&work)
        .env("TESSERA_BIN", BIN)
        .env("FAILURES", &failures)
        .env("EDITOR", "true")
        .env("PW", "bo-initial-password")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash");
    let failed = std::fs::read_to_string(&failures).unwrap_or_default();
    assert!(
        out.status.success() && failed.is_empty(),
        "{failed}\nexit {:?}\nstderr:\n{}",
        out.status.code(),
        text(&out.stderr)
    );
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=docs", "-c", "user.email=docs@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn sh_blocks_are_found_and_shell_blocks_are_not() {
    let doc = "a\n```sh\ntessera me\n```\n```shell\ntessera serve\n```\n```\n$ x\n```\n";
    assert_eq!(sh_blocks(doc), [(2, "tessera me\n".to_owned())]);
}
