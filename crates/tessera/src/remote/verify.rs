//! `tessera verify`: what a service asks Tessera about a presented token,
//! from a shell script. The exit code is the verdict: 0 when the token is
//! valid (and allowed, when an action was asked about), 1 otherwise.

use std::process::ExitCode;

use clap::Args;
use tessera_api::{VerifyRequest, VerifyResponse};

use super::input;
use super::output;
use super::PublicConnection;
use crate::error::CliError;

/// The long help of the command, on its variant in `RemoteCommand`
/// (clap reads it there, not here).
pub const LONG_ABOUT: &str = "Check a token, as a service would.\n\n\
    Exit code 0 when the token is valid (and allowed, if --action and --resource are\n\
    given), 1 otherwise. Needs no credential of your own.\n\n\
    Examples:\n  \
    printf '%s\\n' \"$TOKEN\" | tessera verify -\n  \
    tessera verify - --action flag:update --resource proj/web:env/prod < token.txt";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The token to check, or `-` to read it from stdin (keeps it out of
    /// shell history).
    #[arg(value_name = "TOKEN|-")]
    pub token: String,
    /// Also ask whether the token may do this action (e.g. flag:update).
    #[arg(long, requires = "resource")]
    pub action: Option<String>,
    /// ... on this resource (e.g. proj/web:env/prod:flag/checkout).
    #[arg(long, requires = "action")]
    pub resource: Option<String>,
    #[command(flatten)]
    pub conn: PublicConnection,
}

pub async fn run(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let token = if args.token == "-" {
        input::read_secret_line("token")?.trim().to_owned()
    } else {
        args.token.clone()
    };
    let request = VerifyRequest {
        token,
        action: args.action.clone(),
        resource: args.resource.clone(),
        ip: None,
        cost: None,
    };
    let answer = args
        .conn
        .connection()
        .show(async |c| c.verify(&request).await, |a| verdict(a, &args))
        .await?;
    Ok(if passes(&answer) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn passes(answer: &VerifyResponse) -> bool {
    answer.valid && answer.allowed != Some(false)
}

fn verdict(answer: &VerifyResponse, args: &VerifyArgs) -> String {
    let mut rows = vec![(
        "verdict",
        if answer.valid {
            "valid".to_owned()
        } else {
            format!("invalid ({})", output::clean(&answer.code))
        },
    )];
    if let (Some(allowed), Some(action), Some(resource)) =
        (answer.allowed, &args.action, &args.resource)
    {
        let word = if allowed { "allowed" } else { "not allowed" };
        rows.push(("permission", format!("{word}: {action} on {resource}")));
    }
    if let Some(t) = &answer.token {
        rows.extend([
            ("token", format!("{} ({})", t.name, t.id)),
            match (&t.member, &t.service_account) {
                (Some(member), _) => ("member", member.clone()),
                (None, Some(account)) => (
                    "service account",
                    format!("{} ({})", account.name, account.id),
                ),
                (None, None) => ("member", "-".to_owned()),
            },
            ("org", t.org.clone()),
            ("projects", output::projects(&t.projects)),
            ("expires", output::time_or_never(t.expires_at)),
        ]);
    }
    output::pairs(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(valid: bool, allowed: Option<bool>) -> VerifyResponse {
        VerifyResponse {
            valid,
            code: if valid { "valid" } else { "token_expired" }.into(),
            allowed,
            token: None,
            ratelimit: None,
            quota: None,
        }
    }

    #[test]
    fn the_exit_code_is_the_verdict() {
        assert!(passes(&answer(true, None)));
        assert!(passes(&answer(true, Some(true))));
        assert!(!passes(&answer(true, Some(false))));
        assert!(!passes(&answer(false, None)));
    }

    #[test]
    fn the_verdict_says_why() {
        let args = VerifyArgs {
            token: "-".into(),
            action: Some("flag:update".into()),
            resource: Some("proj/web".into()),
            conn: PublicConnection {
                url: None,
                json: false,
            },
        };
        let text = verdict(&answer(false, None), &args);
        assert!(text.contains("invalid (token_expired)"), "{text}");
        let text = verdict(&answer(true, Some(false)), &args);
        assert!(
            text.contains("not allowed: flag:update on proj/web"),
            "{text}"
        );
    }
}
