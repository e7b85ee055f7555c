//! `tessera login` and `tessera logout`.
//!
//! Login trades email and password for an ordinary API token ("tessera CLI
//! on <host>", 90 days or the org's cap, with the member's own
//! permissions) and saves it; the login session itself is ended at once.
//! So the CLI never stores a password or a session, and the saved token
//! shows up in `token list`, where it can be revoked like any other.

use std::process::ExitCode;

use clap::Args;
use tessera_api::{CreateTokenRequest, LoginRequest};
use tessera_client::{Client, Error as ClientError, DEFAULT_URL};
use time::Duration;

use super::credentials::{self, Saved};
use super::{input, output};
use crate::error::CliError;

const CLI_TOKEN_DAYS: u32 = 90;

/// The long help of the command, on its variant in `RemoteCommand`
/// (clap reads it there, not here).
pub const LONG_ABOUT: &str = "Log in with email and password, and save a CLI token.\n\n\
    On a terminal the password is asked for, without echo. In a script, pipe it\n\
    in with --password-stdin, so it stays out of shell history and `ps`. The\n\
    token is saved to $TESSERA_CONFIG_DIR/credentials.json, else\n\
    $XDG_CONFIG_HOME/tessera/credentials.json, else ~/.config/tessera/credentials.json,\n\
    readable only by you; later commands use it when neither --token nor\n\
    TESSERA_TOKEN is given.\n\n\
    Examples:\n  \
    tessera login --url http://127.0.0.1:8080 --email admin@example.com\n  \
    tessera login --url https://tessera.example.com --email ana@example.com --password-stdin < pw.txt";

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your email address in the org.
    #[arg(long)]
    pub email: String,
    /// The org's key, if the email belongs to several orgs.
    #[arg(long)]
    pub org: Option<String>,
    /// Read the password from the first line of stdin instead of asking
    /// for it on the terminal.
    #[arg(long)]
    pub password_stdin: bool,
    /// The Tessera server [default: http://127.0.0.1:8080]
    #[arg(long, env = "TESSERA_URL", value_name = "URL")]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {}

pub async fn login(args: LoginArgs) -> Result<ExitCode, CliError> {
    let url = match args.url.as_deref().map(input::parse_url).transpose() {
        Ok(Some(url)) if !url.is_empty() => url,
        Ok(_) => DEFAULT_URL.to_owned(),
        Err(e) => return Err(CliError::Input(e)),
    };
    let path = credentials::path().ok_or_else(|| {
        CliError::Input("nowhere to save credentials: set TESSERA_CONFIG_DIR or HOME".into())
    })?;
    let password = if args.password_stdin {
        input::read_secret_line("password")?
    } else {
        let usage = format!("tessera login --url {url} --email {}", args.email);
        input::prompt_password(&args.email, &output::clean(&usage))?
    };
    let mut client = Client::new(url, None)?;
    let session = client
        .login(&LoginRequest {
            email: args.email.clone(),
            password,
            org: args.org.clone(),
        })
        .await?;

    let days = session
        .org
        .token_policy
        .max_lifetime_days
        .map_or(CLI_TOKEN_DAYS, |cap| cap.min(CLI_TOKEN_DAYS));
    let request = CreateTokenRequest {
        name: format!("tessera CLI on {}", hostname()),
        expires_at: Some(crate::clock::now() + Duration::days(i64::from(days))),
        ..Default::default()
    };
    let created = client.create_token(&request).await;
    // The session was only needed to mint the token.
    if let Err(e) = client.logout().await {
        eprintln!("warning: could not end the login session: {e}");
    }
    let created = created?;

    let previous = credentials::load_from(&path).ok().flatten();
    let saved = Saved {
        url: client.base_url().to_owned(),
        token: created.token.clone(),
    };
    credentials::save_to(&path, &saved)?;
    if let Some(previous) = previous.filter(|p| p.token != saved.token) {
        revoke_quietly(&previous).await;
    }
    eprintln!(
        "Logged in to {} as {} (org {}).",
        saved.url,
        output::clean(&session.member.email),
        output::clean(&session.org.key)
    );
    eprintln!(
        "Saved token \"{}\" ({}), expiring {}, to {}.",
        output::clean(&created.metadata.name),
        created.metadata.id,
        output::time_or_never(created.metadata.expires_at),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The saved token is replaced: revoke the old one so it does not linger
/// until it expires. Failure only costs that.
async fn revoke_quietly(previous: &Saved) {
    let Ok(client) = Client::new(previous.url.clone(), Some(previous.token.clone())) else {
        return;
    };
    let _ = client.delete_token("self").await;
}

pub async fn logout(_args: LogoutArgs) -> Result<ExitCode, CliError> {
    let Some(path) = credentials::path() else {
        eprintln!("Not logged in.");
        return Ok(ExitCode::SUCCESS);
    };
    let Some(saved) = credentials::load_from(&path)? else {
        eprintln!("Not logged in (no {}).", path.display());
        return Ok(ExitCode::SUCCESS);
    };
    let client = Client::new(saved.url.clone(), Some(saved.token.clone()))?;
    match client.delete_token("self").await {
        Ok(()) => eprintln!("Revoked the saved token at {}.", saved.url),
        // Already revoked or expired: nothing left to do on the server.
        Err(ClientError::Api { status: 401, .. }) => {}
        Err(e) => eprintln!(
            "warning: could not revoke the saved token ({e}); it stays valid until it \
             expires or is deleted with `tessera token delete`"
        ),
    }
    credentials::remove(&path)?;
    eprintln!("Removed {}.", path.display());
    Ok(ExitCode::SUCCESS)
}

/// This machine's name, for the token's name; the token works without it.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_owned())
        .chain(std::env::var("HOSTNAME").ok())
        .chain(std::env::var("COMPUTERNAME").ok())
        .find(|h| !h.is_empty())
        .map(|h| output::clean(&h).chars().take(60).collect())
        .unwrap_or_else(|| "unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_name_fits_the_limit() {
        let name = format!("tessera CLI on {}", hostname());
        assert!(!hostname().is_empty());
        assert!(name.chars().count() <= 100);
    }
}
