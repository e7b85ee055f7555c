//! `tessera scan`: finds Tessera tokens in files and git history, by format
//! and checksum, so random strings never match.
//!
//! Invariants:
//! - a token value is never printed: only where it is and its snippet
//!   (the prefix and last four characters, as `tessera token list` shows);
//! - exit code 1 when any token is found, 0 when none, 2 on a usage error
//!   or when nothing given could be read. Paths that cannot be read are
//!   reported on stderr and skipped;
//! - files are streamed in chunks (bounded memory, however large), and
//!   binary files (a NUL byte in the first 8 KiB, git's rule) are skipped;
//! - directories are walked recursively without following symbolic links
//!   (no loops) and without entering `.git` (that is what `--git` is for).

mod git;
mod stream;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use tessera_api::LeakReport;
use tessera_core::TokenFormat;

use crate::error::CliError;
use crate::remote::Connection;

/// Bytes read at a time from a file.
const CHUNK: usize = 64 * 1024;
/// Bytes looked at for a NUL to call a file binary.
const BINARY_SNIFF: usize = 8 * 1024;
/// Most tokens `POST /leaks` takes in one report.
const REPORT_BATCH: usize = 1000;
/// Most bytes of tokens per report: half the server's default body limit
/// (64 KiB), so a report of long tokens is never refused as too large.
const REPORT_BATCH_BYTES: usize = 32 * 1024;

pub const LONG_ABOUT: &str = "\
Find Tessera tokens in files, directories (recursively) and git history.

A token is recognised by its format and checksum, so random strings and
mistyped tokens never match. Each one found is printed as `path:line:
snippet`, never in full. Binary files are skipped; files of any size are
read in chunks.

Exit code: 0 when no token was found, 1 when any was, 2 on a usage error or
when none of the paths could be read.

As a git pre-commit hook (.git/hooks/pre-commit):
    #!/bin/sh
    exec tessera scan --staged";

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan. With --staged, the repository
    /// [default: .].
    #[arg(value_name = "PATH", required_unless_present = "staged")]
    pub paths: Vec<PathBuf>,
    /// Also scan the history of the git repository each PATH is in: every
    /// commit on every branch, tag and stash, and commit messages.
    #[arg(long)]
    pub git: bool,
    /// Scan only what is staged for the next commit (`git diff --cached`),
    /// not the files: for a pre-commit hook.
    #[arg(long, conflicts_with = "git")]
    pub staged: bool,
    /// The token prefix of the deployment whose tokens to look for.
    #[arg(
        long,
        env = "TESSERA_TOKEN_PREFIX",
        default_value = tessera_core::token::DEFAULT_PREFIX,
        value_name = "PREFIX",
        value_parser = parse_prefix
    )]
    pub prefix: TokenFormat,
    /// Send the tokens found to the server's /api/v1/leaks, which revokes
    /// each live one, and print how many were revoked. The server is URL
    /// (`--report=URL`, or `--report URL` when URL starts with http:// or
    /// https://), else --url / TESSERA_URL / the one `tessera login` saved.
    #[arg(
        long,
        value_name = "URL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub report: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

fn parse_prefix(prefix: &str) -> Result<TokenFormat, String> {
    TokenFormat::new(prefix).map_err(|e| e.to_string())
}

/// Where a token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File {
        path: PathBuf,
        line: u64,
    },
    /// An added line in a commit (`commit` is None for staged changes).
    Diff {
        commit: Option<String>,
        path: String,
        line: u64,
    },
    Message {
        commit: String,
        line: u64,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |c: &str| c.chars().take(7).collect::<String>();
        match self {
            Self::File { path, line } => write!(f, "{}:{line}", path.display()),
            Self::Diff {
                commit: Some(c),
                path,
                line,
            } => write!(f, "{}:{path}:{line}", short(c)),
            Self::Diff {
                commit: None,
                path,
                line,
            } => write!(f, "{path}:{line}"),
            Self::Message { commit, line } => {
                write!(f, "{} (commit message, line {line})", short(commit))
            }
        }
    }
}

/// One token found, and where.
#[derive(Clone)]
pub struct Finding {
    pub location: Location,
    /// The full value: sent to the server by `--report`, never printed.
    pub token: String,
}

/// What a scan read and skipped.
#[derive(Debug, Default)]
struct Tally {
    files: u64,
    binary: u64,
    histories: u64,
    unreadable: u64,
}

pub async fn run(mut args: ScanArgs) -> Result<ExitCode, CliError> {
    if let Err(message) = report_url_from_paths(&mut args) {
        eprintln!("error: {message}");
        return Ok(ExitCode::from(2));
    }
    let format = &args.prefix;
    let mut tally = Tally::default();
    let mut findings = Vec::new();
    // Reading files is blocking work; scans are short-lived, so doing it
    // on this thread before any network call is fine.
    if args.staged {
        let repo = args.paths.first().cloned().unwrap_or_else(|| ".".into());
        scan_git(
            &repo,
            git::Source::Staged,
            format,
            &mut findings,
            &mut tally,
        );
    } else {
        for path in &args.paths {
            scan_path(path, format, &mut findings, &mut tally);
            if args.git {
                scan_git(
                    path,
                    git::Source::History,
                    format,
                    &mut findings,
                    &mut tally,
                );
            }
        }
    }
    let read_anything = tally.files + tally.binary + tally.histories > 0;
    if !read_anything && tally.unreadable > 0 {
        eprintln!("error: none of the paths could be read");
        return Ok(ExitCode::from(2));
    }
    let (report, report_error) = match &args.report {
        Some(url) if !findings.is_empty() => match report(&args, url, &findings).await {
            Ok(answer) => (Some(answer), None),
            Err(e) => (None, Some(e)),
        },
        _ => (None, None),
    };
    // The findings are printed even when reporting them failed.
    print(&args, &findings, &tally, report.as_ref());
    if let Some(e) = report_error {
        return Err(e);
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `--report` takes its URL after `=` (so `--report src` scans `src`), but
/// `--report https://...` is what people type, and clap then hands the URL
/// over as a path to scan. With `--report` given no value, one path that
/// is an http(s) URL and not a file is taken as the server to report to.
fn report_url_from_paths(args: &mut ScanArgs) -> Result<(), String> {
    let looks_like_url = |p: &PathBuf| {
        let s = p.to_string_lossy();
        (s.starts_with("http://") || s.starts_with("https://")) && !p.exists()
    };
    if args.report.as_deref() != Some("") {
        return Ok(());
    }
    let urls: Vec<usize> = (0..args.paths.len())
        .filter(|&i| looks_like_url(&args.paths[i]))
        .collect();
    match urls[..] {
        [] => Ok(()),
        [i] => {
            let url = args.paths.remove(i);
            args.report = Some(url.to_string_lossy().into_owned());
            if args.paths.is_empty() && !args.staged {
                return Err(format!(
                    "nothing to scan: give a PATH after --report {}",
                    args.report.as_deref().unwrap_or_default()
                ));
            }
            Ok(())
        }
        _ => Err("--report takes one server URL; several were given".into()),
    }
}

/// Prints findings on stdout and a summary for people on stderr.
fn print(
    args: &ScanArgs,
    findings: &[Finding],
    tally: &Tally,
    report: Option<&tessera_api::LeakReportResponse>,
) {
    let format = &args.prefix;
    if args.conn.json {
        let items: Vec<_> = findings
            .iter()
            .map(|f| json!({ "location": f.location.to_string(), "snippet": format.snippet_of(&f.token) }))
            .collect();
        let mut out = json!({ "found": items });
        if let Some(r) = report {
            out["report"] = json!({ "revoked": r.revoked, "ignored": r.ignored });
        }
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return;
    }
    for f in findings {
        println!("{}: {}", f.location, format.snippet_of(&f.token));
    }
    let skipped = match tally.binary {
        0 => String::new(),
        n => format!(", skipped {n} binary"),
    };
    let history = match tally.histories {
        0 => String::new(),
        _ if args.staged => " and the staged changes".to_owned(),
        n => format!(" and {n} git histor{}", if n == 1 { "y" } else { "ies" }),
    };
    eprintln!(
        "{} token{} found (scanned {} file{}{history}{skipped})",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        tally.files,
        if tally.files == 1 { "" } else { "s" },
    );
    if let Some(r) = report {
        eprintln!(
            "reported to Tessera: {} revoked, {} not live (already revoked, expired, or not this deployment's)",
            r.revoked, r.ignored
        );
    }
}

/// Sends the distinct tokens found to `POST /leaks`, in batches.
async fn report(
    args: &ScanArgs,
    url: &str,
    findings: &[Finding],
) -> Result<tessera_api::LeakReportResponse, CliError> {
    let mut conn = args.conn.clone();
    if !url.is_empty() {
        conn.server.url = Some(url.to_owned());
    }
    let client = conn.client()?;
    let mut tokens: Vec<String> = findings.iter().map(|f| f.token.clone()).collect();
    tokens.sort();
    tokens.dedup();
    let source = findings
        .first()
        .map(|f| format!("tessera scan: {}", f.location));
    let mut total = tessera_api::LeakReportResponse {
        revoked: 0,
        ignored: 0,
    };
    for batch in report_batches(&tokens) {
        let answer = client
            .report_leaks(&LeakReport {
                tokens: batch.to_vec(),
                url: source.clone(),
            })
            .await
            .map_err(|e| CliError::Input(format!("could not report the tokens found: {e}")))?;
        total.revoked += answer.revoked;
        total.ignored += answer.ignored;
    }
    Ok(total)
}

/// Splits the tokens into reports the server accepts: at most
/// [`REPORT_BATCH`] tokens and about [`REPORT_BATCH_BYTES`] of JSON each.
fn report_batches(tokens: &[String]) -> Vec<&[String]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, token) in tokens.iter().enumerate() {
        // The token, its quotes and a comma.
        let cost = token.len() + 3;
        if i > start && (i - start == REPORT_BATCH || bytes + cost > REPORT_BATCH_BYTES) {
            batches.push(&tokens[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += cost;
    }
    if start < tokens.len() {
        batches.push(&tokens[start..]);
    }
    batches
}

/// A file, or a directory walked recursively.
fn scan_path(path: &Path, format: &TokenFormat, out: &mut Vec<Finding>, tally: &mut Tally) {
    // A path named on the command line is followed if it is a link.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return unreadable(path, &e.to_string(), tally),
    };
    if meta.is_dir() {
        walk(path, format, out, tally);
    } else if meta.is_file() {
        scan_file(path, format, out, tally);
    } else {
        eprintln!(
            "warning: {}: not a regular file or directory, skipped",
            path.display()
        );
    }
}

fn walk(dir: &Path, format: &TokenFormat, out: &mut Vec<Finding>, tally: &mut Tally) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return unreadable(dir, &e.to_string(), tally),
    };
    let mut children: Vec<_> = entries.filter_map(Result::ok).collect();
    children.sort_by_key(|e| e.file_name());
    for entry in children {
        let path = entry.path();
        // file_type() does not follow links: links are skipped.
        let Ok(kind) = entry.file_type() else {
            unreadable(&path, "cannot read its type", tally);
            continue;
        };
        if kind.is_dir() && entry.file_name() != ".git" {
            walk(&path, format, out, tally);
        } else if kind.is_file() {
            scan_file(&path, format, out, tally);
        }
    }
}

fn scan_file(path: &Path, format: &TokenFormat, out: &mut Vec<Finding>, tally: &mut Tally) {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return unreadable(path, &e.to_string(), tally),
    };
    let mut scanner = stream::Scanner::new(format);
    let mut buf = vec![0u8; CHUNK];
    let mut first = true;
    loop {
        let n = match read_full(&mut file, &mut buf) {
            Ok(n) => n,
            Err(e) => return unreadable(path, &e.to_string(), tally),
        };
        if first {
            first = false;
            if buf[..n.min(BINARY_SNIFF)].contains(&0) {
                tally.binary += 1;
                return;
            }
        }
        if n == 0 {
            break;
        }
        scanner.feed(&buf[..n]);
    }
    tally.files += 1;
    out.extend(scanner.finish().into_iter().map(|hit| Finding {
        location: Location::File {
            path: path.to_owned(),
            line: hit.line,
        },
        token: hit.token,
    }));
}

/// Fills `buf` as far as the file allows (a short read is not the end).
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn scan_git(
    path: &Path,
    source: git::Source,
    format: &TokenFormat,
    out: &mut Vec<Finding>,
    tally: &mut Tally,
) {
    match git::scan(path, source, format) {
        Ok(found) => {
            tally.histories += 1;
            out.extend(found);
        }
        Err(reason) => unreadable(path, &format!("git: {reason}"), tally),
    }
}

fn unreadable(path: &Path, reason: &str, tally: &mut Tally) {
    eprintln!("warning: cannot read {}: {reason}", path.display());
    tally.unreadable += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ScanArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            scan: ScanArgs,
        }
        let argv = std::iter::once("scan").chain(args.iter().copied());
        <Cli as clap::Parser>::try_parse_from(argv)
            .expect("parses")
            .scan
    }

    #[test]
    fn report_takes_its_url_with_or_without_the_equals_sign() {
        let dir = tempfile::tempdir().expect("tempdir");
        let here = dir.path().to_str().expect("utf-8");
        let cases: [(&[&str], Option<&str>, Vec<&str>); 5] = [
            (
                &["--report=https://t.example", here],
                Some("https://t.example"),
                vec![here],
            ),
            (
                &["--report", "https://t.example", here],
                Some("https://t.example"),
                vec![here],
            ),
            (
                &[here, "--report", "http://t.example:8080/"],
                Some("http://t.example:8080/"),
                vec![here],
            ),
            // No URL: the server comes from --url / TESSERA_URL.
            (&["--report", here], Some(""), vec![here]),
            // Without --report a URL stays a path (and is reported unreadable).
            (
                &["https://t.example", here],
                None,
                vec!["https://t.example", here],
            ),
        ];
        for (argv, report, paths) in cases {
            let mut args = parse(argv);
            report_url_from_paths(&mut args).expect("usable");
            assert_eq!(args.report.as_deref(), report, "{argv:?}");
            let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
            assert_eq!(args.paths, paths, "{argv:?}");
        }
        let mut args = parse(&["--report", "https://t.example"]);
        let err = report_url_from_paths(&mut args).expect_err("nothing to scan");
        assert!(err.contains("give a PATH"), "{err}");
        let mut args = parse(&["--report", "https://a.example", "https://b.example", here]);
        assert!(report_url_from_paths(&mut args).is_err());
        // --staged scans the repository in the current directory.
        let mut args = parse(&["--staged", "--report", "https://t.example"]);
        report_url_from_paths(&mut args).expect("usable");
        assert!(args.paths.is_empty());
    }

    #[test]
    fn reports_stay_under_the_body_limit_and_the_token_cap() {
        let format = TokenFormat::default();
        let now = crate::clock::now();
        let tokens: Vec<String> = (0..2500).map(|_| format.generate(now).token).collect();
        let batches = report_batches(&tokens);
        for batch in &batches {
            let body = serde_json::to_vec(&LeakReport {
                tokens: batch.to_vec(),
                url: Some("tessera scan: src/config.rs:12".into()),
            })
            .expect("json");
            assert!(body.len() < 64 * 1024, "a report of {} bytes", body.len());
            assert!(!batch.is_empty() && batch.len() <= REPORT_BATCH);
        }
        // Nothing lost, nothing repeated, order kept.
        assert_eq!(batches.concat(), tokens);
        assert!(report_batches(&[]).is_empty());
        let long = vec!["x".repeat(40_000), "y".repeat(40_000)];
        assert_eq!(
            report_batches(&long).len(),
            2,
            "one oversized token per report"
        );
    }
}
