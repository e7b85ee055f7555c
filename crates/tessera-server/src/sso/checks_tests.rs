//! The ID token's checks against tokens signed in the test with keys made
//! in the test (P-256): every way a token can be wrong is refused and
//! named; a key the set does not hold refetches the set exactly once.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use openidconnect::core::{CoreIdToken, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};

use super::{Check, Refusal, Verifier};
use crate::sso::{with_one_refetch, Failure};

const ISSUER: &str = "https://idp.example.com";
const CLIENT: &str = "tessera";
const NONCE: &str = "nonce-1";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).expect("a valid scalar")
}

fn jwk(key: &SigningKey, kid: &str) -> Value {
    let point = key.verifying_key().to_encoded_point(false);
    json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": B64.encode(point.x().expect("x")),
        "y": B64.encode(point.y().expect("y")),
    })
}

fn jwks(keys: &[(&SigningKey, &str)]) -> CoreJsonWebKeySet {
    let keys: Vec<Value> = keys.iter().map(|(k, kid)| jwk(k, kid)).collect();
    serde_json::from_value(json!({ "keys": keys })).expect("a key set")
}

fn now() -> i64 {
    crate::clock::wall_clock().unix_timestamp()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": CLIENT, "sub": "user-1", "nonce": NONCE,
        "iat": now(), "exp": now() + 300,
        "email": "Ada@Example.com", "email_verified": true, "name": "Ada",
    })
}

fn signed(key: &SigningKey, kid: &str, claims: &Value) -> String {
    let header = json!({ "alg": "ES256", "kid": kid, "typ": "JWT" });
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

fn token(text: &str) -> CoreIdToken {
    CoreIdToken::from_str(text).expect("a well-formed JWT")
}

fn check(keys: &CoreJsonWebKeySet, text: &str) -> Result<tessera_core::sso::Identity, Refusal> {
    let (client, issuer) = (
        ClientId::new(CLIENT.into()),
        IssuerUrl::new(ISSUER.into()).expect("url"),
    );
    let secret = ClientSecret::new("client-secret-of-the-test".into());
    Verifier {
        client_id: &client,
        client_secret: Some(&secret),
        issuer: &issuer,
        jwks: keys,
        algs: &[
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ],
    }
    .verify(&token(text), &Nonce::new(NONCE.into()))
}

fn with(changes: Value) -> Value {
    let mut all = claims();
    for (k, v) in changes.as_object().expect("an object") {
        all[k] = v.clone();
    }
    all
}

#[test]
fn a_good_token_names_the_person() {
    let provider = key(1);
    let identity = check(
        &jwks(&[(&provider, "k1")]),
        &signed(&provider, "k1", &claims()),
    )
    .expect("accepted");
    assert_eq!(identity.sub, "user-1");
    assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
    assert!(identity.email_verified);
    assert_eq!(identity.name.as_deref(), Some("Ada"));
}

#[test]
fn an_unverified_email_is_not_taken_as_verified() {
    let provider = key(1);
    let keys = jwks(&[(&provider, "k1")]);
    for verified in [json!(false), Value::Null] {
        let text = signed(
            &provider,
            "k1",
            &with(json!({ "email_verified": verified })),
        );
        assert!(!check(&keys, &text).expect("accepted").email_verified);
    }
}

#[test]
fn every_wrong_token_is_refused_with_the_check_it_fails() {
    let provider = key(1);
    let keys = jwks(&[(&provider, "k1")]);
    let cases = [
        ("forged", signed(&key(2), "k1", &claims()), Check::Signature),
        (
            "expired",
            signed(
                &provider,
                "k1",
                &with(json!({ "exp": now() - 600, "iat": now() - 900 })),
            ),
            Check::Expired,
        ),
        (
            "audience",
            signed(&provider, "k1", &with(json!({ "aud": "someone-else" }))),
            Check::Audience,
        ),
        (
            "issuer",
            signed(
                &provider,
                "k1",
                &with(json!({ "iss": "https://evil.example.com" })),
            ),
            Check::Issuer,
        ),
        (
            "nonce",
            signed(&provider, "k1", &with(json!({ "nonce": "replayed" }))),
            Check::Nonce,
        ),
        (
            "no nonce",
            signed(&provider, "k1", &with(json!({ "nonce": Value::Null }))),
            Check::Nonce,
        ),
    ];
    for (name, text, expected) in cases {
        assert_eq!(check(&keys, &text), Err(Refusal::Check(expected)), "{name}");
    }
}

#[test]
fn a_tampered_payload_breaks_the_signature() {
    let provider = key(1);
    let good = signed(&provider, "k1", &claims());
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = B64.encode(with(json!({ "sub": "admin" })).to_string());
    let text = parts.join(".");
    assert_eq!(
        check(&jwks(&[(&provider, "k1")]), &text),
        Err(Refusal::Check(Check::Signature))
    );
}

#[test]
fn alg_none_is_never_accepted() {
    let provider = key(1);
    let header = B64.encode(json!({ "alg": "none", "typ": "JWT" }).to_string());
    let text = format!("{header}.{}.", B64.encode(claims().to_string()));
    // The library may refuse to even parse it; if it parses, the check
    // must refuse it as a signature failure.
    if let Ok(parsed) = CoreIdToken::from_str(&text) {
        let (client, issuer) = (
            ClientId::new(CLIENT.into()),
            IssuerUrl::new(ISSUER.into()).expect("url"),
        );
        let keys = jwks(&[(&provider, "k1")]);
        let verdict = Verifier {
            client_id: &client,
            client_secret: None,
            issuer: &issuer,
            jwks: &keys,
            // Even a provider that lists `none` does not get it.
            algs: &[
                CoreJwsSigningAlgorithm::None,
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            ],
        }
        .verify(&parsed, &Nonce::new(NONCE.into()));
        assert_eq!(verdict, Err(Refusal::Check(Check::Signature)));
    }
}

#[test]
fn an_unknown_key_id_is_its_own_refusal() {
    let (old, new) = (key(1), key(3));
    let text = signed(&new, "k2", &claims());
    assert_eq!(
        check(&jwks(&[(&old, "k1")]), &text),
        Err(Refusal::UnknownKey)
    );
}

#[tokio::test]
async fn rotation_refetches_the_key_set_once() {
    let (old, new) = (key(1), key(3));
    let text = signed(&new, "k2", &claims());
    let stale = jwks(&[(&old, "k1")]);

    // The provider rotated: one refetch finds the new key.
    let fetches = AtomicUsize::new(0);
    let rotated = jwks(&[(&old, "k1"), (&new, "k2")]);
    let identity = with_one_refetch(
        &stale,
        |keys| check(keys, &text),
        || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(rotated.clone())
        },
    )
    .await
    .expect("accepted after one refetch");
    assert_eq!(identity.sub, "user-1");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // A key the provider never had: one refetch, then `signature`.
    let fetches = AtomicUsize::new(0);
    let verdict = with_one_refetch(
        &stale,
        |keys| check(keys, &text),
        || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(stale.clone())
        },
    )
    .await;
    assert_eq!(verdict, Err(Failure::Check(Check::Signature)));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // A known key never refetches.
    let fetches = AtomicUsize::new(0);
    let good = signed(&old, "k1", &claims());
    with_one_refetch(
        &stale,
        |keys| check(keys, &good),
        || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(stale.clone())
        },
    )
    .await
    .expect("accepted");
    assert_eq!(fetches.load(Ordering::SeqCst), 0);
}
