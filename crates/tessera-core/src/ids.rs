//! Identifiers: newtypes so a member id can never be passed where a token id
//! is expected.
//!
//! Ids (`TokenId`, `MemberId`, `ServiceAccountId`, `OrgId`) are KSUIDs: 27 base62 characters,
//! time-sortable, public. Keys (`OrgKey`, `RoleKey`, `ProjectKey`) are chosen
//! by people: lowercase letters, digits, `.`, `_` and `-`, starting with a
//! letter or digit, at most 64 characters, so they are safe inside resource
//! paths (`proj/web:env/prod`).

use std::fmt;

use serde::{Deserialize, Serialize};
use svix_ksuid::{Ksuid, KsuidLike};
use time::OffsetDateTime;

use crate::Error;

/// Length of a KSUID in base62.
pub const KSUID_LEN: usize = 27;
/// The largest KSUID (20 bytes of 0xff) in base62: any longer value overflows.
pub const KSUID_MAX: &str = "aWgEPTl1tmebfsQzFP4bxwgy80V";
/// KSUIDs count seconds from this Unix time.
const KSUID_EPOCH: i64 = 1_400_000_000;

/// Fills `buf` from the operating system's CSPRNG.
///
/// Without a working CSPRNG no token or session can be issued safely, and
/// there is no fallback worth having: stopping is the only correct answer.
#[allow(clippy::expect_used)]
pub(crate) fn os_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// A fresh KSUID for `now`, with a payload from the OS CSPRNG.
pub fn new_ksuid(now: OffsetDateTime) -> String {
    let mut payload = [0u8; 16];
    os_random(&mut payload);
    ksuid(now, &payload)
}

/// The KSUID of `now`'s second with `payload`, in base62.
fn ksuid(now: OffsetDateTime, payload: &[u8; 16]) -> String {
    let seconds = (now.unix_timestamp() - KSUID_EPOCH).clamp(0, i64::from(u32::MAX));
    Ksuid::new_raw(seconds as u32, Some(payload)).to_base62()
}

/// A fresh KSUID for `now` that sorts after every earlier one this
/// process made for the same second: its payload starts with a counter
/// (from a random start) and ends with 8 random bytes.
///
/// For rows that are only ever appended in time order (outbox rows): a
/// B-tree keyed by such ids is written at its right edge, one page per
/// commit, where random payloads would scatter the writes of each second
/// over as many pages as there were rows.
pub fn new_ordered_ksuid(now: OffsetDateTime) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let mut start = [0u8; 8];
        os_random(&mut start);
        // The top bit clear: about 2^63 ids before the counter wraps.
        AtomicU64::new(u64::from_be_bytes(start) >> 1)
    });
    let mut payload = [0u8; 16];
    payload[..8].copy_from_slice(&next.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    os_random(&mut payload[8..]);
    ksuid(now, &payload)
}

/// True when `s` is a well-formed KSUID: 27 base62 characters, in range.
pub fn is_ksuid(s: &str) -> bool {
    s.len() == KSUID_LEN
        && s.bytes().all(|b| b.is_ascii_alphanumeric())
        // Fixed width and an alphabet in ASCII order make this a numeric compare.
        && s <= KSUID_MAX
}

/// A string newtype: the struct, `from_trusted`, `as_str`, `Display`, and
/// the constructors of its kind: `ksuid` (`generate`, and `parse` checking
/// the KSUID form) or `key` (`parse` checking [`validate_key`]). `$what`
/// names the value in errors.
macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value read back from storage, which only holds valid
            /// ones.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        string_newtype!(@constructors $kind $name $what);
    };
    (@constructors ksuid $name:ident $what:literal) => {
        impl $name {
            /// A new id, created at `now`.
            pub fn generate(now: OffsetDateTime) -> Self {
                Self(new_ksuid(now))
            }

            /// Validates an id that came from outside.
            pub fn parse(s: &str) -> Result<Self, Error> {
                if is_ksuid(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(Error::invalid($what, "not a valid id (27 base62 characters)"))
                }
            }
        }
    };
    (@constructors key $name:ident $what:literal) => {
        impl $name {
            pub fn parse(s: &str) -> Result<Self, Error> {
                validate_key($what, s)?;
                Ok(Self(s.to_owned()))
            }
        }
    };
}

string_newtype!(
    /// A token's public id: the KSUID inside the token string.
    TokenId,
    ksuid,
    "token id"
);
string_newtype!(
    /// A member of an organization.
    MemberId,
    ksuid,
    "member id"
);
string_newtype!(
    /// A service account: an org-owned identity for automation. Its own
    /// type, so it is never taken for a member (both are KSUIDs).
    ServiceAccountId,
    ksuid,
    "service account id"
);
string_newtype!(
    /// A webhook endpoint of an org.
    WebhookId,
    ksuid,
    "webhook id"
);
string_newtype!(
    /// An organization.
    OrgId,
    ksuid,
    "org id"
);

/// Maximum length of a key.
pub const MAX_KEY_LEN: usize = 64;

/// Checks the shape every key shares.
pub fn validate_key(field: &'static str, s: &str) -> Result<(), Error> {
    let mut bytes = s.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit());
    if !first_ok {
        return Err(Error::invalid(
            field,
            "must start with a lowercase letter or a digit",
        ));
    }
    if s.len() > MAX_KEY_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_KEY_LEN} characters"),
        ));
    }
    if !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)) {
        return Err(Error::invalid(
            field,
            "may contain only lowercase letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

string_newtype!(
    /// An organization's key, chosen at set-up (`acme`).
    OrgKey,
    key,
    "org"
);
string_newtype!(
    /// A custom role's key (`flag-editor`).
    RoleKey,
    key,
    "key"
);
string_newtype!(
    /// A project's key (`web`); tokens may be restricted to projects.
    ProjectKey,
    key,
    "key"
);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn generated_ids_are_valid_and_sort_by_time() {
        let a = TokenId::generate(datetime!(2025-01-01 0:00 UTC));
        let b = TokenId::generate(datetime!(2026-01-01 0:00 UTC));
        assert!(is_ksuid(a.as_str()) && is_ksuid(b.as_str()));
        assert!(a < b);
        assert_eq!(TokenId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn ordered_ids_of_one_second_sort_in_the_order_they_were_made() {
        let at = datetime!(2026-12-07 12:00 UTC);
        let ids: Vec<String> = (0..1000).map(|_| new_ordered_ksuid(at)).collect();
        assert!(ids.iter().all(|id| is_ksuid(id)));
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "made in order, sorted in order"
        );
        // A later second still sorts after, whatever the counter holds.
        let later = new_ordered_ksuid(at + time::Duration::seconds(1));
        assert!(ids.iter().all(|id| *id < later));
    }

    #[test]
    fn ksuid_validation_rejects_bad_shapes() {
        assert!(!is_ksuid(""));
        assert!(!is_ksuid("abc"));
        assert!(
            !is_ksuid("zzzzzzzzzzzzzzzzzzzzzzzzzzz"),
            "overflows 20 bytes"
        );
        assert!(!is_ksuid("2GdXMflhJ0000000000000000_0"));
        assert!(is_ksuid(KSUID_MAX));
        assert!(is_ksuid("000000000000000000000000000"));
    }

    #[test]
    fn keys() {
        assert!(ProjectKey::parse("web").is_ok());
        assert!(ProjectKey::parse("web-2.prod_x").is_ok());
        assert!(ProjectKey::parse("").is_err());
        assert!(ProjectKey::parse("Web").is_err());
        assert!(ProjectKey::parse("-web").is_err());
        assert!(ProjectKey::parse("a:b").is_err());
        assert!(ProjectKey::parse("a/b").is_err());
        assert!(ProjectKey::parse("a*").is_err());
        assert!(ProjectKey::parse(&"a".repeat(65)).is_err());
        assert!(ProjectKey::parse(&"a".repeat(64)).is_ok());
    }
}
