//! `tessera`: the service (`serve`, `init`) and the API from a terminal.
//!
//! Exit codes: 0 success, 1 an error (one line on stderr), 2 a usage error
//! (from clap). `scan` also exits 1 when it finds a token (see scan.rs).

mod clock;
mod error;
mod mcp;
mod operations;
mod platform_cli;
mod platform_keys;
mod recovery;
mod remote;
mod scan;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "API tokens and personal access tokens, self-hosted"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service. On an empty database it creates an org and an owner
    /// and prints how to log in, once.
    Serve(serve::ServeArgs),
    /// Set up an org and its owner without starting the service.
    Init(serve::InitArgs),
    /// Set a member's password on the database directly (a lost owner's
    /// way back in); ends their sessions.
    ResetPassword(recovery::ResetPasswordArgs),
    /// Copy the SQLite database to a file while the service serves.
    #[command(long_about = operations::BACKUP_ABOUT)]
    Backup(operations::BackupArgs),
    /// Copy the SQLite deployment into an empty PostgreSQL database.
    #[command(long_about = operations::MIGRATE_ABOUT)]
    Migrate(operations::MigrateArgs),
    /// Make, list and delete platform keys (the host product's backend
    /// credential for /api/v1/platform), on the server's machine.
    #[command(subcommand)]
    PlatformKey(platform_keys::PlatformKeyCommand),
    /// The platform API from a terminal (with a platform key): orgs and
    /// their people.
    #[command(subcommand)]
    Platform(platform_cli::PlatformCommand),
    #[command(flatten)]
    Remote(remote::RemoteCommand),
    /// Find Tessera tokens in files and git history; exit 1 if any.
    #[command(long_about = scan::LONG_ABOUT)]
    Scan(scan::ScanArgs),
    /// An MCP server on stdio with token tools, for AI assistants.
    #[command(long_about = mcp::LONG_ABOUT)]
    Mcp(mcp::McpArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::serve(args).await,
            Command::Init(args) => serve::init(args).await,
            Command::ResetPassword(args) => recovery::run(args).await,
            Command::Backup(args) => operations::backup(args).await,
            Command::Migrate(args) => operations::migrate(args).await,
            Command::PlatformKey(cmd) => platform_keys::run(cmd).await,
            Command::Platform(cmd) => platform_cli::run(cmd).await,
            Command::Remote(cmd) => remote::run(cmd).await,
            Command::Scan(args) => scan::run(args).await,
            Command::Mcp(args) => mcp::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
