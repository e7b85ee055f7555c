//! Keeping token values out of what the server says and writes: error
//! messages and logged request lines.
//!
//! People paste tokens into the wrong places (a policy's `resources`, a
//! URL path instead of a token id), and serde quotes offending values back.
//! Whatever reaches a client's error message or a log line passes through
//! here first.

/// Replaces anything that looks like a token (`<prefix>_` followed by 16 or
/// more base62 characters) with `<prefix>_<redacted>`.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(pos) = rest.find('_') {
        let (before, after) = rest.split_at(pos);
        let word_start = before
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map_or(0, |i| i + 1);
        let tail_len = after[1..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len() - 1);
        out.push_str(before);
        if word_start < before.len() && tail_len >= 16 {
            out.push_str("_<redacted>");
            rest = &after[1 + tail_len..];
        } else {
            out.push('_');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// How many rounds of percent-decoding [`redact_uri`] undoes: a URL
/// encoded twice (`%255F`) by a client or proxy still has its token found.
const DECODE_ROUNDS: usize = 3;

/// A request target as it may be logged: percent-decoded (a token written
/// `tsr%5F…` or with any of its characters escaped is still a token), then
/// redacted. Only for logs: the decoded form is not a valid URI.
pub fn redact_uri(uri: &str) -> String {
    let mut text = uri.to_owned();
    for _ in 0..DECODE_ROUNDS {
        if !text.contains('%') {
            break;
        }
        let decoded = percent_decode(&text);
        if decoded == text {
            break;
        }
        text = decoded;
    }
    redact(&text)
}

/// `%XX` escapes decoded; anything else (including malformed escapes) kept.
/// Bytes that do not form UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tsr_2GdXMflhJ0123456789abcdefABCDEF";

    #[test]
    fn token_like_values_are_redacted() {
        let msg = format!("invalid type: string \"{TOKEN}\", expected a sequence");
        let out = redact(&msg);
        assert!(!out.contains("2GdXMflhJ"), "{out}");
        assert!(out.contains("tsr_<redacted>"));
        assert_eq!(
            redact("unknown field `not_actions`"),
            "unknown field `not_actions`"
        );
        assert_eq!(redact("a_b _ c_"), "a_b _ c_");
    }

    #[test]
    fn escaped_tokens_in_uris_are_redacted() {
        for uri in [
            "/api/v1/tokens/tsr%5F2GdXMflhJ0123456789abcdefABCDEF".to_owned(),
            "/api/v1/tokens/tsr%5f2GdXMflhJ0123456789abcdefABCDEF".to_owned(),
            "/api/v1/tokens/tsr%255F2GdXMflhJ0123456789abcdefABCDEF".to_owned(),
            "/x?t=tsr_2Gd%58MflhJ0123456789abcdefABCDEF".to_owned(),
            format!("/api/v1/tokens/{TOKEN}"),
        ] {
            let out = redact_uri(&uri);
            assert!(!out.contains("flhJ0123456789"), "{uri} -> {out}");
            assert!(out.contains("tsr_<redacted>"), "{uri} -> {out}");
        }
        assert_eq!(redact_uri("/a%2"), "/a%2");
        assert_eq!(redact_uri("/a%zz/b"), "/a%zz/b");
        assert_eq!(redact_uri("/tokens?x=%E2%9C%93"), "/tokens?x=✓");
        assert_eq!(redact_uri("/%ff"), "/\u{fffd}");
    }
}
