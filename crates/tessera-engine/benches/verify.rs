//! The verification hot path in-process, against a real SQLite store with a
//! warm cache. Every result is meant to be read as a ratio to
//! `sha256_secret`, the one piece of work a verification cannot avoid.
//!
//! Run: `cargo bench -p tessera-engine --bench verify` (see
//! docs/benchmarks.md for what each case measures and the numbers).
// Bench code: a failed unwrap aborts the run, and helpers outside
// `#[test]` functions are not covered by clippy.toml's allow-*-in-tests.
// Fixtures are made relative to the real time, read directly here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use sha2::{Digest, Sha256};
use tessera_core::model::{Actor, AuditEvent, Member, Org, Token};
use tessera_core::{BuiltinRole, OrgKey, TokenFormat, TokenScope};
use tessera_engine::{Engine, Rejection};
use tessera_store::{SqlStore, Store};
use time::OffsetDateTime;

/// What the HTTP benchmarks ask too: a writer token may change a flag
/// under a project.
const ACTION: &str = "flag:update";
const RESOURCE: &str = "proj/web:env/prod:flag/checkout";

struct World {
    rt: tokio::runtime::Runtime,
    engine: Engine,
    now: OffsetDateTime,
    valid: String,
    bad_checksum: String,
    unknown: String,
    _dir: tempfile::TempDir,
}

fn event(org: &Org, n: u32, action: &str) -> AuditEvent {
    AuditEvent {
        id: format!("{n:024x}"),
        org_id: org.id.clone(),
        at: OffsetDateTime::now_utc(),
        actor: Actor::default(),
        action: action.into(),
        target: "bench/x".into(),
        ip: None,
        details: json!({}),
    }
}

/// A temp-dir SQLite store with one org, its owner and one writer-scoped
/// token, and an engine whose cache already holds them.
fn world() -> World {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let now = OffsetDateTime::now_utc();
    let (engine, valid) = rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&url).await.expect("store"));
        let engine = Engine::new(store, TokenFormat::default());
        let org = Org::new(OrgKey::parse("bench").expect("key"), "Bench", now);
        let owner = Member::new(
            &org.id,
            "owner@bench.test",
            "owner",
            BuiltinRole::Owner,
            now,
        );
        engine
            .store()
            .create_org(&org, &owner, &event(&org, 1, "org:create"))
            .await
            .expect("org");
        let minted = engine.format().generate(now);
        let token = Token::minted(
            &minted,
            &owner,
            "bench",
            TokenScope::Role(BuiltinRole::Writer),
            now,
        );
        engine
            .store()
            .create_token(&token, &event(&org, 2, "token:create"))
            .await
            .expect("token");
        (engine, minted.token)
    });

    // Same length and alphabet, last checksum character changed.
    let mut bad_checksum = valid.clone();
    let last = bad_checksum.pop().expect("non-empty");
    bad_checksum.push(if last == 'A' { 'B' } else { 'A' });
    // Well-formed, right checksum, never stored.
    let unknown = engine.format().generate(now).token;

    // Warm the cache (token, member, org) and the negative cache, and check
    // each case answers what it should.
    rt.block_on(async {
        let v = engine
            .verify(&valid, now)
            .await
            .expect("storage")
            .expect("valid");
        assert!(
            v.allows(ACTION, RESOURCE),
            "a writer token may update a flag"
        );
        assert_eq!(
            engine
                .verify(&bad_checksum, now)
                .await
                .expect("storage")
                .err(),
            Some(Rejection::Malformed)
        );
        assert_eq!(
            engine.verify(&unknown, now).await.expect("storage").err(),
            Some(Rejection::Invalid)
        );
    });
    World {
        rt,
        engine,
        now,
        valid,
        bad_checksum,
        unknown,
        _dir: dir,
    }
}

/// Polls a future once with a no-op waker: a cache hit never waits, so
/// this measures the engine without any runtime around it.
fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a cache hit should never wait"),
    }
}

fn verify_benches(c: &mut Criterion) {
    let w = world();
    let format = w.engine.format().clone();
    let reads_before = w.engine.stats().storage_reads();
    let secret = w.valid[w.valid.len() - 38..w.valid.len() - 6].to_owned();
    assert_eq!(secret.len(), 32);

    let mut g = c.benchmark_group("verify");

    // (4) The floor: SHA-256 of a 32-character secret, nothing else.
    g.bench_function("sha256_secret", |b| {
        b.iter(|| Sha256::digest(black_box(secret.as_bytes())))
    });

    // (1) Prefix, length, alphabet, CRC32 checksum and KSUID range.
    g.bench_function("parse_checksum", |b| {
        b.iter(|| format.parse(black_box(&w.valid)).is_ok())
    });

    // (2) A cache hit with a policy check, as a Rust service embedding the
    // engine runs it: inside a (current-thread) tokio runtime.
    g.bench_function("verify_hit_allows", |b| {
        b.iter(|| {
            w.rt.block_on(async {
                let v = w
                    .engine
                    .verify(black_box(&w.valid), w.now)
                    .await
                    .expect("storage")
                    .expect("valid");
                v.allows(black_box(ACTION), black_box(RESOURCE))
            })
        })
    });

    // (2') The same without a runtime: the engine's own cost.
    g.bench_function("verify_hit_allows_no_runtime", |b| {
        b.iter(|| {
            let v = poll_once(w.engine.verify(black_box(&w.valid), w.now))
                .expect("storage")
                .expect("valid");
            v.allows(black_box(ACTION), black_box(RESOURCE))
        })
    });

    // (2'') The hit alone, no policy check.
    g.bench_function("verify_hit_no_policy", |b| {
        b.iter(|| {
            poll_once(w.engine.verify(black_box(&w.valid), w.now))
                .expect("storage")
                .is_ok()
        })
    });

    // Parts of (2'), to see where its time goes: the policy check alone
    // (owner's permissions ∧ token scope ∧ projects) ...
    let verified = poll_once(w.engine.verify(&w.valid, w.now))
        .expect("storage")
        .expect("valid");
    g.bench_function("allows_only", |b| {
        b.iter(|| verified.allows(black_box(ACTION), black_box(RESOURCE)))
    });
    // ... and one cache lookup (of the three a hit makes: token, member,
    // org), with its `Arc` clone and drop.
    let (org_id, member_id) = (
        verified.org().id.clone(),
        verified.member().expect("a member token").id.clone(),
    );
    g.bench_function("member_lookup", |b| {
        b.iter(|| {
            poll_once(w.engine.member(black_box(&org_id), black_box(&member_id)))
                .expect("storage")
                .is_some()
        })
    });
    drop(verified);

    // (3) A mistyped token, rejected on its checksum.
    g.bench_function("verify_bad_checksum", |b| {
        b.iter(|| {
            w.rt.block_on(w.engine.verify(black_box(&w.bad_checksum), w.now))
                .expect("storage")
                .is_err()
        })
    });

    // (3') A well-formed token storage does not know, answered from the
    // negative cache (it hashes the secret too, so unknown ids cost what
    // wrong secrets cost).
    g.bench_function("verify_unknown_id", |b| {
        b.iter(|| {
            w.rt.block_on(w.engine.verify(black_box(&w.unknown), w.now))
                .expect("storage")
                .is_err()
        })
    });

    // What `block_on` alone costs, to subtract from the runtime cases.
    g.bench_function("block_on_ready", |b| {
        b.iter(|| w.rt.block_on(async { black_box(1u8) }))
    });

    g.finish();

    let reads = w.engine.stats().storage_reads() - reads_before;
    eprintln!(
        "storage reads during the benchmarks (hits, bad checksums, known-unknown ids): {reads}"
    );
    assert_eq!(reads, 0, "the measured paths must not touch storage");
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = verify_benches
}
criterion_main!(benches);
