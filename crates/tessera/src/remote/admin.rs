//! The org's configuration from a terminal: custom roles, projects, the
//! org's token policy, and the audit log.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use tessera_api::{
    AuditPage, CreateProjectRequest, CreateRoleRequest, OrgResponse, ProjectList, ProjectResponse,
    RoleList, RoleResponse, TokenPolicyPatch, UpdateOrgRequest, UpdateRoleRequest,
};
use tessera_client::{AuditExport, AuditFilter, Client, Error as ClientError};

use super::input;
use super::output::{self, Table};
use super::{Connection, DeleteFlags};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// List the org's custom roles.
    List(ListArgs),
    /// Show a role and its policy.
    Show(KeyArgs),
    /// Create a custom role from a policy file.
    #[command(long_about = "Create a custom role from a policy file.\n\n\
        The file is a JSON list of statements, e.g.\n  \
        [{\"effect\": \"allow\", \"actions\": [\"flag:*\"], \"resources\": [\"proj/web:*\"]},\n   \
        {\"effect\": \"deny\", \"actions\": [\"token:create\"], \"resources\": [\"*\"]}]\n\n\
        Example:\n  \
        tessera role create --key web-dev --name \"Web developers\" --policy-file web-dev.json")]
    Create(RoleCreateArgs),
    /// Replace a role's policy (and name).
    Update(RoleUpdateArgs),
    /// Delete a custom role.
    Delete(DeleteArgs),
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// List the org's projects.
    List(ListArgs),
    /// Show a project.
    Show(KeyArgs),
    /// Create a project.
    Create(ProjectCreateArgs),
    /// Delete a project.
    Delete(DeleteArgs),
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Show the org and its token policy.
    Show(ListArgs),
    /// Change the org's name or token policy.
    #[command(long_about = "Change the org's name or token policy.\n\n\
        Example: every token must expire, within 90 days:\n  \
        tessera org update --require-expiration true --max-lifetime-days 90")]
    Update(OrgUpdateArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The key.
    pub key: String,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct RoleCreateArgs {
    /// A short, stable key (used in --custom-role).
    #[arg(long)]
    pub key: String,
    /// A display name [default: the key].
    #[arg(long)]
    pub name: Option<String>,
    /// The policy: a JSON list of statements, from a file or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub policy_file: String,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct RoleUpdateArgs {
    /// The role's key.
    pub key: String,
    /// A new display name [default: keep the current one].
    #[arg(long)]
    pub name: Option<String>,
    /// The new policy, from a file or `-` for stdin (`role show --json`
    /// output is accepted too).
    #[arg(long, value_name = "FILE|-")]
    pub policy_file: String,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct ProjectCreateArgs {
    /// A short, stable key (used in --project and in `proj/<key>`
    /// resources).
    #[arg(long)]
    pub key: String,
    /// A display name [default: the key].
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The key.
    pub key: String,
    #[command(flatten)]
    pub flags: DeleteFlags,
}

#[derive(Debug, Args)]
pub struct OrgUpdateArgs {
    /// A new display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Whether every token must have an expiry.
    #[arg(long, value_name = "true|false")]
    pub require_expiration: Option<bool>,
    /// Longest a token may live, from creation or rotation.
    #[arg(long, value_name = "DAYS", conflicts_with = "no_max_lifetime")]
    pub max_lifetime_days: Option<u32>,
    /// Remove the lifetime cap.
    #[arg(long)]
    pub no_max_lifetime: bool,
    /// Disable (or revoke) tokens unused this many days (1-3650), counted
    /// from creation when never used.
    #[arg(long, value_name = "DAYS", conflicts_with = "no_inactive_days")]
    pub inactive_days: Option<u32>,
    /// Turn the inactivity rule off.
    #[arg(long)]
    pub no_inactive_days: bool,
    /// What the inactivity rule does: disable (default) or revoke.
    #[arg(long, value_name = "disable|revoke", value_parser = parse_inactive_action)]
    pub inactive_action: Option<tessera_api::InactiveAction>,
    /// Days before expiry at which owners are warned, comma-separated
    /// (e.g. `14,7,1`; each 1-365, at most 10); `none` turns warnings off.
    #[arg(long, value_name = "DAYS,…", value_parser = parse_warning_days)]
    pub expiry_warning_days: Option<WarningDays>,
    #[command(flatten)]
    pub conn: Connection,
}

/// `--expiry-warning-days`: a list of days, or `none` for `[]`.
#[derive(Debug, Clone)]
pub struct WarningDays(Vec<u32>);

fn parse_warning_days(text: &str) -> Result<WarningDays, String> {
    if text.trim() == "none" {
        return Ok(WarningDays(Vec::new()));
    }
    text.split(',')
        .map(|d| {
            d.trim()
                .parse::<u32>()
                .map_err(|_| format!("{d:?}: give whole days separated by commas, or none"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(WarningDays)
}

fn parse_inactive_action(text: &str) -> Result<tessera_api::InactiveAction, String> {
    tessera_api::InactiveAction::parse(text)
        .ok_or_else(|| format!("{text:?}: use disable or revoke"))
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events by this member id.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action, e.g. token:create.
    #[arg(long)]
    pub action: Option<String>,
    /// Only events on this target, e.g. member/<id>:token/<id>.
    #[arg(long)]
    pub target: Option<String>,
    /// How many events (the server caps it).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Older than this cursor (printed after each page).
    #[arg(long, value_name = "CURSOR")]
    pub before: Option<String>,
    /// `table` (a page, the default), or every matching event as `jsonl`
    /// (JSON Lines) or `csv`, streamed to stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: AuditFormat,
    #[command(flatten)]
    pub conn: Connection,
}

/// How `tessera audit` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Table,
    Jsonl,
    Csv,
}

pub async fn run_role(cmd: RoleCommand) -> Result<ExitCode, CliError> {
    match cmd {
        RoleCommand::List(args) => {
            args.conn
                .show(async |c| c.list_roles().await, role_table)
                .await?;
        }
        RoleCommand::Show(args) => {
            args.conn
                .show(async |c| c.get_role(&args.key).await, role_details)
                .await?;
        }
        RoleCommand::Create(args) => {
            let request = CreateRoleRequest {
                key: args.key,
                name: args.name,
                policy: input::read_policy_file(&args.policy_file)?,
            };
            args.conn
                .show(async |c| c.create_role(&request).await, role_details)
                .await?;
        }
        RoleCommand::Update(args) => {
            let policy = input::read_policy_file(&args.policy_file)?;
            let update = async |c: &Client| {
                // PUT replaces the name too; keep it unless a new one is
                // given.
                let name = match args.name {
                    Some(name) => name,
                    None => c.get_role(&args.key).await?.name,
                };
                let request = UpdateRoleRequest {
                    name: Some(name),
                    policy,
                };
                c.update_role(&args.key, &request).await
            };
            args.conn.show(update, role_details).await?;
        }
        RoleCommand::Delete(args) => {
            delete(&args, "role", async |c, key| c.delete_role(key).await).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_project(cmd: ProjectCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ProjectCommand::List(args) => {
            args.conn
                .show(async |c| c.list_projects().await, project_table)
                .await?;
        }
        ProjectCommand::Create(args) => {
            let request = CreateProjectRequest {
                key: args.key,
                name: args.name,
            };
            args.conn
                .show(async |c| c.create_project(&request).await, project_details)
                .await?;
        }
        ProjectCommand::Show(args) => {
            args.conn
                .show(async |c| c.get_project(&args.key).await, project_details)
                .await?;
        }
        ProjectCommand::Delete(args) => {
            delete(&args, "project", async |c, key| c.delete_project(key).await).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Deletes `what` (a role or a project) by key with `call`, asking first
/// unless `--yes`.
async fn delete(
    args: &DeleteArgs,
    what: &str,
    call: impl AsyncFnOnce(&Client, &str) -> Result<(), ClientError>,
) -> Result<(), CliError> {
    let key = output::clean(&args.key);
    args.flags.check()?;
    args.flags
        .confirm(
            async || Ok(format!("Delete {what} {key}?")),
            "cancelled: nothing was deleted",
        )
        .await?;
    call(&args.flags.conn.client()?, &args.key).await?;
    args.flags.done(&format!("Deleted {what} {key}."))
}

pub async fn run_org(cmd: OrgCommand) -> Result<ExitCode, CliError> {
    match cmd {
        OrgCommand::Show(args) => {
            args.conn
                .show(async |c| c.get_org().await, org_details)
                .await?;
        }
        OrgCommand::Update(args) => {
            let request = org_update_request(&args)?;
            args.conn
                .show(async |c| c.update_org(&request).await, org_details)
                .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn org_update_request(args: &OrgUpdateArgs) -> Result<UpdateOrgRequest, CliError> {
    let max_lifetime_days = if args.no_max_lifetime {
        Some(None)
    } else {
        args.max_lifetime_days.map(Some)
    };
    let inactive_days = if args.no_inactive_days {
        Some(None)
    } else {
        args.inactive_days.map(Some)
    };
    let token_policy = (args.require_expiration.is_some()
        || max_lifetime_days.is_some()
        || inactive_days.is_some()
        || args.inactive_action.is_some()
        || args.expiry_warning_days.is_some())
    .then_some(TokenPolicyPatch {
        require_expiration: args.require_expiration,
        max_lifetime_days,
        inactive_days,
        inactive_action: args.inactive_action,
        expiry_warning_days: args.expiry_warning_days.as_ref().map(|d| d.0.clone()),
    });
    if args.name.is_none() && token_policy.is_none() {
        return Err(CliError::Input(
            "nothing to update: give --name, --require-expiration, --max-lifetime-days, \
             --no-max-lifetime, --inactive-days, --no-inactive-days, --inactive-action \
             or --expiry-warning-days"
                .into(),
        ));
    }
    Ok(UpdateOrgRequest {
        name: args.name.clone(),
        token_policy,
        sso: None,
    })
}

pub async fn audit(args: AuditArgs) -> Result<ExitCode, CliError> {
    let filter = AuditFilter {
        actor: args.actor,
        action: args.action,
        target: args.target,
        before: args.before,
        limit: args.limit,
    };
    let export = match args.format {
        AuditFormat::Table => None,
        AuditFormat::Jsonl => Some(AuditExport::Jsonl),
        AuditFormat::Csv => Some(AuditExport::Csv),
    };
    if let Some(format) = export {
        let client = args.conn.client()?;
        let mut out = std::io::BufWriter::new(std::io::stdout());
        client.export_audit(&filter, format, &mut out).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let page = args
        .conn
        .show(async |c| c.list_audit(&filter).await, audit_table)
        .await?;
    if let (false, Some(cursor)) = (args.conn.json, &page.next_cursor) {
        eprintln!("More: tessera audit --before {cursor}");
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_table(page: &AuditPage) -> String {
    let mut table = Table::new(&["AT", "ACTOR", "ACTION", "TARGET", "IP"]);
    for e in &page.items {
        // People and tokens by name; the ids are in --json and the exports.
        let who = e.actor.email.as_ref().or(e.actor.member.as_ref());
        let token = e.actor.token_name.as_ref().or(e.actor.token.as_ref());
        let actor = match (who, token) {
            (Some(m), Some(t)) => format!("{m} (token \u{201c}{t}\u{201d})"),
            (Some(m), None) => m.clone(),
            (None, Some(t)) => format!("token \u{201c}{t}\u{201d}"),
            (None, None) => "-".into(),
        };
        table.row(vec![
            output::time(e.at),
            actor,
            e.action.clone(),
            e.target_name.clone().unwrap_or_else(|| e.target.clone()),
            e.ip.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    table.render()
}

fn role_table(roles: &RoleList) -> String {
    let mut table = Table::new(&["KEY", "NAME", "STATEMENTS", "UPDATED"]);
    for r in &roles.items {
        table.row(vec![
            r.key.clone(),
            r.name.clone(),
            r.policy.0.len().to_string(),
            output::time(r.updated_at),
        ]);
    }
    table.render()
}

fn role_details(r: &RoleResponse) -> String {
    let policy = serde_json::to_string_pretty(&r.policy).unwrap_or_default();
    let mut text = output::pairs(&[
        ("key", r.key.clone()),
        ("name", r.name.clone()),
        ("created", output::time(r.created_at)),
        ("updated", output::time(r.updated_at)),
    ]);
    text.push_str("policy:\n");
    // The policy is shown as the JSON `--policy-file` takes, cleaned line
    // by line.
    for line in policy.lines() {
        text.push_str(&format!("  {}\n", output::clean(line)));
    }
    text
}

fn project_details(p: &ProjectResponse) -> String {
    output::pairs(&[
        ("key", p.key.clone()),
        ("name", p.name.clone()),
        ("created", output::time(p.created_at)),
    ])
}

fn project_table(projects: &ProjectList) -> String {
    let mut table = Table::new(&["KEY", "NAME", "CREATED"]);
    for p in &projects.items {
        table.row(vec![
            p.key.clone(),
            p.name.clone(),
            output::time(p.created_at),
        ]);
    }
    table.render()
}

fn warning_days(days: &[u32]) -> String {
    if days.is_empty() {
        return "none".into();
    }
    let days: Vec<String> = days.iter().map(u32::to_string).collect();
    format!("{} days before expiry", days.join(", "))
}

fn org_details(org: &OrgResponse) -> String {
    let policy = &org.token_policy;
    output::pairs(&[
        ("key", org.key.clone()),
        ("name", org.name.clone()),
        ("id", org.id.clone()),
        ("require expiration", policy.require_expiration.to_string()),
        (
            "max lifetime",
            policy
                .max_lifetime_days
                .map(|d| format!("{d} days"))
                .unwrap_or_else(|| "none".into()),
        ),
        (
            "inactive tokens",
            policy.inactive_days.map_or_else(
                || "kept".into(),
                |d| format!("{} after {d} days unused", policy.inactive_action.as_str()),
            ),
        ),
        (
            "expiry warnings",
            warning_days(&policy.expiry_warning_days.days()),
        ),
        ("created", output::time(org.created_at)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::tests::parse;
    use crate::remote::RemoteCommand;

    fn org_update(args: &[&str]) -> Result<UpdateOrgRequest, CliError> {
        match parse(&[&["org", "update"], args].concat()) {
            Ok(RemoteCommand::Org(OrgCommand::Update(a))) => org_update_request(&a),
            other => panic!("not an org update: {other:?}"),
        }
    }

    #[test]
    fn org_update_sends_only_the_policy_fields_given() {
        let json = |r: UpdateOrgRequest| serde_json::to_value(r).expect("json");
        assert_eq!(
            json(org_update(&["--require-expiration", "true"]).expect("ok")),
            serde_json::json!({"token_policy": {"require_expiration": true}})
        );
        assert_eq!(
            json(org_update(&["--no-max-lifetime"]).expect("ok")),
            serde_json::json!({"token_policy": {"max_lifetime_days": null}})
        );
        assert_eq!(
            json(org_update(&["--max-lifetime-days", "90", "--name", "Acme"]).expect("ok")),
            serde_json::json!({"name": "Acme", "token_policy": {"max_lifetime_days": 90}})
        );
        assert!(org_update(&[]).is_err());
    }
}
