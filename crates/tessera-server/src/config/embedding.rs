//! The settings of Tessera inside a host product: its OpenID provider
//! (single sign-on) and how the web page may be framed and branded.
//!
//! - The provider's client secret is a [`ClientSecret`]: its `Debug` and
//!   its shown value never include it, so a logged or printed
//!   configuration cannot leak it (it is never stored in the database).
//! - `frame_ancestors` are CSP source expressions checked here, so that a
//!   typo cannot open the page to framing by anyone or break the header.
//! - `brand_logo_url` is a same-origin path or an `https://` URL: the page
//!   loads nothing else (its CSP allows that one origin's images).

use std::fmt;
use std::net::IpAddr;

use axum::http::Uri;

use super::{Config, Value};

/// The OpenID provider's client secret. Never shown, logged or stored.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "none" } else { "***" })
    }
}

impl Value for ClientSecret {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(Self(text.trim().to_owned()))
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        String::from_toml(value).map(|s| Self(s.trim().to_owned()))
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

/// Origins allowed to frame the web page: CSP `frame-ancestors` source
/// expressions (`https://app.example.com`, `https://*.example.com`,
/// `'self'`). Empty: the page cannot be framed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameAncestors(pub Vec<String>);

impl FrameAncestors {
    /// The CSP directive's value: the origins, or `'none'`.
    pub fn directive(&self) -> String {
        if self.0.is_empty() {
            "'none'".into()
        } else {
            self.0.join(" ")
        }
    }
}

impl Value for FrameAncestors {
    /// Comma- or space-separated.
    fn from_text(text: &str) -> Result<Self, String> {
        text.split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|s| !s.is_empty())
            .map(check_ancestor)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
    /// A string (as in text) or an array of strings.
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Array(items) => {
                let mut all = Vec::new();
                for item in items {
                    all.extend(Self::from_text(&String::from_toml(item)?)?.0);
                }
                Ok(Self(all))
            }
            other => Self::from_text(&String::from_toml(other)?),
        }
    }
    fn show(&self) -> String {
        if self.0.is_empty() {
            "none".into()
        } else {
            self.0.join(",")
        }
    }
}

/// One frame ancestor: `'self'`, or `http(s)://host[:port]` where the host
/// may start with `*.`; no path, query, credentials or anything that could
/// end the CSP directive.
fn check_ancestor(origin: &str) -> Result<String, String> {
    if origin == "'self'" {
        return Ok(origin.to_owned());
    }
    let bad = || {
        format!(
            "{origin:?} is not an origin: write `https://host[:port]` (the host may start \
             with `*.`) or `'self'`"
        )
    };
    let (scheme, rest) = origin.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https") {
        return Err(bad());
    }
    let host = rest.strip_prefix("*.").unwrap_or(rest);
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p)),
        _ => (host, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    if host_ok && port_ok {
        Ok(origin.to_ascii_lowercase())
    } else {
        Err(bad())
    }
}

/// The logo: a same-origin path (`/static/…` or any local path) or an
/// `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoUrl(String);

impl LogoUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origin the page's CSP must allow images from (`None` for a
    /// same-origin path).
    pub fn origin(&self) -> Option<String> {
        let uri: Uri = self.0.parse().ok()?;
        let authority = uri.authority()?;
        Some(format!("https://{authority}"))
    }
}

impl Value for LogoUrl {
    fn from_text(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let clean = !text.bytes().any(|b| {
            b.is_ascii_whitespace()
                || b.is_ascii_control()
                || matches!(b, b'\\' | b'"' | b'\'' | b';' | b',')
                || !b.is_ascii()
        });
        let local = text.starts_with('/') && !text.starts_with("//");
        let https = text.strip_prefix("https://").is_some_and(|rest| {
            text.parse::<Uri>()
                .ok()
                .and_then(|u| u.host().map(|h| !h.is_empty()))
                .unwrap_or(false)
                && !rest.contains('@')
        });
        if clean && (local || https) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} must be a same-origin path (`/static/logo.svg`) or an https:// URL"
            ))
        }
    }
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        Self::from_text(&String::from_toml(value)?)
    }
    fn show(&self) -> String {
        self.0.clone()
    }
}

/// Is `host` (from a URL) a loopback address or `localhost`?
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The provider settings make sense together: an `https://` issuer (or
/// `http://` on a loopback address, for a provider on this machine), a
/// client id, and a `public_url` to build the redirect URI from.
pub fn check_oidc(config: &Config) -> Result<(), (&'static str, String)> {
    let oidc = &config.oidc;
    if oidc.issuer.is_empty() {
        return Ok(());
    }
    let uri: Uri = oidc.issuer.parse().map_err(|_| {
        (
            "issuer",
            "must be the provider's issuer URL (https://…)".to_owned(),
        )
    })?;
    let host = uri.host().unwrap_or_default();
    let scheme_ok = match uri.scheme_str() {
        Some("https") => !host.is_empty(),
        Some("http") => is_loopback_host(host),
        _ => false,
    };
    if !scheme_ok || uri.query().is_some() || oidc.issuer.contains('#') {
        return Err((
            "issuer",
            "must be an https:// URL (http:// only on a loopback address), without query".into(),
        ));
    }
    if oidc.client_id.trim().is_empty() {
        return Err((
            "client_id",
            "is required when oidc_issuer is set (the client id the provider gave Tessera)".into(),
        ));
    }
    if config.http.public_url.is_empty() {
        return Err((
            "issuer",
            "needs public_url (TESSERA_PUBLIC_URL): the redirect URI is <public_url>/sso/callback"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_are_origins() {
        let ok =
            FrameAncestors::from_text("https://app.example.com, https://*.example.org:8443 'self'")
                .expect("valid");
        assert_eq!(
            ok.directive(),
            "https://app.example.com https://*.example.org:8443 'self'"
        );
        assert_eq!(FrameAncestors::default().directive(), "'none'");
        for bad in [
            "*",
            "https://a.example/path",
            "javascript:alert(1)",
            "https://a;script-src *",
            "https://user@a.example",
            "'unsafe-inline'",
            "https://a.example:99999",
        ] {
            assert!(FrameAncestors::from_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logos_are_local_paths_or_https() {
        assert!(LogoUrl::from_text("/static/logo.svg").is_ok());
        let remote = LogoUrl::from_text("https://cdn.example.com/logo.png").expect("https");
        assert_eq!(remote.origin().as_deref(), Some("https://cdn.example.com"));
        for bad in [
            "http://cdn.example.com/logo.png",
            "//cdn.example.com/x.png",
            "javascript:alert(1)",
            "logo.png",
            "/a b.png",
            "https://x.example/a\"onerror=1",
        ] {
            assert!(LogoUrl::from_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_secret_is_never_shown() {
        let secret = ClientSecret::from_text("hunter2").expect("text");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(secret.show(), "***");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn loopback_hosts() {
        for host in ["127.0.0.1", "localhost", "[::1]", "127.8.9.1"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["10.0.0.1", "example.com", "localhost.example.com"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
