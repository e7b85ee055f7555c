//! The ID token's checks, done by the `openidconnect` crate (never by
//! hand): signature by one of the provider's keys with an algorithm the
//! provider announces (`alg: none` is never one), then `iss`, `aud`,
//! `exp` and `nonce`. What fails is named as the failure page names it.

use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, Nonce, SignatureVerificationError,
};

use tessera_core::sso::Identity;

/// A check of the sign-in that failed, as the failure page names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    State,
    Nonce,
    Audience,
    Issuer,
    Expired,
    Signature,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::State => "state",
            Self::Nonce => "nonce",
            Self::Audience => "audience",
            Self::Issuer => "issuer",
            Self::Expired => "expired",
            Self::Signature => "signature",
        }
    }

    /// What the check means, for people.
    pub fn explain(self) -> &'static str {
        match self {
            Self::State => {
                "The sign-in's state did not match one this browser started, or it was already \
                 used or expired. Start the sign-in again from the login page."
            }
            Self::Nonce => "The ID token's nonce is not the one this sign-in sent.",
            Self::Audience => "The ID token was issued for another application (its audience).",
            Self::Issuer => "The ID token was issued by another provider than the configured one.",
            Self::Expired => "The ID token has expired.",
            Self::Signature => {
                "The ID token's signature could not be verified with the provider's keys."
            }
        }
    }
}

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A named check failed.
    Check(Check),
    /// Signed with a key the provider's key set does not hold (yet): the
    /// caller refetches the key set once, then it is [`Check::Signature`].
    UnknownKey,
    /// Something else the library refused (no `sub`, an encrypted token).
    Other(String),
}

/// Who verifies ID tokens: this client at this provider, with its keys.
pub struct Verifier<'a> {
    pub client_id: &'a ClientId,
    pub client_secret: Option<&'a ClientSecret>,
    pub issuer: &'a IssuerUrl,
    pub jwks: &'a CoreJsonWebKeySet,
    /// The algorithms the provider says it signs ID tokens with.
    pub algs: &'a [CoreJwsSigningAlgorithm],
}

impl Verifier<'_> {
    fn library(&self) -> CoreIdTokenVerifier<'static> {
        let verifier = match self.client_secret {
            // A confidential client also accepts HMAC signatures keyed by
            // its secret, as OpenID Connect Core allows.
            Some(secret) => CoreIdTokenVerifier::new_confidential_client(
                self.client_id.clone(),
                secret.clone(),
                self.issuer.clone(),
                self.jwks.clone(),
            ),
            None => CoreIdTokenVerifier::new_public_client(
                self.client_id.clone(),
                self.issuer.clone(),
                self.jwks.clone(),
            ),
        };
        let algs = self
            .algs
            .iter()
            .filter(|a| **a != CoreJwsSigningAlgorithm::None)
            .cloned();
        verifier.set_allowed_algs(algs)
    }

    /// Every check of `token`; who it names when all pass.
    pub fn verify(&self, token: &CoreIdToken, nonce: &Nonce) -> Result<Identity, Refusal> {
        let claims = token.claims(&self.library(), nonce).map_err(refusal)?;
        Ok(Identity {
            sub: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().trim().to_lowercase()),
            email_verified: claims.email_verified() == Some(true),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().trim().to_owned())
                .filter(|n| !n.is_empty()),
        })
    }
}

fn refusal(err: ClaimsVerificationError) -> Refusal {
    use ClaimsVerificationError as E;
    match err {
        E::Expired(_) => Refusal::Check(Check::Expired),
        E::InvalidAudience(_) => Refusal::Check(Check::Audience),
        E::InvalidIssuer(_) => Refusal::Check(Check::Issuer),
        E::InvalidNonce(_) => Refusal::Check(Check::Nonce),
        E::SignatureVerification(SignatureVerificationError::NoMatchingKey) => Refusal::UnknownKey,
        E::SignatureVerification(_) => Refusal::Check(Check::Signature),
        other => Refusal::Other(other.to_string()),
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
