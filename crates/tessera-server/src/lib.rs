//! Tessera's HTTP server: the REST API, authentication, the verification
//! engine, last-used tracking, metrics and the OpenAPI document.
//!
//! [`start`] runs the service on a listener and returns a handle; the
//! `tessera` binary and the integration tests both use it, so tests drive
//! the real server over real HTTP.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod email;
pub mod error;
pub mod extract;
pub mod github_scanning;
pub mod head_guard;
pub mod headers;
pub mod http;
pub mod metrics;
#[cfg(test)]
mod module_graph;
pub mod openapi;
pub mod peer;
pub mod platform;
pub mod recovery;
pub mod redact;
pub mod requests;
pub mod secrets;
pub mod sent_forms;
pub mod service;
pub mod setup;
pub mod sso;
pub mod state;
pub mod throttle;
pub mod verify;
pub mod web;
pub mod webhook_connections;
pub mod webhook_sender;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tessera_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use clock::Clock;
pub use config::Config;
pub use error::ApiError;
use service::ServiceError;
pub use state::AppState;
/// Where `EmbeddedVerifier` has always been found.
pub use verify::embedded;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the database: {0}")]
    Database(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("{0}")]
    Setup(String),
}

/// Opens the configured store (running migrations) and builds the state.
pub async fn open(config: Config) -> Result<AppState, ServerError> {
    let store = connect_store(&config)
        .await
        .map_err(|e| ServerError::Database(e.to_string()))?;
    let state = AppState::new(store, config);
    // Shared databases tell every node about every change; follow them so
    // this node's cache never answers for a token revoked elsewhere.
    state
        .engine
        .follow_changes()
        .await
        .map_err(|e| ServerError::Database(e.to_string()))?;
    Ok(state)
}

/// Opens the database the URL names, with the pool settings for a shared
/// PostgreSQL.
async fn connect_store(config: &Config) -> Result<Arc<dyn Store>, tessera_store::StoreError> {
    let pg = tessera_store::PgOptions {
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_seconds),
        ..tessera_store::PgOptions::default()
    };
    let store = tessera_store::SqlStore::connect_with(config.database.url.as_str(), &pg).await?;
    if config.email.smtp_url.is_some() {
        store.enable_email();
    }
    Ok(Arc::new(store))
}

/// The whole application: API, web page, health, metrics, and the error
/// handling that turns every failure into a JSON error. As served,
/// [`headers::secured`] wraps it (see [`start`]).
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.http.request_timeout_seconds);
    let body_limit = DefaultBodyLimit::max(state.config.http.max_body_bytes);
    // Everything but verification: under `/api/v1`, each request bounded
    // by the request timeout.
    let api = api::router()
        .merge(verify::routes::router())
        .merge(verify::forward_auth::envoy_router())
        .route("/openapi.json", get(openapi::serve))
        .nest("/platform", platform::router())
        .layer(middleware::from_fn(auth::rate_limit_headers));
    let rest = Router::new()
        .nest("/api/v1", api)
        .merge(web::router())
        .merge(platform::web_router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(timeout, request_timeout));
    // Verification is the hot path. As served, `hot` answers it before
    // this router is reached; these routes serve it while request tracing
    // is on (so that it is traced) and answer other methods with 405.
    // Here too it is routed by its full path (no nested router rewriting
    // the URI) and without the per-request timer:
    // a cache hit never waits and a miss's storage read is bounded by the
    // engine's load timeout (the same number of seconds). `/verify` keeps
    // the timeout for its body (see `hot_router`).
    let app = Router::new()
        .merge(verify::routes::hot_router(timeout))
        .merge(rest)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(body_limit);
    // Without a brand or framing origins the pages wear the default look,
    // which needs no middleware: a deployment pays for it only when set.
    let look = web::brand::Look::new(&state.config);
    let app = if look.is_default() {
        app
    } else {
        app.layer(middleware::from_fn_with_state(
            Arc::new(look),
            web::brand::dress,
        ))
    };
    let app = app.layer(middleware::from_fn_with_state(
        state.clone(),
        requests::record,
    ));
    // A span per request costs even when filtered out, so the layer is
    // there only when something would log it (request traces are `debug`).
    let app = if tracing::enabled!(target: "tower_http::trace", tracing::Level::DEBUG) {
        app.layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(http::request_span))
    } else {
        app
    };
    app.with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(serde_json::json!({
            "status": "ready",
            // False while a shared database's change feed is reconnecting:
            // verification then reads storage instead of the cache.
            "cache_following_changes": state.engine.is_following(),
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::unavailable().into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let pending = i64::try_from(state.engine.activity().pending_count()).unwrap_or(i64::MAX);
    state.metrics.last_used_pending.set(pending);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// An unknown address: a page for a browser, the API's JSON error for
/// everything else (see [`web::wants_page`]).
async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    if web::wants_page(uri.path(), &headers) {
        return web::not_found_page();
    }
    ApiError::from(ServiceError::not_found(
        "endpoint (the API is described at /api/v1/openapi.json)",
    ))
    .into_response()
}

async fn method_not_allowed() -> Response {
    let mut response =
        ApiError::bad_request("method not allowed for this endpoint").into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

pub(crate) async fn request_timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::unavailable().into_response(),
    }
}

/// A running server.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    flusher: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, flushes last-used.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        let _ = self.flusher.await;
    }

    /// Waits until the server stops on its own (after `stop_signal` fires).
    pub async fn wait(self) {
        let _ = self.task.await;
        let _ = self.flusher.await;
    }
}

/// Serves `state` on `listener` until `stop_signal` completes (or
/// [`RunningServer::shutdown`] is called).
pub fn start(
    state: AppState,
    listener: TcpListener,
    stop_signal: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningServer, ServerError> {
    let addr = listener.local_addr().map_err(|e| ServerError::Listen {
        addr: "listener".into(),
        reason: e.to_string(),
    })?;
    let mailer = email::Mailer::from_config(&state.config).map_err(ServerError::Setup)?;
    let (shutdown, mut stopped) = watch::channel(false);
    let app = router(state.clone());
    let app_state = state.clone();
    // Per connection: the hot endpoints in front of the router (see
    // `hot`, which also adds the security headers to its own answers).
    let service_for = move |peer| verify::hot::Hot::new(app.clone(), app_state.clone(), peer);
    let limits = http::ConnLimits {
        header_timeout: Duration::from_secs(state.config.http.header_timeout_seconds),
        max_header_bytes: state.config.http.max_header_bytes,
        drain_timeout: Duration::from_secs(state.config.http.request_timeout_seconds),
        max_connections: state.config.http.max_connections,
    };
    let mut stopped_for_serve = stopped.clone();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = stop_signal => { let _ = trigger.send(true); }
            _ = stopped_for_serve.wait_for(|s| *s) => {}
        }
    });
    let mut serve_stop = shutdown.subscribe();
    let open_connections = state.metrics.open_connections.clone();
    let task = tokio::spawn(http::serve(
        listener,
        service_for,
        limits,
        open_connections,
        async move {
            let _ = serve_stop.wait_for(|s| *s).await;
        },
    ));
    let flush_state = state.clone();
    let flusher = tokio::spawn(async move {
        let every = Duration::from_secs(flush_state.config.tokens.last_used_flush_seconds);
        let mut ticker = tokio::time::interval(every);
        let mut purge = tokio::time::interval(SESSION_PURGE_INTERVAL);
        // Expiry is checked as the node starts (a restart catches up at
        // once); the inactivity rule a minute after, so the rule never acts
        // on a node still starting (and tests that move the server's clock
        // apply it themselves, without a sweep of the start racing them).
        let mut expiry = tokio::time::interval(INACTIVITY_SWEEP_INTERVAL);
        let mut inactivity = tokio::time::interval_at(
            tokio::time::Instant::now() + INACTIVITY_SWEEP_INTERVAL,
            INACTIVITY_SWEEP_INTERVAL,
        );
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => flush_last_used(&flush_state).await,
                _ = purge.tick() => purge_expired(&flush_state).await,
                _ = expiry.tick() => scan_expiry(&flush_state).await,
                _ = inactivity.tick() => sweep_inactive(&flush_state).await,
                // Only `true` is ever sent, so any change means stop.
                _ = stopped.changed() => break,
            }
        }
        flush_last_used(&flush_state).await;
    });
    repeat(
        WEBHOOK_PASS_INTERVAL,
        shutdown.subscribe(),
        &state,
        |state| async move { deliver_webhooks(&state).await },
    );
    repeat(
        CHECKPOINT_INTERVAL,
        shutdown.subscribe(),
        &state,
        |state| async move { checkpoint(&state).await },
    );
    if let Some(mailer) = mailer {
        // One mailer (and its SMTP connections) for every pass.
        let mailer = Arc::new(mailer);
        repeat(
            EMAIL_PASS_INTERVAL,
            shutdown.subscribe(),
            &state,
            move |state| {
                let mailer = mailer.clone();
                async move { send_emails(&state, &mailer).await }
            },
        );
    }
    Ok(RunningServer {
        addr,
        state,
        shutdown,
        task,
        flusher,
    })
}

/// Runs `pass` on the node's state every `interval` in a task of its own
/// until the server stops. A pass that overruns delays the next one rather
/// than bringing on a burst of them.
fn repeat<F, Pass>(interval: Duration, mut stop: watch::Receiver<bool>, state: &AppState, pass: F)
where
    F: Fn(AppState) -> Pass + Send + 'static,
    Pass: Future<Output = ()> + Send,
{
    let state = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => pass(state.clone()).await,
                // Only `true` is ever sent, so any change means stop.
                _ = stop.changed() => break,
            }
        }
    });
}

/// How often expired login sessions (refused as soon as they expire; this
/// only reclaims their rows) and old webhook deliveries are deleted.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// How often the orgs' inactivity rules are applied (see
/// [`service::inactivity`]).
const INACTIVITY_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

async fn sweep_inactive(state: &AppState) {
    match service::inactivity::sweep(state).await {
        Ok(swept) if swept == service::inactivity::Swept::default() => {}
        Ok(swept) => tracing::info!(
            disabled = swept.disabled,
            revoked = swept.revoked,
            "applied the inactivity rule"
        ),
        Err(e) => tracing::warn!(error = %e, "could not apply the inactivity rule; will retry"),
    }
}

/// Expiry notices are checked with the inactivity rule, once a minute (see
/// [`service::expiry`]).
async fn scan_expiry(state: &AppState) {
    match service::expiry::scan(state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(notices = n, "recorded token expiry notices"),
        Err(e) => tracing::warn!(error = %e, "could not check token expiry; will retry"),
    }
}

/// How often a node with `smtp_url` looks for notice emails to send (see
/// [`email`]).
const EMAIL_PASS_INTERVAL: Duration = Duration::from_secs(1);

async fn send_emails(state: &AppState, mailer: &email::Mailer) {
    if let Err(e) = email::send_due(state, mailer).await {
        tracing::warn!(error = %e, "could not send notice emails; will retry");
    }
}

/// How often a node copies SQLite's write-ahead log back into the database
/// file (see [`tessera_store::NodeStore::checkpoint`]).
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

async fn checkpoint(state: &AppState) {
    if let Err(e) = state.store.checkpoint().await {
        tracing::warn!(error = %e, "could not checkpoint the database's log; will retry");
    }
}

/// How often each node looks for webhook deliveries that are due (see
/// [`service::webhooks`]).
const WEBHOOK_PASS_INTERVAL: Duration = Duration::from_secs(1);

async fn deliver_webhooks(state: &AppState) {
    if let Err(e) = service::webhooks::deliver_due(state).await {
        tracing::warn!(error = %e, "could not deliver webhooks; will retry");
    }
}

/// How long finished webhook deliveries (and their events) are kept, for
/// `GET /webhooks/{id}/deliveries`.
const WEBHOOK_HISTORY: time::Duration = time::Duration::days(30);

/// Reclaims expired sessions' rows and old webhook deliveries.
async fn purge_expired(state: &AppState) {
    match state
        .store
        .purge_deliveries(state.now() - WEBHOOK_HISTORY)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::debug!(deliveries = n, "purged old webhook deliveries"),
        Err(e) => tracing::warn!(error = %e, "could not purge old webhook deliveries"),
    }
    match state
        .store
        .purge_emails(state.now() - WEBHOOK_HISTORY)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::debug!(emails = n, "purged old notice emails"),
        Err(e) => tracing::warn!(error = %e, "could not purge old notice emails"),
    }
    match state.store.purge_expired_sessions(state.now()).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(sessions = n, "purged expired sessions"),
        Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
    }
}

async fn flush_last_used(state: &AppState) {
    match state.engine.activity().flush(state.store.as_ref()).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(tokens = n, "flushed last-used times and usage"),
        Err(e) => {
            tracing::warn!(error = %e, "could not flush last-used times and usage; will retry")
        }
    }
    // Unspent quota slices go back with the same flush.
    let idle_before = state.now().unix_timestamp()
        - 2 * i64::try_from(state.config.tokens.last_used_flush_seconds).unwrap_or(60);
    if let Err(e) = state
        .engine
        .limiter()
        .flush(state.store.as_ref(), idle_before)
        .await
    {
        tracing::warn!(error = %e, "could not give back unspent quota; will retry");
    }
}
