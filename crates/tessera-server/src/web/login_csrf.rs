//! The login form's CSRF value, before any session exists.
//!
//! A plain double submit (the same random value in a cookie and a form
//! field) is beaten by anyone who can plant a cookie for this host: a
//! sibling port or subdomain can, and then posts the planted value with
//! its own credentials, logging the visitor into the attacker's account.
//! So the value is signed: `<nonce>.<expires>.<hmac>`, the HMAC-SHA256 of
//! nonce and expiry under a key kept in the database
//! ([`crate::state::LOGIN_CSRF_KEY_NAME`]), shared by every node so a form
//! served by one node can be posted to another. A
//! planted value fails the signature; an issued one expires
//! ([`LIFETIME_SECONDS`]) and must match the cookie exactly.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::secrets::hex;
use crate::state::AppState;

/// How long a login form stays usable.
pub const LIFETIME_SECONDS: i64 = 3600;

type HmacSha256 = Hmac<Sha256>;

/// A fresh value for a login form (and its cookie).
pub async fn issue(state: &AppState) -> ApiResult<String> {
    let key = state.login_csrf_key().await?;
    let mut nonce = [0u8; 16];
    crate::secrets::fill_random(&mut nonce);
    let nonce = hex(&nonce);
    let expires = state.now().unix_timestamp() + LIFETIME_SECONDS;
    let mac = hex(&mac(key, &nonce, expires)?.finalize().into_bytes());
    Ok(format!("{nonce}.{expires}.{mac}"))
}

/// Is `sent` (the form field) the same as `cookie`, signed by this
/// deployment and not expired?
pub async fn check(state: &AppState, cookie: &str, sent: &str) -> ApiResult<bool> {
    if cookie.is_empty() || !bool::from(cookie.as_bytes().ct_eq(sent.as_bytes())) {
        return Ok(false);
    }
    let mut parts = cookie.split('.');
    let (Some(nonce), Some(expires), Some(mac_text), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(false);
    };
    let (Ok(expires), Some(mac_sent)) = (expires.parse::<i64>(), unhex(mac_text)) else {
        return Ok(false);
    };
    if expires <= state.now().unix_timestamp() {
        return Ok(false);
    }
    let key = state.login_csrf_key().await?;
    Ok(mac(key, nonce, expires)?.verify_slice(&mac_sent).is_ok())
}

/// The HMAC of a nonce and its expiry, ready to finalize or verify.
fn mac(key: &[u8], nonce: &str, expires: i64) -> ApiResult<HmacSha256> {
    // HMAC accepts keys of any length: this error cannot happen.
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key).map_err(|e| ApiError::internal(e.to_string()))?;
    mac.update(format!("tessera-login-csrf:{nonce}:{expires}").as_bytes());
    Ok(mac)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("é1"), None);
    }

    #[test]
    fn the_signature_covers_nonce_and_expiry() {
        let sign = |key: &[u8], nonce, expires| {
            mac(key, nonce, expires)
                .expect("mac")
                .finalize()
                .into_bytes()
        };
        let key = [7u8; 32];
        let signed = sign(&key, "n", 10);
        assert_eq!(signed.len(), 32);
        assert_ne!(signed, sign(&key, "n", 11));
        assert_ne!(signed, sign(&key, "m", 10));
        assert_ne!(signed, sign(&[8u8; 32], "n", 10));
    }
}
