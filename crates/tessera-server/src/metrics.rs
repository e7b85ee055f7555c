//! Prometheus metrics at `/metrics`: requests by route template, method
//! and status with their latency (`crate::requests` records them), failed
//! logins, verification counts by outcome with a latency histogram, and
//! gauges of pending last-used writes and open client connections. Labels
//! carry route templates and outcomes, never ids or tokens.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The codes of `tessera_verify_denials_total`.
pub const DENIAL_CODES: [&str; 3] = ["ip_not_allowed", "rate_limited", "quota_exhausted"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `valid`, `malformed_token`, `invalid_token`, `token_expired`,
    /// `token_disabled`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's template (`/api/v1/tokens/{id}`), or `unmatched`.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// The endpoints answered in front of the router (`crate::verify::hot`),
/// whose counters are looked up once.
#[derive(Clone, Copy)]
pub enum HotRoute {
    Verify,
    Auth,
}

impl HotRoute {
    pub const fn route(self) -> &'static str {
        match self {
            Self::Verify => "/api/v1/verify",
            Self::Auth => "/api/v1/auth",
        }
    }

    pub const fn method(self) -> &'static str {
        match self {
            Self::Verify => "POST",
            Self::Auth => "GET",
        }
    }
}

/// The statuses the hot endpoints answer, in the order of their counters.
const HOT_STATUSES: [u16; 8] = [200, 400, 401, 403, 413, 415, 429, 503];

/// A hot endpoint's counters (one per [`HOT_STATUSES`]) and histogram.
#[derive(Clone)]
struct HotCounters {
    by_status: Vec<Counter>,
    seconds: Histogram,
}

/// 100 µs .. ~6.5 s in powers of two: from a cached verification to a
/// slow page.
fn request_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        1e-4, 2.0, 17,
    ))
}

/// Every outcome the engine reports, plus storage errors.
const OUTCOMES: [&str; 6] = [
    "valid",
    "malformed_token",
    "invalid_token",
    "token_expired",
    "token_disabled",
    "error",
];

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub verifications: Family<OutcomeLabels, Counter>,
    /// The counters of [`OUTCOMES`], in order, resolved once.
    by_outcome: Vec<Counter>,
    pub verification_seconds: Histogram,
    pub last_used_pending: Gauge,
    /// Client connections open now (kept by the connection loop, which
    /// holds at most `max_connections`).
    pub open_connections: Gauge,
    http_requests: Family<RequestLabels, Counter>,
    http_seconds: Family<RouteLabels, Histogram>,
    /// `/verify` and `/auth`, resolved once (see [`Metrics::hot_request`]).
    hot: [HotCounters; 2],
    /// Logins refused for a wrong email or password.
    pub login_failures: Counter,
    /// Uses a token's controls refused (`tessera_verify_denials_total`),
    /// by code: `ip_not_allowed`, `rate_limited`, `quota_exhausted`.
    denials: [Counter; 3],
    /// Webhook delivery attempts by outcome (`succeeded`, `retrying`,
    /// `failed`: the last attempt failed too).
    pub webhook_deliveries: Family<OutcomeLabels, Counter>,
    /// Deliveries waiting to be sent (or retried), across the cluster, as
    /// of this node's last delivery pass.
    pub webhook_queue_depth: Gauge,
    /// Age in seconds of the oldest pending delivery (0: none).
    pub webhook_oldest_pending_seconds: Gauge,
    /// The routed requests' series by route template (see
    /// [`Metrics::request`]).
    routes: Arc<RwLock<HashMap<String, RouteSeries>>>,
}

/// One route's series, kept so that a request finds them by its borrowed
/// template: once they exist, counting builds no label and takes no
/// family's lock. Routes are the router's templates and methods the
/// [`method_label`]s, so this stays small.
struct RouteSeries {
    seconds: Histogram,
    counters: Vec<(&'static str, u16, Counter)>,
}

/// A method as a label: the standard ones by name, any other as `OTHER`,
/// so that a client inventing methods cannot add series without end.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::HEAD => "HEAD",
        M::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let verifications = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "verifications",
            "Token verifications, by outcome",
            verifications.clone(),
        );
        // 10 µs .. ~1.3 s in powers of two.
        let verification_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(1e-5, 2.0, 18),
        );
        registry.register(
            "verification_duration_seconds",
            "Time to verify a presented token",
            verification_seconds.clone(),
        );
        let last_used_pending = Gauge::default();
        registry.register(
            "last_used_pending",
            "Token uses recorded in memory and not yet flushed to storage",
            last_used_pending.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "Client connections open now (at most max_connections)",
            open_connections.clone(),
        );
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests, by route template, method and status",
            http_requests.clone(),
        );
        let http_seconds =
            Family::<RouteLabels, Histogram>::new_with_constructor(request_buckets as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            http_seconds.clone(),
        );
        let login_failures = Counter::default();
        registry.register(
            "login_failures",
            "Logins refused for a wrong email or password",
            login_failures.clone(),
        );
        let denial_family = Family::<CodeLabels, Counter>::default();
        registry.register(
            "verify_denials",
            "Uses of a valid token refused by its controls (allowed addresses, rate limit, quota), by code, on /verify, /auth and the API",
            denial_family.clone(),
        );
        let denials = DENIAL_CODES.map(|code| {
            denial_family
                .get_or_create(&CodeLabels {
                    code: code.to_owned(),
                })
                .clone()
        });
        let webhook_deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts made by this node, by outcome",
            webhook_deliveries.clone(),
        );
        let webhook_queue_depth = Gauge::default();
        registry.register(
            "webhook_queue_depth",
            "Webhook deliveries pending (to send or to retry)",
            webhook_queue_depth.clone(),
        );
        let webhook_oldest_pending_seconds = Gauge::default();
        registry.register(
            "webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook delivery, in seconds (0: none)",
            webhook_oldest_pending_seconds.clone(),
        );
        let hot = [HotRoute::Verify, HotRoute::Auth].map(|hot| HotCounters {
            by_status: HOT_STATUSES
                .iter()
                .map(|status| {
                    http_requests
                        .get_or_create(&RequestLabels {
                            route: hot.route().to_owned(),
                            method: hot.method().to_owned(),
                            status: *status,
                        })
                        .clone()
                })
                .collect(),
            seconds: http_seconds
                .get_or_create(&RouteLabels {
                    route: hot.route().to_owned(),
                })
                .clone(),
        });
        let by_outcome = OUTCOMES
            .iter()
            .map(|o| {
                verifications
                    .get_or_create(&OutcomeLabels {
                        outcome: (*o).to_owned(),
                    })
                    .clone()
            })
            .collect();
        Self {
            registry: Arc::new(registry),
            verifications,
            by_outcome,
            verification_seconds,
            last_used_pending,
            open_connections,
            http_requests,
            http_seconds,
            hot,
            login_failures,
            denials,
            webhook_deliveries,
            webhook_queue_depth,
            webhook_oldest_pending_seconds,
            routes: Arc::default(),
        }
    }
}

impl Metrics {
    /// Counts one verification. The outcomes are a fixed set, so their
    /// counters are looked up once and kept: the hot path neither allocates
    /// a label nor takes the family's lock.
    /// Counts a use refused by a token's controls (`code` one of
    /// [`DENIAL_CODES`]).
    pub fn denial(&self, code: &str) {
        if let Some(i) = DENIAL_CODES.iter().position(|c| *c == code) {
            self.denials[i].inc();
        }
    }

    pub fn count(&self, outcome: &str, seconds: f64) {
        match OUTCOMES.iter().position(|o| *o == outcome) {
            Some(i) => {
                self.by_outcome[i].inc();
            }
            None => {
                self.verifications
                    .get_or_create(&OutcomeLabels {
                        outcome: outcome.to_owned(),
                    })
                    .inc();
            }
        }
        self.verification_seconds.observe(seconds);
    }

    /// Counts and times one request the router answered (`method` from
    /// [`method_label`]).
    pub fn request(&self, route: &str, method: &'static str, status: u16, seconds: f64) {
        let known = |series: &RouteSeries| {
            let found = series
                .counters
                .iter()
                .find(|(m, s, _)| *m == method && *s == status);
            found.map(|(_, _, counter)| counter.clone())
        };
        {
            let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = routes.get(route) {
                if let Some(counter) = known(series) {
                    counter.inc();
                    series.seconds.observe(seconds);
                    return;
                }
            }
        }
        // The first request of its route, method and status: make the
        // series (in the families, so `/metrics` shows them) and keep them.
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let series = routes
            .entry(route.to_owned())
            .or_insert_with(|| RouteSeries {
                seconds: self
                    .http_seconds
                    .get_or_create(&RouteLabels {
                        route: route.to_owned(),
                    })
                    .clone(),
                counters: Vec::new(),
            });
        let counter = known(series).unwrap_or_else(|| {
            let labels = RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            };
            let counter = self.http_requests.get_or_create(&labels).clone();
            series.counters.push((method, status, counter.clone()));
            counter
        });
        counter.inc();
        series.seconds.observe(seconds);
    }

    /// Counts and times one request a hot endpoint answered: from counters
    /// looked up once, so the hot path neither allocates a label nor takes
    /// a family's lock for its usual statuses.
    pub fn hot_request(&self, hot: HotRoute, status: u16, seconds: f64) {
        let counters = &self.hot[hot as usize];
        match HOT_STATUSES.iter().position(|s| *s == status) {
            Some(i) => {
                counters.by_status[i].inc();
            }
            None => {
                let labels = RequestLabels {
                    route: hot.route().to_owned(),
                    method: hot.method().to_owned(),
                    status,
                };
                self.http_requests.get_or_create(&labels).inc();
            }
        }
        counters.seconds.observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
