//! Single sign-on with the deployment's OpenID provider: discovery, the
//! authorization code flow with PKCE (S256), `state` and `nonce`, and the
//! ID token's checks ([`checks`]), all through the `openidconnect` crate.
//!
//! - The provider's metadata and keys are discovered on first use and kept
//!   for [`METADATA_TTL`]; an ID token signed with a key the kept set does
//!   not hold refetches the key set once (the provider rotated its keys),
//!   then fails as `signature`.
//! - A sign-in under way is a row in the store (`sso_flows`), keyed by the
//!   hash of its `state` and taken (deleted) when the browser comes back,
//!   on whichever node: a state works once. The row also holds the hash
//!   of a random value set as a cookie when the sign-in started, so a
//!   callback is accepted only in the browser that started it.
//! - The client secret goes only to the provider's token endpoint.

pub mod checks;
pub mod http;

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKeySet, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SubjectIdentifier, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::config::Config;
use checks::{Check, Refusal, Verifier};
use tessera_core::sso::Identity;

/// How long discovered metadata (endpoints, keys) is kept.
pub const METADATA_TTL: Duration = Duration::from_secs(3600);
/// How long a browser has to come back from the provider.
pub const FLOW_SECONDS: i64 = 600;

/// Why a sign-in failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A named check failed (the page names it).
    Check(Check),
    /// The provider could not be reached, answered with an error, or
    /// refused the sign-in; the text is safe to show.
    Provider(String),
}

impl From<Check> for Failure {
    fn from(check: Check) -> Self {
        Self::Check(check)
    }
}

/// What a sign-in under way keeps (in the store) until the browser is back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    pub nonce: String,
    pub pkce_verifier: String,
    /// Hex SHA-256 of the browser cookie's value.
    pub browser: String,
    /// Where to land afterwards (a local path).
    pub next: String,
}

/// The provider's metadata and keys, and when they were fetched.
struct Discovered {
    metadata: CoreProviderMetadata,
    jwks: CoreJsonWebKeySet,
    at: Instant,
}

/// The deployment's OpenID provider.
pub struct Provider {
    pub name: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    discovered: Mutex<Option<Arc<Discovered>>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// The configured provider; `None` when single sign-on is off (no
    /// `oidc_issuer`). The configuration was checked at start-up.
    pub fn from_config(config: &Config) -> Option<Self> {
        let oidc = &config.oidc;
        if oidc.issuer.is_empty() {
            return None;
        }
        // Exactly as configured: `iss` must equal it, byte for byte.
        let issuer = IssuerUrl::new(oidc.issuer.clone()).ok()?;
        let public = config.http.public_url.trim_end_matches('/');
        let redirect = RedirectUrl::new(format!("{public}/sso/callback")).ok()?;
        Some(Self {
            name: oidc.name.clone(),
            issuer,
            client_id: ClientId::new(oidc.client_id.trim().to_owned()),
            client_secret: (!oidc.client_secret.is_empty())
                .then(|| ClientSecret::new(oidc.client_secret.expose().to_owned())),
            redirect,
            discovered: Mutex::new(None),
        })
    }

    /// The metadata and keys, discovered when missing or older than
    /// [`METADATA_TTL`] (or when `refresh`).
    async fn discovered(&self, refresh: bool) -> Result<Arc<Discovered>, Failure> {
        let mut slot = self.discovered.lock().await;
        if let Some(d) = slot
            .as_ref()
            .filter(|d| !refresh && d.at.elapsed() < METADATA_TTL)
        {
            return Ok(Arc::clone(d));
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &http::send)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "OpenID provider discovery failed");
                Failure::Provider(format!(
                    "the provider's configuration could not be read ({e})"
                ))
            })?;
        let jwks = metadata.jwks().clone();
        let fresh = Arc::new(Discovered {
            metadata,
            jwks,
            at: Instant::now(),
        });
        *slot = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Refetches the provider's key set (after an unknown `kid`).
    async fn refetch_keys(&self) -> Result<Arc<Discovered>, Failure> {
        let current = self.discovered(false).await?;
        let jwks = JsonWebKeySet::fetch_async(current.metadata.jwks_uri(), &http::send)
            .await
            .map_err(|e| {
                Failure::Provider(format!("the provider's keys could not be read ({e})"))
            })?;
        let fresh = Arc::new(Discovered {
            metadata: current.metadata.clone(),
            jwks,
            at: current.at,
        });
        *self.discovered.lock().await = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Starts a sign-in: the provider's authorization URL (scopes `openid
    /// email profile`, PKCE S256, a fresh `state` and `nonce`), the state
    /// and what to keep until the browser is back.
    pub async fn begin(
        &self,
        browser: String,
        next: String,
    ) -> Result<(String, String, Flow), Failure> {
        let found = self.discovered(false).await?;
        let client = openidconnect::core::CoreClient::from_provider_metadata(
            found.metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let flow = Flow {
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            browser,
            next,
        };
        Ok((url.to_string(), state.secret().clone(), flow))
    }

    /// Redeems the authorization `code` (with the flow's PKCE verifier)
    /// and checks the ID token; who signed in.
    pub async fn finish(&self, code: String, flow: &Flow) -> Result<Identity, Failure> {
        let found = self.discovered(false).await?;
        let client = openidconnect::core::CoreClient::from_provider_metadata(
            found.metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone());
        let request = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| Failure::Provider(format!("the provider has no token endpoint ({e})")))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()));
        let tokens: CoreTokenResponse = request.request_async(&http::send).await.map_err(|e| {
            tracing::info!(error = %e, "OpenID provider refused the code");
            Failure::Provider(format!("the provider did not accept the sign-in ({e})"))
        })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| Failure::Provider("the provider sent no ID token".into()))?;
        let nonce = Nonce::new(flow.nonce.clone());
        let algs: Vec<CoreJwsSigningAlgorithm> = found
            .metadata
            .id_token_signing_alg_values_supported()
            .clone();
        let check = |jwks: &CoreJsonWebKeySet| {
            Verifier {
                client_id: &self.client_id,
                client_secret: self.client_secret.as_ref(),
                issuer: &self.issuer,
                jwks,
                algs: &algs,
            }
            .verify(id_token, &nonce)
        };
        let refetch = || async { self.refetch_keys().await.map(|d| d.jwks.clone()) };
        let mut identity = with_one_refetch(&found.jwks, check, refetch).await?;
        if identity.email.is_none() {
            // A provider that keeps scope claims to its userinfo endpoint
            // (as OpenID Connect Core prescribes when an access token is
            // issued): ask it, for this same `sub` only.
            let subject = SubjectIdentifier::new(identity.sub.clone());
            if let Ok(request) = client.user_info(tokens.access_token().clone(), Some(subject)) {
                match request.request_async(&http::send).await {
                    Ok(claims) => {
                        let claims: CoreUserInfoClaims = claims;
                        identity.email = claims.email().map(|e| e.as_str().trim().to_lowercase());
                        identity.email_verified = claims.email_verified() == Some(true);
                        if identity.name.is_none() {
                            identity.name = claims
                                .name()
                                .and_then(|n| n.get(None))
                                .map(|n| n.as_str().trim().to_owned())
                                .filter(|n| !n.is_empty());
                        }
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "the provider's userinfo could not be read")
                    }
                }
            }
        }
        Ok(identity)
    }
}

/// Checks with `keys`; when the token's key is not among them (the
/// provider rotated its keys), fetches the key set once (`refetch`) and
/// checks again; a key still unknown is a bad `signature`.
pub async fn with_one_refetch<C, R, F>(
    keys: &CoreJsonWebKeySet,
    check: C,
    refetch: R,
) -> Result<Identity, Failure>
where
    C: Fn(&CoreJsonWebKeySet) -> Result<Identity, Refusal>,
    R: FnOnce() -> F,
    F: std::future::Future<Output = Result<CoreJsonWebKeySet, Failure>>,
{
    match check(keys) {
        Err(Refusal::UnknownKey) => {
            let fresh = refetch().await?;
            check(&fresh).map_err(failure)
        }
        other => other.map_err(failure),
    }
}

fn failure(refusal: Refusal) -> Failure {
    match refusal {
        Refusal::Check(check) => Failure::Check(check),
        Refusal::UnknownKey => Failure::Check(Check::Signature),
        Refusal::Other(why) => Failure::Provider(format!("the ID token was refused ({why})")),
    }
}
