//! An org's single sign-on settings: who the deployment's OpenID provider
//! may let in without an invitation, as what, and whether passwords still
//! work.

use serde::{Deserialize, Serialize};

use crate::{BuiltinRole, Error};

/// Most allowed domains per org: a list for people, not a registry.
pub const MAX_DOMAINS: usize = 100;

/// `"sso"` on `/org`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSso {
    /// Someone unknown whose verified email is at one of these domains
    /// (lowercase, exact: `example.com` does not admit `sub.example.com`)
    /// is let in as `default_role`.
    pub allowed_domains: Vec<String>,
    pub default_role: BuiltinRole,
    /// `false`: members' passwords are refused (`sso_required`).
    pub password_login: bool,
}

impl Default for OrgSso {
    fn default() -> Self {
        Self {
            allowed_domains: Vec::new(),
            default_role: BuiltinRole::Reader,
            password_login: true,
        }
    }
}

impl OrgSso {
    /// Lowercases and de-duplicates the domains, and checks every rule:
    /// domains are DNS names, at most [`MAX_DOMAINS`]; the default role is
    /// not `owner` (a stranger never becomes an owner by signing in).
    pub fn normalized(mut self) -> Result<Self, Error> {
        if self.allowed_domains.len() > MAX_DOMAINS {
            return Err(invalid(
                "sso.allowed_domains",
                format!("at most {MAX_DOMAINS} domains"),
            ));
        }
        for domain in &mut self.allowed_domains {
            *domain = normalize_domain(domain)?;
        }
        self.allowed_domains.sort();
        self.allowed_domains.dedup();
        if self.default_role == BuiltinRole::Owner {
            return Err(invalid(
                "sso.default_role",
                "cannot be owner: people admitted by their email's domain are reader, writer or admin",
            ));
        }
        Ok(self)
    }

    /// Does an email at `domain` get in?
    pub fn admits(&self, domain: &str) -> bool {
        self.allowed_domains.iter().any(|d| d == domain)
    }
}

/// `Example.COM` → `example.com`; refuses anything that is not a DNS name
/// of at least two labels (no wildcards, no `@`, no trailing dot).
pub fn normalize_domain(domain: &str) -> Result<String, Error> {
    let lower = domain.trim().to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = lower.split('.').collect();
    if lower.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
        return Err(invalid(
            "sso.allowed_domains",
            format!("{domain:?} is not a domain name (like example.com)"),
        ));
    }
    Ok(lower)
}

/// Who the OpenID provider says signed in, after every check of its ID
/// token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub sub: String,
    /// Lowercased.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

impl Identity {
    /// The email, only when the provider verified it.
    pub fn verified_email(&self) -> Option<String> {
        let email = self.email.as_deref().filter(|_| self.email_verified)?;
        crate::lifecycle::normalize_email(email).ok()
    }
}

/// The domain of a (lowercased) email address.
pub fn email_domain(email: &str) -> Option<&str> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_and_checked() {
        let sso = OrgSso {
            allowed_domains: vec!["Example.COM".into(), "example.com".into(), "a-b.io".into()],
            ..OrgSso::default()
        }
        .normalized()
        .expect("valid");
        assert_eq!(sso.allowed_domains, ["a-b.io", "example.com"]);
        assert!(sso.admits("example.com"));
        assert!(!sso.admits("sub.example.com"));
        for bad in [
            "",
            "localhost",
            "*.example.com",
            "a@b.com",
            "ex ample.com",
            "-a.com",
            "a..com",
            "a.com.",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn owner_is_never_the_default_role() {
        let sso = OrgSso {
            default_role: BuiltinRole::Owner,
            ..OrgSso::default()
        };
        assert!(sso.normalized().is_err());
    }

    #[test]
    fn email_domains() {
        assert_eq!(email_domain("a@b.example"), Some("b.example"));
        assert_eq!(email_domain("nobody"), None);
    }
}
