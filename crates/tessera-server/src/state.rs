//! The one state struct every handler shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tessera_core::model::{Actor, AuditEvent};
use tessera_core::{OrgId, TokenFormat};
use tessera_engine::{Engine, EngineConfig};
use tessera_store::Store;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::throttle::{LoginThrottle, RateLimit};

/// The name under which the store keeps the login form's signing key
/// (see `web::login_csrf`).
pub const LOGIN_CSRF_KEY_NAME: &str = "login-csrf";

/// Cloned for every request (axum hands each handler its own copy), so it
/// is one `Arc`: a clone is one atomic increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every handler shares, reached through [`AppState`].
pub struct Shared {
    /// Verification, its cache, and last-used tracking.
    pub engine: Engine,
    /// The engine's write-through store: changes made here invalidate the
    /// verification cache.
    pub store: Arc<dyn Store>,
    pub format: Arc<TokenFormat>,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub metrics: Metrics,
    /// Failed-login counts, shared by every login path.
    pub login_throttle: Arc<LoginThrottle>,
    /// Leak reports per client IP (`POST /leaks`).
    pub leak_reports: Arc<RateLimit>,
    /// The web page's value-minting forms already sent (acted on once).
    pub sent_forms: crate::sent_forms::SentForms,
    audit_ids: Arc<AuditIds>,
    /// The bound on one webhook delivery attempt, in milliseconds (15 s;
    /// tests shorten it).
    pub webhook_timeout_ms: AtomicU64,
    /// Connections to webhook receivers kept alive between deliveries.
    pub webhook_connections: crate::webhook_connections::Connections,
    /// The deployment's OpenID provider; `None` when single sign-on is off.
    pub sso: Option<Arc<crate::sso::Provider>>,
    /// The login form's signing key, read from (or first made in) the
    /// store when a login form is first served.
    login_csrf_key: tokio::sync::OnceCell<Vec<u8>>,
}

impl AppState {
    /// Builds the state over a raw store; all access goes through the
    /// engine's invalidating wrapper.
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        let format = config.token_format();
        let login_limits = config.login_limits();
        let leak_reports = config.leak_report_limit();
        let engine_config = EngineConfig {
            outage_grace: time::Duration::seconds(
                i64::try_from(config.database.outage_grace_seconds).unwrap_or(i64::MAX),
            ),
            // Verification routes run without the per-request timeout; a
            // cache miss's storage read is bounded here instead.
            load_timeout: std::time::Duration::from_secs(config.http.request_timeout_seconds),
            ..EngineConfig::default()
        };
        let engine = Engine::with_config(store, format.clone(), engine_config);
        let sso = crate::sso::Provider::from_config(&config).map(Arc::new);
        Self(Arc::new(Shared {
            store: Arc::clone(engine.store()),
            engine,
            format: Arc::new(format),
            config: Arc::new(config),
            clock: Clock::default(),
            metrics: Metrics::default(),
            login_throttle: Arc::new(LoginThrottle::new(login_limits)),
            leak_reports: Arc::new(leak_reports),
            sent_forms: crate::sent_forms::SentForms::default(),
            audit_ids: Arc::new(AuditIds::default()),
            webhook_timeout_ms: AtomicU64::new(
                u64::try_from(crate::webhook_sender::TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            ),
            webhook_connections: crate::webhook_connections::Connections::default(),
            login_csrf_key: tokio::sync::OnceCell::new(),
            sso,
        }))
    }
}

impl Shared {
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The key that signs login forms' CSRF values, the same on every node.
    pub async fn login_csrf_key(&self) -> Result<&[u8], tessera_store::StoreError> {
        self.login_csrf_key
            .get_or_try_init(|| async {
                let mut candidate = [0u8; 32];
                crate::secrets::fill_random(&mut candidate);
                self.store.server_key(LOGIN_CSRF_KEY_NAME, &candidate).await
            })
            .await
            .map(Vec::as_slice)
    }

    /// A fresh audit event id (see [`AuditIds`]).
    pub fn next_audit_id(&self) -> String {
        self.audit_ids.next()
    }

    /// A new audit event at the current time.
    pub fn audit(
        &self,
        org: &OrgId,
        actor: Actor,
        ip: Option<String>,
        action: &str,
        target: String,
        details: Value,
    ) -> AuditEvent {
        AuditEvent {
            id: self.next_audit_id(),
            org_id: org.clone(),
            at: self.now(),
            actor,
            action: action.to_owned(),
            target,
            ip,
            details,
        }
    }
}

/// Audit ids sort by time: 16 hex digits of microseconds since the epoch,
/// strictly increasing within a process, then 8 random hex digits so that
/// nodes sharing a database never collide.
#[derive(Debug, Default)]
pub struct AuditIds {
    last_micros: AtomicU64,
}

impl AuditIds {
    pub fn next(&self) -> String {
        // Real time, not the test-shiftable `Clock`: ids must keep increasing.
        let now =
            u64::try_from(crate::clock::wall_clock().unix_timestamp_nanos() / 1000).unwrap_or(0);
        let mut previous = self.last_micros.load(Ordering::Relaxed);
        let micros = loop {
            let candidate = now.max(previous + 1);
            match self.last_micros.compare_exchange_weak(
                previous,
                candidate,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break candidate,
                Err(actual) => previous = actual,
            }
        };
        let mut random = [0u8; 4];
        crate::secrets::fill_random(&mut random);
        format!("{micros:016x}{:08x}", u32::from_be_bytes(random))
    }

    /// Is `s` shaped like an id this generator makes?
    pub fn is_valid(s: &str) -> bool {
        s.len() == 24
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }
}
