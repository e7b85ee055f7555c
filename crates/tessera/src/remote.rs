//! The API from a terminal: every command here is one or two calls through
//! [`tessera_client::Client`].
//!
//! Invariants:
//! - a token value is printed only where the user asked for a new one
//!   (`token create|clone|rotate`), alone on stdout so `$(...)` captures
//!   it, and never by `--help` (`hide_env_values`) or in an error;
//! - the credential comes from `--token`, then `TESSERA_TOKEN`, then the
//!   file `tessera login` saved; a saved token is only ever sent to the
//!   server it was saved for;
//! - tables for people, `--json` for scripts (the API's JSON, pretty);
//!   notes meant for people go to stderr so stdout stays parseable.

mod admin;
mod credentials;
pub(crate) mod input;
mod members;
pub(crate) mod output;
mod service_accounts;
mod session;
mod token_controls;
mod token_limits;
pub(crate) use token_limits::{parse_rate, parse_refill};
mod tokens;
mod verify;
mod webhooks;

pub use credentials::missing_credential;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;
use tessera_client::{Client, Error as ClientError};

use crate::error::CliError;

/// Commands that talk to a running Tessera server.
#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Create, list, update, clone, rotate and delete your API tokens.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Manage the org's members and their roles (admins).
    #[command(subcommand)]
    Member(members::MemberCommand),
    /// Manage service accounts (identities for automation) and their
    /// tokens.
    #[command(subcommand)]
    ServiceAccount(service_accounts::ServiceAccountCommand),
    /// Manage webhook endpoints and their deliveries (admins).
    #[command(subcommand)]
    Webhook(webhooks::WebhookCommand),
    /// Manage custom roles: named policies for members and tokens (admins).
    #[command(subcommand)]
    Role(admin::RoleCommand),
    /// Manage projects, which tokens can be restricted to.
    #[command(subcommand)]
    Project(admin::ProjectCommand),
    /// Show or change the org and its token policy.
    #[command(subcommand)]
    Org(admin::OrgCommand),
    /// Read the audit log, newest first.
    Audit(admin::AuditArgs),
    /// Check a token, as a service would: valid? allowed to do ACTION?
    #[command(long_about = verify::LONG_ABOUT)]
    Verify(verify::VerifyArgs),
    /// Show who the credential belongs to.
    Me(members::MeArgs),
    /// Log in with email and password, and save a CLI token for later
    /// commands.
    #[command(long_about = session::LONG_ABOUT)]
    Login(session::LoginArgs),
    /// Revoke the token `tessera login` saved, and forget it.
    Logout(session::LogoutArgs),
}

/// Where the server is and which credential to use: `--url` and
/// `--token`, on every remote command and on `tessera mcp`.
#[derive(Debug, Clone, Args)]
pub struct Server {
    /// The Tessera server, e.g. http://127.0.0.1:8080 [default: the one
    /// `tessera login` saved, else http://127.0.0.1:8080; required with
    /// --token or TESSERA_TOKEN]
    #[arg(long, env = "TESSERA_URL", value_name = "URL")]
    pub url: Option<String>,
    /// The API token to authenticate with [default: the one `tessera
    /// login` saved]. Prefer TESSERA_TOKEN (in the environment, or in an
    /// assistant's MCP configuration): a flag ends up in shell history.
    #[arg(
        long,
        env = "TESSERA_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
}

/// The server and credential, and the output format; on every remote
/// command.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    #[command(flatten)]
    pub server: Server,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Connection {
    /// A client for the resolved server and credential (see
    /// [`credentials::resolve`]). Having no credential is not an error
    /// here: the client reports it, naming the ways to give one, only if
    /// the command needs one.
    pub fn client(&self) -> Result<Client, CliError> {
        self.resolve()?.client()
    }

    /// The server and credential this command will use, and where the
    /// credential came from.
    pub fn resolve(&self) -> Result<credentials::Resolved, CliError> {
        let Server { url, token } = &self.server;
        // Checked here rather than by clap so that `tessera mcp` still
        // starts with a bad URL and says so through its tools.
        let url = url
            .as_deref()
            .map(input::parse_url)
            .transpose()
            .map_err(CliError::Input)?;
        let saved = match token {
            Some(_) => None,
            None => credentials::load()?,
        };
        credentials::resolve(url, token.clone(), saved)
    }

    /// Makes one call with this connection's client and prints the answer
    /// (see [`output::emit`]): most commands are exactly that. The answer
    /// is returned for what a command says after it (a cursor, a verdict).
    pub async fn show<T: Serialize>(
        &self,
        call: impl AsyncFnOnce(&Client) -> Result<T, ClientError>,
        human: impl FnOnce(&T) -> String,
    ) -> Result<T, CliError> {
        let value = call(&self.client()?).await?;
        output::emit(self.json, &value, human)?;
        Ok(value)
    }
}

/// What every delete command takes besides what it deletes: `--yes` and
/// the connection. One place, so that deleting asks alike everywhere.
#[derive(Debug, Clone, Args)]
pub struct DeleteFlags {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub conn: Connection,
}

impl DeleteFlags {
    /// Fails before any request when confirmation would be needed but
    /// there is no terminal to ask on.
    pub fn check(&self) -> Result<(), CliError> {
        input::check_can_confirm(self.yes)
    }

    /// Unless `--yes`, asks the question `ask` builds (it may look up what
    /// is about to go, hence async); a "no" is the error `cancelled`.
    pub async fn confirm(
        &self,
        ask: impl AsyncFnOnce() -> Result<String, CliError>,
        cancelled: &str,
    ) -> Result<(), CliError> {
        if self.yes || input::confirm(false, &ask().await?)? {
            Ok(())
        } else {
            Err(CliError::Input(cancelled.into()))
        }
    }

    /// Says what was deleted, for people only: with `--json` stdout stays
    /// empty.
    pub fn done(&self, text: &str) -> Result<(), CliError> {
        if self.conn.json {
            return Ok(());
        }
        output::print(&format!("{text}\n"))
    }
}

/// `--url` and `--json` alone, for commands that send no credential
/// (`verify`).
#[derive(Debug, Clone, Args)]
pub struct PublicConnection {
    /// The Tessera server [default: the one `tessera login` saved, else
    /// http://127.0.0.1:8080]
    #[arg(long, env = "TESSERA_URL", value_name = "URL")]
    pub url: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl PublicConnection {
    /// The same, with no credential to send.
    pub fn connection(&self) -> Connection {
        Connection {
            server: Server {
                url: self.url.clone(),
                token: None,
            },
            json: self.json,
        }
    }
}

pub async fn run(cmd: RemoteCommand) -> Result<ExitCode, CliError> {
    match cmd {
        RemoteCommand::Token(cmd) => tokens::run(cmd).await,
        RemoteCommand::Member(cmd) => members::run(cmd).await,
        RemoteCommand::ServiceAccount(cmd) => service_accounts::run(cmd).await,
        RemoteCommand::Webhook(cmd) => webhooks::run(cmd).await,
        RemoteCommand::Role(cmd) => admin::run_role(cmd).await,
        RemoteCommand::Project(cmd) => admin::run_project(cmd).await,
        RemoteCommand::Org(cmd) => admin::run_org(cmd).await,
        RemoteCommand::Audit(args) => admin::audit(args).await,
        RemoteCommand::Verify(args) => verify::run(args).await,
        RemoteCommand::Me(args) => members::me(args).await,
        RemoteCommand::Login(args) => session::login(args).await,
        RemoteCommand::Logout(args) => session::logout(args).await,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::error::ErrorKind::{
        self, ArgumentConflict, InvalidValue, MissingRequiredArgument, ValueValidation,
    };
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(subcommand)]
        c: RemoteCommand,
    }

    pub(crate) fn parse(args: &[&str]) -> Result<RemoteCommand, clap::Error> {
        TestCli::try_parse_from(std::iter::once("tessera").chain(args.iter().copied()))
            .map(|cli| cli.c)
    }

    /// `line`, split at spaces, as the words after `tessera`.
    fn parse_line(line: &str) -> Result<RemoteCommand, clap::Error> {
        parse(&line.split(' ').collect::<Vec<_>>())
    }

    #[test]
    fn parses_token_create_with_scope_projects_and_expiry() {
        let cmd = parse_line(
            "token create --name ci --role writer --project web --project api \
             --expires-in 30d --json --url http://h:1",
        )
        .expect("parses");
        let RemoteCommand::Token(tokens::TokenCommand::Create(args)) = cmd else {
            panic!("wrong command: {cmd:?}");
        };
        assert_eq!(args.token.name, "ci");
        assert_eq!(args.token.projects, ["web", "api"]);
        assert!(args.conn.json);
        assert_eq!(args.conn.server.url.as_deref(), Some("http://h:1"));
    }

    /// Command lines (the words after `tessera`) that clap takes.
    const ACCEPTED: &[&str] = &[
        "token list",
        "token show self --json",
        "token update t1 --inherit --no-projects --no-expiry",
        "token clone t1 --name copy",
        "token delete t1 --yes",
        "token create --name x --custom-role a --custom-role b",
        "token rotate self --expires-in 90d --grace 300",
        "member create --email a@b.c --role writer",
        "member update m1 --no-custom-roles",
        "member tokens m1",
        "service-account create --name ci --role writer --custom-role ops",
        "service-account update s1 --role reader --no-custom-roles",
        "service-account token create s1 --name deploy --role reader --expires-in 30d",
        "service-account token list s1 --json",
        "service-account delete s1 --yes",
        "role create --key ops --policy-file -",
        "project create --key web",
        "project show web --json",
        "org update --require-expiration true --no-max-lifetime",
        "audit --action token:create --limit 10",
        "verify - --action flag:update --resource proj/web",
        "me",
        "login --email a@b.c --password-stdin",
        "login --email a@b.c --url http://h:1",
        "logout",
    ];

    /// Command lines that clap refuses, by the kind of refusal: usage
    /// errors, before any request.
    const REFUSED: &[(ErrorKind, &[&str])] = &[
        // At most one scope and one expiry; a flag or its negation.
        (
            ArgumentConflict,
            &[
                "token create --name x --role reader --custom-role a",
                "token create --name x --expires-at 2030-01-01T00:00:00Z --expires-in 1d",
                "token update t1 --role reader --inherit",
                "org update --max-lifetime-days 30 --no-max-lifetime",
            ],
        ),
        (
            ValueValidation,
            &[
                "token create --name x --expires-in 30x",
                "token create --name x --expires-at tomorrow",
                "token rotate self --expires-in 1d --grace 90000",
            ],
        ),
        (InvalidValue, &["token create --name x --role superuser"]),
        // Rotation needs an expiry; a permission question both halves.
        (
            MissingRequiredArgument,
            &["token rotate self", "verify - --action flag:update"],
        ),
    ];

    #[test]
    fn accepts_every_command() {
        for line in ACCEPTED {
            if let Err(e) = parse_line(line) {
                panic!("{line:?}: {e}");
            }
        }
    }

    #[test]
    fn refuses_bad_lines_as_usage_errors() {
        for (kind, lines) in REFUSED {
            for line in *lines {
                let got = parse_line(line).map(drop).map_err(|e| e.kind());
                assert_eq!(got, Err(*kind), "{line}");
            }
        }
    }

    #[test]
    fn help_never_shows_the_token_value() {
        // clap reads TESSERA_TOKEN from the environment while rendering
        // help; hide_env_values keeps it out of the text.
        let err = parse_line("token list --help").expect_err("help");
        let help = err.to_string();
        assert!(help.contains("TESSERA_TOKEN"), "{help}");
        if let Ok(value) = std::env::var("TESSERA_TOKEN") {
            assert!(value.is_empty() || !help.contains(&value));
        }
        let token_arg = TestCli::command_for_test()
            .find_subcommand("token")
            .and_then(|t| t.find_subcommand("list"))
            .and_then(|l| l.get_arguments().find(|a| a.get_id() == "token").cloned());
        assert!(token_arg.is_some_and(|a| a.is_hide_env_values_set()));
    }

    impl TestCli {
        fn command_for_test() -> clap::Command {
            <Self as clap::CommandFactory>::command()
        }
    }
}
