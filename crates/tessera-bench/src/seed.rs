//! `seed`: one org, its owner and N tokens, written straight to the
//! database, and the token strings to a file; with
//! `--service-account-out`, also a service account and one token of it
//! (with the same scope), made through the store as the API makes them, so
//! that `/verify` can be measured for both kinds of token in one run.
//! With `--controls`, every member token gets the same controls (the
//! service account's token gets none).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::json;
use tessera_core::controls::{Cidr, Quota, RateLimit, TokenControls, MAX_QUOTA, MAX_RATE_REQUESTS};
use tessera_core::model::{Actor, AuditEvent, Member, Org, ServiceAccount, Token, TokenOwner};
use tessera_core::resource::Resource;
use tessera_core::{resource, BuiltinRole, OrgKey, ServiceAccountId, TokenFormat, TokenScope};
use tessera_store::{SqlStore, Store};
use time::OffsetDateTime;

use crate::wall_clock;

#[derive(Debug, Args)]
pub struct SeedArgs {
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
    /// Also make the service account `bench-ci` (role writer; reused if
    /// it exists) and one token of it with the tokens' scope, and write
    /// that token's string to this file.
    #[arg(long, value_name = "FILE")]
    service_account_out: Option<PathBuf>,
    /// Give every seeded token controls (issue 18), none of which a
    /// benchmark reaches: `ip` (an address list holding 127.0.0.0/8),
    /// `rate` (10^9 requests a minute), `quota` (10^12 uses) or `all`.
    #[arg(long, value_enum)]
    controls: Option<Controls>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Controls {
    Ip,
    Rate,
    Quota,
    All,
}

impl Controls {
    /// The controls given to every token, validated as the API would.
    fn controls(self) -> Result<Box<TokenControls>, String> {
        let (ip, rate, quota) = match self {
            Self::Ip => (true, false, false),
            Self::Rate => (false, true, false),
            Self::Quota => (false, false, true),
            Self::All => (true, true, true),
        };
        let allowed_ips = if ip {
            ["10.0.0.0/8", "127.0.0.0/8"]
                .into_iter()
                .map(str::parse::<Cidr>)
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let controls = TokenControls {
            allowed_ips,
            rate_limit: rate.then_some(RateLimit {
                requests: MAX_RATE_REQUESTS,
                per_seconds: 60,
            }),
            quota: quota.then_some(Quota {
                remaining: MAX_QUOTA,
                refill: None,
            }),
        };
        Ok(Box::new(controls.validate().map_err(|e| e.to_string())?))
    }
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

/// Rows per multi-row INSERT (11 bound columns each: well under SQLite's
/// 32,766 parameters).
const ROWS_PER_INSERT: usize = 500;
/// Rows per transaction.
const ROWS_PER_TX: u64 = 50_000;

pub async fn seed(args: SeedArgs) -> Result<(), String> {
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
    let controls = args.controls.map(Controls::controls).transpose()?;
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
            .map(|_| mint(&format, &owner, &scope, now))
            .map(|(string, token)| {
                let controls = controls.clone();
                (string, Token { controls, ..token })
            })
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
    if let Some(path) = &args.service_account_out {
        let minted = account_token(&*store, &org, &owner, &format, &scope, now, &ids).await?;
        sample.push(minted.1);
        std::fs::write(path, format!("{}\n", minted.0))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }

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
            || stored.owner != token.owner
            || stored.org_id != token.org_id
            || stored.controls != token.controls
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
/// audit line), a hundred times faster than one transaction each. Controls
/// are written as the store writes them: the JSON in `controls`, a quota's
/// count in `quota_remaining` (no refill, so no `quota_period`).
async fn insert_tokens(pool: &sqlx::AnyPool, tokens: &[(String, Token)]) -> Result<(), String> {
    let db = |e: sqlx::Error| format!("bulk insert: {e}");
    let mut tx = pool.begin().await.map_err(db)?;
    for chunk in tokens.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO tokens (id, org_id, member_id, name, snippet, secret_hash, \
             scope_kind, scope_role, projects, created_at, controls, quota_remaining) \
             VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "" } else { ", " });
            sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?)");
        }
        let mut query = sqlx::query(&sql);
        for (_, t) in chunk {
            let (kind, role) = match t.scope {
                TokenScope::Inherit => ("inherit", None),
                TokenScope::Role(role) => ("role", Some(role.as_str())),
                _ => return Err("bulk insert: only built-in roles or inherit".into()),
            };
            let controls = t
                .controls
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| format!("bulk insert: controls: {e}"))?;
            let quota = t.controls.as_ref().and_then(|c| c.quota);
            query = query
                .bind(t.id.as_str())
                .bind(t.org_id.as_str())
                .bind(t.owner.member().map(|m| m.as_str()))
                .bind(t.name.as_str())
                .bind(t.snippet.as_str())
                .bind(&t.secret_hash.0[..])
                .bind(kind)
                .bind(role)
                .bind(t.created_at.unix_timestamp())
                .bind(controls)
                .bind(quota.map(|q| q.remaining));
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

/// The service account `bench-ci` (made on first use) and a new token of
/// it with `scope`, created through the store with their audit events.
async fn account_token(
    store: &dyn Store,
    org: &Org,
    owner: &Member,
    format: &TokenFormat,
    scope: &TokenScope,
    now: OffsetDateTime,
    ids: &AuditIds,
) -> Result<(String, Token), String> {
    const NAME: &str = "bench-ci";
    let existing = store
        .list_service_accounts(&org.id)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|a| a.name == NAME);
    let account = match existing {
        Some(account) => account,
        None => {
            let account = ServiceAccount {
                id: ServiceAccountId::generate(now),
                org_id: org.id.clone(),
                name: NAME.into(),
                description: Some("made by tessera-bench seed".into()),
                role: BuiltinRole::Writer,
                custom_roles: Vec::new(),
                created_at: now,
                created_by: Some(owner.id.clone()),
            };
            let event = AuditEvent {
                id: ids.next(),
                org_id: org.id.clone(),
                at: now,
                actor: Actor {
                    member: Some(owner.id.clone()),
                    token: None,
                },
                action: "service_account:create".into(),
                target: resource::service_account(&account.id),
                ip: None,
                details: json!({ "name": NAME, "via": "bench-seed" }),
            };
            store
                .create_service_account(&account, &event)
                .await
                .map_err(|e| format!("create_service_account: {e}"))?;
            account
        }
    };
    let (string, token) = mint(format, owner, scope, now);
    let token = Token {
        owner: TokenOwner::ServiceAccount(account.id.clone()),
        ..token
    };
    let mut event = token_event(ids, org, owner, &token, now);
    event.target = token.resource();
    store
        .create_token(&token, &event)
        .await
        .map_err(|e| format!("create_token: {e}"))?;
    Ok((string, token))
}

/// A new token (string, record) for `owner` with `scope`.
fn mint(
    format: &TokenFormat,
    owner: &Member,
    scope: &TokenScope,
    now: OffsetDateTime,
) -> (String, Token) {
    let minted = format.generate(now);
    // A member's token names are unique: the id makes each one so.
    let name = format!("bench {}", minted.id);
    let token = Token::minted(&minted, owner, name, scope.clone(), now);
    (minted.token, token)
}
