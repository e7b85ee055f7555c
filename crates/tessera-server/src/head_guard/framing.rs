//! The pure part of the guard: the checks on a request head and the
//! state machine that follows each body's framing. No I/O, no clock, no
//! allocation: [`Framing::feed`] looks at bytes and says how many of them
//! may go to hyper.
//!
//! Its invariants, which the guard relies on and the tests check:
//!
//! - What it releases is a prefix of its input, and only ever whole heads
//!   that passed every check (the rules in the [`head_guard`](super)
//!   module docs), and the body bytes those heads announced. The start of
//!   a head not yet complete is never released: the caller keeps it and
//!   feeds it again, from its start, with what arrives after it.
//! - How the bytes are split across calls changes nothing: the same input
//!   gets the same decisions, fed at once or a byte at a time.
//! - It never panics, on any input (nothing is indexed, and a number that
//!   would overflow is refused), and a refusal is final: every later call
//!   refuses again, releasing nothing.
//! - A refusal of a head has `mid_body` false; one found while following a
//!   chunked body (its head already released) has it true.
//! - Its limits are hyper's: [`MAX_HEADERS`] headers and trailers, the
//!   request target length, the header name length, and the chunk
//!   extension and trailer sizes; heads past `max_head` bytes are refused.
//! - [`Framing::heads`] counts exactly the heads released.

use std::mem::MaybeUninit;

use axum::http::{StatusCode, Uri};

use super::refusal::Refusal;
use super::MAX_HEADERS;

/// hyper's limit on a request target.
const MAX_URI_LEN: usize = u16::MAX as usize - 1;
/// hyper refuses a header name this long or longer.
const MAX_HEADER_NAME: usize = 1 << 16;
/// hyper's limits in a chunked body: chunk-extension bytes over the whole
/// body, and trailer bytes.
const CHUNK_EXTENSIONS_LIMIT: u64 = 16 * 1024;
const TRAILER_LIMIT: usize = 16 * 1024;

/// What [`Framing::feed`] decided about its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// The first `n` bytes may go to hyper. Anything after them is the
    /// start of a head not yet complete: keep it, and feed it again,
    /// followed by what arrives next.
    Release(usize),
    /// The first `n` bytes may go to hyper; then the request must be
    /// refused, and nothing after them passed on.
    Refuse(usize, Refusal),
}

/// The framing of one connection's requests, as a state machine over the
/// bytes the client sends (see the module docs). It never panics, and a
/// refusal is final.
#[derive(Debug)]
pub struct Framing {
    state: State,
    max_head: usize,
    /// While a head is incomplete: how many of its bytes were looked at.
    head_seen: usize,
    /// Heads let through so far.
    heads: u64,
}

#[derive(Debug)]
enum State {
    /// Expecting a request head.
    Head,
    /// In a body: this many bytes left.
    Length(u64),
    Chunked(Chunked),
    Refused(Refusal),
}

impl Framing {
    /// The framing of a new connection; heads longer than `max_head` bytes
    /// are refused.
    pub fn new(max_head: usize) -> Self {
        Self {
            state: State::Head,
            max_head,
            head_seen: 0,
            heads: 0,
        }
    }

    /// How many request heads have been let through.
    pub fn heads(&self) -> u64 {
        self.heads
    }

    /// Whether the client is in the middle of sending a body.
    pub fn in_body(&self) -> bool {
        matches!(self.state, State::Length(_) | State::Chunked(_))
    }

    /// Reads `input`, which starts where the previous call's released
    /// bytes ended (so an incomplete head is fed again, from its start,
    /// with more bytes after it).
    pub fn feed(&mut self, input: &[u8]) -> Fed {
        let mut at = 0;
        loop {
            let rest = input.get(at..).unwrap_or_default();
            let next = match &mut self.state {
                State::Refused(refusal) => return Fed::Refuse(at, *refusal),
                _ if rest.is_empty() => return Fed::Release(at),
                State::Head => match read_head(rest, self.max_head, &mut self.head_seen) {
                    HeadStep::Partial => return Fed::Release(at),
                    HeadStep::Refuse(refusal) => State::Refused(refusal),
                    HeadStep::Complete { len, body } => {
                        at += len;
                        self.heads += 1;
                        match body {
                            Body::Length(n) if n > 0 => State::Length(n),
                            Body::Length(_) => State::Head,
                            Body::Chunked => State::Chunked(Chunked::new()),
                        }
                    }
                },
                State::Length(left) => {
                    let take = bounded(*left, rest.len());
                    at += take;
                    *left -= take as u64;
                    if *left > 0 {
                        continue;
                    }
                    State::Head
                }
                State::Chunked(chunked) => match chunked.feed(rest) {
                    Ok(None) => {
                        at = input.len();
                        continue;
                    }
                    Ok(Some(used)) => {
                        at += used;
                        State::Head
                    }
                    Err((used, message)) => {
                        at += used;
                        State::Refused(Refusal {
                            status: StatusCode::BAD_REQUEST,
                            message,
                            mid_body: true,
                        })
                    }
                },
            };
            self.state = next;
        }
    }
}

/// `n`, or `available` if that is less.
fn bounded(n: u64, available: usize) -> usize {
    usize::try_from(n).map_or(available, |n| n.min(available))
}

enum Body {
    Length(u64),
    Chunked,
}

enum HeadStep {
    Partial,
    Complete { len: usize, body: Body },
    Refuse(Refusal),
}

const HEAD_TOO_LARGE: Refusal =
    Refusal::too_large("the request line and headers are too large (see max_header_bytes)");

/// Parses the head at the start of `bytes`. `seen` is how much of an
/// incomplete head was already looked at: like hyper, it is parsed again
/// only once something that may end it has arrived.
fn read_head(bytes: &[u8], max_head: usize, seen: &mut usize) -> HeadStep {
    if *seen > 0 && !may_end_head(bytes, *seen) {
        return incomplete(bytes, max_head, seen);
    }
    let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let error = match request.parse_with_uninit_headers(bytes, &mut headers) {
        Ok(httparse::Status::Partial) => return incomplete(bytes, max_head, seen),
        Ok(httparse::Status::Complete(len)) => {
            *seen = 0;
            if len > max_head {
                return HeadStep::Refuse(HEAD_TOO_LARGE);
            }
            return check_head(&request, len);
        }
        Err(error) => error,
    };
    *seen = 0;
    HeadStep::Refuse(match error {
        httparse::Error::TooManyHeaders => {
            Refusal::too_large("the request has more than 100 headers")
        }
        httparse::Error::HeaderName => Refusal::bad("malformed request: invalid header name"),
        httparse::Error::HeaderValue => Refusal::bad("malformed request: invalid header value"),
        httparse::Error::NewLine => Refusal::bad("malformed request: invalid line ending"),
        httparse::Error::Version => {
            Refusal::bad("malformed request: invalid HTTP version (HTTP/1.1 is served)")
        }
        httparse::Error::Token | httparse::Error::Status => Refusal::bad("malformed request line"),
    })
}

fn incomplete(bytes: &[u8], max_head: usize, seen: &mut usize) -> HeadStep {
    if bytes.len() >= max_head {
        *seen = 0;
        return HeadStep::Refuse(HEAD_TOO_LARGE);
    }
    *seen = bytes.len();
    HeadStep::Partial
}

/// Whether a head end (an empty line, `\n\n` or `\n\r\n`) may be in
/// `bytes` past the first `seen` bytes already looked at.
fn may_end_head(bytes: &[u8], seen: usize) -> bool {
    let from = seen.saturating_sub(3);
    let tail = bytes.get(from..).unwrap_or_default();
    tail.iter().enumerate().any(|(i, &b)| {
        b == b'\n' && {
            let after = tail.get(i + 1..).unwrap_or_default();
            after.starts_with(b"\n") || after.starts_with(b"\r\n")
        }
    })
}

/// The rules for a complete head (see the [`head_guard`](super) module docs).
fn check_head(request: &httparse::Request<'_, '_>, len: usize) -> HeadStep {
    let target = request.path.unwrap_or_default();
    if target.len() > MAX_URI_LEN {
        return HeadStep::Refuse(Refusal::head(
            StatusCode::URI_TOO_LONG,
            "the request target is too long",
        ));
    }
    if !plain_target(target.as_bytes()) && target.parse::<Uri>().is_err() {
        return HeadStep::Refuse(Refusal::bad("the request target is not a valid URI"));
    }
    let mut lengths = 0usize;
    let mut length = Some(0);
    let mut transfer_encoding = false;
    let mut codings = 0usize;
    let mut chunked_last = false;
    for header in request.headers.iter() {
        if header.name.len() >= MAX_HEADER_NAME {
            return HeadStep::Refuse(Refusal::too_large("a header name is too long"));
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            length = digits(header.value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            for coding in header.value.split(|&b| b == b',') {
                codings += 1;
                chunked_last = trim(coding).eq_ignore_ascii_case(b"chunked");
            }
        }
    }
    if lengths > 0 && transfer_encoding {
        return HeadStep::Refuse(Refusal::bad(
            "the request has both Content-Length and Transfer-Encoding",
        ));
    }
    if lengths > 1 {
        return HeadStep::Refuse(Refusal::bad(
            "the request has more than one Content-Length header",
        ));
    }
    if transfer_encoding {
        if request.version != Some(1) {
            return HeadStep::Refuse(Refusal::bad(
                "HTTP/1.0 requests cannot use Transfer-Encoding",
            ));
        }
        if codings != 1 || !chunked_last {
            return HeadStep::Refuse(Refusal::bad(
                "the only Transfer-Encoding accepted is \"chunked\"",
            ));
        }
        return HeadStep::Complete {
            len,
            body: Body::Chunked,
        };
    }
    match length {
        Some(n) => HeadStep::Complete {
            len,
            body: Body::Length(n),
        },
        None => HeadStep::Refuse(Refusal::bad("the Content-Length header is not a number")),
    }
}

/// A request target that certainly parses (an origin-form path and query
/// of common characters), so the common case skips the full URI parse.
fn plain_target(target: &[u8]) -> bool {
    target.first() == Some(&b'/')
        && target.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'@'
                        | b'/'
                        | b'?'
                        | b'%'
                )
        })
}

/// A `Content-Length` value: decimal digits only (no sign, no spaces, no
/// list), as hyper reads it.
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Where a chunked body is: hyper's decoder states, same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Size,
    SizeLws,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

#[derive(Debug)]
struct Chunked {
    phase: Phase,
    /// The chunk size being read, then what is left of the chunk's data.
    size: u64,
    extension_bytes: u64,
    /// Trailer bytes as hyper counts them; `None` before the first.
    trailer_bytes: Option<usize>,
    trailers: usize,
}

type ChunkError = (usize, &'static str);

impl Chunked {
    fn new() -> Self {
        Self {
            phase: Phase::Start,
            size: 0,
            extension_bytes: 0,
            trailer_bytes: None,
            trailers: 0,
        }
    }

    /// Follows `input`: `Ok(Some(n))` if the body ends after `n` bytes,
    /// `Ok(None)` if all of it is body, `Err((n, why))` if byte `n` breaks
    /// the framing (the `n` bytes before it are body).
    fn feed(&mut self, input: &[u8]) -> Result<Option<usize>, ChunkError> {
        let mut i = 0;
        while let Some(&byte) = input.get(i) {
            if self.phase == Phase::Data {
                let take = bounded(self.size, input.len() - i);
                i += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.phase = Phase::DataCr;
                }
                continue;
            }
            let fail = |why| Err((i, why));
            self.phase = match (self.phase, byte) {
                (Phase::Start, b) => match hex(b) {
                    Some(digit) => {
                        self.size = u64::from(digit);
                        Phase::Size
                    }
                    None => return fail("malformed chunked body: missing chunk size"),
                },
                (Phase::Size, b) if hex(b).is_some() => {
                    let digit = u64::from(hex(b).unwrap_or_default());
                    match self.size.checked_mul(16).and_then(|n| n.checked_add(digit)) {
                        Some(size) => self.size = size,
                        None => return fail("malformed chunked body: chunk size too large"),
                    }
                    Phase::Size
                }
                (Phase::Size | Phase::SizeLws, b' ' | b'\t') => Phase::SizeLws,
                (Phase::Size | Phase::SizeLws, b';') => Phase::Extension,
                (Phase::Size | Phase::SizeLws | Phase::Extension, b'\r') => Phase::SizeLf,
                (Phase::Size | Phase::SizeLws, _) => {
                    return fail("malformed chunked body: invalid chunk size line")
                }
                (Phase::Extension, b'\n') => {
                    return fail("malformed chunked body: newline in a chunk extension")
                }
                (Phase::Extension, _) => {
                    self.extension_bytes += 1;
                    if self.extension_bytes >= CHUNK_EXTENSIONS_LIMIT {
                        return fail("malformed chunked body: chunk extensions too long");
                    }
                    Phase::Extension
                }
                (Phase::SizeLf, b'\n') if self.size == 0 => Phase::EndCr,
                (Phase::SizeLf, b'\n') => Phase::Data,
                (Phase::DataCr, b'\r') => Phase::DataLf,
                (Phase::DataLf, b'\n') => Phase::Start,
                (Phase::SizeLf | Phase::DataCr | Phase::DataLf, _) => {
                    return fail("malformed chunked body: missing line end")
                }
                (Phase::EndCr, b'\r') => {
                    if self.trailer_bytes.is_some() && self.add_trailer_byte() {
                        return fail("malformed chunked body: trailers too large");
                    }
                    Phase::EndLf
                }
                (Phase::EndCr, _) => {
                    if self.trailer_bytes.is_none() {
                        // hyper does not check the first byte.
                        self.trailer_bytes = Some(1);
                    } else if self.add_trailer_byte() {
                        return fail("malformed chunked body: trailers too large");
                    }
                    Phase::Trailer
                }
                (Phase::Trailer, b) => {
                    if self.add_trailer_byte() {
                        return fail("malformed chunked body: trailers too large");
                    }
                    if b == b'\r' {
                        Phase::TrailerLf
                    } else {
                        Phase::Trailer
                    }
                }
                (Phase::TrailerLf, b'\n') => {
                    if self.trailers >= MAX_HEADERS {
                        return fail("malformed chunked body: too many trailers");
                    }
                    self.trailers += 1;
                    if self.add_trailer_byte() {
                        return fail("malformed chunked body: trailers too large");
                    }
                    Phase::EndCr
                }
                (Phase::TrailerLf, _) => return fail("malformed chunked body: invalid trailer"),
                (Phase::EndLf, b'\n') => {
                    if self.trailer_bytes.is_some() && self.add_trailer_byte() {
                        return fail("malformed chunked body: trailers too large");
                    }
                    return Ok(Some(i + 1));
                }
                (Phase::EndLf, _) => return fail("malformed chunked body: invalid last chunk"),
                // Handled above.
                (Phase::Data, _) => Phase::Data,
            };
            i += 1;
        }
        Ok(None)
    }

    /// Counts one trailer byte; true once over hyper's limit.
    fn add_trailer_byte(&mut self) -> bool {
        let count = self.trailer_bytes.unwrap_or(0) + 1;
        self.trailer_bytes = Some(count);
        count >= TRAILER_LIMIT
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 16 * 1024;

    /// Feeds `parts` one after another as the guard does (an incomplete
    /// head is fed again with what follows); returns the bytes released
    /// and the refusal, if any.
    fn run(framing: &mut Framing, parts: &[&[u8]]) -> (Vec<u8>, Option<Refusal>) {
        let mut released = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for part in parts {
            pending.extend_from_slice(part);
            match framing.feed(&pending) {
                Fed::Release(n) => {
                    assert!(n <= pending.len());
                    released.extend_from_slice(&pending[..n]);
                    pending.drain(..n);
                }
                Fed::Refuse(n, refusal) => {
                    assert!(n <= pending.len());
                    released.extend_from_slice(&pending[..n]);
                    return (released, Some(refusal));
                }
            }
        }
        (released, None)
    }

    fn whole(input: &[u8]) -> (Vec<u8>, Option<Refusal>, u64) {
        let mut framing = Framing::new(MAX);
        let (released, refusal) = run(&mut framing, &[input]);
        (released, refusal, framing.heads())
    }

    fn pipelined() -> Vec<u8> {
        [
            &b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{\"token\":1}",
            b"\r\nPOST /a HTTP/1.1\r\nHost: x\r\ntransfer-encoding:  Chunked \r\n\r\n",
            b"4;name=value;x\r\nab\r\n\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n",
            b"PUT /b?q=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            b"POST /c HTTP/1.1\nContent-Length: 3\n\nabc",
            b"POST /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ]
        .concat()
    }

    #[test]
    fn pipelined_requests_are_released_whole() {
        let input = pipelined();
        let (released, refusal, heads) = whole(&input);
        assert_eq!(refusal, None);
        assert_eq!(released, input);
        assert_eq!(heads, 6);
    }

    #[test]
    fn a_split_anywhere_changes_nothing() {
        let input = pipelined();
        for at in 0..=input.len() {
            let mut framing = Framing::new(MAX);
            let (released, refusal) = run(&mut framing, &[&input[..at], &input[at..]]);
            assert_eq!(refusal, None, "split at {at}");
            assert_eq!(released, input, "split at {at}");
            assert_eq!(framing.heads(), 6, "split at {at}");
            assert!(!framing.in_body());
        }
        // And a byte at a time.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let mut framing = Framing::new(MAX);
        let (released, refusal) = run(&mut framing, &bytes);
        assert_eq!((released, refusal), (input, None));
    }

    #[test]
    fn a_head_is_held_until_complete() {
        let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        for at in 0..head.len() {
            let mut framing = Framing::new(MAX);
            assert_eq!(framing.feed(&head[..at]), Fed::Release(0), "at {at}");
            assert_eq!(framing.feed(head), Fed::Release(head.len()));
        }
    }

    #[test]
    fn bodies_are_followed() {
        let mut framing = Framing::new(MAX);
        let head = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(framing.feed(head), Fed::Release(head.len()));
        assert!(framing.in_body());
        assert_eq!(framing.feed(b"12345"), Fed::Release(5));
        assert!(framing.in_body());
        // The body's end, then an incomplete head.
        assert_eq!(framing.feed(b"67890GET / HT"), Fed::Release(5));
        assert!(!framing.in_body());

        let mut framing = Framing::new(MAX);
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(framing.feed(head), Fed::Release(head.len()));
        for part in [&b"5\r"[..], b"\nhel", b"lo\r\n", b"0\r\nA: b\r", b"\n"] {
            assert_eq!(framing.feed(part), Fed::Release(part.len()));
            assert!(framing.in_body());
        }
        assert_eq!(framing.feed(b"\r\n"), Fed::Release(2));
        assert!(!framing.in_body());
    }

    fn refused(input: &[u8]) -> Refusal {
        match whole(input) {
            (_, Some(refusal), _) => refusal,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn content_length_with_transfer_encoding_is_refused_in_either_order() {
        for framing in [
            "Content-Length: 5\r\nTransfer-Encoding: chunked",
            "Transfer-Encoding: chunked\r\nContent-Length: 5",
            "transfer-encoding: chunked\r\nX: y\r\ncontent-length: 0",
        ] {
            let request = format!("POST / HTTP/1.1\r\n{framing}\r\n\r\n0\r\n\r\n");
            let refusal = refused(request.as_bytes());
            assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
            assert!(!refusal.mid_body);
            assert!(refusal.message.contains("Content-Length"), "{refusal:?}");
        }
        // After a good request: that one is released, nothing after it.
        let good = b"GET / HTTP/1.1\r\n\r\n";
        let input = [
            &good[..],
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]
        .concat();
        let (released, refusal, heads) = whole(&input);
        assert_eq!(released, good);
        assert!(refusal.is_some());
        assert_eq!(heads, 1);
    }

    #[test]
    fn content_lengths_must_be_one_plain_number() {
        for framing in [
            "Content-Length: 5\r\nContent-Length: 6",
            "Content-Length: 5\r\nContent-Length: 5",
            "Content-Length: 5, 5",
            "Content-Length: +5",
            "Content-Length: -1",
            "Content-Length: 0x10",
            "Content-Length:",
            "Content-Length: 99999999999999999999",
        ] {
            let request = format!("POST / HTTP/1.1\r\n{framing}\r\n\r\nhello!");
            assert_eq!(
                refused(request.as_bytes()).status,
                StatusCode::BAD_REQUEST,
                "{framing}"
            );
        }
        let (_, refusal, _) = whole(b"POST / HTTP/1.1\r\nContent-Length:  007 \r\n\r\n");
        assert_eq!(refusal, None);
    }

    #[test]
    fn transfer_encoding_must_be_exactly_chunked() {
        for framing in [
            "Transfer-Encoding: gzip",
            "Transfer-Encoding: gzip, chunked",
            "Transfer-Encoding: chunked, gzip",
            "Transfer-Encoding: chunked,",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            "Transfer-Encoding:",
            "Transfer-Encoding: chunked\u{0}",
        ] {
            let request = format!("POST / HTTP/1.1\r\n{framing}\r\n\r\n0\r\n\r\n");
            assert_eq!(
                refused(request.as_bytes()).status,
                StatusCode::BAD_REQUEST,
                "{framing:?}"
            );
        }
        let refusal = refused(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        assert!(refusal.message.contains("HTTP/1.0"));
    }

    #[test]
    fn oversized_heads_are_431() {
        // Exactly at the limit is fine; one more byte is not.
        let head = |len: usize| {
            let start = "GET / HTTP/1.1\r\nX: ";
            let pad = len - start.len() - 4;
            format!("{start}{}\r\n\r\n", "a".repeat(pad))
        };
        assert_eq!(whole(head(MAX).as_bytes()).1, None);
        let refusal = refused(head(MAX + 1).as_bytes());
        assert_eq!(refusal.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        // Incomplete but already too long, in pieces.
        let long = head(4 * MAX);
        let mut framing = Framing::new(MAX);
        let parts: Vec<&[u8]> = long.as_bytes().chunks(1000).collect();
        let (released, refusal) = run(&mut framing, &parts);
        assert!(released.is_empty());
        assert_eq!(
            refusal.map(|r| r.status),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        // More than 100 headers, complete or not.
        let many = |n: usize| {
            let lines: String = (0..n).map(|i| format!("X-{i}: v\r\n")).collect();
            format!("GET / HTTP/1.1\r\n{lines}\r\n")
        };
        assert_eq!(whole(many(100).as_bytes()).1, None);
        assert_eq!(
            refused(many(101).as_bytes()).status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        let partial = many(150);
        assert!(framing_of(&partial.as_bytes()[..partial.len() - 2]).is_some());
    }

    fn framing_of(input: &[u8]) -> Option<Refusal> {
        whole(input).1
    }

    #[test]
    fn malformed_heads_are_400() {
        for input in [
            &b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"[..],
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1\r\n Folded: x\r\n\r\n",
            b"G\x01T / HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET http://[::1 HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: \x7f\r\n\r\n",
        ] {
            let refusal = refused(input);
            assert_eq!(refusal.status, StatusCode::BAD_REQUEST, "{input:?}");
        }
        // Unusual but valid targets pass.
        for target in ["*", "http://example.com/a?b", "/a%20b?c=d"] {
            let input = format!("OPTIONS {target} HTTP/1.1\r\n\r\n");
            assert_eq!(framing_of(input.as_bytes()), None, "{target}");
        }
    }

    #[test]
    fn plain_targets_are_valid_uris() {
        for b in 0..=u8::MAX {
            let target = [b'/', b'a', b, b'z'];
            if plain_target(&target) {
                let text = std::str::from_utf8(&target).expect("ascii");
                assert!(text.parse::<Uri>().is_ok(), "{text}");
            }
        }
    }

    #[test]
    fn broken_chunk_framing_is_refused_mid_body() {
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        for body in [
            &b"zz\r\n"[..],
            b"5\r\nhello0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5;a\nhello\r\n",
            b"5 5\r\nhello\r\n",
            b"fffffffffffffffff\r\n",
            b"0\r\n\r\r",
            b"0\r\nX: y\rz",
        ] {
            let input = [&head[..], body].concat();
            let (released, refusal, heads) = whole(&input);
            let refusal = refusal.unwrap_or_else(|| panic!("not refused: {body:?}"));
            assert!(refusal.mid_body, "{body:?}");
            assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
            assert!(released.len() >= head.len() && released.len() < input.len());
            assert_eq!(heads, 1);
        }
        // hyper's limits on extensions and trailers.
        let ext = format!("1;{}\r\na\r\n0\r\n\r\n", "e".repeat(20_000));
        assert!(whole(&[&head[..], ext.as_bytes()].concat()).1.is_some());
        let trailers = format!("0\r\nX: {}\r\n\r\n", "t".repeat(20_000));
        assert!(whole(&[&head[..], trailers.as_bytes()].concat())
            .1
            .is_some());
        let many: String = (0..101).map(|i| format!("T{i}: v\r\n")).collect();
        let many = format!("0\r\n{many}\r\n");
        assert!(whole(&[&head[..], many.as_bytes()].concat()).1.is_some());
        let fine: String = (0..100).map(|i| format!("T{i}: v\r\n")).collect();
        let fine = format!("0\r\n{fine}\r\n");
        assert_eq!(whole(&[&head[..], fine.as_bytes()].concat()).1, None);
    }
    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            input in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(0usize..600, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut parts = Vec::new();
            let mut from = 0;
            for cut in cuts {
                parts.push(&input[from..cut]);
                from = cut;
            }
            parts.push(&input[from..]);
            let mut framing = Framing::new(256);
            let (released, refusal) = run(&mut framing, &parts);
            prop_assert!(released.len() <= input.len());
            prop_assert_eq!(&released[..], &input[..released.len()]);
            if refusal.is_some() {
                // A refusal is final.
                prop_assert!(matches!(framing.feed(b"GET / HTTP/1.1\r\n\r\n"), Fed::Refuse(0, _)));
            }
        }

        #[test]
        fn request_like_bytes_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"GET / HTTP/1.1\r\n"[..]),
                    Just(&b"POST /x HTTP/1.1\r\n"[..]),
                    Just(&b"Content-Length: 3\r\n"[..]),
                    Just(&b"Transfer-Encoding: chunked\r\n"[..]),
                    Just(&b"\r\n"[..]),
                    Just(&b"\n"[..]),
                    Just(&b"3\r\nabc\r\n"[..]),
                    Just(&b"0\r\n\r\n"[..]),
                    Just(&b"X: y\r\n"[..]),
                    Just(&b";e=1"[..]),
                    Just(&b"abc"[..]),
                ],
                0..40,
            ),
            split in 1usize..9,
        ) {
            let input = parts.concat();
            let pieces: Vec<&[u8]> = input.chunks(split).collect();
            let mut framing = Framing::new(8192);
            let (released, _) = run(&mut framing, &pieces);
            prop_assert_eq!(&released[..], &input[..released.len()]);
            // Splitting differently decides the same.
            let (at_once, _) = run(&mut Framing::new(8192), &[&input]);
            prop_assert_eq!(released, at_once);
        }
    }
}
