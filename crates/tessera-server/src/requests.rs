//! Every HTTP request, counted and timed by route template
//! (`tessera_http_requests_total`, `tessera_http_request_duration_seconds`)
//! and, while `[log] requests` is on, logged at `info`: method, route
//! template, status and duration. Never the path's values, a query, a
//! header, a token or a cookie: the template (`/api/v1/tokens/{id}`) says
//! which endpoint without saying which token.
//!
//! Health probes and `/metrics` scrapes are counted but not logged. The
//! router's requests are recorded by [`record`], a middleware; the
//! verification endpoints answered in front of it (`crate::verify::hot`)
//! call [`hot`] with counters looked up once. Those two come at the rate of
//! the product's own traffic, so they are logged only when
//! `[log] verify_requests` is on too.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::{method_label, HotRoute};
use crate::state::AppState;

/// Counts, times and (maybe) logs the request the router answers.
pub async fn record(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let status = response.status().as_u16();
    let took = started.elapsed();
    state
        .metrics
        .request(route, method, status, took.as_secs_f64());
    if state.config.log.requests && !is_probe(route) {
        log(method, route, status, took);
    }
    response
}

/// What load balancers and monitoring poll every few seconds: counted in
/// `/metrics`, never logged (a line each would bury everything else).
fn is_probe(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics")
}

/// Counts, times and (maybe) logs a request a hot endpoint answered.
pub fn hot(state: &AppState, route: HotRoute, status: u16, started: Instant) {
    let took = started.elapsed();
    state.metrics.hot_request(route, status, took.as_secs_f64());
    if state.config.log.verify_requests && state.config.log.requests {
        log(route.method(), route.route(), status, took);
    }
}

fn log(method: &str, route: &str, status: u16, took: Duration) {
    let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    tracing::info!(target: "tessera::request", method, route, status, micros, "request");
}
