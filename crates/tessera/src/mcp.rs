//! `tessera mcp`: an MCP server on stdio (the official Rust SDK, `rmcp`)
//! that lets an AI assistant list, create, rotate, revoke and check the
//! caller's tokens.
//!
//! The credential is `TESSERA_TOKEN` (and the server `TESSERA_URL`) from
//! the assistant's MCP configuration, as GraphorLM does it; every tool is
//! one call through [`tessera_client::Client`], so the assistant can do
//! exactly what that token may do.
//!
//! Invariants:
//! - stdout carries only the MCP protocol; nothing else is printed there;
//! - the server starts even when the configuration is unusable (no token,
//!   a malformed token or URL), and every tool then answers with a tool
//!   error saying what to fix, so the assistant can tell the user;
//! - tool errors (as opposed to protocol errors) carry the API's code and a
//!   hint; no error contains a token value. A token value appears only in
//!   the answer of `create_token` and `rotate_token`, once.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{schemars, tool, tool_handler, tool_router, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::json;
use tessera_api::{CreateTokenRequest, RotateTokenRequest, VerifyRequest};
use tessera_client::{Client, Error, TokenFilter};
use tessera_core::TokenFormat;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::error::CliError;
use crate::remote::{Connection, Server};

pub const LONG_ABOUT: &str = "\
An MCP server on stdio for AI assistants (Claude Desktop, Claude Code,
Cursor, ...), with tools to list, create, rotate and revoke your tokens and
to check a token.

It authenticates with TESSERA_TOKEN and talks to TESSERA_URL, both from the
assistant's MCP server configuration, e.g.:

  {\"mcpServers\": {\"tessera\": {\"command\": \"tessera\", \"args\": [\"mcp\"],
    \"env\": {\"TESSERA_URL\": \"https://tessera.example.com\",
            \"TESSERA_TOKEN\": \"tsr_...\"}}}}";

#[derive(Debug, Args)]
pub struct McpArgs {
    // The server, and the token the assistant acts with.
    #[command(flatten)]
    pub server: Server,
}

/// Serves MCP on stdin/stdout until the client closes the connection.
pub async fn run(args: McpArgs) -> Result<ExitCode, CliError> {
    let tools = Tools::from_args(args);
    let service = tools
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| CliError::Setup(format!("MCP handshake failed: {e}")))?;
    service
        .waiting()
        .await
        .map_err(|e| CliError::Setup(format!("MCP server stopped: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The tools, and the client they call (or why there is none).
#[derive(Clone)]
pub struct Tools {
    client: Result<Arc<Client>, String>,
}

impl Tools {
    fn from_args(args: McpArgs) -> Self {
        let conn = Connection {
            server: args.server,
            json: false,
        };
        let client = match conn.resolve() {
            Ok(resolved) => match resolved.token {
                None => Err(crate::remote::missing_credential()
                    .unwrap_or(
                        "no token: set TESSERA_TOKEN (and TESSERA_URL) in the `env` of the \
                         tessera MCP server in your assistant's configuration",
                    )
                    .to_owned()),
                Some(token) => check_shape(&token)
                    .and_then(|()| {
                        Client::new(resolved.url, Some(token))
                            .map_err(|e| format!("the MCP server's configuration is unusable: {e}"))
                    })
                    .map(Arc::new),
            },
            Err(e) => Err(format!("the MCP server's configuration is unusable: {e}")),
        };
        Self { client }
    }

    fn client(&self) -> Result<&Client, String> {
        self.client.as_deref().map_err(Clone::clone)
    }
}

/// Checks that the configured token is a Tessera token at all (prefix,
/// length, checksum), so a pasted-wrong value gets a precise message
/// without a round trip.
fn check_shape(token: &str) -> Result<(), String> {
    let problem = match token.split_once('_') {
        None => "it has no `<prefix>_` at the start".to_owned(),
        Some((prefix, _)) => match TokenFormat::new(prefix) {
            Err(_) => "its prefix is not a Tessera token prefix".to_owned(),
            Ok(format) => match format.parse(token) {
                Ok(_) => return Ok(()),
                Err(e) => e.to_string(),
            },
        },
    };
    Err(format!(
        "TESSERA_TOKEN in the MCP server's configuration is not a valid Tessera token: \
         {problem}. Copy the whole token again (it is shown once, when created)."
    ))
}

/// Turns a client error into a message for the assistant to relay.
fn explain(error: Error) -> String {
    match &error {
        Error::MissingCredential => {
            "no token: set TESSERA_TOKEN in the MCP server's configuration".to_owned()
        }
        Error::Unreachable { url, reason } => format!(
            "cannot reach the Tessera server at {url} ({reason}). Check TESSERA_URL in the MCP \
             server's configuration and that the server is running."
        ),
        Error::Api {
            status: 401, code, ..
        } => format!(
            "Tessera refused the configured TESSERA_TOKEN ({code}): it is unknown, revoked or \
             expired. Create a new token and put it in the MCP server's configuration."
        ),
        Error::Api {
            status,
            code,
            message,
            ..
        } if *status >= 500 => format!(
            "the Tessera server failed ({status} {code}: {message}); try again later or ask \
             its operator"
        ),
        _ => error.to_string(),
    }
}

/// A tool's answer: the API's JSON, or the error explained.
fn answer<T: serde::Serialize>(result: Result<T, Error>) -> Result<String, String> {
    result.map(|value| to_json(&value)).map_err(explain)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// An expiry from `expires_in_days` or `expires_at` (RFC 3339).
fn expiry(in_days: Option<u32>, at: Option<&str>) -> Result<Option<OffsetDateTime>, String> {
    match (in_days, at) {
        (Some(_), Some(_)) => Err("give expires_in_days or expires_at, not both".into()),
        (Some(0), None) => Err("expires_in_days must be at least 1".into()),
        (Some(days), None) => Ok(Some(crate::clock::now() + Duration::days(i64::from(days)))),
        (None, Some(at)) => OffsetDateTime::parse(at, &Rfc3339).map(Some).map_err(|_| {
            format!("expires_at must be an RFC 3339 time like 2030-01-31T00:00:00Z, not {at:?}")
        }),
        (None, None) => Ok(None),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct CreateParams {
    /// A name that says where the token is used (1-100 characters).
    pub name: String,
    /// Limit the token to a built-in role: "reader", "writer", "admin" or
    /// "owner" (never more than your own). Default: your own permissions.
    pub role: Option<String>,
    /// Restrict the token to these project keys.
    pub projects: Option<Vec<String>>,
    /// Expire after this many days.
    pub expires_in_days: Option<u32>,
    /// Or expire at this RFC 3339 time, e.g. 2030-01-31T00:00:00Z.
    pub expires_at: Option<String>,
    /// Allow the token only from these addresses or CIDR ranges.
    pub allowed_ips: Option<Vec<String>>,
    /// At most N uses per period, e.g. "100/60s" or "1000/1h".
    pub rate_limit: Option<String>,
    /// Allow this many uses in all.
    pub quota: Option<i64>,
    /// With quota: refill to N each UTC day or month, e.g. "1000/month".
    pub refill: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct AccountTokenParams {
    /// The service account's id (from list_service_accounts).
    pub service_account_id: String,
    #[serde(flatten)]
    pub token: CreateParams,
}

impl CreateParams {
    /// The `POST /tokens` body these parameters ask for.
    fn request(self) -> Result<CreateTokenRequest, String> {
        let role = self
            .role
            .map(|r| {
                serde_json::from_value(json!(r.to_ascii_lowercase()))
                    .map_err(|_| format!("role must be reader, writer, admin or owner, not {r:?}"))
            })
            .transpose()?;
        let rate_limit = self
            .rate_limit
            .as_deref()
            .map(crate::remote::parse_rate)
            .transpose()?;
        let refill = self
            .refill
            .as_deref()
            .map(crate::remote::parse_refill)
            .transpose()?;
        if refill.is_some() && self.quota.is_none() {
            return Err("refill needs a quota".into());
        }
        let quota = self
            .quota
            .map(|remaining| tessera_api::Quota { remaining, refill });
        Ok(CreateTokenRequest {
            name: self.name,
            role,
            allowed_ips: self.allowed_ips,
            rate_limit,
            quota,
            projects: self.projects,
            expires_at: expiry(self.expires_in_days, self.expires_at.as_deref())?,
            ..Default::default()
        })
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct RotateParams {
    /// The token's id (from list_tokens), or "self" for the configured token.
    pub id: String,
    /// The new expiry in days from now (rotation requires one).
    pub expires_in_days: Option<u32>,
    /// Or the new expiry as an RFC 3339 time.
    pub expires_at: Option<String>,
    /// Keep the old value working this many seconds more (at most 86400).
    pub grace_period_seconds: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct IdParams {
    /// The token's id (from list_tokens).
    pub id: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct InventoryParams {
    /// Only this member's tokens (a member id).
    pub member: Option<String>,
    /// Only this service account's tokens (a service-account id).
    pub service_account: Option<String>,
    /// Only tokens expiring before this RFC 3339 time.
    pub expires_before: Option<String>,
    /// Only tokens not used since this RFC 3339 time (never-used ones:
    /// created before it).
    pub unused_since: Option<String>,
    /// Only tokens whose name contains this.
    pub name: Option<String>,
    /// "newest" (default) or "last_used".
    pub sort: Option<String>,
    /// The next_cursor of the previous page.
    pub before: Option<String>,
    /// Page size, 1 to 500.
    pub limit: Option<u32>,
}

impl From<InventoryParams> for TokenFilter {
    fn from(p: InventoryParams) -> Self {
        Self {
            member: p.member,
            service_account: p.service_account,
            expires_before: p.expires_before,
            unused_since: p.unused_since,
            q: p.name,
            sort: p.sort,
            before: p.before,
            limit: p.limit,
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct WebhookParams {
    /// The webhook's id (from list_webhooks).
    pub id: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct CheckParams {
    /// The token to check.
    pub token: String,
    /// Optionally, an action to ask about, like "flag:update".
    pub action: Option<String>,
    /// The resource for the action, like "proj/web:env/prod".
    pub resource: Option<String>,
}

#[tool_router]
impl Tools {
    #[tool(
        description = "List your Tessera API tokens: id, name, snippet, scope, projects, created, expires and last used. Never the token values.",
        annotations(read_only_hint = true)
    )]
    async fn list_tokens(&self) -> Result<String, String> {
        answer(self.client()?.list_tokens().await)
    }

    #[tool(
        description = "Create a new Tessera API token for yourself. The answer holds the full token value this one time only: show it to the user and tell them to store it now (for example in a secret manager); it cannot be shown again.",
        annotations(destructive_hint = false)
    )]
    async fn create_token(
        &self,
        Parameters(p): Parameters<CreateParams>,
    ) -> Result<String, String> {
        let request = p.request()?;
        answer(self.client()?.create_token(&request).await)
    }

    #[tool(
        description = "Admins: every token of the org (members' and service accounts'), filtered by owner, expiry, last use or name, one page at a time (next_cursor gives the next). Metadata only, never token values. Use it to find stale or soon-expiring tokens.",
        annotations(read_only_hint = true)
    )]
    async fn find_tokens(
        &self,
        Parameters(p): Parameters<InventoryParams>,
    ) -> Result<String, String> {
        answer(self.client()?.list_all_tokens(&p.into()).await)
    }

    #[tool(
        description = "List the org's service accounts (identities for automation, such as CI, whose tokens outlive the person who made them): id, name, role.",
        annotations(read_only_hint = true)
    )]
    async fn list_service_accounts(&self) -> Result<String, String> {
        answer(self.client()?.list_service_accounts().await)
    }

    #[tool(
        description = "Create a token for a service account (for CI and other automation); it acts with the account's current role, not yours. The answer holds the full token value this one time only: show it to the user and tell them to store it now.",
        annotations(destructive_hint = false)
    )]
    async fn create_service_account_token(
        &self,
        Parameters(p): Parameters<AccountTokenParams>,
    ) -> Result<String, String> {
        let request = p.token.request()?;
        let client = self.client()?;
        answer(
            client
                .create_service_account_token(&p.service_account_id, &request)
                .await,
        )
    }

    #[tool(
        description = "List the org's webhook endpoints (admins): id, URL, the event types each receives. Never their signing secrets.",
        annotations(read_only_hint = true)
    )]
    async fn list_webhooks(&self) -> Result<String, String> {
        answer(self.client()?.list_webhooks().await)
    }

    #[tool(
        description = "A webhook endpoint's recent deliveries, newest first: event type, status (pending, succeeded, failed), attempts, last response code and error, next attempt.",
        annotations(read_only_hint = true)
    )]
    async fn list_webhook_deliveries(
        &self,
        Parameters(p): Parameters<WebhookParams>,
    ) -> Result<String, String> {
        answer(self.client()?.list_webhook_deliveries(&p.id).await)
    }

    #[tool(
        description = "Rotate a token: same id, name and scope, a new value and a new expiry; the old value stops working (after the optional grace period). The answer holds the new value this one time only. A token can be rotated at most once an hour.",
        annotations(destructive_hint = true)
    )]
    async fn rotate_token(
        &self,
        Parameters(p): Parameters<RotateParams>,
    ) -> Result<String, String> {
        let Some(expires_at) = expiry(p.expires_in_days, p.expires_at.as_deref())? else {
            return Err("rotation needs a new expiry: give expires_in_days or expires_at".into());
        };
        let request = RotateTokenRequest {
            expires_at,
            grace_period_seconds: p.grace_period_seconds,
        };
        answer(self.client()?.rotate_token(&p.id, &request).await)
    }

    #[tool(
        description = "Revoke (delete) one of your tokens by id. It stops working at once, everywhere, and cannot be restored.",
        annotations(destructive_hint = true)
    )]
    async fn revoke_token(&self, Parameters(p): Parameters<IdParams>) -> Result<String, String> {
        self.client()?.delete_token(&p.id).await.map_err(explain)?;
        Ok(to_json(&json!({ "revoked": p.id })))
    }

    #[tool(
        description = "Disable a token by id: it is refused (token_disabled) everywhere until enabled again. Nothing else about it changes. Use this instead of revoking when the token may be needed again.",
        annotations(destructive_hint = true, idempotent_hint = true)
    )]
    async fn disable_token(&self, Parameters(p): Parameters<IdParams>) -> Result<String, String> {
        answer(self.client()?.disable_token(&p.id).await)
    }

    #[tool(
        description = "Enable a disabled token by id: it works again at once.",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    async fn enable_token(&self, Parameters(p): Parameters<IdParams>) -> Result<String, String> {
        answer(self.client()?.enable_token(&p.id).await)
    }

    #[tool(
        description = "Check a token as a service would: is it valid (and not expired or revoked), whose is it, and optionally may it do an action on a resource.",
        annotations(read_only_hint = true)
    )]
    async fn check_token(&self, Parameters(p): Parameters<CheckParams>) -> Result<String, String> {
        let request = VerifyRequest {
            token: p.token.trim().to_owned(),
            action: p.action,
            resource: p.resource,
            ip: None,
            cost: None,
        };
        answer(self.client()?.verify(&request).await)
    }

    #[tool(
        description = "Who the configured token belongs to: member, org, role, and the token itself.",
        annotations(read_only_hint = true)
    )]
    async fn whoami(&self) -> Result<String, String> {
        answer(self.client()?.me().await)
    }
}

#[tool_handler(
    name = "tessera",
    instructions = "Manage the user's Tessera API tokens. Token values are secrets: a new value is returned once by create_token or rotate_token; show it to the user once and never repeat it elsewhere."
)]
impl ServerHandler for Tools {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_errors_say_what_is_wrong_without_the_value() {
        let good = TokenFormat::default().generate(crate::clock::now()).token;
        assert!(check_shape(&good).is_ok());
        let truncated = &good[..good.len() - 1];
        let err = check_shape(truncated).expect_err("truncated");
        assert!(err.contains("length") && !err.contains(truncated), "{err}");
        assert!(check_shape("hunter2")
            .expect_err("no prefix")
            .contains("prefix"));
    }

    #[test]
    fn expiry_accepts_days_or_a_time() {
        assert!(expiry(None, None).expect("none").is_none());
        assert!(expiry(Some(30), None).expect("days").is_some());
        assert!(expiry(None, Some("2031-01-01T00:00:00Z"))
            .expect("at")
            .is_some());
        assert!(expiry(None, Some("tomorrow")).is_err());
        assert!(expiry(Some(1), Some("2031-01-01T00:00:00Z")).is_err());
        assert!(expiry(Some(0), None).is_err());
    }
}
