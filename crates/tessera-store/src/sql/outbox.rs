//! Claiming the due rows of an outbox (webhook deliveries, emails) with a
//! lease, the same way for both.
//!
//! An outbox table has `id`, `status`, `next_attempt_at` and
//! `locked_until`. A row is due when it is `pending`, its attempt time has
//! come and no lease on it is running. A claim sets `locked_until` on up
//! to `limit` due rows in one `UPDATE … RETURNING`: on SQLite the
//! statement holds the one write lock; on PostgreSQL the inner select
//! skips rows another node's claim has locked (`FOR UPDATE SKIP LOCKED`),
//! so each row goes to one node at a time. A node that dies mid-send
//! leaves a lease that runs out, and the row is claimed again then (at
//! least once).

use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{all, db, secs, SqlStore};
use crate::Result;

/// The outbox tables (a closed list: the name is put into SQL text).
#[derive(Clone, Copy, Debug)]
pub(super) enum Outbox {
    WebhookDeliveries,
    Emails,
}

impl Outbox {
    fn table(self) -> &'static str {
        match self {
            Outbox::WebhookDeliveries => "webhook_deliveries",
            Outbox::Emails => "email_outbox",
        }
    }
}

const DUE: &str = "status = 'pending' AND next_attempt_at <= $1 \
     AND (locked_until IS NULL OR locked_until <= $1)";

impl SqlStore {
    /// Leases up to `limit` due rows of `outbox` until `lease_until` and
    /// decodes the `returning` columns of each (in no set order).
    pub(super) async fn claim_due<T>(
        &self,
        outbox: Outbox,
        returning: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
        decode: fn(&AnyRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        let table = outbox.table();
        // Most passes find nothing: ask with a plain read first, so that an
        // idle node takes no write lock (SQLite has one for everyone).
        let any_due: Option<i64> =
            sqlx::query_scalar(&format!("SELECT 1 FROM {table} WHERE {DUE} LIMIT 1"))
                .bind(secs(now))
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        if any_due.is_none() {
            return Ok(Vec::new());
        }
        let skip_locked = if self.dialect.is_shared() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE {table} SET locked_until = $2 WHERE id IN \
             (SELECT id FROM {table} WHERE {DUE} \
             ORDER BY next_attempt_at, id LIMIT $3{skip_locked}) \
             RETURNING {returning}"
        );
        let query = sqlx::query(&sql)
            .bind(secs(now))
            .bind(secs(lease_until))
            .bind(i64::from(limit));
        // SQLite: one statement, no transaction around it (each round trip
        // would be spent holding the one write lock). PostgreSQL: inside a
        // transaction, so that its commit need not wait for the log flush.
        if !self.dialect.is_shared() {
            return all(query, &self.pool, decode).await;
        }
        let mut tx = self.begin_bookkeeping().await?;
        let claimed = all(query, &mut *tx, decode).await?;
        tx.commit().await.map_err(db)?;
        Ok(claimed)
    }
}
