//! The host product's id for a person: `ExternalId`.
//!
//! A product that provisions members through the platform API (or signs
//! them in with single sign-on) names each person by its own user id. Tessera
//! never interprets it: it only has to be usable as a URL path segment once
//! percent-encoded, fit in an index, and print safely in logs and tables.
//! So it is any text of 1 to 255 bytes without control characters.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Longest external id, in bytes (UTF-8).
pub const EXTERNAL_ID_MAX_BYTES: usize = 255;

/// A member's id in the host product (`members.external_id`), unique in
/// its org.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    /// Validates an id that came from outside: non-empty, at most 255
    /// bytes, no control characters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.is_empty() {
            return Err(Error::invalid("external_id", "must not be empty"));
        }
        if s.len() > EXTERNAL_ID_MAX_BYTES {
            return Err(Error::invalid(
                "external_id",
                format!("at most {EXTERNAL_ID_MAX_BYTES} bytes"),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid(
                "external_id",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// Wraps a value read back from storage, which only holds valid ones.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ExternalId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

/// Deserializing validates, so a request body cannot smuggle in a value
/// `parse` would refuse.
impl<'de> Deserialize<'de> for ExternalId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_product_ids() {
        for ok in [
            "u_123",
            "auth0|5f7c8ec7c33c6c004bbafe82",
            "ünïcødé ok",
            "a",
            &"x".repeat(255),
        ] {
            assert_eq!(ExternalId::parse(ok).map(|e| e.0), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn refuses_empty_long_and_control_characters() {
        let multibyte_over = "é".repeat(128); // 256 bytes, 128 characters
        for bad in [
            "",
            &"x".repeat(256),
            multibyte_over.as_str(),
            "a\nb",
            "tab\there",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert!(ExternalId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<ExternalId>("\"\"").is_err());
        assert!(serde_json::from_str::<ExternalId>("\"ok\"").is_ok());
    }
}
