//! Tokens in git history and in the staged changes, read from the `git`
//! binary's patch output (`git log -p --all`, `git diff --cached`).
//!
//! Only added lines are scanned (a token in history was added by some
//! commit), plus commit messages. Merge commits show no diff, so a token
//! that only appears in a merge's conflict resolution is missed; every
//! ordinary commit on every branch, tag and stash is covered.
//!
//! Invariants: git's output is read as a stream, each line in pieces of at
//! most [`PIECE`] bytes, so memory stays bounded whatever the history holds;
//! binary files show as "Binary files differ" and are skipped by git.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use tessera_core::TokenFormat;

use super::stream::Scanner;
use super::{Finding, Location};

/// Longest piece of a line read at once.
const PIECE: u64 = 64 * 1024;

/// Which patch stream to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Every commit reachable from any ref.
    History,
    /// `git diff --cached`: what the next commit will add.
    Staged,
}

/// Runs git in `repo` and returns what it found, or why git could not be
/// read.
pub fn scan(repo: &Path, source: Source, format: &TokenFormat) -> Result<Vec<Finding>, String> {
    if !repo.exists() {
        return Err("no such file or directory".into());
    }
    let dir = if repo.is_dir() {
        repo
    } else {
        repo.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    };
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(["-c", "core.quotePath=false"]);
    match source {
        Source::History => command.args(["log", "-p", "--all", "--no-decorate", "--format=medium"]),
        Source::Staged => command.args(["diff", "--cached"]),
    };
    command
        .args(["-U0", "--no-color", "--no-ext-diff", "--no-textconv"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let Some(stdout) = child.stdout.take() else {
        return Err("cannot read git's output".into());
    };
    // git's stderr is small (an error message); read it after stdout so a
    // chatty git cannot block on a full pipe while we wait.
    let findings = parse(BufReader::new(stdout), format)
        .map_err(|e| format!("cannot read git's output: {e}"))?;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = child
        .wait()
        .map_err(|e| format!("git did not finish: {e}"))?;
    if !status.success() {
        let reason = stderr.lines().next().unwrap_or("git failed").trim();
        return Err(reason.to_owned());
    }
    Ok(findings)
}

/// Where the parser is in the patch stream.
enum State {
    /// Commit header and message, file headers, between hunks.
    Outside,
    /// Inside a hunk: how many removed and added lines are still to come,
    /// and the line number of the next added line.
    Hunk { old: u64, new: u64, line: u64 },
}

struct Parser<'f> {
    format: &'f TokenFormat,
    commit: Option<String>,
    path: Option<String>,
    state: State,
    message_line: u64,
    findings: Vec<Finding>,
}

/// Reads a patch stream line by line (each line in bounded pieces).
pub fn parse(mut reader: impl BufRead, format: &TokenFormat) -> std::io::Result<Vec<Finding>> {
    let mut parser = Parser {
        format,
        commit: None,
        path: None,
        state: State::Outside,
        message_line: 0,
        findings: Vec::new(),
    };
    let mut piece = Vec::new();
    loop {
        piece.clear();
        if (&mut reader).take(PIECE).read_until(b'\n', &mut piece)? == 0 {
            break;
        }
        let complete = piece.ends_with(b"\n");
        parser.line(&piece, complete, &mut reader)?;
    }
    Ok(parser.findings)
}

impl Parser<'_> {
    /// Handles one line whose first piece is `first`; reads the rest of it
    /// from `reader` when `complete` is false.
    fn line(
        &mut self,
        first: &[u8],
        complete: bool,
        reader: &mut impl BufRead,
    ) -> std::io::Result<()> {
        if let State::Hunk { old, new, line } = &mut self.state {
            match first.first() {
                Some(b'+') if *new > 0 => {
                    let at = *line;
                    *new -= 1;
                    *line += 1;
                    let location = Location::Diff {
                        commit: self.commit.clone(),
                        path: self.path.clone().unwrap_or_default(),
                        line: at,
                    };
                    self.scan_rest(&first[1..], complete, reader, location)?;
                    self.leave_finished_hunk();
                    return Ok(());
                }
                Some(b'-') if *old > 0 => *old -= 1,
                Some(b' ') => {
                    *old = old.saturating_sub(1);
                    *new = new.saturating_sub(1);
                    *line += 1;
                }
                Some(b'\\') => {} // "\ No newline at end of file"
                _ => self.state = State::Outside,
            }
            if matches!(self.state, State::Hunk { .. }) {
                self.leave_finished_hunk();
                return skip_rest(complete, reader);
            }
        }
        self.outside(first);
        if self.commit.is_some() && self.path.is_none() && first.starts_with(b"    ") {
            self.message_line += 1;
            let location = Location::Message {
                commit: self.commit.clone().unwrap_or_default(),
                line: self.message_line,
            };
            return self.scan_rest(first, complete, reader, location);
        }
        skip_rest(complete, reader)
    }

    /// A header line: commit, file, or hunk.
    fn outside(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(rest) = text.strip_prefix("commit ") {
            self.commit = rest.split_whitespace().next().map(str::to_owned);
            self.path = None;
            self.message_line = 0;
        } else if text.starts_with("diff --git ") || text.starts_with("diff --cc ") {
            // Messages end where the first diff begins.
            self.path = Some(String::new());
        } else if let Some(rest) = text.strip_prefix("+++ ") {
            self.path = Some(new_path(rest));
        } else if let Some(rest) = text.strip_prefix("@@ ") {
            if let Some((old, new, line)) = hunk_header(rest) {
                self.state = State::Hunk { old, new, line };
                self.leave_finished_hunk();
            }
        }
    }

    fn leave_finished_hunk(&mut self) {
        if let State::Hunk { old: 0, new: 0, .. } = self.state {
            self.state = State::Outside;
        }
    }

    /// Scans a line's first piece and the rest of it.
    fn scan_rest(
        &mut self,
        first: &[u8],
        complete: bool,
        reader: &mut impl BufRead,
        location: Location,
    ) -> std::io::Result<()> {
        let mut scanner = Scanner::new(self.format);
        scanner.feed(first);
        rest_of_line(complete, reader, |piece| scanner.feed(piece))?;
        for hit in scanner.finish() {
            self.findings.push(Finding {
                location: location.clone(),
                token: hit.token,
            });
        }
        Ok(())
    }
}

/// Reads and drops the rest of a line.
fn skip_rest(complete: bool, reader: &mut impl BufRead) -> std::io::Result<()> {
    rest_of_line(complete, reader, |_| {})
}

/// Reads the rest of a line (unless `complete`: it has ended) in pieces of
/// at most [`PIECE`] bytes, so a huge line never sits in memory whole.
fn rest_of_line(
    complete: bool,
    reader: &mut impl BufRead,
    mut each: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    let mut done = complete;
    let mut piece = Vec::new();
    while !done {
        piece.clear();
        if reader.take(PIECE).read_until(b'\n', &mut piece)? == 0 {
            break;
        }
        done = piece.ends_with(b"\n");
        each(&piece);
    }
    Ok(())
}

/// `b/src/main.rs` → `src/main.rs`; `/dev/null` (a deletion) → empty.
fn new_path(raw: &str) -> String {
    let raw = raw.trim_end_matches('\t');
    let unquoted = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    if unquoted == "/dev/null" {
        return String::new();
    }
    unquoted.strip_prefix("b/").unwrap_or(unquoted).to_owned()
}

/// `-12,3 +14,5 @@ fn x()` → (3 removed, 5 added, first added line 14). A
/// missing count means 1.
fn hunk_header(rest: &str) -> Option<(u64, u64, u64)> {
    let mut parts = rest.split_whitespace();
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let count = |range: &str| -> Option<(u64, u64)> {
        match range.split_once(',') {
            Some((start, n)) => Some((start.parse().ok()?, n.parse().ok()?)),
            None => Some((range.parse().ok()?, 1)),
        }
    };
    let (_, old_n) = count(old)?;
    let (new_start, new_n) = count(new)?;
    Some((old_n, new_n, new_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_added_lines_and_messages_with_their_places() {
        let format = TokenFormat::default();
        let token = |_: u8| format.generate(crate::clock::now()).token;
        let (a, b, c, removed) = (token(0), token(1), token(2), token(3));
        let patch = format!(
            "commit 1111111111111111111111111111111111111111\n\
             Author: A <a@example>\n\
             Date:   Mon Jan 1 00:00:00 2024 +0000\n\
             \n\
             \x20   add config\n\
             \x20   oops: {c}\n\
             \n\
             diff --git a/conf.env b/conf.env\n\
             new file mode 100644\n\
             index 0000000..1111111\n\
             --- /dev/null\n\
             +++ b/conf.env\n\
             @@ -0,0 +1,2 @@\n\
             +NAME=x\n\
             +KEY={a}\n\
             diff --git a/src/x.rs b/src/x.rs\n\
             --- a/src/x.rs\n\
             +++ b/src/x.rs\n\
             @@ -7 +7 @@ fn f()\n\
             -let k = \"{removed}\";\n\
             +++ k = \"{b}\";\n\
             diff --git a/img.png b/img.png\n\
             Binary files a/img.png and b/img.png differ\n"
        );
        let found = parse(patch.as_bytes(), &format).expect("parse");
        let seen: Vec<(String, &str)> = found
            .iter()
            .map(|f| (f.location.to_string(), f.token.as_str()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("1111111 (commit message, line 2)".to_owned(), c.as_str()),
                ("1111111:conf.env:2".to_owned(), a.as_str()),
                ("1111111:src/x.rs:7".to_owned(), b.as_str()),
            ]
        );
    }

    #[test]
    fn reads_hunk_headers() {
        assert_eq!(hunk_header("-12,3 +14,5 @@ fn x()"), Some((3, 5, 14)));
        assert_eq!(hunk_header("-7 +7 @@"), Some((1, 1, 7)));
        assert_eq!(hunk_header("-0,0 +1 @@"), Some((0, 1, 1)));
        assert_eq!(hunk_header("garbage"), None);
        assert_eq!(new_path("b/a b.txt"), "a b.txt");
        assert_eq!(new_path("\"b/tab\\there\""), "tab\\there");
        assert_eq!(new_path("/dev/null"), "");
    }
}
