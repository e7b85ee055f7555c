//! `tessera reset-password`: sets a member's password on the database
//! directly (see `tessera_server::recovery`), for an owner who lost theirs.

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
        Some(crate::serve::password_from_stdin()?)
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
