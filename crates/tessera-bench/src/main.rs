//! Helpers for `scripts/bench-http`, Tessera's HTTP benchmarks.
//!
//! - `floor`: a plain axum server that answers 200 to everything and does
//!   no work. Measured beside `tessera serve` in the same run, it is the
//!   HTTP floor of the machine: what the runtime, the HTTP stack and `wrk`
//!   itself cost.
//! - `seed`: creates one org and its owner through the store, then N
//!   writer-scoped tokens in bulk INSERTs (or one `Store::create_token`
//!   each with `--via-store`), reads a sample back through the `Store`
//!   trait to check the rows, and writes the token strings to a file, one
//!   a line, for `wrk`'s Lua scripts. `--controls ip|rate|quota|all` gives
//!   every token an address list, a rate limit and/or a quota (issue 18).
//! - `warm`: verifies every token of a file once over keep-alive
//!   connections (loads the cache; times the cache-miss path).
//! - `last-used`: times one last-used flush of N tokens on its own.
//! - `mint`: prints a well-formed token no database holds.
//! - `wait-http`: polls `GET <path>` on a loopback address every
//!   millisecond until it answers 200 and prints the Unix time in
//!   nanoseconds at which it did, to time a server's start-up.

mod floor;
mod last_used;
mod seed;
mod wait_http;
mod warm;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tessera_core::TokenFormat;
use time::OffsetDateTime;

use crate::floor::floor;
use crate::last_used::last_used;
use crate::seed::{seed, SeedArgs};
use crate::wait_http::wait_http;
use crate::warm::warm;

#[derive(Parser)]
#[command(name = "tessera-bench", about = "Helpers for scripts/bench-http")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve 200 with an empty body on every path and method, doing no work.
    Floor {
        #[arg(long, default_value = "127.0.0.1:8089")]
        listen: SocketAddr,
    },
    /// Create an org, its owner and COUNT tokens in the database, and write
    /// the token strings to OUT.
    Seed(SeedArgs),
    /// POST /api/v1/verify once for every token of a file, over
    /// CONNECTIONS keep-alive connections: loads every token into the
    /// server's cache, and measures the cold (cache-miss) path.
    Warm {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        tokens: PathBuf,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value = "flag:update")]
        action: String,
        #[arg(long, default_value = "proj/web:env/prod:flag/checkout")]
        resource: String,
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
    /// Time `Store::record_last_used` (what the server's last-used flush
    /// calls) for a batch of COUNT tokens from a seeded database.
    LastUsed {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        tokens: PathBuf,
        #[arg(long)]
        count: usize,
    },
    /// Print a well-formed token (right prefix, length and checksum) that
    /// no database holds.
    Mint {
        #[arg(long, default_value = "tsr")]
        token_prefix: String,
    },
    /// Poll http://ADDR/PATH until it answers 200; print the Unix time (ns)
    /// at which it did.
    WaitHttp {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value = "/healthz")]
        path: String,
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `Runtime::new`: multi-threaded, with I/O and timers.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Floor { listen } => floor(listen).await,
            Command::Seed(args) => seed(args).await,
            Command::Warm {
                addr,
                tokens,
                connections,
                action,
                resource,
                timeout_secs,
            } => {
                let question = (action, resource);
                tokio::time::timeout(
                    Duration::from_secs(timeout_secs),
                    warm(addr, &tokens, connections, question),
                )
                .await
                .map_err(|_| format!("warm-up did not finish within {timeout_secs} s"))?
            }
            Command::LastUsed {
                database_url,
                tokens,
                count,
            } => last_used(&database_url, &tokens, count).await,
            Command::Mint { token_prefix } => TokenFormat::new(&token_prefix)
                .map(|f| println!("{}", f.generate(wall_clock()).token))
                .map_err(|e| e.to_string()),
            Command::WaitHttp {
                addr,
                path,
                timeout_secs,
            } => wait_http(addr, &path, Duration::from_secs(timeout_secs)).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the token file.
pub(crate) fn read_tokens(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text.lines().map(str::to_owned).collect())
}

/// The bench's one reading of the system clock (token expiries, request
/// timestamps): measuring real time is its job.
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall_clock() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
