//! `tessera reset-password`: sets a member's password on the database
//! directly (see `tessera_server::recovery`), for an owner who lost theirs.

use std::io::Read;
use std::process::ExitCode;

use clap::Args;

use crate::error::CliError;
use crate::serve::{init_logging, load_config, ConfigFlags};

#[derive(Debug, Args)]
pub struct ResetPasswordArgs {
    #[command(flatten)]
    flags: ConfigFlags,
    /// The member's email.
    #[arg(long)]
    email: String,
    /// The member's org key, when the email is in several orgs.
    #[arg(long)]
    org: Option<String>,
    /// Read the new password from standard input (otherwise one is
    /// generated and printed on stderr).
    #[arg(long)]
    password_stdin: bool,
}

pub async fn run(args: ResetPasswordArgs) -> Result<ExitCode, CliError> {
    let (config, _) = load_config(&args.flags, None)?;
    init_logging("warn");
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|e| CliError::io("cannot read the password from stdin", e))?;
        let line = text.lines().next().unwrap_or("").to_owned();
        if line.is_empty() {
            return Err(CliError::Input(
                "--password-stdin: standard input was empty".into(),
            ));
        }
        Some(line)
    } else {
        None
    };
    let state = tessera_server::open(config)
        .await
        .map_err(|e| CliError::Setup(e.to_string()))?;
    let reset = tessera_server::recovery::reset_password(
        &state,
        &args.email,
        args.org.as_deref(),
        password,
    )
    .await
    .map_err(|e| match e {
        tessera_server::recovery::RecoveryError::Input(m) => CliError::Input(m),
        tessera_server::recovery::RecoveryError::Failed(m) => CliError::Setup(m),
    })?;
    if let Some(password) = &reset.generated_password {
        eprintln!("Generated password for {}: {password}", reset.member.email);
    }
    eprintln!(
        "Reset the password of {} in {}; their sessions ended.",
        reset.member.email, reset.org_key
    );
    Ok(ExitCode::SUCCESS)
}
