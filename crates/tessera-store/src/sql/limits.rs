//! Quota and rate-limit reservations, and usage counts.
//!
//! A reservation is one `UPDATE ... RETURNING` on the token's row: every
//! right-hand side reads the row as it was before the statement, so the
//! grant it records (`quota_grant`, `rate_grant`) is exactly what it took.
//! On PostgreSQL concurrent reservations on one token queue for the row
//! lock, and READ COMMITTED re-evaluates each on the row the previous one
//! left, so their grants never add up to more than the budget. No change
//! is announced: spending alters no cached token.
//!
//! Usage is added in chunks (`INSERT ... SELECT FROM (VALUES ...) ...
//! ON CONFLICT DO UPDATE`), rows of deleted tokens dropped by the
//! `EXISTS`, keys sorted so that flushes from many nodes lock in one order.

use async_trait::async_trait;
use sqlx::Row;
use time::OffsetDateTime;

use tessera_core::TokenId;

use super::{db, secs, Run, SqlStore, Statement};
use crate::{
    QuotaGrant, RateGrant, Result, SeenIp, StoreError, TokenLimitStore, UsageCounts, UsageDelta,
};

/// Rows per usage statement (7 values each, far below PostgreSQL's bind
/// limit).
const USAGE_ROWS_PER_STATEMENT: usize = 500;

/// A quota's count before this reservation: the refill amount when the
/// count belongs to an earlier period (`$3` amount, `$4` period).
const REFILLED: &str = "(CASE WHEN quota_period IS NULL OR quota_period < $4 \
     THEN $3 ELSE quota_remaining END)";

/// The window's reservations so far (`$2` is the window).
const USED: &str = "(CASE WHEN rate_window = $2 THEN COALESCE(rate_used, 0) ELSE 0 END)";

#[async_trait]
impl TokenLimitStore for SqlStore {
    async fn reserve_quota(
        &self,
        token: &TokenId,
        want: i64,
        refill: Option<(i64, i64)>,
    ) -> Result<Option<QuotaGrant>> {
        let want = want.max(1);
        let (sql, refill) = match refill {
            Some((amount, period)) => (
                format!(
                    "UPDATE tokens SET \
                     quota_grant = CASE WHEN {REFILLED} < $2 THEN {REFILLED} ELSE $2 END, \
                     quota_remaining = CASE WHEN {REFILLED} < $2 THEN 0 ELSE {REFILLED} - $2 END, \
                     quota_version = quota_version + CASE WHEN quota_period IS NULL \
                        OR quota_period < $4 THEN 1 ELSE 0 END, \
                     quota_period = CASE WHEN quota_period IS NULL OR quota_period < $4 \
                        THEN $4 ELSE quota_period END \
                     WHERE id = $1 AND quota_remaining IS NOT NULL \
                     RETURNING quota_grant, quota_remaining, quota_version"
                ),
                Some((amount, period)),
            ),
            None => (
                "UPDATE tokens SET \
                 quota_grant = CASE WHEN quota_remaining < $2 THEN quota_remaining ELSE $2 END, \
                 quota_remaining = CASE WHEN quota_remaining < $2 THEN 0 \
                    ELSE quota_remaining - $2 END \
                 WHERE id = $1 AND quota_remaining IS NOT NULL \
                 RETURNING quota_grant, quota_remaining, quota_version"
                    .to_owned(),
                None,
            ),
        };
        let mut query = sqlx::query(&sql).bind(token.as_str()).bind(want);
        if let Some((amount, period)) = refill {
            query = query.bind(amount).bind(period);
        }
        let row = query.fetch_optional(&self.pool).await.map_err(db)?;
        row.map(|row| {
            Ok(QuotaGrant {
                granted: row.try_get(0).map_err(db)?,
                remaining: row.try_get(1).map_err(db)?,
                version: row.try_get(2).map_err(db)?,
            })
        })
        .transpose()
    }

    async fn return_quota(&self, token: &TokenId, amount: i64, version: i64) -> Result<()> {
        if amount <= 0 {
            return Ok(());
        }
        sqlx::query(
            "UPDATE tokens SET quota_remaining = quota_remaining + $2 \
             WHERE id = $1 AND quota_version = $3 AND quota_remaining IS NOT NULL",
        )
        .bind(token.as_str())
        .bind(amount)
        .bind(version)
        .run(&self.pool)
        .await
        .map(drop)
    }

    async fn reserve_rate(
        &self,
        token: &TokenId,
        window: i64,
        want: i64,
        limit: i64,
    ) -> Result<Option<RateGrant>> {
        let sql = format!(
            "UPDATE tokens SET \
             rate_grant = CASE WHEN {USED} + $3 <= $4 THEN $3 \
                WHEN {USED} < $4 THEN $4 - {USED} ELSE 0 END, \
             rate_used = CASE WHEN {USED} + $3 <= $4 THEN {USED} + $3 \
                WHEN {USED} < $4 THEN $4 ELSE {USED} END, \
             rate_window = $2 \
             WHERE id = $1 AND (rate_window IS NULL OR rate_window <= $2) \
             RETURNING rate_grant, rate_used"
        );
        let row = sqlx::query(&sql)
            .bind(token.as_str())
            .bind(window)
            .bind(want.max(1))
            .bind(limit)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            Some(row) => Ok(Some(RateGrant {
                granted: row.try_get(0).map_err(db)?,
                used: row.try_get(1).map_err(db)?,
            })),
            // Another node is in a later window already (clocks differ):
            // nothing for this one.
            None => Ok(self.exists(token).await?.then_some(RateGrant {
                granted: 0,
                used: limit,
            })),
        }
    }

    async fn record_usage(&self, counts: &[UsageDelta], seen: &[SeenIp]) -> Result<()> {
        let mut counts: Vec<&UsageDelta> = counts.iter().filter(|d| !d.counts.is_zero()).collect();
        counts.sort_by(|a, b| (a.token.as_str(), a.day).cmp(&(b.token.as_str(), b.day)));
        let mut seen: Vec<&SeenIp> = seen.iter().collect();
        seen.sort_by(|a, b| (a.token.as_str(), &a.ip).cmp(&(b.token.as_str(), &b.ip)));
        if counts.is_empty() && seen.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for chunk in counts.chunks(USAGE_ROWS_PER_STATEMENT) {
            let mut sql = Statement::new(
                "INSERT INTO token_usage (token_id, day, valid, denied, rate_limited, \
                 quota_exhausted, ip_not_allowed) SELECT v.column1, v.column2, v.column3, \
                 v.column4, v.column5, v.column6, v.column7 FROM (VALUES ",
            );
            for (i, d) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.bind(d.token.as_str())?.push(", ");
                sql.bind(d.day)?.push(", ");
                let c = &d.counts;
                for (j, n) in [
                    c.valid,
                    c.denied,
                    c.rate_limited,
                    c.quota_exhausted,
                    c.ip_not_allowed,
                ]
                .into_iter()
                .enumerate()
                {
                    sql.bind(n)?.push(if j == 4 { ")" } else { ", " });
                }
            }
            sql.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM tokens WHERE tokens.id = v.column1) \
                 ON CONFLICT (token_id, day) DO UPDATE SET \
                 valid = token_usage.valid + excluded.valid, \
                 denied = token_usage.denied + excluded.denied, \
                 rate_limited = token_usage.rate_limited + excluded.rate_limited, \
                 quota_exhausted = token_usage.quota_exhausted + excluded.quota_exhausted, \
                 ip_not_allowed = token_usage.ip_not_allowed + excluded.ip_not_allowed",
            );
            let (sql, args) = sql.into_parts();
            sqlx::query_with(&sql, args).run(&mut *tx).await?;
        }
        for chunk in seen.chunks(USAGE_ROWS_PER_STATEMENT) {
            let mut sql = Statement::new(
                "INSERT INTO token_recent_ips (token_id, ip, last_seen_at) \
                 SELECT v.column1, v.column2, v.column3 FROM (VALUES ",
            );
            for (i, s) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.bind(s.token.as_str())?.push(", ");
                sql.bind(s.ip.as_str())?.push(", ");
                sql.bind(secs(s.at))?.push(")");
            }
            sql.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM tokens WHERE tokens.id = v.column1) \
                 ON CONFLICT (token_id, ip) DO UPDATE SET last_seen_at = \
                 CASE WHEN excluded.last_seen_at > token_recent_ips.last_seen_at \
                 THEN excluded.last_seen_at ELSE token_recent_ips.last_seen_at END",
            );
            let (sql, args) = sql.into_parts();
            sqlx::query_with(&sql, args).run(&mut *tx).await?;
            // Each token keeps its 5 newest (ties: the larger address).
            let mut trim = Statement::new("DELETE FROM token_recent_ips WHERE token_id IN (");
            let mut tokens: Vec<&str> = chunk.iter().map(|s| s.token.as_str()).collect();
            tokens.dedup();
            for (i, t) in tokens.into_iter().enumerate() {
                if i > 0 {
                    trim.push(", ");
                }
                trim.bind(t)?;
            }
            trim.push(
                ") AND (SELECT COUNT(*) FROM token_recent_ips n \
                 WHERE n.token_id = token_recent_ips.token_id \
                 AND (n.last_seen_at > token_recent_ips.last_seen_at \
                 OR (n.last_seen_at = token_recent_ips.last_seen_at \
                 AND n.ip > token_recent_ips.ip))) >= 5",
            );
            let (sql, args) = trim.into_parts();
            sqlx::query_with(&sql, args).run(&mut *tx).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn token_usage(
        &self,
        token: &TokenId,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, UsageCounts)>> {
        let rows = sqlx::query(
            "SELECT day, valid, denied, rate_limited, quota_exhausted, ip_not_allowed \
             FROM token_usage WHERE token_id = $1 AND day >= $2 AND day <= $3 ORDER BY day",
        )
        .bind(token.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                let n = |i: usize| row.try_get::<i64, _>(i).map_err(db);
                Ok((
                    n(0)?,
                    UsageCounts {
                        valid: n(1)?,
                        denied: n(2)?,
                        rate_limited: n(3)?,
                        quota_exhausted: n(4)?,
                        ip_not_allowed: n(5)?,
                    },
                ))
            })
            .collect()
    }

    async fn recent_ips(&self, token: &TokenId) -> Result<Vec<(String, OffsetDateTime)>> {
        let rows = sqlx::query(
            "SELECT ip, last_seen_at FROM token_recent_ips WHERE token_id = $1 \
             ORDER BY last_seen_at DESC, ip DESC LIMIT 5",
        )
        .bind(token.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                let ip: String = row.try_get(0).map_err(db)?;
                let at: i64 = row.try_get(1).map_err(db)?;
                let at = OffsetDateTime::from_unix_timestamp(at)
                    .map_err(|e| StoreError::Database(format!("last_seen_at: {e}")))?;
                Ok((ip, at))
            })
            .collect()
    }
}

impl SqlStore {
    async fn exists(&self, token: &TokenId) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM tokens WHERE id = $1")
            .bind(token.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.is_some())
    }
}
