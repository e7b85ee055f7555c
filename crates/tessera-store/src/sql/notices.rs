//! Expiry notices and the email outbox (see `crate::notices`).
//!
//! The expiry scan reads candidates with a plain query, then records each
//! notice in its own transaction: the notice's row (primary key: token,
//! `expires_at`, threshold) is inserted with `ON CONFLICT DO NOTHING`, and
//! only the transaction that inserted it writes the event and the email.
//! Of several nodes scanning at once, exactly one does; a restart finds
//! the row. A token whose `expires_at` changed gets new rows (its old ones
//! are deleted then), so a moved expiry is warned about afresh.
//!
//! Emails are rows of `email_outbox`, one per recipient, written in the
//! transaction of what they tell (here for expiry warnings, from
//! `SqlStore::commit` for leak and inactivity revocations), and only when
//! this store was told that email is configured ([`SqlStore::enable_email`]).
//! Workers claim them with a lease, as [`super::outbox`] does for every outbox.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use time::OffsetDateTime;

use tessera_api::TokenResponse;
use tessera_core::ids::new_ksuid;
use tessera_core::model::{AuditEvent, Token};
use tessera_core::notices::Due;
use tessera_core::OrgId;

use super::dialect::Dialect;
use super::outbox::Outbox;
use super::rows::{corrupt, get, json, text};
use super::tokens::{from_row as token_from_row, token_columns};
use super::{all, db, secs, Run, SqlStore};
use crate::{
    ClaimedEmail, EmailCounts, EmailOutcome, ExpiryCandidate, NoticeStore, Result, EMAIL_EXPIRING,
    EMAIL_INACTIVE, EMAIL_LEAKED,
};

/// `next_at` of a `token.expired` notice: never again for this expiry.
const NEVER: i64 = i64::MAX;

impl SqlStore {
    /// Tells this store that notice emails are sent (`smtp_url` is set):
    /// from now on it writes them to the outbox.
    pub fn enable_email(&self) {
        self.emails.store(true, Ordering::Relaxed);
    }

    pub(super) fn emails_enabled(&self) -> bool {
        self.emails.load(Ordering::Relaxed)
    }
}

/// Writes the emails `audit` calls for, if any: a token revoked as leaked
/// (to its owner), a token disabled or revoked by the inactivity rule (to
/// the org's admins). `gone` is the token's metadata when it was deleted.
pub(super) async fn enqueue_emails(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    audit: &AuditEvent,
    gone: Option<&Value>,
) -> Result<()> {
    let reason = audit.details.get("reason").and_then(Value::as_str);
    let kind = match (audit.action.as_str(), reason) {
        ("token:delete", Some("leak_report")) => EMAIL_LEAKED,
        ("token:delete" | "token:disable", Some("inactive")) => EMAIL_INACTIVE,
        _ => return Ok(()),
    };
    let subject = match gone {
        Some(subject) => Some(subject.clone()),
        None => super::webhooks::subject_of(conn, dialect, audit).await?,
    };
    let Some(Value::Object(mut data)) = subject else {
        return Ok(());
    };
    data.insert("action".into(), json!(audit.action));
    for key in ["reason", "url", "inactive_days"] {
        if let Some(value) = audit.details.get(key) {
            data.insert(key.into(), value.clone());
        }
    }
    let data = Value::Object(data);
    let recipients = if kind == EMAIL_INACTIVE {
        admins(conn, &audit.org_id).await?
    } else {
        owners(conn, &audit.org_id, &data).await?
    };
    insert_emails(conn, &audit.org_id, kind, &recipients, &data, audit.at).await
}

/// Whom a token's notice goes to: its member, or for a service account's
/// token (no mailbox of its own) the org's admins and owners.
async fn owners(conn: &mut AnyConnection, org: &OrgId, token: &Value) -> Result<Vec<String>> {
    match token.get("member_id").and_then(Value::as_str) {
        Some(member) => {
            let email: Option<String> =
                sqlx::query_scalar("SELECT email FROM members WHERE org_id = $1 AND id = $2")
                    .bind(org.as_str())
                    .bind(member)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db)?;
            Ok(email.into_iter().collect())
        }
        None => admins(conn, org).await,
    }
}

/// The emails of the org's admins and owners.
async fn admins(conn: &mut AnyConnection, org: &OrgId) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT email FROM members WHERE org_id = $1 AND role IN ('admin', 'owner') \
         ORDER BY email",
    )
    .bind(org.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)
}

async fn insert_emails(
    conn: &mut AnyConnection,
    org: &OrgId,
    kind: &str,
    recipients: &[String],
    data: &Value,
    at: OffsetDateTime,
) -> Result<()> {
    let data = data.to_string();
    for recipient in recipients {
        sqlx::query(
            "INSERT INTO email_outbox (id, org_id, kind, recipient, data, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
        )
        .bind(format!("eml_{}", new_ksuid(at)))
        .bind(org.as_str())
        .bind(kind)
        .bind(recipient)
        .bind(&data)
        .bind(secs(at))
        .run(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl NoticeStore for SqlStore {
    async fn expiry_candidates(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ExpiryCandidate>> {
        let window = tessera_core::notices::EXPIRED_NOTICE_WINDOW.whole_seconds();
        let sql = format!(
            "{}, o.expiry_warning_days AS org_expiry_warning_days \
             FROM tokens t JOIN orgs o ON o.id = t.org_id \
             WHERE t.expires_at IS NOT NULL AND t.expires_at > $1 - {window} \
             AND t.expires_at <= $1 + o.expiry_warning_max * 86400 \
             AND NOT EXISTS (SELECT 1 FROM token_expiry_notices n WHERE n.token_id = t.id \
             AND n.expires_at = t.expires_at AND n.next_at > $1) \
             ORDER BY t.expires_at, t.id LIMIT $2",
            token_columns(&self.dialect)
        );
        let query = sqlx::query(&sql)
            .bind(secs(now))
            .bind(i64::from(limit.clamp(1, 1000)));
        all(query, &self.pool, |row: &AnyRow| {
            Ok(ExpiryCandidate {
                token: token_from_row(row)?,
                warnings: json(row, "org_expiry_warning_days")?,
            })
        })
        .await
    }

    async fn record_expiry_notice(
        &self,
        token: &Token,
        due: Due,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let Some(expires_at) = token.expires_at else {
            return Ok(false);
        };
        let mut tx = self.begin().await?;
        // Still this expiry? (Moved meanwhile: the next scan sees the new.)
        let current: Option<Option<i64>> =
            sqlx::query_scalar("SELECT expires_at FROM tokens WHERE id = $1")
                .bind(token.id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if current != Some(Some(secs(expires_at))) {
            return Ok(false);
        }
        sqlx::query("DELETE FROM token_expiry_notices WHERE token_id = $1 AND expires_at <> $2")
            .bind(token.id.as_str())
            .bind(secs(expires_at))
            .run(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO token_expiry_notices (token_id, expires_at, days, next_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (token_id, expires_at, days) DO NOTHING",
        )
        .bind(token.id.as_str())
        .bind(secs(expires_at))
        .bind(i64::from(due.days))
        .bind(due.next_at.map_or(NEVER, secs))
        .run(&mut *tx)
        .await?;
        if inserted == 0 {
            return Ok(false);
        }
        let mut data =
            serde_json::to_value(TokenResponse::from(token)).map_err(|e| corrupt("token", e))?;
        let ty = if due.days == 0 {
            "token.expired"
        } else {
            if let Value::Object(map) = &mut data {
                map.insert("days".into(), json!(due.days));
            }
            "token.expiring"
        };
        super::webhooks::enqueue_notice(&mut tx, &token.org_id, ty, now, &data).await?;
        if due.days > 0 && self.emails_enabled() {
            let recipients = owners(&mut tx, &token.org_id, &data).await?;
            insert_emails(
                &mut tx,
                &token.org_id,
                EMAIL_EXPIRING,
                &recipients,
                &data,
                now,
            )
            .await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn claim_emails(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedEmail>> {
        self.claim_due(
            Outbox::Emails,
            "id, kind, recipient, data, attempts",
            now,
            lease_until,
            limit,
            email_from_row,
        )
        .await
    }

    async fn record_email_attempt(&self, id: &str, outcome: &EmailOutcome) -> Result<()> {
        let status = match (outcome.sent, outcome.next_attempt_at) {
            (true, _) => "sent",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        sqlx::query(
            "UPDATE email_outbox SET status = $1, attempts = attempts + 1, last_error = $2, \
             next_attempt_at = $3, locked_until = NULL WHERE id = $4",
        )
        .bind(status)
        .bind(outcome.error.as_deref())
        .bind(if outcome.sent {
            None
        } else {
            outcome.next_attempt_at.map(secs)
        })
        .bind(id)
        .run_found(&self.pool)
        .await
    }

    async fn email_counts(&self) -> Result<EmailCounts> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM email_outbox GROUP BY status")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        let mut counts = EmailCounts::default();
        for (status, n) in rows {
            let n = n.unsigned_abs();
            match status.as_str() {
                "pending" => counts.pending = n,
                "sent" => counts.sent = n,
                _ => counts.failed += n,
            }
        }
        Ok(counts)
    }

    async fn purge_emails(&self, before: OffsetDateTime) -> Result<u64> {
        sqlx::query("DELETE FROM email_outbox WHERE status <> 'pending' AND created_at < $1")
            .bind(secs(before))
            .run(&self.pool)
            .await
    }
}

fn email_from_row(row: &AnyRow) -> Result<ClaimedEmail> {
    let attempts: i64 = get(row, "attempts")?;
    Ok(ClaimedEmail {
        id: text(row, "id")?,
        kind: text(row, "kind")?,
        recipient: text(row, "recipient")?,
        data: text(row, "data")?,
        attempts: u32::try_from(attempts).map_err(|e| corrupt("attempts", e))?,
    })
}
