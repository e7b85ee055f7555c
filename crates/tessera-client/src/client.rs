//! The [`Client`]: where the server is, which credential to send, and the
//! one request path every endpoint goes through.
//!
//! Invariants:
//! - an endpoint that needs a credential fails with
//!   [`Error::MissingCredential`] before anything touches the network;
//! - the token, session cookie and CSRF token live only in sensitive header
//!   values and are redacted from `Debug`;
//! - redirects are not followed, so a credential is never replayed to a
//!   host the caller did not name;
//! - after [`Client::login`] the session wins over a token given at
//!   construction; [`Client::logout`] falls back to that token.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Method, Response, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_api::{LoginRequest, SessionResponse};

use crate::Error;

/// Where [`Client::from_env`] looks for the token.
pub const TOKEN_ENV: &str = "TESSERA_TOKEN";
/// Where [`Client::from_env`] looks for the server.
pub const URL_ENV: &str = "TESSERA_URL";
/// The server used when neither an argument nor `TESSERA_URL` names one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// The session cookie `POST /session` sets.
pub const SESSION_COOKIE: &str = "tessera_session";

const CSRF_HEADER: &str = "x-csrf-token";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for one Tessera server, with at most one token and one login
/// session. Cheap to share by reference: every call but `login`/`logout`
/// takes `&self`.
pub struct Client {
    http: reqwest::Client,
    /// The server's root, path normalised to have no trailing slash.
    base: Url,
    /// `Bearer <token>`, marked sensitive.
    token: Option<HeaderValue>,
    session: Option<Session>,
}

struct Session {
    cookie: HeaderValue,
    csrf: HeaderValue,
}

/// Whether an endpoint needs a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    Required,
    /// `verify`, `leaks`, `session` and health checks: nothing is sent, so
    /// a caller's token never travels where it is not needed.
    None,
}

/// One request as an endpoint describes it, for [`Client::call`] (a JSON
/// answer) or [`Client::call_empty`] (none worth reading); both send it
/// through the one request path.
pub(crate) struct Call {
    method: Method,
    url: Url,
    auth: Auth,
    body: Option<Vec<u8>>,
}

impl Call {
    /// A request without a body.
    pub(crate) fn new(method: Method, url: Url, auth: Auth) -> Self {
        Self {
            method,
            url,
            auth,
            body: None,
        }
    }

    /// The same request with `body` as its JSON body.
    pub(crate) fn json<B: Serialize + ?Sized>(self, body: &B) -> Result<Self, Error> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode the request: {e}")))?;
        Ok(Self {
            body: Some(body),
            ..self
        })
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| if present { "<redacted>" } else { "<none>" };
        f.debug_struct("Client")
            .field("url", &self.base_url())
            .field("token", &redacted(self.token.is_some()))
            .field("session", &redacted(self.session.is_some()))
            .finish()
    }
}

/// Builds a [`Client`]. Explicit values win; missing ones come from
/// `TESSERA_URL` / `TESSERA_TOKEN` unless [`ClientBuilder::ignore_env`] was
/// called; the URL finally defaults to [`DEFAULT_URL`].
#[derive(Clone)]
pub struct ClientBuilder {
    url: Option<String>,
    token: Option<String>,
    use_env: bool,
    timeout: Duration,
    connect_timeout: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("use_env", &self.use_env)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            url: None,
            token: None,
            use_env: true,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl ClientBuilder {
    /// The server's base URL, e.g. `https://tessera.example.com`; a path
    /// prefix is kept (`https://example.com/tessera/`).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The API token to send as `Authorization: Bearer`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Do not read `TESSERA_URL` / `TESSERA_TOKEN`.
    pub fn ignore_env(mut self) -> Self {
        self.use_env = false;
        self
    }

    /// Limit on a whole request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit on establishing the connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        let use_env = self.use_env;
        self.build_with(&|name| {
            if use_env {
                std::env::var(name).ok()
            } else {
                None
            }
        })
    }

    /// `build` with the environment given as a function, so precedence is
    /// testable without touching the process environment.
    pub(crate) fn build_with(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Client, Error> {
        let url = non_empty(self.url)
            .or_else(|| non_empty(env(URL_ENV)))
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let token = non_empty(self.token).or_else(|| non_empty(env(TOKEN_ENV)));
        let base = parse_base_url(&url)?;
        let token = token.map(|t| bearer(&t)).transpose()?;
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tessera-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::InvalidArgument(format!("cannot set up HTTP: {e}")))?;
        Ok(Client {
            http,
            base,
            token,
            session: None,
        })
    }
}

/// Treats an empty or blank value (`TESSERA_TOKEN=`) as absent, and trims
/// the newline a `$(cat file)` leaves behind.
fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn bearer(token: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        Error::InvalidArgument(
            "the token contains characters that are not allowed in a token".into(),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Parses and normalises the server URL: http(s) only, no user info (it
/// would be sent as Basic auth beside our credential), no query or
/// fragment, trailing slashes dropped.
pub(crate) fn parse_base_url(raw: &str) -> Result<Url, Error> {
    let raw = raw.trim();
    let mut url = Url::parse(raw).map_err(|e| Error::InvalidUrl(format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidUrl(format!(
            "{raw:?}: must start with http:// or https://"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidUrl(
            "the URL must not contain a user name or password".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::InvalidUrl(format!(
            "{raw:?}: must not have a query or fragment"
        )));
    }
    let path: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    // set_path keeps existing percent-escapes; path_segments_mut would
    // escape them a second time.
    url.set_path(&path.join("/"));
    Ok(url)
}

impl Client {
    /// A client for `url` with `token` (or none), ignoring the environment.
    pub fn new(url: impl Into<String>, token: Option<String>) -> Result<Self, Error> {
        let mut builder = ClientBuilder::default().ignore_env().url(url);
        builder.token = token;
        builder.build()
    }

    /// The Groundlight pattern: the token from `TESSERA_TOKEN` (none is
    /// fine for `verify`, `report_leaks` and `login`) and the server from
    /// `TESSERA_URL`, default [`DEFAULT_URL`].
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::default().build()
    }

    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// Whether calls that need a credential can be made.
    pub fn has_credential(&self) -> bool {
        self.token.is_some() || self.session.is_some()
    }

    /// Whether [`Client::login`] succeeded and [`Client::logout`] has not
    /// been called since.
    pub fn is_logged_in(&self) -> bool {
        self.session.is_some()
    }

    /// `POST /session`: logs in with email and password. Later calls are
    /// authenticated by the session until [`Client::logout`].
    pub async fn login(&mut self, request: &LoginRequest) -> Result<SessionResponse, Error> {
        let url = self.api_url(&["session"])?;
        let response = self
            .send(Call::new(Method::POST, url, Auth::None).json(request)?)
            .await?;
        let cookie = session_cookie(response.headers()).ok_or_else(|| {
            Error::Decode("the login answer did not set the session cookie".into())
        })?;
        let session: SessionResponse = decode(response).await?;
        let mut cookie = HeaderValue::from_str(&format!("{SESSION_COOKIE}={cookie}"))
            .map_err(|_| Error::Decode("the session cookie is not a valid header value".into()))?;
        cookie.set_sensitive(true);
        let mut csrf = HeaderValue::from_str(&session.csrf_token)
            .map_err(|_| Error::Decode("the CSRF token is not a valid header value".into()))?;
        csrf.set_sensitive(true);
        self.session = Some(Session { cookie, csrf });
        Ok(session)
    }

    /// `DELETE /session`: ends the login session. The client forgets the
    /// session even when the server call fails (it may have expired), and
    /// goes back to the token it was built with, if any.
    pub async fn logout(&mut self) -> Result<(), Error> {
        let url = self.api_url(&["session"])?;
        let result = self
            .call_empty(Call::new(Method::DELETE, url, Auth::Required))
            .await;
        self.session = None;
        result
    }

    /// `{base}/api/v1/{segments...}`, each segment percent-encoded.
    pub(crate) fn api_url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut all = Vec::with_capacity(segments.len() + 2);
        all.extend_from_slice(&["api", "v1"]);
        all.extend_from_slice(segments);
        self.root_url(&all)
    }

    /// `{base}/{segments...}`, for `/healthz` and `/readyz`.
    pub(crate) fn root_url(&self, segments: &[&str]) -> Result<Url, Error> {
        for segment in segments {
            // The url crate silently drops "." and ".." segments, which
            // would turn `get_token("..")` into `GET /tokens`.
            if segment.is_empty() || *segment == "." || *segment == ".." {
                return Err(Error::InvalidArgument(format!(
                    "{segment:?} is not a valid id or key"
                )));
            }
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::InvalidUrl(format!("{} cannot have a path", self.base_url())))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends a request and decodes a JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        decode(self.send(call).await?).await
    }

    /// As [`Self::call`], with the success status (`201` or `200`).
    pub(crate) async fn call_with_status<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<(reqwest::StatusCode, T), Error> {
        let response = self.send(call).await?;
        let status = response.status();
        Ok((status, decode(response).await?))
    }

    /// Sends a request whose answer has no body worth reading (204).
    pub(crate) async fn call_empty(&self, call: Call) -> Result<(), Error> {
        self.send(call).await.map(drop)
    }

    /// Sends a request and copies its (streamed) body into `out`, chunk by
    /// chunk; the bytes written.
    pub(crate) async fn download(
        &self,
        call: Call,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<u64, Error> {
        let mut response = self.send(call).await?;
        let mut written = 0u64;
        loop {
            let chunk = response.chunk().await.map_err(|e| self.unreachable(e))?;
            let Some(chunk) = chunk else { break };
            out.write_all(&chunk).map_err(Error::Output)?;
            written += chunk.len() as u64;
        }
        out.flush().map_err(Error::Output)?;
        Ok(written)
    }

    /// The one place a request leaves the client. Returns the response only
    /// when its status is a success.
    async fn send(&self, call: Call) -> Result<Response, Error> {
        let Call {
            method,
            url,
            auth,
            body,
        } = call;
        let headers = self.credential_headers(auth)?;
        let state_changing = !matches!(method, Method::GET | Method::HEAD);
        // A cookie-authenticated state-changing request must be JSON (the
        // server's CSRF defence); `{}` stands in for "no body".
        let body = match body {
            None if state_changing && auth == Auth::Required && self.session.is_some() => {
                Some(b"{}".to_vec())
            }
            other => other,
        };
        let mut request = self.http.request(method, url).headers(headers);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        self.execute(request).await
    }

    /// `GET url` presenting `token` instead of the client's own credential
    /// (`GET /auth` checks the token a proxy was shown). Returns the
    /// successful response.
    pub(crate) async fn get_presenting(&self, url: Url, token: &str) -> Result<Response, Error> {
        let request = self.http.get(url).header(AUTHORIZATION, bearer(token)?);
        self.execute(request).await
    }

    /// `GET url` with no credential, answered with text (`/metrics`).
    pub(crate) async fn get_text(&self, url: Url) -> Result<String, Error> {
        let response = self.execute(self.http.get(url)).await?;
        let path = response.url().path().to_owned();
        response
            .text()
            .await
            .map_err(|e| Error::Decode(format!("{path}: {}", e.without_url())))
    }

    /// Sends a request; a non-success status becomes [`Error::Api`].
    async fn execute(&self, request: reqwest::RequestBuilder) -> Result<Response, Error> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        // A body we cannot read still leaves the status to report.
        let body = response.bytes().await.unwrap_or_default();
        Err(Error::from_response(status, &headers, &body))
    }

    fn credential_headers(&self, auth: Auth) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        if auth == Auth::None {
            return Ok(headers);
        }
        if let Some(session) = &self.session {
            headers.insert(COOKIE, session.cookie.clone());
            headers.insert(CSRF_HEADER, session.csrf.clone());
        } else if let Some(token) = &self.token {
            headers.insert(AUTHORIZATION, token.clone());
        } else {
            return Err(Error::MissingCredential);
        }
        Ok(headers)
    }

    fn unreachable(&self, err: reqwest::Error) -> Error {
        let reason = if err.is_timeout() {
            "the request timed out".to_owned()
        } else {
            // The innermost cause is the informative one ("Connection
            // refused", "failed to lookup address information").
            let err = err.without_url();
            let mut cause: &dyn std::error::Error = &err;
            while let Some(next) = cause.source() {
                cause = next;
            }
            if err.is_connect() {
                format!("connection failed: {cause}")
            } else {
                cause.to_string()
            }
        };
        Error::Unreachable {
            url: self.base_url().to_owned(),
            reason,
        }
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, Error> {
    let path = response.url().path().to_owned();
    let bytes = response.bytes().await.map_err(|e| {
        Error::Decode(format!(
            "{path}: the answer could not be read: {}",
            e.without_url()
        ))
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode(format!("{path}: {e}")))
}

/// The value of the `tessera_session` cookie among the `Set-Cookie`
/// headers.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.trim() == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn base_url_trailing_slashes_and_prefixes() {
        for (raw, want) in [
            (
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/api/v1/tokens",
            ),
            (
                "http://127.0.0.1:8080/",
                "http://127.0.0.1:8080/api/v1/tokens",
            ),
            (
                "https://h.example/tessera",
                "https://h.example/tessera/api/v1/tokens",
            ),
            (
                "https://h.example/tessera///",
                "https://h.example/tessera/api/v1/tokens",
            ),
            (
                "  https://h.example//a//b/ ",
                "https://h.example/a/b/api/v1/tokens",
            ),
        ] {
            let client = Client::new(raw, None).expect(raw);
            assert_eq!(
                client.api_url(&["tokens"]).expect("url").as_str(),
                want,
                "{raw}"
            );
        }
        let client = Client::new("https://h.example/x/", None).expect("client");
        assert_eq!(client.base_url(), "https://h.example/x");
        assert_eq!(
            client.root_url(&["healthz"]).expect("url").as_str(),
            "https://h.example/x/healthz"
        );
    }

    #[test]
    fn path_segments_are_escaped_and_dots_refused() {
        let client = Client::new("http://h.example", None).expect("client");
        let url = client.api_url(&["roles", "a/b c?"]).expect("url");
        assert_eq!(url.as_str(), "http://h.example/api/v1/roles/a%2Fb%20c%3F");
        for bad in ["", ".", ".."] {
            assert!(matches!(
                client.api_url(&["tokens", bad]),
                Err(Error::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            "127.0.0.1:8080",
            "ftp://h.example",
            "http://user:pw@h.example",
            "http://h.example/?x=1",
            "not a url",
        ] {
            assert!(
                matches!(Client::new(bad, None), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn explicit_values_beat_the_environment() {
        let env = env_of(&[(URL_ENV, "http://env.example"), (TOKEN_ENV, "tsr_env")]);
        let client = Client::builder()
            .url("http://explicit.example")
            .token("tsr_explicit")
            .build_with(&env)
            .expect("client");
        assert_eq!(client.base_url(), "http://explicit.example");
        let token = client.token.as_ref().expect("token");
        assert_eq!(token.to_str().expect("ascii"), "Bearer tsr_explicit");

        let client = Client::builder().build_with(&env).expect("client");
        assert_eq!(client.base_url(), "http://env.example");
        let token = client.token.as_ref().expect("token");
        assert_eq!(token.to_str().expect("ascii"), "Bearer tsr_env");
    }

    #[test]
    fn defaults_apply_and_blank_values_count_as_absent() {
        let env = env_of(&[(URL_ENV, ""), (TOKEN_ENV, "  \n")]);
        let client = Client::builder().build_with(&env).expect("client");
        assert_eq!(client.base_url(), DEFAULT_URL);
        assert!(!client.has_credential());

        let client = Client::builder()
            .token("tsr_x\n")
            .build_with(&env_of(&[]))
            .expect("client");
        let token = client.token.as_ref().expect("token");
        assert_eq!(token.to_str().expect("ascii"), "Bearer tsr_x");
    }

    #[test]
    fn ignore_env_reads_nothing() {
        let builder = Client::builder().ignore_env();
        assert!(!builder.use_env);
        let client = Client::new("http://h.example", None).expect("client");
        assert!(!client.has_credential());
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused_without_echoing_it() {
        let err = Client::new("http://h.example", Some("tsr_a\u{7f}secretpart".into()))
            .expect_err("refused");
        assert!(matches!(err, Error::InvalidArgument(_)));
        assert!(!err.to_string().contains("secretpart"));
    }

    #[test]
    fn debug_redacts_the_token() {
        let client =
            Client::new("http://h.example", Some("tsr_verysecretvalue".into())).expect("client");
        let shown = format!("{client:?}");
        assert!(!shown.contains("verysecretvalue"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains("http://h.example"));
        let builder = Client::builder().token("tsr_verysecretvalue");
        assert!(!format!("{builder:?}").contains("verysecretvalue"));
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("other=1; Path=/"));
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static("tessera_session=abc123; Path=/; HttpOnly; SameSite=Strict"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc123"));
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }
}
