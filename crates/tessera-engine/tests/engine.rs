//! The engine against a real SQLite store: cache hits touch no storage,
//! floods of bad tokens cost nothing, and no change made through the
//! engine's store is ever answered from a stale cache.
// Test code: a failed unwrap is a failed test, and helpers outside
// `#[test]` functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;
use tessera_core::model::{Actor, AuditEvent, CustomRole, Member, Org, Token};
use tessera_core::token::NewToken;
use tessera_core::{BuiltinRole, OrgKey, Policy, RoleKey, TokenFormat, TokenScope};
use tessera_engine::{Engine, Rejection};
use tessera_store::{Change, FeedEvent, Rotation, SqlStore, Store, TokenChanges};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

struct World {
    engine: Engine,
    org: Org,
    owner: Member,
    _dir: tempfile::TempDir,
    seq: std::sync::atomic::AtomicU64,
}

impl World {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("e.db").display());
        let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&url).await.expect("store"));
        let engine = Engine::new(store, TokenFormat::default());
        let org = Org::new(OrgKey::parse("acme").expect("key"), "Acme", NOW);
        let owner = member(&org, "owner@acme.test", BuiltinRole::Owner);
        let w = World {
            engine,
            org,
            owner,
            _dir: dir,
            seq: 0.into(),
        };
        w.engine
            .store()
            .create_org(&w.org, &w.owner, &w.event())
            .await
            .expect("org");
        w
    }

    fn event(&self) -> AuditEvent {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        AuditEvent {
            id: format!("{n:024x}"),
            org_id: self.org.id.clone(),
            at: NOW,
            actor: Actor::default(),
            action: "test:change".into(),
            target: "test/x".into(),
            ip: None,
            details: json!({}),
        }
    }

    async fn token(
        &self,
        owner: &Member,
        scope: TokenScope,
        expires_at: Option<OffsetDateTime>,
    ) -> (NewToken, Token) {
        let minted = self.engine.format().generate(NOW);
        let token = Token {
            expires_at,
            // A member's token names are unique: the id makes each one so.
            ..Token::minted(&minted, owner, format!("t {}", minted.id), scope, NOW)
        };
        self.engine
            .store()
            .create_token(&token, &self.event())
            .await
            .expect("token");
        (minted, token)
    }

    async fn verify(&self, token: &str) -> Result<tessera_engine::Verified, Rejection> {
        self.engine.verify(token, NOW).await.expect("storage")
    }

    /// Is `token` valid, and may it update a flag in project web?
    async fn may_write(&self, token: &str) -> bool {
        let verified = self.verify(token).await.expect("valid");
        verified.allows("flag:update", "proj/web:flag/x")
    }

    fn reads(&self) -> u64 {
        self.engine.stats().storage_reads()
    }
}

fn member(org: &Org, email: &str, role: BuiltinRole) -> Member {
    Member::new(&org.id, email, email, role, NOW)
}

#[tokio::test]
async fn a_cache_hit_touches_no_storage() {
    let w = World::new().await;
    let (minted, _) = w.token(&w.owner, TokenScope::Inherit, None).await;
    assert!(w.verify(&minted.token).await.is_ok());
    let after_first = w.reads();
    assert!(after_first > 0);
    for _ in 0..1000 {
        let v = w.verify(&minted.token).await.expect("valid");
        assert!(v.allows("flag:update", "proj/web:flag/x"));
    }
    assert_eq!(w.reads(), after_first, "hits must not read storage");
}

#[tokio::test]
async fn a_flood_of_bad_tokens_costs_no_storage() {
    let w = World::new().await;
    let (minted, _) = w.token(&w.owner, TokenScope::Inherit, None).await;
    // Every single-character typo of a real token, and random strings.
    for i in 4..minted.token.len() {
        let mut typo = minted.token.clone().into_bytes();
        typo[i] = if typo[i] == b'x' { b'y' } else { b'x' };
        let typo = String::from_utf8(typo).expect("ascii");
        assert_eq!(w.verify(&typo).await.err(), Some(Rejection::Malformed));
    }
    for i in 0..10_000 {
        assert_eq!(
            w.verify(&format!("tsr_{i:065}")).await.err(),
            Some(Rejection::Malformed)
        );
    }
    assert_eq!(w.reads(), 0, "bad-checksum tokens must never reach storage");
}

#[tokio::test]
async fn unknown_well_formed_ids_are_remembered() {
    let w = World::new().await;
    let never_issued = w.engine.format().generate(NOW).token;
    for _ in 0..1000 {
        assert_eq!(
            w.verify(&never_issued).await.err(),
            Some(Rejection::Invalid)
        );
    }
    assert_eq!(w.engine.stats().token_loads.load(Ordering::Relaxed), 1);
    // After the memory fades, storage is asked once more.
    let later = NOW + Duration::seconds(31);
    assert!(w
        .engine
        .verify(&never_issued, later)
        .await
        .expect("storage")
        .is_err());
    assert_eq!(w.engine.stats().token_loads.load(Ordering::Relaxed), 2);
}

/// An unknown id and a known id with a wrong secret must cost the same, so
/// timing cannot tell an attacker which ids exist: both hash the presented
/// secret before the lookup, and both are answered from memory once seen.
/// Timed interleaved, their medians stay close; hashing only for known ids,
/// or asking storage about unknown ones each time, would break this.
#[tokio::test(flavor = "current_thread")]
async fn unknown_ids_and_wrong_secrets_take_the_same_time() {
    let w = World::new().await;
    let (minted, _) = w.token(&w.owner, TokenScope::Inherit, None).await;
    let wrong_secret = w.engine.format().generate_for(minted.id.clone()).token;
    let unknown = w.engine.format().generate(NOW).token;
    for probe in [&wrong_secret, &unknown] {
        assert_eq!(w.verify(probe).await.err(), Some(Rejection::Invalid));
    }
    let reads = w.reads();

    let mut timings = [Vec::new(), Vec::new()];
    for round in 0..20_000 {
        // Alternate which goes first, so drift hits both alike.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let probe = [&wrong_secret, &unknown][which];
            let started = std::time::Instant::now();
            let answer = w.engine.verify(probe, NOW).await.expect("storage");
            timings[which].push(started.elapsed());
            assert_eq!(answer.err(), Some(Rejection::Invalid));
        }
    }
    assert_eq!(w.reads(), reads, "repeated probes must not reach storage");
    let [wrong_secret, unknown] = timings.map(|mut t| {
        t.sort_unstable();
        t[t.len() / 2].as_secs_f64()
    });
    let ratio = unknown / wrong_secret;
    assert!(
        (0.8..1.25).contains(&ratio),
        "median unknown id {:.0} ns vs wrong secret {:.0} ns",
        unknown * 1e9,
        wrong_secret * 1e9
    );
}

#[tokio::test]
async fn concurrent_misses_load_once() {
    let w = Arc::new(World::new().await);
    let (minted, _) = w.token(&w.owner, TokenScope::Inherit, None).await;
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let w = Arc::clone(&w);
            let token = minted.token.clone();
            tokio::spawn(
                async move { w.engine.verify(&token, NOW).await.expect("storage").is_ok() },
            )
        })
        .collect();
    for t in tasks {
        assert!(t.await.expect("task"));
    }
    assert_eq!(w.engine.stats().token_loads.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn every_change_is_seen_at_once() {
    let w = World::new().await;
    let writer = member(&w.org, "w@acme.test", BuiltinRole::Writer);
    w.engine
        .store()
        .create_member(&writer, &w.event())
        .await
        .expect("member");
    let (minted, token) = w
        .token(
            &writer,
            TokenScope::Role(BuiltinRole::Writer),
            Some(NOW + Duration::days(1)),
        )
        .await;
    assert!(w.may_write(&minted.token).await);

    // Downgrade the owner: the cached token shrinks.
    let store = w.engine.store();
    store
        .update_member_roles(&w.org.id, &writer.id, BuiltinRole::Reader, &[], &w.event())
        .await
        .expect("demote");
    assert!(!w.may_write(&minted.token).await);
    store
        .update_member_roles(&w.org.id, &writer.id, BuiltinRole::Writer, &[], &w.event())
        .await
        .expect("promote");
    assert!(w.may_write(&minted.token).await);

    // Re-scope the token.
    let changes = TokenChanges {
        scope: Some(TokenScope::Role(BuiltinRole::Reader)),
        ..TokenChanges::default()
    };
    store
        .update_token(&token.id, &changes, &w.event())
        .await
        .expect("rescope");
    assert!(!w.may_write(&minted.token).await);

    // A custom role's edit reaches a token scoped to it.
    let role = CustomRole {
        org_id: w.org.id.clone(),
        key: RoleKey::parse("flags").expect("key"),
        name: "flags".into(),
        policy: Policy(vec![tessera_core::Statement::allow(
            &["flag:read"],
            &["proj/*:*"],
        )]),
        created_at: NOW,
        updated_at: NOW,
    };
    store.create_role(&role, &w.event()).await.expect("role");
    let (custom, _) = w
        .token(
            &writer,
            TokenScope::CustomRoles(vec![role.key.clone()]),
            None,
        )
        .await;
    assert!(!w.may_write(&custom.token).await);
    let wider = CustomRole {
        policy: Policy(vec![tessera_core::Statement::allow(
            &["flag:*"],
            &["proj/*:*"],
        )]),
        ..role.clone()
    };
    store
        .update_role(&wider, &w.event())
        .await
        .expect("edit role");
    assert!(w.may_write(&custom.token).await);

    // Rotate: the old string dies at once, the new one works.
    let fresh = w.engine.format().generate_for(token.id.clone());
    let rotation = Rotation {
        secret_hash: fresh.secret_hash,
        snippet: fresh.snippet.clone(),
        expires_at: NOW + Duration::days(2),
        rotated_at: NOW,
        previous_secret: None,
        last_rotation_before: NOW - Duration::HOUR,
    };
    store
        .rotate_token(&token.id, &rotation, &w.event())
        .await
        .expect("rotate");
    assert_eq!(
        w.verify(&minted.token).await.err(),
        Some(Rejection::Invalid)
    );
    assert!(w.verify(&fresh.token).await.is_ok());

    // Expiry needs no change at all: time passes.
    let later = NOW + Duration::days(3);
    assert_eq!(
        w.engine
            .verify(&fresh.token, later)
            .await
            .expect("storage")
            .err(),
        Some(Rejection::Expired)
    );

    // Delete, and removal of the owner.
    store
        .delete_token(&token.id, &w.event())
        .await
        .expect("delete");
    assert_eq!(w.verify(&fresh.token).await.err(), Some(Rejection::Invalid));
    assert!(w.verify(&custom.token).await.is_ok());
    store
        .delete_member(&w.org.id, &writer.id, &w.event())
        .await
        .expect("remove member");
    assert_eq!(
        w.verify(&custom.token).await.err(),
        Some(Rejection::Invalid)
    );
}

/// Verifications race a delete; none that starts after the delete returned
/// may answer "valid".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_win_against_concurrent_verification() {
    let w = Arc::new(World::new().await);
    for _round in 0..20 {
        let (minted, token) = w.token(&w.owner, TokenScope::Inherit, None).await;
        let deleted = Arc::new(AtomicBool::new(false));
        let verifiers: Vec<_> = (0..4)
            .map(|_| {
                let (w, token, deleted) =
                    (Arc::clone(&w), minted.token.clone(), Arc::clone(&deleted));
                tokio::spawn(async move {
                    for _ in 0..200 {
                        let started_after_delete = deleted.load(Ordering::SeqCst);
                        let valid = w.engine.verify(&token, NOW).await.expect("storage").is_ok();
                        assert!(!(started_after_delete && valid), "a deleted token verified");
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        w.engine
            .store()
            .delete_token(&token.id, &w.event())
            .await
            .expect("delete");
        deleted.store(true, Ordering::SeqCst);
        for v in verifiers {
            v.await.expect("no stale answer");
        }
        assert_eq!(
            w.verify(&minted.token).await.err(),
            Some(Rejection::Invalid)
        );
    }
}

/// A change feed's events: changes invalidate, a lost feed stops the cache
/// from answering alone, a resumed one starts it over.
#[tokio::test]
async fn the_change_feed_drives_the_cache() {
    let a = World::new().await;
    // A second engine on the same database: another node, without a feed.
    let b = Engine::new(
        Arc::new(
            SqlStore::connect(&format!(
                "sqlite://{}",
                a._dir.path().join("e.db").display()
            ))
            .await
            .expect("store"),
        ),
        TokenFormat::default(),
    );
    let (minted, token) = a.token(&a.owner, TokenScope::Inherit, None).await;
    assert!(b.verify(&minted.token, NOW).await.expect("storage").is_ok());
    a.engine
        .store()
        .delete_token(&token.id, &a.event())
        .await
        .expect("delete");
    // Without the notification, node B still has it cached...
    assert!(b.verify(&minted.token, NOW).await.expect("storage").is_ok());
    // ...and the notification is what makes it see the delete.
    b.apply(&FeedEvent::Change(Change::Token(token.id.clone())));
    assert_eq!(
        b.verify(&minted.token, NOW).await.expect("storage").err(),
        Some(Rejection::Invalid)
    );

    // A lost feed: every answer comes from storage until it resumes.
    let (live, _) = a.token(&a.owner, TokenScope::Inherit, None).await;
    assert!(b.verify(&live.token, NOW).await.expect("storage").is_ok());
    let before = b.stats().storage_reads();
    assert!(b.verify(&live.token, NOW).await.expect("storage").is_ok());
    assert_eq!(b.stats().storage_reads(), before, "a cache hit");
    b.apply(&FeedEvent::Lost);
    assert!(!b.is_following());
    assert!(b.verify(&live.token, NOW).await.expect("storage").is_ok());
    assert!(
        b.stats().storage_reads() > before,
        "a lost feed must not answer from the cache"
    );
    b.apply(&FeedEvent::Resumed);
    assert!(b.is_following());
    let resumed = b.stats().storage_reads();
    assert!(b.verify(&live.token, NOW).await.expect("storage").is_ok());
    assert!(
        b.stats().storage_reads() > resumed,
        "resuming drops the cache"
    );
    let warm = b.stats().storage_reads();
    assert!(b.verify(&live.token, NOW).await.expect("storage").is_ok());
    assert_eq!(b.stats().storage_reads(), warm);
}

/// Disabling reaches the cache at once, and a disabled token is then
/// refused from memory: one reload after each change, none per request.
#[tokio::test]
async fn a_disabled_token_is_refused_from_memory_until_enabled() {
    let w = World::new().await;
    let (minted, token) = w.token(&w.owner, TokenScope::Inherit, None).await;
    assert!(w.verify(&minted.token).await.is_ok());
    let store = w.engine.store();
    store
        .disable_token(&token.id, NOW, None, &w.event())
        .await
        .expect("disable")
        .expect("it was enabled");
    assert_eq!(
        w.verify(&minted.token).await.err(),
        Some(Rejection::Disabled)
    );
    assert_eq!(Rejection::Disabled.code(), "token_disabled");
    let loaded = w.reads();
    for _ in 0..100 {
        assert_eq!(
            w.verify(&minted.token).await.err(),
            Some(Rejection::Disabled)
        );
    }
    assert_eq!(w.reads(), loaded, "refusals must not read storage");
    store
        .enable_token(&token.id, NOW, &w.event())
        .await
        .expect("enable");
    assert!(w.verify(&minted.token).await.is_ok());
    // A wrong secret for a disabled token is simply invalid: disabling
    // tells nothing to someone without the token.
    store
        .disable_token(&token.id, NOW, None, &w.event())
        .await
        .expect("disable");
    let wrong = w.engine.format().generate_for(token.id.clone());
    assert_eq!(w.verify(&wrong.token).await.err(), Some(Rejection::Invalid));
}
