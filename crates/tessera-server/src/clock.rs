//! The edge where time enters: the only place the server reads the clock.
//! Domain code receives `now` from here. Tests move the clock forward
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

/// The wall clock, unshifted: for what must be real time whatever a test
/// did to [`Clock`] (ids ordered by creation, say). Everything else uses
/// [`Clock::now`].
// The one place in the server allowed to read the system clock
// (clippy.toml's disallowed-methods sends every other reader here).
#[allow(clippy::disallowed_methods)]
pub fn wall_clock() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    /// The current time in whole seconds (what storage keeps), plus any
    /// offset a test has applied.
    pub fn now(&self) -> OffsetDateTime {
        let now = wall_clock();
        let real = now.replace_nanosecond(0).unwrap_or(now);
        real + Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Moves this server's time forward (tests only use this).
    pub fn advance(&self, by: Duration) {
        self.offset_seconds
            .fetch_add(by.whole_seconds(), Ordering::Relaxed);
    }
}
