//! The token format: `<prefix>_<ksuid:27><secret:32><checksum:6>`, all base62.
//!
//! Invariants:
//! - The secret is 32 characters drawn uniformly from 62 with the OS CSPRNG
//!   (≈190.5 bits).
//! - The checksum is the CRC32 of everything before it (prefix and `_`
//!   included), in base62, zero-padded to 6 characters. It lets a scanner
//!   recognise real tokens offline and lets the server reject typos and
//!   random strings without touching storage.
//! - Only [`SecretHash`] (SHA-256 of the secret) is ever stored; comparing
//!   hashes is constant-time.
//! - [`Snippet`](TokenFormat::snippet) shows the prefix and the last four
//!   characters (checksum), never enough to rebuild the token.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::ids::{new_ksuid, os_random, KSUID_LEN, KSUID_MAX};
use crate::{Error, TokenId};

/// Base62 alphabet in ASCII order, as KSUID uses it.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the secret part.
pub const SECRET_LEN: usize = 32;
/// Length of the checksum part.
pub const CHECKSUM_LEN: usize = 6;
/// Length of everything after `<prefix>_`.
pub const BODY_LEN: usize = KSUID_LEN + SECRET_LEN + CHECKSUM_LEN;
/// Characters of the token shown in snippets, taken from its end.
const SNIPPET_TAIL: usize = 4;
/// The default prefix.
pub const DEFAULT_PREFIX: &str = "tsr";

/// Why a presented string is not a token of this deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the token does not start with this deployment's prefix")]
    WrongPrefix,
    #[error("the token has the wrong length")]
    WrongLength,
    #[error("the token contains characters outside base62")]
    BadCharacter,
    #[error("the token's id is out of range")]
    BadId,
    #[error("the token's checksum does not match (mistyped or truncated?)")]
    BadChecksum,
}

/// The deployment's token format: its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFormat {
    prefix: String,
}

impl Default for TokenFormat {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

/// A freshly minted token. The full string exists only in this value and in
/// the one response that returns it.
pub struct NewToken {
    pub id: TokenId,
    pub secret_hash: SecretHash,
    pub snippet: String,
    /// The full token string, to be shown to its owner exactly once.
    pub token: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("snippet", &self.snippet)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A token string that passed format and checksum checks. Borrowed from the
/// presented string: parsing allocates nothing.
#[derive(Clone, Copy)]
pub struct ParsedToken<'a> {
    id: &'a str,
    secret: &'a str,
}

impl fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl<'a> ParsedToken<'a> {
    /// The token's id, as a string slice of the presented token.
    pub fn id_str(&self) -> &'a str {
        self.id
    }

    pub fn id(&self) -> TokenId {
        TokenId::from_trusted(self.id.to_owned())
    }

    /// SHA-256 of the secret part.
    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(self.secret)
    }
}

impl TokenFormat {
    /// A format with a custom prefix: 1 to 16 lowercase letters or digits,
    /// starting with a letter (no `_`, which separates prefix from body).
    pub fn new(prefix: &str) -> Result<Self, Error> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 16
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok {
            return Err(Error::invalid(
                "token prefix",
                "must be 1-16 lowercase letters or digits, starting with a letter",
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Total length of a token in this format.
    pub fn token_len(&self) -> usize {
        self.prefix.len() + 1 + BODY_LEN
    }

    /// Mints a new token with a new id.
    pub fn generate(&self, now: OffsetDateTime) -> NewToken {
        self.generate_for(TokenId::from_trusted(new_ksuid(now)))
    }

    /// Mints a new secret for an existing id (rotation keeps the id).
    pub fn generate_for(&self, id: TokenId) -> NewToken {
        let secret = random_base62::<SECRET_LEN>();
        let mut token = String::with_capacity(self.token_len());
        token.push_str(&self.prefix);
        token.push('_');
        token.push_str(id.as_str());
        // Base62 characters are ASCII, so this cannot fail.
        token.push_str(std::str::from_utf8(&secret).unwrap_or_default());
        let checksum = checksum(token.as_bytes());
        token.push_str(std::str::from_utf8(&checksum).unwrap_or_default());
        NewToken {
            secret_hash: SecretHash::of_bytes(&secret),
            snippet: self.snippet_of(&token),
            id,
            token,
        }
    }

    /// The snippet shown in lists: prefix and the token's last characters.
    pub fn snippet_of(&self, token: &str) -> String {
        let tail = token
            .get(token.len().saturating_sub(SNIPPET_TAIL)..)
            .unwrap_or("");
        format!("{}_...{}", self.prefix, tail)
    }

    /// Checks shape and checksum. Costs a CRC32 and no allocation.
    pub fn parse<'a>(&self, token: &'a str) -> Result<ParsedToken<'a>, ParseError> {
        let body = token
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('_'))
            .ok_or(ParseError::WrongPrefix)?;
        if body.len() != BODY_LEN {
            return Err(ParseError::WrongLength);
        }
        if !all_base62(body.as_bytes()) {
            return Err(ParseError::BadCharacter);
        }
        let (signed, sum) = token.split_at(token.len() - CHECKSUM_LEN);
        if checksum(signed.as_bytes()) != sum.as_bytes() {
            return Err(ParseError::BadChecksum);
        }
        let (id, rest) = body.split_at(KSUID_LEN);
        // Length and alphabet are checked above; only the range is left.
        if id > KSUID_MAX {
            return Err(ParseError::BadId);
        }
        Ok(ParsedToken {
            id,
            secret: &rest[..SECRET_LEN],
        })
    }
}

/// Scans free text for substrings that are tokens of `format`, checksum
/// included. Used by `tessera scan` and leak reports.
pub fn find_tokens<'a>(format: &TokenFormat, text: &'a str) -> Vec<&'a str> {
    let needle = format!("{}_", format.prefix);
    let len = format.token_len();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find(&needle) {
        let start = from + pos;
        let boundary_ok = text[..start]
            .bytes()
            .next_back()
            .is_none_or(|b| !b.is_ascii_alphanumeric() && b != b'_');
        if boundary_ok {
            if let Some(candidate) = text.get(start..start + len) {
                let ends_ok = text[start + len..]
                    .bytes()
                    .next()
                    .is_none_or(|b| !b.is_ascii_alphanumeric());
                if ends_ok && format.parse(candidate).is_ok() {
                    found.push(candidate);
                    from = start + len;
                    continue;
                }
            }
        }
        from = start + needle.len();
    }
    found
}

/// SHA-256 of a token's secret: what storage keeps instead of the secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self::of_bytes(secret.as_bytes())
    }

    fn of_bytes(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// Constant-time equality, so a timing side channel cannot reveal how
    /// many leading bytes of a guessed hash are right.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Rebuilds a hash read from storage.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

/// `N` base62 characters, each uniform, from the OS CSPRNG.
fn random_base62<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let mut filled = 0;
    let mut pool = [0u8; 64];
    while filled < N {
        os_random(&mut pool);
        for &byte in &pool {
            // 248 = 4 × 62: rejecting the rest keeps every character uniform.
            if byte < 248 && filled < N {
                out[filled] = BASE62[usize::from(byte % 62)];
                filled += 1;
            }
        }
    }
    out
}

/// Whether every byte is in `[0-9A-Za-z]`. A fold without an early exit,
/// so the compiler checks many bytes per instruction: a token is checked
/// on every verification, and a wrong byte is rare.
fn all_base62(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(true, |ok, &b| ok & b.is_ascii_alphanumeric())
}

/// CRC32 of `data` in base62, zero-padded to [`CHECKSUM_LEN`] characters.
pub fn checksum(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(data);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn now() -> OffsetDateTime {
        datetime!(2026-11-23 08:00 UTC)
    }

    #[test]
    fn generated_token_has_the_documented_shape() {
        let fmt = TokenFormat::default();
        let t = fmt.generate(now());
        assert_eq!(t.token.len(), 4 + 27 + 32 + 6);
        assert!(t.token.starts_with("tsr_"));
        assert_eq!(&t.token[4..31], t.id.as_str());
        let parsed = fmt.parse(&t.token).expect("parses");
        assert_eq!(parsed.id(), t.id);
        assert!(parsed.secret_hash().matches(&t.secret_hash));
        assert!(t.snippet.starts_with("tsr_..."));
        assert!(t.token.ends_with(&t.snippet[7..]));
        assert_eq!(t.snippet.len(), 4 + 3 + 4);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let fmt = TokenFormat::default();
        let t = fmt.generate(now());
        let parsed = fmt.parse(&t.token).expect("parses");
        let shown = format!("{t:?} {parsed:?}");
        assert!(!shown.contains(&t.token[31..63]), "{shown}");
    }

    #[test]
    fn two_tokens_differ_in_secret() {
        let fmt = TokenFormat::default();
        let a = fmt.generate_for(TokenId::generate(now()));
        let b = fmt.generate_for(a.id.clone());
        assert_eq!(a.id, b.id);
        assert_ne!(a.token, b.token);
        assert!(!a.secret_hash.matches(&b.secret_hash));
    }

    #[test]
    fn custom_prefix() {
        let fmt = TokenFormat::new("acme").expect("valid prefix");
        let t = fmt.generate(now());
        assert!(t.token.starts_with("acme_"));
        assert!(fmt.parse(&t.token).is_ok());
        assert_eq!(
            TokenFormat::default().parse(&t.token).err(),
            Some(ParseError::WrongPrefix)
        );
        for bad in ["", "Acme", "a_b", "1abc", "abcdefghijklmnopq", "a-b"] {
            assert!(TokenFormat::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_malformed_strings() {
        let fmt = TokenFormat::default();
        let good = fmt.generate(now()).token;
        assert_eq!(fmt.parse("").err(), Some(ParseError::WrongPrefix));
        assert_eq!(fmt.parse("tsr_").err(), Some(ParseError::WrongLength));
        assert_eq!(
            fmt.parse(&good[..good.len() - 1]).err(),
            Some(ParseError::WrongLength)
        );
        let mut with_dash = good.clone();
        with_dash.replace_range(40..41, "-");
        assert_eq!(fmt.parse(&with_dash).err(), Some(ParseError::BadCharacter));
        let multibyte = format!("tsr_{}", "é".repeat(BODY_LEN / 2) + "a");
        assert!(fmt.parse(&multibyte).is_err());
    }

    #[test]
    fn out_of_range_id_with_valid_checksum_is_rejected() {
        let fmt = TokenFormat::default();
        let mut s = format!("tsr_{}{}", "z".repeat(27), "a".repeat(32));
        let sum = checksum(s.as_bytes());
        s.push_str(std::str::from_utf8(&sum).unwrap());
        assert_eq!(fmt.parse(&s).err(), Some(ParseError::BadId));
    }

    #[test]
    fn checksum_is_fixed_width_base62() {
        assert_eq!(checksum(b"").len(), 6);
        // CRC32("") is 0.
        assert_eq!(&checksum(b""), b"000000");
        // u32::MAX in base62 is "4gfFC3": the width always suffices.
        let max = {
            let mut v = u32::MAX;
            let mut out = [b'0'; 6];
            for slot in out.iter_mut().rev() {
                *slot = BASE62[(v % 62) as usize];
                v /= 62;
            }
            out
        };
        assert_eq!(&max, b"4gfFC3");
    }

    #[test]
    fn secrets_use_the_whole_alphabet() {
        let mut seen = [false; 128];
        for _ in 0..200 {
            for b in random_base62::<SECRET_LEN>() {
                seen[usize::from(b)] = true;
            }
        }
        assert!(BASE62.iter().all(|&c| seen[usize::from(c)]));
    }

    #[test]
    fn finds_tokens_in_text_by_checksum() {
        let fmt = TokenFormat::default();
        let a = fmt.generate(now()).token;
        let b = fmt.generate(now()).token;
        let mut broken = b.clone();
        broken.replace_range(50..51, if &b[50..51] == "x" { "y" } else { "x" });
        let text = format!("export TESSERA_TOKEN={a}\nnot={broken}\nx{b}\n\"{b}\"\ntsr_tooshort");
        assert_eq!(find_tokens(&fmt, &text), vec![a.as_str(), b.as_str()]);
    }

    proptest! {
        #[test]
        fn round_trip(seconds in 1_400_000_000i64..4_000_000_000i64) {
            let fmt = TokenFormat::default();
            let when = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
            let t = fmt.generate(when);
            let parsed = fmt.parse(&t.token).unwrap();
            prop_assert_eq!(parsed.id(), t.id);
            prop_assert!(parsed.secret_hash().matches(&t.secret_hash));
        }

        /// CRC32 detects every single-character substitution.
        #[test]
        fn checksum_catches_every_single_character_change(
            pos in 0usize..(4 + BODY_LEN),
            replacement in proptest::sample::select(BASE62.to_vec()),
        ) {
            let fmt = TokenFormat::default();
            let t = fmt.generate(now()).token;
            let mut bytes = t.clone().into_bytes();
            prop_assume!(bytes[pos] != replacement);
            bytes[pos] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(fmt.parse(&changed).is_err());
        }

        /// Random strings are never accepted, and parsing never panics.
        #[test]
        fn random_strings_are_rejected(s in "\\PC{0,80}") {
            let fmt = TokenFormat::default();
            let _ = fmt.parse(&s);
            let _ = find_tokens(&fmt, &s);
        }

        #[test]
        fn random_base62_bodies_fail_the_checksum(body in "[0-9A-Za-z]{65}") {
            let fmt = TokenFormat::default();
            let s = format!("tsr_{body}");
            let result = fmt.parse(&s);
            // 1 in 2^32 would pass; proptest's few hundred cases will not.
            prop_assert!(result.is_err());
        }
    }
}
