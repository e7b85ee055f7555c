//! Prometheus metrics at `/metrics`: verification counts by outcome, a
//! latency histogram, and gauges of pending last-used writes and open
//! client connections. Labels carry outcomes, never tokens.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `valid`, `malformed_token`, `invalid_token`, `token_expired`.
    pub outcome: String,
}

/// Every outcome the engine reports, plus storage errors.
const OUTCOMES: [&str; 5] = [
    "valid",
    "malformed_token",
    "invalid_token",
    "token_expired",
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
        }
    }
}

impl Metrics {
    /// Counts one verification. The outcomes are a fixed set, so their
    /// counters are looked up once and kept: the hot path neither allocates
    /// a label nor takes the family's lock.
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

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
