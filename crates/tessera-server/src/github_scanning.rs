//! GitHub secret scanning's partner reports, as `POST /leaks` receives
//! them: a JSON array of matches, signed by GitHub. This module holds what
//! is GitHub's own: the public keys GitHub signs with (the file
//! `leaks.github_scanning_keys` names, in the shape of GitHub's
//! `https://api.github.com/meta/public_keys/secret_scanning`), and the
//! check of a report's signature (ECDSA P-256 with SHA-256, base64 of an
//! ASN.1 DER signature over the raw body, key named by
//! `Github-Public-Key-Identifier`). Revoking what a report names is the
//! leak report's own code (`verify::routes`), shared with plain reports.
//!
//! It uses nothing else of the crate, so that the configuration can read
//! the keys file at start-up and the routes can use it.

use std::fmt;
use std::path::{Path, PathBuf};

use axum::http::HeaderMap;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;

/// Names which of GitHub's keys signed the report.
pub const KEY_IDENTIFIER_HEADER: &str = "Github-Public-Key-Identifier";
/// Base64 of the DER ECDSA signature over the raw body.
pub const SIGNATURE_HEADER: &str = "Github-Public-Key-Signature";

/// Longest `Github-Public-Key-Identifier` looked up (GitHub's are 64 hex
/// digits).
const MAX_KEY_IDENTIFIER_LEN: usize = 256;
/// Longest `Github-Public-Key-Signature` decoded: a DER P-256 signature is
/// at most 72 bytes, 96 in base64.
const MAX_SIGNATURE_LEN: usize = 256;
/// Largest keys file read (GitHub's holds a few keys of ~200 bytes each).
const MAX_KEYS_FILE_BYTES: u64 = 1024 * 1024;

/// GitHub's secret-scanning public keys, as read from the configured file.
#[derive(Clone)]
pub struct ScanningKeys {
    path: PathBuf,
    keys: Vec<PublicKey>,
}

#[derive(Clone)]
struct PublicKey {
    identifier: String,
    key: VerifyingKey,
}

/// The file's shape: GitHub's API answer. Other fields (GitHub may add
/// some) are ignored, and so is each key's `is_current`: reports signed
/// before a rotation still arrive, so every listed key is accepted.
#[derive(Deserialize)]
struct KeysFile {
    public_keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
struct KeyEntry {
    key_identifier: String,
    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    key: String,
}

impl ScanningKeys {
    /// Reads and checks the keys file at `path`. The error names the file
    /// and what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let size = std::fs::metadata(path)
            .map_err(|e| format!("cannot read {shown}: {e}"))?
            .len();
        if size > MAX_KEYS_FILE_BYTES {
            return Err(format!(
                "{shown} is {size} bytes; a keys file is at most {MAX_KEYS_FILE_BYTES}"
            ));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        Self::parse(path, &text).map_err(|reason| format!("{shown}: {reason}"))
    }

    /// Parses a keys file's text (what [`Self::load`] read from `path`).
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        let file: KeysFile = serde_json::from_str(text).map_err(|e| {
            format!(
                "not GitHub's secret-scanning keys (`{{\"public_keys\": [{{\"key_identifier\", \"key\", \"is_current\"}}]}}`): {e}"
            )
        })?;
        if file.public_keys.is_empty() {
            return Err("`public_keys` is empty: no report could be verified".into());
        }
        let mut keys: Vec<PublicKey> = Vec::with_capacity(file.public_keys.len());
        for (i, entry) in file.public_keys.into_iter().enumerate() {
            let identifier = entry.key_identifier.trim().to_owned();
            if identifier.is_empty() || identifier.len() > MAX_KEY_IDENTIFIER_LEN {
                return Err(format!(
                    "public_keys[{i}].key_identifier must be 1 to {MAX_KEY_IDENTIFIER_LEN} bytes"
                ));
            }
            if keys.iter().any(|k| k.identifier == identifier) {
                return Err(format!(
                    "public_keys[{i}].key_identifier `{identifier}` is listed twice"
                ));
            }
            let key = VerifyingKey::from_public_key_pem(entry.key.trim()).map_err(|e| {
                format!(
                    "public_keys[{i}].key (`{identifier}`) is not an ECDSA P-256 public key in PEM \
                     (`-----BEGIN PUBLIC KEY-----`): {e}"
                )
            })?;
            keys.push(PublicKey { identifier, key });
        }
        Ok(Self {
            path: path.to_path_buf(),
            keys,
        })
    }

    /// The file the keys were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks that `body` is signed as the request's GitHub headers say.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
        let key_id = header(headers, KEY_IDENTIFIER_HEADER)?;
        let signature = header(headers, SIGNATURE_HEADER)?;
        if key_id.len() > MAX_KEY_IDENTIFIER_LEN {
            return Err(SignatureError::UnknownKey);
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.identifier == key_id)
            .ok_or(SignatureError::UnknownKey)?;
        if signature.len() > MAX_SIGNATURE_LEN {
            return Err(SignatureError::Malformed);
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .map_err(|_| SignatureError::Malformed)?;
        let signature = Signature::from_der(&der).map_err(|_| SignatureError::Malformed)?;
        key.key
            .verify(body, &signature)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// Shows the file and the key identifiers, which are public.
impl fmt::Debug for ScanningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.identifier.as_str()).collect();
        f.debug_struct("ScanningKeys")
            .field("path", &self.path)
            .field("key_identifiers", &ids)
            .finish()
    }
}

/// The one value of header `name`, trimmed.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, SignatureError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(SignatureError::MissingHeader(name))?;
    if values.next().is_some() {
        return Err(SignatureError::RepeatedHeader(name));
    }
    let value = value
        .to_str()
        .map_err(|_| SignatureError::MissingHeader(name))?
        .trim();
    if value.is_empty() {
        return Err(SignatureError::MissingHeader(name));
    }
    Ok(value)
}

/// Why a GitHub-shaped report was refused. The messages say what to fix
/// and never repeat what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "this server has no GitHub secret-scanning keys (set leaks.github_scanning_keys), so it \
         refuses GitHub's signed reports; a plain report is a JSON object: {{\"tokens\": [...]}}"
    )]
    NotConfigured,
    #[error("a GitHub secret-scanning report (a JSON array) must be signed: the {0} header is missing or empty")]
    MissingHeader(&'static str),
    #[error("the {0} header is sent more than once")]
    RepeatedHeader(&'static str),
    #[error(
        "Github-Public-Key-Identifier names no key in this server's GitHub secret-scanning keys \
         (refresh leaks.github_scanning_keys from GitHub and restart)"
    )]
    UnknownKey,
    #[error("Github-Public-Key-Signature is not a base64 DER ECDSA signature")]
    Malformed,
    #[error("the report's signature does not match its body")]
    Mismatch,
}

/// Does `body` hold a JSON array (GitHub's report) rather than an object
/// (a plain report)? Only the first byte that is not whitespace is read.
pub fn is_array(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'[')
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::SigningKey;
    use p256::pkcs8::EncodePublicKey;

    /// GitHub's documented example: the request body, its signature, and
    /// the key it names, as `api.github.com/meta/public_keys/secret_scanning`
    /// lists it (with an older key beside it).
    const DOC_BODY: &str = r#"[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]"#;
    const DOC_SIGNATURE: &str =
        "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg==";
    const DOC_KEY_ID: &str = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";
    const DOC_KEYS: &str = r#"{"public_keys": [
        {"key_identifier": "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
         "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9MJJHnMfn2+H4xL4YaPDA4RpJqUq\nkCmRCBnYERxZanmcpzQSXs1X/AljlKkbJ8qpVIW4clayyef9gWhFbNHWAA==\n-----END PUBLIC KEY-----\n",
         "is_current": false},
        {"key_identifier": "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
         "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n",
         "is_current": true}
    ]}"#;

    fn keys(text: &str) -> Result<ScanningKeys, String> {
        ScanningKeys::parse(Path::new("keys.json"), text)
    }

    fn signed(key_id: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            KEY_IDENTIFIER_HEADER,
            HeaderValue::from_str(key_id).expect("header"),
        );
        headers.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("header"),
        );
        headers
    }

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).expect("a valid scalar")
    }

    fn keys_file(entries: &[(&str, &SigningKey)]) -> String {
        let public_keys: Vec<serde_json::Value> = entries
            .iter()
            .map(|(id, key)| {
                let pem = key
                    .verifying_key()
                    .to_public_key_pem(p256::pkcs8::LineEnding::LF)
                    .expect("pem");
                serde_json::json!({ "key_identifier": id, "key": pem, "is_current": true })
            })
            .collect();
        serde_json::json!({ "public_keys": public_keys }).to_string()
    }

    fn sign(key: &SigningKey, body: &[u8]) -> String {
        let signature: Signature = key.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }

    #[test]
    fn githubs_documented_example_verifies() {
        let keys = keys(DOC_KEYS).expect("GitHub's keys parse");
        let headers = signed(DOC_KEY_ID, DOC_SIGNATURE);
        assert_eq!(keys.verify(&headers, DOC_BODY.as_bytes()), Ok(()));
        // One byte more (a trailing newline, as a re-serialised body might
        // have) and it no longer does: the raw bytes are what is signed.
        let mut changed = DOC_BODY.as_bytes().to_vec();
        changed.push(b'\n');
        assert_eq!(
            keys.verify(&headers, &changed),
            Err(SignatureError::Mismatch)
        );
        // The other key of the file did not sign it.
        let other = signed(
            "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
            DOC_SIGNATURE,
        );
        assert_eq!(
            keys.verify(&other, DOC_BODY.as_bytes()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_report_is_refused_unless_every_part_of_its_signature_holds() {
        let (github, forger) = (signing_key(7), signing_key(9));
        let keys = keys(&keys_file(&[("k1", &github)])).expect("keys");
        let body = br#"[{"token":"x","type":"t","url":"","source":"content"}]"#;
        let good = sign(&github, body);
        assert_eq!(keys.verify(&signed("k1", &good), body), Ok(()));
        let cases = [
            (signed("k2", &good), SignatureError::UnknownKey),
            (signed("k1", &sign(&forger, body)), SignatureError::Mismatch),
            (
                signed("k1", &sign(&github, b"[]")),
                SignatureError::Mismatch,
            ),
            (signed("k1", "not base64!"), SignatureError::Malformed),
            (signed("k1", "AAAA"), SignatureError::Malformed),
            (
                signed("k1", &"A".repeat(MAX_SIGNATURE_LEN + 4)),
                SignatureError::Malformed,
            ),
            (
                signed(&"k".repeat(MAX_KEY_IDENTIFIER_LEN + 1), &good),
                SignatureError::UnknownKey,
            ),
            (
                signed("k1", ""),
                SignatureError::MissingHeader(SIGNATURE_HEADER),
            ),
            (
                HeaderMap::new(),
                SignatureError::MissingHeader(KEY_IDENTIFIER_HEADER),
            ),
        ];
        for (headers, expected) in cases {
            assert_eq!(keys.verify(&headers, body), Err(expected), "{headers:?}");
        }
        let mut twice = signed("k1", &good);
        twice.append(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&good).expect("header"),
        );
        assert_eq!(
            keys.verify(&twice, body),
            Err(SignatureError::RepeatedHeader(SIGNATURE_HEADER))
        );
    }

    /// Signers other than Rust's (Go's `crypto/ecdsa`, OpenSSL) do not
    /// normalise `s`; both halves of the curve must verify.
    #[test]
    fn a_high_s_signature_verifies_too() {
        let github = signing_key(3);
        let keys = keys(&keys_file(&[("k", &github)])).expect("keys");
        let body = b"[]";
        let low: Signature = github.sign(body);
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).expect("signature");
        assert!(
            high.normalize_s().is_some(),
            "the negated s is the high one"
        );
        for signature in [low, high] {
            let encoded = base64::engine::general_purpose::STANDARD.encode(signature.to_der());
            assert_eq!(keys.verify(&signed("k", &encoded), body), Ok(()));
        }
    }

    #[test]
    fn a_bad_keys_file_says_what_is_wrong() {
        let github = signing_key(5);
        let good = keys_file(&[("k1", &github)]);
        for (text, says) in [
            ("", "not GitHub's secret-scanning keys"),
            ("[]", "not GitHub's secret-scanning keys"),
            (r#"{"keys": []}"#, "missing field `public_keys`"),
            (r#"{"public_keys": []}"#, "`public_keys` is empty"),
            (
                r#"{"public_keys": [{"key_identifier": "k", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}]}"#,
                "public_keys[0].key (`k`) is not an ECDSA P-256 public key",
            ),
            (
                r#"{"public_keys": [{"key_identifier": " ", "key": "x"}]}"#,
                "public_keys[0].key_identifier must be 1 to",
            ),
            (
                &keys_file(&[("k1", &github), ("k1", &signing_key(6))]),
                "public_keys[1].key_identifier `k1` is listed twice",
            ),
        ] {
            let err = keys(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
        // Public keys in PEM, but not GitHub's kind: RSA, and P-384.
        for pem in [
            "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAK7lzgxAvrGjCB2PWkmNlXSkhQ/VXihu\nbCc4vDwmUsG4z72ernqEK5YT6hR39PPiGBYrdi2UsO2IwM4Sxld0Xh8CAwEAAQ==\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEaxEWxdsmWT4DSZiwmah3EG9Cdhj4f052\nRpLOe0aRwmr2pUenmUp/P6TespZiEtioTjAhimFpu5wKQNHN0oos6AuJiwnt3+he\n7jxcrQan0wkuyWMSSWd+dlGxS6sU2Ikd\n-----END PUBLIC KEY-----\n",
        ] {
            let text = serde_json::json!({ "public_keys": [{ "key_identifier": "k", "key": pem }] });
            let err = keys(&text.to_string()).expect_err(pem);
            assert!(err.contains("is not an ECDSA P-256 public key"), "{err}");
        }
        assert!(keys(&good).is_ok());
        // Unknown fields (GitHub may add some) are ignored.
        let mut extended: serde_json::Value = serde_json::from_str(&good).expect("json");
        extended["etag"] = "x".into();
        extended["public_keys"][0]["added_at"] = "2026-01-01".into();
        assert!(keys(&extended.to_string()).is_ok());
    }

    #[test]
    fn loading_names_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("missing.json");
        let err = ScanningKeys::load(&missing).expect_err("missing");
        assert!(
            err.starts_with(&format!("cannot read {}", missing.display())),
            "{err}"
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").expect("write");
        let err = ScanningKeys::load(&bad).expect_err("bad");
        assert!(err.starts_with(&format!("{}: ", bad.display())), "{err}");
        let good = dir.path().join("keys.json");
        std::fs::write(&good, DOC_KEYS).expect("write");
        let keys = ScanningKeys::load(&good).expect("good");
        assert_eq!(keys.path(), good);
        let shown = format!("{keys:?}");
        assert!(shown.contains(DOC_KEY_ID), "{shown}");
    }

    #[test]
    fn only_an_array_is_githubs_shape() {
        for body in ["[]", " \n\t[{}]", "[1"] {
            assert!(is_array(body.as_bytes()), "{body:?}");
        }
        for body in ["", " ", "{\"tokens\": []}", "\"[\"", "\u{feff}[]"] {
            assert!(!is_array(body.as_bytes()), "{body:?}");
        }
    }
}
