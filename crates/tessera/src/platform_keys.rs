//! `tessera platform-key create|list|delete`: the host product's backend
//! credentials, made on the server's machine against the database, as
//! `tessera init` works (also while servers run: they read keys from the
//! database on every platform call, so a deleted key stops working at
//! once on every node).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use tessera_core::platform::PlatformKey;
use tessera_server::platform::keys;

use crate::error::CliError;
use crate::remote::input;
use crate::remote::output::{self, Table};
use crate::serve::{init_logging, load_config, ConfigFlags};

#[derive(Debug, Subcommand)]
pub enum PlatformKeyCommand {
    /// Make a platform key; it is printed once, alone on stdout.
    Create(CreateArgs),
    /// List platform keys: ids, names and snippets (never the keys).
    List(ListArgs),
    /// Delete a platform key: it stops working at once.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// What the key is for (e.g. "billing backend").
    #[arg(long)]
    name: String,
    #[command(flatten)]
    flags: ConfigFlags,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The key's id (the KSUID inside it, as `platform-key list` shows).
    id: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

async fn open(flags: &ConfigFlags) -> Result<tessera_server::AppState, CliError> {
    let (config, _) = load_config(flags, None)?;
    init_logging("warn");
    tessera_server::open(config)
        .await
        .map_err(|e| CliError::Setup(e.to_string()))
}

fn failed(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Setup(format!("cannot {what}: {e}"))
}

fn key_json(k: &PlatformKey) -> serde_json::Value {
    json!({
        "id": k.id,
        "name": k.name,
        "snippet": k.snippet,
        "created_at": output::time(k.created_at),
        "last_used_at": k.last_used_at.map(output::time),
    })
}

pub async fn run(cmd: PlatformKeyCommand) -> Result<ExitCode, CliError> {
    match cmd {
        PlatformKeyCommand::Create(args) => {
            let state = open(&args.flags).await?;
            let created = keys::create(&state, &args.name)
                .await
                .map_err(|e| failed("create the platform key", e))?;
            eprintln!(
                "Created platform key {} ({}). It is shown only now: store it in the product's secrets.",
                created.key.id,
                output::clean(&created.key.name)
            );
            output::print(&format!("{}\n", created.secret))?;
        }
        PlatformKeyCommand::List(args) => {
            let state = open(&args.flags).await?;
            let all = keys::list(&state)
                .await
                .map_err(|e| failed("list platform keys", e))?;
            if args.json {
                output::print_json(&all.iter().map(key_json).collect::<Vec<_>>())?;
            } else if all.is_empty() {
                eprintln!(
                    "No platform keys. Make one with: tessera platform-key create --name NAME"
                );
            } else {
                let mut table = Table::new(&["ID", "NAME", "SNIPPET", "CREATED", "LAST USED"]);
                for k in &all {
                    table.row(vec![
                        k.id.clone(),
                        output::clean(&k.name),
                        k.snippet.clone(),
                        output::time(k.created_at),
                        output::time_or_never(k.last_used_at),
                    ]);
                }
                output::print(&table.render())?;
            }
        }
        PlatformKeyCommand::Delete(args) => {
            input::check_can_confirm(args.yes)?;
            let state = open(&args.flags).await?;
            let key = keys::get(&state, &args.id)
                .await
                .map_err(|e| failed("find the platform key", e))?;
            let question = format!(
                "Delete platform key {} ({})? Calls made with it fail at once.",
                key.id,
                output::clean(&key.name)
            );
            if !input::confirm(args.yes, &question)? {
                return Err(CliError::Input("cancelled: nothing was deleted".into()));
            }
            keys::delete(&state, &key.id)
                .await
                .map_err(|e| failed("delete the platform key", e))?;
            eprintln!("Deleted platform key {}.", key.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
