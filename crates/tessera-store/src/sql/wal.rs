//! When SQLite's write-ahead log is copied back into the database file.
//!
//! SQLite's default has the connection that commits copy the log back (a
//! checkpoint) once the log holds 1,000 pages. Under a steady stream of
//! writes from several connections that went wrong: a checkpoint copies
//! only what no reader still needs, and another commit always came before
//! it caught up, so the log was never started over and every commit past
//! 1,000 pages ran a checkpoint of its own, copying again the pages the
//! commit before had just copied. On the webhook write benchmark
//! (docs/benchmarks.md) the log grew to 338 MB in 30 s and checkpoints took
//! a quarter to a third of SQLite's time.
//!
//! So the pool's connections never checkpoint on their own
//! (`wal_autocheckpoint = 0`, see the dialect), and a serving node runs
//! [`Checkpointer::run`] once a second instead: a page written many times
//! in that second is copied once, and no request waits for the copy.
//! Copying never ends the log under load either, so once the log is past
//! [`RESTART_PAGES`] the checkpoint also starts it over (`RESTART`: it
//! takes the write lock and waits for the readers still in the log). It
//! waits [`RESTART_PATIENCE`] at most, on its own connection, so a long
//! reader (a backup) costs the writers that much a second, not the pool's
//! busy timeout; the log then grows until the reader is done, as it would
//! with SQLite's default. Before that, it copies again what was written
//! during the first copy, so that the restart itself has little to copy.
//!
//! The log is synced before each copy, so a power cut takes at most the
//! last second or so of commits (a killed process loses nothing).

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use super::db;
use crate::Result;

/// The log's size, in pages, past which a checkpoint starts it over: 16 MiB
/// of 4 KiB pages, one segment of the log's index (every page read looks
/// through each segment).
const RESTART_PAGES: i64 = 4096;

/// Copies made after the first, at most, before the log is started over,
/// and the few new pages that end them early.
const CATCH_UP_ROUNDS: usize = 3;
const CATCH_UP_PAGES: i64 = 512;

/// How long starting the log over waits for the writer and the readers.
const RESTART_PATIENCE: Duration = Duration::from_millis(100);

/// Checkpoints one SQLite file, on a connection of its own (opened at the
/// first checkpoint).
#[derive(Clone, Debug)]
pub(super) struct Checkpointer {
    pool: AnyPool,
}

impl Checkpointer {
    /// For the SQLite database `url` names: `None` for one in memory,
    /// which has no log.
    pub(super) fn for_file(url: &str) -> Result<Option<Checkpointer>> {
        if super::dialect::in_memory(url) {
            return Ok(None);
        }
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    let patience = RESTART_PATIENCE.as_millis();
                    conn.execute(format!("PRAGMA busy_timeout = {patience}").as_str())
                        .await
                        .map(drop)
                })
            })
            .connect_lazy_with(AnyConnectOptions::from_str(url).map_err(db)?);
        Ok(Some(Checkpointer { pool }))
    }

    /// Copies what it can of the log into the database file without waiting
    /// for anyone (`PASSIVE`), then starts the log over if it is past
    /// [`RESTART_PAGES`].
    pub(super) async fn run(&self) -> Result<()> {
        let mut log = self.checkpoint("PASSIVE").await?;
        if log < RESTART_PAGES {
            return Ok(());
        }
        // Under load a copy takes a few hundred milliseconds, and writers
        // go on meanwhile. Copying what they wrote, still without blocking
        // them, until little is new, leaves the `RESTART` (which holds the
        // write lock while it copies) little to do: it then held writers
        // up 10-25 ms, against 30-140 ms straight after one copy.
        for _ in 0..CATCH_UP_ROUNDS {
            let before = log;
            log = self.checkpoint("PASSIVE").await?;
            if log - before <= CATCH_UP_PAGES {
                break;
            }
        }
        self.checkpoint("RESTART").await?;
        Ok(())
    }

    /// One `wal_checkpoint` in `mode`: how many pages the log held.
    async fn checkpoint(&self, mode: &str) -> Result<i64> {
        let (_busy, log, _copied): (i64, i64, i64) =
            sqlx::query_as(&format!("PRAGMA wal_checkpoint({mode})"))
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        Ok(log)
    }
}
