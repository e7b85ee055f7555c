//! Checking a token (`/verify`) and reporting leaked ones (`/leaks`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::schema;

/// `POST /verify`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerifyRequest {
    pub token: String,
    /// Give `action` and `resource` both, or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<schema::CheckAction>, nullable = false)
    )]
    pub action: Option<String>,
    /// Give `action` and `resource` both, or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<schema::CheckResource>, nullable = false)
    )]
    pub resource: Option<String>,
    /// The end client's address (IPv4 or IPv6), which the calling service
    /// knows: recorded as the token's last-used address (instead of the
    /// caller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable = false, example = "203.0.113.7"))]
    pub ip: Option<std::net::IpAddr>,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("token", &"<redacted>")
            .field("action", &self.action)
            .field("resource", &self.resource)
            .field("ip", &self.ip)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerifyResponse {
    pub valid: bool,
    /// `valid`, or why not: `malformed_token`, `invalid_token`,
    /// `token_expired`, `token_disabled`, `org_suspended`.
    pub code: String,
    /// Present when an action was asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<VerifiedToken>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerifiedToken {
    pub id: String,
    pub name: String,
    /// The owner's member id; `null` for a service account's token.
    pub member: Option<String>,
    /// The member's id in the host product (platform API, single sign-on);
    /// `null` for a member made in Tessera and for a service account.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The service account a service account's token acts for (absent
    /// for a member's token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub service_account: Option<crate::VerifiedServiceAccount>,
    /// The org's key.
    pub org: String,
    pub projects: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<OffsetDateTime>,
}

// ---------------------------------------------------------------- leaks

/// `POST /leaks`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LeakReport {
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub tokens: Vec<String>,
    /// Where they were found; at most 2048 bytes (the document: 512
    /// characters, as many as always fit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub url: Option<String>,
}

impl std::fmt::Debug for LeakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeakReport")
            .field("tokens", &self.tokens.len())
            .field("url", &self.url)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LeakReportResponse {
    /// Valid tokens that were revoked now.
    pub revoked: u32,
    /// Strings that were not live tokens of this deployment.
    pub ignored: u32,
}

/// One match in a report from GitHub secret scanning: `POST /leaks` with
/// a JSON array of these, signed by GitHub (`Github-Public-Key-Identifier`,
/// `Github-Public-Key-Signature`). Fields GitHub may add are ignored.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GithubLeak {
    /// The string GitHub found; at most 1024 bytes (the document: 256
    /// characters, as many as always fit).
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub token: String,
    /// The secret type registered with GitHub; echoed as `token_type`. At
    /// most 256 bytes (the document: 64 characters).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub token_type: String,
    /// Where it was found (may be empty); at most 2048 bytes (the
    /// document: 512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 512, nullable = false))]
    pub url: Option<String>,
    /// What on GitHub held it (`content`, `commit`, `issue_comment`,
    /// `npm`, ...); at most 256 bytes (the document: 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64, nullable = false))]
    pub source: Option<String>,
}

impl std::fmt::Debug for GithubLeak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubLeak")
            .field("token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .field("source", &self.source)
            .finish()
    }
}

/// GitHub's report: at most 1000 matches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GithubLeakReport(pub Vec<GithubLeak>);

// By hand: utoipa's derive cannot bound a newtype's array.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for GithubLeakReport {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("GithubLeak"))
            .max_items(Some(1000))
            .description(Some(
                "GitHub secret scanning's report, signed by GitHub (see the \
                 `Github-Public-Key-*` headers)",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl ToSchema for GithubLeakReport {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "GithubLeak".into(),
            <GithubLeak as utoipa::PartialSchema>::schema(),
        ));
    }
}

/// What Tessera tells GitHub about one match, in GitHub's feedback format.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GithubLeakLabel {
    /// The match's `token`, as sent.
    pub token_raw: String,
    /// The match's `type`, as sent.
    pub token_type: String,
    pub label: LeakLabel,
}

impl std::fmt::Debug for GithubLeakLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubLeakLabel")
            .field("token_raw", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("label", &self.label)
            .finish()
    }
}

/// GitHub's two labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum LeakLabel {
    /// A live token of this deployment, revoked by this report.
    TruePositive,
    /// Not a live token of this deployment: a lookalike, a made-up
    /// string, or a token already revoked (Tessera keeps nothing of a
    /// revoked token to tell it from a lookalike).
    FalsePositive,
}

/// `POST /leaks`' body: a plain report (an object), or GitHub's (an
/// array, signed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum AnyLeakReport {
    Plain(LeakReport),
    Github(GithubLeakReport),
}

/// `POST /leaks`' answer, in the shape of the report: counts for a plain
/// report, one label per match for GitHub's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum LeakReportAnswer {
    Plain(LeakReportResponse),
    Github(Vec<GithubLeakLabel>),
}

// -------------------------------------------------------- introspection

/// `POST /oauth/introspect`'s form body (RFC 7662, section 2.1).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IntrospectionRequest {
    /// The token to introspect.
    pub token: String,
    /// Accepted and ignored: Tessera issues one kind of token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}

impl std::fmt::Debug for IntrospectionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionRequest")
            .field("token", &"<redacted>")
            .field("token_type_hint", &self.token_type_hint)
            .finish()
    }
}

/// `POST /oauth/introspect`'s answer (RFC 7662, section 2.2). For any
/// token that is not active here (malformed, unknown, revoked, expired, of
/// another org) exactly `{"active": false}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Introspection {
    pub active: bool,
    /// Always `bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The id of the member the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// That member's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// When the token expires (seconds since 1970); absent if it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// When the token was created (seconds since 1970).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// This deployment (`public_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Space-separated: `role:<role>` for the token's scope (each custom
    /// role, or `policy` for an inline policy) and `project:<key>` for each
    /// project it is restricted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The org's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

impl Introspection {
    /// `{"active": false}`, and nothing else.
    pub fn inactive() -> Self {
        Self::default()
    }
}
