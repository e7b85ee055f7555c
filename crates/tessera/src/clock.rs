//! The command line's one reading of the system clock: relative expiries
//! (`--expires-in 30d`), sample tokens for the scanner. Everything else
//! takes `now` as a parameter, so it can be tested at a fixed time.

use time::OffsetDateTime;

// clippy.toml's disallowed-methods sends every other reader here.
#[allow(clippy::disallowed_methods)]
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
