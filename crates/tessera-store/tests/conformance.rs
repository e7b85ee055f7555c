//! The conformance suite: what every storage backend must do, written once
//! as `async fn case(store: &dyn Store)` and run against each backend.
//!
//! Each case gets a fresh, empty database. To run the suite on another
//! backend, write an `open_*` function that returns a [`Backend`] on a
//! fresh database and add one line: `conformance_tests!(postgres,
//! crate::open_postgres);`. A case written but not listed in the macro is
//! dead code, which clippy (`-D warnings`) refuses.
//!
//! PostgreSQL cases run on the server `TESSERA_TEST_POSTGRES_URL` names
//! (default `postgres://postgres@127.0.0.1:5432/test`), each in a schema of
//! its own that is dropped afterwards. If the server cannot be reached they
//! fail, saying so: they never skip.
// Test code: a failed unwrap is a failed test, and helpers outside
// `#[test]` functions are not covered by clippy.toml's allow-*-in-tests.
// Fixtures are made relative to the real time, read directly here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

#[path = "conformance/audit.rs"]
mod audit;
#[path = "conformance/cancellation.rs"]
mod cancellation;
#[path = "conformance/changes.rs"]
mod changes;
#[path = "conformance/external_ids.rs"]
mod external_ids;
#[path = "conformance/fixtures.rs"]
mod fixtures;
#[path = "conformance/notices.rs"]
mod notices;
#[path = "conformance/orgs.rs"]
mod orgs;
#[path = "conformance/postgres.rs"]
mod pg;
#[path = "conformance/roles.rs"]
mod roles;
#[path = "conformance/service_accounts.rs"]
mod service_accounts;
#[path = "conformance/sessions.rs"]
mod sessions;
#[path = "conformance/sso.rs"]
mod sso;
#[path = "conformance/token_controls.rs"]
mod token_controls;
#[path = "conformance/token_limits.rs"]
mod token_limits;
#[path = "conformance/tokens.rs"]
mod tokens;
#[path = "conformance/webhooks.rs"]
mod webhooks;

use std::any::Any;
use std::sync::Arc;

use tessera_store::Store;

/// A store on a fresh database, and whatever keeps that database alive
/// (a temporary directory, a throw-away schema).
pub struct Backend {
    store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send + Sync>,
}

impl Backend {
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }
}

/// SQLite on a new file in a new temporary directory, opened through the
/// same URL form an operator uses.
pub async fn open_sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let store = tessera_store::SqlStore::connect(&url)
        .await
        .expect("open SQLite");
    // As a server with `smtp_url` set: notices also write emails.
    store.enable_email();
    Backend {
        store: Arc::new(store),
        _guard: Box::new(dir),
    }
}

/// PostgreSQL in a new schema, opened through the same URL form an operator
/// uses (the schema is chosen with `options=-c search_path=...`).
pub async fn open_postgres() -> Backend {
    let schema = pg::Schema::create().await;
    let store = tessera_store::SqlStore::connect(&schema.url())
        .await
        .unwrap_or_else(|e| panic!("opening PostgreSQL in schema {}: {e}", schema.name()));
    store.enable_email();
    Backend {
        store: Arc::new(store),
        _guard: Box::new(schema),
    }
}

/// One `#[tokio::test]` per case, in a module named after the backend.
macro_rules! conformance_tests {
    ($backend:ident, $open:path) => {
        mod $backend {
            conformance_tests!(@cases $open;
                orgs::org_is_created_with_its_owner,
                orgs::duplicate_org_key_conflicts,
                orgs::update_org_saves_name_and_policy,
                orgs::member_email_is_unique_per_org,
                orgs::members_are_listed_by_email,
                orgs::member_roles_are_replaced_with_custom_roles,
                orgs::the_last_owner_stays,
                orgs::set_password_saves_the_hash,
                orgs::deleting_a_member_removes_its_tokens_and_sessions,
                external_ids::members_are_found_by_external_id,
                external_ids::an_external_id_names_one_member_of_an_org,
                sso::org_sso_settings_round_trip_and_find_orgs_by_domain,
                sso::members_are_found_by_external_id_in_every_org,
                sso::sign_in_steps_are_taken_once_before_they_expire,
                roles::roles_are_created_read_updated_and_deleted,
                roles::a_held_role_cannot_be_deleted,
                roles::projects_are_created_listed_and_deleted,
                tokens::tokens_round_trip_every_scope_kind,
                tokens::create_token_reports_conflicts_and_unknown_references,
                tokens::a_members_token_names_are_distinct,
                tokens::tokens_are_listed_newest_first,
                tokens::update_token_changes_only_what_is_given,
                tokens::deleted_tokens_are_gone,
                tokens::rotation_is_a_compare_and_set,
                tokens::of_two_concurrent_rotations_one_wins,
                tokens::last_used_only_moves_forward,
                token_controls::disable_and_enable_change_once_and_audit_once,
                token_controls::conditional_changes_recheck_the_last_use,
                token_controls::inactive_tokens_follow_each_orgs_rule,
                token_controls::the_inventory_filters_and_pages,
                token_limits::quota_reservations_never_overspend_and_refill_once,
                token_limits::rate_reservations_share_a_windows_budget,
                token_limits::usage_is_added_and_five_addresses_kept,
                service_accounts::service_accounts_round_trip,
                service_accounts::account_tokens_outlive_their_maker_and_die_with_the_account,
                service_accounts::a_role_held_by_an_account_stays_and_changes_are_announced,
                service_accounts::the_inventory_filters_by_service_account,
                sessions::sessions_are_created_read_and_deleted,
                sessions::a_server_key_is_made_once_and_shared,
                sessions::member_sessions_end_together_except_one,
                sessions::expired_sessions_are_purged,
                audit::audit_events_round_trip,
                audit::a_failed_audit_write_undoes_the_change,
                audit::list_audit_filters,
                audit::list_audit_pages_with_a_cursor,
                audit::list_audit_returns_at_most_1000,
                audit::ping_answers,
                changes::each_committed_change_is_announced_to_this_node,
                webhooks::changes_write_deliveries_for_subscribed_endpoints,
                webhooks::concurrent_claims_take_each_delivery_once,
                notices::expiry_notices_are_recorded_once_and_emails_claimed_once,
                cancellation::writes_cancelled_midway_leave_no_transaction_open,
            );
        }
    };
    (@cases $open:path; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = $open().await;
                crate::$module::$case(backend.store()).await;
            }
        )*
    };
}

conformance_tests!(sqlite, crate::open_sqlite);
conformance_tests!(postgres, crate::open_postgres);

/// What only the SQLite backend has: its URL forms and its file.
mod sqlite_only {
    use tessera_store::{MemberStore, OrgStore, SqlStore, StoreError};

    use crate::fixtures::{token_record, Fx, T0};

    #[tokio::test]
    async fn an_in_memory_database_keeps_its_data_between_calls() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let fx = Fx::new(&store);
        let (org, owner) = fx.org("acme").await;
        for _ in 0..3 {
            assert!(store
                .get_member(&org.id, &owner.id)
                .await
                .unwrap()
                .is_some());
        }
        assert_eq!(store.count_orgs().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn reopening_a_file_keeps_its_data_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        let (org, owner) = Fx::new(&store).org("acme").await;
        store.pool().close().await;

        let store = tessera_store::connect(&url).await.unwrap();
        assert_eq!(store.get_org(&org.id).await.unwrap(), Some(org.clone()));
        assert_eq!(
            store.get_member(&org.id, &owner.id).await.unwrap(),
            Some(owner.clone())
        );
        let mut event = Fx::new(&*store).event(&org.id, "token:create", "t");
        event.id = "evt-after-reopen".into();
        let token = token_record(&owner, "t", T0);
        store.create_token(&token, &event).await.unwrap();
        assert_eq!(
            store.list_tokens(&org.id, &owner.id).await.unwrap(),
            vec![token]
        );
    }

    /// A SQLite file migrated up to, not including, migration `version`:
    /// its directory (kept while the test runs), its URL and a pool on it.
    async fn database_before(version: i64) -> (tempfile::TempDir, String, sqlx::SqlitePool) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        let file = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("old.db"))
            .create_if_missing(true);
        let old = sqlx::SqlitePool::connect_with(file).await.unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < version)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&old).await.unwrap();
        (dir, url, old)
    }

    /// Migration 0005 rebuilds `tokens` on SQLite: every row, its custom
    /// roles and its owner's cascade survive it.
    #[tokio::test]
    async fn the_service_account_migration_keeps_every_token_and_its_roles() {
        use tessera_core::model::TokenOwner;
        use tessera_core::{MemberId, OrgId, RoleKey, TokenId, TokenScope};
        use tessera_store::TokenStore;

        let (_dir, url, old) = database_before(5).await;
        let (org, member, token) = (
            OrgId::generate(T0),
            MemberId::generate(T0),
            TokenId::generate(T0),
        );
        for statement in [
            format!(
                "INSERT INTO orgs (id, key, name, require_expiration, max_lifetime_days, \
                 created_at) VALUES ('{org}', 'acme', 'Acme', 0, NULL, 0)"
            ),
            format!("INSERT INTO members VALUES ('{member}', '{org}', 'a@b.c', 'A', 'owner', NULL, 0)"),
            format!("INSERT INTO custom_roles VALUES ('{org}', 'ops', 'Ops', '[]', 0, 0)"),
            format!(
                "INSERT INTO tokens (id, org_id, member_id, name, snippet, secret_hash, scope_kind, \
                 projects, created_at, disabled_at) VALUES ('{token}', '{org}', '{member}', 'ci', \
                 'tsr_...x', zeroblob(32), 'custom_roles', '[]', 0, 7)"
            ),
            format!("INSERT INTO token_custom_roles VALUES ('{org}', '{token}', 'ops', 0)"),
        ] {
            sqlx::query(&statement).execute(&old).await.unwrap();
        }
        old.close().await;

        let store = SqlStore::connect(&url).await.unwrap();
        let kept = store.get_token(&token).await.unwrap().unwrap();
        assert_eq!(kept.owner, TokenOwner::Member(member.clone()));
        // 0004's column survives the rebuild.
        assert_eq!(kept.disabled_at.map(|t| t.unix_timestamp()), Some(7));
        assert_eq!(
            kept.scope,
            TokenScope::CustomRoles(vec![RoleKey::parse("ops").unwrap()])
        );
        let fx = Fx::new(&store);
        let event = fx.event(&org, "member:delete", "m");
        // The last owner stays, so add one before removing this one.
        let other = crate::fixtures::member_record(&org, "o@b.c", tessera_core::BuiltinRole::Owner);
        store
            .create_member(&other, &fx.event(&org, "member:create", "m"))
            .await
            .unwrap();
        store.delete_member(&org, &member, &event).await.unwrap();
        assert_eq!(
            store.get_token(&token).await.unwrap(),
            None,
            "the cascade holds"
        );
    }

    /// Migrations 0011 and 0012 rebuild the webhook outbox on SQLite (the
    /// second folds each event into its deliveries): a pending delivery
    /// and a finished one survive both, with their events' type and data;
    /// the purge takes the finished one, and the pending one is still
    /// claimed, with its event.
    #[tokio::test]
    async fn the_outbox_migrations_keep_every_event_and_delivery() {
        use tessera_core::{OrgId, WebhookId};
        use tessera_store::WebhookStore;

        let (_dir, url, old) = database_before(11).await;
        let (org, hook) = (OrgId::generate(T0), WebhookId::generate(T0));
        for statement in [
            format!(
                "INSERT INTO orgs (id, key, name, require_expiration, max_lifetime_days, \
                 created_at) VALUES ('{org}', 'acme', 'Acme', 0, NULL, 0)"
            ),
            format!(
                "INSERT INTO webhooks VALUES ('{hook}', '{org}', 'https://h.example/x', \
                 '[\"*\"]', NULL, zeroblob(32), 0)"
            ),
            format!("INSERT INTO webhook_events VALUES ('evt_1', '{org}', 'token.created', 10, '{{\"n\":1}}')"),
            format!("INSERT INTO webhook_events VALUES ('evt_2', '{org}', 'token.revoked', 20, '{{\"n\":2}}')"),
            format!(
                "INSERT INTO webhook_deliveries VALUES ('msg_1', '{org}', '{hook}', 'evt_1', \
                 'succeeded', 1, NULL, NULL, 200, NULL, 10)"
            ),
            format!(
                "INSERT INTO webhook_deliveries VALUES ('msg_2', '{org}', '{hook}', 'evt_2', \
                 'pending', 2, 30, NULL, 500, 'answered 500', 20)"
            ),
        ] {
            sqlx::query(&statement).execute(&old).await.unwrap();
        }
        old.close().await;

        let store = SqlStore::connect(&url).await.unwrap();
        let listed = store.list_deliveries(&org, &hook, 10).await.unwrap();
        let mut ids: Vec<(&str, &str, &str)> = listed
            .iter()
            .map(|d| (d.id.as_str(), d.event_id.as_str(), d.event_type.as_str()))
            .collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            [
                ("msg_1", "evt_1", "token.created"),
                ("msg_2", "evt_2", "token.revoked")
            ]
        );
        let at = |s| time::OffsetDateTime::from_unix_timestamp(s).unwrap();
        // Everything before 1,000 s is old: the finished delivery goes,
        // the pending one stays.
        assert_eq!(store.purge_deliveries(at(1000)).await.unwrap(), 1);
        let claimed = store
            .claim_deliveries(at(1000), at(2000), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (
                claimed[0].id.as_str(),
                claimed[0].attempts,
                claimed[0].data.as_str()
            ),
            ("msg_2", 2, "{\"n\":2}")
        );
    }

    /// Another process (a `tessera` command on the same file) holding the
    /// write lock beyond the busy timeout: the write fails as
    /// `Unavailable` (the server answers 503, try again), not as an
    /// internal error.
    #[tokio::test]
    async fn a_write_lock_held_too_long_is_unavailable() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        let fx = Fx::new(&store);
        fx.org("acme").await;
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap();
        let (org, owner) = Fx::org_record("globex");
        match store
            .create_org(&org, &owner, &fx.event(&org.id, "org:create", "org"))
            .await
        {
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("{other:?}"),
        }
        sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    }

    #[tokio::test]
    async fn other_schemes_are_refused_without_echoing_the_url() {
        for url in ["mysql://tessera:hunter2@db/tessera", "tessera.db"] {
            match tessera_store::connect(url).await {
                Err(StoreError::Database(why)) => assert!(!why.contains("hunter2"), "{why}"),
                Err(other) => panic!("{other:?}"),
                Ok(_) => panic!("{url} opened"),
            }
        }
    }

    /// The pages in the write-ahead log, without copying any of them.
    fn log_pages(path: &std::path::Path) -> u64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        // The log's 32-byte header, then 24 bytes and a 4 KiB page a frame.
        std::fs::metadata(wal).map_or(0, |m| m.len().saturating_sub(32) / (24 + 4096))
    }

    /// How many tokens the database file `db` holds by itself (copied to
    /// `scratch` without its log, and read there).
    async fn tokens_in_file(db: &std::path::Path, scratch: &std::path::Path) -> i64 {
        std::fs::copy(db, scratch).unwrap();
        let file = sqlx::sqlite::SqliteConnectOptions::new().filename(scratch);
        let pool = sqlx::SqlitePool::connect_with(file).await.unwrap();
        // Until the first checkpoint, not even the schema is in the file.
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&pool)
            .await
            .unwrap_or(0);
        pool.close().await;
        std::fs::remove_file(scratch).unwrap();
        n
    }

    /// The connections leave the write-ahead log alone; `checkpoint` copies
    /// it into the database file, so that the file alone holds every
    /// commit, and the next commit starts the log over rather than making
    /// it longer.
    #[tokio::test]
    async fn a_checkpoint_puts_every_commit_in_the_database_file() {
        use tessera_store::{NodeStore, TokenStore};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let fx = Fx::new(&store);
        let (org, owner) = fx.org("acme").await;
        // Past SQLite's own threshold (1,000 pages), which would have
        // checkpointed by itself.
        for n in 0..100 {
            let name = format!("t{n}");
            let event = fx.event(&org.id, "token:create", &name);
            store
                .create_token(&token_record(&owner, &name, T0), &event)
                .await
                .unwrap();
        }
        let in_log = log_pages(&path);
        assert!(in_log > 1000, "the commits are in the log: {in_log} pages");
        let scratch = dir.path().join("copy.db");
        assert_eq!(
            tokens_in_file(&path, &scratch).await,
            0,
            "not in the file yet"
        );

        store.checkpoint().await.unwrap();
        assert_eq!(tokens_in_file(&path, &scratch).await, 100);
        let event = fx.event(&org.id, "token:create", "after");
        store
            .create_token(&token_record(&owner, "after", T0), &event)
            .await
            .unwrap();
        let (_, log, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(log < 100, "the log started over: {log} pages in it");
    }

    /// An in-memory database has no log: a checkpoint is nothing to do.
    #[tokio::test]
    async fn a_checkpoint_in_memory_does_nothing() {
        use tessera_store::NodeStore;

        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        Fx::new(&store).org("acme").await;
        store.checkpoint().await.unwrap();
        assert_eq!(store.count_orgs().await.unwrap(), 1);
    }
}
