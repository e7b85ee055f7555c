//! `tessera service-account ...`: the org's service accounts (identities
//! for automation whose tokens outlive the member who made them) and their
//! tokens. A new token's value is printed once, as `token create` does;
//! `tessera token show|update|rotate|delete <id>` work on their tokens.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use tessera_api::{
    CreateServiceAccountRequest, ServiceAccountResponse, UpdateServiceAccountRequest,
};
use tessera_client::Client;

use super::members::RoleChangeArgs;
use super::output::{self, Table};
use super::tokens::{print_new_token, NewTokenArgs, RoleArg};
use super::{Connection, DeleteFlags};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum ServiceAccountCommand {
    /// List the org's service accounts.
    List(ListArgs),
    /// Show one service account.
    Show(IdArgs),
    /// Make a service account with a built-in role (and custom roles).
    #[command(
        long_about = "Make a service account with a built-in role (and custom roles).\n\n\
        Its tokens belong to the account, not to you: they keep working if you leave.\n\n\
        Example:\n  \
        tessera service-account create --name ci-deploy --role writer"
    )]
    Create(CreateArgs),
    /// Rename, describe, or change a service account's roles; its tokens
    /// follow at once.
    Update(UpdateArgs),
    /// Delete a service account; its tokens stop working at once.
    Delete(DeleteArgs),
    /// Create or list a service account's tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

// Parsed once per run from the command line: the size of its largest
// variant (a new token's flags, its controls included) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for the account; its value is shown once.
    Create(TokenCreateArgs),
    /// List the account's tokens (metadata only, never values).
    List(IdArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The service account's id.
    pub id: String,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name unique in the org (at most 100 characters).
    #[arg(long)]
    pub name: String,
    /// What the account is for.
    #[arg(long)]
    pub description: Option<String>,
    /// The account's built-in role.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// A custom role to add to the built-in one (repeatable).
    #[arg(long = "custom-role", value_name = "KEY")]
    pub custom_roles: Vec<String>,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The service account's id.
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// A new description (`""` removes it).
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    pub roles: RoleChangeArgs,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The service account's id.
    pub id: String,
    #[command(flatten)]
    pub flags: DeleteFlags,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The service account's id.
    pub id: String,
    #[command(flatten)]
    pub token: NewTokenArgs,
    #[command(flatten)]
    pub conn: Connection,
}

pub async fn run(cmd: ServiceAccountCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ServiceAccountCommand::List(args) => args
            .conn
            .show(
                async |c| c.list_service_accounts().await,
                |l| account_table(&l.items),
            )
            .await
            .map(drop),
        ServiceAccountCommand::Show(args) => args
            .conn
            .show(async |c| c.get_service_account(&args.id).await, details)
            .await
            .map(drop),
        ServiceAccountCommand::Create(args) => create(args).await,
        ServiceAccountCommand::Update(args) => update(args).await,
        ServiceAccountCommand::Delete(args) => delete(args).await,
        ServiceAccountCommand::Token(TokenCommand::Create(args)) => create_token(args).await,
        ServiceAccountCommand::Token(TokenCommand::List(args)) => args
            .conn
            .show(
                async |c| c.list_service_account_tokens(&args.id).await,
                |l| output::token_table(&l.items, "This service account has no tokens."),
            )
            .await
            .map(drop),
    }?;
    Ok(ExitCode::SUCCESS)
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let request = CreateServiceAccountRequest {
        name: args.name,
        description: args.description,
        role: args.role.into(),
        custom_roles: (!args.custom_roles.is_empty()).then_some(args.custom_roles),
    };
    let create = async |c: &Client| c.create_service_account(&request).await;
    args.conn.show(create, details).await.map(drop)
}

async fn update(args: UpdateArgs) -> Result<(), CliError> {
    let (role, custom_roles) = args.roles.into_change();
    let request = UpdateServiceAccountRequest {
        name: args.name,
        description: args.description,
        role,
        custom_roles,
    };
    if request.name.is_none()
        && request.description.is_none()
        && request.role.is_none()
        && request.custom_roles.is_none()
    {
        return Err(CliError::Input(
            "nothing to update: give --name, --description, --role, --custom-role or --no-custom-roles"
                .into(),
        ));
    }
    let update = async |c: &Client| c.update_service_account(&args.id, &request).await;
    args.conn.show(update, details).await.map(drop)
}

async fn delete(args: DeleteArgs) -> Result<(), CliError> {
    args.flags.check()?;
    let client = args.flags.conn.client()?;
    let ask = async || {
        let account = client.get_service_account(&args.id).await?;
        Ok(format!(
            "Delete service account {} ({})? Its tokens stop working at once.",
            output::clean(&account.name),
            account.id
        ))
    };
    args.flags
        .confirm(ask, "cancelled: nothing was deleted")
        .await?;
    client.delete_service_account(&args.id).await?;
    args.flags.done(&format!(
        "Deleted service account {}.",
        output::clean(&args.id)
    ))
}

async fn create_token(args: TokenCreateArgs) -> Result<(), CliError> {
    let client = args.conn.client()?;
    let request = args.token.request()?;
    let created = client
        .create_service_account_token(&args.id, &request)
        .await?;
    print_new_token(args.conn.json, "Created", &created, None)
}

fn account_table(accounts: &[ServiceAccountResponse]) -> String {
    if accounts.is_empty() {
        return "The org has no service accounts.\n".into();
    }
    let mut table = Table::new(&["ID", "NAME", "ROLE", "CUSTOM ROLES", "CREATED"]);
    for a in accounts {
        table.row(vec![
            a.id.clone(),
            output::clean(&a.name),
            a.role.to_string(),
            output::list_or_dash(&a.custom_roles),
            output::time(a.created_at),
        ]);
    }
    table.render()
}

fn details(a: &ServiceAccountResponse) -> String {
    output::pairs(&[
        ("id", a.id.clone()),
        ("name", output::clean(&a.name)),
        (
            "description",
            a.description
                .as_deref()
                .map_or_else(|| "-".to_owned(), output::clean),
        ),
        ("role", a.role.to_string()),
        ("custom roles", output::list_or_dash(&a.custom_roles)),
        ("created", output::time(a.created_at)),
        (
            "created by",
            a.created_by.clone().unwrap_or_else(|| "-".into()),
        ),
    ])
}
