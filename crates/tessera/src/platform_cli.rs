//! `tessera platform org|member …`: the platform API from a terminal, for
//! the host product's operators and scripts. The credential is a platform
//! key (`--key` or `TESSERA_PLATFORM_KEY`), the server `--url` or
//! `TESSERA_URL`; tables for people, `--json` for scripts.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use tessera_api::{
    BuiltinRole, CreateLoginLinkRequest, CreatePlatformOrgRequest, MemberResponse, PlatformOrg,
    PlatformOwner, PutMemberRequest, UpdatePlatformOrgRequest,
};
use tessera_client::{Client, PageQuery};

use crate::error::CliError;
use crate::remote::input;
use crate::remote::output::{self, Table};

#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// Manage orgs (tenants): create, list, show, update, suspend, delete.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage an org's people by the product's user id.
    #[command(subcommand)]
    Member(MemberCommand),
}

/// The server and the platform key, and the output format.
#[derive(Debug, Clone, Args)]
pub struct PlatformConnection {
    /// The Tessera server [default: http://127.0.0.1:8080]
    #[arg(long, env = "TESSERA_URL", value_name = "URL")]
    url: Option<String>,
    /// The platform key (`tessera platform-key create`). Prefer
    /// TESSERA_PLATFORM_KEY: a flag ends up in shell history.
    #[arg(
        long = "key",
        id = "platform_key",
        env = "TESSERA_PLATFORM_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    platform_key: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl PlatformConnection {
    fn client(&self) -> Result<Client, CliError> {
        let key = self.platform_key.clone().filter(|k| !k.is_empty()).ok_or_else(|| {
            CliError::Input(
                "no platform key: set TESSERA_PLATFORM_KEY (or pass --key); make one on the server with `tessera platform-key create --name NAME`".into(),
            )
        })?;
        let url = match &self.url {
            Some(url) => input::parse_url(url).map_err(CliError::Input)?,
            None => tessera_client::DEFAULT_URL.to_owned(),
        };
        Ok(Client::new(url, Some(key))?)
    }

    fn show<T: serde::Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> Result<(), CliError> {
        output::emit(self.json, value, human)
    }
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an org with its first owner.
    Create(OrgCreateArgs),
    /// List every org, newest first.
    List(OrgListArgs),
    /// Show one org.
    Show(OrgKeyArgs),
    /// Rename an org or change its token policy.
    Update(OrgUpdateArgs),
    /// Suspend an org: its tokens and sessions are refused until lifted.
    Suspend(OrgKeyArgs),
    /// Lift an org's suspension.
    Unsuspend(OrgKeyArgs),
    /// Delete an org and everything in it, for good.
    Delete(OrgDeleteArgs),
}

#[derive(Debug, Args)]
pub struct OrgCreateArgs {
    /// The org's key: lowercase letters, digits, '.', '_', '-'.
    key: String,
    /// Display name [default: the key].
    #[arg(long)]
    name: Option<String>,
    /// The owner's id in the product.
    #[arg(long)]
    owner_external_id: String,
    /// The owner's email.
    #[arg(long)]
    owner_email: String,
    /// The owner's name [default: from the email].
    #[arg(long)]
    owner_name: Option<String>,
    #[command(flatten)]
    conn: PlatformConnection,
}

#[derive(Debug, Args)]
pub struct OrgListArgs {
    /// The `next_cursor` a previous page printed.
    #[arg(long)]
    before: Option<String>,
    /// Page size, 1 to 500 [default: 100].
    #[arg(long)]
    limit: Option<u32>,
    #[command(flatten)]
    conn: PlatformConnection,
}

#[derive(Debug, Args)]
pub struct OrgKeyArgs {
    /// The org's key.
    key: String,
    #[command(flatten)]
    conn: PlatformConnection,
}

#[derive(Debug, Args)]
pub struct OrgUpdateArgs {
    /// The org's key.
    key: String,
    /// A new display name.
    #[arg(long)]
    name: Option<String>,
    /// Require an expiration on new tokens (true or false).
    #[arg(long)]
    require_expiration: Option<bool>,
    #[command(flatten)]
    conn: PlatformConnection,
}

#[derive(Debug, Args)]
pub struct OrgDeleteArgs {
    /// The org's key.
    key: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    conn: PlatformConnection,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Create or update a member by the product's user id.
    Put(MemberPutArgs),
    /// Show a member.
    Show(MemberArgs),
    /// Remove a member: their tokens stop working at once.
    Delete(MemberDeleteArgs),
    /// Make a one-time login link for the member; prints its URL.
    LoginLink(LoginLinkArgs),
}

#[derive(Debug, Args)]
pub struct MemberArgs {
    /// The org's key.
    org: String,
    /// The member's id in the product.
    external_id: String,
    #[command(flatten)]
    conn: PlatformConnection,
}

#[derive(Debug, Args)]
pub struct MemberPutArgs {
    /// The org's key.
    org: String,
    /// The member's id in the product.
    external_id: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    name: Option<String>,
    /// reader, writer, admin or owner.
    #[arg(long)]
    role: BuiltinRole,
    /// A custom role (repeatable); none given: none.
    #[arg(long = "custom-role", value_name = "KEY")]
    custom_roles: Vec<String>,
    #[command(flatten)]
    conn: PlatformConnection,
}

#[derive(Debug, Args)]
pub struct MemberDeleteArgs {
    org: String,
    external_id: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    conn: PlatformConnection,
}

#[derive(Debug, Args)]
pub struct LoginLinkArgs {
    org: String,
    external_id: String,
    /// Where the link lands: a local path [default: /tokens].
    #[arg(long)]
    return_to: Option<String>,
    /// Seconds the link is valid, 1 to 300 [default: 60].
    #[arg(long)]
    expires_in: Option<u32>,
    #[command(flatten)]
    conn: PlatformConnection,
}

fn org_details(o: &PlatformOrg) -> String {
    output::pairs(&[
        ("key", o.key.clone()),
        ("id", o.id.clone()),
        ("name", output::clean(&o.name)),
        (
            "suspended",
            if o.suspended {
                "yes".into()
            } else {
                "no".into()
            },
        ),
        ("created", output::time(o.created_at)),
    ])
}

fn member_details(m: &MemberResponse) -> String {
    output::pairs(&[
        ("id", m.id.clone()),
        (
            "external id",
            m.external_id
                .as_deref()
                .map_or_else(|| "-".into(), output::clean),
        ),
        ("email", m.email.clone()),
        ("name", output::clean(&m.name)),
        ("role", m.role.to_string()),
        ("custom roles", output::list_or_dash(&m.custom_roles)),
        ("created", output::time(m.created_at)),
    ])
}

async fn confirm(yes: bool, question: String) -> Result<(), CliError> {
    input::check_can_confirm(yes)?;
    if input::confirm(yes, &question)? {
        Ok(())
    } else {
        Err(CliError::Input("cancelled: nothing was changed".into()))
    }
}

pub async fn run(cmd: PlatformCommand) -> Result<ExitCode, CliError> {
    match cmd {
        PlatformCommand::Org(cmd) => org(cmd).await?,
        PlatformCommand::Member(cmd) => member(cmd).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn org(cmd: OrgCommand) -> Result<(), CliError> {
    match cmd {
        OrgCommand::Create(a) => {
            let request = CreatePlatformOrgRequest {
                key: a.key,
                name: a.name,
                owner: PlatformOwner {
                    external_id: a.owner_external_id,
                    email: a.owner_email,
                    name: a.owner_name,
                },
            };
            let created = a.conn.client()?.platform_create_org(&request).await?;
            a.conn.show(&created, |c| {
                format!(
                    "{}\nowner:\n{}",
                    org_details(&c.org),
                    member_details(&c.owner)
                )
            })
        }
        OrgCommand::List(a) => {
            let page = PageQuery {
                before: a.before,
                limit: a.limit,
            };
            let page = a.conn.client()?.platform_list_orgs(&page).await?;
            a.conn.show(&page, |p| {
                let mut table = Table::new(&["KEY", "NAME", "SUSPENDED", "CREATED"]);
                for o in &p.items {
                    table.row(vec![
                        o.key.clone(),
                        output::clean(&o.name),
                        if o.suspended {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        output::time(o.created_at),
                    ]);
                }
                let more = p.next_cursor.as_ref().map_or(String::new(), |c| {
                    format!("more: tessera platform org list --before {c}\n")
                });
                format!("{}{more}", table.render())
            })
        }
        OrgCommand::Show(a) => {
            let o = a.conn.client()?.platform_get_org(&a.key).await?;
            a.conn.show(&o, org_details)
        }
        OrgCommand::Update(a) => {
            let token_policy = a.require_expiration.map(|r| tessera_api::TokenPolicyPatch {
                require_expiration: Some(r),
                ..Default::default()
            });
            if a.name.is_none() && token_policy.is_none() {
                return Err(CliError::Input(
                    "nothing to update: give --name or --require-expiration".into(),
                ));
            }
            let request = UpdatePlatformOrgRequest {
                name: a.name,
                suspended: None,
                token_policy,
            };
            let o = a
                .conn
                .client()?
                .platform_update_org(&a.key, &request)
                .await?;
            a.conn.show(&o, org_details)
        }
        OrgCommand::Suspend(a) => suspend(a, true).await,
        OrgCommand::Unsuspend(a) => suspend(a, false).await,
        OrgCommand::Delete(a) => {
            confirm(
                a.yes,
                format!(
                    "Delete org {} and everything in it, for good?",
                    output::clean(&a.key)
                ),
            )
            .await?;
            a.conn.client()?.platform_delete_org(&a.key).await?;
            if !a.conn.json {
                eprintln!("Deleted org {}.", output::clean(&a.key));
            }
            Ok(())
        }
    }
}

async fn suspend(a: OrgKeyArgs, suspended: bool) -> Result<(), CliError> {
    let request = UpdatePlatformOrgRequest {
        suspended: Some(suspended),
        ..Default::default()
    };
    let o = a
        .conn
        .client()?
        .platform_update_org(&a.key, &request)
        .await?;
    a.conn.show(&o, org_details)
}

async fn member(cmd: MemberCommand) -> Result<(), CliError> {
    match cmd {
        MemberCommand::Put(a) => {
            let request = PutMemberRequest {
                email: a.email,
                name: a.name,
                role: a.role,
                custom_roles: (!a.custom_roles.is_empty()).then_some(a.custom_roles),
            };
            let put = a
                .conn
                .client()?
                .platform_put_member(&a.org, &a.external_id, &request)
                .await?;
            if !a.conn.json {
                eprintln!("{}", if put.created { "Created." } else { "Updated." });
            }
            a.conn.show(&put.member, member_details)
        }
        MemberCommand::Show(a) => {
            let m = a
                .conn
                .client()?
                .platform_get_member(&a.org, &a.external_id)
                .await?;
            a.conn.show(&m, member_details)
        }
        MemberCommand::Delete(a) => {
            confirm(
                a.yes,
                format!(
                    "Remove member {} from {}? Their tokens stop working at once.",
                    output::clean(&a.external_id),
                    output::clean(&a.org)
                ),
            )
            .await?;
            a.conn
                .client()?
                .platform_delete_member(&a.org, &a.external_id)
                .await?;
            if !a.conn.json {
                eprintln!("Removed member {}.", output::clean(&a.external_id));
            }
            Ok(())
        }
        MemberCommand::LoginLink(a) => {
            let request = CreateLoginLinkRequest {
                return_to: a.return_to,
                expires_in: a.expires_in,
            };
            let link = a
                .conn
                .client()?
                .platform_login_link(&a.org, &a.external_id, &request)
                .await?;
            if a.conn.json {
                output::print_json(&link)
            } else {
                eprintln!("Valid once, until {}.", output::time(link.expires_at));
                output::print(&format!("{}\n", link.url))
            }
        }
    }
}
