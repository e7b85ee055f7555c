//! `tessera webhook ...`: the org's webhook endpoints (admins) and their
//! deliveries. A new endpoint's signing secret is printed once, as a new
//! token's value is.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use tessera_api::{CreateWebhookRequest, DeliveryResponse, WebhookResponse};
use tessera_client::Client;

use super::output::{self, print, print_json, Table};
use super::{Connection, DeleteFlags};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// List the org's webhook endpoints.
    List(ListArgs),
    /// Show one endpoint (never its secret).
    Show(IdArgs),
    /// Make an endpoint; its signing secret is shown once.
    #[command(
        long_about = "Make a webhook endpoint; its signing secret (whsec_...) is shown once.\n\n\
        Example:\n  \
        tessera webhook create https://hooks.example.com/tessera --event token.created --event token.revoked"
    )]
    Create(CreateArgs),
    /// Delete an endpoint and its deliveries.
    Delete(DeleteArgs),
    /// An endpoint's deliveries, newest first.
    Deliveries(IdArgs),
    /// Send a `webhook.ping` to an endpoint now.
    Ping(IdArgs),
    /// Send a delivery again now, with the same `webhook-id`.
    Retry(RetryArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The webhook's id.
    pub id: String,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Where to send events: an http(s) URL.
    #[arg(id = "endpoint", value_name = "ENDPOINT_URL")]
    pub endpoint: String,
    /// An event type to send (repeatable); `*` for all [default: *].
    #[arg(long = "event", value_name = "TYPE")]
    pub events: Vec<String>,
    /// What the endpoint is for.
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The webhook's id.
    pub id: String,
    #[command(flatten)]
    pub flags: DeleteFlags,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The webhook's id.
    pub id: String,
    /// The delivery's id (`msg_...`).
    pub delivery: String,
    #[command(flatten)]
    pub conn: Connection,
}

pub async fn run(cmd: WebhookCommand) -> Result<ExitCode, CliError> {
    match cmd {
        WebhookCommand::List(args) => args
            .conn
            .show(
                async |c| c.list_webhooks().await,
                |l| webhook_table(&l.items),
            )
            .await
            .map(drop),
        WebhookCommand::Show(args) => args
            .conn
            .show(async |c| c.get_webhook(&args.id).await, details)
            .await
            .map(drop),
        WebhookCommand::Create(args) => create(args).await,
        WebhookCommand::Delete(args) => delete(args).await,
        WebhookCommand::Deliveries(args) => args
            .conn
            .show(
                async |c| c.list_webhook_deliveries(&args.id).await,
                |l| delivery_table(&l.items),
            )
            .await
            .map(drop),
        WebhookCommand::Ping(args) => args
            .conn
            .show(async |c| c.ping_webhook(&args.id).await, delivery)
            .await
            .map(drop),
        WebhookCommand::Retry(args) => args
            .conn
            .show(
                async |c| c.retry_webhook_delivery(&args.id, &args.delivery).await,
                delivery,
            )
            .await
            .map(drop),
    }?;
    Ok(ExitCode::SUCCESS)
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let request = CreateWebhookRequest {
        url: args.endpoint,
        events: if args.events.is_empty() {
            vec!["*".into()]
        } else {
            args.events
        },
        description: args.description,
    };
    let created = args.conn.client()?.create_webhook(&request).await?;
    if args.conn.json {
        return print_json(&created);
    }
    let w = &created.webhook;
    eprintln!(
        "Created webhook {} to {} for {}.",
        w.id,
        output::clean(&w.url),
        w.events.join(", ")
    );
    eprintln!("Copy the signing secret now: it will not be shown again.");
    print(&format!("{}\n", created.secret))
}

async fn delete(args: DeleteArgs) -> Result<(), CliError> {
    args.flags.check()?;
    let client: Client = args.flags.conn.client()?;
    let ask = async || {
        let webhook = client.get_webhook(&args.id).await?;
        Ok(format!(
            "Delete webhook {} ({})? Its pending deliveries are not sent.",
            webhook.id,
            output::clean(&webhook.url)
        ))
    };
    args.flags
        .confirm(ask, "cancelled: nothing was deleted")
        .await?;
    client.delete_webhook(&args.id).await?;
    args.flags
        .done(&format!("Deleted webhook {}.", output::clean(&args.id)))
}

fn webhook_table(hooks: &[WebhookResponse]) -> String {
    if hooks.is_empty() {
        return "The org has no webhooks.\n".into();
    }
    let mut table = Table::new(&["ID", "URL", "EVENTS", "CREATED"]);
    for w in hooks {
        table.row(vec![
            w.id.clone(),
            output::clean(&w.url),
            w.events.join(","),
            output::time(w.created_at),
        ]);
    }
    table.render()
}

fn details(w: &WebhookResponse) -> String {
    output::pairs(&[
        ("id", w.id.clone()),
        ("url", output::clean(&w.url)),
        ("events", w.events.join(", ")),
        (
            "description",
            w.description
                .as_deref()
                .map_or_else(|| "-".to_owned(), output::clean),
        ),
        ("created", output::time(w.created_at)),
    ])
}

fn delivery_table(items: &[DeliveryResponse]) -> String {
    if items.is_empty() {
        return "No deliveries yet.\n".into();
    }
    let mut table = Table::new(&[
        "ID",
        "TYPE",
        "STATUS",
        "ATTEMPTS",
        "LAST CODE",
        "NEXT ATTEMPT",
    ]);
    for d in items {
        table.row(vec![
            d.id.clone(),
            d.event_type.clone(),
            d.status.clone(),
            d.attempts.to_string(),
            d.last_response_code
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            d.next_attempt_at
                .map_or_else(|| "-".to_owned(), output::time),
        ]);
    }
    table.render()
}

fn delivery(d: &DeliveryResponse) -> String {
    output::pairs(&[
        ("id", d.id.clone()),
        ("type", d.event_type.clone()),
        ("status", d.status.clone()),
        ("attempts", d.attempts.to_string()),
        (
            "last code",
            d.last_response_code
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
        ),
        (
            "last error",
            d.last_error
                .as_deref()
                .map_or_else(|| "-".to_owned(), output::clean),
        ),
        (
            "next attempt",
            d.next_attempt_at
                .map_or_else(|| "-".to_owned(), output::time),
        ),
    ])
}
