//! `tessera token ...`: the caller's own API tokens.
//!
//! A new token (create, clone, rotate) is printed once: alone on stdout,
//! so `TOKEN=$(tessera token create --name ci)` works, with a reminder on
//! stderr that it will not be shown again.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use tessera_api::{
    BuiltinRole, CloneTokenRequest, CreateTokenRequest, CreatedTokenResponse, Policy,
    RotateTokenRequest, TokenList, TokenResponse, UpdateTokenRequest,
};
use tessera_client::{Client, Error as ClientError};
use time::{Duration, OffsetDateTime};

use super::credentials::{self, Resolved, Saved, Source};
use super::input::{self, parse_duration, parse_time};
use super::output::{self, print, print_json};
use super::{Connection, DeleteFlags};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, once.
    #[command(long_about = "Create a token and print it, once.\n\n\
        Without a scope the token has your own permissions; it never has more.\n\n\
        Examples:\n  \
        tessera token create --name ci --role reader --expires-in 90d\n  \
        tessera token create --name deploy --custom-role deployer --project web\n  \
        TOKEN=$(tessera token create --name script --policy-file policy.json)")]
    Create(CreateArgs),
    /// List your tokens, newest first (never their values); with --all,
    /// every token of the org (admins), filtered.
    #[command(
        long_about = "List your tokens, newest first (never their values).\n\n\
        With --all (admins): every token of the organization, filtered.\n\n\
        Examples:\n  \
        tessera token list --all --unused-since 2026-01-01 --sort last-used\n  \
        tessera token list --all --member 2Gd... --expires-before 2026-12-31 --name deploy"
    )]
    List(ListArgs),
    /// Show one token; `self` is the token you are using.
    Show(ShowArgs),
    /// Rename, re-scope, restrict to projects or change the expiry.
    Update(UpdateArgs),
    /// Create a new token with the same scope, projects and expiry.
    Clone(CloneArgs),
    /// Replace a token's secret, keeping its id, name and scope.
    #[command(
        long_about = "Replace a token's secret, keeping its id, name and scope.\n\n\
        The new expiry is required; the old string stops working at once, or after\n\
        --grace seconds. A token can rotate at most once an hour.\n\n\
        Example:\n  \
        TESSERA_TOKEN=$(tessera token rotate self --expires-in 90d --grace 300)"
    )]
    Rotate(RotateArgs),
    /// Revoke a token: it stops working at once and cannot be restored.
    Delete(DeleteArgs),
    /// Disable a token: it is refused until enabled again.
    Disable(ShowArgs),
    /// Enable a disabled token again.
    Enable(ShowArgs),
    /// A token's uses per day by outcome, and its recent client addresses.
    Usage(super::token_limits::UsageArgs),
}

/// A built-in role, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Reader,
    Writer,
    Admin,
    Owner,
}

impl From<RoleArg> for BuiltinRole {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Reader => Self::Reader,
            RoleArg::Writer => Self::Writer,
            RoleArg::Admin => Self::Admin,
            RoleArg::Owner => Self::Owner,
        }
    }
}

/// At most one scope; none means the owner's permissions.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ScopeArgs {
    /// Give the token a built-in role's permissions.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// Give the token a custom role's permissions (repeatable).
    #[arg(long = "custom-role", value_name = "KEY")]
    pub custom_roles: Vec<String>,
    /// Give the token an inline policy: a JSON list of statements, from a
    /// file or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub policy_file: Option<String>,
}

impl ScopeArgs {
    pub(super) fn policy(&self) -> Result<Option<Policy>, CliError> {
        self.policy_file
            .as_deref()
            .map(input::read_policy_file)
            .transpose()
    }

    pub(super) fn custom_roles(&self) -> Option<Vec<String>> {
        (!self.custom_roles.is_empty()).then(|| self.custom_roles.clone())
    }
}

#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ExpiryArgs {
    /// Expire at this time (RFC 3339, e.g. 2026-12-31T00:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub expires_at: Option<OffsetDateTime>,
    /// Expire this long from now: 30d, 12h, 45m or 3600s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires_in: Option<Duration>,
}

impl ExpiryArgs {
    pub(super) fn at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.expires_at.or(self.expires_in.map(|d| now + d))
    }
}

/// Rotation's expiry: the same flags, one of them required.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RotateExpiryArgs {
    /// The new expiry (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub expires_at: Option<OffsetDateTime>,
    /// The new expiry, this long from now: 30d, 12h, 45m or 3600s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires_in: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub token: NewTokenArgs,
    #[command(flatten)]
    pub conn: Connection,
}

/// What a new token is: a member's (`token create`) or a service
/// account's (`service-account token create`).
#[derive(Debug, Args)]
pub struct NewTokenArgs {
    /// A name that says where the token is used (at most 100 characters).
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Restrict the token to this project (repeatable); outside its
    /// projects it can do nothing.
    #[arg(long = "project", value_name = "KEY")]
    pub projects: Vec<String>,
    #[command(flatten)]
    pub expiry: ExpiryArgs,
    #[command(flatten)]
    pub limits: super::token_limits::LimitArgs,
}

impl NewTokenArgs {
    /// The `POST /tokens` body these flags ask for.
    pub fn request(self) -> Result<CreateTokenRequest, CliError> {
        let mut request = CreateTokenRequest {
            role: self.scope.role.map(Into::into),
            custom_roles: self.scope.custom_roles(),
            policy: self.scope.policy()?,
            projects: (!self.projects.is_empty()).then_some(self.projects),
            expires_at: self.expiry.at(crate::clock::now()),
            name: self.name,
            ..Default::default()
        };
        self.limits.apply(&mut request);
        Ok(request)
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub inventory: super::token_controls::InventoryArgs,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The token's id, or `self`.
    pub id: String,
    #[command(flatten)]
    pub conn: Connection,
}

/// Scope changes: a new scope (as at creation), or `--inherit`, or none
/// to keep the scope.
#[derive(Debug, Args)]
pub struct UpdateScopeArgs {
    #[command(flatten)]
    pub new: ScopeArgs,
    /// Drop the scope: the token gets its owner's permissions.
    #[arg(long, conflicts_with = "ScopeArgs")]
    pub inherit: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The token's id, or `self`.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub scope: UpdateScopeArgs,
    /// Restrict the token to these projects (repeatable; replaces the list).
    #[arg(long = "project", value_name = "KEY", conflicts_with = "no_projects")]
    pub projects: Vec<String>,
    /// Lift the project restriction.
    #[arg(long)]
    pub no_projects: bool,
    #[command(flatten)]
    pub expiry: ExpiryArgs,
    /// Remove the expiry (if the org's policy allows it).
    #[arg(long, conflicts_with_all = ["expires_at", "expires_in"])]
    pub no_expiry: bool,
    #[command(flatten)]
    pub limits: super::token_limits::UpdateLimitArgs,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    /// The token to copy.
    pub id: String,
    /// The clone's name [default: "<name> (copy)"].
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The token's id, or `self`.
    pub id: String,
    #[command(flatten)]
    pub expiry: RotateExpiryArgs,
    /// Keep the old string working this many more seconds (at most 86400).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub grace: Option<u32>,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The token's id, or `self`.
    pub id: String,
    #[command(flatten)]
    pub flags: DeleteFlags,
}

pub async fn run(cmd: TokenCommand) -> Result<ExitCode, CliError> {
    match cmd {
        TokenCommand::Create(args) => create(args).await,
        TokenCommand::List(args) => list(args).await,
        TokenCommand::Show(args) => show(args).await,
        TokenCommand::Update(args) => update(args).await,
        TokenCommand::Clone(args) => clone(args).await,
        TokenCommand::Rotate(args) => rotate(args).await,
        TokenCommand::Delete(args) => delete(args).await,
        TokenCommand::Disable(args) => super::token_controls::disable(args).await,
        TokenCommand::Enable(args) => super::token_controls::enable(args).await,
        TokenCommand::Usage(args) => super::token_limits::usage(args).await,
    }?;
    Ok(ExitCode::SUCCESS)
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let client = args.conn.client()?;
    let request = args.token.request()?;
    let created = client.create_token(&request).await?;
    print_new_token(args.conn.json, "Created", &created, None)
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    if args.inventory.all {
        return super::token_controls::list_all(args.inventory, args.conn).await;
    }
    args.inventory.check_own()?;
    let table = |list: &TokenList| output::token_table(&list.items, "You have no tokens.");
    args.conn
        .show(async |c| c.list_tokens().await, table)
        .await
        .map(drop)
}

async fn show(args: ShowArgs) -> Result<(), CliError> {
    args.conn
        .show(async |c| c.get_token(&args.id).await, details)
        .await
        .map(drop)
}

async fn update(args: UpdateArgs) -> Result<(), CliError> {
    let request = update_request(&args, crate::clock::now())?;
    let update = async |c: &Client| c.update_token(&args.id, &request).await;
    args.conn.show(update, details).await.map(drop)
}

/// The PATCH body for `token update`: only what was asked to change.
fn update_request(args: &UpdateArgs, now: OffsetDateTime) -> Result<UpdateTokenRequest, CliError> {
    let scope = &args.scope;
    let mut request = UpdateTokenRequest {
        name: args.name.clone(),
        ..Default::default()
    };
    // Sending any one of the three scope fields replaces the whole scope.
    if let Some(role) = scope.new.role {
        request.role = Some(Some(role.into()));
    } else if let Some(roles) = scope.new.custom_roles() {
        request.custom_roles = Some(Some(roles));
    } else if let Some(policy) = scope.new.policy()? {
        request.policy = Some(Some(policy));
    } else if scope.inherit {
        request.role = Some(None);
        request.custom_roles = Some(None);
        request.policy = Some(None);
    }
    if args.no_projects {
        request.projects = Some(None);
    } else if !args.projects.is_empty() {
        request.projects = Some(Some(args.projects.clone()));
    }
    args.limits.apply(&mut request);
    if args.no_expiry {
        request.expires_at = Some(None);
    } else if let Some(at) = args.expiry.at(now) {
        request.expires_at = Some(Some(at));
    }
    let unchanged = request.name.is_none()
        && request.role.is_none()
        && request.custom_roles.is_none()
        && request.policy.is_none()
        && request.projects.is_none()
        && request.expires_at.is_none();
    if unchanged {
        return Err(CliError::Input(
            "nothing to update: give --name, a scope (--role, --custom-role, --policy-file, \
             --inherit), projects or an expiry"
                .into(),
        ));
    }
    Ok(request)
}

async fn clone(args: CloneArgs) -> Result<(), CliError> {
    let request = CloneTokenRequest { name: args.name };
    let created = args.conn.client()?.clone_token(&args.id, &request).await?;
    print_new_token(args.conn.json, "Cloned", &created, None)
}

async fn rotate(args: RotateArgs) -> Result<(), CliError> {
    let expiry = &args.expiry;
    let expires_at = expiry
        .expires_at
        .or(expiry.expires_in.map(|d| crate::clock::now() + d))
        .ok_or_else(|| CliError::Input("give --expires-at or --expires-in".into()))?;
    let request = RotateTokenRequest {
        expires_at,
        grace_period_seconds: args.grace,
    };
    let resolved = args.conn.resolve()?;
    let client = resolved.client()?;
    let rotated = client
        .rotate_token(&args.id, &request)
        .await
        .map_err(|e| explain_rotation(e, &args.id))?;
    let old = match args.grace {
        Some(secs) if secs > 0 => format!("The old token keeps working for {secs} more seconds."),
        _ => "The old token has stopped working.".to_owned(),
    };
    // Rotating the token `tessera login` saved must not strand the CLI
    // with a dead credential.
    if is_saved_token(&resolved, &args.id, &rotated.metadata.id) {
        let saved = Saved {
            url: resolved.url.clone(),
            token: rotated.token.clone(),
        };
        match credentials::path().map(|p| credentials::save_to(&p, &saved)) {
            Some(Ok(())) => eprintln!("Updated the saved credentials with the new token."),
            Some(Err(e)) => eprintln!("warning: could not update the saved credentials: {e}"),
            None => {}
        }
    }
    print_new_token(args.conn.json, "Rotated", &rotated, Some(&old))
}

/// A token without an expiry cannot be rotated (the server's rule); the
/// API says so, and the CLI adds the command that gives it one.
fn explain_rotation(error: ClientError, id: &str) -> CliError {
    match &error {
        ClientError::Api { code, .. } if code == "not_rotatable" => {
            let id = output::clean(id);
            CliError::Input(format!(
                "token {id} has no expiry, and a token without one cannot be rotated; set an \
                 expiry first with `tessera token update {id} --expires-in 90d`, then rotate it \
                 again"
            ))
        }
        _ => error.into(),
    }
}

/// Whether `id` (as given, and as the server resolved it) is the token
/// the credentials file holds. A token embeds its id right after the
/// prefix's `_`.
fn is_saved_token(resolved: &Resolved, given_id: &str, id: &str) -> bool {
    let Some(token) = resolved.token.as_deref() else {
        return false;
    };
    resolved.source == Source::Saved
        && (given_id == "self"
            || token
                .rsplit('_')
                .next()
                .is_some_and(|body| body.starts_with(id)))
}

async fn delete(args: DeleteArgs) -> Result<(), CliError> {
    args.flags.check()?;
    let resolved = args.flags.conn.resolve()?;
    let client = resolved.client()?;
    let target = match client.get_token(&args.id).await {
        Ok(t) => Some(t),
        Err(e @ (ClientError::MissingCredential | ClientError::Unreachable { .. })) => {
            return Err(e.into())
        }
        // An admin may delete a token it may not read; then the id alone
        // has to do.
        Err(_) => None,
    };
    let ask = async || {
        let what = match &target {
            Some(t) => format!("token \"{}\" ({})", output::clean(&t.name), t.id),
            None => format!("token {}", output::clean(&args.id)),
        };
        Ok(format!(
            "Delete {what}? It stops working at once and cannot be restored."
        ))
    };
    args.flags
        .confirm(ask, "cancelled: nothing was deleted")
        .await?;
    client.delete_token(&args.id).await?;
    args.flags
        .done(&format!("Deleted token {}.", output::clean(&args.id)))?;
    let id = target.map_or_else(|| args.id.clone(), |t| t.id);
    if is_saved_token(&resolved, &args.id, &id) {
        if let Some(path) = credentials::path() {
            credentials::remove(&path)?;
            eprintln!("That was the saved CLI token; removed {}.", path.display());
        }
    }
    Ok(())
}

/// Prints a token that exists only in this answer: the value alone on
/// stdout (or the whole answer as JSON), the rest on stderr.
pub(super) fn print_new_token(
    json: bool,
    verb: &str,
    created: &CreatedTokenResponse,
    note: Option<&str>,
) -> Result<(), CliError> {
    if json {
        return print_json(created);
    }
    let t = &created.metadata;
    eprintln!(
        "{verb} token \"{}\" ({}): scope {}, projects {}, expires {}.",
        output::clean(&t.name),
        t.id,
        output::scope(t),
        output::projects(&t.projects),
        output::time_or_never(t.expires_at),
    );
    if let Some(note) = note {
        eprintln!("{note}");
    }
    eprintln!("Copy the token now: it will not be shown again.");
    print(&format!("{}\n", created.token))
}

/// One token as `key  value` lines.
pub fn details(t: &TokenResponse) -> String {
    let mut rows = vec![
        ("id", t.id.clone()),
        ("name", t.name.clone()),
        ("snippet", t.snippet.clone()),
        ("owner", output::owner(t)),
        ("scope", output::scope(t)),
        ("projects", output::projects(&t.projects)),
        ("created", output::time(t.created_at)),
        ("expires", output::time_or_never(t.expires_at)),
        ("last used", output::last_used(t)),
        ("rotated", output::time_or_never(t.rotated_at)),
    ];
    if let Some(at) = t.disabled_at {
        rows.push(("disabled", output::time(at)));
    }
    if let Some(policy) = &t.policy {
        rows.push(("policy", serde_json::to_string(policy).unwrap_or_default()));
    }
    if let Some(ips) = &t.allowed_ips {
        rows.push(("allowed ips", ips.join(", ")));
    }
    if let Some(r) = &t.rate_limit {
        rows.push(("rate limit", format!("{}/{}s", r.requests, r.per_seconds)));
    }
    if let Some(q) = &t.quota {
        let refill = q.refill.map_or(String::new(), |r| {
            format!(" (refills to {} each {:?})", r.amount, r.interval).to_lowercase()
        });
        rows.push(("quota", format!("{} left{refill}", q.remaining)));
    }
    output::pairs(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::tests::parse;
    use crate::remote::RemoteCommand;
    use time::macros::datetime;

    fn update_args(args: &[&str]) -> UpdateArgs {
        match parse(&[&["token", "update", "t1"], args].concat()) {
            Ok(RemoteCommand::Token(TokenCommand::Update(a))) => a,
            other => panic!("not an update: {other:?}"),
        }
    }

    #[test]
    fn update_sends_only_what_changes() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let req = update_request(&update_args(&["--name", "new"]), now).expect("request");
        let json = serde_json::to_value(&req).expect("json");
        assert_eq!(json, serde_json::json!({"name": "new"}));

        let req = update_request(
            &update_args(&["--inherit", "--no-projects", "--no-expiry"]),
            now,
        )
        .expect("request");
        let json = serde_json::to_value(&req).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"role": null, "custom_roles": null, "policy": null,
                "projects": null, "expires_at": null})
        );

        let req = update_request(
            &update_args(&[
                "--custom-role",
                "a",
                "--custom-role",
                "b",
                "--project",
                "web",
                "--expires-in",
                "1d",
            ]),
            now,
        )
        .expect("request");
        let json = serde_json::to_value(&req).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"custom_roles": ["a", "b"], "projects": ["web"],
                "expires_at": "2026-01-02T00:00:00Z"})
        );
    }

    #[test]
    fn an_empty_update_is_refused() {
        let err =
            update_request(&update_args(&[]), datetime!(2026-01-01 0:00 UTC)).expect_err("nothing");
        assert!(err.to_string().contains("nothing to update"));
    }

    #[test]
    fn expiry_from_a_duration_counts_from_now() {
        let args = ExpiryArgs {
            expires_at: None,
            expires_in: Some(Duration::days(30)),
        };
        assert_eq!(
            args.at(datetime!(2026-01-01 0:00 UTC)),
            Some(datetime!(2026-01-31 0:00 UTC))
        );
    }

    #[test]
    fn recognises_the_saved_token() {
        let id = "3MV7MIqcBMK7fuaTkRiw3CcyODG";
        let resolved = |source| Resolved {
            url: "http://h".into(),
            token: Some(format!("tsr_{id}secretsecretsecretsecretsecretse123456")),
            source,
        };
        assert!(is_saved_token(&resolved(Source::Saved), "self", id));
        assert!(is_saved_token(&resolved(Source::Saved), id, id));
        assert!(!is_saved_token(
            &resolved(Source::Saved),
            "other",
            "3MV7Ms8tBaFKcivdO0Zq81LNfhD"
        ));
        assert!(!is_saved_token(&resolved(Source::Given), "self", id));
    }

    #[test]
    fn details_show_scope_and_never() {
        let text = details(&crate::remote::output::tests::token());
        assert!(text.contains("scope      inherit"), "{text}");
        assert!(text.contains("expires    never"), "{text}");
    }
}
