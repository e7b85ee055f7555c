//! `tessera member ...` (the org's people and their roles) and `tessera
//! me`.
//!
//! A generated initial password is shown once, like a new token; a
//! password the admin chooses is read from stdin, never from an argument.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use tessera_api::{
    CreateMemberRequest, CreatedMemberResponse, MeResponse, MemberResponse, UpdateMemberRequest,
};
use tessera_client::Client;

use super::input;
use super::output::{self, Table};
use super::tokens::RoleArg;
use super::{Connection, DeleteFlags};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// List the org's members.
    List(ListArgs),
    /// Show one member.
    Show(IdArgs),
    /// Add a member. Without --password-stdin a password is generated and
    /// shown once.
    #[command(long_about = "Add a member.\n\n\
        Without --password-stdin a password is generated and shown once.\n\n\
        Examples:\n  \
        tessera member create --email ana@example.com --role writer\n  \
        printf '%s' \"$PW\" | tessera member create --email bo@example.com --role reader --password-stdin")]
    Create(CreateArgs),
    /// Change a member's built-in role or custom roles.
    Update(UpdateArgs),
    /// Remove a member; their tokens stop working at once.
    Delete(DeleteArgs),
    /// List a member's tokens (admins; metadata only, never values).
    Tokens(IdArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The member's id.
    pub id: String,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub email: String,
    /// Display name [default: from the email].
    #[arg(long)]
    pub name: Option<String>,
    /// The member's built-in role.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// A custom role to add to the built-in one (repeatable).
    #[arg(long = "custom-role", value_name = "KEY")]
    pub custom_roles: Vec<String>,
    /// Read the initial password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The member's id.
    pub id: String,
    #[command(flatten)]
    pub roles: RoleChangeArgs,
    #[command(flatten)]
    pub conn: Connection,
}

/// An update's `--role`, `--custom-role` and `--no-custom-roles`: a
/// member's, or a service account's.
#[derive(Debug, Args)]
pub struct RoleChangeArgs {
    /// A new built-in role.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// Replace the custom roles (repeatable).
    #[arg(
        long = "custom-role",
        value_name = "KEY",
        conflicts_with = "no_custom_roles"
    )]
    pub custom_roles: Vec<String>,
    /// Remove all the custom roles.
    #[arg(long)]
    pub no_custom_roles: bool,
}

impl RoleChangeArgs {
    /// The new built-in role and custom roles, each `None` when unchanged.
    pub fn into_change(self) -> (Option<tessera_api::BuiltinRole>, Option<Vec<String>>) {
        let custom_roles = if self.no_custom_roles {
            Some(Vec::new())
        } else {
            (!self.custom_roles.is_empty()).then_some(self.custom_roles)
        };
        (self.role.map(Into::into), custom_roles)
    }
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The member's id.
    pub id: String,
    #[command(flatten)]
    pub flags: DeleteFlags,
}

#[derive(Debug, Args)]
pub struct MeArgs {
    #[command(flatten)]
    pub conn: Connection,
}

pub async fn run(cmd: MemberCommand) -> Result<ExitCode, CliError> {
    match cmd {
        MemberCommand::List(args) => args
            .conn
            .show(async |c| c.list_members().await, |l| member_table(&l.items))
            .await
            .map(drop),
        MemberCommand::Show(args) => args
            .conn
            .show(async |c| c.get_member(&args.id).await, details)
            .await
            .map(drop),
        MemberCommand::Create(args) => create(args).await,
        MemberCommand::Update(args) => update(args).await,
        MemberCommand::Delete(args) => delete(args).await,
        MemberCommand::Tokens(args) => args
            .conn
            .show(
                async |c| c.list_member_tokens(&args.id).await,
                |l| output::token_table(&l.items, &format!("Member {} has no tokens.", args.id)),
            )
            .await
            .map(drop),
    }?;
    Ok(ExitCode::SUCCESS)
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let password = if args.password_stdin {
        Some(input::read_secret_line("password")?)
    } else {
        None
    };
    let request = CreateMemberRequest {
        email: args.email,
        name: args.name,
        role: args.role.into(),
        custom_roles: (!args.custom_roles.is_empty()).then_some(args.custom_roles),
        password,
    };
    let human = |c: &CreatedMemberResponse| {
        let mut rows = detail_rows(&c.member);
        if let Some(password) = &c.initial_password {
            eprintln!("The initial password is shown only now; ask them to change it.");
            rows.push(("initial password", password.clone()));
        }
        output::pairs(&rows)
    };
    let create = async |c: &Client| c.create_member(&request).await;
    args.conn.show(create, human).await.map(drop)
}

async fn update(args: UpdateArgs) -> Result<(), CliError> {
    let (role, custom_roles) = args.roles.into_change();
    let request = UpdateMemberRequest { role, custom_roles };
    if request.role.is_none() && request.custom_roles.is_none() {
        return Err(CliError::Input(
            "nothing to update: give --role, --custom-role or --no-custom-roles".into(),
        ));
    }
    let update = async |c: &Client| c.update_member(&args.id, &request).await;
    args.conn.show(update, details).await.map(drop)
}

async fn delete(args: DeleteArgs) -> Result<(), CliError> {
    args.flags.check()?;
    let client = args.flags.conn.client()?;
    let ask = async || {
        let member = client.get_member(&args.id).await?;
        Ok(format!(
            "Remove member {} ({})? Their tokens stop working at once.",
            output::clean(&member.email),
            member.id
        ))
    };
    args.flags
        .confirm(ask, "cancelled: nothing was removed")
        .await?;
    client.delete_member(&args.id).await?;
    args.flags
        .done(&format!("Removed member {}.", output::clean(&args.id)))
}

pub async fn me(args: MeArgs) -> Result<ExitCode, CliError> {
    args.conn.show(async |c| c.me().await, me_details).await?;
    Ok(ExitCode::SUCCESS)
}

fn me_details(me: &MeResponse) -> String {
    let mut rows = match (&me.member, &me.service_account) {
        (Some(m), _) => vec![
            ("member", format!("{} <{}>", m.name, m.email)),
            ("id", m.id.clone()),
            ("role", m.role.to_string()),
            ("custom roles", output::list_or_dash(&m.custom_roles)),
            ("external id", external_id(m)),
        ],
        (None, Some(a)) => vec![
            ("service account", a.name.clone()),
            ("id", a.id.clone()),
            ("role", a.role.to_string()),
            ("custom roles", output::list_or_dash(&a.custom_roles)),
        ],
        (None, None) => Vec::new(),
    };
    rows.extend([
        ("org", format!("{} ({})", me.org.name, me.org.key)),
        ("authenticated by", me.authenticated_by.clone()),
    ]);
    if let Some(t) = &me.token {
        rows.push(("token", format!("{} ({})", t.name, t.id)));
        rows.push(("token scope", output::scope(t)));
        rows.push(("token expires", output::time_or_never(t.expires_at)));
    }
    output::pairs(&rows)
}

fn member_table(members: &[MemberResponse]) -> String {
    let mut table = Table::new(&[
        "ID",
        "EMAIL",
        "NAME",
        "ROLE",
        "CUSTOM ROLES",
        "EXTERNAL ID",
        "CREATED",
    ]);
    for m in members {
        table.row(vec![
            m.id.clone(),
            m.email.clone(),
            m.name.clone(),
            m.role.to_string(),
            output::list_or_dash(&m.custom_roles),
            external_id(m),
            output::time(m.created_at),
        ]);
    }
    table.render()
}

fn details(m: &MemberResponse) -> String {
    output::pairs(&detail_rows(m))
}

fn detail_rows(m: &MemberResponse) -> Vec<(&'static str, String)> {
    vec![
        ("id", m.id.clone()),
        ("email", m.email.clone()),
        ("name", m.name.clone()),
        ("role", m.role.to_string()),
        ("custom roles", output::list_or_dash(&m.custom_roles)),
        ("external id", external_id(m)),
        ("created", output::time(m.created_at)),
    ]
}

/// The host product's id for the member, or `-` for a local member.
/// Cleaned: it is the product's text, shown in a terminal.
pub(crate) fn external_id(m: &MemberResponse) -> String {
    m.external_id
        .as_deref()
        .map_or_else(|| "-".to_owned(), output::clean)
}
