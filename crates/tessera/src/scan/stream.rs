//! Finds tokens in a byte stream of any length with bounded memory.
//!
//! Input is fed in chunks; each is scanned together with a short tail of
//! the previous one, so a token split across two chunks is still found.
//!
//! Invariants:
//! - memory is one chunk plus `token_len + 1` bytes, whatever the input
//!   (a multi-gigabyte file or a single line without newlines);
//! - a token is reported once, with the same boundary rules as
//!   [`find_tokens`] on the whole input: the character before it must not
//!   be alphanumeric or `_`, the one after it not alphanumeric;
//! - bytes outside ASCII are seen as `?` (tokens are ASCII), which keeps
//!   offsets and line numbers exact for any encoding.

use tessera_core::token::find_tokens;
use tessera_core::TokenFormat;

/// One token found: the full string (kept in memory only to report it to
/// the server, never printed) and its 1-based line.
#[derive(Clone, PartialEq, Eq)]
pub struct Hit {
    pub token: String,
    pub line: u64,
}

impl std::fmt::Debug for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hit")
            .field("token", &"<redacted>")
            .field("line", &self.line)
            .finish()
    }
}

/// Incremental scanner: [`Scanner::feed`] chunks, then [`Scanner::finish`].
pub struct Scanner<'f> {
    format: &'f TokenFormat,
    /// The unscanned tail of earlier input, then the chunk being scanned.
    buf: Vec<u8>,
    /// How many bytes at the start of `buf` are carried over from the
    /// previous window.
    carried: usize,
    /// Line number of `buf[0]`.
    line: u64,
    hits: Vec<Hit>,
}

impl<'f> Scanner<'f> {
    pub fn new(format: &'f TokenFormat) -> Self {
        Self {
            format,
            buf: Vec::new(),
            carried: 0,
            line: 1,
            hits: Vec::new(),
        }
    }

    /// Scans `chunk`, except a tail that could be the start of a token
    /// continued in the next chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buf
            .extend(chunk.iter().map(|&b| if b.is_ascii() { b } else { b'?' }));
        self.scan_window(false);
        // Keep the last token_len + 1 bytes: a token that may continue in
        // the next chunk, and the character before it.
        let keep = (self.format.token_len() + 1).min(self.buf.len());
        let drop = self.buf.len() - keep;
        self.line += count_newlines(&self.buf[..drop]);
        self.buf.drain(..drop);
        self.carried = self.buf.len();
    }

    /// Scans what is left and returns every token found, in order.
    pub fn finish(mut self) -> Vec<Hit> {
        self.scan_window(true);
        self.hits
    }

    fn scan_window(&mut self, at_end: bool) {
        // Only ASCII is in `buf`, so this cannot fail.
        let Ok(text) = std::str::from_utf8(&self.buf) else {
            return;
        };
        for token in find_tokens(self.format, text) {
            let start = token.as_ptr() as usize - text.as_ptr() as usize;
            let end = start + token.len();
            // Judged in the previous window already (reported or refused),
            // where it ended before that window's end. The carried tail is
            // one byte longer than a token, so the window that judges a
            // token also sees the character before it.
            if end < self.carried {
                continue;
            }
            // A token touching the window's end may be followed by more
            // alphanumerics in the next chunk: judge it then.
            if !at_end && end == text.len() {
                continue;
            }
            self.hits.push(Hit {
                token: token.to_owned(),
                line: self.line + count_newlines(&self.buf[..start]),
            });
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(format: &TokenFormat) -> String {
        format.generate(crate::clock::now()).token
    }

    fn scan_in_chunks(format: &TokenFormat, input: &[u8], chunk: usize) -> Vec<Hit> {
        let mut scanner = Scanner::new(format);
        for piece in input.chunks(chunk) {
            scanner.feed(piece);
        }
        scanner.finish()
    }

    #[test]
    fn finds_tokens_with_lines_whatever_the_chunk_size() {
        let format = TokenFormat::default();
        let (a, b) = (token(&format), token(&format));
        let input = format!("first\nkey = \"{a}\"\n\nnaïve ünïcödé {b}\nlast");
        for chunk in [1, 2, 7, 30, 71, 72, 73, 74, 1000] {
            let hits = scan_in_chunks(&format, input.as_bytes(), chunk);
            assert_eq!(
                hits,
                vec![
                    Hit {
                        token: a.clone(),
                        line: 2
                    },
                    Hit {
                        token: b.clone(),
                        line: 4
                    }
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn boundaries_hold_across_chunks() {
        let format = TokenFormat::default();
        let t = token(&format);
        // Glued to alphanumerics on either side: not a token.
        for input in [format!("x{t}"), format!("{t}x"), format!("_{t}")] {
            for chunk in [1, 5, 72, 73, 74, 75, 500] {
                assert!(
                    scan_in_chunks(&format, input.as_bytes(), chunk).is_empty(),
                    "{chunk}"
                );
            }
        }
        for chunk in [1, 5, 72, 73, 74, 75, 500] {
            let hits = scan_in_chunks(&format, format!("-{t}.").as_bytes(), chunk);
            assert_eq!(hits.len(), 1, "{chunk}");
        }
    }

    #[test]
    fn a_broken_checksum_or_random_string_is_not_a_token() {
        let format = TokenFormat::default();
        let t = token(&format);
        let mut broken = t.clone().into_bytes();
        let last = broken.len() - 1;
        broken[last] = if broken[last] == b'A' { b'B' } else { b'A' };
        let random = format!("tsr_{}", "aZ3".repeat(21));
        let input = [broken, b"\n".to_vec(), random.into_bytes()].concat();
        assert!(scan_in_chunks(&format, &input, 16).is_empty());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let format = TokenFormat::default();
        let t = token(&format);
        let hits = scan_in_chunks(&format, t.as_bytes(), 64);
        assert!(!format!("{hits:?}").contains(&t));
    }
}
