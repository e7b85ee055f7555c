//! `tessera token disable|enable ID` and `tessera token list --all ...`,
//! the org-wide token inventory.

use clap::{Args, ValueEnum};
use tessera_api::{TokenPage, TokenResponse};
use tessera_client::{Client, Error as ClientError, TokenFilter};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::input::parse_time;
use super::output::{self, Table};
use super::tokens::{details, ShowArgs};
use super::Connection;
use crate::error::CliError;

/// The largest page the server gives; `--all` reads pages until the end.
const PAGE: u32 = 500;

/// `token list`'s flags for the inventory.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Every token of the organization (admins), not only yours.
    #[arg(long)]
    pub all: bool,
    /// With --all: only this member's tokens (a member id).
    #[arg(long, value_name = "MEMBER_ID")]
    pub member: Option<String>,
    /// With --all: only this service account's tokens (a service-account id).
    #[arg(long, value_name = "SERVICE_ACCOUNT_ID")]
    pub service_account: Option<String>,
    /// With --all: only tokens expiring before this time (a date or RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub expires_before: Option<OffsetDateTime>,
    /// With --all: only tokens not used since this time (never used:
    /// created before it).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub unused_since: Option<OffsetDateTime>,
    /// With --all: only tokens whose name contains this (any case).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// With --all: the order.
    #[arg(long, value_enum)]
    pub sort: Option<SortArg>,
    /// With --all: at most this many tokens (default: every one).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    /// Newest first.
    Newest,
    /// Most recently used first, never-used last.
    LastUsed,
}

impl InventoryArgs {
    /// Without --all only the caller's own tokens are listed: a filter
    /// there would be silently ignored, so it is refused.
    pub fn check_own(&self) -> Result<(), CliError> {
        let filtered = self.member.is_some()
            || self.service_account.is_some()
            || self.expires_before.is_some()
            || self.unused_since.is_some()
            || self.name.is_some()
            || self.sort.is_some()
            || self.limit.is_some();
        if filtered {
            return Err(CliError::Input(
                "--member, --service-account, --expires-before, --unused-since, --name, \
                 --sort and --limit need --all"
                    .into(),
            ));
        }
        Ok(())
    }

    fn filter(&self) -> TokenFilter {
        let time = |t: Option<OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
        TokenFilter {
            member: self.member.clone(),
            service_account: self.service_account.clone(),
            expires_before: time(self.expires_before),
            unused_since: time(self.unused_since),
            q: self.name.clone(),
            sort: self.sort.map(|s| {
                match s {
                    SortArg::Newest => "newest",
                    SortArg::LastUsed => "last_used",
                }
                .to_owned()
            }),
            before: None,
            limit: None,
        }
    }
}

/// Every page of the inventory (up to `--limit` tokens), as one list.
pub async fn list_all(args: InventoryArgs, conn: Connection) -> Result<(), CliError> {
    if args.limit == Some(0) {
        return Err(CliError::Input("--limit must be at least 1".into()));
    }
    let fetch = async |client: &Client| -> Result<TokenPage, ClientError> {
        let mut filter = args.filter();
        let mut all = TokenPage {
            items: Vec::new(),
            next_cursor: None,
        };
        loop {
            let left = args.limit.map(|l| l.saturating_sub(all.items.len() as u32));
            filter.limit = Some(left.map_or(PAGE, |l| l.min(PAGE)));
            let page = client.list_all_tokens(&filter).await?;
            all.items.extend(page.items);
            match page.next_cursor {
                Some(next) if left.is_none_or(|l| l > filter.limit.unwrap_or(PAGE)) => {
                    filter.before = Some(next);
                }
                _ => return Ok(all),
            }
        }
    };
    conn.show(fetch, |page| table(&page.items)).await.map(drop)
}

fn table(tokens: &[TokenResponse]) -> String {
    if tokens.is_empty() {
        return "No tokens match.\n".into();
    }
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "OWNER",
        "SNIPPET",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "DISABLED",
    ]);
    for t in tokens {
        table.row(vec![
            t.id.clone(),
            t.name.clone(),
            // A member's id, or `sa:<id>` for a service account's token.
            match (&t.member_id, &t.service_account_id) {
                (Some(member), _) => member.clone(),
                (None, Some(account)) => format!("sa:{account}"),
                (None, None) => "-".into(),
            },
            t.snippet.clone(),
            output::time(t.created_at),
            output::time_or_never(t.expires_at),
            output::last_used(t),
            t.disabled_at.map_or_else(|| "-".into(), output::time),
        ]);
    }
    table.render()
}

pub async fn disable(args: ShowArgs) -> Result<(), CliError> {
    args.conn
        .show(async |c| c.disable_token(&args.id).await, details)
        .await
        .map(drop)
}

pub async fn enable(args: ShowArgs) -> Result<(), CliError> {
    args.conn
        .show(async |c| c.enable_token(&args.id).await, details)
        .await
        .map(drop)
}
