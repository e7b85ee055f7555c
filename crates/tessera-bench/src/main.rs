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
//!   a line, for `wrk`'s Lua scripts.
//! - `warm`: verifies every token of a file once over keep-alive
//!   connections (loads the cache; times the cache-miss path).
//! - `last-used`: times one last-used flush of N tokens on its own.
//! - `mint`: prints a well-formed token no database holds.
//! - `wait-http`: polls `GET <path>` on a loopback address every
//!   millisecond until it answers 200 and prints the Unix time in
//!   nanoseconds at which it did, to time a server's start-up.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::Router;
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use tessera_core::model::{Actor, AuditEvent, Member, Org, Token};
use tessera_core::{resource, BuiltinRole, OrgKey, TokenFormat, TokenScope};
use tessera_store::{LastUsed, SqlStore, Store};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// The HTTP floor: the same axum and tokio as `tessera serve`, no work.
async fn floor(listen: SocketAddr) -> Result<(), String> {
    let app = Router::new().fallback(|| async { StatusCode::OK });
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!("floor listening on http://{listen}");
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("floor server: {e}"))
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// `sqlite://FILE`, as for `tessera serve --database-url`.
    #[arg(long)]
    database_url: String,
    #[arg(long)]
    count: u64,
    #[arg(long)]
    out: PathBuf,
    /// The org's key; an existing org with this key is reused.
    #[arg(long, default_value = "bench")]
    org: String,
    /// Built-in role the tokens are scoped to, or `inherit` (no scope:
    /// the owner's permissions).
    #[arg(long, default_value = "writer")]
    role: String,
    /// Token prefix, as `tessera serve --token-prefix`.
    #[arg(long, default_value = "tsr")]
    token_prefix: String,
    /// Create each token with `Store::create_token` (one transaction
    /// and one audit line each, as the API does) instead of bulk
    /// INSERTs: realistic, but about 1,500 tokens/s on 2 cores.
    #[arg(long)]
    via_store: bool,
}

/// Audit ids: 16 hex digits of the seed's start (µs), then a sequence
/// number, so they are unique and sort in creation order.
struct AuditIds {
    base: u64,
    next: AtomicU64,
}

impl AuditIds {
    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{n:08x}", self.base)
    }
}

/// Rows per multi-row INSERT (9 bound columns each: well under SQLite's
/// 32,766 parameters).
const ROWS_PER_INSERT: usize = 500;
/// Rows per transaction.
const ROWS_PER_TX: u64 = 50_000;

async fn seed(args: SeedArgs) -> Result<(), String> {
    let scope = match args.role.as_str() {
        "inherit" => TokenScope::Inherit,
        role => TokenScope::Role(
            BuiltinRole::ALL
                .into_iter()
                .find(|r| r.as_str() == role)
                .ok_or_else(|| format!("--role {role:?}: not a built-in role or `inherit`"))?,
        ),
    };
    let format = TokenFormat::new(&args.token_prefix).map_err(|e| e.to_string())?;
    let sqlite = SqlStore::connect(&args.database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let pool = sqlite.pool().clone();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let now = wall_clock();
    let ids = AuditIds {
        base: u64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(0),
        next: 0.into(),
    };
    let (org, owner) = org_and_owner(&*store, &args.org, now, &ids).await?;

    let file = std::fs::File::create(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let started = Instant::now();
    let mut sample = Vec::new();
    let mut done = 0u64;
    while done < args.count {
        let batch = (args.count - done).min(ROWS_PER_TX);
        let mut minted: Vec<(String, Token)> = (0..batch)
            .map(|_| mint(&format, &org, &owner, &scope, now))
            .collect();
        // In key order, the B-tree grows at its end instead of splitting
        // pages all over: several times faster past 100k rows.
        minted.sort_unstable_by(|a, b| a.1.id.as_str().cmp(b.1.id.as_str()));
        if args.via_store {
            for (_, token) in &minted {
                let event = token_event(&ids, &org, &owner, token, now);
                store
                    .create_token(token, &event)
                    .await
                    .map_err(|e| format!("create_token: {e}"))?;
            }
        } else {
            insert_tokens(&pool, &minted).await?;
        }
        for (string, _) in &minted {
            writeln!(out, "{string}").map_err(|e| format!("writing tokens: {e}"))?;
        }
        sample.extend(minted.first().map(|(_, t)| t.clone()));
        sample.extend(minted.last().map(|(_, t)| t.clone()));
        done += batch;
        if done % 200_000 == 0 {
            eprintln!(
                "  {done} tokens in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    out.flush().map_err(|e| format!("writing tokens: {e}"))?;
    let secs = started.elapsed().as_secs_f64();

    // The rows must read back through the store exactly as written: the
    // bulk insert bypasses `create_token`, so check it against `get_token`.
    for token in &sample {
        let stored = store
            .get_token(&token.id)
            .await
            .map_err(|e| format!("get_token: {e}"))?
            .ok_or_else(|| format!("token {} was not stored", token.id))?;
        if stored.secret_hash != token.secret_hash
            || stored.scope != token.scope
            || stored.member_id != token.member_id
            || stored.org_id != token.org_id
        {
            return Err(format!("token {} reads back differently", token.id));
        }
    }
    println!(
        "seeded {} tokens in {secs:.2} s ({:.0} tokens/s, {})",
        args.count,
        args.count as f64 / secs.max(1e-9),
        if args.via_store {
            "one Store::create_token each"
        } else {
            "bulk INSERT"
        }
    );
    Ok(())
}

/// The audit event `create_token` writes with a token.
fn token_event(
    ids: &AuditIds,
    org: &Org,
    owner: &Member,
    token: &Token,
    now: OffsetDateTime,
) -> AuditEvent {
    AuditEvent {
        id: ids.next(),
        org_id: org.id.clone(),
        at: now,
        actor: Actor {
            member: Some(owner.id.clone()),
            token: None,
        },
        action: "token:create".into(),
        target: resource::token(&owner.id, &token.id),
        ip: None,
        details: json!({ "name": token.name, "snippet": token.snippet, "via": "bench-seed" }),
    }
}

/// Inserts built-in-role or unscoped tokens in one transaction, many rows per
/// statement: what `create_token` writes for such a token (without its
/// audit line), a hundred times faster than one transaction each.
async fn insert_tokens(pool: &sqlx::AnyPool, tokens: &[(String, Token)]) -> Result<(), String> {
    let db = |e: sqlx::Error| format!("bulk insert: {e}");
    let mut tx = pool.begin().await.map_err(db)?;
    for chunk in tokens.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO tokens (id, org_id, member_id, name, snippet, secret_hash, \
             scope_kind, scope_role, projects, created_at) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "" } else { ", " });
            sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, '[]', ?)");
        }
        let mut query = sqlx::query(&sql);
        for (_, t) in chunk {
            let (kind, role) = match t.scope {
                TokenScope::Inherit => ("inherit", None),
                TokenScope::Role(role) => ("role", Some(role.as_str())),
                _ => return Err("bulk insert: only built-in roles or inherit".into()),
            };
            query = query
                .bind(t.id.as_str())
                .bind(t.org_id.as_str())
                .bind(t.member_id.as_str())
                .bind(t.name.as_str())
                .bind(t.snippet.as_str())
                .bind(&t.secret_hash.0[..])
                .bind(kind)
                .bind(role)
                .bind(t.created_at.unix_timestamp());
        }
        query.execute(&mut *tx).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

/// The org with `key` and an owner, creating both on first use.
async fn org_and_owner(
    store: &dyn Store,
    key: &str,
    now: OffsetDateTime,
    ids: &AuditIds,
) -> Result<(Org, Member), String> {
    let key = OrgKey::parse(key).map_err(|e| e.to_string())?;
    if let Some(org) = store
        .get_org_by_key(&key)
        .await
        .map_err(|e| e.to_string())?
    {
        let owner = store
            .list_members(&org.id)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|m| m.role == BuiltinRole::Owner)
            .ok_or_else(|| format!("org {key} has no owner"))?;
        return Ok((org, owner));
    }
    let org = Org::new(key.clone(), key.to_string(), now);
    let owner = Member::new(
        &org.id,
        "owner@bench.test",
        "bench owner",
        BuiltinRole::Owner,
        now,
    );
    let event = AuditEvent {
        id: ids.next(),
        org_id: org.id.clone(),
        at: now,
        actor: Actor::default(),
        action: "org:create".into(),
        target: resource::org(&org.key),
        ip: None,
        details: json!({ "owner": owner.email, "via": "bench-seed" }),
    };
    store
        .create_org(&org, &owner, &event)
        .await
        .map_err(|e| format!("create_org: {e}"))?;
    Ok((org, owner))
}

/// A new token (string, record) for `owner` with `scope`.
fn mint(
    format: &TokenFormat,
    org: &Org,
    owner: &Member,
    scope: &TokenScope,
    now: OffsetDateTime,
) -> (String, Token) {
    let minted = format.generate(now);
    let token = Token {
        id: minted.id.clone(),
        org_id: org.id.clone(),
        member_id: owner.id.clone(),
        name: "bench".into(),
        snippet: minted.snippet.clone(),
        secret_hash: minted.secret_hash,
        scope: scope.clone(),
        projects: Vec::new(),
        created_at: now,
        expires_at: None,
        last_used_at: None,
        last_used_ip: None,
        rotated_at: None,
        previous_secret: None,
    };
    (minted.token, token)
}

/// Polls `GET path` on `addr` every millisecond until a 200.
async fn wait_http(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    if !addr.ip().is_loopback() {
        return Err(format!("{addr}: only loopback addresses are polled"));
    }
    let deadline = Instant::now() + timeout;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    loop {
        if answers_200(addr, &request).await {
            let at = wall_clock().unix_timestamp_nanos();
            println!("{at}");
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "http://{addr}{path} did not answer 200 within {timeout:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn answers_200(addr: SocketAddr, request: &str) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200"))
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Reads the token file.
fn read_tokens(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text.lines().map(str::to_owned).collect())
}

/// Verifies every token once; prints elapsed time, req/s and latency.
async fn warm(
    addr: SocketAddr,
    tokens: &std::path::Path,
    connections: usize,
    (action, resource): (String, String),
) -> Result<(), String> {
    if !addr.ip().is_loopback() {
        return Err(format!("{addr}: only loopback addresses are used"));
    }
    let tokens = Arc::new(read_tokens(tokens)?);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections.clamp(1, 1024) {
        let (tokens, next) = (Arc::clone(&tokens), Arc::clone(&next));
        let (action, resource) = (action.clone(), resource.clone());
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?;
            let mut stream = tokio::io::BufStream::new(stream);
            let (mut latencies, mut refused) = (Vec::new(), 0u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(i) else { break };
                let body =
                    format!(r#"{{"token":"{token}","action":"{action}","resource":"{resource}"}}"#);
                let request = format!(
                    "POST /api/v1/verify HTTP/1.1\r\nHost: {addr}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let sent = Instant::now();
                stream
                    .write_all(request.as_bytes())
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                stream.flush().await.map_err(|e| format!("send: {e}"))?;
                let (status, answer) = read_response(&mut stream).await?;
                latencies.push(sent.elapsed());
                if status != 200 || !answer.contains("\"valid\":true") {
                    refused += 1;
                }
            }
            Ok::<_, String>((latencies, refused))
        }));
    }
    let (mut latencies, mut refused) = (Vec::new(), 0);
    for task in tasks {
        let (l, r) = task.await.map_err(|e| format!("warm task: {e}"))??;
        latencies.extend(l);
        refused += r;
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .map_or(0, |d| d.as_micros())
    };
    println!(
        "warmed {} tokens in {:.0} ms: {:.0} req/s, p50 {} us, p99 {} us, {refused} not valid",
        latencies.len(),
        secs * 1000.0,
        latencies.len() as f64 / secs.max(1e-9),
        pct(50),
        pct(99)
    );
    if refused > 0 {
        return Err(format!("{refused} tokens were not valid"));
    }
    Ok(())
}

/// Reads one HTTP/1.1 response with a Content-Length body.
async fn read_response<S: tokio::io::AsyncBufRead + Unpin>(
    stream: &mut S,
) -> Result<(u16, String), String> {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    let (mut status, mut length) = (0u16, 0usize);
    loop {
        line.clear();
        let n = stream
            .read_line(&mut line)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(rest) = header.strip_prefix("HTTP/1.1 ") {
            status = rest.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
        } else if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(|_| "bad content-length")?;
            }
        }
    }
    let mut body = vec![0u8; length];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| format!("receive: {e}"))?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Times `Store::record_last_used` for `count` tokens, as the flush calls it.
async fn last_used(
    database_url: &str,
    tokens: &std::path::Path,
    count: usize,
) -> Result<(), String> {
    let store = tessera_store::connect(database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let format = TokenFormat::default();
    let now = wall_clock();
    let batch: Vec<LastUsed> = read_tokens(tokens)?
        .iter()
        .take(count)
        .filter_map(|t| format.parse(t).ok().map(|p| p.id()))
        .map(|token| LastUsed {
            token,
            at: now,
            ip: Some("127.0.0.1".into()),
        })
        .collect();
    let started = Instant::now();
    store
        .record_last_used(&batch)
        .await
        .map_err(|e| format!("record_last_used: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "record_last_used of {} tokens: {:.0} ms ({:.1} us per token)",
        batch.len(),
        secs * 1000.0,
        secs * 1e6 / batch.len().max(1) as f64
    );
    Ok(())
}

/// The bench's one reading of the system clock (token expiries, request
/// timestamps): measuring real time is its job.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
