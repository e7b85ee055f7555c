//! The edge where time enters: the only place the server reads the clock.
//! Domain code receives `now` from here. Tests move the clock forward
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    /// The current time in whole seconds (what storage keeps), plus any
    /// offset a test has applied.
    pub fn now(&self) -> OffsetDateTime {
        let real = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        real + Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Moves this server's time forward (tests only use this).
    pub fn advance(&self, by: Duration) {
        self.offset_seconds
            .fetch_add(by.whole_seconds(), Ordering::Relaxed);
    }
}
